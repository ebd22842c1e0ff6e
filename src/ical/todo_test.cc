// CRM tasks as VTODO: round trips of the shapes real task lists write (timed with a
// zone, all-day, completed, only DUE, no dates; Thunderbird, Apple Reminders,
// DAVx5 with tasks.org) and the errors ParseTodo reports.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

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

bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// The first VTODO of a written text (a VTIMEZONE has DTSTARTs of its own).
std::string TodoPart(const std::string& text) {
  size_t from = text.find("BEGIN:VTODO");
  if (from == std::string::npos) return {};
  return text.substr(from, text.find("END:VTODO", from) - from);
}

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

WriteOptions Out(const Event& e) {
  WriteOptions o;
  o.uid = e.uid;
  o.sequence = e.sequence;
  o.dtstamp = At("2026-12-01T10:00:00Z");
  return o;
}

void ExpectSameTask(const model::Activity& want, const model::Activity& got,
                    bool same_extra = true) {
  EXPECT_EQ(got.kind, model::ActivityKind::kTask);
  EXPECT_EQ(got.subject, want.subject);
  EXPECT_EQ(got.location, want.location);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.start, want.start);
  EXPECT_EQ(got.end, want.end);
  EXPECT_EQ(got.all_day, want.all_day);
  EXPECT_EQ(got.time_zone, want.time_zone);
  EXPECT_EQ(got.is_private, want.is_private);
  EXPECT_EQ(got.reminder_minutes, want.reminder_minutes);
  EXPECT_EQ(got.rrule, want.rrule);
  EXPECT_EQ(got.exdates, want.exdates);
  EXPECT_EQ(got.rdates, want.rdates);
  EXPECT_EQ(got.cancelled, want.cancelled);
  EXPECT_EQ(got.sequence, want.sequence);
  if (same_extra) {
    EXPECT_EQ(got.ical_extra, want.ical_extra);
  }
}

// Parse, write, parse again: the second reading is the first, and writing again
// gives the same text (nothing drifts).
struct RoundTrip {
  Event first;
  std::string written;
  Event second;
};
// `same_extra` false: the first writing may add to ical_extra what the reader keeps
// next time (the VTIMEZONE an override refers to, once the writer defines it).
RoundTrip Trip(const std::string& ics, const MapOptions& in = {}, bool same_extra = true) {
  RoundTrip t;
  auto e = ParseTodo(ics, in, At("2030-01-01T00:00:00Z"));
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  if (!e.ok()) return t;
  t.first = *e;
  auto w = WriteTodo(t.first.activity, Out(t.first));
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  if (!w.ok()) return t;
  t.written = *w;
  auto back = ParseTodo(t.written, in, At("2031-01-01T00:00:00Z"));
  EXPECT_TRUE(back.ok()) << back.status().ToString() << "\n" << t.written;
  if (!back.ok()) return t;
  t.second = *back;
  EXPECT_EQ(t.second.uid, t.first.uid);
  ExpectSameTask(t.first.activity, t.second.activity, same_extra);
  auto again = WriteTodo(t.second.activity, Out(t.second));
  EXPECT_TRUE(again.ok());
  if (again.ok() && same_extra) {
    EXPECT_EQ(*again, t.written);
  }
  return t;
}

// --- the shapes

TEST(TodoTest, TimedTaskWithZoneRoundTrips) {
  RoundTrip t = Trip(Wrap(
      "BEGIN:VTODO\r\nUID:t1\r\nDTSTAMP:20261101T080000Z\r\nSEQUENCE:3\r\n"
      "DTSTART;TZID=Europe/Berlin:20261110T090000\r\nDUE;TZID=Europe/Berlin:20261112T170000\r\n"
      "SUMMARY:Prepare offer\\, v2\r\nLOCATION:Office\r\nDESCRIPTION:Numbers\\nand plan\r\n"
      "CLASS:PRIVATE\r\n"
      "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT30M\r\nDESCRIPTION:Reminder\r\nEND:VALARM\r\n"
      "END:VTODO\r\n"));
  const model::Activity& a = t.first.activity;
  EXPECT_EQ(t.first.uid, "t1");
  EXPECT_EQ(t.first.sequence, 3);
  EXPECT_EQ(a.kind, model::ActivityKind::kTask);
  EXPECT_EQ(a.show_as, model::ShowAs::kFree);
  EXPECT_EQ(a.start, At("2026-11-10T08:00:00Z"));  // CET = UTC+1
  EXPECT_EQ(a.end, At("2026-11-12T16:00:00Z"));
  EXPECT_EQ(a.time_zone, "Europe/Berlin");
  EXPECT_FALSE(a.all_day);
  EXPECT_EQ(a.subject, "Prepare offer, v2");
  EXPECT_EQ(a.location, "Office");
  EXPECT_EQ(a.description, "Numbers\nand plan");
  EXPECT_TRUE(a.is_private);
  EXPECT_EQ(a.reminder_minutes, 30);
  EXPECT_TRUE(a.ical_extra.empty()) << a.ical_extra;
  EXPECT_TRUE(model::Validate(a).ok()) << model::Validate(a).ToString();

  const std::string& w = t.written;
  EXPECT_TRUE(Has(w, "BEGIN:VTODO\r\n")) << w;
  EXPECT_FALSE(Has(w, "VEVENT")) << w;
  EXPECT_TRUE(Has(w, "DTSTART;TZID=Europe/Berlin:20261110T090000\r\n")) << w;
  EXPECT_TRUE(Has(w, "DUE;TZID=Europe/Berlin:20261112T170000\r\n")) << w;
  EXPECT_TRUE(Has(w, "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n")) << w;
  EXPECT_TRUE(Has(w, "CLASS:PRIVATE\r\n")) << w;
  EXPECT_TRUE(Has(w, "TRIGGER:-PT30M\r\n")) << w;
  EXPECT_TRUE(Has(w, "SEQUENCE:3\r\n")) << w;
  // VEVENT-only properties are not written on a task.
  EXPECT_FALSE(Has(w, "DTEND")) << w;
  EXPECT_FALSE(Has(w, "TRANSP")) << w;
  EXPECT_FALSE(Has(w, "BUSYSTATUS")) << w;
}

