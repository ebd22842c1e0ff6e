// Write-backs that lose nothing and the events real calendars hold that the first
// version mishandled: multi-day events, SEQUENCE/CREATED, floating times,
// cancelled and untitled events, series ends and the checks every writer shares.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "ical/ical.h"

namespace tandem::ical {
namespace {

using std::chrono::days;
using std::chrono::hours;

Instant At(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

std::string Wrap(const std::string& body) {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n" + body + "END:VCALENDAR\r\n";
}

WriteOptions Out(MultiDayRule rule = MultiDayRule::kKeep) {
  WriteOptions o;
  o.uid = "u";
  o.crm_id = "crm-1";
  o.dtstamp = At("2026-12-01T10:00:00Z");
  o.multi_day = rule;
  return o;
}

bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// --- 1. the multi-day rule shapes the CRM side only

TEST(MultiDayWriteBackTest, AllDayEventKeepsItsRealEndWhateverTheUserDoesToTheTitle) {
  MapOptions in;
  in.multi_day = MultiDayRule::kStartWithEndInTitle;
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:u\r\nDTSTART;VALUE=DATE:20261225\r\n"
                           "DTEND;VALUE=DATE:20261228\r\nSUMMARY:Trade fair\r\nEND:VEVENT\r\n"),
                      in);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.subject, "Trade fair (until 2026-12-27)");
  EXPECT_EQ(e->activity.end - e->activity.start, days(1));
  for (const char* edited : {"Trade fair Berlin (until 2026-12-27)", "Trade fair Berlin",
                             "Trade fair Berlin (until 2026-12-25)"}) {
    model::Activity a = e->activity;
    a.subject = edited;
    auto ics = WriteEvent(a, Out(MultiDayRule::kStartWithEndInTitle));
    ASSERT_TRUE(ics.ok()) << ics.status().ToString();
    EXPECT_TRUE(Has(*ics, "DTEND;VALUE=DATE:20261228")) << edited << "\n" << *ics;
    EXPECT_TRUE(Has(*ics, "SUMMARY:Trade fair Berlin\r\n")) << edited << "\n" << *ics;
    EXPECT_FALSE(Has(*ics, "(until")) << *ics;
  }
}

TEST(MultiDayWriteBackTest, TimedEventKeepsItsRealEnd) {
  MapOptions in;
  in.multi_day = MultiDayRule::kStartWithEndInTitle;
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20261210T090000Z\r\n"
                           "DTEND:20261212T170000Z\r\nSUMMARY:Workshop\r\nEND:VEVENT\r\n"),
                      in);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.subject, "Workshop (until 2026-12-12 17:00)");
  model::Activity a = e->activity;
  a.subject = "Workshop B";  // the user removed the suffix
  auto ics = WriteEvent(a, Out(MultiDayRule::kStartWithEndInTitle));
  ASSERT_TRUE(ics.ok());
  auto back = ParseEvent(*ics, {});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->activity.start, At("2026-12-10T09:00:00Z"));
  EXPECT_EQ(back->activity.end, At("2026-12-12T17:00:00Z"));
  EXPECT_EQ(back->activity.subject, "Workshop B");
}

TEST(MultiDayWriteBackTest, AMovedStartKeepsTheLength) {
  MapOptions in;
  in.multi_day = MultiDayRule::kStartWithEndInTitle;
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:u\r\nDTSTART;VALUE=DATE:20261225\r\n"
                           "DTEND;VALUE=DATE:20261228\r\nSUMMARY:Fair\r\nEND:VEVENT\r\n"),
                      in);
  ASSERT_TRUE(e.ok());
  model::Activity a = e->activity;
  a.start += days(7);
  a.end += days(7);
  auto ics = WriteEvent(a, Out(MultiDayRule::kStartWithEndInTitle));
  ASSERT_TRUE(ics.ok());
  EXPECT_TRUE(Has(*ics, "DTSTART;VALUE=DATE:20270101")) << *ics;
  EXPECT_TRUE(Has(*ics, "DTEND;VALUE=DATE:20270104")) << *ics;
}

// --- 2. SEQUENCE never goes down; CREATED stays

TEST(SequenceTest, WriteBackKeepsSequenceAndCreated) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:u\r\nSEQUENCE:4\r\nCREATED:20200101T120000Z\r\n"
                           "DTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n"
                           "SUMMARY:Call\r\nEND:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->sequence, 4);
  EXPECT_EQ(e->activity.sequence, 4);
  WriteOptions o = Out();
  o.sequence = 0;                              // what the CRM side knew nothing of
  o.created = At("2026-12-01T10:00:00Z");      // the CRM's import time
  auto ics = WriteEvent(e->activity, o);
  ASSERT_TRUE(ics.ok());
  EXPECT_TRUE(Has(*ics, "SEQUENCE:4\r\n")) << *ics;
  EXPECT_TRUE(Has(*ics, "CREATED:20200101T120000Z")) << *ics;
  EXPECT_FALSE(Has(*ics, "CREATED:20261201")) << *ics;
  // A writer that knows a higher sequence wins.
  o.sequence = 9;
  ics = WriteEvent(e->activity, o);
  ASSERT_TRUE(ics.ok());
  EXPECT_TRUE(Has(*ics, "SEQUENCE:9\r\n")) << *ics;
}

