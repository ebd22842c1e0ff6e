// The sync REST routes (sync_routes.cc) and CalendarSync behind them, through the
// router as the HTTP server calls it (no sockets): every access rule, every
// refusal of bad input, and a pair's life (add, run, trash, restore, guard,
// remove) on a vdir folder.
#include "apps/sync_routes.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api/auth.h"
#include "apps/calendar_sync.h"
#include "core/credential_vault.h"
#include "core/random.h"
#include "ical/ical.h"
#include "model/json.h"
#include "store/sqlite/sqlite_store.h"

namespace tandem::apps {
namespace {

namespace fs = std::filesystem;
using model::Json;

struct Answer {
  int status = 0;
  Json body;
  http::HeaderList headers;
  std::string Message() const {
    return body.is_object() ? body.value("message", std::string()) : std::string();
  }
};

class SyncRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tandem-sync-routes-" + random_.Hex(6));
    fs::create_directories(dir_);
    db_path_ = (dir_ / "tandem.db").string();
    auto s = store::sqlite::SqliteStore::Open(
        {.path = db_path_, .clock = &clock_, .ids = &ids_, .series_end = &ical::SeriesEnd});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    auto vault = CredentialVault::Open({.key_file = (dir_ / "secret.key").string()}, random_);
    ASSERT_TRUE(vault.ok()) << vault.status().ToString();
    vault_ = std::make_unique<CredentialVault>(std::move(*vault));
    admin_id_ = MakeUser("root", model::Role::kAdmin);
    alice_id_ = MakeUser("alice", model::Role::kUser);
    bob_id_ = MakeUser("bob", model::Role::kUser);

    CalendarSyncOptions o;
    o.store = store_.get();
    o.clock = &clock_;
    o.ids = &ids_;
    o.random = &random_;
    o.vault = vault_.get();
    o.database_path = db_path_;
    o.workers = 2;
    o.node_name = "test-node";
    // o.user_addresses: the default, public and private addresses only for users.
    auto sync = CalendarSync::Start(o);
    ASSERT_TRUE(sync.ok()) << sync.status().ToString();
    sync_ = std::move(*sync);
    auth_ = std::make_unique<api::Authenticator>(store_.get(), &clock_, &random_,
                                                 std::chrono::hours(1), api::PasswordCost::Fast());
    RegisterSyncRoutes(&router_, auth_.get(), sync_.get(), &clock_);
    admin_ = Login("root");
    alice_ = Login("alice");
    bob_ = Login("bob");
  }

  void TearDown() override {
    if (sync_) sync_->Stop();
    sync_.reset();
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

  std::string Login(const std::string& login) {
    auto r = auth_->Login(login, "pw-" + login);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->token : "";
  }

  // One request through the router; waits for a deferred answer.
  Answer Call(const std::string& method, const std::string& path_and_query,
              const std::string& token, const std::string& body = "") {
    http::ServerRequest req;
    req.method = method;
    req.target = path_and_query;
    auto q = path_and_query.find('?');
    req.path = path_and_query.substr(0, q);
    if (q != std::string::npos) {
      std::string rest = path_and_query.substr(q + 1);
      size_t at = 0;
      while (at <= rest.size()) {
        size_t amp = rest.find('&', at);
        std::string kv = rest.substr(at, amp == std::string::npos ? std::string::npos : amp - at);
        size_t eq = kv.find('=');
        req.query.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
        if (amp == std::string::npos) break;
        at = amp + 1;
      }
    }
    if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
    req.body = body;
    auto promise = std::make_shared<std::promise<http::ServerResponse>>();
    auto answered = std::make_shared<std::once_flag>();
    auto future = promise->get_future();
    router_.Dispatch(&req, [promise, answered](http::ServerResponse r) {
      std::call_once(*answered, [&] { promise->set_value(std::move(r)); });
    });
    Answer a;
    if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      ADD_FAILURE() << method << " " << path_and_query << ": no answer in 60 s";
      return a;
    }
    http::ServerResponse r = future.get();
    a.status = r.status;
    a.headers = r.headers;
    if (!r.body.empty()) a.body = Json::parse(r.body, nullptr, false);
    return a;
  }