TEST(TodoTest, AllDayTaskIsDueOnItsDueDay) {
  RoundTrip t = Trip(Wrap("BEGIN:VTODO\r\nUID:d1\r\nDTSTAMP:20261101T080000Z\r\n"
                          "DTSTART;VALUE=DATE:20261120\r\nDUE;VALUE=DATE:20261124\r\n"
                          "SUMMARY:Trade fair booth\r\nEND:VTODO\r\n"));
  const model::Activity& a = t.first.activity;
  EXPECT_TRUE(a.all_day);
  EXPECT_EQ(a.start, At("2026-11-20T00:00:00Z"));
  EXPECT_EQ(a.end, At("2026-11-25T00:00:00Z"));  // the model's exclusive end
  EXPECT_EQ(a.time_zone, "");
  EXPECT_TRUE(model::Validate(a).ok()) << model::Validate(a).ToString();
  EXPECT_TRUE(Has(t.written, "DTSTART;VALUE=DATE:20261120\r\n")) << t.written;
  EXPECT_TRUE(Has(t.written, "DUE;VALUE=DATE:20261124\r\n")) << t.written;
  EXPECT_FALSE(Has(t.written, "VTIMEZONE")) << t.written;
}

TEST(TodoTest, AllDayTaskDueTheDayItStartsIsOneDay) {
  RoundTrip t = Trip(Wrap("BEGIN:VTODO\r\nUID:d2\r\nDTSTAMP:20261101T080000Z\r\n"
                          "DTSTART;VALUE=DATE:20261124\r\nDUE;VALUE=DATE:20261124\r\n"
                          "SUMMARY:Call\r\nEND:VTODO\r\n"));
  EXPECT_EQ(t.first.activity.start, At("2026-11-24T00:00:00Z"));
  EXPECT_EQ(t.first.activity.end, At("2026-11-25T00:00:00Z"));
  EXPECT_TRUE(model::Validate(t.first.activity).ok());
  EXPECT_TRUE(Has(t.written, "DUE;VALUE=DATE:20261124\r\n")) << t.written;
}

TEST(TodoTest, AllDayTaskWithOnlyDueKeepsItsShape) {
  RoundTrip t = Trip(Wrap("BEGIN:VTODO\r\nUID:d3\r\nDTSTAMP:20261101T080000Z\r\n"
                          "DUE;VALUE=DATE:20261124\r\nSUMMARY:Renew licence\r\nEND:VTODO\r\n"));
  const model::Activity& a = t.first.activity;
  EXPECT_TRUE(a.all_day);
  EXPECT_EQ(a.start, At("2026-11-24T00:00:00Z"));
  EXPECT_EQ(a.end, At("2026-11-25T00:00:00Z"));
  EXPECT_TRUE(model::Validate(a).ok());
  EXPECT_FALSE(Has(TodoPart(t.written), "DTSTART")) << t.written;
  EXPECT_TRUE(Has(t.written, "DUE;VALUE=DATE:20261124\r\n")) << t.written;
  // Moved a week in the CRM (start and end together): still no DTSTART.
  model::Activity moved = a;
  moved.start += days(7);
  moved.end += days(7);
  auto w = WriteTodo(moved, Out(t.first));
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(Has(TodoPart(*w), "DTSTART")) << *w;
  EXPECT_TRUE(Has(*w, "DUE;VALUE=DATE:20261201\r\n")) << *w;
}

TEST(TodoTest, CompletedTaskKeepsItsCompletionExactly) {
  RoundTrip t = Trip(Wrap("BEGIN:VTODO\r\nUID:c1\r\nDTSTAMP:20261105T120500Z\r\n"
                          "DTSTART:20261101T090000Z\r\nDUE:20261104T170000Z\r\n"
                          "SUMMARY:Send contract\r\nSTATUS:COMPLETED\r\n"
                          "COMPLETED:20261105T120000Z\r\nPERCENT-COMPLETE:100\r\n"
                          "PRIORITY:1\r\nEND:VTODO\r\n"));
  const model::Activity& a = t.first.activity;
  EXPECT_FALSE(a.cancelled);
  EXPECT_EQ(a.time_zone, "");
  EXPECT_EQ(a.start, At("2026-11-01T09:00:00Z"));
  EXPECT_EQ(a.end, At("2026-11-04T17:00:00Z"));
  for (const char* line : {"STATUS:COMPLETED\r\n", "COMPLETED:20261105T120000Z\r\n",
                           "PERCENT-COMPLETE:100\r\n", "PRIORITY:1\r\n"}) {
    EXPECT_TRUE(Has(a.ical_extra, line)) << line << "\n" << a.ical_extra;
    EXPECT_EQ(Count(t.written, line), 1) << line << "\n" << t.written;
    EXPECT_TRUE(Has(t.second.activity.ical_extra, line)) << line;
  }
  EXPECT_TRUE(Has(t.written, "DTSTART:20261101T090000Z\r\n")) << t.written;
  EXPECT_TRUE(Has(t.written, "DUE:20261104T170000Z\r\n")) << t.written;
  // Cancelling it in the CRM replaces the status, and un-cancelling gives none.
  model::Activity cancelled = a;
  cancelled.cancelled = true;
  auto w = WriteTodo(cancelled, Out(t.first));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(Count(*w, "STATUS:"), 1) << *w;
  EXPECT_TRUE(Has(*w, "STATUS:CANCELLED\r\n")) << *w;
}

