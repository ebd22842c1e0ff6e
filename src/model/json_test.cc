#include "model/json.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

namespace tandem::model {
namespace {

std::string Dumped(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

template <typename T>
std::string Appended(const T& record) {
  std::string out = "prefix:";
  AppendJson(record, &out);
  EXPECT_EQ(out.substr(0, 7), "prefix:");  // appends, never overwrites
  return out.substr(7);
}

std::string AppendedString(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

RecordMeta SampleMeta() {
  RecordMeta m;
  m.id = "01890000-0000-7000-8000-000000000001";
  m.owner_id = "owner \"one\"";
  m.shared = true;
  m.created = FromUnixMicros(1'700'000'000'123'400);
  m.modified = FromUnixMicros(1'700'000'100'000'000);
  m.version = 42;
  return m;
}

TEST(AppendJsonStringTest, EscapesLikeDump) {
  EXPECT_EQ(AppendedString("plain"), "\"plain\"");
  EXPECT_EQ(AppendedString(""), "\"\"");
  EXPECT_EQ(AppendedString("q\"b\\"), "\"q\\\"b\\\\\"");
  EXPECT_EQ(AppendedString("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
  EXPECT_EQ(AppendedString(std::string("a\0b\x1f\x7f", 5)), "\"a\\u0000b\\u001f\x7f\"");
  // Valid multi-byte UTF-8 is copied as is.
  EXPECT_EQ(AppendedString("Zürich – 東京 😀"), "\"Zürich – 東京 😀\"");
}

TEST(AppendJsonStringTest, BrokenUtf8MatchesDumpReplacement) {
  for (std::string s : {std::string("\xff"), std::string("ab\xc3"), std::string("\xc0\x80"),
                        std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"),
                        std::string("ok\xe2\x82x")}) {
    std::string got = AppendedString(s);
    EXPECT_EQ(got, Dumped(Json(s))) << s;
    EXPECT_NE(got.find("\xef\xbf\xbd"), std::string::npos) << s;  // U+FFFD
  }
}

TEST(AppendJsonStringTest, AnyBytesMatchDump) {
  EXPECT_TRUE(rc::check("AppendJsonString == Json(s).dump()", [](const std::string& s) {
    RC_ASSERT(AppendedString(s) == Dumped(Json(s)));
  }));
  EXPECT_TRUE(rc::check("UTF-8 text from code points", [](const std::vector<uint32_t>& cps) {
    std::string s;
    for (uint32_t cp : cps) {
      cp %= 0x110000;
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        s += static_cast<char>(0xF0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    RC_ASSERT(AppendedString(s) == Dumped(Json(s)));
  }));
}

TEST(AppendJsonTest, ActivityMatchesToJson) {
  Activity a;
  a.meta = SampleMeta();
  a.kind = ActivityKind::kTask;
  a.subject = "Review \"Q3\"\nplan";
  a.location = "Café";
  a.description = "tab\there";
  a.start = FromUnixMicros(1'900'000'000'000'000);
  a.end = FromUnixMicros(1'900'001'800'000'500);
  a.all_day = true;
  a.time_zone = "Europe/Zurich";
  a.show_as = ShowAs::kFree;
  a.is_private = true;
  a.reminder_minutes = 15;
  a.regarding_type = RegardingType::kAccount;
  a.regarding_id = "acc-1";
  a.rrule = "FREQ=WEEKLY;COUNT=3";
  a.exdates = {FromUnixMicros(1'900'604'800'000'000), FromUnixMicros(1'901'209'600'000'000)};
  a.rdates = {FromUnixMicros(1'902'000'000'000'000)};
  a.ical_extra = "X-FOO:bar\r\n";
  a.cancelled = true;
  a.sequence = 4;
  EXPECT_EQ(Appended(a), Dumped(ToJson(a)));

  Activity defaults;
  EXPECT_EQ(Appended(defaults), Dumped(ToJson(defaults)));
  EXPECT_EQ(Json::parse(Appended(defaults))["reminder_minutes"], nullptr);
}

TEST(AppendJsonTest, AnyTimesMatchToJson) {
  // Years -300..12000 around the fast path's 0-9999, any microsecond.
  EXPECT_TRUE(rc::check("times", [] {
    Activity a;
    a.start = FromUnixMicros(*rc::gen::inRange<int64_t>(-71'000'000'000'000'000,
                                                        316'000'000'000'000'000));
    a.end = FromUnixMicros(*rc::gen::inRange<int64_t>(0, 4'000'000'000'000'000) / 1000 * 1000);
    a.exdates = {FromUnixSeconds(*rc::gen::inRange<int64_t>(-100'000'000, 100'000'000))};
    RC_ASSERT(Appended(a) == Dumped(ToJson(a)));
  }));
}

TEST(AppendJsonTest, AccountContactOpportunityMatchToJson) {
  Account acc;
  acc.meta = SampleMeta();
  acc.name = "Acme \\ Co";
  acc.website = "https://acme.example";
  acc.phone = "+41 44";
  acc.address = "Line 1\nLine 2";
  acc.notes = "n";
  EXPECT_EQ(Appended(acc), Dumped(ToJson(acc)));

  Contact c;
  c.meta = SampleMeta();
  c.account_id = "acc";
  c.first_name = "Zoë";
  c.last_name = "O'Neil";
  c.email = "z@example.org";
  c.phone = "1";
  c.job_title = "CTO";
  c.notes = "\x01";
  EXPECT_EQ(Appended(c), Dumped(ToJson(c)));

  Opportunity o;
  o.meta = SampleMeta();
  o.name = "Deal";
  o.account_id = "acc";
  o.contact_id = "con";
  o.stage = OpportunityStage::kWon;
  o.amount_cents = -12345678901234;
  o.currency = "CHF";
  o.close_date = "2026-12-31";
  o.notes = "";
  EXPECT_EQ(Appended(o), Dumped(ToJson(o)));
}

}  // namespace
}  // namespace tandem::model
