#include <gtest/gtest.h>

#include <chrono>

#include "ical/ical.h"

namespace tandem::ical {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

Instant At(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

std::string Wrap(const std::string& body) {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n" + body + "END:VCALENDAR\r\n";
}

TEST(ParseEventTest, TimedEventWithIanaZoneKeepsInstantAndZone) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20260101T000000Z\r\n"
                           "DTSTART;TZID=Europe/Berlin:20260715T090000\r\n"
                           "DTEND;TZID=Europe/Berlin:20260715T103000\r\n"
                           "SUMMARY:Kickoff\\, with \\\"quotes\\\"\r\n"
                           "LOCATION:Room 1\\; east\r\n"
                           "DESCRIPTION:line one\\nline two\r\n"
                           "END:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->uid, "u1");
  EXPECT_EQ(e->activity.start, At("2026-07-15T07:00:00Z"));  // CEST = UTC+2
  EXPECT_EQ(e->activity.end, At("2026-07-15T08:30:00Z"));
  EXPECT_EQ(e->activity.time_zone, "Europe/Berlin");
  EXPECT_FALSE(e->activity.all_day);
  EXPECT_EQ(e->activity.subject, "Kickoff, with \"quotes\"");
  EXPECT_EQ(e->activity.location, "Room 1; east");
  EXPECT_EQ(e->activity.description, "line one\nline two");
  EXPECT_EQ(e->dtstamp, At("2026-01-01T00:00:00Z"));
  EXPECT_EQ(e->last_modified, At("2026-01-01T00:00:00Z"));  // falls back to DTSTAMP
  EXPECT_TRUE(e->activity.ical_extra.empty()) << e->activity.ical_extra;
}

TEST(ParseEventTest, FoldedLinesAreUnfolded) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\nUID:u2\nDTSTART:20260101T100000Z\n"
                           "SUMMARY:A very long\n  title that was folded\n\tagain\n"
                           "END:VEVENT\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.subject, "A very long title that was foldedagain");
  EXPECT_EQ(e->activity.end, e->activity.start);  // no DTEND: zero length
}

TEST(ParseEventTest, ABackslashBeforeANonAsciiCharacterKeepsTheCharacterWhole) {
  // Not an RFC 5545 escape; libical alone split the character's two bytes and the
  // written text was no longer UTF-8 (a fuzzer finding, tests/fuzz_ical/regressions).
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:esc\r\nDTSTART:20260101T100000Z\r\n"
                           "DTEND:20260101T110000Z\r\nSUMMARY:Am\\\xC3\xA9rica\\, 4 - 4\r\n"
                           "DESCRIPTION:line\\nnext \\\\ kept\r\nEND:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.subject, "Am\xC3\xA9rica, 4 - 4");
  EXPECT_EQ(e->activity.description, "line\nnext \\ kept");
  auto written = WriteEvent(e->activity, {.uid = "esc"});
  ASSERT_TRUE(written.ok());
  auto back = ParseEvent(*written, {});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->activity.subject, e->activity.subject);
}

TEST(ParseEventTest, AllDayUsesMidnightUtcAndExclusiveEnd) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20261124\r\n"
                           "DTEND;VALUE=DATE:20261126\r\nSUMMARY:Fair\r\nEND:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_TRUE(e->activity.all_day);
  EXPECT_EQ(e->activity.start, At("2026-11-24T00:00:00Z"));
  EXPECT_EQ(e->activity.end, At("2026-11-26T00:00:00Z"));
  EXPECT_TRUE(model::Validate(e->activity).ok() ||
              model::Validate(e->activity).message().rfind("subject", 0) != 0);
}

TEST(ParseEventTest, AllDayWithoutEndLastsOneDay) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20261124\r\n"
                           "SUMMARY:Holiday\r\nEND:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.end - e->activity.start, days(1));
}

TEST(ParseEventTest, DurationInsteadOfDtend) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:d\r\nDTSTART:20261124T100000Z\r\n"
                           "DURATION:PT1H30M\r\nEND:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.end - e->activity.start, minutes(90));
  EXPECT_EQ(e->activity.time_zone, "");  // UTC
}