TEST(TodoTest, CancelledTaskMapsToCancelled) {
  RoundTrip t = Trip(Wrap("BEGIN:VTODO\r\nUID:x1\r\nDTSTAMP:20261105T120500Z\r\n"
                          "DUE:20261104T170000Z\r\nSUMMARY:Old lead\r\nSTATUS:CANCELLED\r\n"
                          "END:VTODO\r\n"));
  EXPECT_TRUE(t.first.activity.cancelled);
  EXPECT_FALSE(Has(t.first.activity.ical_extra, "STATUS")) << t.first.activity.ical_extra;
  EXPECT_EQ(Count(t.written, "STATUS:CANCELLED\r\n"), 1) << t.written;
  model::Activity revived = t.first.activity;
  revived.cancelled = false;
  auto w = WriteTodo(revived, Out(t.first));
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(Has(*w, "STATUS")) << *w;
}

TEST(TodoTest, TaskWithOnlyDueStartsAtItsDueTime) {
  RoundTrip t = Trip(Wrap("BEGIN:VTODO\r\nUID:o1\r\nDTSTAMP:20261101T080000Z\r\n"
                          "DUE;TZID=America/New_York:20261201T150000\r\nSUMMARY:Quote\r\n"
                          "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;RELATED=END:-PT1H\r\n"
                          "DESCRIPTION:Quote due\r\nEND:VALARM\r\nEND:VTODO\r\n"));
  const model::Activity& a = t.first.activity;
  EXPECT_EQ(a.start, At("2026-12-01T20:00:00Z"));  // EST = UTC-5
  EXPECT_EQ(a.end, a.start);
  EXPECT_EQ(a.time_zone, "America/New_York");
  EXPECT_EQ(a.reminder_minutes, 60);
  EXPECT_FALSE(Has(TodoPart(t.written), "DTSTART")) << t.written;
  EXPECT_TRUE(Has(t.written, "DUE;TZID=America/New_York:20261201T150000\r\n")) << t.written;
  // Without DTSTART the trigger counts from DUE; the alarm's own text is kept.
  EXPECT_TRUE(Has(t.written, "TRIGGER;RELATED=END:-PT1H\r\n")) << t.written;
  EXPECT_TRUE(Has(t.written, "DESCRIPTION:Quote due\r\n")) << t.written;

  // The CRM moves the due time: the task follows, still without DTSTART.
  model::Activity moved = a;
  moved.start += hours(2);
  moved.end += hours(2);
  moved.reminder_minutes = 15;
  auto w = WriteTodo(moved, Out(t.first));
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(Has(TodoPart(*w), "DTSTART")) << *w;
  EXPECT_TRUE(Has(*w, "DUE;TZID=America/New_York:20261201T170000\r\n")) << *w;
  EXPECT_TRUE(Has(*w, "TRIGGER;RELATED=END:-PT15M\r\n")) << *w;

  // The CRM gives it a start of its own: now written.
  model::Activity started = a;
  started.start -= days(1);
  w = WriteTodo(started, Out(t.first));
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(Has(*w, "DTSTART;TZID=America/New_York:20261130T150000\r\n")) << *w;
  auto back = ParseTodo(*w, {});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->activity.start, started.start);
  EXPECT_EQ(back->activity.end, started.end);
}

TEST(TodoTest, TaskWithOnlyDtstartEndsAtItsStart) {
  RoundTrip t = Trip(Wrap("BEGIN:VTODO\r\nUID:s1\r\nDTSTAMP:20261101T080000Z\r\n"
                          "DTSTART:20261201T090000Z\r\nSUMMARY:Start the audit\r\nEND:VTODO\r\n"));
  EXPECT_EQ(t.first.activity.start, At("2026-12-01T09:00:00Z"));
  EXPECT_EQ(t.first.activity.end, t.first.activity.start);
  EXPECT_TRUE(Has(t.written, "DTSTART:20261201T090000Z\r\n")) << t.written;
  EXPECT_FALSE(Has(TodoPart(t.written), "DUE")) << t.written;
}

