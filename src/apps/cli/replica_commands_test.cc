// tandem doctor and tandem replica ...: the requests they send to the replica's
// local API, what they print and their exit codes, against a scripted server that
// answers like LocalReplica (src/replica/replica_main.cc) or like a plain server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "apps/cli/context.h"

namespace tandem::cli {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kServer[] = "http://127.0.0.1:8481";

http::Response Reply(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.Set("Content-Type", "application/json");
  return r;
}

class ReplicaCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-cli-replica-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    home_ = tmpl;
  }
  void TearDown() override { fs::remove_all(home_); }

  // Answers "METHOD path?query" from routes_; anything else as a plain tandemd does
  // for an unknown route.
  Result<http::Response> Serve(const http::Request& r) {
    sent_.push_back(r);
    if (down_) return Status::Unavailable("Connection refused");
    std::string path = r.url.substr(std::string(kServer).size());
    auto it = routes_.find(r.method + " " + path);
    if (it != routes_.end()) return it->second;
    return Reply(404, R"({"error":"NotFound","message":"no route for )" +
                          path.substr(0, path.find('?')) + "\"}");
  }

  int Run(std::vector<std::string> args, std::string stdin_text = "") {
    out_.str("");
    err_.str("");
    in_.str(stdin_text);
    in_.clear();
    sent_.clear();
    CliRuntime rt;
    rt.config_env = {(home_ / "cfg").string(), home_.string()};
    rt.out = &out_;
    rt.err = &err_;
    rt.in = &in_;
    rt.zone = &zone_;
    rt.clock = &clock_;
    rt.make_http = [this] { return [this](const http::Request& r) { return Serve(r); }; };
    std::vector<const char*> argv{"tandem"};
    for (const auto& a : args) argv.push_back(a.c_str());
    return RunCli(static_cast<int>(argv.size()), argv.data(), std::move(rt));
  }

  // Logs in to the replica's local API (saves the session used by every command).
  void LogIn() {
    routes_["POST /api/v1/login"] =
        Reply(200, R"({"token":"local-token","user":{"id":"u1","login":"user1"}})");
    ASSERT_EQ(Run({"login", "--server", kServer, "--user", "user1"}, "pw\n"), 0) << err_.str();
    routes_.clear();
  }

  void ExpectOneRequest(const std::string& method, const std::string& path) {
    ASSERT_EQ(sent_.size(), 1u);
    EXPECT_EQ(sent_[0].method, method);
    EXPECT_EQ(sent_[0].url, std::string(kServer) + path);
    EXPECT_EQ(sent_[0].headers.Get("Authorization"), "Bearer local-token");
  }

  fs::path home_;
  std::ostringstream out_, err_;
  std::istringstream in_;
  FixedOffsetZone zone_{std::chrono::hours{1}};
  FakeClock clock_{*ParseRfc3339("2026-11-24T10:00:00Z")};
  std::map<std::string, http::Response> routes_;
  bool down_ = false;
  std::vector<http::Request> sent_;
};

// What RunDoctor/ToJson (src/replica/doctor.cc) answer.
constexpr char kHealthy[] = R"json({"ok":true,"checks":[
  {"name":"reachability","ok":true,"detail":"server answered","fix":""},
  {"name":"version","ok":true,"detail":"client 0.1.0, server 0.1.0 (api 1)","fix":""},
  {"name":"conflicts","ok":true,"detail":"0 open","fix":""}]})json";

constexpr char kProblems[] = R"json({"ok":false,"checks":[
  {"name":"reachability","ok":true,"detail":"server answered","fix":""},
  {"name":"clock","ok":true,"detail":"local clock is 3 s off the server's","fix":""},
  {"name":"failed_mutations","ok":false,"detail":"2 failed; update contacts c1: not allowed",
   "fix":"correct the cause, then fix queues them again","fixable":true,"fixed":""},
  {"name":"conflicts","ok":false,"detail":"1 open",
   "fix":"run `tandem conflicts` and resolve each (mine / theirs / merged)","fixable":false}]})json";

