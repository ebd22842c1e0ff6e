#include <gtest/gtest.h>

#include "ical/ical.h"

namespace tandem::ical {
namespace {

Instant At(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

const char* kGoogleStyle =
    "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n"
    "BEGIN:VEVENT\r\nDTSTART:20260115T080000Z\r\nDTEND:20260115T090000Z\r\n"
    "DTSTAMP:20260110T000000Z\r\nUID:same\r\nSUMMARY:Planning\r\n"
    "DESCRIPTION:first\\nsecond\r\nLOCATION:HQ\r\nTRANSP:OPAQUE\r\n"
    "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

// The same event as another server would serialize it: other zone form, property
// order, folding, DTSTAMP, CRLF in the text, RRULE part order, extra properties.
const char* kReserialized =
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Other//EN\n"
    "BEGIN:VEVENT\nUID:same\nDTSTAMP:20260111T123456Z\nSUMMARY:Planning\n"
    "DTSTART;TZID=Europe/Berlin:20260115T090000\nDURATION:PT1H\n"
    "RRULE:COUNT=3;BYDAY=TH;FREQ=WEEKLY\nLOCATION:H\n Q\nDESCRIPTION:first\\n\n second \n"
    "X-MICROSOFT-CDO-BUSYSTATUS:BUSY\nATTENDEE:mailto:a@example.com\nEND:VEVENT\n"
    "END:VCALENDAR\n";

TEST(ContentHashTest, ReserializationKeepsTheHash) {
  auto a = ParseEvent(kGoogleStyle, {});
  auto b = ParseEvent(kReserialized, {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  // Zones differ (UTC vs Berlin) for a series: that is a visible difference.
  EXPECT_EQ(ChangedFields(a->activity, b->activity), std::vector<std::string>{"time_zone"});
  b->activity.time_zone = "";
  EXPECT_TRUE(ChangedFields(a->activity, b->activity).empty());
  EXPECT_EQ(ContentHash(a->activity), ContentHash(b->activity));
  EXPECT_EQ(ContentHash(a->activity).size(), 64u);
}

TEST(ContentHashTest, EachSyncedFieldChangesTheHash) {
  auto parsed = ParseEvent(kGoogleStyle, {});
  ASSERT_TRUE(parsed.ok());
  const model::Activity base = parsed->activity;
  const std::string h = ContentHash(base);
  std::vector<std::pair<std::string, model::Activity>> edits;
  auto edit = [&](const std::string& field, auto change) {
    model::Activity a = base;
    change(a);
    edits.emplace_back(field, a);
  };
  edit("start", [](model::Activity& a) { a.start += std::chrono::minutes(5); });
  edit("end", [](model::Activity& a) { a.end += std::chrono::minutes(5); });
  edit("subject", [](model::Activity& a) { a.subject = "Other"; });
  edit("location", [](model::Activity& a) { a.location = "Branch"; });
  edit("description", [](model::Activity& a) { a.description = "first"; });
  edit("show_as", [](model::Activity& a) { a.show_as = model::ShowAs::kFree; });
  edit("is_private", [](model::Activity& a) { a.is_private = true; });
  edit("reminder_minutes", [](model::Activity& a) { a.reminder_minutes = 0; });
  edit("rrule", [](model::Activity& a) { a.rrule = "FREQ=WEEKLY;BYDAY=TH;COUNT=4"; });
  edit("exdates", [](model::Activity& a) { a.exdates = {At("2026-01-22T08:00:00Z")}; });
  edit("rdates", [](model::Activity& a) { a.rdates = {At("2026-01-23T08:00:00Z")}; });
  edit("overrides", [](model::Activity& a) {
    a.ical_extra =
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:same\r\n"
        "RECURRENCE-ID:20260122T080000Z\r\nDTSTART:20260122T100000Z\r\n"
        "DTEND:20260122T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  });
  for (const auto& [field, a] : edits) {
    EXPECT_NE(ContentHash(a), h) << field;
    EXPECT_EQ(ChangedFields(base, a), std::vector<std::string>{field});
  }
}

TEST(DescribeChangesTest, NamesEachChangedFieldWithReadableValues) {
  auto parsed = ParseEvent(kGoogleStyle, {});
  ASSERT_TRUE(parsed.ok());
  model::Activity before = parsed->activity, after = parsed->activity;
  after.subject = "Planning (moved)";
  after.start = At("2026-01-15T10:00:00Z");
  after.reminder_minutes = 15;
  after.description = std::string(300, 'x');
  std::vector<FieldChange> c = DescribeChanges(before, after);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].field, "start");
  EXPECT_EQ(c[0].before, "2026-01-15T08:00:00Z");
  EXPECT_EQ(c[0].after, "2026-01-15T10:00:00Z");
  EXPECT_EQ(c[1].field, "subject");
  EXPECT_EQ(c[1].before, "Planning");
  EXPECT_EQ(c[1].after, "Planning (moved)");
  EXPECT_EQ(c[2].field, "description");
  EXPECT_EQ(c[2].after.size(), 203u);
  EXPECT_EQ(c[3].field, "reminder_minutes");
  EXPECT_EQ(c[3].before, "none");
  EXPECT_EQ(c[3].after, "15 min");
  EXPECT_TRUE(DescribeChanges(before, before).empty());
}

TEST(ContentHashTest, UnmodeledDataDoesNotChangeTheHash) {
  auto parsed = ParseEvent(kGoogleStyle, {});
  ASSERT_TRUE(parsed.ok());
  model::Activity a = parsed->activity;
  model::Activity b = a;
  b.ical_extra =
      "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nATTENDEE:mailto:x@example.com\r\n"
      "END:VEVENT\r\nEND:VCALENDAR\r\n";
  b.meta.version = 7;
  EXPECT_EQ(ContentHash(a), ContentHash(b));
  b.exdates = {At("2026-01-22T08:00:00Z"), At("2026-01-22T08:00:00Z")};
  a.exdates = {At("2026-01-22T08:00:00Z")};
  EXPECT_EQ(ContentHash(a), ContentHash(b));  // order and duplicates do not count
}

}  // namespace
}  // namespace tandem::ical