TEST(TodoTest, DurationCountsFromDtstartAndIsWrittenAsDue) {
  auto e = ParseTodo(Wrap("BEGIN:VTODO\r\nUID:p1\r\nDTSTAMP:20261101T080000Z\r\n"
                          "DTSTART;TZID=Europe/Berlin:20261110T090000\r\nDURATION:PT2H30M\r\n"
                          "SUMMARY:Review\r\nEND:VTODO\r\n"),
                     {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.start, At("2026-11-10T08:00:00Z"));
  EXPECT_EQ(e->activity.end, At("2026-11-10T10:30:00Z"));
  EXPECT_TRUE(e->activity.ical_extra.empty()) << e->activity.ical_extra;
  auto w = WriteTodo(e->activity, Out(*e));
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(Has(*w, "DUE;TZID=Europe/Berlin:20261110T113000\r\n")) << *w;
  EXPECT_FALSE(Has(*w, "DURATION")) << *w;
}

TEST(TodoTest, TaskWithNeitherDtstartNorDueIsDatedByItsCreation) {
  RoundTrip t = Trip(Wrap("BEGIN:VTODO\r\nUID:n1\r\nDTSTAMP:20261115T083000Z\r\n"
                          "CREATED:20261101T083000Z\r\n"
                          "SUMMARY:Someday: clean up the CRM\r\nEND:VTODO\r\n"));
  const model::Activity& a = t.first.activity;
  EXPECT_EQ(a.start, At("2026-11-01T08:30:00Z"));  // CREATED: DTSTAMP moves on every edit
  EXPECT_EQ(a.end, a.start);
  EXPECT_FALSE(a.all_day);
  EXPECT_TRUE(model::Validate(a).ok());
  // Written back without dates (and without a VTIMEZONE or Tandem's markers).
  EXPECT_FALSE(Has(TodoPart(t.written), "DTSTART")) << t.written;
  EXPECT_FALSE(Has(TodoPart(t.written), "DUE")) << t.written;
  EXPECT_FALSE(Has(t.written, "VTIMEZONE")) << t.written;
  EXPECT_FALSE(Has(t.written, "X-TANDEM-NO")) << t.written;
  EXPECT_EQ(Count(t.written, "CREATED:20261101T083000Z\r\n"), 1) << t.written;

  // The CRM gives it a due date: written, the start stays unset.
  model::Activity dated = a;
  dated.end = At("2026-11-20T16:00:00Z");
  auto w = WriteTodo(dated, Out(t.first));
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(Has(TodoPart(*w), "DTSTART")) << *w;
  EXPECT_TRUE(Has(*w, "DUE:20261120T160000Z\r\n")) << *w;
}

TEST(TodoTest, TaskWithNeitherDateNorCreatedKeepsItsStartAcrossRevisions) {
  // Dated by its DTSTAMP; written with that as CREATED, so that the next reading
  // (with the writer's own, later DTSTAMP) gives the same start.
  RoundTrip t = Trip(Wrap("BEGIN:VTODO\r\nUID:n4\r\nDTSTAMP:20261101T083000Z\r\n"
                          "SUMMARY:Someday\r\nEND:VTODO\r\n"),
                     {}, /*same_extra=*/false);
  EXPECT_EQ(t.first.activity.start, At("2026-11-01T08:30:00Z"));
  EXPECT_TRUE(Has(t.written, "DTSTAMP:20261201T100000Z\r\n")) << t.written;
  EXPECT_TRUE(Has(t.written, "CREATED:20261101T083000Z\r\n")) << t.written;
  EXPECT_FALSE(Has(TodoPart(t.written), "DTSTART")) << t.written;
  // From the second writing on (CREATED now in ical_extra), the text is stable.
  auto second = WriteTodo(t.second.activity, Out(t.second));
  ASSERT_TRUE(second.ok());
  auto third_read = ParseTodo(*second, {});
  ASSERT_TRUE(third_read.ok());
  EXPECT_EQ(third_read->activity.start, t.first.activity.start);
  EXPECT_EQ(third_read->activity.ical_extra, t.second.activity.ical_extra);
  auto third = WriteTodo(third_read->activity, Out(*third_read));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(*third, *second);
  // A client's later revision (new DTSTAMP, CREATED kept) still reads the same.
  std::string revised = t.written;
  revised.replace(revised.find("DTSTAMP:20261201T100000Z"), 24, "DTSTAMP:20270105T120000Z");
  auto e = ParseTodo(revised, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.start, At("2026-11-01T08:30:00Z"));
}

TEST(TodoTest, TaskWithoutAnyDateOrStampIsDatedNow) {
  const Instant now = At("2026-11-03T07:15:42.250Z");
  auto e = ParseTodo(Wrap("BEGIN:VTODO\r\nUID:n2\r\nSUMMARY:Note\r\nEND:VTODO\r\n"), {}, now);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.start, At("2026-11-03T07:15:42Z"));  // whole seconds
  EXPECT_EQ(e->activity.end, e->activity.start);
  auto w = WriteTodo(e->activity, Out(*e));
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(Has(TodoPart(*w), "DTSTART")) << *w;
  EXPECT_FALSE(Has(TodoPart(*w), "DUE")) << *w;
  // The public two-argument form asks the system clock.
  auto sys = ParseTodo(Wrap("BEGIN:VTODO\r\nUID:n3\r\nEND:VTODO\r\n"), {});
  ASSERT_TRUE(sys.ok()) << sys.status().ToString();
  EXPECT_GT(sys->activity.start, At("2026-01-01T00:00:00Z"));
}

TEST(TodoTest, FloatingDueIsReadInTheUserZoneAndWrittenBackFloating) {
  MapOptions in;
  in.default_zone = "Europe/Berlin";
  RoundTrip t = Trip(Wrap("BEGIN:VTODO\r\nUID:f1\r\nDTSTAMP:20261101T080000Z\r\n"
                          "DUE:20260715T170000\r\nSUMMARY:Floating\r\nEND:VTODO\r\n"),
                     in);
  EXPECT_EQ(t.first.activity.end, At("2026-07-15T15:00:00Z"));
  EXPECT_EQ(t.first.activity.time_zone, "Europe/Berlin");
  EXPECT_TRUE(Has(t.written, "DUE:20260715T170000\r\n")) << t.written;
  EXPECT_FALSE(Has(t.written, "VTIMEZONE")) << t.written;
}

