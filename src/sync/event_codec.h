// EventCodec: how the engine reads and writes the items that cross a
// CalendarSide. The real one maps iCalendar through src/ical (ical_codec.h); the
// seam lets the planner and executor be exercised at high speed by property tests.
//
// Thread safety: implementations are stateless and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "store/sync_state.h"
#include "sync/calendar_side.h"
#include "sync/planner.h"

namespace tandem::sync {

struct PrepareOptions {
  Side target = Side::kExternal;
  std::string uid;     // the UID the written item must carry
  std::string crm_id;  // stamped as X-TANDEM-CRM-ID when not empty
  std::string source_uid;  // the UID the source version carries (its digest's), when known
  store::ReminderHandling reminders = store::ReminderHandling::kSync;
  // The target's current version, when there is one (reminder handling keeps the
  // target's own reminder when reminders are not synced in that direction).
  const std::string* target_current = nullptr;
};

// What names an item the codec cannot read, for the user's error report.
struct ItemName {
  std::string uid;
  std::string summary;
};

class EventCodec {
 public:
  virtual ~EventCodec() = default;
  // Best effort, never fails: the UID and title of an item Digest refused.
  virtual ItemName Name(std::string_view /*text*/) const { return {}; }
  // The planner's view of an item. InvalidArgument when the item cannot be read.
  virtual Result<Observation> Digest(const Item& item, const TimeRange& window) const = 0;
  // The text to write to `options.target` for the source version `ical`.
  virtual Result<std::string> Prepare(std::string_view ical,
                                      const PrepareOptions& options) const = 0;
};

}  // namespace tandem::sync
