// The Microsoft Graph provider against the local fake of Graph
// (tests/fakes/graph, written from Microsoft's documentation): the one
// CalendarSide contract suite, and what is Graph's own: delta rounds and 410
// recovery, removed occurrences, series both ways, a token refreshed after a
// 401, 429 with Retry-After, $batch creations, the request count of a large
// first round.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "ical/ical.h"
#include "providers/graph/graph_calendar.h"
#include "providers/graph/provider.h"
#include "sync/calendar_side_contract.h"
#include "tests/fakes/fake_process.h"

namespace tandem::providers::graph {
namespace {

using nlohmann::json;
using tandem::testing::FakeProcess;

class FakeGraph : public FakeProcess {
 public:
  // A device code may be polled every second (Microsoft's is 5 s).
  FakeGraph() : FakeProcess("tests/fakes/graph/fake_graph.py", {"--device-interval", "1"}) {}
  std::string api() const { return base() + "/v1.0"; }
};

class RecordingSleeper final : public http::Sleeper {
 public:
  void SleepFor(Duration d) override { slept.push_back(d); }
  std::vector<Duration> slept;
};

// The window the engine would give: a year around the test events.
const sync::TimeRange kWindow{ParseRfc3339("2026-06-01T00:00:00Z").value(),
                              ParseRfc3339("2027-12-31T00:00:00Z").value()};

std::unique_ptr<GraphCalendar> Open(const FakeGraph& fake, std::string* token,
                                    RecordingSleeper* sleeper = nullptr, int* rejected = nullptr,
                                    const std::string& mailbox = "") {
  GraphCalendarOptions o;
  o.api_base = fake.api();
  o.mailbox = mailbox;
  o.http.retry.max_attempts = 1;
  if (sleeper) o.http.sleeper = sleeper;
  o.access_token = [token]() -> Result<std::string> { return *token; };
  o.token_rejected = [&fake, token, rejected](const std::string&) {
    if (rejected) ++*rejected;
    *token = fake.Token();  // what a refresh gives
  };
  return std::make_unique<GraphCalendar>(std::move(o));
}

// Requests to the fake whose path contains `part` (and method, when given).
int Requests(const FakeGraph& fake, const std::string& part, const std::string& method = "") {
  json log = fake.Call("GET", "/_fake/requests");
  int n = 0;
  for (const auto& r : log.is_array() ? log : log.value("requests", json::array()))
    if (r.value("path", "").find(part) != std::string::npos && !r.value("batch", false) &&
        (method.empty() || r.value("method", "") == method))
      ++n;
  return n;
}

class GraphFixture final : public sync::CalendarSideFixture {
 public:
  GraphFixture() {
    if (!fake_.running()) {
      ADD_FAILURE() << "the Graph fake did not start";
      return;
    }
    token_ = fake_.Token();
    side_ = Open(fake_, &token_);
  }
  sync::CalendarSide& side() override { return *side_; }
  std::unique_ptr<sync::CalendarSide> Reopen() override { return Open(fake_, &token_); }
  Status DeleteOutside(const std::string& href) override {
    int status = 0;
    fake_.Call("DELETE", "/v1.0/me/events/" + href, nullptr, fake_.Token(), &status);
    return status == 204 ? Status::Ok() : Status::Internal("DELETE " + std::to_string(status));
  }
  Status EditOutside(const std::string& href, const std::string& ical) override {
    // The user renames the event in Outlook.
    auto at = ical.find("SUMMARY:");
    std::string summary = ical.substr(at + 8, ical.find('\r', at) - at - 8);
    int status = 0;
    fake_.Call("PATCH", "/v1.0/me/events/" + href, {{"subject", summary}}, fake_.Token(), &status);
    return status == 200 ? Status::Ok() : Status::Internal("PATCH " + std::to_string(status));
  }

