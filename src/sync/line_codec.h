// LineCodec: a tiny "KEY=VALUE" per line event format with the same meaning as the
// iCalendar mapping for the fields the engine compares (UID, CRM-id stamp,
// title, start, end, private, modified). It lets property tests and benchmarks run
// the real planner and executor thousands of times a second; the iCalendar codec
// (ical_codec.h) is exercised by its own tests and the end-to-end test.
//
//   UID=u1
//   CRMID=...        (optional)
//   TITLE=Lunch
//   START=1790000000 (Unix seconds)
//   END=1790003600
//   PRIVATE=0|1
//   MOD=17           (modification time, Unix microseconds)
//
// Thread-safe (stateless).
#pragma once

#include <string>

#include "sync/event_codec.h"

namespace tandem::sync {

struct LineEvent {
  std::string uid;
  std::string crm_id;
  std::string title;
  int64_t start = 0;
  int64_t end = 0;
  bool is_private = false;
  int64_t modified_us = 0;
};

std::string WriteLineEvent(const LineEvent& e);
Result<LineEvent> ParseLineEvent(std::string_view text);

class LineCodec final : public EventCodec {
 public:
  Result<Observation> Digest(const Item& item, const TimeRange& window) const override;
  Result<std::string> Prepare(std::string_view ical, const PrepareOptions& options) const override;
};

}  // namespace tandem::sync
