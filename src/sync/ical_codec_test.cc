#include "sync/ical_codec.h"

#include <gtest/gtest.h>

namespace tandem::sync {
namespace {

Instant At(const char* t) { return ParseRfc3339(t).value(); }

std::string Event(const std::string& body) {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\n" + body +
         "END:VEVENT\r\nEND:VCALENDAR\r\n";
}

const TimeRange kWindow{At("2026-08-24T00:00:00Z"), At("2027-11-25T00:00:00Z")};

TEST(IcalCodec, DigestReadsTheFieldsThePlannerCompares) {
  IcalCodec codec;
  auto o = codec.Digest(
      Item{"a.ics", "e1",
           Event("UID:u1\r\nDTSTAMP:20261101T000000Z\r\nLAST-MODIFIED:20261102T080000Z\r\n"
                 "X-TANDEM-CRM-ID:act-7\r\nDTSTART:20261201T100000Z\r\n"
                 "DTEND:20261201T110000Z\r\nSUMMARY:  Board   Meeting\r\nCLASS:PRIVATE\r\n")},
      kWindow);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->uid, "u1");
  EXPECT_EQ(o->crm_id, "act-7");
  EXPECT_EQ(o->href, "a.ics");
  EXPECT_EQ(o->modified, At("2026-11-02T08:00:00Z"));
  EXPECT_TRUE(o->in_window);
  EXPECT_TRUE(o->is_private);
  EXPECT_EQ(o->title_key, "board meeting");
  EXPECT_EQ(o->start, At("2026-12-01T10:00:00Z"));
  EXPECT_FALSE(o->content_hash.empty());
}

TEST(IcalCodec, OnlySyncedFieldsChangeTheHash) {
  IcalCodec codec;
  auto a =
      codec.Digest(Item{"a", "",
                        Event("UID:u\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T100000Z\r\n"
                              "SUMMARY:Lunch\r\n")},
                   kWindow);
  // Different byte form (DTSTAMP, line endings, an unmodeled property): same hash.
  auto b = codec.Digest(
      Item{"a", "",
           Event("UID:u\nDTSTAMP:20261111T000000Z\nX-FOO:bar\nDTSTART:20261201T100000Z\n"
                 "SUMMARY:Lunch\n")},
      kWindow);
  auto c =
      codec.Digest(Item{"a", "",
                        Event("UID:u\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T100000Z\r\n"
                              "SUMMARY:Dinner\r\n")},
                   kWindow);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->content_hash, b->content_hash);
  EXPECT_NE(a->content_hash, c->content_hash);
}

TEST(IcalCodec, SeriesIsInWindowWhenAnyOccurrenceIs) {
  IcalCodec codec;
  // Starts two years before the window, weekly without end: occurs within it.
  auto series =
      codec.Digest(Item{"s", "",
                        Event("UID:s\r\nDTSTART:20241201T100000Z\r\nDTEND:20241201T110000Z\r\n"
                              "RRULE:FREQ=WEEKLY\r\nSUMMARY:Standup\r\n")},
                   kWindow);
  // Ended before the window.
  auto ended =
      codec.Digest(Item{"e", "",
                        Event("UID:e\r\nDTSTART:20241201T100000Z\r\nDTEND:20241201T110000Z\r\n"
                              "RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Old\r\n")},
                   kWindow);
  ASSERT_TRUE(series.ok() && ended.ok());
  EXPECT_TRUE(series->in_window);
  EXPECT_FALSE(ended->in_window);
}

TEST(IcalCodec, PrepareRewritesUidAndStampAndKeepsUnmodeledProperties) {
  IcalCodec codec;
  PrepareOptions p;
  p.target = Side::kExternal;
  p.uid = "ext-uid";
  p.crm_id = "act-1";
  auto out =
      codec.Prepare(Event("UID:crm-uid\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T100000Z\r\n"
                          "SUMMARY:Lunch\r\nATTENDEE:mailto:a@example.com\r\n"),
                    p);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_NE(out->find("UID:ext-uid"), std::string::npos) << *out;
  EXPECT_NE(out->find("X-TANDEM-CRM-ID:act-1"), std::string::npos) << *out;
  EXPECT_NE(out->find("ATTENDEE:mailto:a@example.com"), std::string::npos) << *out;
  EXPECT_EQ(out->find("crm-uid"), std::string::npos) << *out;
}

TEST(IcalCodec, RemindersNotSyncedInADirectionKeepTheTargets) {
  IcalCodec codec;
  const std::string with_alarm = Event(
      "UID:u\r\nDTSTART:20261201T100000Z\r\nSUMMARY:Lunch\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\n"
      "DESCRIPTION:x\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n");
  const std::string target_no_alarm =
      Event("UID:u\r\nDTSTART:20261201T100000Z\r\nSUMMARY:Lunch\r\n");
  PrepareOptions p;
  p.uid = "u";
  p.target = Side::kExternal;
  p.reminders = store::ReminderHandling::kCrmOnly;
  p.target_current = &target_no_alarm;
  auto to_ext = codec.Prepare(with_alarm, p);
  ASSERT_TRUE(to_ext.ok());
  auto d = codec.Digest(Item{"x", "", *to_ext}, kWindow);
  auto plain = codec.Digest(Item{"x", "", target_no_alarm}, kWindow);
  EXPECT_EQ(d->content_hash, plain->content_hash) << *to_ext;  // the CRM's reminder stayed home
  p.reminders = store::ReminderHandling::kSync;
  auto synced = codec.Prepare(with_alarm, p);
  auto ds = codec.Digest(Item{"x", "", *synced}, kWindow);
  EXPECT_NE(ds->content_hash, plain->content_hash);  // synced: the reminder went along
}

TEST(IcalCodec, ForTheCrmTheSourceTextGoesAsItIsUnlessSomethingIsRewritten) {
  IcalCodec codec;
  const std::string source = Event(
      "UID:ext-1\r\nDTSTART:20261201T100000Z\r\nSUMMARY:Lunch\r\nX-VENDOR:kept\r\n"
      "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n");
  PrepareOptions p;
  p.target = Side::kCrm;
  p.uid = "ext-1";
  p.source_uid = "ext-1";
  auto same = codec.Prepare(source, p);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, source);  // the CRM side maps it itself: no parse, no rewrite

  p.uid = "crm-mapped";  // another UID: written anew
  auto renamed = codec.Prepare(source, p);
  ASSERT_TRUE(renamed.ok());
  EXPECT_NE(renamed->find("UID:crm-mapped"), std::string::npos) << *renamed;

  p.uid = "ext-1";  // the CRM keeps its own reminder: written anew, without the alarm
  p.reminders = store::ReminderHandling::kExternalOnly;
  auto kept = codec.Prepare(source, p);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->find("VALARM"), std::string::npos) << *kept;

  p.reminders = store::ReminderHandling::kSync;
  p.target = Side::kExternal;  // the external side always gets a written text
  auto out = codec.Prepare(source, p);
  ASSERT_TRUE(out.ok());
  EXPECT_NE(*out, source);
}

TEST(IcalCodec, UnreadableItemIsAnError) {
  IcalCodec codec;
  EXPECT_FALSE(codec.Digest(Item{"bad", "", "not a calendar"}, kWindow).ok());
}

}  // namespace
}  // namespace tandem::sync