  // A vdir pair of `user_id` made by the admin, initialized at once.
  std::string AddVdirPair(const std::string& user_id, const fs::path& folder) {
    fs::create_directories(folder);
    Answer a = Call("POST", "/api/v1/sync/pairs?init=true", admin_,
                    Json{{"provider", "vdir"}, {"calendar", folder.string()}, {"user_id", user_id}}
                        .dump());
    EXPECT_EQ(a.status, 201) << a.body.dump();
    return a.status == 201 ? a.body["id"].get<std::string>() : "";
  }

  std::string CreateActivity(const std::string& owner, const std::string& subject, int day) {
    model::Activity act;
    act.meta.owner_id = owner;
    act.subject = subject;
    act.start = clock_.Now() + std::chrono::hours(24 * day);
    act.end = act.start + std::chrono::hours(1);
    auto made = store_->Create(act);
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    return made.ok() ? made->meta.id : "";
  }

  static std::vector<fs::path> IcsFiles(const fs::path& folder) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(folder))
      if (e.path().extension() == ".ics") out.push_back(e.path());
    return out;
  }

  int PairCount() {
    auto pairs = sync_->service().ListPairs("");
    EXPECT_TRUE(pairs.ok());
    return pairs.ok() ? static_cast<int>(pairs->size()) : -1;
  }

  SystemClock clock_;
  SecureRandom random_;
  IdGenerator ids_{clock_, random_};
  fs::path dir_;
  std::string db_path_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  std::unique_ptr<CredentialVault> vault_;
  std::unique_ptr<CalendarSync> sync_;
  std::unique_ptr<api::Authenticator> auth_;
  http::Router router_;
  std::string admin_id_, alice_id_, bob_id_;
  std::string admin_, alice_, bob_;
};

TEST_F(SyncRoutesTest, EveryRouteNeedsASession) {
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/api/v1/sync/pairs"},          {"POST", "/api/v1/sync/pairs"},
      {"GET", "/api/v1/sync/pairs/p"},        {"PATCH", "/api/v1/sync/pairs/p"},
      {"DELETE", "/api/v1/sync/pairs/p"},     {"POST", "/api/v1/sync/pairs/p/run"},
      {"POST", "/api/v1/sync/pairs/p/init"},  {"GET", "/api/v1/sync/pairs/p/log"},
      {"GET", "/api/v1/sync/pairs/p/runs"},   {"GET", "/api/v1/sync/status"},
      {"GET", "/api/v1/trash"},               {"POST", "/api/v1/trash/1/restore"}};
  for (const auto& [method, path] : routes) {
    for (const std::string token : {std::string(), std::string("0123456789abcdef")}) {
      Answer a = Call(method, path, token, "{}");
      EXPECT_EQ(a.status, 401) << method << " " << path;
      bool challenge = false;
      for (const auto& [k, v] : a.headers) challenge = challenge || k == "WWW-Authenticate";
      EXPECT_TRUE(challenge) << method << " " << path;
    }
  }
}

