// The Graph mapping: event resources <-> VCALENDAR, recurrence patterns <->
// RRULE (the shapes of Microsoft's event and patternedRecurrence pages).
#include "providers/graph/graph_calendar.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ical/ical.h"

namespace tandem::providers::graph {
namespace {

using nlohmann::json;

Instant At(const char* s) { return ParseRfc3339(s).value(); }

json OutlookEvent() {
  return {{"id", "AAMkAGI1"},
          {"@odata.etag", "W/\"ZlnW4RIAV06KYYwlrfNZvQAAKGWwbw==\""},
          {"iCalUId", "040000008200E00074C5B7101A82E008"},
          {"subject", "Quarterly review"},
          {"body", {{"contentType", "text"}, {"content", "Agenda: numbers\r\n"}}},
          {"start", {{"dateTime", "2027-01-04T08:00:00.0000000"}, {"timeZone", "UTC"}}},
          {"end", {{"dateTime", "2027-01-04T09:30:00.0000000"}, {"timeZone", "UTC"}}},
          {"originalStartTimeZone", "W. Europe Standard Time"},
          {"isAllDay", false},
          {"showAs", "tentative"},
          {"sensitivity", "personal"},
          {"isReminderOn", true},
          {"reminderMinutesBeforeStart", 15},
          {"location", {{"displayName", "Room 4"}}},
          {"type", "singleInstance"},
          {"createdDateTime", "2026-12-01T10:00:00.1234567Z"},
          {"lastModifiedDateTime", "2026-12-02T11:00:00.7654321Z"}};
}

TEST(GraphMappingTest, AnOutlookEventReadsWithItsZoneShowAsSensitivityAndReminder) {
  auto ics = EventToIcal(OutlookEvent().dump());
  ASSERT_TRUE(ics.ok()) << ics.status().ToString();
  auto ev = ical::ParseEvent(*ics, ical::MapOptions{});
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->uid, "040000008200E00074C5B7101A82E008");
  EXPECT_EQ(ev->activity.subject, "Quarterly review");
  EXPECT_EQ(ev->activity.description, "Agenda: numbers");
  EXPECT_EQ(ev->activity.location, "Room 4");
  EXPECT_EQ(ev->activity.start, At("2027-01-04T08:00:00Z"));
  EXPECT_EQ(ev->activity.end, At("2027-01-04T09:30:00Z"));
  EXPECT_EQ(ev->activity.time_zone, "Europe/Berlin");
  EXPECT_EQ(ev->activity.show_as, model::ShowAs::kTentative);
  EXPECT_TRUE(ev->activity.is_private);
  ASSERT_TRUE(ev->activity.reminder_minutes.has_value());
  EXPECT_EQ(*ev->activity.reminder_minutes, 15);
  // Written back: the same fields, in the event's own zone's Windows name;
  // personal stays personal, and the body the CRM did not change is left alone.
  auto body = IcalToEvent(*ics, ev->uid, false);
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  json e = json::parse(*body);
  EXPECT_EQ(e["subject"], "Quarterly review");
  EXPECT_EQ(e["start"]["timeZone"], "W. Europe Standard Time");
  EXPECT_EQ(e["start"]["dateTime"], "2027-01-04T09:00:00");
  EXPECT_EQ(e["showAs"], "tentative");
  EXPECT_EQ(e["sensitivity"], "personal");
  EXPECT_EQ(e["reminderMinutesBeforeStart"], 15);
  EXPECT_FALSE(e.contains("body")) << e.dump();
  EXPECT_FALSE(e.contains("transactionId"));  // set on creation only
}

TEST(GraphMappingTest, AChangedBodyIsWrittenAndACreationCarriesTheUidAndCrmId) {
  auto ics = EventToIcal(OutlookEvent().dump());
  ASSERT_TRUE(ics.ok());
  std::string changed = *ics;
  changed.replace(changed.find("Agenda: numbers"), 15, "Agenda: forecast");
  json e = json::parse(IcalToEvent(changed, "u-1", false).value());
  ASSERT_TRUE(e.contains("body"));
  EXPECT_EQ(e["body"]["content"], "Agenda: forecast");
  EXPECT_EQ(e["body"]["contentType"], "text");
  const std::string crm =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:crm-7\r\n"
      "DTSTAMP:20261201T000000Z\r\nDTSTART;VALUE=DATE:20270110\r\nDTEND;VALUE=DATE:20270112\r\n"
      "SUMMARY:Trade fair\r\nX-TANDEM-CRM-ID:act-7\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  json c = json::parse(IcalToEvent(crm, "crm-7", true).value());
  EXPECT_EQ(c["transactionId"], "crm-7");
  EXPECT_EQ(c["isAllDay"], true);
  EXPECT_EQ(c["start"]["dateTime"], "2027-01-10T00:00:00");
  EXPECT_EQ(c["end"]["dateTime"], "2027-01-12T00:00:00");
  EXPECT_EQ(c["showAs"], "free");
  ASSERT_EQ(c["singleValueExtendedProperties"].size(), 2u);
  EXPECT_EQ(c["singleValueExtendedProperties"][1]["value"], "act-7");
  // Read back as Graph stores it: all day, the Tandem UID from transactionId.
  json stored = c;
  stored["id"] = "AAMk2";
  stored["iCalUId"] = "0400000082";
  auto back = ical::ParseEvent(EventToIcal(stored.dump()).value(), ical::MapOptions{});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->uid, "crm-7");
  EXPECT_EQ(back->crm_id, "act-7");
  EXPECT_TRUE(back->activity.all_day);
  EXPECT_EQ(back->activity.start, At("2027-01-10T00:00:00Z"));
  EXPECT_EQ(back->activity.end, At("2027-01-12T00:00:00Z"));
}