constexpr char kFixed[] = R"json({"ok":false,"checks":[
  {"name":"reachability","ok":true,"detail":"server answered","fix":""},
  {"name":"failed_mutations","ok":true,"detail":"2 failed; update contacts c1: not allowed",
   "fix":"","fixable":false,"fixed":"queued 2 again"},
  {"name":"conflicts","ok":false,"detail":"1 open",
   "fix":"run `tandem conflicts` and resolve each (mine / theirs / merged)"}]})json";

TEST_F(ReplicaCommandsTest, DoctorWithEveryCheckPassingExitsZero) {
  LogIn();
  routes_["GET /api/v1/replica/doctor"] = Reply(200, kHealthy);
  ASSERT_EQ(Run({"doctor"}), 0) << err_.str();
  ExpectOneRequest("GET", "/api/v1/replica/doctor");
  EXPECT_EQ(out_.str(),
            "ok      reachability  server answered\n"
            "ok      version       client 0.1.0, server 0.1.0 (api 1)\n"
            "ok      conflicts     0 open\n"
            "All 3 checks passed.\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(ReplicaCommandsTest, DoctorFindingProblemsSaysWhatToDoAndExitsOne) {
  LogIn();
  routes_["GET /api/v1/replica/doctor"] = Reply(200, kProblems);
  EXPECT_EQ(Run({"doctor"}), 1);
  ExpectOneRequest("GET", "/api/v1/replica/doctor");
  EXPECT_EQ(out_.str(),
            "ok      reachability      server answered\n"
            "ok      clock             local clock is 3 s off the server's\n"
            "FAILED  failed_mutations  2 failed; update contacts c1: not allowed\n"
            "                          to fix: correct the cause, then fix queues them again\n"
            "FAILED  conflicts         1 open\n"
            "                          to fix: run `tandem conflicts` and resolve each (mine / "
            "theirs / merged)\n");
  EXPECT_EQ(err_.str(),
            "error: 2 of 4 checks found problems: failed_mutations, conflicts (tandem doctor "
            "--fix repairs some of them)\n");

  // --fix is suggested only when it can repair one of the problems.
  routes_["GET /api/v1/replica/doctor"] = Reply(200, R"json({"ok":false,"checks":[
      {"name":"reachability","ok":false,"detail":"Unavailable: connection refused",
       "fix":"check the network and the server URL"}]})json");
  EXPECT_EQ(Run({"doctor"}), 1);
  EXPECT_EQ(out_.str(),
            "FAILED  reachability  Unavailable: connection refused\n"
            "                      to fix: check the network and the server URL\n");
  EXPECT_EQ(err_.str(), "error: 1 of 1 checks found problems: reachability\n");
}

TEST_F(ReplicaCommandsTest, DoctorFixAsksForTheRepairAndShowsWhatWasFixed) {
  LogIn();
  routes_["GET /api/v1/replica/doctor?fix=1"] = Reply(200, kFixed);
  EXPECT_EQ(Run({"doctor", "--fix"}), 1);
  ExpectOneRequest("GET", "/api/v1/replica/doctor?fix=1");
  EXPECT_THAT(out_.str(), HasSubstr("ok      failed_mutations  2 failed; update contacts c1: "
                                    "not allowed\n"
                                    "                          fixed: queued 2 again\n"));
  // A check the doctor cannot repair keeps its advice.
  EXPECT_THAT(out_.str(), HasSubstr("FAILED  conflicts         1 open\n"
                                    "                          to fix: run `tandem conflicts`"));
  EXPECT_EQ(err_.str(),
            "error: 1 of 3 checks found problems: conflicts (fixed: failed_mutations)\n");

  // Everything repaired: the doctor passes.
  routes_["GET /api/v1/replica/doctor?fix=1"] = Reply(200, R"json({"ok":true,"checks":[
      {"name":"failed_mutations","ok":true,"detail":"1 failed","fix":"","fixed":"queued 1 again"}]})json");
  EXPECT_EQ(Run({"doctor", "--fix"}), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "ok      failed_mutations  1 failed\n"
            "                          fixed: queued 1 again\n"
            "All 1 checks passed (after the fixes above).\n");
}

