#include <gtest/gtest.h>

#include <chrono>

#include "ical/ical.h"

namespace tandem::ical {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

Instant At(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

WriteOptions Opts() {
  WriteOptions o;
  o.uid = "uid-1";
  o.crm_id = "crm-1";
  o.sequence = 2;
  o.dtstamp = At("2026-11-24T10:00:00Z");
  return o;
}

model::Activity Meeting() {
  model::Activity a;
  a.subject = "Review; budget, Q4";
  a.location = "Room \"7\"";
  a.description = "Agenda:\n1. numbers\n2. plan";
  a.start = At("2026-03-27T09:00:00Z");
  a.end = At("2026-03-27T10:00:00Z");
  a.time_zone = "Europe/Berlin";
  a.show_as = model::ShowAs::kTentative;
  a.is_private = true;
  a.reminder_minutes = 15;
  return a;
}

void ExpectSameModeledFields(const model::Activity& want, const model::Activity& got) {
  EXPECT_EQ(got.subject, want.subject);
  EXPECT_EQ(got.location, want.location);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.start, want.start);
  EXPECT_EQ(got.end, want.end);
  EXPECT_EQ(got.all_day, want.all_day);
  EXPECT_EQ(got.time_zone, want.time_zone);
  EXPECT_EQ(got.show_as, want.show_as);
  EXPECT_EQ(got.is_private, want.is_private);
  EXPECT_EQ(got.reminder_minutes, want.reminder_minutes);
  EXPECT_EQ(got.rrule, want.rrule);
  EXPECT_EQ(got.exdates, want.exdates);
  EXPECT_EQ(got.rdates, want.rdates);
}

TEST(WriteEventTest, RoundTripKeepsEveryModeledField) {
  model::Activity a = Meeting();
  auto ics = WriteEvent(a, Opts());
  ASSERT_TRUE(ics.ok()) << ics.status().ToString();
  EXPECT_NE(ics->find("DTSTART;TZID=Europe/Berlin:20260327T100000"), std::string::npos) << *ics;
  EXPECT_NE(ics->find("BEGIN:VTIMEZONE"), std::string::npos);
  EXPECT_NE(ics->find("X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE"), std::string::npos);
  EXPECT_NE(ics->find("CLASS:PRIVATE"), std::string::npos);
  EXPECT_NE(ics->find("TRIGGER:-PT15M"), std::string::npos);
  EXPECT_NE(ics->find("SUMMARY:Review\\; budget\\, Q4"), std::string::npos) << *ics;
  auto back = ParseEvent(*ics, {});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameModeledFields(a, back->activity);
  EXPECT_EQ(back->uid, "uid-1");
  EXPECT_EQ(back->crm_id, "crm-1");
  EXPECT_EQ(back->sequence, 2);
  EXPECT_EQ(back->dtstamp, At("2026-11-24T10:00:00Z"));
  EXPECT_TRUE(back->activity.ical_extra.empty())
      << back->activity.ical_extra << back->activity.ical_extra;
}

TEST(WriteEventTest, DstChangeNeverMovesTheMeeting) {
  // 09:00 Berlin in winter (UTC+1) and in summer (UTC+2), each side of the
  // 2026-03-29 change: the wall-clock time written is 09:00 both times.
  for (const char* start : {"2026-03-27T08:00:00Z", "2026-03-30T07:00:00Z"}) {
    model::Activity a = Meeting();
    a.start = At(start);
    a.end = a.start + hours(1);
    auto ics = WriteEvent(a, Opts());
    ASSERT_TRUE(ics.ok());
    EXPECT_NE(ics->find("T090000\r\n"), std::string::npos) << *ics;
    auto back = ParseEvent(*ics, {});
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->activity.start, a.start);
  }
}

TEST(WriteEventTest, AllDayIsWrittenAsDates) {
  model::Activity a;
  a.subject = "Offsite";
  a.all_day = true;
  a.start = At("2026-11-24T00:00:00Z");
  a.end = At("2026-11-26T00:00:00Z");
  auto ics = WriteEvent(a, Opts());
  ASSERT_TRUE(ics.ok());
  EXPECT_NE(ics->find("DTSTART;VALUE=DATE:20261124\r\n"), std::string::npos) << *ics;
  EXPECT_NE(ics->find("DTEND;VALUE=DATE:20261126\r\n"), std::string::npos) << *ics;
  auto back = ParseEvent(*ics, {});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameModeledFields(a, back->activity);
}