TEST(TodoTest, RecurringTaskKeepsRuleAndExceptions) {
  RoundTrip t = Trip(Wrap("BEGIN:VTODO\r\nUID:r1\r\nDTSTAMP:20261101T080000Z\r\n"
                          "DTSTART;TZID=Europe/Berlin:20261102T090000\r\n"
                          "DUE;TZID=Europe/Berlin:20261102T100000\r\n"
                          "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO\r\n"
                          "EXDATE;TZID=Europe/Berlin:20261109T090000\r\n"
                          "SUMMARY:Pipeline hygiene\r\nEND:VTODO\r\n"
                          "BEGIN:VTODO\r\nUID:r1\r\nDTSTAMP:20261101T080000Z\r\n"
                          "RECURRENCE-ID;TZID=Europe/Berlin:20261116T090000\r\n"
                          "DTSTART;TZID=Europe/Berlin:20261116T110000\r\n"
                          "DUE;TZID=Europe/Berlin:20261116T120000\r\nSTATUS:COMPLETED\r\n"
                          "SUMMARY:Pipeline hygiene\r\nEND:VTODO\r\n"),
                     {}, /*same_extra=*/false);
  const model::Activity& a = t.first.activity;
  EXPECT_EQ(a.rrule, "FREQ=WEEKLY;COUNT=10;BYDAY=MO");
  ASSERT_EQ(a.exdates.size(), 1u);
  EXPECT_EQ(a.exdates[0], At("2026-11-09T08:00:00Z"));
  // The override stays in ical_extra, with the VTIMEZONE it needs.
  EXPECT_TRUE(Has(a.ical_extra, "RECURRENCE-ID;TZID=Europe/Berlin:20261116T090000")) << a.ical_extra;
  EXPECT_EQ(Count(t.written, "BEGIN:VTODO"), 2) << t.written;
  EXPECT_EQ(Count(t.written, "BEGIN:VTIMEZONE"), 1) << t.written;
  EXPECT_TRUE(Has(t.written, "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO\r\n")) << t.written;
  EXPECT_TRUE(Has(t.written, "EXDATE;TZID=Europe/Berlin:20261109T090000\r\n")) << t.written;
  EXPECT_TRUE(Has(t.second.activity.ical_extra,
                  "RECURRENCE-ID;TZID=Europe/Berlin:20261116T090000"));
  EXPECT_TRUE(Has(t.second.activity.ical_extra, "STATUS:COMPLETED"));
  // The master comes first, so that a second reading finds it.
  EXPECT_LT(t.written.find("RRULE"), t.written.find("RECURRENCE-ID")) << t.written;
}

TEST(TodoTest, MultiDayRuleAppliesToTasksAndIsUndoneOnWriting) {
  MapOptions in;
  in.multi_day = MultiDayRule::kStartWithEndInTitle;
  auto e = ParseTodo(Wrap("BEGIN:VTODO\r\nUID:m1\r\nDTSTAMP:20261101T080000Z\r\n"
                          "DTSTART;VALUE=DATE:20261120\r\nDUE;VALUE=DATE:20261124\r\n"
                          "SUMMARY:Inventory\r\nEND:VTODO\r\n"),
                     in);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->activity.subject, "Inventory (until 2026-11-24)");
  EXPECT_EQ(e->activity.end - e->activity.start, days(1));
  WriteOptions o = Out(*e);
  o.multi_day = MultiDayRule::kStartWithEndInTitle;
  auto w = WriteTodo(e->activity, o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(Has(*w, "DUE;VALUE=DATE:20261124\r\n")) << *w;
  EXPECT_TRUE(Has(*w, "SUMMARY:Inventory\r\n")) << *w;
}

TEST(TodoTest, TaskMadeInTheCrmIsWritten) {
  model::Activity a;
  a.kind = model::ActivityKind::kTask;
  a.subject = "Send Contoso proposal";
  a.start = At("2026-12-04T09:00:00Z");
  a.end = At("2026-12-04T09:00:00Z");
  a.time_zone = "Europe/Berlin";
  a.reminder_minutes = 10;
  WriteOptions o;
  o.uid = "crm-task-1";
  o.crm_id = "act_42";
  o.dtstamp = At("2026-12-01T10:00:00Z");
  o.created = At("2026-11-30T10:00:00Z");
  auto w = WriteTodo(a, o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(Has(*w, "UID:crm-task-1\r\n")) << *w;
  EXPECT_TRUE(Has(*w, "X-TANDEM-CRM-ID:act_42\r\n")) << *w;
  EXPECT_TRUE(Has(*w, "CREATED:20261130T100000Z\r\n")) << *w;
  EXPECT_TRUE(Has(*w, "DTSTART;TZID=Europe/Berlin:20261204T100000\r\n")) << *w;
  EXPECT_TRUE(Has(*w, "DUE;TZID=Europe/Berlin:20261204T100000\r\n")) << *w;
  EXPECT_TRUE(Has(*w, "TRIGGER:-PT10M\r\n")) << *w;
  auto back = ParseTodo(*w, {});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->crm_id, "act_42");
  EXPECT_EQ(back->activity.start, a.start);
  EXPECT_EQ(back->activity.end, a.end);
  EXPECT_EQ(back->activity.reminder_minutes, 10);
  // As for events, the CREATED read stays in ical_extra (written back as it was).
  EXPECT_TRUE(Has(back->activity.ical_extra, "CREATED:20261130T100000Z"))
      << back->activity.ical_extra;
}

// --- what real task lists write