TEST(ParseEventTest, ShowAsFromBusyStatusWinsOverTransp) {
  struct Case {
    const char* props;
    model::ShowAs want;
  } cases[] = {
      {"TRANSP:TRANSPARENT\r\n", model::ShowAs::kFree},
      {"TRANSP:OPAQUE\r\n", model::ShowAs::kBusy},
      {"", model::ShowAs::kBusy},
      {"TRANSP:OPAQUE\r\nX-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n", model::ShowAs::kTentative},
      {"TRANSP:OPAQUE\r\nX-MICROSOFT-CDO-BUSYSTATUS:OOF\r\n", model::ShowAs::kOutOfOffice},
      {"X-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE\r\n", model::ShowAs::kWorkingElsewhere},
      {"TRANSP:OPAQUE\r\nX-MICROSOFT-CDO-BUSYSTATUS:FREE\r\n", model::ShowAs::kFree},
  };
  for (const Case& c : cases) {
    auto e = ParseEvent(Wrap(std::string("BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20260101T100000Z\r\n") +
                             c.props + "END:VEVENT\r\n"),
                        {});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(e->activity.show_as, c.want) << c.props;
  }
}

TEST(ParseEventTest, ClassPrivateAndConfidentialArePrivate) {
  for (auto [cls, want] :
       {std::pair{"PRIVATE", true}, std::pair{"CONFIDENTIAL", true}, std::pair{"PUBLIC", false}}) {
    auto e = ParseEvent(Wrap(std::string("BEGIN:VEVENT\r\nUID:c\r\nDTSTART:20260101T100000Z\r\n"
                                         "CLASS:") +
                             cls + "\r\nEND:VEVENT\r\n"),
                        {});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(e->activity.is_private, want) << cls;
  }
}

TEST(ParseEventTest, ReminderFromFirstDisplayAlarm) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:r\r\nDTSTART:20260101T100000Z\r\n"
                           "DTEND:20260101T110000Z\r\n"
                           "BEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n"
                           "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\n"
                           "TRIGGER:-PT15M\r\nEND:VALARM\r\n"
                           "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:y\r\n"
                           "TRIGGER:-PT1H\r\nEND:VALARM\r\n"
                           "END:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.reminder_minutes, 15);
  // The audio alarm and the second display alarm are preserved.
  EXPECT_NE(e->activity.ical_extra.find("ACTION:AUDIO"), std::string::npos);
  EXPECT_NE(e->activity.ical_extra.find("TRIGGER:-PT1H"), std::string::npos);
}

TEST(ParseEventTest, AbsoluteAndEndRelatedTriggersAreConverted) {
  auto abs = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:r\r\nDTSTART:20260101T100000Z\r\n"
                             "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\n"
                             "TRIGGER;VALUE=DATE-TIME:20260101T093000Z\r\nEND:VALARM\r\n"
                             "END:VEVENT\r\n"),
                        {});
  ASSERT_TRUE(abs.ok()) << abs.status().ToString();
  EXPECT_EQ(abs->activity.reminder_minutes, 30);
  auto rel_end = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:r\r\nDTSTART:20260101T100000Z\r\n"
                                 "DTEND:20260101T110000Z\r\n"
                                 "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\n"
                                 "TRIGGER;RELATED=END:-PT90M\r\nEND:VALARM\r\n"
                                 "END:VEVENT\r\n"),
                            {});
  ASSERT_TRUE(rel_end.ok()) << rel_end.status().ToString();
  EXPECT_EQ(rel_end->activity.reminder_minutes, 30);
}

TEST(ParseEventTest, UnmodeledPropertiesArePreserved) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:p\r\nDTSTART:20260101T100000Z\r\n"
                           "ORGANIZER;CN=Boss:mailto:boss@example.com\r\n"
                           "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.com\r\n"
                           "CATEGORIES:Work,Customer\r\nURL:https://example.com/x\r\n"
                           "ATTACH:https://example.com/a.pdf\r\nX-CUSTOM-THING:42\r\n"
                           "X-TANDEM-CRM-ID:0190abc\r\nSEQUENCE:3\r\n"
                           "END:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->crm_id, "0190abc");
  EXPECT_EQ(e->sequence, 3);
  const std::string& x = e->activity.ical_extra;
  for (const char* want :
       {"ORGANIZER;CN=Boss:mailto:boss@example.com", "ATTENDEE", "CATEGORIES:Work",
        "CATEGORIES:Customer", "URL:https://example.com/x", "ATTACH:", "X-CUSTOM-THING:42"}) {
    EXPECT_NE(x.find(want), std::string::npos) << want << "\n" << x;
  }
  EXPECT_EQ(x.find("X-TANDEM-CRM-ID"), std::string::npos);
  EXPECT_EQ(x.find("DTSTART"), std::string::npos);
}

