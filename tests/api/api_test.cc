// The REST API over real HTTP: a RestApi on an http::Server on 127.0.0.1 (free
// port, temporary SQLite file), driven by the libcurl client and raw sockets.
#include "api/api.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/ids.h"
#include "http/client.h"
#include "http/server.h"
#include "ical/ical.h"
#include "model/json.h"
#include "store/store.h"

namespace tandem {
namespace {

using model::Json;
namespace fs = std::filesystem;

struct Answer {
  int status = 0;
  Json body;
  http::Headers headers;
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tandem-api-test-" + random_.Hex(6));
    fs::create_directories(dir_);
    auto s = store::OpenSqliteStore(
        {.path = (dir_ / "tandem.db").string(), .clock = &clock_, .ids = &ids_,
         .series_end = &ical::SeriesEnd});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    admin_id_ = MakeUser("root", model::Role::kAdmin);
    alice_id_ = MakeUser("alice", model::Role::kUser);
    bob_id_ = MakeUser("bob", model::Role::kUser);

    api::ApiOptions options;
    options.store = store_.get();
    options.clock = &clock_;
    options.random = &random_;
    options.password_cost = api::PasswordCost::Fast();
    options.tombstone_retention = std::chrono::hours(24);
    api_ = std::make_unique<api::RestApi>(options);
    http::Router router;
    api_->Register(&router);
    http::ServerOptions server_options;
    server_options.threads = 4;
    server_options.body_limit = 64 << 10;
    server_options.read_timeout = std::chrono::milliseconds(500);
    api::RestApi::ConfigureServer(&server_options);
    auto server = http::Server::Start(server_options, std::move(router));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());

    admin_ = Login("root", "pw-root");
    alice_ = Login("alice", "pw-alice");
    bob_ = Login("bob", "pw-bob");
  }

  void TearDown() override {
    if (server_) {
      server_->Stop();
      server_->Wait();
    }
    server_.reset();
    api_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string MakeUser(const std::string& login, model::Role role) {
    model::User u;
    u.login = login;
    u.role = role;
    u.password_hash = *api::HashPassword("pw-" + login, api::PasswordCost::Fast());
    auto created = store_->CreateUser(u);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? created->id : "";
  }

  Answer Call(const std::string& method, const std::string& path, const std::string& token,
              const std::string& body = "", http::Headers headers = {}) {
    http::ClientOptions options;
    options.retry.max_attempts = 1;
    thread_local std::unique_ptr<http::Client> client;
    if (!client) client = std::make_unique<http::Client>(options);
    if (!token.empty()) headers.Set("Authorization", "Bearer " + token);
    if (!body.empty()) headers.Set("Content-Type", "application/json");
    auto res =
        client->Send({.method = method, .url = base_ + path, .headers = headers, .body = body});
    Answer a;
    if (!res.ok()) {
      ADD_FAILURE() << method << " " << path << ": " << res.status().ToString();
      return a;
    }
    a.status = res->status;
    a.headers = res->headers;
    if (!res->body.empty()) a.body = Json::parse(res->body, nullptr, false);
    return a;
  }

  std::string Login(const std::string& login, const std::string& password) {
    auto a =
        Call("POST", "/api/v1/login", "", Json{{"login", login}, {"password", password}}.dump());
    EXPECT_EQ(a.status, 200) << a.body.dump();
    return a.status == 200 ? a.body["token"].get<std::string>() : "";
  }

  Json NewActivity(const std::string& subject, const std::string& start, const std::string& end) {
    return Json{{"subject", subject}, {"start", start}, {"end", end}};
  }

  std::string CreateId(const std::string& collection, const std::string& token, const Json& body) {
    auto a = Call("POST", "/api/v1/" + collection, token, body.dump());
    EXPECT_EQ(a.status, 201) << a.body.dump();
    return a.status == 201 ? a.body["id"].get<std::string>() : "";
  }

  // Pulls the whole feed for `token` from `cursor`; returns the entries by id (last wins).
  std::map<std::string, Json> PullFeed(const std::string& token, std::string* cursor,
                                       int limit = 3, const Json& scope = nullptr) {
    std::map<std::string, Json> seen;
    int64_t last_seq = 0;
    for (int guard = 0; guard < 1000; ++guard) {
      std::string q = "/api/v1/changes?limit=" + std::to_string(limit);
      if (!cursor->empty()) q += "&since=" + *cursor;
      if (!scope.is_null()) q += "&scope=" + QueryText(scope.dump());
      auto a = Call("GET", q, token);
      EXPECT_EQ(a.status, 200) << a.body.dump();
      if (a.status != 200) break;
      for (const auto& ch : a.body["changes"]) {
        EXPECT_GT(ch["seq"].get<int64_t>(), last_seq) << "feed out of order";
        last_seq = ch["seq"].get<int64_t>();
        seen[ch["id"].get<std::string>()] = ch;
      }
      *cursor = a.body["next"].get<std::string>();
      if (!a.body["more"].get<bool>()) break;
    }
    return seen;
  }

  static std::string QueryText(const std::string& text) {
    std::string out;
    for (unsigned char ch : text) {
      if (std::isalnum(ch)) {
        out += static_cast<char>(ch);
      } else {
        out += fmt::format("%{:02X}", ch);
      }
    }
    return out;
  }

  FakeClock clock_{FromUnixSeconds(1'800'000'000)};
  SecureRandom random_;
  IdGenerator ids_{clock_, random_};
  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<api::RestApi> api_;
  std::unique_ptr<http::Server> server_;
  std::string base_;
  std::string admin_id_, alice_id_, bob_id_;
  std::string admin_, alice_, bob_;
};

TEST_F(ApiTest, HealthAndVersionNeedNoAuth) {
  auto h = Call("GET", "/healthz", "");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "ok");
  auto v = Call("GET", "/api/v1/version", "");
  EXPECT_EQ(v.status, 200);
  EXPECT_EQ(v.body["server_version"], TANDEM_VERSION);
  EXPECT_EQ(v.body["api"], 1);
  EXPECT_EQ(v.body["schema"], store_->SchemaVersion());
}

TEST_F(ApiTest, LoginFailuresAndMissingTokenAre401) {
  auto wrong = Call("POST", "/api/v1/login", "", R"({"login":"alice","password":"nope"})");
  auto unknown = Call("POST", "/api/v1/login", "", R"({"login":"zed","password":"nope"})");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.body["error"], "Unauthenticated");
  EXPECT_EQ(wrong.body["message"], unknown.body["message"]);
  EXPECT_EQ(Call("POST", "/api/v1/login", "", R"({"login":"alice"})").status, 400);

  auto none = Call("GET", "/api/v1/me", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers.Get("WWW-Authenticate").value_or(""), "Bearer realm=\"tandem\"");
  EXPECT_EQ(Call("GET", "/api/v1/activities", std::string(64, 'f')).status, 401);

  auto me = Call("GET", "/api/v1/me", alice_);
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(me.body["login"], "alice");
  EXPECT_FALSE(me.body.contains("password_hash"));
  EXPECT_EQ(Call("POST", "/api/v1/logout", alice_).status, 204);
  EXPECT_EQ(Call("GET", "/api/v1/me", alice_).status, 401);
}

TEST_F(ApiTest, ActivityLifecycleWithETagsAndPreconditions) {
  auto created =
      Call("POST", "/api/v1/activities", alice_,
           NewActivity("Kickoff", "2027-01-10T09:00:00Z", "2027-01-10T10:00:00Z").dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string id = created.body["id"];
  EXPECT_EQ(created.body["owner_id"], alice_id_);
  EXPECT_EQ(created.headers.Get("ETag").value_or(""), "\"1\"");
  EXPECT_EQ(created.headers.Get("Location").value_or(""), "/api/v1/activities/" + id);

  auto got = Call("GET", "/api/v1/activities/" + id, alice_);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body["subject"], "Kickoff");
  EXPECT_EQ(got.headers.Get("ETag").value_or(""), "\"1\"");

  // PATCH applies only the fields present.
  auto patched = Call("PATCH", "/api/v1/activities/" + id, alice_, R"({"location":"Room 1"})",
                      {{"If-Match", "\"1\""}});
  ASSERT_EQ(patched.status, 200) << patched.body.dump();
  EXPECT_EQ(patched.body["location"], "Room 1");
  EXPECT_EQ(patched.body["subject"], "Kickoff");
  EXPECT_EQ(patched.body["version"], 2);
  EXPECT_EQ(patched.headers.Get("ETag").value_or(""), "\"2\"");

  // A stale If-Match: 412 with the current record, nothing written.
  auto stale = Call("PUT", "/api/v1/activities/" + id, alice_, R"({"subject":"Lost"})",
                    {{"If-Match", "\"1\""}});
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(stale.body["error"], "PreconditionFailed");
  EXPECT_EQ(stale.body["current"]["version"], 2);
  EXPECT_EQ(stale.body["current"]["subject"], "Kickoff");
  EXPECT_EQ(stale.headers.Get("ETag").value_or(""), "\"2\"");
  EXPECT_EQ(Call("PUT", "/api/v1/activities/" + id, alice_, R"({"subject":"x"})",
                 {{"If-Match", "not-an-etag"}})
                .status,
            400);

  EXPECT_EQ(Call("DELETE", "/api/v1/activities/" + id, alice_, "", {{"If-Match", "\"1\""}}).status,
            412);
  EXPECT_EQ(Call("DELETE", "/api/v1/activities/" + id, alice_, "", {{"If-Match", "\"2\""}}).status,
            204);
  auto gone = Call("GET", "/api/v1/activities/" + id, alice_);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.body["error"], "NotFound");
  EXPECT_EQ(Call("DELETE", "/api/v1/activities/" + id, alice_).status, 404);
}

