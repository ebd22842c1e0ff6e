#include "apps/cli/format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tandem::cli {
namespace {
using namespace std::chrono;
using ::testing::HasSubstr;
using ::testing::Not;

Json Activity(const char* id, const char* subject, const char* start, const char* end,
              bool all_day = false, bool is_private = false) {
  return Json{{"id", id},          {"subject", subject},    {"start", start},
              {"end", end},        {"all_day", all_day},    {"private", is_private},
              {"show_as", "busy"}, {"kind", "appointment"}, {"location", ""}};
}

TEST(RenderTableTest, PadsColumnsToTheWidestCell) {
  std::string t = RenderTable({"ID", "NAME"}, {{"1", "Acme"}, {"22", "Ärzte GmbH"}});
  EXPECT_EQ(t,
            "ID  NAME\n"
            "1   Acme\n"
            "22  Ärzte GmbH\n");
}

TEST(FormatMoneyTest, GroupsThousandsAndKeepsCents) {
  EXPECT_EQ(FormatMoney(123456789, "EUR"), "1,234,567.89 EUR");
  EXPECT_EQ(FormatMoney(5, "USD"), "0.05 USD");
  EXPECT_EQ(FormatMoney(-150, ""), "-1.50");
}

TEST(ListRowTest, ActivitiesShowLocalTimeAndFlags) {
  FixedOffsetZone zone{hours{1}};
  Json a = Activity("a1", "Review", "2026-11-24T09:00:00Z", "2026-11-24T10:30:00Z", false, true);
  a["show_as"] = "tentative";
  auto row = ListRow("activities", a, zone);
  ASSERT_EQ(row.size(), 4u);
  EXPECT_EQ(row[1], "2026-11-24 10:00-11:30");
  EXPECT_EQ(row[2], "Review");
  EXPECT_EQ(row[3], "[private] [tentative]");
  Json all_day = Activity("a2", "Fair", "2026-12-01T00:00:00Z", "2026-12-04T00:00:00Z", true);
  EXPECT_EQ(ListRow("activities", all_day, zone)[1], "2026-12-01 .. 2026-12-03 (all day)");
}

TEST(ListRowTest, OpportunitiesAndContacts) {
  FixedOffsetZone zone{seconds{0}};
  Json o{{"id", "o1"},        {"name", "Deal"},
         {"stage", "won"},    {"amount_cents", 250000},
         {"currency", "EUR"}, {"close_date", "2026-12-31"}};
  EXPECT_EQ(ListRow("opportunities", o, zone),
            (std::vector<std::string>{"o1", "Deal", "won", "2,500.00 EUR", "2026-12-31"}));
  Json c{{"id", "c1"}, {"first_name", "Ada"}, {"last_name", "Byron"}, {"email", "ada@x.test"}};
  EXPECT_EQ(ListRow("contacts", c, zone)[1], "Ada Byron");
}

TEST(RenderRecordTest, AddsLocalTimeToDateTimes) {
  FixedOffsetZone zone{hours{-5}};
  Json r{{"id", "x"}, {"start", "2026-11-24T15:00:00Z"}, {"reminder_minutes", nullptr}};
  std::string s = RenderRecord(r, zone);
  EXPECT_THAT(s, HasSubstr("2026-11-24T15:00:00Z (2026-11-24 10:00 -05:00)"));
  EXPECT_THAT(s, HasSubstr("reminder_minutes:  -"));
}

TEST(RenderRecordTest, ImportantFieldsFirstEmptyOnesLeftOut) {
  FixedOffsetZone zone{seconds{0}};
  Json r{{"version", 2},
         {"subject", "Fair"},
         {"id", "a1"},
         {"location", ""},
         {"exdates", Json::array()},
         {"all_day", true},
         {"start", "2026-12-01T00:00:00Z"},
         {"end", "2026-12-04T00:00:00Z"}};
  EXPECT_EQ(RenderRecord(r, zone),
            "id:       a1\n"
            "subject:  Fair\n"
            "start:    2026-12-01T00:00:00Z (2026-12-01)\n"
            "end:      2026-12-04T00:00:00Z (last day 2026-12-03)\n"
            "all_day:  true\n"
            "version:  2\n");
}

TEST(RenderAgendaTest, GroupsByLocalDayWithAllDayFirst) {
  FixedOffsetZone zone{hours{1}};
  Json items = Json::array();
  // 23:30Z on the 24th is 00:30 on the 25th locally.
  items.push_back(Activity("a", "Late call", "2026-11-24T23:30:00Z", "2026-11-24T23:45:00Z"));
  items.push_back(Activity("b", "Standup", "2026-11-24T08:00:00Z", "2026-11-24T08:15:00Z"));
  items.push_back(Activity("c", "Holiday", "2026-11-24T00:00:00Z", "2026-11-26T00:00:00Z", true));
  items.push_back(
      Activity("d", "Doctor", "2026-11-24T07:00:00Z", "2026-11-24T07:30:00Z", false, true));
  std::string s = RenderAgenda(items, year{2026} / November / 24, year{2026} / November / 25, zone);
  EXPECT_EQ(s,
            "Tue 2026-11-24\n"
            "  all day      Holiday\n"
            "  08:00-08:30  Doctor  [private]\n"
            "  09:00-09:15  Standup\n"
            "\n"
            "Wed 2026-11-25\n"
            "  all day      Holiday\n"
            "  00:30-00:45  Late call\n");
}

TEST(RenderAgendaTest, LeavesOutDaysOutsideTheRange) {
  FixedOffsetZone zone{seconds{0}};
  Json items = Json::array();
  items.push_back(Activity("c", "Trip", "2026-11-20T00:00:00Z", "2026-11-26T00:00:00Z", true));
  items.push_back(Activity("x", "Before", "2026-11-23T10:00:00Z", "2026-11-23T11:00:00Z"));
  items.push_back(Activity("y", "Overnight", "2026-11-23T22:00:00Z", "2026-11-24T02:00:00Z"));
  std::string s = RenderAgenda(items, year{2026} / November / 24, year{2026} / November / 24, zone);
  EXPECT_EQ(s,
            "Tue 2026-11-24\n"
            "  all day      Trip\n"
            "  ... -02:00   Overnight\n");
  EXPECT_THAT(s, Not(HasSubstr("Before")));
}

TEST(RenderAgendaTest, SaysWhenThereIsNothing) {
  FixedOffsetZone zone{seconds{0}};
  EXPECT_EQ(
      RenderAgenda(Json::array(), year{2026} / November / 24, year{2026} / November / 30, zone),
      "No activities from 2026-11-24 to 2026-11-30.\n");
}

}  // namespace
}  // namespace tandem::cli
