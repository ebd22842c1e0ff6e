#include "model/entities.h"

#include <gtest/gtest.h>

#include "model/json.h"

namespace tandem::model {
namespace {

Activity Meeting() {
  Activity a;
  a.subject = "Kick-off";
  a.start = *ParseRfc3339("2026-12-01T09:00:00Z");
  a.end = *ParseRfc3339("2026-12-01T10:00:00Z");
  return a;
}

TEST(ValidateTest, ActivityRules) {
  Activity a = Meeting();
  EXPECT_TRUE(Validate(a).ok());
  a.end = a.start - std::chrono::hours(1);
  EXPECT_EQ(Validate(a).message(), "end: must not be before start");
  a = Meeting();
  a.all_day = true;
  EXPECT_TRUE(Validate(a).message().starts_with("start:"));
  a.start = *ParseRfc3339("2026-12-01");
  a.end = *ParseRfc3339("2026-12-02");
  EXPECT_TRUE(Validate(a).ok());
  a.regarding_type = RegardingType::kAccount;
  EXPECT_TRUE(Validate(a).message().starts_with("regarding_id:"));
  a = Meeting();
  a.subject.clear();  // an untitled event is valid iCalendar and a valid activity
  EXPECT_TRUE(Validate(a).ok());
  a.subject = std::string(1001, 'x');
  EXPECT_TRUE(Validate(a).message().starts_with("subject:"));
  a = Meeting();
  a.sequence = -1;
  EXPECT_TRUE(Validate(a).message().starts_with("sequence:"));
}

TEST(JsonTest, ActivityRoundTrip) {
  Activity a = Meeting();
  a.meta.id = "0192f0c4-6a1e-7c3b-9d2f-5e8a1b2c3d4e";
  a.meta.version = 7;
  a.reminder_minutes = 15;
  a.show_as = ShowAs::kOutOfOffice;
  a.exdates = {*ParseRfc3339("2026-12-08T09:00:00Z")};
  a.cancelled = true;
  a.sequence = 3;
  Json j = ToJson(a);
  EXPECT_EQ(j["show_as"], "out_of_office");
  EXPECT_EQ(j["reminder_minutes"], 15);
  Activity b;
  ASSERT_TRUE(FromServerJson(j, &b).ok());
  EXPECT_EQ(b.meta.id, a.meta.id);
  EXPECT_EQ(b.meta.version, 7);
  EXPECT_EQ(b.start, a.start);
  EXPECT_EQ(b.exdates, a.exdates);
  EXPECT_EQ(b.reminder_minutes, 15);
  EXPECT_TRUE(b.cancelled);
  EXPECT_EQ(b.sequence, 3);
}

TEST(JsonTest, MergeReportsTheField) {
  Activity a = Meeting();
  EXPECT_EQ(MergeJson(Json{{"start", 5}}, &a).message(),
            "start: must be an RFC 3339 date-time string");
  EXPECT_TRUE(MergeJson(Json{{"show_as", "busyish"}}, &a).message().starts_with("show_as:"));
  EXPECT_EQ(MergeJson(Json::array(), &a).message(), "body: must be a JSON object");
  ASSERT_TRUE(MergeJson(Json{{"reminder_minutes", nullptr}, {"version", 99}}, &a).ok());
  EXPECT_FALSE(a.reminder_minutes);
  EXPECT_EQ(a.meta.version, 0);  // server-owned, ignored
}

TEST(ETagTest, IfMatch) {
  EXPECT_EQ(ETagOf(3), "\"3\"");
  EXPECT_EQ(**ParseIfMatch("\"3\""), 3);
  EXPECT_FALSE(ParseIfMatch("*")->has_value());
  EXPECT_FALSE(ParseIfMatch("3").ok());
  EXPECT_FALSE(ParseIfMatch("\"x\"").ok());
}

}  // namespace
}  // namespace tandem::model