TEST(GraphMappingTest, UnknownShowAsIsKeptWhenTheCrmLeavesItBusy) {
  json e = OutlookEvent();
  e["showAs"] = "unknown";
  auto ics = EventToIcal(e.dump());
  ASSERT_TRUE(ics.ok());
  auto ev = ical::ParseEvent(*ics, ical::MapOptions{});
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->activity.show_as, model::ShowAs::kBusy);
  EXPECT_EQ(json::parse(IcalToEvent(*ics, ev->uid, false).value())["showAs"], "unknown");
}

TEST(GraphMappingTest, RecurrencePatternsRoundTrip) {
  struct Case {
    const char* rrule;
    const char* type;
  } cases[] = {
      {"FREQ=DAILY;INTERVAL=2;COUNT=10", "daily"},
      {"FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20270331T225959Z", "weekly"},
      {"FREQ=MONTHLY;BYMONTHDAY=15", "absoluteMonthly"},
      {"FREQ=MONTHLY;BYDAY=2TU;COUNT=6", "relativeMonthly"},
      {"FREQ=MONTHLY;BYDAY=-1FR", "relativeMonthly"},
      {"FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15", "absoluteYearly"},
      {"FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", "relativeYearly"},
  };
  const Instant start = At("2027-01-04T08:00:00Z");  // a Monday, 09:00 in Berlin
  for (const Case& c : cases) {
    auto r = RruleToRecurrence(c.rrule, start, false, "Europe/Berlin");
    ASSERT_TRUE(r.ok()) << c.rrule << ": " << r.status().ToString();
    json j = json::parse(*r);
    EXPECT_EQ(j["pattern"]["type"], c.type) << c.rrule;
    EXPECT_EQ(j["range"]["startDate"], "2027-01-04");
    EXPECT_EQ(j["range"]["recurrenceTimeZone"], "W. Europe Standard Time");
    auto back = RecurrenceToRrule(*r, false, "Europe/Berlin");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    // The same occurrences, whatever the rule's spelling.
    model::Activity a, b;
    a.start = b.start = start;
    a.end = b.end = start + std::chrono::hours(1);
    a.time_zone = b.time_zone = "Europe/Berlin";
    a.rrule = c.rrule;
    b.rrule = *back;
    auto oa = ical::Expand(a, start, At("2029-01-01T00:00:00Z"), 60);
    auto ob = ical::Expand(b, start, At("2029-01-01T00:00:00Z"), 60);
    ASSERT_TRUE(oa.ok() && ob.ok()) << *back;
    ASSERT_EQ(oa->size(), ob->size()) << c.rrule << " -> " << *back;
    for (size_t i = 0; i < oa->size(); ++i) EXPECT_EQ((*oa)[i].start, (*ob)[i].start) << c.rrule;
  }
  // The end date is the local date of the last occurrence.
  json until = json::parse(RruleToRecurrence("FREQ=WEEKLY;UNTIL=20270331T225959Z", start, false,
                                             "Europe/Berlin").value());
  EXPECT_EQ(until["range"]["type"], "endDate");
  EXPECT_EQ(until["range"]["endDate"], "2027-04-01");
  // What Outlook cannot hold is refused with the rule named, never dropped.
  for (const char* bad : {"FREQ=HOURLY", "FREQ=MONTHLY;BYMONTHDAY=1,15", "FREQ=DAILY;BYHOUR=9,17",
                          "FREQ=MONTHLY;BYDAY=5MO"}) {
    auto r = RruleToRecurrence(bad, start, false, "Europe/Berlin");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(bad), std::string::npos);
  }
}

