// The Google provider against the local fake of the Calendar API
// (tests/fakes/google, written from Google's documentation): the one
// CalendarSide contract suite, and what is Google's own: 410 recovery, a token
// refreshed after a 401, rate limits with Retry-After, the request count of a
// large listing.
#include <gtest/gtest.h>

#include <cmath>

#include "ical/ical.h"
#include "providers/google/google_calendar.h"
#include "sync/calendar_side_contract.h"
#include "sync/engine.h"
#include "sync/ical_codec.h"
#include "sync/memory_calendar.h"
#include "sync/memory_sync_state.h"
#include "tests/google/fake_google_process.h"

namespace tandem::providers::google {
namespace {

using nlohmann::json;
using tandem::testing::FakeGoogle;

class RecordingSleeper final : public http::Sleeper {
 public:
  void SleepFor(Duration d) override { slept.push_back(d); }
  std::vector<Duration> slept;
};

std::unique_ptr<GoogleCalendar> Open(const FakeGoogle& fake, std::string* token,
                                     RecordingSleeper* sleeper = nullptr, int* rejected = nullptr) {
  GoogleCalendarOptions o;
  o.api_base = fake.api();
  o.calendar_id = "primary";
  o.http.retry.max_attempts = 1;
  if (sleeper) o.http.sleeper = sleeper;
  o.access_token = [token]() -> Result<std::string> { return *token; };
  o.token_rejected = [&fake, token, rejected](const std::string&) {
    if (rejected) ++*rejected;
    *token = fake.Token();  // what a refresh gives
  };
  return std::make_unique<GoogleCalendar>(std::move(o));
}

class GoogleFixture final : public sync::CalendarSideFixture {
 public:
  GoogleFixture() {
    if (!fake_.running()) {
      ADD_FAILURE() << "the Google fake did not start";
      return;
    }
    token_ = fake_.Token();
    side_ = Open(fake_, &token_);
  }
  sync::CalendarSide& side() override { return *side_; }
  std::unique_ptr<sync::CalendarSide> Reopen() override { return Open(fake_, &token_); }
  Status DeleteOutside(const std::string& href) override {
    int status = 0;
    fake_.Call("DELETE", "/calendar/v3/calendars/primary/events/" + href, nullptr, fake_.Token(), &status);
    return status == 204 || status == 200 ? Status::Ok() : Status::Internal("DELETE " + std::to_string(status));
  }
  Status EditOutside(const std::string& href, const std::string& ical) override {
    // The user renames the event in Google Calendar.
    auto at = ical.find("SUMMARY:");
    std::string summary = ical.substr(at + 8, ical.find('\r', at) - at - 8);
    int status = 0;
    fake_.Call("PATCH", "/calendar/v3/calendars/primary/events/" + href, {{"summary", summary}},
               fake_.Token(), &status);
    return status == 200 ? Status::Ok() : Status::Internal("PATCH " + std::to_string(status));
  }

