#include "davserver/dav_server.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "core/random.h"
#include "dav/multistatus.h"
#include "store/sqlite/sqlite_store.h"
#include "sync/memory_sync_state.h"

namespace tandem::davserver {
namespace {

Instant At(const char* t) { return ParseRfc3339(t).value(); }

std::string Basic(std::string_view login_and_password) {
  std::string out(
      sodium_base64_encoded_len(login_and_password.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(login_and_password.data()),
                    login_and_password.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return "Basic " + out;
}

std::string Event(const std::string& uid, const std::string& summary, const std::string& start,
                  const std::string& end) {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//dav//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
         "\r\nDTSTAMP:20261201T090000Z\r\nDTSTART:" + start + "\r\nDTEND:" + end +
         "\r\nSUMMARY:" + summary + "\r\nX-PHONE-APP:kept\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
}

class DavServerTest : public testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(
        *store::sqlite::SqliteStore::Open({.path = ":memory:", .clock = &clock_, .ids = &ids_}));
    auth_ = std::make_unique<api::Authenticator>(store_.get(), &clock_, &random_,
                                                 std::chrono::hours(1), api::PasswordCost::Fast());
    alice_ = AddUser("alice", "pw-a");
    bob_ = AddUser("bob", "pw-b");
    dav_ = std::make_unique<DavServer>(DavServerOptions{.store = store_.get(),
                                                         .state = &state_,
                                                         .authenticator = auth_.get(),
                                                         .ids = &ids_,
                                                         .clock = &clock_});
    dav_->Register(&router_);
  }

  model::User AddUser(const std::string& login, const std::string& password) {
    model::User u;
    u.login = login;
    u.email = login + "@example.com";
    u.password_hash = *api::HashPassword(password, api::PasswordCost::Fast());
    return *store_->CreateUser(u);
  }

  model::Activity AddActivity(const model::User& owner, const std::string& subject,
                              model::ActivityKind kind = model::ActivityKind::kAppointment,
                              const char* start = "2026-12-10T10:00:00Z") {
    model::Activity a;
    a.meta.owner_id = owner.id;
    a.kind = kind;
    a.subject = subject;
    a.start = At(start);
    a.end = a.start + std::chrono::hours(1);
    return *store_->Create(a);
  }

  http::ServerResponse Call(const std::string& method, const std::string& path,
                            const std::string& body = "", http::HeaderList headers = {},
                            const std::string& auth = "alice:pw-a") {
    http::ServerRequest r;
    r.method = method;
    r.target = path;
    r.path = http::PercentDecode(path, false);
    r.body = body;
    r.headers = std::move(headers);
    if (!auth.empty()) r.headers.emplace_back("Authorization", Basic(auth));
    return router_.Dispatch(&r);
  }

  static std::string HeaderOf(const http::ServerResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  std::string Cal() const { return "/dav/calendars/" + alice_.id + "/appointments/"; }

  // The responses of a multistatus by href path.
  static std::map<std::string, dav::DavResponse> Responses(const http::ServerResponse& r) {
    EXPECT_EQ(r.status, 207) << r.body;
    std::map<std::string, dav::DavResponse> out;
    auto ms = dav::ParseMultistatus(r.body);
    EXPECT_TRUE(ms.ok()) << ms.status().ToString() << "\n" << r.body;
    if (!ms.ok()) return out;
    for (auto& resp : ms->responses) out[dav::PercentDecode(resp.href)] = resp;
    return out;
  }

  FakeClock clock_{At("2026-12-01T10:00:00Z")};
  SeededRandom random_{11};
  IdGenerator ids_{clock_, random_};
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  sync::MemorySyncStateStore state_{clock_};
  std::unique_ptr<api::Authenticator> auth_;
  std::unique_ptr<DavServer> dav_;
  http::Router router_;
  model::User alice_, bob_;
};

constexpr const char* kPropfindPrincipal =
    "<?xml version=\"1.0\"?><d:propfind xmlns:d=\"DAV:\"><d:prop><d:current-user-principal/>"
    "</d:prop></d:propfind>";

TEST_F(DavServerTest, DiscoveryLeadsFromTheRootToTheCalendar) {
  auto wk = Call("PROPFIND", "/.well-known/caldav", "", {}, "");
  EXPECT_EQ(wk.status, 301);
  EXPECT_EQ(HeaderOf(wk, "Location"), "/dav/");

  auto root = Call("PROPFIND", "/dav/", kPropfindPrincipal, {{"Depth", "0"}});
  ASSERT_EQ(root.status, 207) << root.body;
  const std::string principal = "/dav/principals/" + alice_.id + "/";
  EXPECT_NE(root.body.find("<d:href>" + principal + "</d:href>"), std::string::npos) << root.body;

  auto p = Call("PROPFIND", principal,
                "<d:propfind xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop>"
                "<c:calendar-home-set/><c:calendar-user-address-set/><d:displayname/></d:prop>"
                "</d:propfind>",
                {{"Depth", "0"}});
  ASSERT_EQ(p.status, 207) << p.body;
  EXPECT_NE(p.body.find("/dav/calendars/" + alice_.id + "/"), std::string::npos) << p.body;
  EXPECT_NE(p.body.find("mailto:alice@example.com"), std::string::npos) << p.body;

  auto home = Call("PROPFIND", "/dav/calendars/" + alice_.id + "/",
                   "<d:propfind xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop>"
                   "<d:resourcetype/><c:supported-calendar-component-set/><d:sync-token/></d:prop>"
                   "</d:propfind>",
                   {{"Depth", "1"}});
  auto responses = Responses(home);
  ASSERT_TRUE(responses.contains(Cal())) << home.body;
  EXPECT_NE(home.body.find("<c:calendar/>"), std::string::npos);
  EXPECT_NE(home.body.find("<c:comp name=\"VEVENT\"/>"), std::string::npos);

  auto options = Call("OPTIONS", Cal(), "", {}, "");
  EXPECT_EQ(options.status, 200);
  EXPECT_NE(HeaderOf(options, "DAV").find("calendar-access"), std::string::npos);
}

TEST_F(DavServerTest, CallersAreAuthenticatedAndSeeOnlyTheirOwnCollections) {
  auto none = Call("PROPFIND", Cal(), "", {{"Depth", "0"}}, "");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(HeaderOf(none, "WWW-Authenticate").find("Basic"), std::string::npos);
  EXPECT_EQ(Call("PROPFIND", Cal(), "", {{"Depth", "0"}}, "alice:wrong").status, 401);
  // Bob asks for Alice's calendar: as unknown as a calendar that does not exist.
  EXPECT_EQ(Call("PROPFIND", Cal(), "", {{"Depth", "0"}}, "bob:pw-b").status, 404);
  model::Activity secret = AddActivity(alice_, "Alice's");
  EXPECT_EQ(Call("GET", Cal() + secret.meta.id + ".ics", "", {}, "bob:pw-b").status, 404);
  EXPECT_EQ(Call("GET", "/dav/calendars/" + bob_.id + "/appointments/" + secret.meta.id + ".ics", "",
                 {}, "bob:pw-b")
                .status,
            404);
}

TEST_F(DavServerTest, AClientsResourceIsACrmActivityUnderTheNameAndUidItChose) {
  const std::string ev = Event("phone-uid-1", "Visit", "20261210T100000Z", "20261210T110000Z");
  auto put = Call("PUT", Cal() + "made-on-phone.ics", ev,
                  {{"If-None-Match", "*"}, {"Content-Type", "text/calendar"}});
  ASSERT_EQ(put.status, 201) << put.body;
  // The stored item is the CRM's rendering, not the octets sent: no ETag (RFC 4791 5.3.4).
  EXPECT_EQ(HeaderOf(put, "ETag"), "");

  auto list = store_->ListActivities({.owner_id = alice_.id});
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].subject, "Visit");
  EXPECT_FALSE(list->items[0].meta.shared);