 private:
  FakeGraph fake_;
  std::string token_;
  std::unique_ptr<GraphCalendar> side_;
};

using sync::CalendarSideContract;

INSTANTIATE_TEST_SUITE_P(Graph, CalendarSideContract,
                         ::testing::Values(sync::CalendarSideImpl{
                             "GraphFake", [] { return std::make_unique<GraphFixture>(); }}),
                         sync::CalendarSideImplName);

std::string Single(const std::string& uid, const std::string& summary, const char* start = "20270104T090000Z",
                   const char* end = "20270104T100000Z") {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
         "\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:" + start + "\r\nDTEND:" + end + "\r\nSUMMARY:" + summary +
         "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
}

TEST(GraphCalendarTest, AnExpiredDeltaLinkIsANewRoundThatDuplicatesNothing) {
  FakeGraph fake;
  ASSERT_TRUE(fake.running());
  std::string token = fake.Token();
  auto cal = Open(fake, &token);
  auto a = cal->Create("m-1@example.test", Single("m-1@example.test", "One"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto first = cal->ChangesSince("", kWindow);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->complete && first->windowed);
  ASSERT_EQ(first->changed.size(), 1u);
  auto parsed = ical::ParseEvent(first->changed[0].ical, {});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->uid, "m-1@example.test");  // the UID Tandem gave, through transactionId
  fake.Call("POST", "/_fake/expire_delta_tokens", json::object());
  auto expired = cal->ChangesSince(first->next_cursor, kWindow);
  EXPECT_EQ(expired.status().code(), Code::kResyncRequired) << expired.status().ToString();
  auto again = cal->ChangesSince("", kWindow);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->changed.size(), 1u);
  EXPECT_EQ(again->changed[0].href, a->href);
  // A UID it holds is refused as existing, never a second copy.
  EXPECT_EQ(cal->Create("m-1@example.test", Single("m-1@example.test", "One")).status().code(),
            Code::kAlreadyExists);
}

TEST(GraphCalendarTest, AnEventMovedOutOfTheWindowIsAChangeNotADeletion) {
  FakeGraph fake;
  ASSERT_TRUE(fake.running());
  std::string token = fake.Token();
  auto cal = Open(fake, &token);
  auto a = cal->Create("m-2", Single("m-2", "Moves away"));
  auto b = cal->Create("m-3", Single("m-3", "Deleted"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto first = cal->ChangesSince("", kWindow);
  ASSERT_TRUE(first.ok());
  const std::string user = fake.Token();
  int status = 0;
  fake.Call("PATCH", "/v1.0/me/events/" + a->href,
            {{"start", {{"dateTime", "2029-05-01T09:00:00"}, {"timeZone", "UTC"}}},
             {"end", {{"dateTime", "2029-05-01T10:00:00"}, {"timeZone", "UTC"}}}},
            user, &status);
  ASSERT_EQ(status, 200);
  fake.Call("DELETE", "/v1.0/me/events/" + b->href, nullptr, user, &status);
  ASSERT_EQ(status, 204);
  auto next = cal->ChangesSince(first->next_cursor, kWindow);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  ASSERT_EQ(next->deleted.size(), 1u);
  EXPECT_EQ(next->deleted[0], b->href);
  ASSERT_EQ(next->changed.size(), 1u);
  EXPECT_EQ(next->changed[0].href, a->href);
  EXPECT_NE(next->changed[0].ical.find("20290501T090000Z"), std::string::npos) << next->changed[0].ical;
}

TEST(GraphCalendarTest, AnExpiredAccessTokenIsRefreshedOnceAndRateLimitsAreHonoured) {
  FakeGraph fake;
  ASSERT_TRUE(fake.running());
  std::string token = fake.Token();
  int rejected = 0;
  RecordingSleeper sleeper;
  auto cal = Open(fake, &token, &sleeper, &rejected);
  fake.Call("POST", "/_fake/expire_access_tokens", json::object());
  auto listed = cal->ChangesSince("", kWindow);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(rejected, 1);
  fake.Call("POST", "/_fake/fail", {{"status", 429}, {"count", 1}, {"retry_after", 3}, {"path_contains", "/events"}});
  fake.Call("POST", "/_fake/fail", {{"status", 503}, {"count", 1}, {"retry_after", 2}, {"path_contains", "/events"}});
  auto made = cal->Create("m-4", Single("m-4", "After throttling"));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  ASSERT_EQ(sleeper.slept.size(), 2u);
  EXPECT_GE(sleeper.slept[0], std::chrono::seconds(3));
  EXPECT_GE(sleeper.slept[1], std::chrono::seconds(2));
  // A stale ETag is a precondition failure, nothing overwritten.
  int status = 0;
  fake.Call("PATCH", "/v1.0/me/events/" + made->href, {{"subject", "Changed in Outlook"}}, fake.Token(), &status);
  ASSERT_EQ(status, 200);
  auto race = cal->Update(made->href, made->etag, Single("m-4", "Changed in the CRM"));
  EXPECT_EQ(race.status().code(), Code::kPreconditionFailed) << race.status().ToString();
}

TEST(GraphCalendarTest, AWeeklySeriesWithAMovedAndACancelledOccurrenceIsOneItemBothWays) {
  FakeGraph fake;
  ASSERT_TRUE(fake.running());
  const std::string user = fake.Token();
  // The user makes a weekly meeting in Outlook, moves one and cancels one.
  json series = fake.Call(
      "POST", "/v1.0/me/calendar/events",
      {{"subject", "Weekly sales call"},
       {"start", {{"dateTime", "2027-01-04T10:00:00"}, {"timeZone", "W. Europe Standard Time"}}},
       {"end", {{"dateTime", "2027-01-04T10:30:00"}, {"timeZone", "W. Europe Standard Time"}}},
       {"recurrence",
        {{"pattern", {{"type", "weekly"}, {"interval", 1}, {"daysOfWeek", {"monday"}}}},
         {"range", {{"type", "numbered"}, {"numberOfOccurrences", 6}, {"startDate", "2027-01-04"}}}}}},
      user);
  ASSERT_TRUE(series.is_object() && series.contains("id")) << series.dump();
  const std::string id = series["id"];
  json inst = fake.Call("GET", "/v1.0/me/events/" + id +
                                   "/instances?startDateTime=2027-01-01T00:00:00Z&endDateTime=2027-03-01T00:00:00Z",
                        nullptr, user);
  auto items = inst.value("value", json::array());
  ASSERT_EQ(items.size(), 6u) << inst.dump();
  int status = 0;
  fake.Call("PATCH", "/v1.0/me/events/" + items[1]["id"].get<std::string>(),
            {{"start", {{"dateTime", "2027-01-11T14:00:00"}, {"timeZone", "UTC"}}},
             {"end", {{"dateTime", "2027-01-11T14:30:00"}, {"timeZone", "UTC"}}},
             {"subject", "Weekly sales call (afternoon)"}},
            user, &status);
  ASSERT_EQ(status, 200);
  fake.Call("DELETE", "/v1.0/me/events/" + items[3]["id"].get<std::string>(), nullptr, user, &status);
  ASSERT_EQ(status, 204);

  std::string token = fake.Token();
  auto cal = Open(fake, &token);
  auto all = cal->ChangesSince("", kWindow);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->changed.size(), 1u);  // one series, not its occurrences
  EXPECT_EQ(all->changed[0].href, id);
  auto ev = ical::ParseEvent(all->changed[0].ical, ical::MapOptions{});
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->activity.time_zone, "Europe/Berlin");
  ASSERT_EQ(ev->activity.exdates.size(), 1u);
  EXPECT_EQ(ev->activity.exdates[0], ParseRfc3339("2027-01-25T09:00:00Z").value());
  auto occ = ical::Expand(ev->activity, ParseRfc3339("2027-01-01T00:00:00Z").value(),
                          ParseRfc3339("2027-03-01T00:00:00Z").value(), 100);
  ASSERT_TRUE(occ.ok());
  ASSERT_EQ(occ->size(), 5u);
  EXPECT_EQ((*occ)[1].start, ParseRfc3339("2027-01-11T14:00:00Z").value());

  // The user cancels another occurrence: the series comes again, whole.
  fake.Call("DELETE", "/v1.0/me/events/" + items[5]["id"].get<std::string>(), nullptr, user, &status);
  ASSERT_EQ(status, 204);
  auto delta = cal->ChangesSince(all->next_cursor, kWindow);
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  ASSERT_EQ(delta->changed.size(), 1u);
  EXPECT_TRUE(delta->deleted.empty());
  auto again = ical::ParseEvent(delta->changed[0].ical, ical::MapOptions{});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->activity.exdates.size(), 2u);