TEST_F(ApiTest, BadInputGivesFieldLevel400And404And405) {
  auto malformed = Call("POST", "/api/v1/accounts", alice_, "{\"name\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.body["error"], "InvalidArgument");
  EXPECT_EQ(Call("POST", "/api/v1/accounts", alice_, "[1,2]").status, 400);
  auto backwards = Call("POST", "/api/v1/activities", alice_,
                        NewActivity("x", "2027-01-10T10:00:00Z", "2027-01-10T09:00:00Z").dump());
  EXPECT_EQ(backwards.status, 400);
  EXPECT_EQ(backwards.body["message"].get<std::string>().rfind("end:", 0), 0u) << backwards.body;
  auto wrong_type = Call("POST", "/api/v1/accounts", alice_, R"({"name": 42})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(wrong_type.body["message"].get<std::string>().rfind("name", 0), 0u);
  EXPECT_EQ(Call("POST", "/api/v1/accounts", alice_, "").status, 400);

  EXPECT_EQ(Call("GET", "/api/v1/activities?limit=0", alice_).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/activities?limit=abc", alice_).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/activities?from=yesterday", alice_).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/accounts?from=2027-01-01T00:00:00Z", alice_).status, 400);

  auto no_route = Call("GET", "/api/v1/widgets", alice_);
  EXPECT_EQ(no_route.status, 404);
  EXPECT_EQ(no_route.body["error"], "NotFound");
  EXPECT_EQ(Call("GET", "/api/v1/contacts/01920000-0000-7000-8000-000000000000", alice_).status,
            404);
  auto not_allowed = Call("DELETE", "/api/v1/activities", alice_);
  EXPECT_EQ(not_allowed.status, 405);
  EXPECT_EQ(not_allowed.body["error"], "MethodNotAllowed");
  EXPECT_EQ(not_allowed.headers.Get("Allow").value_or(""), "GET, POST");
  EXPECT_EQ(Call("PROPFIND", "/api/v1/activities", alice_).status, 405);
}

TEST_F(ApiTest, OversizeBodyGets413AndServerGoesOn) {
  Json big{{"name", "Big"}, {"notes", std::string(100 << 10, 'n')}};
  auto a = Call("POST", "/api/v1/accounts", alice_, big.dump());
  EXPECT_EQ(a.status, 413);
  EXPECT_EQ(a.body["error"], "ResourceExhausted");
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
}

TEST_F(ApiTest, PaginationVisitsEveryRecordOnce) {
  std::set<std::string> made;
  for (int i = 0; i < 7; ++i) {
    made.insert(CreateId("accounts", alice_, Json{{"name", "Acme " + std::to_string(i)}}));
  }
  std::set<std::string> seen;
  std::string after;
  int pages = 0;
  do {
    auto a = Call(
        "GET", "/api/v1/accounts?limit=3&owner=me" + (after.empty() ? "" : "&page_after=" + after),
        alice_);
    ASSERT_EQ(a.status, 200) << a.body.dump();
    for (const auto& item : a.body["items"]) {
      EXPECT_TRUE(seen.insert(item["id"].get<std::string>()).second) << "duplicate";
    }
    after = a.body["next_page_after"];
    ++pages;
  } while (!after.empty() && pages < 10);
  EXPECT_EQ(seen, made);
  EXPECT_EQ(pages, 3);
}

TEST_F(ApiTest, ActivitiesFilteredByOverlappingRange) {
  std::string before = CreateId(
      "activities", alice_, NewActivity("before", "2027-03-01T08:00:00Z", "2027-03-01T09:00:00Z"));
  std::string straddle =
      CreateId("activities", alice_,
               NewActivity("straddle", "2027-03-01T09:30:00Z", "2027-03-01T10:30:00Z"));
  std::string inside = CreateId(
      "activities", alice_, NewActivity("inside", "2027-03-01T11:00:00Z", "2027-03-01T11:30:00Z"));
  std::string after = CreateId(
      "activities", alice_, NewActivity("after", "2027-03-01T12:00:00Z", "2027-03-01T13:00:00Z"));
  // "+" in the query would be a space: the offset form is percent-encoded.
  auto a = Call("GET",
                "/api/v1/activities?from=2027-03-01T10:00:00Z&to=2027-03-01T11%3A45%3A00%2B00%3A00",
                alice_);
  ASSERT_EQ(a.status, 200) << a.body.dump();
  std::set<std::string> ids;
  for (const auto& item : a.body["items"]) ids.insert(item["id"]);
  EXPECT_EQ(ids, (std::set<std::string>{straddle, inside}));
}

TEST_F(ApiTest, TimeRangeListsGiveTheOccurrencesOfSeries) {
  // Weekly on Mondays 09:00 Berlin since January; one EXDATE and one moved,
  // retitled occurrence (an override as a calendar writes it) in the range.
  Json series = NewActivity("Weekly review", "2027-01-04T08:00:00Z", "2027-01-04T09:00:00Z");
  series["time_zone"] = "Europe/Berlin";
  series["rrule"] = "FREQ=WEEKLY;COUNT=20";
  series["exdates"] = Json::array({"2027-03-08T08:00:00Z"});
  series["ical_extra"] =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n"
      "BEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID:20270315T080000Z\r\n"
      "DTSTART:20270315T100000Z\r\nDTEND:20270315T110000Z\r\nSUMMARY:Weekly review (moved)\r\n"
      "END:VEVENT\r\nEND:VCALENDAR\r\n";
  std::string id = CreateId("activities", alice_, series);
  std::string single = CreateId(
      "activities", alice_, NewActivity("single", "2027-03-02T08:00:00Z", "2027-03-02T09:00:00Z"));
  // March: the series began two months before; 1st, 8th (excluded), 15th (moved),
  // 22nd, 29th.
  auto a = Call("GET", "/api/v1/activities?from=2027-03-01T00:00:00Z&to=2027-04-01T00:00:00Z",
                alice_);
  ASSERT_EQ(a.status, 200) << a.body.dump();
  std::vector<std::string> starts;
  for (const auto& item : a.body["items"]) {
    if (item["id"] != id) {
      EXPECT_EQ(item["id"], single);
      EXPECT_FALSE(item.contains("occurrence"));
      continue;
    }
    starts.push_back(item["start"].get<std::string>());
    ASSERT_TRUE(item.contains("occurrence")) << item.dump();
    EXPECT_EQ(item["ical_extra"], "");
    if (item["occurrence"]["overridden"].get<bool>()) {
      EXPECT_EQ(item["subject"], "Weekly review (moved)");
      EXPECT_EQ(item["occurrence"]["recurrence_id"], "2027-03-15T08:00:00Z");
    } else {
      EXPECT_EQ(item["subject"], "Weekly review");
      EXPECT_EQ(item["occurrence"]["recurrence_id"], item["start"]);
    }
  }
  // The 29th is after the DST change: 09:00 Berlin is 07:00 UTC.
  EXPECT_EQ(starts, (std::vector<std::string>{"2027-03-01T08:00:00Z", "2027-03-15T10:00:00Z",
                                              "2027-03-22T08:00:00Z", "2027-03-29T07:00:00Z"}));
  // After the series' last occurrence (May 17th) it is not listed at all.
  auto later = Call("GET", "/api/v1/activities?from=2027-06-01T00:00:00Z&to=2027-07-01T00:00:00Z",
                    alice_);
  ASSERT_EQ(later.status, 200);
  EXPECT_TRUE(later.body["items"].empty()) << later.body.dump();
  // A range inside the series with no occurrence (a Tuesday): not listed.
  auto tuesday = Call("GET", "/api/v1/activities?from=2027-03-23T00:00:00Z&to=2027-03-24T00:00:00Z",
                      alice_);
  ASSERT_EQ(tuesday.status, 200);
  EXPECT_TRUE(tuesday.body["items"].empty()) << tuesday.body.dump();
  // expand=false: the stored records themselves.
  auto raw = Call("GET",
                  "/api/v1/activities?from=2027-03-01T00:00:00Z&to=2027-04-01T00:00:00Z"
                  "&expand=false",
                  alice_);
  ASSERT_EQ(raw.status, 200);
  ASSERT_EQ(raw.body["items"].size(), 2u) << raw.body.dump();
  auto bad = Call("GET", "/api/v1/activities?from=2027-03-01T00:00:00Z&expand=maybe", alice_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["field"], "expand");
}

TEST_F(ApiTest, RulesAndZonesTheSyncCannotUseAreRefusedNamingTheField) {
  auto refused = [&](Json body, const std::string& field) {
    auto a = Call("POST", "/api/v1/activities", alice_, body.dump());
    EXPECT_EQ(a.status, 400) << body.dump() << " -> " << a.body.dump();
    EXPECT_EQ(a.body["field"], field) << a.body.dump();
  };
  Json base = NewActivity("x", "2027-03-01T08:00:00Z", "2027-03-01T09:00:00Z");
  Json garbage = base;
  garbage["rrule"] = "garbage";
  refused(garbage, "rrule");
  Json mars = base;
  mars["time_zone"] = "Mars/Olympus";
  refused(mars, "time_zone");
  Json lone = base;
  lone["exdates"] = Json::array({"2027-03-01T08:00:00Z"});
  refused(lone, "exdates");
  // Updates go through the same checks; nothing is stored.
  std::string id = CreateId("activities", alice_, base);
  auto patched = Call("PATCH", "/api/v1/activities/" + id, alice_,
                      Json{{"rrule", "FREQ=SOMETIMES"}}.dump());
  EXPECT_EQ(patched.status, 400) << patched.body.dump();
  EXPECT_EQ(patched.body["field"], "rrule");
  auto now = Call("GET", "/api/v1/activities/" + id, alice_);
  EXPECT_EQ(now.body["rrule"], "");
  EXPECT_EQ(now.body["version"], 1);
  // Untitled activities are valid (calendars hold them).
  Json untitled = base;
  untitled["subject"] = "";
  EXPECT_EQ(Call("POST", "/api/v1/activities", alice_, untitled.dump()).status, 201);
}

TEST_F(ApiTest, UsersSetTheirOwnTimeZone) {
  auto me = Call("PATCH", "/api/v1/users/" + alice_id_, alice_,
                 Json{{"time_zone", "Europe/Berlin"}}.dump());
  ASSERT_EQ(me.status, 200) << me.body.dump();
  EXPECT_EQ(me.body["time_zone"], "Europe/Berlin");
  // Windows names resolve to the IANA name; unknown zones are refused.
  auto windows = Call("PATCH", "/api/v1/users/" + alice_id_, alice_,
                      Json{{"time_zone", "W. Europe Standard Time"}}.dump());
  ASSERT_EQ(windows.status, 200) << windows.body.dump();
  EXPECT_EQ(windows.body["time_zone"], "Europe/Berlin");
  auto mars = Call("PATCH", "/api/v1/users/" + alice_id_, alice_,
                   Json{{"time_zone", "Mars/Olympus"}}.dump());
  EXPECT_EQ(mars.status, 400);
  EXPECT_EQ(mars.body["field"], "time_zone");
  EXPECT_EQ(store_->GetUser(alice_id_)->time_zone, "Europe/Berlin");
}

TEST_F(ApiTest, AuthorizationMatrix) {
  Json secret = NewActivity("Doctor", "2027-02-01T09:00:00Z", "2027-02-01T10:00:00Z");
  secret["private"] = true;
  std::string private_activity = CreateId("activities", bob_, secret);
  std::string unshared_account =
      CreateId("accounts", bob_, Json{{"name", "Bob's secret"}, {"shared", false}});
  std::string shared_contact = CreateId("contacts", bob_, Json{{"last_name", "Public"}});

  // Alice can neither read, change, delete nor list them.
  for (const std::string& path : std::vector<std::string>{"/api/v1/activities/" + private_activity,
                                                          "/api/v1/accounts/" + unshared_account}) {
    EXPECT_EQ(Call("GET", path, alice_).status, 404) << path;
    EXPECT_EQ(Call("PATCH", path, alice_, R"({"notes":"x"})").status, 404) << path;
    EXPECT_EQ(Call("DELETE", path, alice_).status, 404) << path;
  }
  for (const std::string& q :
       std::vector<std::string>{"/api/v1/activities", "/api/v1/activities?owner=" + bob_id_,
                                "/api/v1/accounts", "/api/v1/accounts?owner=" + bob_id_}) {
    auto list = Call("GET", q, alice_);
    ASSERT_EQ(list.status, 200);
    for (const auto& item : list.body["items"]) {
      EXPECT_NE(item["id"], private_activity) << q;
      EXPECT_NE(item["id"], unshared_account) << q;
    }
  }
  // Shared records are readable and writable by everyone.
  EXPECT_EQ(Call("GET", "/api/v1/contacts/" + shared_contact, alice_).status, 200);
  EXPECT_EQ(
      Call("PATCH", "/api/v1/contacts/" + shared_contact, alice_, R"({"notes":"met"})").status,
      200);

  // A record never visible to Alice never appears in her feed, not even as a
  // removal; one she saw and may no longer read comes as a content-free removal.
  std::string was_shared =
      CreateId("accounts", bob_, Json{{"name", "Shown, then hidden"}, {"shared", true}});
  std::string gone_unseen =
      CreateId("accounts", bob_, Json{{"name", "Never shown"}, {"shared", false}});
  std::string cursor;
  auto before = PullFeed(alice_, &cursor);
  EXPECT_FALSE(before.count(private_activity));
  EXPECT_FALSE(before.count(unshared_account));
  ASSERT_TRUE(before.count(was_shared));
  EXPECT_EQ(before[was_shared]["op"], "upsert");
  EXPECT_EQ(Call("PATCH", "/api/v1/accounts/" + was_shared, bob_, R"({"shared":false})").status,
            200);
  EXPECT_EQ(Call("PATCH", "/api/v1/activities/" + private_activity, bob_, R"({"notes":"x"})").status,
            200);
  EXPECT_EQ(Call("DELETE", "/api/v1/accounts/" + gone_unseen, bob_).status, 204);
  auto feed = PullFeed(alice_, &cursor);
  EXPECT_FALSE(feed.count(private_activity));
  EXPECT_FALSE(feed.count(unshared_account));
  EXPECT_FALSE(feed.count(gone_unseen));
  ASSERT_TRUE(feed.count(was_shared));
  EXPECT_EQ(feed[was_shared]["op"], "remove");
  EXPECT_FALSE(feed[was_shared].contains("record"));
  std::string fresh;
  auto full = PullFeed(alice_, &fresh);
  EXPECT_EQ(full[shared_contact]["op"], "upsert");
  EXPECT_EQ(full[shared_contact]["record"]["notes"], "met");
  EXPECT_FALSE(full.count(private_activity));
  // An admin's feed holds unshared records, never another user's private activity.
  std::string admin_cursor;
  auto admin_feed = PullFeed(admin_, &admin_cursor);
  EXPECT_EQ(admin_feed[was_shared]["op"], "upsert");
  EXPECT_EQ(admin_feed[unshared_account]["op"], "upsert");
  EXPECT_EQ(admin_feed[gone_unseen]["op"], "delete");
  EXPECT_FALSE(admin_feed.count(private_activity));
  // Bob sees his own.
  std::string bob_cursor;
  auto bob_feed = PullFeed(bob_, &bob_cursor);
  EXPECT_EQ(bob_feed[private_activity]["op"], "upsert");
  EXPECT_EQ(bob_feed[private_activity]["record"]["subject"], "Doctor");

  // Admins see unshared records, but never another user's private activity.
  EXPECT_EQ(Call("GET", "/api/v1/accounts/" + unshared_account, admin_).status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/activities/" + private_activity, admin_).status, 404);

  // A non-admin cannot create records for someone else, nor give one away.
  Json for_bob{{"name", "Gift"}, {"owner_id", bob_id_}};
  EXPECT_EQ(Call("POST", "/api/v1/accounts", alice_, for_bob.dump()).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/accounts", admin_, for_bob.dump()).status, 201);
  std::string mine = CreateId("accounts", alice_, Json{{"name", "Mine"}});
  EXPECT_EQ(
      Call("PATCH", "/api/v1/accounts/" + mine, alice_, Json{{"owner_id", bob_id_}}.dump()).status,
      403);

  // Only admins manage users.
  EXPECT_EQ(Call("GET", "/api/v1/users", alice_).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/users", alice_, R"({"login":"eve","password":"pw"})").status,
            403);
  EXPECT_EQ(Call("GET", "/api/v1/users/" + bob_id_, alice_).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/users/" + alice_id_, alice_).status, 200);
  EXPECT_EQ(Call("PATCH", "/api/v1/users/" + alice_id_, alice_, R"({"role":"admin"})").status, 403);
  EXPECT_EQ(Call("PATCH", "/api/v1/users/" + bob_id_, alice_, R"({"email":"x@y.z"})").status, 403);
  // A user changes their own password.
  EXPECT_EQ(Call("PATCH", "/api/v1/users/" + alice_id_, alice_, R"({"password":"new-pw"})").status,
            200);
  EXPECT_EQ(Call("POST", "/api/v1/login", "", R"({"login":"alice","password":"pw-alice"})").status,
            401);
  EXPECT_FALSE(Login("alice", "new-pw").empty());
  EXPECT_EQ(Call("DELETE", "/api/v1/users/" + bob_id_, alice_).status, 403);
  auto users = Call("GET", "/api/v1/users", admin_);
  EXPECT_EQ(users.status, 200);
  EXPECT_EQ(users.body["items"].size(), 3u);
  auto eve = Call("POST", "/api/v1/users", admin_, R"({"login":"eve","password":"pw-eve"})");
  ASSERT_EQ(eve.status, 201) << eve.body.dump();
  EXPECT_EQ(Call("POST", "/api/v1/users", admin_, R"({"login":"EVE","password":"x"})").status, 409);
  std::string eve_token = Login("eve", "pw-eve");
  EXPECT_EQ(Call("GET", "/api/v1/me", eve_token).status, 200);
  // Disabling a user ends their sessions at once.
  EXPECT_EQ(Call("PATCH", "/api/v1/users/" + eve.body["id"].get<std::string>(), admin_,
                 R"({"disabled":true})")
                .status,
            200);
  EXPECT_EQ(Call("GET", "/api/v1/me", eve_token).status, 401);
  // A user who owns records cannot be deleted.
  EXPECT_EQ(Call("DELETE", "/api/v1/users/" + bob_id_, admin_).status, 409);
  EXPECT_EQ(Call("DELETE", "/api/v1/users/" + eve.body["id"].get<std::string>(), admin_).status,
            204);
}

TEST_F(ApiTest, ChangeFeedOrderDeletionsAndResync) {
  std::string a1 = CreateId("accounts", alice_, Json{{"name", "One"}});
  std::string a2 = CreateId("accounts", alice_, Json{{"name", "Two"}});
  std::string act = CreateId("activities", alice_,
                             NewActivity("Call", "2027-01-01T10:00:00Z", "2027-01-01T10:15:00Z"));
  std::string cursor;
  auto first = PullFeed(alice_, &cursor, 2);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[a1]["op"], "upsert");
  EXPECT_EQ(first[a1]["entity"], "accounts");
  EXPECT_EQ(first[act]["entity"], "activities");
  EXPECT_LT(first[a1]["seq"], first[a2]["seq"]);
  EXPECT_LT(first[a2]["seq"], first[act]["seq"]);

  // Nothing new: an empty page with the same position.
  std::string same = cursor;
  EXPECT_TRUE(PullFeed(alice_, &same).empty());

  EXPECT_EQ(Call("PATCH", "/api/v1/accounts/" + a1, alice_, R"({"name":"One!"})").status, 200);
  EXPECT_EQ(Call("DELETE", "/api/v1/accounts/" + a2, alice_).status, 204);
  std::string before_delete = cursor;
  auto next = PullFeed(alice_, &cursor);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[a1]["record"]["name"], "One!");
  EXPECT_EQ(next[a2]["op"], "delete");
  EXPECT_FALSE(next[a2].contains("record"));

  // Entity filter.
  auto only = Call("GET", "/api/v1/changes?entity=activities", alice_);
  ASSERT_EQ(only.status, 200);
  ASSERT_EQ(only.body["changes"].size(), 1u);
  EXPECT_EQ(only.body["changes"][0]["id"], act);
  EXPECT_EQ(Call("GET", "/api/v1/changes?entity=users", alice_).status, 400);

  // Foreign or malformed cursors.
  auto foreign = Call("GET", "/api/v1/changes?since=someotherdb.1", alice_);
  EXPECT_EQ(foreign.status, 410);
  EXPECT_EQ(foreign.body["error"], "ResyncRequired");
  EXPECT_EQ(Call("GET", "/api/v1/changes?since=garbage", alice_).status, 400);

  // After the retention the tombstone is pruned: the old cursor must resync.
  clock_.Advance(std::chrono::hours(25));
  ASSERT_TRUE(api_->Maintain().ok());
  EXPECT_EQ(Call("GET", "/api/v1/me", alice_).status, 401);  // the 12 h session ended too
  alice_ = Login("alice", "pw-alice");
  auto stale = Call("GET", "/api/v1/changes?since=" + before_delete, alice_);
  EXPECT_EQ(stale.status, 410) << stale.body.dump();
  EXPECT_EQ(stale.body["error"], "ResyncRequired");
  // Starting over works.
  std::string fresh;
  auto all = PullFeed(alice_, &fresh);
  EXPECT_EQ(all.size(), 2u);
}

TEST_F(ApiTest, FeedScopeLeavesOutWhatIsOutsideTheReadersDataGroups) {
  std::string mine = CreateId("accounts", alice_, Json{{"name", "Mine"}});
  std::string given = CreateId("accounts", alice_, Json{{"name", "Given away later"}});
  std::string theirs = CreateId("accounts", bob_, Json{{"name", "Bob's, shared"}});
  std::string proposal =
      CreateId("opportunities", alice_, Json{{"name", "P"}, {"stage", "proposal"}});
  std::string won = CreateId("opportunities", alice_, Json{{"name", "W"}, {"stage", "won"}});
  // The clock is 2027-01-15; 90 days back is mid-October 2026.
  Json recent_body = NewActivity("Recent", "2027-01-10T10:00:00Z", "2027-01-10T11:00:00Z");
  recent_body["description"] = "a long text the laptop does not need";
  std::string recent = CreateId("activities", alice_, recent_body);
  std::string old = CreateId("activities", alice_,
                             NewActivity("Old", "2026-06-01T10:00:00Z", "2026-06-01T11:00:00Z"));

  Json scope = {{"accounts", {{"owner", "all"}}},
                {"opportunities", {{"stages", {"proposal"}}}},
                {"activities", {{"days_back", 90}, {"excluded_fields", {"description"}}}}};
  std::string cursor;
  auto first = PullFeed(alice_, &cursor, 3, scope);
  EXPECT_EQ(first.size(), 5u);
  for (const auto& id : {mine, given, theirs, proposal, recent}) {
    ASSERT_TRUE(first.count(id)) << id;
    EXPECT_EQ(first[id]["op"], "upsert");
  }
  EXPECT_FALSE(first.count(won));  // from the start: out of scope is simply absent
  EXPECT_FALSE(first.count(old));
  EXPECT_FALSE(first[recent]["record"].contains("description"));
  EXPECT_EQ(first[recent]["record"]["subject"], "Recent");

  // Incremental: what left the scope is "remove", what entered it arrives.
  EXPECT_EQ(Call("PATCH", "/api/v1/opportunities/" + proposal, alice_, R"({"stage":"lost"})").status, 200);
  EXPECT_EQ(Call("PATCH", "/api/v1/opportunities/" + won, alice_, R"({"notes":"reopened","stage":"proposal"})").status, 200);
  EXPECT_EQ(Call("DELETE", "/api/v1/accounts/" + mine, alice_).status, 204);
  auto next = PullFeed(alice_, &cursor, 3, scope);
  EXPECT_EQ(next.size(), 3u);
  EXPECT_EQ(next[proposal]["op"], "remove");
  EXPECT_FALSE(next[proposal].contains("record"));
  EXPECT_EQ(next[won]["op"], "upsert");
  EXPECT_EQ(next[mine]["op"], "delete");

  // "My data" only (the default data groups): read by owner; another user's
  // shared account is not sent, and a record given away arrives as a delete.
  std::string my_cursor;
  auto own = PullFeed(alice_, &my_cursor, 3, Json::object());
  EXPECT_FALSE(own.count(theirs));
  EXPECT_TRUE(own.count(given));
  EXPECT_FALSE(own.count(old));
  EXPECT_EQ(Call("PATCH", "/api/v1/accounts/" + given, admin_,
                 Json{{"owner_id", bob_id_}}.dump()).status, 200);
  auto after = PullFeed(alice_, &my_cursor, 3, Json::object());
  ASSERT_TRUE(after.count(given));
  EXPECT_EQ(after[given]["op"], "delete");

  // A malformed scope is refused with the field named.
  auto bad = Call("GET", "/api/v1/changes?scope=" + QueryText(R"({"contacts":{"owner":"them"}})"), alice_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["message"].get<std::string>().find("contacts.owner"), std::string::npos)
      << bad.body.dump();
  EXPECT_EQ(Call("GET", "/api/v1/changes?scope=%7Bnot", alice_).status, 400);
}

TEST_F(ApiTest, ConcurrentIfMatchUpdatesNeverVanish) {
  std::string id = CreateId("accounts", alice_, Json{{"name", "Counter"}, {"notes", "0"}});
  constexpr int kThreads = 6;
  constexpr int kRounds = 15;
  std::atomic<int> ok{0}, conflicts{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        auto got = Call("GET", "/api/v1/accounts/" + id, alice_);
        if (got.status != 200) {
          ++other;
          continue;
        }
        int n = std::stoi(got.body["notes"].get<std::string>());
        auto put = Call("PATCH", "/api/v1/accounts/" + id, alice_,
                        Json{{"notes", std::to_string(n + 1)}}.dump(),
                        {{"If-Match", got.headers.Get("ETag").value_or("")}});
        if (put.status == 200) {
          ++ok;
        } else if (put.status == 412) {
          ++conflicts;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok + conflicts, kThreads * kRounds);
  auto final_state = Call("GET", "/api/v1/accounts/" + id, alice_);
  // Every 200 is one increment that survived: none was lost or doubled.
  EXPECT_EQ(final_state.body["notes"], std::to_string(ok.load()));
  EXPECT_EQ(final_state.body["version"], 1 + ok.load());
}

TEST_F(ApiTest, MutatedBodiesGive201Or400NeverAServerError) {
  const std::string valid =
      NewActivity("Fuzz", "2027-05-01T09:00:00Z", "2027-05-01T10:00:00Z").dump();
  SeededRandom rng(42);
  const std::string alphabet = "{}[]\":,0123456789-TZtrufalsn \\\x00\xff\xc3";
  std::map<int, int> seen;
  const std::string target = CreateId("activities", alice_, Json::parse(valid));
  for (int i = 0; i < 300; ++i) {
    std::string body = valid;
    int edits = 1 + static_cast<int>(rng.Uniform(4));
    for (int e = 0; e < edits && !body.empty(); ++e) {
      size_t pos = rng.Uniform(body.size());
      switch (rng.Uniform(3)) {
        case 0:
          body[pos] = alphabet[rng.Uniform(alphabet.size())];
          break;
        case 1:
          body.erase(pos, 1 + rng.Uniform(5));
          break;
        default:
          body.insert(pos, 1, alphabet[rng.Uniform(alphabet.size())]);
          break;
      }
    }
    const std::string method = i % 2 ? "POST" : "PATCH";
    std::string path = "/api/v1/activities";
    if (method == "PATCH") path += "/" + target;
    auto a = Call(method, path, alice_, body);
    ++seen[a.status];
    EXPECT_TRUE(a.status == 201 || a.status == 200 || a.status == 400)
        << a.status << " for " << body;
    if (a.status == 400) {
      EXPECT_EQ(a.body["error"], "InvalidArgument");
    }
  }
  EXPECT_GT(seen[400], 0);
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
}

// Every field of every JSON body the API takes, given each wrong type in turn:
// a 4xx that names the field (or accepts a value it can use), never a 5xx.
TEST_F(ApiTest, WrongTypedFieldsOnEveryRouteAre4xxNamingTheField) {
  const std::string account = CreateId("accounts", alice_, Json{{"name", "Acme"}});
  const std::string contact = CreateId("contacts", alice_, Json{{"first_name", "Ann"}, {"last_name", "Lee"}});
  const std::string opportunity =
      CreateId("opportunities", alice_, Json{{"name", "Deal"}, {"account_id", account}});
  const std::string activity =
      CreateId("activities", alice_, NewActivity("Call", "2027-05-01T09:00:00Z", "2027-05-01T10:00:00Z"));
  struct Route {
    std::string method, path, token;
    Json body;
  };
  const Json mutation = Json{{"id", "m-1"}, {"entity", "accounts"}, {"record_id", "r-1"},
                             {"op", "create"}, {"base_version", nullptr},
                             {"fields", Json{{"name", "Beta"}}}};
  std::vector<Route> routes = {
      {"POST", "/api/v1/login", "", Json{{"login", "alice"}, {"password", "pw-alice"}}},
      {"POST", "/api/v1/accounts", alice_, Json{{"name", "Acme 2"}, {"phone", "x"}, {"notes", "n"}}},
      {"PATCH", "/api/v1/accounts/" + account, alice_, Json{{"name", "Acme 3"}, {"shared", true}}},
      {"POST", "/api/v1/contacts", alice_,
       Json{{"first_name", "Bo"}, {"last_name", "Yu"}, {"email", "bo@example.org"}, {"account_id", account}}},
      {"PATCH", "/api/v1/contacts/" + contact, alice_, Json{{"phone", "123"}, {"owner_id", alice_id_}}},
      {"POST", "/api/v1/opportunities", alice_,
       Json{{"name", "Deal 2"}, {"account_id", account}, {"amount_cents", 100}, {"stage", "prospecting"}}},
      {"PATCH", "/api/v1/opportunities/" + opportunity, alice_, Json{{"amount_cents", 5}}},
      {"POST", "/api/v1/activities", alice_,
       Json{{"subject", "Visit"}, {"start", "2027-05-02T09:00:00Z"}, {"end", "2027-05-02T10:00:00Z"},
            {"location", "Harbour"}, {"private", false}, {"reminder_minutes", 15}}},
      {"PATCH", "/api/v1/activities/" + activity, alice_, Json{{"subject", "Call 2"}, {"all_day", false}}},
      {"POST", "/api/v1/users", admin_,
       Json{{"login", "carol"}, {"password", "pw-carol-long"}, {"display_name", "Carol"}, {"role", "user"}}},
      {"PATCH", "/api/v1/users/" + bob_id_, admin_, Json{{"display_name", "Bob B"}, {"time_zone", "Europe/Paris"}}},
      {"POST", "/api/v1/mutations", alice_, Json{{"mutations", Json::array({mutation})}}},
  };
  const std::vector<Json> wrong = {Json(5), Json(2.5), Json("text"), Json::array({1}), Json::object(),
                                   Json(true)};
  int checked = 0, refused = 0;
  std::vector<std::string> accepted;  // wrong-typed values a route took: listed on failure
  for (const Route& route : routes) {
    // The fields to spoil: the body's own, and for a mutation batch those of its first entry.
    std::vector<std::vector<std::string>> paths;
    for (const auto& [k, v] : route.body.items()) paths.push_back({k});
    if (route.path == "/api/v1/mutations")
      for (const auto& [k, v] : mutation.items()) paths.push_back({"mutations", k});
    for (const auto& path : paths) {
      for (const Json& value : wrong) {
        Json body = route.body;
        if (path.size() == 1) {
          if (body[path[0]].type() == value.type()) continue;
          body[path[0]] = value;
        } else {
          if (body["mutations"][0][path[1]].type() == value.type()) continue;
          body["mutations"][0][path[1]] = value;
        }
        auto a = Call(route.method, route.path, route.token, body.dump());
        ++checked;
        const std::string what = route.method + " " + route.path + " " + body.dump() + " -> " +
                                 std::to_string(a.status) + " " + a.body.dump();
        ASSERT_LT(a.status, 500) << what;
        // A mutation batch answers 200 with a per-mutation outcome.
        std::string message = a.body.is_object() ? a.body.value("message", std::string()) : "";
        if (route.path == "/api/v1/mutations" && a.status == 200 && path.size() == 2 &&
            a.body.contains("results") && a.body["results"].is_array() && !a.body["results"].empty()) {
          const Json& r = a.body["results"][0];
          if (r.value("outcome", std::string()) != "rejected") continue;
          message = r.value("message", std::string());
        } else if (a.status < 400) {
          accepted.push_back(what);
          continue;
        }
        ++refused;
        EXPECT_NE(message.find(path.back()), std::string::npos) << "the field is not named: " << what;
      }
    }
  }
  EXPECT_GT(checked, 150);
  EXPECT_GT(refused, checked / 2);
  // Only a decimal where a whole number is expected may be taken (as JSON has one
  // number type, 2.5 for an integer field is refused, 5 for a decimal one is fine).
  for (const auto& a : accepted) ADD_FAILURE() << "accepted: " << a;
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
}

// Raw bytes to the server: returns what it answered before closing.
std::string RawExchange(uint16_t port, const std::string& bytes) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer(bytes));
  std::string out;
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(out), ec);  // until the server closes
  return out;
}

TEST_F(ApiTest, GarbageAndSlowClientsDoNotHangTheServer) {
  std::string garbage = RawExchange(server_->port(), "\x01\x02 nonsense \r\n\r\n");
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400", 0), 0u) << garbage;
  EXPECT_NE(garbage.find("\"error\":\"InvalidArgument\""), std::string::npos);

  // A client that never finishes its request is cut off after the read timeout
  // (the exchange returns), while others are served meanwhile.
  std::thread slow([&] {
    std::string answer =
        RawExchange(server_->port(),
                    "POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{");
    EXPECT_EQ(answer, "");
  });
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  slow.join();
  // Header without end, a lying Content-Length, binary junk: still serving.
  RawExchange(server_->port(), std::string(20000, 'A') + "\r\n\r\n");
  EXPECT_EQ(Call("GET", "/api/v1/me", alice_).status, 200);
}

// --- the tandemd binary

struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

pid_t Spawn(const std::vector<std::string>& args, const fs::path& log) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::freopen(log.c_str(), "w", stderr);
    (void)f;
    dup2(fileno(stderr), STDOUT_FILENO);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(TandemdTest, UsageErrorsExitWith2) {
  fs::path dir = fs::temp_directory_path() / ("tandemd-usage-" + std::to_string(getpid()));
  fs::create_directories(dir);
  EXPECT_EQ(WaitExit(Spawn({TANDEMD_PATH, "--threads", "-3"}, dir / "log1")), 2);
  EXPECT_EQ(WaitExit(Spawn({TANDEMD_PATH, "--listen", "nonsense"}, dir / "log2")), 2);
  std::ofstream(dir / "bad.toml") << "listen = [1, 2\n";
  EXPECT_EQ(WaitExit(Spawn({TANDEMD_PATH, "--config", (dir / "bad.toml").string()}, dir / "log3")),
            2);
  EXPECT_EQ(WaitExit(Spawn({TANDEMD_PATH, "--help"}, dir / "log4")), 0);
  fs::remove_all(dir);
}

TEST(TandemdTest, ServesDemoDataAndStopsCleanlyOnSigterm) {
  fs::path dir = fs::temp_directory_path() / ("tandemd-run-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "tandemd.toml") << "listen = \"127.0.0.1:0\"\nthreads = 2\n"
                                      << "[admin]\nlogin = \"boss\"\npassword = \"boss-pw\"\n";
  Child child;
  child.pid = Spawn({TANDEMD_PATH, "--config", (dir / "tandemd.toml").string(), "--data-dir",
                     (dir / "data").string(), "--demo"},
                    dir / "log");
  // Wait for the "listening on" line (bounded).
  std::string port;
  for (int i = 0; i < 200 && port.empty(); ++i) {
    std::ifstream in(dir / "log");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::smatch m;
    if (std::regex_search(text, m, std::regex("listening on 127\\.0\\.0\\.1:(\\d+)")))
      port = m[1];
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(port.empty()) << "tandemd did not start";
  http::ClientOptions options;
  options.retry.max_attempts = 1;
  http::Client client(options);
  std::string base = "http://127.0.0.1:" + port;
  auto login = client.Send({.method = "POST",
                            .url = base + "/api/v1/login",
                            .body = R"({"login":"demo","password":"demo"})"});
  ASSERT_TRUE(login.ok());
  ASSERT_EQ(login->status, 200) << login->body;
  std::string token = Json::parse(login->body)["token"];
  auto list = client.Send({.method = "GET",
                           .url = base + "/api/v1/activities?limit=100",
                           .headers = {{"Authorization", "Bearer " + token}}});
  ASSERT_TRUE(list.ok());
  Json items = Json::parse(list->body)["items"];
  EXPECT_GE(items.size(), 6u);
  bool all_day = false, is_private = false, reminder = false;
  for (const auto& a : items) {
    all_day |= a["all_day"].get<bool>();
    is_private |= a["private"].get<bool>();
    reminder |= !a["reminder_minutes"].is_null();
  }
  EXPECT_TRUE(all_day && is_private && reminder);
  auto admin = client.Send({.method = "POST",
                            .url = base + "/api/v1/login",
                            .body = R"({"login":"boss","password":"boss-pw"})"});
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->status, 200);
  // A write just before SIGTERM is not lost.
  auto created = client.Send({.method = "POST",
                              .url = base + "/api/v1/accounts",
                              .headers = {{"Authorization", "Bearer " + token}},
                              .body = R"({"name":"Last words"})"});
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->status, 201);
  // The CRM's data is tandemd's user's alone: the folder 0700, every file 0600
  // (the database, its WAL and shared-memory files, the key).
  EXPECT_EQ(static_cast<unsigned>(fs::status(dir / "data").permissions()) & 0777u, 0700u);
  int files = 0;
  for (const auto& f : fs::directory_iterator(dir / "data")) {
    ++files;
    EXPECT_EQ(static_cast<unsigned>(f.status().permissions()) & 0777u, 0600u) << f.path();
  }
  EXPECT_GE(files, 3);
  kill(child.pid, SIGTERM);
  EXPECT_EQ(WaitExit(child.pid), 0);
  child.pid = -1;

  // Reopen the database: the write is there and demo data was not duplicated.
  SystemClock clock;
  SecureRandom random;
  IdGenerator ids(clock, random);
  auto store = store::OpenSqliteStore(
      {.path = (dir / "data" / "tandem.db").string(), .clock = &clock, .ids = &ids});
  ASSERT_TRUE(store.ok());
  auto accounts = (*store)->ListAccounts({});
  ASSERT_TRUE(accounts.ok());
  bool found = false;
  for (const auto& a : accounts->items) found |= a.name == "Last words";
  EXPECT_TRUE(found);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tandem
