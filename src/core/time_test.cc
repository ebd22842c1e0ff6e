#include "core/time.h"

#include <gtest/gtest.h>

namespace tandem {
namespace {

TEST(TimeTest, FormatAndParseRoundTrip) {
  Instant t = FromUnixSeconds(1795000000);
  std::string s = FormatRfc3339(t);
  EXPECT_EQ(s, "2026-11-18T11:06:40Z");
  EXPECT_EQ(*ParseRfc3339(s), t);
  Instant frac = t + std::chrono::milliseconds(250);
  EXPECT_EQ(FormatRfc3339(frac), "2026-11-18T11:06:40.25Z");
  EXPECT_EQ(*ParseRfc3339("2026-11-18T11:06:40.25Z"), frac);
}

TEST(TimeTest, OffsetsAndDates) {
  EXPECT_EQ(*ParseRfc3339("2026-11-18T12:06:40+01:00"), FromUnixSeconds(1795000000));
  EXPECT_EQ(*ParseRfc3339("2026-11-18T06:06:40-05:00"), FromUnixSeconds(1795000000));
  EXPECT_EQ(FormatRfc3339(*ParseRfc3339("2026-02-28")), "2026-02-28T00:00:00Z");
}

TEST(TimeTest, RejectsGarbage) {
  for (const char* bad : {"", "2026", "2026-13-01", "2026-02-30", "2026-01-01T25:00:00Z",
                          "2026-01-01T10:00:00", "2026-01-01T10:00:00Zjunk", "yesterday"}) {
    EXPECT_EQ(ParseRfc3339(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

TEST(BasicFormTest, UtcAndDateInICalendarsBasicForm) {
  const Instant t = ParseRfc3339("2027-01-04T09:05:07.250Z").value();
  EXPECT_EQ(FormatBasicUtc(t), "20270104T090507Z");
  EXPECT_EQ(FormatBasicDate(t), "20270104");
  EXPECT_EQ(FormatBasicUtc(ParseRfc3339("1969-12-31T23:59:59Z").value()), "19691231T235959Z");
}

}  // namespace
}  // namespace tandem