TEST(TodoTest, ThunderbirdTask) {
  const std::string ics =
      "BEGIN:VCALENDAR\r\n"
      "PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n"
      "VERSION:2.0\r\n"
      "BEGIN:VTIMEZONE\r\n"
      "TZID:Europe/Berlin\r\n"
      "X-LIC-LOCATION:Europe/Berlin\r\n"
      "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
      "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\n"
      "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
      "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n"
      "END:VTIMEZONE\r\n"
      "BEGIN:VTODO\r\n"
      "CREATED:20261101T100000Z\r\n"
      "LAST-MODIFIED:20261102T093000Z\r\n"
      "DTSTAMP:20261102T093000Z\r\n"
      "UID:1b4e3c5a-7d2f-4e57-9c1e-0f3a2b6d8e91\r\n"
      "SUMMARY:Prepare offer for Fabrikam\r\n"
      "STATUS:IN-PROCESS\r\n"
      "PRIORITY:5\r\n"
      "CATEGORIES:Sales\r\n"
      "DTSTART;TZID=Europe/Berlin:20261110T090000\r\n"
      "DUE;TZID=Europe/Berlin:20261112T170000\r\n"
      "PERCENT-COMPLETE:40\r\n"
      "CLASS:CONFIDENTIAL\r\n"
      "X-MOZ-GENERATION:3\r\n"
      "DESCRIPTION:Pricing from the Q3 sheet\\; ask Anna.\r\n"
      "BEGIN:VALARM\r\n"
      "ACTION:DISPLAY\r\n"
      "TRIGGER;VALUE=DURATION:-PT15M\r\n"
      "DESCRIPTION:Default Mozilla Description\r\n"
      "END:VALARM\r\n"
      "BEGIN:VALARM\r\n"
      "ACTION:DISPLAY\r\n"
      "TRIGGER;RELATED=END:-P1D\r\n"
      "DESCRIPTION:Default Mozilla Description\r\n"
      "END:VALARM\r\n"
      "END:VTODO\r\n"
      "END:VCALENDAR\r\n";
  RoundTrip t = Trip(ics);
  const model::Activity& a = t.first.activity;
  EXPECT_EQ(t.first.uid, "1b4e3c5a-7d2f-4e57-9c1e-0f3a2b6d8e91");
  EXPECT_EQ(t.first.created, At("2026-11-01T10:00:00Z"));
  EXPECT_EQ(t.first.last_modified, At("2026-11-02T09:30:00Z"));
  EXPECT_EQ(a.start, At("2026-11-10T08:00:00Z"));
  EXPECT_EQ(a.end, At("2026-11-12T16:00:00Z"));
  EXPECT_EQ(a.time_zone, "Europe/Berlin");
  EXPECT_EQ(a.description, "Pricing from the Q3 sheet; ask Anna.");
  EXPECT_TRUE(a.is_private);  // CONFIDENTIAL, kept as the word
  EXPECT_EQ(a.reminder_minutes, 15);
  for (const char* line : {"STATUS:IN-PROCESS\r\n", "PRIORITY:5\r\n", "CATEGORIES:Sales\r\n",
                           "PERCENT-COMPLETE:40\r\n", "CLASS:CONFIDENTIAL\r\n",
                           "X-MOZ-GENERATION:3\r\n", "TRIGGER;RELATED=END:-P1D\r\n",
                           "CREATED:20261101T100000Z\r\n"}) {
    EXPECT_EQ(Count(t.written, line), 1) << line << "\n" << t.written;
  }
  EXPECT_FALSE(Has(t.written, "CLASS:PRIVATE")) << t.written;
  EXPECT_EQ(Count(t.written, "BEGIN:VALARM"), 2) << t.written;
  EXPECT_EQ(Count(t.written, "Default Mozilla Description"), 2) << t.written;
  EXPECT_EQ(Count(t.written, "BEGIN:VTIMEZONE"), 1) << t.written;
  EXPECT_TRUE(Has(t.written, "DUE;TZID=Europe/Berlin:20261112T170000\r\n")) << t.written;
}

TEST(TodoTest, AppleRemindersTasks) {
  // A completed date-only reminder with an absolute alarm, and a timed one whose
  // DTSTART equals its DUE, both as iOS writes them.
  const std::string done =
      "BEGIN:VCALENDAR\r\n"
      "VERSION:2.0\r\n"
      "PRODID:-//Apple Inc.//iOS 17.2//EN\r\n"
      "CALSCALE:GREGORIAN\r\n"
      "BEGIN:VTODO\r\n"
      "COMPLETED:20261102T101500Z\r\n"
      "CREATED:20261101T090000Z\r\n"
      "DTSTAMP:20261102T101512Z\r\n"
      "DUE;VALUE=DATE:20261105\r\n"
      "LAST-MODIFIED:20261102T101512Z\r\n"
      "PERCENT-COMPLETE:100\r\n"
      "PRIORITY:1\r\n"
      "SEQUENCE:2\r\n"
      "STATUS:COMPLETED\r\n"
      "SUMMARY:Call back Contoso\r\n"
      "UID:8F3C2A71-5E0B-4D8C-A6F2-91B7D3E4C5A6\r\n"
      "X-APPLE-SORT-ORDER:742896512\r\n"
      "BEGIN:VALARM\r\n"
      "ACTION:DISPLAY\r\n"
      "DESCRIPTION:Reminder\r\n"
      "TRIGGER;VALUE=DATE-TIME:20261105T080000Z\r\n"
      "UID:3D1E5B7A-2C4F-4A8E-9B6D-0F1A2B3C4D5E\r\n"
      "X-WR-ALARMUID:3D1E5B7A-2C4F-4A8E-9B6D-0F1A2B3C4D5E\r\n"
      "END:VALARM\r\n"
      "END:VTODO\r\n"
      "END:VCALENDAR\r\n";
  RoundTrip t = Trip(done);
  const model::Activity& a = t.first.activity;
  EXPECT_TRUE(a.all_day);
  EXPECT_EQ(a.start, At("2026-11-05T00:00:00Z"));
  EXPECT_EQ(a.end, At("2026-11-06T00:00:00Z"));
  EXPECT_EQ(a.sequence, 2);
  // 08:00Z on the due day is after the all-day start: not "minutes before", kept.
  EXPECT_EQ(a.reminder_minutes, std::nullopt);
  for (const char* line :
       {"STATUS:COMPLETED\r\n", "COMPLETED:20261102T101500Z\r\n", "PERCENT-COMPLETE:100\r\n",
        "CALSCALE:GREGORIAN\r\n", "X-APPLE-SORT-ORDER:742896512\r\n",
        "TRIGGER;VALUE=DATE-TIME:20261105T080000Z\r\n",
        "X-WR-ALARMUID:3D1E5B7A-2C4F-4A8E-9B6D-0F1A2B3C4D5E\r\n"}) {
    EXPECT_EQ(Count(t.written, line), 1) << line << "\n" << t.written;
  }
  EXPECT_FALSE(Has(TodoPart(t.written), "DTSTART")) << t.written;
  EXPECT_TRUE(Has(t.written, "DUE;VALUE=DATE:20261105\r\n")) << t.written;

  const std::string timed =
      "BEGIN:VCALENDAR\r\n"
      "VERSION:2.0\r\n"
      "PRODID:-//Apple Inc.//macOS 14.2//EN\r\n"
      "CALSCALE:GREGORIAN\r\n"
      "BEGIN:VTODO\r\n"
      "CREATED:20261101T090000Z\r\n"
      "DTSTAMP:20261101T090012Z\r\n"
      "DTSTART;TZID=Europe/Berlin:20261105T090000\r\n"
      "DUE;TZID=Europe/Berlin:20261105T090000\r\n"
      "LAST-MODIFIED:20261101T090012Z\r\n"
      "PRIORITY:0\r\n"
      "SEQUENCE:0\r\n"
      "STATUS:NEEDS-ACTION\r\n"
      "SUMMARY:Order flowers\r\n"
      "UID:B2C3D4E5-F6A7-4B8C-9D0E-1F2A3B4C5D6E\r\n"
      "X-APPLE-SORT-ORDER:742896600\r\n"
      "BEGIN:VALARM\r\n"
      "ACTION:DISPLAY\r\n"
      "DESCRIPTION:Reminder\r\n"
      "TRIGGER:-PT0S\r\n"
      "UID:C3D4E5F6-A7B8-4C9D-8E0F-2A3B4C5D6E7F\r\n"
      "X-WR-ALARMUID:C3D4E5F6-A7B8-4C9D-8E0F-2A3B4C5D6E7F\r\n"
      "END:VALARM\r\n"
      "END:VTODO\r\n"
      "END:VCALENDAR\r\n";
  t = Trip(timed);
  EXPECT_EQ(t.first.activity.start, At("2026-11-05T08:00:00Z"));
  EXPECT_EQ(t.first.activity.end, t.first.activity.start);
  EXPECT_EQ(t.first.activity.reminder_minutes, 0);
  EXPECT_TRUE(Has(t.written, "DTSTART;TZID=Europe/Berlin:20261105T090000\r\n")) << t.written;
  EXPECT_TRUE(Has(t.written, "DUE;TZID=Europe/Berlin:20261105T090000\r\n")) << t.written;
  EXPECT_EQ(Count(t.written, "X-WR-ALARMUID:C3D4E5F6-A7B8-4C9D-8E0F-2A3B4C5D6E7F\r\n"), 1)
      << t.written;
  EXPECT_EQ(Count(t.written, "STATUS:NEEDS-ACTION\r\n"), 1) << t.written;
}