TEST_F(ReplicaCommandsTest, DoctorJsonPrintsTheReportAndKeepsTheExitCode) {
  LogIn();
  routes_["GET /api/v1/replica/doctor"] = Reply(200, kProblems);
  EXPECT_EQ(Run({"doctor", "--json"}), 1);
  EXPECT_EQ(Json::parse(out_.str()), Json::parse(kProblems));
  EXPECT_THAT(err_.str(), HasSubstr("2 of 4 checks found problems"));

  routes_["GET /api/v1/replica/doctor"] = Reply(200, kHealthy);
  EXPECT_EQ(Run({"--json", "doctor"}), 0);
  EXPECT_EQ(Json::parse(out_.str()), Json::parse(kHealthy));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(ReplicaCommandsTest, DoctorAgainstAPlainServerSaysItIsNotAReplica) {
  LogIn();  // no replica routes: the server answers 404 "no route for ..."
  EXPECT_EQ(Run({"doctor"}), 5);
  ExpectOneRequest("GET", "/api/v1/replica/doctor");
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(err_.str(),
            "error: this server is not an offline replica; doctor checks a replica (tandemd "
            "--replica-of)\n");
  EXPECT_EQ(Run({"doctor", "--fix"}), 5);
  EXPECT_THAT(err_.str(), HasSubstr("not an offline replica"));
}

TEST_F(ReplicaCommandsTest, ConflictsAgainstAPlainServerSaysWhereSyncConflictsAre) {
  LogIn();  // no replica routes: the server answers 404 "no route for ..."
  EXPECT_EQ(Run({"conflicts"}), 5);
  ExpectOneRequest("GET", "/api/v1/conflicts");
  EXPECT_THAT(err_.str(), HasSubstr("this server is not an offline replica"));
  EXPECT_THAT(err_.str(), HasSubstr("tandem sync log PAIR"));
  EXPECT_THAT(err_.str(), Not(HasSubstr("no route")));
  // A replica's own "no such conflict" stays as it is.
  routes_["POST /api/v1/conflicts/activities/a1"] =
      Reply(404, R"({"error":"NotFound","message":"no open conflict for activities a1"})");
  EXPECT_EQ(Run({"conflicts", "resolve", "activities", "a1", "mine"}), 5);
  EXPECT_EQ(err_.str(), "error: no open conflict for activities a1\n");
}

TEST_F(ReplicaCommandsTest, DoctorWithARefusedSessionExitsThree) {
  LogIn();
  routes_["GET /api/v1/replica/doctor"] =
      Reply(401, R"({"error":"Unauthenticated","message":"session expired"})");
  EXPECT_EQ(Run({"doctor"}), 3);
  EXPECT_EQ(err_.str(), "error: session expired\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(ReplicaCommandsTest, DoctorNeedsALoginAndAReachableReplica) {
  EXPECT_EQ(Run({"doctor", "--server", kServer}), 3);
  EXPECT_EQ(err_.str(), "error: not logged in; run: tandem login\n");
  EXPECT_TRUE(sent_.empty());

  LogIn();
  down_ = true;
  EXPECT_EQ(Run({"doctor"}), 6);
  EXPECT_EQ(err_.str(), std::string("error: cannot reach ") + kServer + ": Connection refused\n");
}

TEST_F(ReplicaCommandsTest, DoctorAnswerWithoutChecksIsAnError) {
  LogIn();
  routes_["GET /api/v1/replica/doctor"] = Reply(200, R"({"ok":true})");
  EXPECT_EQ(Run({"doctor"}), 1);
  EXPECT_EQ(err_.str(), "error: the replica's doctor answered without a list of checks\n");
}

// As LocalReplica::Impl::StatusJson answers, plus a field this client does not know.
constexpr char kStatusFilling[] = R"({"state":"online","server_url":"http://crm.test:8480",
  "user_id":"u1","client_version":"0.1.0","server_version":"0.1.0","pending":2,"failed":1,
  "conflicts":1,"tracked_records":640,"full_pull_in_progress":true,
  "fill":{"records":640,"pages":7,"done":false},"last_sync":"2026-11-24T09:58:00Z",
  "last_error":"","cursor":"c-812"})";