// --- 4. floating times

TEST(FloatingTimeTest, ReadInTheUsersZoneAndWrittenBackFloating) {
  MapOptions in;
  in.default_zone = "Europe/Berlin";
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20261210T090000\r\n"
                           "DTEND:20261210T100000\r\nSUMMARY:Local\r\nEND:VEVENT\r\n"),
                      in);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.start, At("2026-12-10T08:00:00Z"));
  EXPECT_EQ(e->activity.time_zone, "Europe/Berlin");
  model::Activity a = e->activity;
  a.subject = "Local, edited";
  auto ics = WriteEvent(a, Out());
  ASSERT_TRUE(ics.ok());
  EXPECT_TRUE(Has(*ics, "DTSTART:20261210T090000\r\n")) << *ics;
  EXPECT_TRUE(Has(*ics, "DTEND:20261210T100000\r\n")) << *ics;
  EXPECT_FALSE(Has(*ics, "TZID")) << *ics;
  EXPECT_FALSE(Has(*ics, "X-TANDEM-FLOATING")) << *ics;
  // Read again in another zone: the same wall-clock time.
  MapOptions ny;
  ny.default_zone = "America/New_York";
  auto again = ParseEvent(*ics, ny);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->activity.start, At("2026-12-10T14:00:00Z"));  // EST = UTC-5
  EXPECT_EQ(again->activity.time_zone, "America/New_York");
}

TEST(FloatingTimeTest, AZonedEventStaysZoned) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=Europe/Berlin:20261210T090000\r\n"
                           "DTEND;TZID=Europe/Berlin:20261210T100000\r\nEND:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok());
  auto ics = WriteEvent(e->activity, Out());
  ASSERT_TRUE(ics.ok());
  EXPECT_TRUE(Has(*ics, "DTSTART;TZID=Europe/Berlin:20261210T090000")) << *ics;
}

// --- 5. cancelled events

TEST(CancelledTest, ReadAsCancelledAndWrittenBackSo) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:u\r\nSTATUS:CANCELLED\r\n"
                           "DTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n"
                           "SUMMARY:Off\r\nEND:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_TRUE(e->activity.cancelled);
  EXPECT_FALSE(Has(e->activity.ical_extra, "STATUS")) << e->activity.ical_extra;
  auto ics = WriteEvent(e->activity, Out());
  ASSERT_TRUE(ics.ok());
  EXPECT_TRUE(Has(*ics, "STATUS:CANCELLED")) << *ics;
  model::Activity live = e->activity;
  live.cancelled = false;
  EXPECT_NE(ContentHash(live), ContentHash(e->activity));
  EXPECT_EQ(ChangedFields(live, e->activity), std::vector<std::string>{"cancelled"});
  auto written = WriteEvent(live, Out());
  ASSERT_TRUE(written.ok());
  EXPECT_FALSE(Has(*written, "STATUS:CANCELLED")) << *written;
}

TEST(CancelledTest, OtherStatusesStayAsTheyWere) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:u\r\nSTATUS:TENTATIVE\r\n"
                           "DTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\nEND:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->activity.cancelled);
  auto ics = WriteEvent(e->activity, Out());
  ASSERT_TRUE(ics.ok());
  EXPECT_TRUE(Has(*ics, "STATUS:TENTATIVE")) << *ics;
}

// --- 6. untitled events

