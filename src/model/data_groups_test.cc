#include "model/data_groups.h"

#include <gtest/gtest.h>

namespace tandem::model {
namespace {

using nlohmann::json;
using model::EntityType;

const Instant kNow = FromUnixSeconds(1'790'000'000);

json ActivityAt(const std::string& owner, Instant start, Instant end) {
  return json{{"id", "a1"}, {"owner_id", owner}, {"start", FormatRfc3339(start)},
              {"end", FormatRfc3339(end)}, {"rrule", ""}};
}

TEST(DataGroupsTest, DefaultIsMyDataWithActivitiesFromNinetyDaysBack) {
  DataGroups g = DefaultDataGroups();
  json mine = {{"owner_id", "me"}};
  json theirs = {{"owner_id", "other"}};
  for (auto e : {EntityType::kAccount, EntityType::kContact, EntityType::kOpportunity}) {
    EXPECT_TRUE(InScope(g, e, mine, "me", kNow));
    EXPECT_FALSE(InScope(g, e, theirs, "me", kNow));
  }
  auto day = std::chrono::days(1);
  EXPECT_TRUE(InScope(g, EntityType::kActivity, ActivityAt("me", kNow - 89 * day, kNow - 89 * day), "me", kNow));
  EXPECT_FALSE(InScope(g, EntityType::kActivity, ActivityAt("me", kNow - 91 * day, kNow - 91 * day), "me", kNow));
  // A long activity that started before the window but ends inside it counts.
  EXPECT_TRUE(InScope(g, EntityType::kActivity, ActivityAt("me", kNow - 100 * day, kNow - 80 * day), "me", kNow));
  EXPECT_FALSE(InScope(g, EntityType::kActivity, ActivityAt("other", kNow, kNow), "me", kNow));
  // Far future activities are in by default.
  EXPECT_TRUE(InScope(g, EntityType::kActivity, ActivityAt("me", kNow + 900 * day, kNow + 900 * day), "me", kNow));
}

TEST(DataGroupsTest, RecurringActivitiesIgnoreTheBackWindow) {
  DataGroups g = DefaultDataGroups();
  auto old = ActivityAt("me", kNow - std::chrono::days(400), kNow - std::chrono::days(400));
  old["rrule"] = "FREQ=WEEKLY";
  EXPECT_TRUE(InScope(g, EntityType::kActivity, old, "me", kNow));
}

TEST(DataGroupsTest, FiltersPerEntity) {
  auto g = DataGroupsFromJson(json::parse(R"({
    "accounts": {"owner": "all"},
    "contacts": {"enabled": false},
    "opportunities": {"stages": ["won", "negotiation"]},
    "activities": {"days_back": 7, "days_ahead": 30, "excluded_fields": ["description"]}
  })"));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_TRUE(InScope(*g, EntityType::kAccount, {{"owner_id", "other"}}, "me", kNow));
  EXPECT_FALSE(InScope(*g, EntityType::kContact, {{"owner_id", "me"}}, "me", kNow));
  EXPECT_TRUE(InScope(*g, EntityType::kOpportunity, {{"owner_id", "me"}, {"stage", "won"}}, "me", kNow));
  EXPECT_FALSE(InScope(*g, EntityType::kOpportunity, {{"owner_id", "me"}, {"stage", "lost"}}, "me", kNow));
  auto day = std::chrono::days(1);
  EXPECT_FALSE(InScope(*g, EntityType::kActivity, ActivityAt("me", kNow - 8 * day, kNow - 8 * day), "me", kNow));
  EXPECT_FALSE(InScope(*g, EntityType::kActivity, ActivityAt("me", kNow + 31 * day, kNow + 31 * day), "me", kNow));
  EXPECT_TRUE(InScope(*g, EntityType::kActivity, ActivityAt("me", kNow + day, kNow + day), "me", kNow));

  json record = {{"id", "x"}, {"subject", "s"}, {"description", std::string(10000, 'x')}};
  json slim = WithoutExcluded(*g, EntityType::kActivity, record);
  EXPECT_FALSE(slim.contains("description"));
  EXPECT_EQ(slim["subject"], "s");
  EXPECT_TRUE(WithoutExcluded(*g, EntityType::kContact, {{"notes", "n"}}).contains("notes"));
}

TEST(DataGroupsTest, JsonRoundTrip) {
  DataGroups g = DefaultDataGroups();
  g.opportunities.stages = {"won"};
  g.contacts.mine_only = false;
  g.activities.excluded_fields = {"ical_extra"};
  auto back = DataGroupsFromJson(ToJson(g));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(ToJson(*back), ToJson(g));
}

TEST(DataGroupsTest, RejectsBadFieldsNamingThem) {
  auto bad_owner = DataGroupsFromJson(json::parse(R"({"accounts": {"owner": "bob"}})"));
  ASSERT_FALSE(bad_owner.ok());
  EXPECT_NE(bad_owner.status().message().find("accounts.owner"), std::string::npos);
  auto bad_stage = DataGroupsFromJson(json::parse(R"({"opportunities": {"stages": ["maybe"]}})"));
  EXPECT_TRUE(bad_stage.status().Is(Code::kInvalidArgument));
  auto bad_days = DataGroupsFromJson(json::parse(R"({"activities": {"days_back": -1}})"));
  EXPECT_TRUE(bad_days.status().Is(Code::kInvalidArgument));
  auto bad_exclusion = DataGroupsFromJson(json::parse(R"({"activities": {"excluded_fields": ["id"]}})"));
  EXPECT_TRUE(bad_exclusion.status().Is(Code::kInvalidArgument));
}

}  // namespace
}  // namespace tandem::model