  // The CRM moves an occurrence and cancels one of its own series: written to the instances.
  std::string crm = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
                    "BEGIN:VEVENT\r\nUID:crm-weekly\r\nDTSTAMP:20261201T000000Z\r\n"
                    "DTSTART;TZID=Europe/Berlin:20270105T100000\r\nDTEND;TZID=Europe/Berlin:20270105T110000\r\n"
                    "RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE:20270119T090000Z\r\nSUMMARY:Team review\r\nEND:VEVENT\r\n"
                    "BEGIN:VEVENT\r\nUID:crm-weekly\r\nDTSTAMP:20261201T000000Z\r\n"
                    "RECURRENCE-ID;TZID=Europe/Berlin:20270112T100000\r\n"
                    "DTSTART;TZID=Europe/Berlin:20270112T160000\r\nDTEND;TZID=Europe/Berlin:20270112T170000\r\n"
                    "SUMMARY:Team review (late)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  auto made = cal->Create("crm-weekly", crm);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  json view = fake.Call("GET", "/v1.0/me/events/" + made->href +
                                   "/instances?startDateTime=2027-01-01T00:00:00Z&endDateTime=2027-03-01T00:00:00Z",
                        nullptr, user);
  auto got = view.value("value", json::array());
  ASSERT_EQ(got.size(), 3u) << view.dump();  // four, one cancelled
  EXPECT_EQ(got[1].value("subject", ""), "Team review (late)");
  EXPECT_EQ(got[1]["type"], "exception");
}