TEST_F(SyncRoutesTest, APairIsSeenAndUsedOnlyByItsUserAndAdmins) {
  CreateActivity(alice_id_, "Call Acme", 1);
  const std::string pair = AddVdirPair(alice_id_, dir_ / "alice-cal");
  ASSERT_FALSE(pair.empty());

  auto ids = [&](const std::string& token, const std::string& query) {
    std::set<std::string> out;
    Answer a = Call("GET", "/api/v1/sync/pairs" + query, token);
    EXPECT_EQ(a.status, 200) << a.body.dump();
    if (a.status == 200)
      for (const auto& p : a.body["items"]) out.insert(p["id"].get<std::string>());
    return out;
  };
  using Set = std::set<std::string>;
  EXPECT_EQ(ids(alice_, ""), Set{pair});
  EXPECT_EQ(ids(bob_, ""), Set{});
  EXPECT_EQ(ids(bob_, "?all=true"), Set{});  // all=true is for admins only
  EXPECT_EQ(ids(admin_, ""), Set{});         // an admin's own list holds their own pairs
  EXPECT_EQ(ids(admin_, "?all=true"), Set{pair});

  // Another user learns nothing: the same 404 as for a pair that does not exist.
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", ""},          {"PATCH", ""},       {"POST", "/run"}, {"POST", "/init"},
      {"GET", "/log"},      {"GET", "/runs"},    {"DELETE", ""}};
  for (const auto& [method, suffix] : routes) {
    const std::string body = method == "PATCH" ? R"({"options":{"skip_private":true}})" : "";
    Answer theirs = Call(method, "/api/v1/sync/pairs/" + pair + suffix, bob_, body);
    Answer none = Call(method, "/api/v1/sync/pairs/no-such-pair" + suffix, bob_, body);
    EXPECT_EQ(theirs.status, 404) << method << suffix << " " << theirs.body.dump();
    EXPECT_EQ(none.status, 404) << method << suffix;
    std::string a = theirs.Message(), b = none.Message();
    EXPECT_EQ(a.replace(a.find(pair), pair.size(), "X"),
              b.replace(b.find("no-such-pair"), 12, "X"));
  }
  EXPECT_EQ(PairCount(), 1);
  EXPECT_FALSE(sync_->service().GetPair(pair)->options.skip_private);

  // The owner and an admin may do each.
  for (const std::string& token : {alice_, admin_}) {
    EXPECT_EQ(Call("GET", "/api/v1/sync/pairs/" + pair, token).status, 200);
    EXPECT_EQ(Call("GET", "/api/v1/sync/pairs/" + pair + "/log", token).status, 200);
    EXPECT_EQ(Call("GET", "/api/v1/sync/pairs/" + pair + "/runs", token).status, 200);
    Answer run = Call("POST", "/api/v1/sync/pairs/" + pair + "/run?dry_run=true", token);
    EXPECT_EQ(run.status, 200) << run.body.dump();
    EXPECT_TRUE(run.body["dry_run"].get<bool>());
  }
  Answer patched = Call("PATCH", "/api/v1/sync/pairs/" + pair, alice_,
                        R"({"options":{"skip_private":true,"conflict":"crm-wins"}})");
  EXPECT_EQ(patched.status, 200) << patched.body.dump();
  EXPECT_TRUE(patched.body["options"]["skip_private"].get<bool>());
  EXPECT_TRUE(sync_->service().GetPair(pair)->options.skip_private);

  // The status lists the caller's own pairs only.
  Answer status = Call("GET", "/api/v1/sync/status", alice_);
  ASSERT_EQ(status.status, 200);
  ASSERT_EQ(status.body["items"].size(), 1u);
  EXPECT_EQ(status.body["items"][0]["id"], pair);
  EXPECT_EQ(Call("GET", "/api/v1/sync/status", bob_).body["items"].size(), 0u);

  // Removing forgets the pair and leaves the calendar as it is.
  const size_t files = IcsFiles(dir_ / "alice-cal").size();
  EXPECT_EQ(files, 1u);
  EXPECT_EQ(Call("DELETE", "/api/v1/sync/pairs/" + pair, alice_).status, 204);
  EXPECT_EQ(Call("GET", "/api/v1/sync/pairs/" + pair, alice_).status, 404);
  EXPECT_EQ(IcsFiles(dir_ / "alice-cal").size(), files);
  EXPECT_EQ(PairCount(), 0);
}

