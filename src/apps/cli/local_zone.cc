#include "apps/cli/local_zone.h"

#include <ctime>

namespace tandem::cli {
namespace {
using namespace std::chrono;

CivilTime CivilOfUtc(sys_seconds t) {
  auto day = floor<days>(t);
  hh_mm_ss<seconds> hms{t - day};
  return CivilTime{year_month_day{day}, static_cast<int>(hms.hours().count()),
                   static_cast<int>(hms.minutes().count()),
                   static_cast<int>(hms.seconds().count())};
}

// The civil time read as if it were UTC.
sys_seconds UtcOfCivil(const CivilTime& c) {
  return sys_days{c.date} + hours{c.hour} + minutes{c.minute} + seconds{c.second};
}

}  // namespace

CivilTime FixedOffsetZone::ToLocal(Instant t) const {
  return CivilOfUtc(floor<seconds>(t) + offset_);
}

Instant FixedOffsetZone::FromLocal(const CivilTime& c) const {
  return Instant(UtcOfCivil(c) - offset_);
}

SystemZone::SystemZone() { ::tzset(); }

CivilTime SystemZone::ToLocal(Instant t) const {
  return CivilOfUtc(floor<seconds>(t) + OffsetAt(t));
}

seconds SystemZone::OffsetAt(Instant t) const {
  std::time_t tt = static_cast<std::time_t>(ToUnixSeconds(t));
  std::tm tm{};
  ::localtime_r(&tt, &tm);
  return seconds{tm.tm_gmtoff};
}

Instant SystemZone::FromLocal(const CivilTime& c) const {
  std::tm tm{};
  tm.tm_year = static_cast<int>(c.date.year()) - 1900;
  tm.tm_mon = static_cast<int>(static_cast<unsigned>(c.date.month())) - 1;
  tm.tm_mday = static_cast<int>(static_cast<unsigned>(c.date.day()));
  tm.tm_hour = c.hour;
  tm.tm_min = c.minute;
  tm.tm_sec = c.second;
  tm.tm_isdst = -1;
  std::time_t tt = ::mktime(&tm);
  return FromUnixSeconds(static_cast<int64_t>(tt));
}

Instant StartOfDay(const LocalZone& zone, year_month_day date) {
  return zone.FromLocal(CivilTime{date, 0, 0, 0});
}

}  // namespace tandem::cli
