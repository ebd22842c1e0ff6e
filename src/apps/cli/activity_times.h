// Turning --start / --end / --all-day as typed into the activity's JSON times.
//
// Timed: --start and --end are local times (dates.h); without --end the activity
// lasts one hour (on add) or keeps its duration (on edit, when only --start moves).
// All-day: --start and --end are days, --end being the LAST day (inclusive); the
// JSON holds midnight UTC of the first day and of the day after the last
// (model/entities.h). Without --end: one day (add) or the same number of days (edit).
// Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "apps/cli/local_zone.h"
#include "core/status.h"

namespace tandem::cli {

struct ActivityTimeArgs {
  std::string start;            // empty: not given
  std::string end;              // empty: not given
  std::optional<bool> all_day;  // --all-day / --timed
};

// Sets "start", "end" and "all_day" in `body` as needed. `current` is the record
// being edited, null on add. InvalidArgument for unreadable dates, for a missing
// --start on add, and for turning an all-day activity timed without --start.
Status ApplyActivityTimes(const ActivityTimeArgs& args, const nlohmann::json* current,
                          const LocalZone& zone, Instant now, nlohmann::json* body);

}  // namespace tandem::cli