TEST_F(ReplicaCommandsTest, ReplicaStatusIsReadable) {
  LogIn();
  routes_["GET /api/v1/replica/status"] = Reply(200, kStatusFilling);
  ASSERT_EQ(Run({"replica", "status"}), 0) << err_.str();
  ExpectOneRequest("GET", "/api/v1/replica/status");
  EXPECT_EQ(out_.str(),
            "server:     http://crm.test:8480\n"
            "state:      online\n"
            "last sync:  2026-11-24 10:58 (+01:00, 2 min ago)\n"
            "fill:       in progress: 640 records in 7 pages so far\n"
            "records:    640 kept locally\n"
            "outbox:     2 pending, 1 failed  (see: tandem replica outbox)\n"
            "conflicts:  1 open  (see: tandem conflicts)\n"
            "versions:   replica 0.1.0, server 0.1.0\n"
            "user:       u1\n"
            "cursor:     c-812\n");

  ASSERT_EQ(Run({"replica", "status", "--json"}), 0);
  EXPECT_EQ(Json::parse(out_.str()), Json::parse(kStatusFilling));
}

TEST_F(ReplicaCommandsTest, ReplicaStatusOfflineNeverSynced) {
  LogIn();
  routes_["GET /api/v1/replica/status"] = Reply(200, R"({"state":"offline",
      "server_url":"http://crm.test:8480","user_id":"u1","client_version":"0.2.0",
      "server_version":"","pending":0,"failed":0,"conflicts":0,"tracked_records":-1,
      "full_pull_in_progress":false,"fill":{"records":0,"pages":0,"done":false},
      "last_sync":null,"last_error":"UNAVAILABLE: cannot reach http://crm.test:8480"})");
  ASSERT_EQ(Run({"replica", "status"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("state:       offline (working from the local copy"));
  EXPECT_THAT(out_.str(), HasSubstr("last sync:   never\n"));
  EXPECT_THAT(out_.str(), HasSubstr("last error:  UNAVAILABLE: cannot reach http://crm.test:8480\n"));
  EXPECT_THAT(out_.str(), HasSubstr("records:     ? kept locally\n"));
  EXPECT_THAT(out_.str(), HasSubstr("outbox:      0 pending, 0 failed\n"));
  EXPECT_THAT(out_.str(), HasSubstr("versions:    replica 0.2.0, server not known yet\n"));
  EXPECT_THAT(out_.str(), HasSubstr("fill:        complete (no full pull running)\n"));

  routes_["GET /api/v1/replica/status"] = Reply(200, R"({"state":"draining",
      "fill":{"records":18,"pages":1,"done":true},"full_pull_in_progress":false,
      "client_version":"0.2.0","server_version":"0.1.0"})");
  ASSERT_EQ(Run({"replica", "status"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("state:      reconnected, sending the queued changes\n"));
  EXPECT_THAT(out_.str(), HasSubstr("fill:       complete (18 records in 1 page)\n"));
  EXPECT_THAT(out_.str(),
              HasSubstr("versions:   replica 0.2.0, server 0.1.0  (differ: see tandem doctor)\n"));
}

TEST_F(ReplicaCommandsTest, ReplicaOutboxIsATable) {
  LogIn();
  routes_["GET /api/v1/replica/outbox"] = Reply(200, R"({"items":[
      {"mutation_id":"m1","entity":"contacts","record_id":"c1","op":"update","state":"pending",
       "attempts":0,"error":"","created":"2026-11-24T09:00:00Z"},
      {"mutation_id":"m2","entity":"accounts","record_id":"a7","op":"create","state":"failed",
       "attempts":3,"error":"name: must not be empty","created":"2026-11-23T08:30:00Z"}]})");
  ASSERT_EQ(Run({"replica", "outbox"}), 0) << err_.str();
  ExpectOneRequest("GET", "/api/v1/replica/outbox");
  EXPECT_EQ(out_.str(),
            "STATE    OP      ENTITY    RECORD  ATTEMPTS  QUEUED            ERROR\n"
            "pending  update  contacts  c1      0         2026-11-24 10:00\n"
            "failed   create  accounts  a7      3         2026-11-23 09:30  name: must not be "
            "empty\n"
            "2 queued change(s); 1 refused by the server (correct the cause, then: tandem doctor "
            "--fix queues them again).\n");

  routes_["GET /api/v1/replica/outbox"] = Reply(200, R"({"items":[]})");
  ASSERT_EQ(Run({"replica", "outbox"}), 0);
  EXPECT_EQ(out_.str(), "The outbox is empty: every local change has been sent.\n");
  ASSERT_EQ(Run({"replica", "outbox", "--json"}), 0);
  EXPECT_EQ(Json::parse(out_.str()), (Json{{"items", Json::array()}}));
}

