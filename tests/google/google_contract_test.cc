// The Google provider against the local fake of the Calendar API
// (tests/fakes/google, written from Google's documentation): the one
// CalendarSide contract suite, and what is Google's own: 410 recovery, a token
// refreshed after a 401, rate limits with Retry-After, the request count of a
// large listing.
#include <gtest/gtest.h>

#include <cmath>

#include "providers/google/google_calendar.h"
#include "sync/calendar_side_contract.h"
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
}

}  // namespace
}  // namespace tandem::providers::google