TEST_F(SyncRoutesTest, AddingAPairFollowsThePolicy) {
  auto add = [&](const std::string& token, const Json& body) {
    return Call("POST", "/api/v1/sync/pairs", token, body.dump());
  };
  const std::string folder = (dir_ / "cal").string();
  fs::create_directories(folder);
  // A folder on the server's own disk: admins only.
  Answer vdir = add(alice_, {{"provider", "vdir"}, {"calendar", folder}});
  EXPECT_EQ(vdir.status, 403) << vdir.body.dump();
  EXPECT_NE(vdir.Message().find("vdir"), std::string::npos) << vdir.Message();
  // A pair for someone else: admins only.
  Answer other = add(alice_, {{"provider", "caldav"},
                              {"calendar", "https://calendar.example.org/dav/"},
                              {"user_id", bob_id_}});
  EXPECT_EQ(other.status, 403) << other.body.dump();
  EXPECT_NE(other.Message().find("user_id"), std::string::npos) << other.Message();
  // ... and only for a user who exists.
  Answer ghost = add(admin_, {{"provider", "vdir"}, {"calendar", folder}, {"user_id", "ghost"}});
  EXPECT_EQ(ghost.status, 400) << ghost.body.dump();
  EXPECT_NE(ghost.Message().find("user_id"), std::string::npos) << ghost.Message();
  // A user's calendar may not be on this machine (the default address policy);
  // refused before any connection, naming the setting, nothing stored.
  for (const std::string url : {"http://127.0.0.1:9/dav/", "http://169.254.169.254/latest/",
                                "http://[::1]:5232/"}) {
    Answer local = add(alice_, {{"provider", "caldav"}, {"calendar", url},
                                {"user", "a"}, {"password", "secret-pw"}});
    EXPECT_EQ(local.status, 403) << url << " " << local.body.dump();
    EXPECT_NE(local.Message().find("calendar"), std::string::npos) << local.Message();
    EXPECT_EQ(local.body.dump().find("secret-pw"), std::string::npos);
  }
  Answer provider = add(alice_, {{"provider", "exchange"}, {"calendar", "x"}});
  EXPECT_EQ(provider.status, 400);
  EXPECT_NE(provider.Message().find("provider"), std::string::npos) << provider.Message();
  Answer no_calendar = add(alice_, {{"provider", "caldav"}});
  EXPECT_EQ(no_calendar.status, 400);
  EXPECT_NE(no_calendar.Message().find("calendar"), std::string::npos) << no_calendar.Message();
  EXPECT_EQ(PairCount(), 0);

  // An admin's vdir pair with credentials: sealed, never shown.
  Answer ok = Call("POST", "/api/v1/sync/pairs", admin_,
                   Json{{"provider", "vdir"}, {"calendar", folder}, {"user", "u"},
                        {"password", "hunter2-long"}}
                       .dump());
  ASSERT_EQ(ok.status, 201) << ok.body.dump();
  EXPECT_TRUE(ok.body["has_credentials"].get<bool>());
  EXPECT_EQ(ok.body.dump().find("hunter2"), std::string::npos);
  const std::string id = ok.body["id"].get<std::string>();
  bool location = false;
  for (const auto& [k, v] : ok.headers) location = location || (k == "Location" && v.ends_with(id));
  EXPECT_TRUE(location);
  auto stored = sync_->service().GetPair(id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->credential_ref.find("hunter2"), std::string::npos);
  EXPECT_EQ(Call("GET", "/api/v1/sync/pairs/" + id, admin_).body.dump().find("hunter2"),
            std::string::npos);
}

