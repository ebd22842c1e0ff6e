// Dates and times as users type them on the command line, read in their local zone.
//
// Accepted forms (case-insensitive words):
//   today, tomorrow, yesterday, now (now: ParseWhen only)
//   +N / -N            N days from today (e.g. "+7")
//   YYYY-MM-DD         a local day (ParseWhen: its local midnight)
//   YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DDTHH:MM[:SS]   local wall-clock time
//   RFC 3339 with Z or an offset ("2026-11-24T10:00:00Z")   an exact instant
// Errors: InvalidArgument naming the text and the accepted forms.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "apps/cli/local_zone.h"
#include "core/status.h"
#include "core/time.h"

namespace tandem::cli {

// A local day. A time of day, if given, is dropped; an exact instant is taken in
// `zone`.
Result<std::chrono::year_month_day> ParseDay(std::string_view text, const LocalZone& zone,
                                             Instant now);

// An instant; a bare day means its local midnight.
Result<Instant> ParseWhen(std::string_view text, const LocalZone& zone, Instant now);

// The end of a range: a bare day means the end of that day (the next local
// midnight), so "--to 2026-11-30" includes the 30th; anything else as ParseWhen.
Result<Instant> ParseUntil(std::string_view text, const LocalZone& zone, Instant now);

// "2026-11-24".
std::string FormatDay(std::chrono::year_month_day day);
// "Tue 2026-11-24".
std::string FormatDayHeading(std::chrono::year_month_day day);
// "2026-11-24 11:00" in `zone`.
std::string FormatLocalTime(Instant t, const LocalZone& zone);
// "11:00" in `zone`.
std::string FormatClock(Instant t, const LocalZone& zone);
// "+01:00".
std::string FormatOffset(std::chrono::seconds offset);

}  // namespace tandem::cli