TEST(GraphCalendarTest, AFirstPushGoesOutInBatchesOfTwenty) {
  FakeGraph fake;
  ASSERT_TRUE(fake.running());
  std::string token = fake.Token();
  auto cal = Open(fake, &token);
  std::vector<std::pair<std::string, std::string>> items;
  for (int i = 0; i < 45; ++i) {
    const std::string uid = "push-" + std::to_string(i);
    items.emplace_back(uid, Single(uid, "Pushed " + std::to_string(i)));
  }
  fake.Call("POST", "/_fake/clear_requests", json::object());
  std::vector<Result<sync::ItemRef>> done;
  for (size_t at = 0; at < items.size(); at += cal->CreateBatchLimit()) {
    std::vector<std::pair<std::string, std::string>> group(
        items.begin() + at, items.begin() + std::min(items.size(), at + cal->CreateBatchLimit()));
    for (auto& r : cal->CreateBatch(group)) done.push_back(std::move(r));
  }
  ASSERT_EQ(done.size(), 45u);
  for (const auto& r : done) ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Requests(fake, "$batch", "POST"), 3);  // ceil(45 / 20)
  EXPECT_EQ(Requests(fake, "/events", "POST"), 0);  // no single insert
  auto all = cal->ChangesSince("", kWindow);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->changed.size(), 45u);
}

TEST(GraphCalendarTest, TenThousandEventsComeInOneRequestPerPage) {
  FakeGraph fake;
  ASSERT_TRUE(fake.running());
  json seeded = fake.Call("POST", "/_fake/seed", {{"count", 10000}, {"start", "2027-01-04T08:00:00Z"}});
  ASSERT_FALSE(seeded.is_null());
  std::string token = fake.Token();
  auto cal = Open(fake, &token);
  // Hourly from January 2027: the window holds all 10,000.
  const sync::TimeRange wide{ParseRfc3339("2026-12-01T00:00:00Z").value(),
                             ParseRfc3339("2029-01-01T00:00:00Z").value()};
  auto all = cal->ChangesSince("", wide);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->changed.size(), 10000u);
  EXPECT_EQ(cal->requests(), static_cast<int64_t>(std::ceil(10000 / 500.0)));  // maxpagesize 500
  // 100 events edited by the user: at most 2 delta requests bring them all.
  const std::string user = fake.Token();
  for (int i = 0; i < 100; ++i) {
    int status = 0;
    fake.Call("PATCH", "/v1.0/me/events/" + all->changed[i * 97].href, {{"subject", "edited " + std::to_string(i)}},
              user, &status);
    ASSERT_EQ(status, 200);
  }
  const int64_t before = cal->requests();
  auto edited = cal->ChangesSince(all->next_cursor, wide);
  ASSERT_TRUE(edited.ok()) << edited.status().ToString();
  EXPECT_EQ(edited->changed.size(), 100u);
  EXPECT_LE(cal->requests() - before, 2);
}