 private:
  FakeGoogle fake_;
  std::string token_;
  std::unique_ptr<GoogleCalendar> side_;
};

using sync::CalendarSideContract;

INSTANTIATE_TEST_SUITE_P(Google, CalendarSideContract,
                         ::testing::Values(sync::CalendarSideImpl{
                             "GoogleFake", [] { return std::make_unique<GoogleFixture>(); }}),
                         sync::CalendarSideImplName);

TEST(GoogleCalendarTest, AnExpiredSyncTokenIsAFullListingThatDuplicatesNothing) {
  FakeGoogle fake;
  ASSERT_TRUE(fake.running());
  std::string token = fake.Token();
  auto cal = Open(fake, &token);
  auto a = cal->Create("g-1@example.test", sync::ContractEvent("g-1@example.test", "One"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto first = cal->ChangesSince("", {});
  ASSERT_TRUE(first.ok());
  fake.Call("POST", "/_fake/expire_sync_tokens", json::object());
  auto expired = cal->ChangesSince(first->next_cursor, {});
  EXPECT_EQ(expired.status().code(), Code::kResyncRequired) << expired.status().ToString();
  auto again = cal->ChangesSince("", {});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->complete);
  ASSERT_EQ(again->changed.size(), 1u);
  EXPECT_EQ(again->changed[0].href, a->href);
}

TEST(GoogleCalendarTest, AnExpiredAccessTokenIsRefreshedOnceAndTheCallGoesThrough) {
  FakeGoogle fake;
  ASSERT_TRUE(fake.running());
  std::string token = fake.Token();
  int rejected = 0;
  auto cal = Open(fake, &token, nullptr, &rejected);
  fake.Call("POST", "/_fake/expire_access_tokens", json::object());
  auto listed = cal->ChangesSince("", {});
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(rejected, 1);
}

TEST(GoogleCalendarTest, RateLimitsBackOffHonouringRetryAfter) {
  FakeGoogle fake;
  ASSERT_TRUE(fake.running());
  std::string token = fake.Token();
  RecordingSleeper sleeper;
  auto cal = Open(fake, &token, &sleeper);
  fake.Call("POST", "/_fake/fail",
            {{"status", 403}, {"reason", "rateLimitExceeded"}, {"count", 1}, {"path_contains", "/events"}});
  fake.Call("POST", "/_fake/fail",
            {{"status", 429}, {"count", 1}, {"retry_after", 3}, {"path_contains", "/events"}});
  auto made = cal->Create("g-2@example.test", sync::ContractEvent("g-2@example.test", "Two"));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  ASSERT_EQ(sleeper.slept.size(), 2u);
  EXPECT_GE(sleeper.slept[1], std::chrono::seconds(3));
  auto events = fake.Call("GET", "/_fake/events?calendarId=user@example.test");
  int copies = 0;
  for (const auto& e : events.is_array() ? events : events.value("items", json::array()))
    copies += e.value("iCalUID", "") == "g-2@example.test" && e.value("status", "") != "cancelled";
  EXPECT_EQ(copies, 1);
}

TEST(GoogleCalendarTest, AWeeklySeriesWithAMovedAndACancelledInstanceIsOneItem) {
  FakeGoogle fake;
  ASSERT_TRUE(fake.running());
  const std::string user = fake.Token();
  // The user makes a weekly meeting in Google Calendar, moves one and cancels one.
  json series = fake.Call("POST", "/calendar/v3/calendars/primary/events",
                          {{"summary", "Weekly sales call"},
                           {"start", {{"dateTime", "2027-01-04T09:00:00Z"}, {"timeZone", "Europe/Berlin"}}},
                           {"end", {{"dateTime", "2027-01-04T09:30:00Z"}, {"timeZone", "Europe/Berlin"}}},
                           {"recurrence", {"RRULE:FREQ=WEEKLY;COUNT=6"}}},
                          user);
  ASSERT_TRUE(series.is_object() && series.contains("id")) << series.dump();
  const std::string id = series["id"];
  json inst = fake.Call("GET", "/calendar/v3/calendars/primary/events/" + id + "/instances", nullptr, user);
  ASSERT_GE(inst.value("items", json::array()).size(), 6u) << inst.dump();
  const std::string second = inst["items"][1]["id"], fourth = inst["items"][3]["id"];
  int status = 0;
  fake.Call("PATCH", "/calendar/v3/calendars/primary/events/" + second,
            {{"start", {{"dateTime", "2027-01-11T14:00:00Z"}}}, {"end", {{"dateTime", "2027-01-11T14:30:00Z"}}},
             {"summary", "Weekly sales call (afternoon)"}},
            user, &status);
  ASSERT_EQ(status, 200);
  fake.Call("DELETE", "/calendar/v3/calendars/primary/events/" + fourth, nullptr, user, &status);
  ASSERT_EQ(status, 204);

  std::string token = fake.Token();
  auto cal = Open(fake, &token);
  auto all = cal->ChangesSince("", {});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->changed.size(), 1u);  // one series, not its instances
  auto ev = ical::ParseEvent(all->changed[0].ical, ical::MapOptions{});
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->activity.rrule, "FREQ=WEEKLY;COUNT=6");
  EXPECT_EQ(ev->activity.time_zone, "Europe/Berlin");
  ASSERT_EQ(ev->activity.exdates.size(), 1u);
  EXPECT_EQ(ev->activity.exdates[0], ParseRfc3339("2027-01-25T09:00:00Z").value());
  auto occ = ical::Expand(ev->activity, ParseRfc3339("2027-01-01T00:00:00Z").value(),
                          ParseRfc3339("2027-03-01T00:00:00Z").value(), 100);
  ASSERT_TRUE(occ.ok()) << occ.status().ToString();
  ASSERT_EQ(occ->size(), 5u);  // six, one cancelled
  EXPECT_EQ((*occ)[1].start, ParseRfc3339("2027-01-11T14:00:00Z").value());  // the moved one

