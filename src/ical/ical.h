// iCalendar <-> CRM activity mapping, on libical (SPEC S2, S5, S9, S10).
//
// Contract used by src/sync and src/providers. The module may grow; these calls
// keep their meaning.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "model/entities.h"

namespace tandem::ical {

// S5: how an external multi-day event becomes a CRM activity.
enum class MultiDayRule {
  kKeep,             // keep start and end as they are
  kStartWithEndInTitle,  // one activity at the start; "(until <end date>)" appended to the subject
};

struct MapOptions {
  MultiDayRule multi_day = MultiDayRule::kKeep;
  std::string default_zone = "UTC";  // zone for floating times (IANA name)
};

// One calendar resource mapped to the CRM: a single event or a recurring series.
struct Event {
  std::string uid;
  std::string crm_id;  // X-TANDEM-CRM-ID, when the event was created by Tandem
  int sequence = 0;
  std::optional<Instant> last_modified;  // LAST-MODIFIED (else DTSTAMP)
  std::optional<Instant> created;
  model::Activity activity;  // modeled fields; ical_extra keeps everything else
};

// Parses one VCALENDAR holding one event (master + RECURRENCE-ID overrides).
// InvalidArgument naming the problem (and line where known) for malformed input.
Result<Event> ParseEvent(std::string_view ics, const MapOptions& options);

struct WriteOptions {
  std::string uid;         // REQUIRED
  std::string crm_id;      // written as X-TANDEM-CRM-ID when not empty
  int sequence = 0;
  Instant dtstamp{};
  MultiDayRule multi_day = MultiDayRule::kKeep;  // strips the title suffix again
};

// Writes a VCALENDAR for the activity, merging back activity.ical_extra so that
// properties the CRM does not model survive.
Result<std::string> WriteEvent(const model::Activity& activity, const WriteOptions& options);

// Hash over the synced fields (S2) in normalized form: equal hashes mean no
// change a user would see, whatever the byte form. Hex string.
std::string ContentHash(const model::Activity& activity);

// True when the activity (or, for a series, any occurrence) overlaps [from, to).
bool OccursWithin(const model::Activity& activity, Instant from, Instant to);

}  // namespace tandem::ical