TEST(TodoTest, TasksOrgThroughDavx5) {
  // tasks.org (ical4android, as DAVx5 uploads it): a subtask with only a due time,
  // floating, a due-relative alarm, several categories and a parent.
  const std::string ics =
      "BEGIN:VCALENDAR\r\n"
      "VERSION:2.0\r\n"
      "PRODID:+//IDN tasks.org//android-130204//EN\r\n"
      "BEGIN:VTODO\r\n"
      "DTSTAMP:20261103T081512Z\r\n"
      "UID:5981672398741263589\r\n"
      "CREATED:20261103T081400Z\r\n"
      "LAST-MODIFIED:20261103T081512Z\r\n"
      "SUMMARY:Book the booth\r\n"
      "DESCRIPTION:Hall 4\\, booth 12\\nConfirm by mail\r\n"
      "PRIORITY:9\r\n"
      "STATUS:NEEDS-ACTION\r\n"
      "X-APPLE-SORT-ORDER:742896512\r\n"
      "CATEGORIES:work,fair\r\n"
      "RELATED-TO;RELTYPE=PARENT:4711239874123\r\n"
      "DUE:20261120T150000\r\n"
      "X-MOZ-SNOOZE-TIME:20261120T140000Z\r\n"
      "BEGIN:VALARM\r\n"
      "TRIGGER;RELATED=END:PT0S\r\n"
      "ACTION:DISPLAY\r\n"
      "DESCRIPTION:Default Tasks.org description\r\n"
      "END:VALARM\r\n"
      "END:VTODO\r\n"
      "END:VCALENDAR\r\n";
  MapOptions in;
  in.default_zone = "Europe/Berlin";
  RoundTrip t = Trip(ics, in);
  const model::Activity& a = t.first.activity;
  EXPECT_EQ(a.start, At("2026-11-20T14:00:00Z"));  // floating, read in the user's zone
  EXPECT_EQ(a.end, a.start);
  EXPECT_EQ(a.time_zone, "Europe/Berlin");
  EXPECT_EQ(a.description, "Hall 4, booth 12\nConfirm by mail");
  EXPECT_EQ(a.reminder_minutes, 0);
  for (const char* line :
       {"PRIORITY:9\r\n", "STATUS:NEEDS-ACTION\r\n", "X-APPLE-SORT-ORDER:742896512\r\n",
        "RELATED-TO;RELTYPE=PARENT:4711239874123\r\n", "X-MOZ-SNOOZE-TIME:20261120T140000Z\r\n",
        "DESCRIPTION:Default Tasks.org description\r\n", "CREATED:20261103T081400Z\r\n"}) {
    EXPECT_EQ(Count(t.written, line), 1) << line << "\n" << t.written;
  }
  EXPECT_TRUE(Has(t.written, "CATEGORIES:work")) << t.written;
  EXPECT_TRUE(Has(t.written, "fair")) << t.written;
  EXPECT_FALSE(Has(TodoPart(t.written), "DTSTART")) << t.written;
  EXPECT_TRUE(Has(t.written, "DUE:20261120T150000\r\n")) << t.written;  // still floating
  EXPECT_FALSE(Has(t.written, "VTIMEZONE")) << t.written;
  EXPECT_TRUE(Has(t.written, "TRIGGER;RELATED=END:PT0S\r\n")) << t.written;
}

