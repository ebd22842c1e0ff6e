// The Google event <-> iCalendar mapping (the provider's requests are tested
// against the local fake of the Calendar API in tests/google).
#include "providers/google/google_calendar.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ical/ical.h"

namespace tandem::providers::google {
namespace {

using nlohmann::json;

Instant At(const char* t) { return ParseRfc3339(t).value(); }

// An Events resource as Google documents it (fields of the reference page).
json GoogleEvent() {
  return json::parse(R"({
    "kind": "calendar#event",
    "etag": "\"3181161784712000\"",
    "id": "4eahs9ghkhrvkld72hogu9ph3e",
    "status": "confirmed",
    "created": "2026-11-02T09:00:00.000Z",
    "updated": "2026-11-03T10:30:00.000Z",
    "summary": "Weekly review, Acme",
    "description": "Agenda:\n1. pipeline; 2. forecast",
    "location": "Room 4, Main Street 1",
    "start": {"dateTime": "2026-12-07T10:00:00+01:00", "timeZone": "Europe/Berlin"},
    "end": {"dateTime": "2026-12-07T11:00:00+01:00", "timeZone": "Europe/Berlin"},
    "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10", "EXDATE;TZID=Europe/Berlin:20261214T100000"],
    "iCalUID": "review-acme@example.test",
    "sequence": 2,
    "transparency": "transparent",
    "visibility": "private",
    "extendedProperties": {"private": {"tandemCrmId": "act-42"}},
    "reminders": {"useDefault": false, "overrides": [{"method": "popup", "minutes": 10}]}
  })");
}

TEST(GoogleMappingTest, AnEventReadsAsTheCrmWouldHaveIt) {
  auto ics = EventToIcal(GoogleEvent().dump());
  ASSERT_TRUE(ics.ok()) << ics.status().ToString();
  auto ev = ical::ParseEvent(*ics, ical::MapOptions{});
  ASSERT_TRUE(ev.ok()) << ev.status().ToString() << "\n" << *ics;
  const model::Activity& a = ev->activity;
  EXPECT_EQ(ev->uid, "review-acme@example.test");
  EXPECT_EQ(ev->crm_id, "act-42");
  EXPECT_EQ(a.subject, "Weekly review, Acme");
  EXPECT_EQ(a.description, "Agenda:\n1. pipeline; 2. forecast");
  EXPECT_EQ(a.location, "Room 4, Main Street 1");
  EXPECT_EQ(a.start, At("2026-12-07T09:00:00Z"));
  EXPECT_EQ(a.end, At("2026-12-07T10:00:00Z"));
  EXPECT_EQ(a.time_zone, "Europe/Berlin");
  EXPECT_EQ(a.rrule, "FREQ=WEEKLY;COUNT=10;BYDAY=MO");  // as the iCalendar layer orders it
  ASSERT_EQ(a.exdates.size(), 1u);
  EXPECT_EQ(a.exdates[0], At("2026-12-14T09:00:00Z"));
  EXPECT_TRUE(a.is_private);
  EXPECT_EQ(a.show_as, model::ShowAs::kFree);
  EXPECT_EQ(a.reminder_minutes, 10);
  EXPECT_EQ(ev->last_modified, At("2026-11-03T10:30:00Z"));
  EXPECT_EQ(ev->sequence, 2);
  // Local times in the event's zone, as a calendar program shows them.
  EXPECT_NE(ics->find("TZID=Europe/Berlin:20261207T100000"), std::string::npos) << *ics;
}

TEST(GoogleMappingTest, WhatTheCrmWritesComesBackTheSame) {
  model::Activity a;
  a.subject = "Site visit; Harbour, pier 3";
  a.location = "Pier 3";
  a.description = "Bring the\nsafety shoes";
  a.start = At("2027-03-29T07:30:00Z");  // the day after the DST change in Berlin
  a.end = At("2027-03-29T09:00:00Z");
  a.time_zone = "Europe/Berlin";
  a.rrule = "FREQ=DAILY;COUNT=3";
  a.exdates = {At("2027-03-30T07:30:00Z")};
  a.show_as = model::ShowAs::kOutOfOffice;
  a.reminder_minutes = 30;
  a.cancelled = true;
  auto text = ical::WriteEvent(a, {.uid = "act-7", .crm_id = "act-7", .dtstamp = At("2027-01-01T00:00:00Z")});
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  auto body = IcalToEvent(*text, "act-7");
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  json e = json::parse(*body);
  EXPECT_EQ(e["iCalUID"], "act-7");
  EXPECT_EQ(e["start"]["timeZone"], "Europe/Berlin");
  EXPECT_EQ(e["extendedProperties"]["private"]["tandemCrmId"], "act-7");
  EXPECT_EQ(e["extendedProperties"]["private"]["tandemShowAs"], "out-of-office");
  EXPECT_EQ(e["extendedProperties"]["private"]["tandemCancelled"], "true");
  EXPECT_EQ(e["reminders"]["overrides"][0]["minutes"], 30);
  EXPECT_EQ(e["transparency"], "opaque");
  // Google stores it and answers with its own fields added.
  e["id"] = "abc123";
  e["etag"] = "\"1\"";
  e["status"] = "confirmed";
  e["updated"] = "2027-01-01T00:00:00.000Z";
  auto back = EventToIcal(e.dump());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  auto ev = ical::ParseEvent(*back, ical::MapOptions{});
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ical::ContentHash(ev->activity), ical::ContentHash(a))
      << "changed: " << ::testing::PrintToString(ical::DescribeChanges(a, ev->activity).size());
  EXPECT_EQ(ev->crm_id, "act-7");
}

TEST(GoogleMappingTest, AllDayEventsKeepTheirDates) {
  json e = GoogleEvent();
  e.erase("recurrence");
  e["start"] = {{"date", "2026-12-24"}};
  e["end"] = {{"date", "2026-12-27"}};
  auto ics = EventToIcal(e.dump());
  ASSERT_TRUE(ics.ok()) << ics.status().ToString();
  auto ev = ical::ParseEvent(*ics, ical::MapOptions{});
  ASSERT_TRUE(ev.ok());
  EXPECT_TRUE(ev->activity.all_day);
  EXPECT_EQ(ev->activity.start, At("2026-12-24T00:00:00Z"));
  EXPECT_EQ(ev->activity.end, At("2026-12-27T00:00:00Z"));
  auto body = IcalToEvent(*ics, ev->uid);
  ASSERT_TRUE(body.ok());
  json out = json::parse(*body);
  EXPECT_EQ(out["start"], (json{{"date", "2026-12-24"}}));
  EXPECT_EQ(out["end"], (json{{"date", "2026-12-27"}}));
}

TEST(GoogleMappingTest, BrokenEventsAreRefusedNamingWhat) {
  EXPECT_FALSE(EventToIcal("[]").ok());
  json e = GoogleEvent();
  e["start"] = {{"dateTime", "tomorrow"}};
  EXPECT_FALSE(EventToIcal(e.dump()).ok());
  e = GoogleEvent();
  e.erase("id");
  e.erase("iCalUID");
  EXPECT_FALSE(EventToIcal(e.dump()).ok());
}

}  // namespace
}  // namespace tandem::providers::google
