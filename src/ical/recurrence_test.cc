#include <gtest/gtest.h>

#include <chrono>

#include "ical/ical.h"
#include "ical/internal.h"

namespace tandem::ical {
namespace {

using std::chrono::days;
using std::chrono::hours;

Instant At(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

std::vector<std::string> Starts(const std::vector<Occurrence>& occ) {
  std::vector<std::string> out;
  for (const Occurrence& o : occ) out.push_back(FormatRfc3339(o.start));
  return out;
}

model::Activity Weekly() {
  model::Activity a;
  a.subject = "Weekly";
  a.start = At("2026-03-16T08:00:00Z");  // Monday 09:00 Berlin (CET)
  a.end = a.start + hours(1);
  a.time_zone = "Europe/Berlin";
  a.rrule = "FREQ=WEEKLY;COUNT=4";
  return a;
}

TEST(ExpandTest, SingleEvent) {
  model::Activity a = Weekly();
  a.rrule.clear();
  auto occ = Expand(a, At("2026-01-01T00:00:00Z"), At("2027-01-01T00:00:00Z"), 10);
  ASSERT_TRUE(occ.ok());
  ASSERT_EQ(occ->size(), 1u);
  EXPECT_TRUE(Expand(a, At("2026-03-16T09:00:00Z"), At("2027-01-01T00:00:00Z"), 10)->empty());
}

TEST(ExpandTest, WallClockTimeKeptAcrossDst) {
  auto occ = Expand(Weekly(), At("2026-01-01T00:00:00Z"), At("2027-01-01T00:00:00Z"), 10);
  ASSERT_TRUE(occ.ok()) << occ.status().ToString();
  EXPECT_EQ(Starts(*occ),
            (std::vector<std::string>{"2026-03-16T08:00:00Z", "2026-03-23T08:00:00Z",
                                      "2026-03-30T07:00:00Z", "2026-04-06T07:00:00Z"}));
}

TEST(ExpandTest, ExdateRdateAndOverrides) {
  model::Activity a = Weekly();
  a.exdates = {At("2026-03-23T08:00:00Z")};
  a.rdates = {At("2026-04-08T07:00:00Z")};
  a.ical_extra =
      "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:x\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260330T090000\r\n"
      "DTSTART;TZID=Europe/Berlin:20260331T150000\r\n"
      "DTEND;TZID=Europe/Berlin:20260331T153000\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:x\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260406T090000\r\n"
      "STATUS:CANCELLED\r\nDTSTART;TZID=Europe/Berlin:20260406T090000\r\nEND:VEVENT\r\n"
      "END:VCALENDAR\r\n";
  auto occ = Expand(a, At("2026-01-01T00:00:00Z"), At("2027-01-01T00:00:00Z"), 10);
  ASSERT_TRUE(occ.ok()) << occ.status().ToString();
  EXPECT_EQ(Starts(*occ), (std::vector<std::string>{"2026-03-16T08:00:00Z", "2026-03-31T13:00:00Z",
                                                    "2026-04-08T07:00:00Z"}));
  EXPECT_TRUE((*occ)[1].overridden);
  EXPECT_EQ((*occ)[1].recurrence_id, At("2026-03-30T07:00:00Z"));
  EXPECT_EQ((*occ)[1].end - (*occ)[1].start, std::chrono::minutes(30));
}

TEST(ExpandTest, ThisAndFutureShiftsLaterInstances) {
  model::Activity a = Weekly();
  a.ical_extra =
      "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:x\r\nRECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:"
      "20260330T090000\r\nDTSTART;TZID=Europe/Berlin:20260330T110000\r\n"
      "DTEND;TZID=Europe/Berlin:20260330T120000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  auto occ = Expand(a, At("2026-01-01T00:00:00Z"), At("2027-01-01T00:00:00Z"), 10);
  ASSERT_TRUE(occ.ok()) << occ.status().ToString();
  EXPECT_EQ(Starts(*occ),
            (std::vector<std::string>{"2026-03-16T08:00:00Z", "2026-03-23T08:00:00Z",
                                      "2026-03-30T09:00:00Z", "2026-04-06T09:00:00Z"}));
}

TEST(ExpandTest, AllDaySeriesAndWindowAndMax) {
  model::Activity a;
  a.all_day = true;
  a.start = At("2026-12-24T00:00:00Z");
  a.end = a.start + days(1);
  a.rrule = "FREQ=YEARLY";
  auto occ = Expand(a, At("2030-01-01T00:00:00Z"), At("2040-01-01T00:00:00Z"), 3);
  ASSERT_TRUE(occ.ok()) << occ.status().ToString();
  EXPECT_EQ(Starts(*occ), (std::vector<std::string>{"2030-12-24T00:00:00Z", "2031-12-24T00:00:00Z",
                                                    "2032-12-24T00:00:00Z"}));
}

TEST(ExpandTest, Rfc5545WkstExample) {
  // RFC 5545 3.8.5.3: the week start changes which days INTERVAL=2 selects.
  model::Activity a;
  a.start = At("1997-08-05T13:00:00Z");  // 09:00 New York (EDT)
  a.end = a.start + hours(1);
  a.time_zone = "America/New_York";
  a.rrule = "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO";
  auto mo = Expand(a, At("1997-01-01T00:00:00Z"), At("1998-01-01T00:00:00Z"), 10);
  ASSERT_TRUE(mo.ok());
  EXPECT_EQ(Starts(*mo),
            (std::vector<std::string>{"1997-08-05T13:00:00Z", "1997-08-10T13:00:00Z",
                                      "1997-08-19T13:00:00Z", "1997-08-24T13:00:00Z"}));
  a.rrule = "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU";
  auto su = Expand(a, At("1997-01-01T00:00:00Z"), At("1998-01-01T00:00:00Z"), 10);
  ASSERT_TRUE(su.ok());
  EXPECT_EQ(Starts(*su),
            (std::vector<std::string>{"1997-08-05T13:00:00Z", "1997-08-17T13:00:00Z",
                                      "1997-08-19T13:00:00Z", "1997-08-31T13:00:00Z"}));
}

TEST(ExpandTest, DailyWithTwentyExceptionsAcrossDst) {
  // Daily 09:00 Berlin for 15 months; 20 instances moved to 10:00.
  model::Activity a;
  a.start = At("2026-01-05T08:00:00Z");
  a.end = a.start + std::chrono::minutes(15);
  a.time_zone = "Europe/Berlin";
  a.rrule = "FREQ=DAILY";
  std::string extra = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n";
  for (int k = 0; k < 20; ++k) {
    char rid[32], start[32];
    snprintf(rid, sizeof(rid), "2026%02d%02dT090000", 1 + k % 12, 10 + k);
    snprintf(start, sizeof(start), "2026%02d%02dT100000", 1 + k % 12, 10 + k);
    extra += std::string("BEGIN:VEVENT\r\nUID:d\r\nRECURRENCE-ID;TZID=Europe/Berlin:") + rid +
             "\r\nDTSTART;TZID=Europe/Berlin:" + start + "\r\nEND:VEVENT\r\n";
  }
  a.ical_extra = extra + "END:VCALENDAR\r\n";
  Instant from = At("2026-01-01T00:00:00Z"), to = At("2027-04-01T00:00:00Z");
  auto fast = Expand(a, from, to, 1000);
  auto slow = detail::ExpandWithLibicalOnly(a, from, to, 1000);
  ASSERT_TRUE(fast.ok());
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ(fast->size(), 451u);  // 2026-01-05 .. 2027-03-31
  EXPECT_EQ(Starts(*fast), Starts(*slow));
  int moved = 0;
  for (const Occurrence& o : *fast) moved += o.overridden ? 1 : 0;
  EXPECT_EQ(moved, 20);
  // 09:00 local in winter and in summer.
  EXPECT_EQ(FormatRfc3339((*fast)[0].start), "2026-01-05T08:00:00Z");
  EXPECT_EQ(FormatRfc3339((*fast)[200].start), "2026-07-24T07:00:00Z");
}

TEST(ExpandTest, OverrideMovedFarAwayIsFoundAtItsNewTime) {
  // Found by the fuzzer: an instance moved 2,000 years made the scanned span (and
  // the work) that large. Far moves are now looked at one by one.
  model::Activity a = Weekly();
  a.ical_extra =
      "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:x\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\r\n"
      "DTSTART;TZID=Europe/Berlin:40380618T030000\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:x\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260330T090000\r\n"
      "DTSTART;TZID=Europe/Berlin:20290102T090000\r\n"
      "DTEND;TZID=Europe/Berlin:20290102T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  auto now = Expand(a, At("2026-01-01T00:00:00Z"), At("2027-01-01T00:00:00Z"), 10);
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  EXPECT_EQ(Starts(*now),
            (std::vector<std::string>{"2026-03-16T08:00:00Z", "2026-04-06T07:00:00Z"}));
  auto later = Expand(a, At("2029-01-01T00:00:00Z"), At("2029-02-01T00:00:00Z"), 10);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ(FormatRfc3339((*later)[0].start), "2029-01-02T08:00:00Z");
  EXPECT_EQ((*later)[0].recurrence_id, At("2026-03-30T07:00:00Z"));
}

TEST(OccursWithinTest, SeriesAndSingle) {
  model::Activity a = Weekly();
  EXPECT_TRUE(OccursWithin(a, At("2026-04-06T07:30:00Z"), At("2026-04-06T07:31:00Z")));
  EXPECT_FALSE(OccursWithin(a, At("2026-04-06T08:00:00Z"), At("2026-04-13T00:00:00Z")));
  EXPECT_FALSE(OccursWithin(a, At("2026-04-07T00:00:00Z"), At("2027-01-01T00:00:00Z")));
  a.rrule = "FREQ=DAILY";  // endless
  EXPECT_TRUE(OccursWithin(a, At("2031-06-01T12:00:00Z"), At("2031-06-02T12:00:00Z")));
}

TEST(ReadOverridesTest, FindsOverridesWhateverTheCaseAndSkipsTextWithout) {
  const std::string upper =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:s\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID:20260323T080000Z\r\n"
      "DTSTART:20260323T100000Z\r\nSUMMARY:Moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  std::string lower = upper;
  lower.replace(lower.find("RECURRENCE-ID"), 13, "Recurrence-Id");
  for (const std::string& text : {upper, lower}) {
    auto list = detail::ReadOverrides(text, "UTC", hours(1));
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    ASSERT_EQ(list->size(), 1u) << text;
    EXPECT_EQ((*list)[0].start, At("2026-03-23T10:00:00Z"));
    EXPECT_EQ((*list)[0].texts->subject, "Moved");
  }
  // No RECURRENCE-ID anywhere: nothing to read (and the text is not even parsed).
  auto none = detail::ReadOverrides("X-NOT-A-CALENDAR:RECURRENCE", "UTC", hours(1));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(OverridesTest, ASeriesGivesItsMovedAndCancelledOccurrencesInOrder) {
  const std::string ics =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
      "BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260301T000000Z\r\nDTSTART:20260302T090000Z\r\n"
      "DTEND:20260302T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260301T000000Z\r\nRECURRENCE-ID:20260316T090000Z\r\n"
      "STATUS:CANCELLED\r\nDTSTART:20260316T090000Z\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260301T000000Z\r\nRECURRENCE-ID:20260309T090000Z\r\n"
      "DTSTART:20260309T140000Z\r\nDTEND:20260309T153000Z\r\nSUMMARY:Moved\r\n"
      "LOCATION:Room 2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  auto ev = ParseEvent(ics, MapOptions{});
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  auto list = Overrides(ev->activity);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].recurrence_id, At("2026-03-09T09:00:00Z"));
  EXPECT_FALSE((*list)[0].cancelled);
  EXPECT_EQ((*list)[0].start, At("2026-03-09T14:00:00Z"));
  EXPECT_EQ((*list)[0].end, At("2026-03-09T15:30:00Z"));
  EXPECT_EQ((*list)[0].texts.subject, "Moved");
  EXPECT_EQ((*list)[0].texts.location, "Room 2");
  EXPECT_EQ((*list)[1].recurrence_id, At("2026-03-16T09:00:00Z"));
  EXPECT_TRUE((*list)[1].cancelled);
  // A single event has none.
  model::Activity single;
  single.start = At("2026-03-02T09:00:00Z");
  single.end = single.start + hours(1);
  auto none = Overrides(single);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(ExpandTest, BadRuleIsAnError) {
  model::Activity a = Weekly();
  a.rrule = "FREQ=NEVER";
  EXPECT_EQ(Expand(a, At("2026-01-01T00:00:00Z"), At("2027-01-01T00:00:00Z"), 10).status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace tandem::ical

namespace tandem::ical {
namespace {

// An Outlook-style series written out by hand: Windows zone with its own
// VTIMEZONE, weekly rule across the spring DST change, one cancelled and one moved
// instance, an attendee. Parse -> expand -> write -> parse -> expand must agree.
TEST(SeriesEndToEndTest, OutlookSeriesWithExceptionsSurvivesTheRoundTrip) {
  const char* ics =
      "BEGIN:VCALENDAR\r\nPRODID:Microsoft Exchange Server 2010\r\nVERSION:2.0\r\n"
      "METHOD:PUBLISH\r\n"
      "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n"
      "BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
      "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n"
      "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
      "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
      "BEGIN:VEVENT\r\nUID:040000008200E00074C5B7101A82E008\r\n"
      "SUMMARY;LANGUAGE=de-DE:Jour fixe\r\n"
      "DTSTART;TZID=W. Europe Standard Time:20260316T100000\r\n"
      "DTEND;TZID=W. Europe Standard Time:20260316T110000\r\n"
      "RRULE:FREQ=WEEKLY;COUNT=5;BYDAY=MO\r\n"
      "EXDATE;TZID=W. Europe Standard Time:20260323T100000\r\n"
      "ATTENDEE;ROLE=REQ-PARTICIPANT;CN=Anna:mailto:anna@example.com\r\n"
      "X-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nCLASS:PUBLIC\r\n"
      "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:REMINDER\r\nTRIGGER;RELATED=START:-PT15M\r\n"
      "END:VALARM\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:040000008200E00074C5B7101A82E008\r\n"
      "RECURRENCE-ID;TZID=W. Europe Standard Time:20260330T100000\r\n"
      "SUMMARY:Jour fixe (verschoben)\r\n"
      "DTSTART;TZID=W. Europe Standard Time:20260331T143000\r\n"
      "DTEND;TZID=W. Europe Standard Time:20260331T153000\r\nEND:VEVENT\r\n"
      "END:VCALENDAR\r\n";
  auto parsed = ParseEvent(ics, {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const model::Activity& a = parsed->activity;
  EXPECT_EQ(a.time_zone, "Europe/Berlin");
  EXPECT_EQ(a.reminder_minutes, 15);
  EXPECT_EQ(a.rrule, "FREQ=WEEKLY;COUNT=5;BYDAY=MO");
  Instant from = At("2026-01-01T00:00:00Z"), to = At("2027-01-01T00:00:00Z");
  auto occ = Expand(a, from, to, 10);
  ASSERT_TRUE(occ.ok()) << occ.status().ToString();
  // 10:00 Berlin: 09:00Z before 29 March, 08:00Z after; 23 March excluded; the
  // 30 March instance moved to Tuesday 14:30.
  EXPECT_EQ(Starts(*occ),
            (std::vector<std::string>{"2026-03-16T09:00:00Z", "2026-03-31T12:30:00Z",
                                      "2026-04-06T08:00:00Z", "2026-04-13T08:00:00Z"}));

  WriteOptions w;
  w.uid = parsed->uid;
  auto written = WriteEvent(a, w);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->find("METHOD"), std::string::npos);
  EXPECT_NE(written->find("DTSTART;TZID=Europe/Berlin:20260316T100000"), std::string::npos)
      << *written;
  EXPECT_NE(written->find("ATTENDEE;ROLE=REQ-PARTICIPANT;CN=Anna:mailto:anna@example.com"),
            std::string::npos);
  EXPECT_NE(written->find("SUMMARY;LANGUAGE=de-DE:Jour fixe"), std::string::npos) << *written;
  auto again = ParseEvent(*written, {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto occ2 = Expand(again->activity, from, to, 10);
  ASSERT_TRUE(occ2.ok());
  EXPECT_EQ(Starts(*occ2), Starts(*occ));
  EXPECT_EQ(ContentHash(again->activity), ContentHash(a));
  EXPECT_TRUE(OccursWithin(a, At("2026-03-31T12:00:00Z"), At("2026-03-31T13:00:00Z")));
  EXPECT_FALSE(OccursWithin(a, At("2026-03-30T08:00:00Z"), At("2026-03-30T09:00:00Z")));
}

}  // namespace
}  // namespace tandem::ical