TEST(GraphProviderTest, DeviceCodeSignInAndApplicationAccessToASharedMailbox) {
  FakeGraph fake;
  ASSERT_TRUE(fake.running());
  GraphProviderOptions po;
  po.login_base = fake.base();
  po.client_id = "tandem-test-client";
  po.api_base = fake.api();
  auto outlook = MakeProvider(po);
  sync::ProviderContext context;
  ASSERT_TRUE(outlook->uses_device_code());
  auto code = outlook->StartDeviceAuthorization(context);
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_FALSE(code->user_code.empty());
  bool slow = false;
  auto pending = outlook->PollDeviceAuthorization(code->device_code, context, &slow);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_FALSE(pending->has_value());  // not approved yet
  fake.Call("POST", "/_fake/approve_device", {{"user_code", code->user_code}});
  std::optional<sync::Credential> credential;
  Duration interval = code->interval;
  for (int i = 0; i < 10 && !credential; ++i) {
    std::this_thread::sleep_for(interval);  // as the service asks
    auto polled = outlook->PollDeviceAuthorization(code->device_code, context, &slow);
    ASSERT_TRUE(polled.ok()) << polled.status().ToString();
    credential = *polled;
    if (slow) interval += std::chrono::seconds(5);
  }
  ASSERT_TRUE(credential.has_value());
  EXPECT_FALSE((*credential)["refresh_token"].empty());
  auto calendars = outlook->Discover("", *credential, context);
  ASSERT_TRUE(calendars.ok()) << calendars.status().ToString();
  ASSERT_FALSE(calendars->empty());
  auto side = outlook->Open((*calendars)[0].location, *credential, context);
  ASSERT_TRUE(side.ok());
  ASSERT_TRUE((*side)->Create("dev-1", Single("dev-1", "Signed in with a code")).ok());

  // The server job: client credentials, a shared mailbox, nobody signed in.
  GraphAppOptions ao;
  ao.login_base = fake.base();
  ao.tenant = "example.test";  // client credentials need a tenant id or domain
  ao.client = {"tandem-app", "tandem-app-secret"};
  ao.api_base = fake.api();
  auto app = MakeAppProvider(ao);
  EXPECT_TRUE(app->admin_only());
  EXPECT_EQ(app->Open("primary", {}, context).status().code(), Code::kInvalidArgument);
  auto shared = app->Discover("shared@example.test", {}, context);
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  ASSERT_FALSE(shared->empty());
  EXPECT_TRUE((*shared)[0].location.starts_with("shared@example.test/"));
  auto mailbox = app->Open((*shared)[0].location, {}, context);
  ASSERT_TRUE(mailbox.ok());
  auto made = (*mailbox)->Create("app-1", Single("app-1", "Booked by the server job"));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto listed = (*mailbox)->ChangesSince("", kWindow);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->changed.size(), 1u);
  // A revoked grant is a refusal only the user can mend: said as such.
  fake.Call("POST", "/_fake/revoke_refresh_tokens", json::object());
  fake.Call("POST", "/_fake/expire_access_tokens", json::object());
  auto revoked = outlook->Discover("", *credential, context);
  ASSERT_FALSE(revoked.ok());
  EXPECT_TRUE(oauth::NeedsReauthorization(revoked.status())) << revoked.status().ToString();
}

}  // namespace
}  // namespace tandem::providers::graph
