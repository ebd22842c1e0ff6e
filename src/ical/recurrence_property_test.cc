// The calendar-arithmetic expansion must give exactly what libical's recurrence
// iterator gives, for any simple rule, zone, start time and window.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <chrono>

#include "ical/ical.h"
#include "ical/internal.h"

namespace tandem::ical {
namespace {

const char* const kZones[] = {
    "Europe/Berlin", "America/New_York",  "Australia/Sydney", "Asia/Kolkata",
    "UTC",           "America/Sao_Paulo", "Pacific/Chatham",  "Europe/London"};
const char* const kDays[] = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};

RC_GTEST_PROP(SeriesProperty, FastPathMatchesLibical, ()) {
  model::Activity a;
  a.subject = "p";
  a.all_day = *rc::gen::inRange(0, 5) == 0;
  a.time_zone = a.all_day ? "" : kZones[*rc::gen::inRange(0, 8)];
  // Any day 2024-2027; times often in the small hours, where DST changes happen.
  int64_t day = *rc::gen::inRange<int64_t>(19723, 19723 + 4 * 365);
  int64_t secs = a.all_day ? 0 : *rc::gen::element<int64_t>(0, 1800, 5400, 9000, 32400, 86399);
  a.start = FromUnixSeconds(day * 86400 + secs);
  a.end = a.start + (a.all_day ? std::chrono::days(1) : std::chrono::hours(1));

  bool weekly = *rc::gen::arbitrary<bool>();
  std::string rule = weekly ? "FREQ=WEEKLY" : "FREQ=DAILY";
  int interval = *rc::gen::inRange(1, 4);
  if (interval > 1) rule += ";INTERVAL=" + std::to_string(interval);
  int limit = *rc::gen::inRange(0, 3);
  if (limit == 1) rule += ";COUNT=" + std::to_string(*rc::gen::inRange(1, 60));
  if (limit == 2) {
    Instant until = a.start + std::chrono::days(*rc::gen::inRange(0, 200)) +
                    std::chrono::seconds(*rc::gen::inRange(-7200, 7200));
    std::string u = FormatRfc3339(until);  // 2026-03-29T01:00:00Z
    std::string compact = u.substr(0, 4) + u.substr(5, 2) + u.substr(8, 2);
    if (a.all_day) {
      rule += ";UNTIL=" + compact;
    } else {
      rule += ";UNTIL=" + compact + "T" + u.substr(11, 2) + u.substr(14, 2) + u.substr(17, 2) + "Z";
    }
  }
  if (weekly && *rc::gen::arbitrary<bool>()) {
    // BYDAY includes the start's weekday (else RFC 5545 leaves the set undefined).
    int start_dow = static_cast<int>((day + 4) % 7);  // 1970-01-01 was a Thursday
    std::string byday = kDays[start_dow];
    for (int d = 0; d < 7; ++d) {
      if (d != start_dow && *rc::gen::inRange(0, 3) == 0) byday += std::string(",") + kDays[d];
    }
    rule += ";BYDAY=" + byday;
    // libical 3.0 ignores WKST for INTERVAL>1 (it counts Monday weeks); the fast path
    // follows RFC 5545 there (ExpandTest.Rfc5545WkstExample), so compare only where
    // WKST cannot matter.
    if (interval == 1 && *rc::gen::arbitrary<bool>())
      rule += std::string(";WKST=") + kDays[*rc::gen::inRange(0, 7)];
  }
  a.rrule = rule;
  Instant from = a.start + std::chrono::days(*rc::gen::inRange(-10, 300));
  Instant to = from + std::chrono::days(*rc::gen::inRange(1, 400));

  auto fast = Expand(a, from, to, 5000);
  auto slow = detail::ExpandWithLibicalOnly(a, from, to, 5000);
  RC_ASSERT(fast.ok());
  RC_ASSERT(slow.ok());
  std::vector<int64_t> f, s;
  for (const Occurrence& o : *fast) f.push_back(ToUnixSeconds(o.start));
  for (const Occurrence& o : *slow) s.push_back(ToUnixSeconds(o.start));
  RC_LOG() << a.rrule << " tz=" << a.time_zone << " start=" << FormatRfc3339(a.start) << "\n";
  RC_ASSERT(f == s);
}

}  // namespace
}  // namespace tandem::ical