  // The user renames the last instance: the next listing brings the series whole.
  fake.Call("PATCH", "/calendar/v3/calendars/primary/events/" + std::string(inst["items"][5]["id"]),
            {{"summary", "Last sales call"}}, user, &status);
  ASSERT_EQ(status, 200);
  auto delta = cal->ChangesSince(all->next_cursor, {});
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  ASSERT_EQ(delta->changed.size(), 1u);
  EXPECT_EQ(delta->changed[0].href, id);
  EXPECT_NE(delta->changed[0].ical.find("Last sales call"), std::string::npos);
  EXPECT_NE(delta->changed[0].ical.find("afternoon"), std::string::npos);  // earlier change kept
}

TEST(GoogleCalendarTest, AFirstPushGoesOutInBatchesOfFifty) {
  // The engine's initialization of a CRM calendar of 1,000 appointments against
  // an empty Google calendar: ceil(1000 / 50) = 20 batch requests, no single insert.
  FakeGoogle fake;
  ASSERT_TRUE(fake.running());
  std::string token = fake.Token();
  auto google = Open(fake, &token);
  FakeClock clock(ParseRfc3339("2027-01-01T00:00:00Z").value());
  sync::MemoryCalendar crm("crm", "act-");
  for (int i = 0; i < 1000; ++i) {
    const std::string uid = "push-" + std::to_string(i) + "@example.test";
    crm.UserPut(uid, sync::ContractEvent(uid, "Call " + std::to_string(i)));
  }
  sync::MemorySyncStateStore state(clock);
  sync::IcalCodec codec;
  sync::SyncEngine engine(sync::EngineDeps{&state, &codec, &clock});
  store::SyncPair p;
  p.user_id = "u";
  p.provider = "google";
  p.options.deletion_limit = 100000;
  const std::string pair = state.CreatePair(p)->id;
  fake.Call("POST", "/_fake/clear_requests", json::object());
  auto report = engine.Run(pair, crm, *google, sync::RunOptions{.initialize = true});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->applied["create"], 1000) << report->Summary();
  EXPECT_TRUE(report->errors.empty()) << report->Summary();
  int batches = 0, inserts = 0;
  for (const auto& r : fake.Call("GET", "/_fake/requests")) {
    if (r.value("batch", false)) continue;
    if (r.value("path", "") == "/batch/calendar/v3") ++batches;
    if (r.value("method", "") == "POST" && r.value("path", "").ends_with("/events")) ++inserts;
  }
  EXPECT_EQ(batches, 20);
  EXPECT_EQ(inserts, 0);
  auto listed = google->ChangesSince("", {});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->changed.size(), 1000u);
  // A UID the calendar holds already: that item alone is refused as existing.
  auto again = google->CreateBatch({{"push-1@example.test", sync::ContractEvent("push-1@example.test", "x")},
                                    {"fresh@example.test", sync::ContractEvent("fresh@example.test", "y")}});
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].status().code(), Code::kAlreadyExists) << again[0].status().ToString();
  EXPECT_TRUE(again[1].ok()) << again[1].status().ToString();
}

TEST(GoogleCalendarTest, TenThousandEventsAreListedInFourRequests) {
  FakeGoogle fake;
  ASSERT_TRUE(fake.running());
  fake.Call("POST", "/_fake/seed", {{"calendarId", "primary"}, {"count", 10000}, {"start", "2027-01-04T08:00:00Z"}});
  fake.Call("POST", "/_fake/clear_requests", json::object());
  std::string token = fake.Token();
  auto cal = Open(fake, &token);
  auto all = cal->ChangesSince("", {});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->changed.size(), 10000u);
  EXPECT_EQ(cal->requests(), static_cast<int64_t>(std::ceil(10000 / 2500.0)));
  auto quiet = cal->ChangesSince(all->next_cursor, {});
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->changed.empty());
  EXPECT_EQ(cal->requests(), 5);  // one incremental list request

  // 100 events edited by the user: one more list request brings them all.
  const std::string user = fake.Token();
  for (int i = 0; i < 100; ++i) {
    int status = 0;
    fake.Call("PATCH", "/calendar/v3/calendars/primary/events/" + all->changed[i * 97].href,
              {{"summary", "edited " + std::to_string(i)}}, user, &status);
    ASSERT_EQ(status, 200);
  }
  auto edited = cal->ChangesSince(quiet->next_cursor, {});
  ASSERT_TRUE(edited.ok()) << edited.status().ToString();
  EXPECT_EQ(edited->changed.size(), 100u);
  EXPECT_EQ(cal->requests(), 6);
}

}  // namespace
}  // namespace tandem::providers::google