TEST(TodoTest, OtherComponentsAndCalendarPropertiesAreKept) {
  RoundTrip t = Trip(
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nX-WR-CALNAME:Tasks\r\n"
      "BEGIN:VTODO\r\nUID:k1\r\nDTSTAMP:20261101T080000Z\r\nDUE:20261201T090000Z\r\n"
      "SUMMARY:With company\r\nX-CUSTOM;X-P=1:value\r\nEND:VTODO\r\n"
      "BEGIN:VJOURNAL\r\nUID:j1\r\nDTSTAMP:20261101T080000Z\r\nSUMMARY:Minutes\r\nEND:VJOURNAL\r\n"
      "END:VCALENDAR\r\n");
  for (const char* line : {"X-WR-CALNAME:Tasks\r\n", "X-CUSTOM;X-P=1:value\r\n",
                           "BEGIN:VJOURNAL\r\n", "SUMMARY:Minutes\r\n"}) {
    EXPECT_EQ(Count(t.written, line), 1) << line << "\n" << t.written;
  }
}

// --- errors

void ExpectInvalid(const std::string& ics, const std::string& fragment) {
  auto e = ParseTodo(ics, {});
  ASSERT_FALSE(e.ok()) << ics;
  EXPECT_TRUE(e.status().Is(Code::kInvalidArgument)) << e.status().ToString();
  EXPECT_NE(e.status().message().find(fragment), std::string::npos)
      << "'" << e.status().message() << "' lacks '" << fragment << "'";
}

TEST(TodoErrorTest, NoVtodo) {
  ExpectInvalid(Wrap("BEGIN:VEVENT\r\nUID:e\r\nDTSTART:20261201T090000Z\r\nEND:VEVENT\r\n"),
                "no VTODO");
  ExpectInvalid(Wrap(""), "no VTODO");
}

TEST(TodoErrorTest, TwoVtodosWithDifferentUids) {
  ExpectInvalid(Wrap("BEGIN:VTODO\r\nUID:a\r\nDUE:20261201T090000Z\r\nEND:VTODO\r\n"
                     "BEGIN:VTODO\r\nUID:b\r\nDUE:20261202T090000Z\r\nEND:VTODO\r\n"),
                "2 tasks with different UIDs ('a', 'b'");
}

TEST(TodoErrorTest, MissingUid) {
  ExpectInvalid(Wrap("BEGIN:VTODO\r\nDUE:20261201T090000Z\r\nSUMMARY:x\r\nEND:VTODO\r\n"),
                "line 4: VTODO has no UID");
  // The second of two, named by its own line.
  ExpectInvalid(Wrap("BEGIN:VTODO\r\nUID:a\r\nEND:VTODO\r\nBEGIN:VTODO\r\nSUMMARY:x\r\n"
                     "END:VTODO\r\n"),
                "line 7: VTODO has no UID");
}

TEST(TodoErrorTest, DueBeforeDtstart) {
  ExpectInvalid(Wrap("BEGIN:VTODO\r\nUID:a\r\nDTSTART:20261201T090000Z\r\n"
                     "DUE:20261130T090000Z\r\nEND:VTODO\r\n"),
                "line 7: VTODO a is due before it starts (DUE before DTSTART)");
  ExpectInvalid(Wrap("BEGIN:VTODO\r\nUID:a\r\nDTSTART;VALUE=DATE:20261201\r\n"
                     "DUE;VALUE=DATE:20261130\r\nEND:VTODO\r\n"),
                "DUE before DTSTART");
  ExpectInvalid(Wrap("BEGIN:VTODO\r\nUID:a\r\nDTSTART:20261201T090000Z\r\n"
                     "DURATION:-PT1H\r\nEND:VTODO\r\n"),
                "VTODO a has a negative DURATION");
}

TEST(TodoErrorTest, UnreadableInput) {
  ExpectInvalid(Wrap("BEGIN:VTODO\r\nUID:a\r\nDUE:2026-12-01 10:00\r\nEND:VTODO\r\n"),
                "line 6: unreadable DUE value '2026-12-01 10:00'");
  ExpectInvalid(Wrap("BEGIN:VTODO\r\nUID:a\r\nDTSTART:garbage\r\nEND:VTODO\r\n"),
                "unreadable DTSTART value 'garbage'");
  ExpectInvalid(Wrap("BEGIN:VTODO\r\nUID:a\r\nDUE:20261201T090000Z\r\nRRULE:FREQ=SOMETIMES\r\n"
                     "END:VTODO\r\n"),
                "RRULE");
  ExpectInvalid(Wrap("BEGIN:VTODO\r\nUID:a\r\nDUE:20261201T090000Z\r\n"), "line");  // no END
  ExpectInvalid("BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:\xC3\x28\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
                "line 3");  // not UTF-8
  ExpectInvalid("just some text", "");
}

TEST(TodoErrorTest, WriteErrors) {
  model::Activity a;
  a.kind = model::ActivityKind::kTask;
  a.start = At("2026-12-01T10:00:00Z");
  a.end = a.start;
  EXPECT_TRUE(WriteTodo(a, {}).status().Is(Code::kInvalidArgument));  // no uid
  WriteOptions o;
  o.uid = "u";
  model::Activity backwards = a;
  backwards.end = a.start - hours(1);
  auto w = WriteTodo(backwards, o);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().message(), "end: must not be before start");
  model::Activity unknown_zone = a;
  unknown_zone.time_zone = "Mars/Olympus";
  EXPECT_NE(WriteTodo(unknown_zone, o).status().message().find("time_zone"), std::string::npos);
  model::Activity bad_extra = a;
  bad_extra.ical_extra = "not ical";
  EXPECT_NE(WriteTodo(bad_extra, o).status().message().find("ical_extra"), std::string::npos);
}

}  // namespace
}  // namespace tandem::ical