TEST(GraphMappingTest, ASeriesWithAnExceptionAndACancelledOccurrence) {
  json master = OutlookEvent();
  master["type"] = "seriesMaster";
  master["recurrence"] = {
      {"pattern", {{"type", "weekly"}, {"interval", 1}, {"daysOfWeek", {"monday"}}, {"firstDayOfWeek", "sunday"}}},
      {"range", {{"type", "numbered"}, {"numberOfOccurrences", 5}, {"startDate", "2027-01-04"},
                 {"recurrenceTimeZone", "W. Europe Standard Time"}}}};
  json exception = {{"id", "AAMkX"},
                    {"type", "exception"},
                    {"seriesMasterId", "AAMkAGI1"},
                    {"originalStart", "2027-01-11T08:00:00Z"},
                    {"subject", "Quarterly review (moved)"},
                    {"start", {{"dateTime", "2027-01-11T13:00:00.0000000"}, {"timeZone", "UTC"}}},
                    {"end", {{"dateTime", "2027-01-11T14:30:00.0000000"}, {"timeZone", "UTC"}}}};
  auto ics = EventToIcal(master.dump(), {exception.dump()}, {At("2027-01-18T08:00:00Z")});
  ASSERT_TRUE(ics.ok()) << ics.status().ToString();
  auto ev = ical::ParseEvent(*ics, ical::MapOptions{});
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->activity.rrule, "FREQ=WEEKLY;COUNT=5;BYDAY=MO");  // libical's order
  auto occ = ical::Expand(ev->activity, At("2027-01-01T00:00:00Z"), At("2027-03-01T00:00:00Z"), 20);
  ASSERT_TRUE(occ.ok());
  ASSERT_EQ(occ->size(), 4u);  // five, one cancelled
  EXPECT_EQ((*occ)[1].start, At("2027-01-11T13:00:00Z"));
  auto overrides = ical::Overrides(ev->activity);
  ASSERT_TRUE(overrides.ok() && overrides->size() == 1u);
  EXPECT_EQ((*overrides)[0].texts.subject, "Quarterly review (moved)");
}

TEST(GraphMappingTest, BrokenEventsAreErrorsNotCrashes) {
  EXPECT_FALSE(EventToIcal("[]").ok());
  EXPECT_FALSE(EventToIcal("{").ok());
  json e = OutlookEvent();
  e["start"] = {{"dateTime", "yesterday"}, {"timeZone", "UTC"}};
  EXPECT_FALSE(EventToIcal(e.dump()).ok());
  e = OutlookEvent();
  e["recurrence"] = {{"pattern", {{"type", "lunar"}}}};
  EXPECT_FALSE(EventToIcal(e.dump()).ok());
  EXPECT_FALSE(RecurrenceToRrule("{\"pattern\":{\"type\":\"weekly\"}}", false, "UTC").ok());
}

}  // namespace
}  // namespace tandem::providers::graph