TEST(ParseEventTest, ErrorsNameTheProblemAndLine) {
  struct Case {
    std::string ics;
    std::string want;
  } cases[] = {
      {"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:20260101T100000Z\nEND:VCALENDAR\n",
       "line 5: END:VCALENDAR does not close BEGIN:VEVENT of line 2"},
      {"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:20260101T100000Z\nEND:VEVENT\n",
       "line 1: BEGIN:VCALENDAR is never closed"},
      {Wrap("BEGIN:VEVENT\nUID:x\nSUMMARY:caf\xE9\nDTSTART:20260101T100000Z\nEND:VEVENT\n"),
       "line 6: invalid UTF-8 at column 12"},
      {Wrap("BEGIN:VEVENT\nUID:x\nDTSTART:2026-01-01 10:00\nEND:VEVENT\n"),
       "line 6: unreadable DTSTART value '2026-01-01 10:00'"},
      {Wrap("BEGIN:VEVENT\nUID:x\nSUMMARY:no start\nEND:VEVENT\n"), "has no DTSTART"},
      {Wrap("BEGIN:VEVENT\nUID:x\nDTSTART:20260101T100000Z\nSUMMARY:a\x01"
            "b\nEND:VEVENT\n"),
       "line 7: control character 0x01 at column 10"},
      {Wrap("BEGIN:VTODO\nUID:x\nEND:VTODO\n"), "no VEVENT"},
      {"", "no BEGIN:VCALENDAR"},
      {"BEGIN:VEVENT\nEND:VEVENT\n", "line 1: expected BEGIN:VCALENDAR"},
  };
  for (const Case& c : cases) {
    auto e = ParseEvent(c.ics, {});
    ASSERT_FALSE(e.ok()) << c.ics;
    EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
    EXPECT_NE(e.status().message().find(c.want), std::string::npos)
        << e.status().message() << " / wanted: " << c.want;
  }
}

TEST(ParseEventTest, LenientWhereRealExportsDiffer) {
  // Lone-CR line ends, a UTF-8 character split by folding, DTEND before DTSTART.
  auto e = ParseEvent(
      "BEGIN:VCALENDAR\rVERSION:2.0\rBEGIN:VEVENT\rUID:x\rDTSTART:20260101T100000Z\r"
      "DTEND:20250101T100000Z\rSUMMARY:caf\xC3\r \xA9\rEND:VEVENT\rEND:VCALENDAR\r",
      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.subject, "caf\xC3\xA9");
  EXPECT_EQ(e->activity.end, e->activity.start);
  ASSERT_EQ(e->warnings.size(), 1u);
  EXPECT_NE(e->warnings[0].find("line 6: VEVENT x ends before it starts"), std::string::npos)
      << e->warnings[0];
}

TEST(ParseEventTest, NonFatalParserFindingsBecomeWarnings) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\nUID:w\nDTSTART:20260101T100000Z\n"
                           "garbage line without colon\nEND:VEVENT\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->warnings.size(), 1u);
  EXPECT_NE(e->warnings[0].find("line 7"), std::string::npos) << e->warnings[0];
}

TEST(ParseEventTest, SeveralUidsAreRejectedByParseEventButSplitByParseCalendar) {
  std::string ics = Wrap(
      "BEGIN:VEVENT\nUID:a\nDTSTART:20260101T100000Z\nEND:VEVENT\n"
      "BEGIN:VEVENT\nUID:b\nDTSTART:20260102T100000Z\nEND:VEVENT\n");
  EXPECT_FALSE(ParseEvent(ics, {}).ok());
  auto all = ParseCalendar(ics, {});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].uid, "a");
  EXPECT_EQ((*all)[1].uid, "b");
}