  auto get = Call("GET", Cal() + "made-on-phone.ics");
  ASSERT_EQ(get.status, 200);
  EXPECT_NE(get.body.find("UID:phone-uid-1"), std::string::npos) << get.body;
  EXPECT_NE(get.body.find("X-PHONE-APP:kept"), std::string::npos) << get.body;
  const std::string etag = HeaderOf(get, "ETag");
  ASSERT_FALSE(etag.empty());

  // The listing names it where the client put it.
  auto listing = Responses(Call("PROPFIND", Cal(), "", {{"Depth", "1"}}));
  EXPECT_TRUE(listing.contains(Cal() + "made-on-phone.ics"));

  // Preconditions.
  EXPECT_EQ(Call("PUT", Cal() + "made-on-phone.ics", ev, {{"If-None-Match", "*"}}).status, 412);
  EXPECT_EQ(Call("PUT", Cal() + "made-on-phone.ics", ev, {{"If-Match", "\"1.2\""}}).status, 412);
  EXPECT_EQ(Call("PUT", Cal() + "other-name.ics", ev).status, 403);  // the UID is taken
  auto moved = Call("PUT", Cal() + "made-on-phone.ics",
                    Event("phone-uid-1", "Visit moved", "20261211T100000Z", "20261211T110000Z"),
                    {{"If-Match", etag}});
  ASSERT_EQ(moved.status, 204) << moved.body;
  const std::string moved_etag = HeaderOf(Call("GET", Cal() + "made-on-phone.ics"), "ETag");
  EXPECT_NE(moved_etag, etag);
  EXPECT_EQ(store_->GetActivity(list->items[0].meta.id)->subject, "Visit moved");
  // A resource keeps its UID.
  EXPECT_EQ(Call("PUT", Cal() + "made-on-phone.ics",
                 Event("another", "X", "20261211T100000Z", "20261211T110000Z"))
                .status,
            403);