// As model ToJson(DataGroups) answers.
constexpr char kGroups[] = R"({
  "accounts":{"enabled":true,"owner":"me","stages":[],"excluded_fields":[],"days_back":null,"days_ahead":null},
  "activities":{"enabled":true,"owner":"me","stages":[],"excluded_fields":["description"],"days_back":90,"days_ahead":null},
  "contacts":{"enabled":true,"owner":"all","stages":[],"excluded_fields":[],"days_back":null,"days_ahead":null},
  "opportunities":{"enabled":false,"owner":"me","stages":["proposal"],"excluded_fields":[],"days_back":null,"days_ahead":null}})";

TEST_F(ReplicaCommandsTest, DataGroupsShowsOneLinePerGroup) {
  LogIn();
  routes_["GET /api/v1/replica/data-groups"] = Reply(200, kGroups);
  ASSERT_EQ(Run({"replica", "data-groups"}), 0) << err_.str();
  ExpectOneRequest("GET", "/api/v1/replica/data-groups");
  EXPECT_EQ(out_.str(),
            "GROUP          KEPT LOCALLY\n"
            "accounts       mine\n"
            "contacts       all I may see\n"
            "opportunities  not kept locally\n"
            "activities     mine; from 90 days back to any time ahead; without description\n");
  ASSERT_EQ(Run({"replica", "data-groups", "--json"}), 0);
  EXPECT_EQ(Json::parse(out_.str()), Json::parse(kGroups));
}

TEST_F(ReplicaCommandsTest, DataGroupsSetPutsTheGivenJson) {
  LogIn();
  routes_["PUT /api/v1/replica/data-groups"] = Reply(200, kGroups);
  ASSERT_EQ(Run({"replica", "data-groups", "set", "--json", R"({"contacts":{"owner":"all"}})"}), 0)
      << err_.str();
  ExpectOneRequest("PUT", "/api/v1/replica/data-groups");
  EXPECT_EQ(Json::parse(sent_[0].body), (Json{{"contacts", {{"owner", "all"}}}}));
  EXPECT_THAT(out_.str(), HasSubstr("Data groups saved. The replica refills its local copy"));
  EXPECT_THAT(out_.str(), HasSubstr("contacts       all I may see\n"));
  EXPECT_EQ(err_.str(), "");

  // A bare --json (after the text, or before the subcommand) prints the answer as JSON.
  ASSERT_EQ(Run({"replica", "data-groups", "set", "--json", R"({"accounts":{}})", "--json"}), 0)
      << err_.str();
  EXPECT_EQ(Json::parse(sent_[0].body), (Json{{"accounts", Json::object()}}));
  EXPECT_EQ(Json::parse(out_.str()), Json::parse(kGroups));
  ASSERT_EQ(Run({"--json", "replica", "data-groups", "set", "--json", "{}"}), 0) << err_.str();
  EXPECT_EQ(Json::parse(out_.str()), Json::parse(kGroups));
}

