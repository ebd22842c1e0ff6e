// The user's local time for reading and printing dates. The CLI uses the zone of
// the process (the TZ environment variable, as every Unix tool does); tests use a
// fixed offset. Thread-compatible (SystemZone relies on localtime_r/mktime).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/time.h"

namespace tandem::cli {

struct CivilTime {
  std::chrono::year_month_day date{std::chrono::year{1970}, std::chrono::January,
                                   std::chrono::day{1}};
  int hour = 0;
  int minute = 0;
  int second = 0;
};

class LocalZone {
 public:
  virtual ~LocalZone() = default;
  // The wall-clock time in this zone at `t`, and the zone's offset from UTC then.
  virtual CivilTime ToLocal(Instant t) const = 0;
  virtual std::chrono::seconds OffsetAt(Instant t) const = 0;
  // The instant at which the wall clock shows `c`. A time skipped by a DST change
  // is moved forward by the gap; a repeated time takes its first occurrence.
  virtual Instant FromLocal(const CivilTime& c) const = 0;
};

// Fixed offset east of UTC (UTC itself with offset 0).
class FixedOffsetZone final : public LocalZone {
 public:
  explicit FixedOffsetZone(std::chrono::seconds offset) : offset_(offset) {}
  CivilTime ToLocal(Instant t) const override;
  std::chrono::seconds OffsetAt(Instant) const override { return offset_; }
  Instant FromLocal(const CivilTime& c) const override;

 private:
  std::chrono::seconds offset_;
};

// The process's zone: TZ if set, else /etc/localtime.
class SystemZone final : public LocalZone {
 public:
  SystemZone();
  CivilTime ToLocal(Instant t) const override;
  std::chrono::seconds OffsetAt(Instant t) const override;
  Instant FromLocal(const CivilTime& c) const override;
};

// Local midnight starting the given date.
Instant StartOfDay(const LocalZone& zone, std::chrono::year_month_day date);

}  // namespace tandem::cli