TEST(ParseCalendarTest, OneBrokenEventDoesNotBlockTheOthers) {
  std::string ics = Wrap(
      "BEGIN:VEVENT\nUID:good1\nDTSTART:20260101T100000Z\nEND:VEVENT\n"
      "BEGIN:VEVENT\nUID:bad\nDTSTART:Next Year\nEND:VEVENT\n"
      "BEGIN:VEVENT\nUID:nostart\nSUMMARY:x\nEND:VEVENT\n"
      "BEGIN:VEVENT\nUID:good2\nDTSTART:20260102T100000Z\nEND:VEVENT\n");
  auto strict = ParseCalendar(ics, {});
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.status().message().find("line 10: unreadable DTSTART value 'Next Year'"),
            std::string::npos)
      << strict.status().message();
  std::vector<Status> errors;
  auto lenient = ParseCalendar(ics, {}, &errors);
  ASSERT_TRUE(lenient.ok()) << lenient.status().ToString();
  ASSERT_EQ(lenient->size(), 2u);
  EXPECT_EQ((*lenient)[0].uid, "good1");
  EXPECT_EQ((*lenient)[1].uid, "good2");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].message().find("Next Year"), std::string::npos);
  EXPECT_NE(errors[1].message().find("VEVENT nostart has no DTSTART"), std::string::npos);
}

TEST(ParseEventTest, MasterWithOverridesIsOneSeries) {
  auto e = ParseEvent(
      Wrap("BEGIN:VEVENT\nUID:s\nDTSTART;TZID=Europe/Berlin:20260105T090000\n"
           "DTEND;TZID=Europe/Berlin:20260105T100000\nRRULE:FREQ=WEEKLY;COUNT=10\n"
           "EXDATE;TZID=Europe/Berlin:20260112T090000\nSUMMARY:Weekly\nEND:VEVENT\n"
           "BEGIN:VEVENT\nUID:s\nRECURRENCE-ID;TZID=Europe/Berlin:20260119T090000\n"
           "DTSTART;TZID=Europe/Berlin:20260119T140000\n"
           "DTEND;TZID=Europe/Berlin:20260119T150000\nSUMMARY:Weekly (moved)\nEND:VEVENT\n"),
      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.rrule, "FREQ=WEEKLY;COUNT=10");
  ASSERT_EQ(e->activity.exdates.size(), 1u);
  EXPECT_EQ(e->activity.exdates[0], At("2026-01-12T08:00:00Z"));
  EXPECT_NE(e->activity.ical_extra.find("RECURRENCE-ID;TZID=Europe/Berlin:20260119T090000"),
            std::string::npos);
  EXPECT_NE(e->activity.ical_extra.find("Weekly (moved)"), std::string::npos);
}

TEST(ParseEventTest, MultiDayRuleAppendsEndDateOnce) {
  MapOptions opt;
  opt.multi_day = MultiDayRule::kStartWithEndInTitle;
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\nUID:m\nDTSTART;VALUE=DATE:20261124\n"
                           "DTEND;VALUE=DATE:20261127\nSUMMARY:Fair (until 2026-11-26)\n"
                           "END:VEVENT\n"),
                      opt);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.subject, "Fair (until 2026-11-26)");
  EXPECT_EQ(e->activity.end - e->activity.start, days(1));

  auto timed = ParseEvent(Wrap("BEGIN:VEVENT\nUID:m\nDTSTART;TZID=Europe/Berlin:20261124T090000\n"
                               "DTEND;TZID=Europe/Berlin:20261126T170000\nSUMMARY:Trip\n"
                               "END:VEVENT\n"),
                          opt);
  ASSERT_TRUE(timed.ok()) << timed.status().ToString();
  EXPECT_EQ(timed->activity.subject, "Trip (until 2026-11-26 17:00)");
  EXPECT_EQ(timed->activity.start, At("2026-11-24T08:00:00Z"));
  EXPECT_EQ(timed->activity.end, At("2026-11-24T23:00:00Z"));  // local midnight
}

TEST(IdentifyTest, NamesAnUnreadableItemByItsUidAndSummary) {
  ItemLabel l = Identify(
      "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nSUMMARY;LANGUAGE=en:Call back\\, then wr\r\n ite\r\n"
      "UID:todo-1\r\nEND:VTODO\r\n");
  EXPECT_EQ(l.uid, "todo-1");
  EXPECT_EQ(l.summary, "Call back, then write");
  EXPECT_EQ(Identify("not iCalendar at all").uid, "");
  EXPECT_EQ(Identify("").summary, "");
  // A parameter value may hold a colon inside quotes.
  EXPECT_EQ(Identify("SUMMARY;ALTREP=\"http://x/y\":Lunch\nUID:u").summary, "Lunch");
  EXPECT_EQ(Identify("SUMMARY:" + std::string(200, 'x')).summary.size(), 123u);
}

}  // namespace
}  // namespace tandem::ical