TEST(WriteEventTest, ShowAsAndPrivacyWrittenBothWays) {
  for (model::ShowAs s : {model::ShowAs::kFree, model::ShowAs::kTentative, model::ShowAs::kBusy,
                          model::ShowAs::kOutOfOffice, model::ShowAs::kWorkingElsewhere}) {
    model::Activity a = Meeting();
    a.show_as = s;
    a.is_private = s == model::ShowAs::kFree;
    auto ics = WriteEvent(a, Opts());
    ASSERT_TRUE(ics.ok());
    EXPECT_NE(ics->find(s == model::ShowAs::kFree ? "TRANSP:TRANSPARENT" : "TRANSP:OPAQUE"),
              std::string::npos);
    auto back = ParseEvent(*ics, {});
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->activity.show_as, s);
    EXPECT_EQ(back->activity.is_private, a.is_private);
  }
}

TEST(WriteEventTest, UnmodeledDataSurvivesACrmSideEdit) {
  const char* original =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//EN\r\nX-WR-CALNAME:Work\r\n"
      "BEGIN:VEVENT\r\nUID:keep\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\n"
      "SUMMARY:Weekly\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\nCLASS:CONFIDENTIAL\r\n"
      "ORGANIZER:mailto:boss@example.com\r\nATTENDEE;CN=\"Doe, Jane\":mailto:jane@example.com\r\n"
      "X-SOMETHING;X-PARAM=1:value\r\n"
      "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Wake up\r\nX-WR-ALARMUID:A1\r\n"
      "TRIGGER:-PT10M\r\nEND:VALARM\r\n"
      "END:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:keep\r\nRECURRENCE-ID:20260112T090000Z\r\n"
      "DTSTART:20260112T130000Z\r\nDTEND:20260112T140000Z\r\nSUMMARY:Weekly (moved)\r\n"
      "END:VEVENT\r\nEND:VCALENDAR\r\n";
  auto e = ParseEvent(original, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.reminder_minutes, 10);
  EXPECT_TRUE(e->activity.is_private);
  model::Activity edited = e->activity;
  edited.subject = "Weekly sync";
  edited.reminder_minutes = 20;
  WriteOptions o = Opts();
  o.uid = e->uid;
  auto ics = WriteEvent(edited, o);
  ASSERT_TRUE(ics.ok()) << ics.status().ToString();
  for (const char* want :
       {"X-WR-CALNAME:Work", "ORGANIZER:mailto:boss@example.com", "CLASS:CONFIDENTIAL",
        "ATTENDEE;CN=\"Doe, Jane\":mailto:jane@example.com", "X-SOMETHING;X-PARAM=1:value",
        "X-WR-ALARMUID:A1", "DESCRIPTION:Wake up", "TRIGGER:-PT20M",
        "RECURRENCE-ID:20260112T090000Z", "SUMMARY:Weekly (moved)", "SUMMARY:Weekly sync"}) {
    EXPECT_NE(ics->find(want), std::string::npos) << want << "\n" << *ics;
  }
  EXPECT_EQ(ics->find("CLASS:PRIVATE"), std::string::npos);
  auto back = ParseEvent(*ics, {});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameModeledFields(edited, back->activity);
  EXPECT_EQ(back->activity.ical_extra, e->activity.ical_extra);
}

TEST(WriteEventTest, MultiDaySuffixIsUndoneAndNeverPilesUp) {
  MapOptions in;
  in.multi_day = MultiDayRule::kStartWithEndInTitle;
  WriteOptions out = Opts();
  out.multi_day = MultiDayRule::kStartWithEndInTitle;
  std::string ics =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:m\r\n"
      "DTSTART;TZID=Europe/Berlin:20261124T090000\r\n"
      "DTEND;TZID=Europe/Berlin:20261126T170000\r\nSUMMARY:Trip\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  Instant want_start = At("2026-11-24T08:00:00Z");
  Instant want_end = At("2026-11-26T16:00:00Z");
  for (int round = 0; round < 3; ++round) {
    auto e = ParseEvent(ics, in);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(e->activity.subject, "Trip (until 2026-11-26 17:00)") << "round " << round;
    auto written = WriteEvent(e->activity, out);
    ASSERT_TRUE(written.ok());
    EXPECT_NE(written->find("SUMMARY:Trip\r\n"), std::string::npos) << *written;
    auto plain = ParseEvent(*written, {});
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain->activity.start, want_start);
    EXPECT_EQ(plain->activity.end, want_end);
    ics = *written;
  }
}

