#include "apps/cli/dates.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace tandem::cli {
namespace {
using namespace std::chrono;

Instant At(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

class DatesTest : public ::testing::Test {
 protected:
  FixedOffsetZone plus_one_{hours{1}};
  Instant now_ = At("2026-11-24T10:00:00Z");
};

TEST_F(DatesTest, WordsAreLocalDays) {
  EXPECT_EQ(*ParseDay("today", plus_one_, now_), year{2026} / November / 24);
  EXPECT_EQ(*ParseDay("Tomorrow", plus_one_, now_), year{2026} / November / 25);
  EXPECT_EQ(*ParseDay("yesterday", plus_one_, now_), year{2026} / November / 23);
  EXPECT_EQ(*ParseDay("+7", plus_one_, now_), year{2026} / December / 1);
  EXPECT_EQ(*ParseDay("-30d", plus_one_, now_), year{2026} / October / 25);
}

TEST_F(DatesTest, TodayFollowsTheLocalZoneNotUtc) {
  Instant late = At("2026-11-24T23:30:00Z");  // already the 25th at +01:00
  EXPECT_EQ(*ParseDay("today", plus_one_, late), year{2026} / November / 25);
  FixedOffsetZone utc{seconds{0}};
  EXPECT_EQ(*ParseDay("today", utc, late), year{2026} / November / 24);
}

TEST_F(DatesTest, LocalTimesBecomeUtcInstants) {
  EXPECT_EQ(*ParseWhen("2026-12-01 09:30", plus_one_, now_), At("2026-12-01T08:30:00Z"));
  EXPECT_EQ(*ParseWhen("2026-12-01T09:30:15", plus_one_, now_), At("2026-12-01T08:30:15Z"));
  EXPECT_EQ(*ParseWhen("2026-12-01", plus_one_, now_), At("2026-11-30T23:00:00Z"));
  EXPECT_EQ(*ParseWhen("now", plus_one_, now_), now_);
}

TEST_F(DatesTest, ExplicitOffsetsWin) {
  EXPECT_EQ(*ParseWhen("2026-12-01T09:30:00Z", plus_one_, now_), At("2026-12-01T09:30:00Z"));
  EXPECT_EQ(*ParseWhen("2026-12-01T09:30:00-05:00", plus_one_, now_), At("2026-12-01T14:30:00Z"));
  // An exact instant read as a day takes the local day it falls on.
  EXPECT_EQ(*ParseDay("2026-12-01T23:30:00Z", plus_one_, now_), year{2026} / December / 2);
}

TEST_F(DatesTest, UntilADayMeansItsEnd) {
  EXPECT_EQ(*ParseUntil("2026-11-30", plus_one_, now_), At("2026-11-30T23:00:00Z"));
  EXPECT_EQ(*ParseUntil("2026-11-30 12:00", plus_one_, now_), At("2026-11-30T11:00:00Z"));
}

TEST_F(DatesTest, RejectsNonsenseWithTheAcceptedForms) {
  for (const char* bad : {"", "soon", "2026-13-01", "2026-02-30", "2026-11-24 25:00",
                          "2026-11-24 10", "24.11.2026", "+x", "2026-11-24X10:00"}) {
    auto r = ParseWhen(bad, plus_one_, now_);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("YYYY-MM-DD"), std::string::npos) << bad;
  }
}

TEST_F(DatesTest, Formatting) {
  EXPECT_EQ(FormatDay(year{2026} / March / 5), "2026-03-05");
  EXPECT_EQ(FormatDayHeading(year{2026} / November / 24), "Tue 2026-11-24");
  EXPECT_EQ(FormatLocalTime(At("2026-11-24T23:30:00Z"), plus_one_), "2026-11-25 00:30");
  EXPECT_EQ(FormatClock(At("2026-11-24T08:05:00Z"), plus_one_), "09:05");
  EXPECT_EQ(FormatOffset(seconds{-(5 * 3600 + 1800)}), "-05:30");
  EXPECT_EQ(FormatOffset(hours{2}), "+02:00");
}

// The system zone follows TZ, including daylight saving time.
TEST(SystemZoneTest, FollowsTzAcrossDaylightSaving) {
  const char* old = std::getenv("TZ");
  std::string saved = old ? old : "";
  ::setenv("TZ", "Europe/Berlin", 1);
  ::tzset();
  SystemZone berlin;
  EXPECT_EQ(berlin.OffsetAt(At("2026-07-01T12:00:00Z")), hours{2});
  EXPECT_EQ(berlin.OffsetAt(At("2026-12-01T12:00:00Z")), hours{1});
  Instant summer = *ParseWhen("2026-07-01 09:00", berlin, At("2026-11-24T10:00:00Z"));
  EXPECT_EQ(summer, At("2026-07-01T07:00:00Z"));
  EXPECT_EQ(FormatLocalTime(summer, berlin), "2026-07-01 09:00");
  // 02:30 on the spring-forward night does not exist; it lands after the gap.
  Instant gap = berlin.FromLocal({year{2026} / March / 29, 2, 30, 0});
  EXPECT_EQ(FormatLocalTime(gap, berlin), "2026-03-29 03:30");
  if (old)
    ::setenv("TZ", saved.c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
}

}  // namespace
}  // namespace tandem::cli
