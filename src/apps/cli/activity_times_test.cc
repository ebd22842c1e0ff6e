#include "apps/cli/activity_times.h"

#include <gtest/gtest.h>

namespace tandem::cli {
namespace {
using namespace std::chrono;
using Json = nlohmann::json;

class ActivityTimesTest : public ::testing::Test {
 protected:
  Result<Json> Apply(ActivityTimeArgs args, const Json* current = nullptr) {
    Json body = Json::object();
    Status s = ApplyActivityTimes(args, current, zone_, now_, &body);
    if (!s.ok()) return s;
    return body;
  }
  FixedOffsetZone zone_{hours{1}};
  Instant now_ = *ParseRfc3339("2026-11-24T10:00:00Z");
};

TEST_F(ActivityTimesTest, AddTimedDefaultsToOneHour) {
  auto b = Apply({"2026-12-01 09:00", "", std::nullopt});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)["start"], "2026-12-01T08:00:00Z");
  EXPECT_EQ((*b)["end"], "2026-12-01T09:00:00Z");
  EXPECT_EQ((*b)["all_day"], false);
}

TEST_F(ActivityTimesTest, AddAllDayEndIsTheLastDayIncluded) {
  auto b = Apply({"2026-12-01", "2026-12-03", true});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)["start"], "2026-12-01T00:00:00Z");
  EXPECT_EQ((*b)["end"], "2026-12-04T00:00:00Z");
  EXPECT_EQ((*b)["all_day"], true);
  auto one = Apply({"tomorrow", "", true});
  EXPECT_EQ((*one)["start"], "2026-11-25T00:00:00Z");
  EXPECT_EQ((*one)["end"], "2026-11-26T00:00:00Z");
}

TEST_F(ActivityTimesTest, AddNeedsStart) {
  EXPECT_EQ(Apply({"", "2026-12-01 10:00", std::nullopt}).status().code(), Code::kInvalidArgument);
}

TEST_F(ActivityTimesTest, AnEndBeforeStartIsLeftForTheServerToRefuse) {
  auto b = Apply({"2026-12-01 10:00", "2026-12-01 09:00", std::nullopt});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)["end"], "2026-12-01T08:00:00Z");
}

TEST_F(ActivityTimesTest, EditMovingStartKeepsDuration) {
  Json current{
      {"start", "2026-12-01T08:00:00Z"}, {"end", "2026-12-01T08:30:00Z"}, {"all_day", false}};
  auto b = Apply({"2026-12-02 14:00", "", std::nullopt}, &current);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)["start"], "2026-12-02T13:00:00Z");
  EXPECT_EQ((*b)["end"], "2026-12-02T13:30:00Z");
  EXPECT_FALSE(b->contains("all_day"));
}

TEST_F(ActivityTimesTest, EditWithoutTimeFlagsChangesNothing) {
  Json current{{"start", "2026-12-01T08:00:00Z"}, {"end", "2026-12-01T08:30:00Z"}};
  auto b = Apply({"", "", std::nullopt}, &current);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->empty());
}

TEST_F(ActivityTimesTest, EditTimedToAllDayKeepsTheLocalDay) {
  // 23:30Z on Dec 1 is already Dec 2 at +01:00.
  Json current{
      {"start", "2026-12-01T23:30:00Z"}, {"end", "2026-12-02T00:30:00Z"}, {"all_day", false}};
  auto b = Apply({"", "", true}, &current);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)["start"], "2026-12-02T00:00:00Z");
  EXPECT_EQ((*b)["end"], "2026-12-03T00:00:00Z");
  EXPECT_EQ((*b)["all_day"], true);
}

TEST_F(ActivityTimesTest, EditAllDayMovedKeepsItsLength) {
  Json current{
      {"start", "2026-12-01T00:00:00Z"}, {"end", "2026-12-04T00:00:00Z"}, {"all_day", true}};
  auto b = Apply({"2026-12-10", "", std::nullopt}, &current);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)["start"], "2026-12-10T00:00:00Z");
  EXPECT_EQ((*b)["end"], "2026-12-13T00:00:00Z");
}

TEST_F(ActivityTimesTest, AllDayToTimedNeedsStart) {
  Json current{
      {"start", "2026-12-01T00:00:00Z"}, {"end", "2026-12-02T00:00:00Z"}, {"all_day", true}};
  EXPECT_EQ(Apply({"", "", false}, &current).status().code(), Code::kInvalidArgument);
  auto b = Apply({"2026-12-01 09:00", "", false}, &current);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)["end"], "2026-12-01T09:00:00Z");
  EXPECT_EQ((*b)["all_day"], false);
}

TEST_F(ActivityTimesTest, UnreadableDateNamesTheFlag) {
  auto r = Apply({"2026-12-01 09:00", "later", std::nullopt});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("--end: ", 0), 0u);
}

}  // namespace
}  // namespace tandem::cli