TEST(WriteEventTest, MultiDayAllDaySuffix) {
  model::Activity a;
  a.subject = "Fair (until 2026-11-27) (until 2026-11-27)";
  a.all_day = true;
  a.start = At("2026-11-24T00:00:00Z");
  a.end = At("2026-11-25T00:00:00Z");
  WriteOptions o = Opts();
  o.multi_day = MultiDayRule::kStartWithEndInTitle;
  auto ics = WriteEvent(a, o);
  ASSERT_TRUE(ics.ok());
  EXPECT_NE(ics->find("SUMMARY:Fair\r\n"), std::string::npos) << *ics;
  EXPECT_NE(ics->find("DTEND;VALUE=DATE:20261128"), std::string::npos) << *ics;
}

TEST(WriteEventTest, RecurrenceWithExdatesInTheEventZone) {
  model::Activity a = Meeting();
  a.start = At("2026-03-23T08:00:00Z");  // Monday 09:00 CET
  a.end = a.start + hours(1);
  a.rrule = "FREQ=WEEKLY;UNTIL=20260430T000000Z";
  a.exdates = {At("2026-04-06T07:00:00Z")};  // 09:00 CEST
  a.rdates = {At("2026-05-04T07:00:00Z")};
  auto ics = WriteEvent(a, Opts());
  ASSERT_TRUE(ics.ok());
  EXPECT_NE(ics->find("EXDATE;TZID=Europe/Berlin:20260406T090000"), std::string::npos) << *ics;
  EXPECT_NE(ics->find("RDATE;TZID=Europe/Berlin:20260504T090000"), std::string::npos) << *ics;
  auto back = ParseEvent(*ics, {});
  ASSERT_TRUE(back.ok());
  ExpectSameModeledFields(a, back->activity);
}

TEST(WriteEventTest, RejectsWhatCannotBeWritten) {
  model::Activity a = Meeting();
  WriteOptions o = Opts();
  o.uid = "";
  EXPECT_EQ(WriteEvent(a, o).status().code(), Code::kInvalidArgument);
  a.time_zone = "Mars/Olympus_Mons";
  EXPECT_EQ(WriteEvent(a, Opts()).status().code(), Code::kInvalidArgument);
  a = Meeting();
  a.rrule = "FREQ=SOMETIMES";
  EXPECT_EQ(WriteEvent(a, Opts()).status().code(), Code::kInvalidArgument);
  a = Meeting();
  a.ical_extra = "not icalendar";
  EXPECT_EQ(WriteEvent(a, Opts()).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace tandem::ical

#include <thread>

namespace tandem::ical {
namespace {

// The header promises calls from several threads at once (libical's shared zone
// cache, the VTIMEZONE memo): run them side by side and compare with one thread.
TEST(ConcurrencyTest, ParallelParseWriteExpandAgreeWithSerial) {
  const char* zones[] = {"Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"};
  auto work = [&](int t) {
    std::string out;
    for (int i = 0; i < 30; ++i) {
      model::Activity a = Meeting();
      a.time_zone = zones[(t + i) % 4];
      a.start += std::chrono::days(37 * i);
      a.end = a.start + std::chrono::hours(1);
      a.rrule = "FREQ=WEEKLY;COUNT=6";
      auto ics = WriteEvent(a, Opts());
      if (!ics.ok()) return std::string("write failed");
      auto back = ParseEvent(*ics, {});
      if (!back.ok()) return back.status().ToString();
      auto occ = Expand(back->activity, a.start, a.start + std::chrono::days(60), 10);
      if (!occ.ok()) return occ.status().ToString();
      auto windows = WindowsZoneName(a.time_zone);  // its cache, shared by the threads
      out += ContentHash(back->activity) + std::to_string(occ->size()) +
             (windows.ok() ? *windows : std::string("no Windows name"));
    }
    return out;
  };
  // Parallel first, so that (run alone, as ctest does) the zone caches start cold.
  std::vector<std::string> parallel(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&, t] { parallel[t] = work(t); });
  for (auto& th : threads) th.join();
  std::vector<std::string> serial;
  for (int t = 0; t < 4; ++t) serial.push_back(work(t));
  EXPECT_EQ(parallel, serial);
  EXPECT_EQ(serial[0].find("failed"), std::string::npos) << serial[0];
}

}  // namespace
}  // namespace tandem::ical