TEST_F(SyncRoutesTest, WrongTypedFieldsAre400NamingTheField) {
  const std::string folder = (dir_ / "cal").string();
  fs::create_directories(folder);
  const Json good = {{"provider", "vdir"}, {"calendar", folder}, {"user_id", alice_id_},
                     {"user", "u"},        {"password", "p"},    {"options", Json::object()}};
  const std::vector<Json> wrong = {Json(5), Json(2.5), Json::array({1}), Json::object(),
                                   Json(true), Json("text")};
  int refused = 0;
  for (const auto& [field, value] : good.items()) {
    for (const Json& bad : wrong) {
      if (bad.type() == value.type()) continue;
      Json body = good;
      body[field] = bad;
      Answer a = Call("POST", "/api/v1/sync/pairs", admin_, body.dump());
      EXPECT_EQ(a.status, 400) << body.dump() << " -> " << a.body.dump();
      EXPECT_NE(a.Message().find(field), std::string::npos) << body.dump() << " -> " << a.Message();
      ++refused;
    }
  }
  EXPECT_GE(refused, 30);
  for (const std::string body : {"", "not json", "[]", "5", "{\"provider\":"}) {
    Answer a = Call("POST", "/api/v1/sync/pairs", admin_, body);
    EXPECT_EQ(a.status, 400) << body;
    EXPECT_NE(a.Message().find("body"), std::string::npos) << body << " -> " << a.Message();
  }
  EXPECT_EQ(PairCount(), 0);

  // The options, on POST and PATCH alike.
  const std::string pair = AddVdirPair(alice_id_, dir_ / "alice-cal");
  ASSERT_FALSE(pair.empty());
  const Json options = {{"window_days_back", 30}, {"window_days_ahead", 90},
                        {"skip_private", true},   {"reminders", "sync"},
                        {"multi_day", "keep"},    {"conflict", "later-wins"},
                        {"deletion_limit", 50}};
  for (const auto& [field, value] : options.items()) {
    for (const Json& bad : wrong) {
      if (bad.type() == value.type() || (bad.is_number() && value.is_number())) continue;
      Json body = {{"options", {{field, bad}}}};
      Answer a = Call("PATCH", "/api/v1/sync/pairs/" + pair, alice_, body.dump());
      EXPECT_EQ(a.status, 400) << body.dump() << " -> " << a.body.dump();
      EXPECT_NE(a.Message().find("options." + field), std::string::npos)
          << body.dump() << " -> " << a.Message();
    }
  }
  for (const Json& body : {Json{{"options", {{"window_days_back", 2.5}}}},
                           Json{{"options", {{"conflict", "loudest-wins"}}}},
                           Json{{"options", {{"window_days_ahead", -1}}}},
                           Json{{"options", 5}}}) {
    Answer a = Call("PATCH", "/api/v1/sync/pairs/" + pair, alice_, body.dump());
    EXPECT_EQ(a.status, 400) << body.dump() << " -> " << a.body.dump();
    EXPECT_NE(a.Message().find("options"), std::string::npos) << a.Message();
  }
  EXPECT_EQ(Call("PATCH", "/api/v1/sync/pairs/" + pair, alice_, "[]").status, 400);
  // Nothing of those took.
  EXPECT_EQ(sync_->service().GetPair(pair)->options.window_days_back,
            store::PairOptions{}.window_days_back);

  for (const std::string limit : {"0", "1001", "abc", "5x", ""}) {
    for (const std::string route : {"log", "runs"}) {
      Answer a = Call("GET", "/api/v1/sync/pairs/" + pair + "/" + route + "?limit=" + limit, alice_);
      EXPECT_EQ(a.status, 400) << route << " limit=" << limit;
      EXPECT_NE(a.Message().find("limit"), std::string::npos) << a.Message();
    }
  }
  EXPECT_EQ(Call("POST", "/api/v1/trash/abc/restore", alice_).status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/trash/999999/restore", alice_).status, 404);
}

TEST_F(SyncRoutesTest, RunsTrashAndRestoreThroughTheRoutes) {
  const std::vector<std::string> acts = {CreateActivity(alice_id_, "Call Acme", 1),
                                         CreateActivity(alice_id_, "Visit Beta", 2),
                                         CreateActivity(alice_id_, "Demo Gamma", 3),
                                         CreateActivity(alice_id_, "Lunch Delta", 4)};
  const fs::path folder = dir_ / "alice-cal";
  const std::string pair = AddVdirPair(alice_id_, folder);
  ASSERT_FALSE(pair.empty());
  ASSERT_EQ(IcsFiles(folder).size(), 4u);
  const std::string base = "/api/v1/sync/pairs/" + pair;

  // One event deleted in the calendar: a dry run says so and changes nothing,
  // the run puts the activity in the trash.
  std::string gone_subject;
  {
    fs::path victim = IcsFiles(folder).front();
    std::ifstream in(victim);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& s : {"Call Acme", "Visit Beta", "Demo Gamma", "Lunch Delta"})
      if (text.find(s) != std::string::npos) gone_subject = s;
    fs::remove(victim);
  }
  ASSERT_FALSE(gone_subject.empty());
  Answer dry = Call("POST", base + "/run?dry_run=true", alice_);
  ASSERT_EQ(dry.status, 200) << dry.body.dump();
  EXPECT_NE(dry.body["plan"].get<std::string>().find(gone_subject), std::string::npos)
      << dry.body.dump();
  EXPECT_EQ(dry.body["summary"], "dry run: 1 trash") << dry.body.dump();
  EXPECT_EQ(dry.body["planned"]["trash"], 1) << dry.body.dump();
  EXPECT_EQ(Call("GET", "/api/v1/trash", alice_).body["items"].size(), 0u);

  Answer run = Call("POST", base + "/run", alice_);
  ASSERT_EQ(run.status, 200) << run.body.dump();
  Answer trash = Call("GET", "/api/v1/trash", alice_);
  ASSERT_EQ(trash.status, 200);
  ASSERT_EQ(trash.body["items"].size(), 1u) << trash.body.dump();
  EXPECT_EQ(trash.body["items"][0]["subject"], gone_subject);
  EXPECT_EQ(trash.body["items"][0]["pair_id"], pair);
  const int64_t trash_id = trash.body["items"][0]["id"].get<int64_t>();

  // The log says what happened, with the record before.
  Answer log = Call("GET", base + "/log?limit=10", alice_);
  ASSERT_EQ(log.status, 200);
  bool logged = false;
  for (const auto& e : log.body["items"])
    logged = logged || (e["title"] == gone_subject && !e["before"].get<std::string>().empty());
  EXPECT_TRUE(logged) << log.body.dump();
  // The initialization's creations name the file each went to.
  Answer first = Call("GET", base + "/log?limit=100", alice_);
  int creations = 0;
  for (const auto& e : first.body["items"]) {
    if (e["action"] != "create") continue;
    ++creations;
    EXPECT_TRUE(e["external_href"].get<std::string>().ends_with(".ics")) << e.dump();
  }
  EXPECT_EQ(creations, 4);
  Answer runs = Call("GET", base + "/runs?limit=5", alice_);
  EXPECT_GE(runs.body["items"].size(), 2u);  // the initialization and this run

  // Another user neither sees nor restores alice's trash.
  EXPECT_EQ(Call("GET", "/api/v1/trash", bob_).body["items"].size(), 0u);
  Answer steal = Call("POST", "/api/v1/trash/" + std::to_string(trash_id) + "/restore", bob_);
  EXPECT_EQ(steal.status, 404) << steal.body.dump();
  // alice restores it: the activity is back in her CRM.
  Answer restored = Call("POST", "/api/v1/trash/" + std::to_string(trash_id) + "/restore", alice_);
  ASSERT_EQ(restored.status, 200) << restored.body.dump();
  auto back = store_->GetActivity(restored.body["activity_id"].get<std::string>());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->subject, gone_subject);
  EXPECT_EQ(back->meta.owner_id, alice_id_);
  EXPECT_EQ(Call("GET", "/api/v1/trash", alice_).body["items"].size(), 0u);
  EXPECT_EQ(Call("GET", "/api/v1/trash?include_restored=true", alice_).body["items"].size(), 1u);

  // The calendar emptied: the guard stops the run and trashes nothing; --force goes on.
  ASSERT_EQ(Call("POST", base + "/run", alice_).status, 200);  // the restored one goes out again
  for (const auto& f : IcsFiles(folder)) fs::remove(f);
  Answer guarded = Call("POST", base + "/run", alice_);
  ASSERT_EQ(guarded.status, 200) << guarded.body.dump();
  EXPECT_FALSE(guarded.body["refusal"].is_null()) << guarded.body.dump();
  EXPECT_EQ(Call("GET", "/api/v1/trash", alice_).body["items"].size(), 0u);
  Answer status = Call("GET", "/api/v1/sync/status", alice_);
  ASSERT_EQ(status.body["items"].size(), 1u);
  EXPECT_NE(status.body["items"][0]["last_outcome"].get<std::string>(), "ok") << status.body.dump();
  Answer forced = Call("POST", base + "/run?force=true", alice_);
  ASSERT_EQ(forced.status, 200) << forced.body.dump();
  EXPECT_TRUE(forced.body["refusal"].is_null()) << forced.body.dump();
  EXPECT_EQ(Call("GET", "/api/v1/trash", alice_).body["items"].size(), 4u);
}

