// Instants in UTC and their RFC 3339 text form.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tandem {

// A point in time, UTC, microsecond precision. Calendar times are whole seconds.
using Instant = std::chrono::sys_time<std::chrono::microseconds>;
using Duration = std::chrono::microseconds;

inline Instant FromUnixSeconds(int64_t s) { return Instant(std::chrono::seconds(s)); }
inline int64_t ToUnixSeconds(Instant t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
inline int64_t ToUnixMicros(Instant t) { return t.time_since_epoch().count(); }
inline Instant FromUnixMicros(int64_t us) { return Instant(Duration(us)); }

// "2026-11-24T10:00:00Z"; fractional seconds only when not zero ("...:00.250Z").
std::string FormatRfc3339(Instant t);
// iCalendar's basic forms in UTC: "20261124T100000Z" and "20261124".
std::string FormatBasicUtc(Instant t);
std::string FormatBasicDate(Instant t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)" and "YYYY-MM-DD" (midnight UTC).
Result<Instant> ParseRfc3339(std::string_view text);

}  // namespace tandem