TEST_F(ReplicaCommandsTest, DataGroupsSetReadsAFileOrStdin) {
  LogIn();
  routes_["PUT /api/v1/replica/data-groups"] = Reply(200, kGroups);
  fs::path file = home_ / "groups.json";
  std::ofstream(file) << R"({"activities":{"days_back":30,"excluded_fields":["description"]}})";
  ASSERT_EQ(Run({"replica", "data-groups", "set", "--file", file.string()}), 0) << err_.str();
  ExpectOneRequest("PUT", "/api/v1/replica/data-groups");
  EXPECT_EQ(Json::parse(sent_[0].body)["activities"]["days_back"], 30);

  ASSERT_EQ(Run({"replica", "data-groups", "set", "--file", "-"}, R"({"contacts":{"owner":"me"}})"),
            0)
      << err_.str();
  EXPECT_EQ(Json::parse(sent_[0].body), (Json{{"contacts", {{"owner", "me"}}}}));
}

TEST_F(ReplicaCommandsTest, DataGroupsSetRefusesBadInputBeforeSending) {
  LogIn();
  routes_["PUT /api/v1/replica/data-groups"] = Reply(200, kGroups);
  EXPECT_EQ(Run({"replica", "data-groups", "set"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("give exactly one of --file F or --json"));
  fs::path file = home_ / "g.json";
  std::ofstream(file) << "{}";
  EXPECT_EQ(Run({"replica", "data-groups", "set", "--file", file.string(), "--json", "{}"}), 2);
  EXPECT_EQ(Run({"replica", "data-groups", "set", "--json", "{not json"}), 2);
  EXPECT_EQ(err_.str(), "error: --json: the data groups must be a JSON object\n");
  EXPECT_EQ(Run({"replica", "data-groups", "set", "--json", "[1]"}), 2);
  EXPECT_EQ(Run({"replica", "data-groups", "set", "--json", "{}", "--json", "{}"}), 2);
  EXPECT_EQ(err_.str(), "error: --json: give the data groups once\n");
  EXPECT_TRUE(sent_.empty());

  EXPECT_EQ(Run({"replica", "data-groups", "set", "--file", (home_ / "missing.json").string()}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("cannot read"));
  std::ofstream(file) << "[]";
  EXPECT_EQ(Run({"replica", "data-groups", "set", "--file", file.string()}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("the data groups must be a JSON object"));
  EXPECT_TRUE(sent_.empty());
}

TEST_F(ReplicaCommandsTest, DataGroupsSetWarnsOfUnknownGroupsAndShowsServerRefusals) {
  LogIn();
  routes_["PUT /api/v1/replica/data-groups"] = Reply(200, kGroups);
  ASSERT_EQ(Run({"replica", "data-groups", "set", "--json", R"({"contact":{"owner":"all"}})"}), 0);
  EXPECT_THAT(err_.str(), HasSubstr("warning: \"contact\" is not a data group"));

  routes_["PUT /api/v1/replica/data-groups"] = Reply(
      400, R"({"error":"InvalidArgument","message":"contacts.owner: must be \"me\" or \"all\""})");
  EXPECT_EQ(Run({"replica", "data-groups", "set", "--json", R"({"contacts":{"owner":"x"}})"}), 1);
  EXPECT_EQ(err_.str(), "error: contacts.owner: must be \"me\" or \"all\"\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(ReplicaCommandsTest, ReplicaSyncPrintsWhatMoved) {
  LogIn();
  routes_["POST /api/v1/replica/sync"] =
      Reply(200, R"({"pulled":12,"pushed":3,"conflicts":0,"rejected":0})");
  ASSERT_EQ(Run({"replica", "sync"}), 0) << err_.str();
  ExpectOneRequest("POST", "/api/v1/replica/sync");
  EXPECT_EQ(out_.str(), "Synced: pulled 12, pushed 3, conflicts 0, rejected 0\n");
  ASSERT_EQ(Run({"replica", "sync", "--json"}), 0);
  EXPECT_EQ(Json::parse(out_.str())["pulled"], 12);
}

TEST_F(ReplicaCommandsTest, ReplicaSyncExitCodesTellConflictsAndRefusals) {
  LogIn();
  routes_["POST /api/v1/replica/sync"] =
      Reply(200, R"({"pulled":0,"pushed":1,"conflicts":2,"rejected":0})");
  EXPECT_EQ(Run({"replica", "sync"}), 4);
  EXPECT_EQ(out_.str(), "Synced: pulled 0, pushed 1, conflicts 2, rejected 0\n");
  EXPECT_EQ(err_.str(),
            "error: 2 record(s) changed on the server meanwhile; resolve with: tandem conflicts\n");

  routes_["POST /api/v1/replica/sync"] =
      Reply(200, R"({"pulled":0,"pushed":0,"conflicts":1,"rejected":1})");
  EXPECT_EQ(Run({"replica", "sync"}), 1);
  EXPECT_EQ(err_.str(), "error: the server refused 1 change(s); see: tandem replica outbox\n");

  // The replica cannot reach its server: its 503 is "unreachable".
  routes_["POST /api/v1/replica/sync"] =
      Reply(503, R"({"error":"Unavailable","message":"cannot reach http://crm.test:8480"})");
  EXPECT_EQ(Run({"replica", "sync"}), 6);
  EXPECT_EQ(err_.str(), "error: cannot reach http://crm.test:8480\n");
}

TEST_F(ReplicaCommandsTest, EveryReplicaCommandAgainstAPlainServerExitsFive) {
  LogIn();
  const std::string message =
      "error: this server is not an offline replica; `tandem replica` talks to a replica "
      "(tandemd --replica-of)\n";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"replica", "status"},
           {"replica", "outbox"},
           {"replica", "data-groups"},
           {"replica", "data-groups", "set", "--json", "{}"},
           {"replica", "sync"}}) {
    EXPECT_EQ(Run(args), 5) << args[1];
    EXPECT_EQ(err_.str(), message) << args[1];
    EXPECT_EQ(out_.str(), "") << args[1];
    EXPECT_EQ(sent_.size(), 1u) << args[1];
  }
}

TEST_F(ReplicaCommandsTest, ReplicaCommandsWithARefusedSessionExitThree) {
  LogIn();
  for (const char* route : {"GET /api/v1/replica/status", "GET /api/v1/replica/outbox",
                            "POST /api/v1/replica/sync"}) {
    routes_[route] = Reply(401, R"({"error":"Unauthenticated","message":"session expired"})");
  }
  EXPECT_EQ(Run({"replica", "status"}), 3);
  EXPECT_EQ(err_.str(), "error: session expired\n");
  EXPECT_EQ(Run({"replica", "outbox"}), 3);
  EXPECT_EQ(Run({"replica", "sync"}), 3);
}

TEST_F(ReplicaCommandsTest, HelpAndUsage) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("doctor"));
  EXPECT_THAT(out_.str(), HasSubstr("replica"));
  EXPECT_EQ(Run({"doctor", "--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("--fix"));
  EXPECT_THAT(out_.str(), HasSubstr("1 problems found"));
  EXPECT_EQ(Run({"replica", "--help"}), 0);
  for (const char* sub : {"status", "outbox", "data-groups", "sync"}) {
    EXPECT_THAT(out_.str(), HasSubstr(sub));
  }
  EXPECT_EQ(Run({"replica", "data-groups", "set", "--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("--file"));
  EXPECT_THAT(out_.str(), HasSubstr("days_back"));
  EXPECT_EQ(Run({"replica", "sync", "--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("4 new conflicts"));
  EXPECT_TRUE(sent_.empty());

  EXPECT_EQ(Run({"replica"}), 2);
  EXPECT_EQ(Run({"replica", "bogus"}), 2);
  EXPECT_EQ(Run({"doctor", "--repair"}), 2);
  EXPECT_THAT(err_.str(), Not(HasSubstr("not an offline replica")));
  EXPECT_TRUE(sent_.empty());
}

}  // namespace
}  // namespace tandem::cli
