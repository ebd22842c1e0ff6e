// Properties of the date reading and writing the CLI does, over random input.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include "apps/cli/activity_times.h"
#include "apps/cli/dates.h"

namespace tandem::cli {
namespace {
using namespace std::chrono;

// A minute-aligned instant between 1971 and 2099.
rc::Gen<Instant> MinuteInstants() {
  return rc::gen::map(rc::gen::inRange<int64_t>(365 * 24 * 60, 129LL * 365 * 24 * 60),
                      [](int64_t m) { return Instant(minutes{m}); });
}

// UTC-12:00 .. UTC+14:00 in quarter hours.
rc::Gen<FixedOffsetZone> Zones() {
  return rc::gen::map(rc::gen::inRange(-48, 57),
                      [](int q) { return FixedOffsetZone(minutes{15 * q}); });
}

TEST(DatesPropertyTest, LocalTimeTextReadsBackToTheSameInstant) {
  EXPECT_TRUE(rc::check("FormatLocalTime then ParseWhen", [] {
    Instant t = *MinuteInstants();
    FixedOffsetZone zone = *Zones();
    Instant now = *MinuteInstants();
    auto back = ParseWhen(FormatLocalTime(t, zone), zone, now);
    RC_ASSERT(back.ok());
    RC_ASSERT(*back == t);
  }));
}

TEST(DatesPropertyTest, DaysReadBack) {
  EXPECT_TRUE(rc::check("FormatDay then ParseDay", [] {
    Instant t = *MinuteInstants();
    FixedOffsetZone zone = *Zones();
    year_month_day d = zone.ToLocal(t).date;
    auto back = ParseDay(FormatDay(d), zone, t);
    RC_ASSERT(back.ok());
    RC_ASSERT(*back == d);
    // "+N" is N local days after today.
    int n = *rc::gen::inRange(0, 1000);
    auto later = ParseDay("+" + std::to_string(n), zone, t);
    RC_ASSERT(later.ok());
    RC_ASSERT(sys_days{*later} - sys_days{d} == days{n});
  }));
}

TEST(DatesPropertyTest, ArbitraryTextIsReadOrRefusedAsInvalidArgument) {
  EXPECT_TRUE(rc::check("ParseWhen on any string", [] {
    std::string text = *rc::gen::oneOf(rc::gen::arbitrary<std::string>(),
                                       rc::gen::container<std::string>(rc::gen::element(
                                           '2', '0', '-', ':', 'T', ' ', '1', 'Z', '+', '9', 'd')));
    FixedOffsetZone zone{hours{2}};
    auto r = ParseWhen(text, zone, Instant(hours{500000}));
    if (!r.ok()) RC_ASSERT(r.status().code() == Code::kInvalidArgument);
  }));
}

TEST(DatesPropertyTest, AllDayActivitiesCoverWholeUtcDays) {
  EXPECT_TRUE(rc::check("ApplyActivityTimes all-day", [] {
    FixedOffsetZone zone = *Zones();
    Instant now = *MinuteInstants();
    year_month_day first = zone.ToLocal(*MinuteInstants()).date;
    int length = *rc::gen::inRange(1, 40);
    year_month_day last{sys_days{first} + days{length - 1}};
    nlohmann::json body = nlohmann::json::object();
    Status s =
        ApplyActivityTimes({FormatDay(first), FormatDay(last), true}, nullptr, zone, now, &body);
    RC_ASSERT(s.ok());
    Instant start = *ParseRfc3339(body["start"].get<std::string>());
    Instant end = *ParseRfc3339(body["end"].get<std::string>());
    RC_ASSERT(start == Instant(sys_days{first}));
    RC_ASSERT(end - start == Duration(days{length}));
  }));
}

}  // namespace
}  // namespace tandem::cli