TEST_F(SyncRoutesTest, TheCatalogSaysWhichCalendarKindsThereAreAndFindsCalendars) {
  Answer kinds = Call("GET", "/api/v1/sync/providers", alice_);
  ASSERT_EQ(kinds.status, 200);
  std::map<std::string, Json> by_name;
  for (const auto& p : kinds.body["items"]) by_name[p["name"].get<std::string>()] = p;
  ASSERT_TRUE(by_name.contains("caldav") && by_name.contains("vdir")) << kinds.body.dump();
  EXPECT_EQ(by_name["caldav"]["credentials"], "password");
  EXPECT_FALSE(by_name["caldav"]["admin_only"].get<bool>());
  EXPECT_TRUE(by_name["vdir"]["admin_only"].get<bool>());
  ASSERT_TRUE(by_name.contains("google"));
  EXPECT_EQ(by_name["google"]["credentials"], "oauth");
  ASSERT_TRUE(by_name.contains("outlook"));
  EXPECT_EQ(by_name["outlook"]["credentials"], "oauth");
  EXPECT_TRUE(by_name["outlook"]["device_code"].get<bool>());
  EXPECT_FALSE(by_name["google"]["device_code"].get<bool>());
  // Device-code sign-in: refused for a provider not set up, one that takes a
  // browser redirect instead, and a state nobody started.
  Answer device_unset = Call("POST", "/api/v1/sync/oauth/device", alice_, Json{{"provider", "outlook"}}.dump());
  EXPECT_EQ(device_unset.status, 400) << device_unset.body.dump();
  EXPECT_NE(device_unset.Message().find("client_id"), std::string::npos) << device_unset.Message();
  EXPECT_EQ(Call("POST", "/api/v1/sync/oauth/device", alice_, Json{{"provider", "google"}}.dump()).status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/sync/oauth/device", alice_, "[]").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/sync/oauth/device/poll", alice_, Json{{"state", "nope"}}.dump()).status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/sync/oauth/device/poll", alice_, Json{{"state", 1}}.dump()).status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/sync/oauth/device/poll", "", Json{{"state", "x"}}.dump()).status, 401);
  // An OAuth provider that is not set up says so; a redirect must come back to
  // the user's own machine.
  Answer unset = Call("POST", "/api/v1/sync/oauth/start", alice_,
                      Json{{"provider", "google"}, {"redirect_uri", "http://127.0.0.1:9/callback"}}.dump());
  EXPECT_EQ(unset.status, 400) << unset.body.dump();
  EXPECT_NE(unset.Message().find("client_id"), std::string::npos) << unset.Message();
  Answer away = Call("POST", "/api/v1/sync/oauth/start", alice_,
                     Json{{"provider", "google"}, {"redirect_uri", "https://evil.example/cb"}}.dump());
  EXPECT_EQ(away.status, 400);
  EXPECT_NE(away.Message().find("redirect_uri"), std::string::npos) << away.Message();
  EXPECT_EQ(Call("POST", "/api/v1/sync/oauth/start", alice_,
                 Json{{"provider", "caldav"}, {"redirect_uri", "http://127.0.0.1:9/"}}.dump())
                .status,
            400);
  Answer stale = Call("POST", "/api/v1/sync/oauth/finish", alice_,
                      Json{{"state", "nope"}, {"code", "x"}}.dump());
  EXPECT_EQ(stale.status, 404) << stale.body.dump();
  EXPECT_EQ(Call("POST", "/api/v1/sync/oauth/finish", alice_, Json{{"state", 5}}.dump()).status, 400);
  Answer no_auth = Call("POST", "/api/v1/sync/pairs", alice_, Json{{"provider", "google"}}.dump());
  EXPECT_EQ(no_auth.status, 400);
  EXPECT_NE(no_auth.Message().find("authorization"), std::string::npos) << no_auth.Message();
  Answer forged = Call("POST", "/api/v1/sync/pairs", alice_,
                       Json{{"provider", "google"}, {"authorization", "0123456789abcdef"}}.dump());
  EXPECT_EQ(forged.status, 404) << forged.body.dump();

  const fs::path folder = dir_ / "team";
  fs::create_directories(folder);
  auto discover = [&](const std::string& token, const Json& body) {
    return Call("POST", "/api/v1/sync/discover", token, body.dump());
  };
  Answer found = discover(admin_, {{"provider", "vdir"}, {"calendar", folder.string()}});
  ASSERT_EQ(found.status, 200) << found.body.dump();
  ASSERT_EQ(found.body["items"].size(), 1u);
  EXPECT_EQ(found.body["items"][0]["calendar"], folder.string());
  EXPECT_EQ(found.body["items"][0]["display_name"], "team");
  Answer missing = discover(admin_, {{"provider", "vdir"}, {"calendar", (dir_ / "nope").string()}});
  EXPECT_EQ(missing.status, 404) << missing.body.dump();
  EXPECT_NE(missing.Message().find("calendar"), std::string::npos);
  // The same rules as adding a pair.
  EXPECT_EQ(discover(alice_, {{"provider", "vdir"}, {"calendar", folder.string()}}).status, 403);
  EXPECT_EQ(discover(alice_, {{"provider", "caldav"}, {"calendar", "http://127.0.0.1:9/"}}).status,
            403);
  Answer kind = discover(alice_, {{"provider", "exchange"}, {"calendar", "x"}});
  EXPECT_EQ(kind.status, 400);
  EXPECT_NE(kind.Message().find("caldav, google, outlook, vdir"), std::string::npos) << kind.Message();
  EXPECT_EQ(discover(alice_, {{"provider", 5}}).status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/sync/discover", "", "{}").status, 401);
  // A vdir pair for a folder that is not there is refused before it is stored.
  Answer bad = Call("POST", "/api/v1/sync/pairs", admin_,
                    Json{{"provider", "vdir"}, {"calendar", (dir_ / "nope").string()}}.dump());
  EXPECT_EQ(bad.status, 404) << bad.body.dump();
  EXPECT_EQ(PairCount(), 0);
}

TEST_F(SyncRoutesTest, CalendarSyncRefusesWhatItCannotDo) {
  // Direct calls: a pair for a user who does not exist, an unknown pair, a removed one.
  std::promise<Status> added;
  sync::NewSyncPair p;
  p.user_id = "ghost";
  p.provider = "vdir";
  p.calendar = (dir_ / "cal").string();
  sync_->AddPair(p, false, [&](Result<store::SyncPair> r, Result<sync::RunReport>) {
    added.set_value(r.status());
  });
  Status s = added.get_future().get();
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("user_id"), std::string::npos);
  EXPECT_EQ(sync_->RunNowAndWait("no-such-pair", {}).status().code(), Code::kNotFound);

  const std::string pair = AddVdirPair(alice_id_, dir_ / "alice-cal");
  ASSERT_FALSE(pair.empty());
  EXPECT_TRUE(sync_->RunNowAndWait(pair, {}).ok());
  ASSERT_TRUE(sync_->RemovePair(pair).ok());
  EXPECT_EQ(sync_->RunNowAndWait(pair, {}).status().code(), Code::kNotFound);
  EXPECT_EQ(sync_->RemovePair(pair).code(), Code::kNotFound);
}

}  // namespace
}  // namespace tandem::apps