TEST(UntitledTest, ImportedAndWrittenBackWithoutATitle) {
  auto e = ParseEvent(Wrap("BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20261210T090000Z\r\n"
                           "DTEND:20261210T100000Z\r\nEND:VEVENT\r\n"),
                      {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.subject, "");
  EXPECT_TRUE(model::Validate(e->activity).ok());
  model::Activity a = e->activity;
  a.location = "Room 2";
  auto ics = WriteEvent(a, Out());
  ASSERT_TRUE(ics.ok());
  EXPECT_FALSE(Has(*ics, "SUMMARY")) << *ics;
}

// --- 3. series ends (the store's indexed range query)

model::Activity Weekly(const char* rrule) {
  model::Activity a;
  a.start = At("2026-01-05T09:00:00Z");
  a.end = a.start + hours(1);
  a.time_zone = "Europe/Berlin";
  a.rrule = rrule;
  return a;
}

TEST(SeriesEndTest, CountUntilEndlessAndSingle) {
  EXPECT_EQ(SeriesEnd(Weekly("FREQ=WEEKLY;COUNT=3")), At("2026-01-19T10:00:00Z"));
  EXPECT_EQ(SeriesEnd(Weekly("FREQ=WEEKLY")), std::nullopt);
  std::optional<Instant> until = SeriesEnd(Weekly("FREQ=WEEKLY;UNTIL=20260301T000000Z"));
  ASSERT_TRUE(until.has_value());
  EXPECT_GE(*until, At("2026-02-23T10:00:00Z"));  // the last instance's end
  EXPECT_LE(*until, At("2026-03-02T00:00:00Z"));
  model::Activity single = Weekly("");
  EXPECT_EQ(SeriesEnd(single), single.end);
}

TEST(SeriesEndTest, NeverEarlierThanAnOccurrence) {
  model::Activity a = Weekly("FREQ=WEEKLY;COUNT=3");
  a.rdates = {At("2026-06-01T09:00:00Z")};
  EXPECT_EQ(SeriesEnd(a), At("2026-06-01T10:00:00Z"));
  // An override that moves the last instance a month later.
  auto parsed = ParseEvent(
      Wrap("BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\n"
           "RRULE:FREQ=WEEKLY;COUNT=3\r\nEND:VEVENT\r\n"
           "BEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID:20260119T090000Z\r\n"
           "DTSTART:20260219T090000Z\r\nDTEND:20260219T100000Z\r\nEND:VEVENT\r\n"),
      {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(SeriesEnd(parsed->activity), At("2026-02-19T10:00:00Z"));
  auto occ = Expand(parsed->activity, At("2026-02-01T00:00:00Z"), At("2026-03-01T00:00:00Z"), 10);
  ASSERT_TRUE(occ.ok());
  ASSERT_EQ(occ->size(), 1u);
  EXPECT_TRUE((*occ)[0].overridden);
}

TEST(ExpandTest, AnOverridesOwnTextsComeWithItsOccurrence) {
  auto parsed = ParseEvent(
      Wrap("BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\n"
           "RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Review\r\nEND:VEVENT\r\n"
           "BEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID:20260112T090000Z\r\n"
           "DTSTART:20260112T110000Z\r\nDTEND:20260112T120000Z\r\nSUMMARY:Review (moved)\r\n"
           "LOCATION:Room 9\r\nEND:VEVENT\r\n"),
      {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto occ = Expand(parsed->activity, At("2026-01-01T00:00:00Z"), At("2026-02-01T00:00:00Z"), 10);
  ASSERT_TRUE(occ.ok());
  ASSERT_EQ(occ->size(), 3u);
  EXPECT_EQ((*occ)[0].changed, nullptr);
  ASSERT_NE((*occ)[1].changed, nullptr);
  EXPECT_EQ((*occ)[1].changed->subject, "Review (moved)");
  EXPECT_EQ((*occ)[1].changed->location, "Room 9");
  EXPECT_EQ((*occ)[1].start, At("2026-01-12T11:00:00Z"));
  EXPECT_EQ((*occ)[1].recurrence_id, At("2026-01-12T09:00:00Z"));
}

// --- 8. the checks every writer shares

TEST(CheckActivityTest, RefusesWhatTheSyncCannotUseNamingTheField) {
  auto field = [](const model::Activity& a) {
    Status s = CheckActivity(a);
    if (s.ok()) return std::string("ok");
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
    return s.message().substr(0, s.message().find(':'));
  };
  EXPECT_EQ(field(Weekly("FREQ=WEEKLY;COUNT=3")), "ok");
  EXPECT_EQ(field(Weekly("")), "ok");
  EXPECT_EQ(field(Weekly("garbage")), "rrule");
  EXPECT_EQ(field(Weekly("FREQ=WEEKLY;COUNT=3;UNTIL=20260301T000000Z")), "rrule");
  model::Activity mars = Weekly("");
  mars.time_zone = "Mars/Olympus";
  EXPECT_EQ(field(mars), "time_zone");
  mars.rrule = "FREQ=DAILY";
  EXPECT_EQ(field(mars), "time_zone");
  model::Activity lone = Weekly("");
  lone.exdates = {lone.start};
  EXPECT_EQ(field(lone), "exdates");
  model::Activity day;
  day.all_day = true;
  day.start = At("2026-01-05T00:00:00Z");
  day.end = At("2026-01-06T00:00:00Z");
  day.rrule = "FREQ=DAILY;COUNT=5";
  day.exdates = {At("2026-01-07T09:00:00Z")};
  EXPECT_EQ(field(day), "exdates");
  day.exdates = {At("2026-01-07T00:00:00Z")};
  EXPECT_EQ(field(day), "ok");
  // The empty zone is UTC, as everywhere in the model.
  model::Activity utc = Weekly("FREQ=DAILY;COUNT=2");
  utc.time_zone = "";
  EXPECT_EQ(field(utc), "ok");
}

}  // namespace
}  // namespace tandem::ical
