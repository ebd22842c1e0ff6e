// The Google provider against the local fake of the Calendar API
// (tests/fakes/google, written from Google's documentation): the one
// CalendarSide contract suite, and what is Google's own: 410 recovery, a token
// refreshed after a 401, rate limits with Retry-After, the request count of a
// large listing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ical/ical.h"
#include "providers/google/google_calendar.h"
#include "providers/google/provider.h"
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

TEST(GoogleCalendarTest, ACrmSeriesWithAMovedAndACancelledOccurrenceIsWrittenAsGoogleInstances) {
  FakeGoogle fake;
  ASSERT_TRUE(fake.running());
  std::string token = fake.Token();
  auto cal = Open(fake, &token);
  // A weekly series the CRM holds: its second occurrence moved and renamed, its
  // fourth cancelled (a STATUS:CANCELLED override, as some clients write it).
  auto ics = [](const std::string& moved_summary) {
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
           "BEGIN:VEVENT\r\nUID:crm-weekly-1\r\nDTSTAMP:20261201T000000Z\r\n"
           "DTSTART;TZID=Europe/Berlin:20270104T100000\r\nDTEND;TZID=Europe/Berlin:20270104T103000\r\n"
           "RRULE:FREQ=WEEKLY;COUNT=6\r\nSUMMARY:Weekly sales call\r\nEND:VEVENT\r\n"
           "BEGIN:VEVENT\r\nUID:crm-weekly-1\r\nDTSTAMP:20261201T000000Z\r\n"
           "RECURRENCE-ID;TZID=Europe/Berlin:20270111T100000\r\n"
           "DTSTART;TZID=Europe/Berlin:20270111T150000\r\nDTEND;TZID=Europe/Berlin:20270111T153000\r\n"
           "SUMMARY:" + moved_summary + "\r\nEND:VEVENT\r\n"
           "BEGIN:VEVENT\r\nUID:crm-weekly-1\r\nDTSTAMP:20261201T000000Z\r\n"
           "RECURRENCE-ID;TZID=Europe/Berlin:20270125T100000\r\nSTATUS:CANCELLED\r\n"
           "DTSTART;TZID=Europe/Berlin:20270125T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  };
  auto made = cal->Create("crm-weekly-1", ics("Weekly sales call (afternoon)"));
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  // What a Google Calendar user sees: the instances, one moved and renamed, one gone.
  const std::string user = fake.Token();
  json inst = fake.Call("GET", "/calendar/v3/calendars/primary/events/" + made->href + "/instances",
                        nullptr, user);
  auto items = inst.value("items", json::array());
  ASSERT_EQ(items.size(), 5u) << inst.dump();
  EXPECT_EQ(items[1].value("summary", ""), "Weekly sales call (afternoon)");
  EXPECT_EQ(ParseRfc3339(items[1]["start"].value("dateTime", "")).value(),
            ParseRfc3339("2027-01-11T14:00:00Z").value());
  for (const auto& i : items)
    EXPECT_NE(ParseRfc3339(i["start"].value("dateTime", "")).value(),
              ParseRfc3339("2027-01-25T09:00:00Z").value());
  // Read back: the same series (one item) with the same occurrences.
  auto back = cal->GetMany({made->href});
  ASSERT_TRUE(back.ok() && back->size() == 1u);
  auto ev = ical::ParseEvent((*back)[0].ical, ical::MapOptions{});
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  auto occ = ical::Expand(ev->activity, ParseRfc3339("2027-01-01T00:00:00Z").value(),
                          ParseRfc3339("2027-03-01T00:00:00Z").value(), 100);
  ASSERT_TRUE(occ.ok() && occ->size() == 5u);
  EXPECT_EQ((*occ)[1].start, ParseRfc3339("2027-01-11T14:00:00Z").value());

  // The CRM renames the moved occurrence: one instance written, nothing else.
  fake.Call("POST", "/_fake/clear_requests", json::object());
  auto updated = cal->Update(made->href, made->etag, ics("Moved sales call"));
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  json log = fake.Call("GET", "/_fake/requests", nullptr);
  int patches = 0, deletes = 0;
  for (const auto& r : log) {
    if (r.value("method", "") == "PATCH") ++patches;
    if (r.value("method", "") == "DELETE") ++deletes;
  }
  EXPECT_EQ(patches, 1) << log.dump();
  EXPECT_EQ(deletes, 0) << log.dump();
  inst = fake.Call("GET", "/calendar/v3/calendars/primary/events/" + made->href + "/instances", nullptr, user);
  EXPECT_EQ(inst["items"][1].value("summary", ""), "Moved sales call");
  EXPECT_EQ(inst.value("items", json::array()).size(), 5u);
}

// A fresh RSA key pair made by the openssl tool: (private PEM, public PEM).
std::pair<std::string, std::string> MakeRsaKey() {
  auto dir = std::filesystem::temp_directory_path() /
             ("tandem-sa-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::create_directories(dir);
  const std::string key = (dir / "key.pem").string(), pub = (dir / "pub.pem").string();
  const std::string cmd = "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + key +
                          " 2>/dev/null && openssl pkey -in " + key + " -pubout -out " + pub + " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) return {};
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  std::pair<std::string, std::string> out{slurp(key), slurp(pub)};
  std::filesystem::remove_all(dir);
  return out;
}

TEST(GoogleWorkspaceTest, TheServerJobReachesAMailboxThroughTheServiceAccountWithNobodySignedIn) {
  FakeGoogle fake;
  ASSERT_TRUE(fake.running());
  auto [private_pem, public_pem] = MakeRsaKey();
  ASSERT_FALSE(private_pem.empty()) << "openssl could not make a key";
  const std::string email = "tandem-sync@project.iam.example.test";
  fake.Call("POST", "/_fake/service_accounts", {{"email", email}, {"public_key_pem", public_pem}});
  // The key file as Google's console hands it out.
  json key_file = {{"type", "service_account"}, {"client_email", email},
                   {"private_key", private_pem}, {"token_uri", fake.base() + "/token"}};
  auto account = ReadServiceAccountKey(key_file.dump());
  ASSERT_TRUE(account.ok()) << account.status().ToString();
  WorkspaceProviderOptions wo;
  wo.account = *account;
  wo.api_base = fake.api();
  auto provider = MakeWorkspaceProvider(wo);
  EXPECT_TRUE(provider->admin_only());
  EXPECT_EQ(provider->credential_kind(), sync::CredentialKind::kNone);
  sync::ProviderContext context;

  // The admin picks a mailbox: its calendars, the primary one first.
  auto choices = provider->Discover("user@example.test", {}, context);
  ASSERT_TRUE(choices.ok()) << choices.status().ToString();
  ASSERT_GE(choices->size(), 2u);
  EXPECT_EQ((*choices)[0].location, "user@example.test/user@example.test");
  // The pair's calendar side acts as the mailbox's user.
  auto side = provider->Open("user@example.test", {}, context);
  ASSERT_TRUE(side.ok()) << side.status().ToString();
  auto made = (*side)->Create("ws-1", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
                                      "BEGIN:VEVENT\r\nUID:ws-1\r\nDTSTAMP:20261201T000000Z\r\n"
                                      "DTSTART:20270104T090000Z\r\nDTEND:20270104T100000Z\r\n"
                                      "SUMMARY:Site visit\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  json events = fake.Call("GET", "/_fake/events?calendarId=user@example.test", nullptr);
  bool found = false;
  for (const auto& e : events.is_array() ? events : events.value("items", json::array()))
    found = found || e.value("summary", "") == "Site visit";
  EXPECT_TRUE(found) << events.dump();
  // Several pairs of one mailbox share one token: one token request so far.
  auto again = provider->Open("user@example.test/team@group.calendar.example.test", {}, context);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->ChangesSince("", {}).ok());
  json log = fake.Call("GET", "/_fake/requests", nullptr);
  int token_requests = 0;
  for (const auto& r : log) token_requests += r.value("path", "") == "/token";
  EXPECT_EQ(token_requests, 1) << log.dump();

  // A mailbox outside the domain's delegation: a clear refusal, no crash.
  auto stranger = provider->Discover("nobody@example.test", {}, context);
  EXPECT_FALSE(stranger.ok());
  // Not a mailbox at all, and a key file that is not one.
  EXPECT_EQ(provider->Open("primary", {}, context).status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(ReadServiceAccountKey("{\"type\":\"service_account\"}").ok());
  key_file["private_key"] = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
  auto bad = ReadServiceAccountKey(key_file.dump());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("not a key"), std::string::npos);  // never echoes the key
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