  EXPECT_EQ(Call("DELETE", Cal() + "made-on-phone.ics", "", {{"If-Match", etag}}).status, 412);
  EXPECT_EQ(Call("DELETE", Cal() + "made-on-phone.ics", "", {{"If-Match", moved_etag}})
                .status,
            204);
  EXPECT_TRUE(store_->GetActivity(list->items[0].meta.id).status().Is(Code::kNotFound));
  EXPECT_EQ(Call("GET", Cal() + "made-on-phone.ics").status, 404);
}

TEST_F(DavServerTest, BadWritesAreRefusedClearlyAndChangeNothing) {
  auto garbage = Call("PUT", Cal() + "x.ics", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:oops\r\n");
  EXPECT_EQ(garbage.status, 403);
  EXPECT_NE(garbage.body.find("valid-calendar-data"), std::string::npos) << garbage.body;
  auto todo = Call("PUT", Cal() + "t.ics",
                   "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\nEND:VCALENDAR\r\n");
  EXPECT_EQ(todo.status, 403);
  EXPECT_NE(todo.body.find("supported-calendar-component"), std::string::npos);
  std::string bad_rule = Event("b", "B", "20261210T100000Z", "20261210T110000Z");
  bad_rule.insert(bad_rule.find("SUMMARY"), "RRULE:FREQ=SOMETIMES\r\n");
  auto refused = Call("PUT", Cal() + "b.ics", bad_rule);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("RRULE"), std::string::npos) << refused.body;
  EXPECT_TRUE(store_->ListActivities({.owner_id = alice_.id})->items.empty());

  auto entity = Call("PROPFIND", Cal(),
                     "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x \"boom\">]>"
                     "<d:propfind xmlns:d=\"DAV:\"><d:prop><d:getetag/></d:prop></d:propfind>",
                     {{"Depth", "0"}});
  EXPECT_EQ(entity.status, 400);
  EXPECT_EQ(Call("PROPFIND", Cal(), "<d:propfind xmlns:d=\"DAV:\"><d:prop>", {{"Depth", "0"}}).status,
            400);
  auto infinite = Call("PROPFIND", Cal(), "", {{"Depth", "infinity"}});
  EXPECT_EQ(infinite.status, 403);
  EXPECT_NE(infinite.body.find("propfind-finite-depth"), std::string::npos);
  EXPECT_EQ(Call("REPORT", Cal(), "<x/>").status, 403);
  EXPECT_EQ(Call("MKCALENDAR", "/dav/calendars/" + alice_.id + "/new/").status, 403);
}

constexpr const char* kSyncBody =
    "<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token>{}</d:sync-token><d:sync-level>1</d:sync-level>"
    "<d:prop><d:getetag/></d:prop></d:sync-collection>";

std::string SyncBody(const std::string& token) {
  std::string s = kSyncBody;
  return s.replace(s.find("{}"), 2, token);
}

std::string TokenOf(const std::string& body) {
  size_t a = body.find("<d:sync-token>");
  size_t b = body.find("</d:sync-token>");
  return body.substr(a + 14, b - a - 14);
}

TEST_F(DavServerTest, SyncCollectionReportsWhatChangedSinceAToken) {
  model::Activity keep = AddActivity(alice_, "Keep");
  model::Activity change = AddActivity(alice_, "Change", model::ActivityKind::kPhoneCall);
  model::Activity drop = AddActivity(alice_, "Drop");
  model::Activity task = AddActivity(alice_, "A task", model::ActivityKind::kTask);
  AddActivity(bob_, "Bob's");

  auto first = Call("REPORT", Cal(), SyncBody(""));
  auto all = Responses(first);
  EXPECT_EQ(all.size(), 3u) << first.body;  // not the task, not Bob's
  EXPECT_TRUE(all.contains(Cal() + keep.meta.id + ".ics"));
  const std::string token = TokenOf(first.body);

  auto none = Call("REPORT", Cal(), SyncBody(token));
  EXPECT_TRUE(Responses(none).empty()) << none.body;

  change.subject = "Changed";
  ASSERT_TRUE(store_->Update(change, std::nullopt).ok());
  ASSERT_TRUE(store_->Delete(model::EntityType::kActivity, drop.meta.id, std::nullopt).ok());
  task.kind = model::ActivityKind::kAppointment;  // a task became an appointment
  ASSERT_TRUE(store_->Update(task, std::nullopt).ok());
  auto delta = Call("REPORT", Cal(), SyncBody(token));
  auto changed = Responses(delta);
  ASSERT_EQ(changed.size(), 3u) << delta.body;
  EXPECT_FALSE(changed[Cal() + change.meta.id + ".ics"].propstats.empty());
  EXPECT_EQ(changed[Cal() + drop.meta.id + ".ics"].status, 404);
  EXPECT_FALSE(changed[Cal() + task.meta.id + ".ics"].propstats.empty());
  EXPECT_NE(TokenOf(delta.body), token);

  // A token of another database, or garbage: start again.
  for (const std::string& stale : {std::string("urn:tandem:sync:other/1"), std::string("junk"),
                                   token + "99999"}) {
    auto refused = Call("REPORT", Cal(), SyncBody(stale));
    EXPECT_EQ(refused.status, 403) << stale;
    EXPECT_NE(refused.body.find("valid-sync-token"), std::string::npos);
  }
}

TEST_F(DavServerTest, ARemovalIsReportedUnderTheNameTheClientChose) {
  auto first = Call("REPORT", Cal(), SyncBody(""));
  const std::string token = TokenOf(first.body);
  ASSERT_EQ(Call("PUT", Cal() + "chosen.ics",
                 Event("uid-x", "Chosen", "20261210T100000Z", "20261210T110000Z"))
                .status,
            201);
  const std::string id = store_->ListActivities({.owner_id = alice_.id})->items.at(0).meta.id;
  ASSERT_TRUE(store_->Delete(model::EntityType::kActivity, id, std::nullopt).ok());
  auto delta = Responses(Call("REPORT", Cal(), SyncBody(token)));
  ASSERT_EQ(delta.size(), 1u);
  EXPECT_EQ(delta[Cal() + "chosen.ics"].status, 404);
}

TEST_F(DavServerTest, QueriesByTimeRangeAndMultiget) {
  model::Activity dec = AddActivity(alice_, "December", model::ActivityKind::kAppointment,
                                    "2026-12-10T10:00:00Z");
  model::Activity jan = AddActivity(alice_, "January", model::ActivityKind::kAppointment,
                                    "2027-01-10T10:00:00Z");
  model::Activity weekly = AddActivity(alice_, "Weekly", model::ActivityKind::kAppointment,
                                       "2026-11-02T08:00:00Z");
  weekly.rrule = "FREQ=WEEKLY;COUNT=20";
  weekly = *store_->Update(weekly, std::nullopt);
  const std::string query =
      "<c:calendar-query xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop>"
      "<d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name=\"VCALENDAR\">"
      "<c:comp-filter name=\"VEVENT\"><c:time-range start=\"20261201T000000Z\" "
      "end=\"20261231T000000Z\"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>";
  auto hits = Responses(Call("REPORT", Cal(), query, {{"Depth", "1"}}));
  EXPECT_TRUE(hits.contains(Cal() + dec.meta.id + ".ics"));
  EXPECT_TRUE(hits.contains(Cal() + weekly.meta.id + ".ics"));  // an occurrence in December
  EXPECT_FALSE(hits.contains(Cal() + jan.meta.id + ".ics"));

  const std::string by_text =
      "<c:calendar-query xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop>"
      "<d:getetag/></d:prop><c:filter><c:comp-filter name=\"VCALENDAR\"><c:comp-filter "
      "name=\"VEVENT\"><c:prop-filter name=\"SUMMARY\"><c:text-match>janu</c:text-match>"
      "</c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>";
  auto text = Responses(Call("REPORT", Cal(), by_text, {{"Depth", "1"}}));
  ASSERT_EQ(text.size(), 1u);
  EXPECT_TRUE(text.contains(Cal() + jan.meta.id + ".ics"));

  const std::string multiget =
      "<c:calendar-multiget xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop>"
      "<d:getetag/><c:calendar-data/></d:prop><d:href>" + Cal() + dec.meta.id + ".ics</d:href>"
      "<d:href>" + Cal() + "missing.ics</d:href></c:calendar-multiget>";
  auto got = Call("REPORT", Cal(), multiget);
  auto m = Responses(got);
  ASSERT_EQ(m.size(), 2u) << got.body;
  EXPECT_EQ(m[Cal() + "missing.ics"].status, 404);
  EXPECT_NE(got.body.find("SUMMARY:December"), std::string::npos) << got.body;
}

// ---------------------------------------------------------------- the address book

constexpr const char* kNsCard = "urn:ietf:params:xml:ns:carddav";

std::string Card(const std::string& uid, const std::string& given, const std::string& org = "",
                 const std::string& email = "") {
  std::string c = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + given + " Doe\r\nN:Doe;" + given +
                  ";;;\r\n";
  if (!org.empty()) c += "ORG:" + org + "\r\n";
  if (!email.empty()) c += "EMAIL;TYPE=INTERNET,WORK:" + email + "\r\n";
  c += "ADR;TYPE=WORK:;;1 Main St;Springfield;;;\r\nX-PHONE-APP:kept\r\nEND:VCARD\r\n";
  return c;
}

std::string Todo(const std::string& uid, const std::string& summary, const std::string& due,
                 const std::string& extra = "") {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//tasks//EN\r\nBEGIN:VTODO\r\nUID:" + uid +
         "\r\nDTSTAMP:20261201T090000Z\r\nDUE:" + due + "\r\nSUMMARY:" + summary + "\r\n" + extra +
         "X-TASKS-APP:kept\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
}

TEST_F(DavServerTest, TheTaskListHoldsTheUsersTasksAsVtodos) {
  const std::string tasks = "/dav/calendars/" + alice_.id + "/tasks/";
  model::Activity meeting = AddActivity(alice_, "Meeting");
  model::Activity call_back = AddActivity(alice_, "Call back", model::ActivityKind::kTask);
  AddActivity(bob_, "Bob's task", model::ActivityKind::kTask);

  // The calendar home offers both calendars, each with its component.
  auto home = Call("PROPFIND", "/dav/calendars/" + alice_.id + "/",
                   "<d:propfind xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop>"
                   "<d:displayname/><c:supported-calendar-component-set/></d:prop></d:propfind>",
                   {{"Depth", "1"}});
  auto listed = Responses(home);
  ASSERT_TRUE(listed.contains(tasks)) << home.body;
  ASSERT_TRUE(listed.contains(Cal())) << home.body;
  EXPECT_NE(home.body.find("<c:comp name=\"VTODO\"/>"), std::string::npos) << home.body;
  EXPECT_NE(home.body.find("Tasks"), std::string::npos);

  // Each calendar lists its own: the task is not an appointment and the other way round.
  auto in_tasks = Responses(Call("PROPFIND", tasks, "", {{"Depth", "1"}}));
  EXPECT_TRUE(in_tasks.contains(tasks + call_back.meta.id + ".ics"));
  EXPECT_EQ(in_tasks.size(), 2u);  // the collection and the one task
  auto in_cal = Responses(Call("PROPFIND", Cal(), "", {{"Depth", "1"}}));
  EXPECT_TRUE(in_cal.contains(Cal() + meeting.meta.id + ".ics"));
  EXPECT_FALSE(in_cal.contains(Cal() + call_back.meta.id + ".ics"));
  EXPECT_EQ(Call("GET", Cal() + call_back.meta.id + ".ics").status, 404);
  EXPECT_EQ(Call("GET", tasks + meeting.meta.id + ".ics").status, 404);

  auto get = Call("GET", tasks + call_back.meta.id + ".ics");
  ASSERT_EQ(get.status, 200);
  EXPECT_NE(get.body.find("BEGIN:VTODO"), std::string::npos) << get.body;
  EXPECT_EQ(get.body.find("BEGIN:VEVENT"), std::string::npos) << get.body;
  EXPECT_NE(get.body.find("SUMMARY:Call back"), std::string::npos);
  EXPECT_NE(HeaderOf(get, "Content-Type").find("component=vtodo"), std::string::npos);

  // A task made on the phone: a CRM task, with what the CRM does not model kept.
  auto put = Call("PUT", tasks + "from-phone.ics", Todo("todo-1", "Send offer", "20261215T170000Z"),
                  {{"If-None-Match", "*"}, {"Content-Type", "text/calendar; charset=utf-8"}});
  ASSERT_EQ(put.status, 201) << put.body;
  auto all = store_->ListActivities({.owner_id = alice_.id});
  const model::Activity* made = nullptr;
  for (const model::Activity& a : all->items) {
    if (a.subject == "Send offer") made = &a;
  }
  ASSERT_NE(made, nullptr);
  EXPECT_EQ(made->kind, model::ActivityKind::kTask);
  EXPECT_EQ(made->end, At("2026-12-15T17:00:00Z"));
  const std::string made_id = made->meta.id;
  auto back = Call("GET", tasks + "from-phone.ics");
  ASSERT_EQ(back.status, 200);
  EXPECT_NE(back.body.find("UID:todo-1"), std::string::npos) << back.body;
  EXPECT_NE(back.body.find("X-TASKS-APP:kept"), std::string::npos) << back.body;
  const std::string etag = HeaderOf(back, "ETag");

  // Completed on the phone: the completion comes back; a stale ETag is refused.
  auto done = Call("PUT", tasks + "from-phone.ics",
                   Todo("todo-1", "Send offer", "20261215T170000Z",
                        "STATUS:COMPLETED\r\nCOMPLETED:20261214T120000Z\r\nPERCENT-COMPLETE:100\r\n"),
                   {{"If-Match", etag}});
  ASSERT_EQ(done.status, 204) << done.body;
  EXPECT_EQ(Call("PUT", tasks + "from-phone.ics", Todo("todo-1", "Stale", "20261215T170000Z"),
                 {{"If-Match", etag}})
                .status,
            412);
  auto completed = Call("GET", tasks + "from-phone.ics");
  EXPECT_NE(completed.body.find("STATUS:COMPLETED"), std::string::npos) << completed.body;
  EXPECT_NE(completed.body.find("COMPLETED:20261214T120000Z"), std::string::npos) << completed.body;
  EXPECT_EQ(store_->GetActivity(made_id)->kind, model::ActivityKind::kTask);

  // The wrong component for each calendar, and a UID already taken.
  auto event_in_tasks = Call("PUT", tasks + "e.ics", Event("e", "E", "20261210T100000Z", "20261210T110000Z"));
  EXPECT_EQ(event_in_tasks.status, 403);
  EXPECT_NE(event_in_tasks.body.find("supported-calendar-component"), std::string::npos);
  EXPECT_EQ(Call("PUT", Cal() + "t.ics", Todo("t", "T", "20261215T170000Z")).status, 403);
  EXPECT_EQ(Call("PUT", tasks + "again.ics", Todo("todo-1", "Twice", "20261215T170000Z")).status, 403);
  EXPECT_EQ(Call("PUT", tasks + "bad.ics", Todo("bad", "Bad", "not-a-date")).status, 403);
  // Bob does not see Alice's task list.
  EXPECT_EQ(Call("PROPFIND", tasks, "", {{"Depth", "0"}}, "bob:pw-b").status, 404);

  // Reports: a query for VTODOs, a multiget, a sync-collection.
  auto query = Call("REPORT", tasks,
                    "<c:calendar-query xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\">"
                    "<d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name=\"VCALENDAR\">"
                    "<c:comp-filter name=\"VTODO\"><c:prop-filter name=\"SUMMARY\"><c:text-match>offer"
                    "</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter></c:filter>"
                    "</c:calendar-query>",
                    {{"Depth", "1"}});
  auto found = Responses(query);
  EXPECT_EQ(found.size(), 1u) << query.body;
  EXPECT_TRUE(found.contains(tasks + "from-phone.ics")) << query.body;
  auto events_query = Call("REPORT", tasks,
                           "<c:calendar-query xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\">"
                           "<d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name=\"VCALENDAR\">"
                           "<c:comp-filter name=\"VEVENT\"/></c:comp-filter></c:filter></c:calendar-query>",
                           {{"Depth", "1"}});
  EXPECT_TRUE(Responses(events_query).empty()) << events_query.body;
  auto multiget = Call("REPORT", tasks,
                       "<c:calendar-multiget xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\">"
                       "<d:prop><c:calendar-data/></d:prop><d:href>" + tasks + "from-phone.ics</d:href>"
                       "<d:href>" + tasks + "nothing.ics</d:href></c:calendar-multiget>");
  auto got = Responses(multiget);
  ASSERT_TRUE(got.contains(tasks + "from-phone.ics"));
  EXPECT_NE(multiget.body.find("BEGIN:VTODO"), std::string::npos);
  EXPECT_EQ(got[tasks + "nothing.ics"].status, 404);

  auto initial = Call("REPORT", tasks, SyncBody(""));
  EXPECT_EQ(Responses(initial).size(), 2u) << initial.body;
  const std::string token = TokenOf(initial.body);
  ASSERT_EQ(Call("DELETE", tasks + "from-phone.ics").status, 204);
  EXPECT_TRUE(store_->GetActivity(made_id).status().Is(Code::kNotFound));
  auto later = Responses(Call("REPORT", tasks, SyncBody(token)));
  ASSERT_TRUE(later.contains(tasks + "from-phone.ics"));
  EXPECT_EQ(later[tasks + "from-phone.ics"].status, 404);
}

TEST_F(DavServerTest, TheAddressBookIsFoundFromThePrincipal) {
  const std::string home = "/dav/addressbooks/" + alice_.id + "/";
  auto principal = Responses(Call("PROPFIND", "/dav/principals/" + alice_.id + "/",
                                  "<d:propfind xmlns:d=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\">"
                                  "<d:prop><card:addressbook-home-set/></d:prop></d:propfind>",
                                  {{"Depth", "0"}}));
  ASSERT_EQ(principal.size(), 1u);
  EXPECT_EQ(principal.begin()->second.PropHrefs(kNsCard, "addressbook-home-set"),
            std::vector<std::string>{home});
  auto listing = Responses(Call("PROPFIND", home, "", {{"Depth", "1"}}));
  ASSERT_TRUE(listing.contains(home + "contacts/"));
  const dav::DavResponse& book = listing[home + "contacts/"];
  const dav::XmlElement* type = book.Prop("DAV:", "resourcetype");
  ASSERT_NE(type, nullptr);
  EXPECT_NE(type->Child(kNsCard, "addressbook"), nullptr);
  EXPECT_FALSE(book.PropText("DAV:", "sync-token").empty());
  // Bob's address book is not Alice's to see.
  EXPECT_EQ(Call("PROPFIND", "/dav/addressbooks/" + bob_.id + "/contacts/", "", {{"Depth", "0"}}).status, 404);
}

TEST_F(DavServerTest, AContactsProgramsCardIsACrmContact) {
  model::Account acme;
  acme.meta.owner_id = bob_.id;  // shared: Alice may see it
  acme.name = "Acme Inc.";
  acme = *store_->Create(acme);
  const std::string book = "/dav/addressbooks/" + alice_.id + "/contacts/";
  auto put = Call("PUT", book + "phone-chose-this.vcf", Card("card-1", "Jane", "acme inc.", "jane@acme.example"),
                  {{"Content-Type", "text/vcard; charset=utf-8"}, {"If-None-Match", "*"}});
  ASSERT_EQ(put.status, 201) << put.body;
  auto contacts = store_->ListContacts({.owner_id = alice_.id});
  ASSERT_EQ(contacts->items.size(), 1u);
  const model::Contact c = contacts->items[0];
  EXPECT_EQ(c.first_name, "Jane");
  EXPECT_EQ(c.last_name, "Doe");
  EXPECT_EQ(c.email, "jane@acme.example");
  EXPECT_EQ(c.account_id, acme.meta.id);  // ORG named a visible account
  // Read back under the client's name: the CRM's values, the rest as written.
  auto get = Call("GET", book + "phone-chose-this.vcf");
  ASSERT_EQ(get.status, 200);
  EXPECT_NE(get.body.find("UID:card-1\r\n"), std::string::npos) << get.body;
  EXPECT_NE(get.body.find("ORG:Acme Inc.\r\n"), std::string::npos) << get.body;
  EXPECT_NE(get.body.find("X-PHONE-APP:kept\r\n"), std::string::npos);
  EXPECT_NE(get.body.find("ADR;TYPE=WORK:;;1 Main St;Springfield;;;"), std::string::npos);
  const std::string etag = HeaderOf(get, "ETag");
  // vCard 4.0 when asked for.
  auto v4 = Call("GET", book + "phone-chose-this.vcf", "", {{"Accept", "text/vcard; version=4.0"}});
  EXPECT_NE(v4.body.find("VERSION:4.0\r\n"), std::string::npos);
  // A CRM edit shows in the card; the client's stale write is refused.
  model::Contact edited = c;
  edited.job_title = "Buyer";
  ASSERT_TRUE(store_->Update(edited, c.meta.version).ok());
  auto stale = Call("PUT", book + "phone-chose-this.vcf", Card("card-1", "Janet"),
                    {{"Content-Type", "text/vcard"}, {"If-Match", etag}});
  EXPECT_EQ(stale.status, 412);
  auto fresh = Call("GET", book + "phone-chose-this.vcf");
  EXPECT_NE(fresh.body.find("TITLE:Buyer\r\n"), std::string::npos);
  auto ok = Call("PUT", book + "phone-chose-this.vcf", Card("card-1", "Janet", "Unknown Ltd"),
                 {{"Content-Type", "text/vcard"}, {"If-Match", HeaderOf(fresh, "ETag")}});
  EXPECT_EQ(ok.status, 204) << ok.body;
  model::Contact after = *store_->GetContact(c.meta.id);
  EXPECT_EQ(after.first_name, "Janet");
  EXPECT_EQ(after.account_id, "");  // no account of that name: kept as the card's ORG
  EXPECT_NE(Call("GET", book + "phone-chose-this.vcf").body.find("ORG:Unknown Ltd\r\n"), std::string::npos);
  // Another resource with the same UID is refused; a card for a calendar too.
  EXPECT_EQ(Call("PUT", book + "other.vcf", Card("card-1", "X"), {{"Content-Type", "text/vcard"}}).status, 403);
  auto wrong = Call("PUT", book + "x.vcf", Event("e", "Lunch", "20261210T100000Z", "20261210T110000Z"),
                    {{"Content-Type", "text/calendar"}});
  EXPECT_EQ(wrong.status, 403);
  EXPECT_NE(wrong.body.find("supported-address-data"), std::string::npos);
  auto broken = Call("PUT", book + "y.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:y\r\nEND:VCARD\r\n",
                     {{"Content-Type", "text/vcard"}});
  EXPECT_EQ(broken.status, 403);
  EXPECT_NE(broken.body.find("valid-address-data"), std::string::npos);
  EXPECT_EQ(store_->ListContacts({.owner_id = alice_.id})->items.size(), 1u);
  // Deleted through the address book: gone from the CRM.
  auto del = Call("DELETE", book + "phone-chose-this.vcf");
  EXPECT_EQ(del.status, 204);
  EXPECT_TRUE(store_->GetContact(c.meta.id).status().Is(Code::kNotFound));
}

TEST_F(DavServerTest, AddressBookReportsSyncMultigetAndQuery) {
  const std::string book = "/dav/addressbooks/" + alice_.id + "/contacts/";
  model::Contact crm;
  crm.meta.owner_id = alice_.id;
  crm.first_name = "Max";
  crm.last_name = "Mustermann";
  crm.email = "max@example.com";
  crm = *store_->Create(crm);
  model::Contact bobs;
  bobs.meta.owner_id = bob_.id;
  bobs.last_name = "Bobs";
  ASSERT_TRUE(store_->Create(bobs).ok());
  const std::string sync =
      "<d:sync-collection xmlns:d=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\"><d:sync-token/>"
      "<d:sync-level>1</d:sync-level><d:prop><d:getetag/><card:address-data/></d:prop></d:sync-collection>";
  auto first = Call("REPORT", book, sync);
  auto all = Responses(first);
  ASSERT_EQ(all.size(), 1u);  // Alice's contact only
  const std::string max_href = book + crm.meta.id + ".vcf";
  ASSERT_TRUE(all.contains(max_href));
  EXPECT_NE(all[max_href].PropText(kNsCard, "address-data").find("FN:Max Mustermann"), std::string::npos);
  auto ms = dav::ParseMultistatus(first.body);
  const std::string token = ms->sync_token;
  ASSERT_FALSE(token.empty());
  // A new card and a deleted contact, then the changes since the token.
  ASSERT_EQ(Call("PUT", book + "new.vcf", Card("n-1", "Nina", "", "nina@example.org"),
                 {{"Content-Type", "text/vcard"}}).status, 201);
  ASSERT_TRUE(store_->Delete(model::EntityType::kContact, crm.meta.id, std::nullopt).ok());
  std::string next = sync;
  next.replace(next.find("<d:sync-token/>"), 15, "<d:sync-token>" + token + "</d:sync-token>");
  auto changes = Responses(Call("REPORT", book, next));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[max_href].status, 404);
  EXPECT_TRUE(changes.contains(book + "new.vcf"));
  // Multiget: one known, one unknown href.
  auto got = Responses(Call("REPORT", book,
                            "<card:addressbook-multiget xmlns:d=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\">"
                            "<d:prop><d:getetag/><card:address-data/></d:prop><d:href>" + book + "new.vcf</d:href>"
                            "<d:href>" + book + "nope.vcf</d:href></card:addressbook-multiget>"));
  EXPECT_NE(got[book + "new.vcf"].PropText(kNsCard, "address-data").find("EMAIL;TYPE=INTERNET,WORK:nina@example.org"),
            std::string::npos);
  EXPECT_EQ(got[book + "nope.vcf"].status, 404);
  // Query: by e-mail, case-insensitive; a miss.
  auto query = [&](const std::string& prop, const std::string& text, const std::string& type) {
    return Responses(Call("REPORT", book,
                          "<card:addressbook-query xmlns:d=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\">"
                          "<d:prop><d:getetag/></d:prop><card:filter><card:prop-filter name=\"" + prop + "\">"
                          "<card:text-match collation=\"i;unicode-casemap\" match-type=\"" + type + "\">" + text +
                          "</card:text-match></card:prop-filter></card:filter></card:addressbook-query>"));
  };
  EXPECT_EQ(query("EMAIL", "NINA@", "starts-with").size(), 1u);
  EXPECT_EQ(query("FN", "nina doe", "equals").size(), 1u);
  EXPECT_EQ(query("EMAIL", "max", "contains").size(), 0u);
  EXPECT_EQ(Call("REPORT", book,
                 "<card:addressbook-query xmlns:d=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\">"
                 "<card:filter><card:prop-filter name=\"FN\"><card:text-match match-type=\"sounds-like\">x"
                 "</card:text-match></card:prop-filter></card:filter></card:addressbook-query>").status, 403);
}

}  // namespace
}  // namespace tandem::davserver
