// The offline client end to end: a real tandemd server process and a real
// replica process (tandem_replica_runner, what `tandemd --replica-of` runs) on
// 127.0.0.1, each with its own temporary data directory, stopped by PID at the
// end (also on failure).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/client.h"

namespace tandem {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* out = fopen(log.c_str(), "a");
    if (out) {
      dup2(fileno(out), 1);
      dup2(fileno(out), 2);
    }
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

struct Answer {
  int status = 0;  // 0: no answer
  json body;
};

class Api {
 public:
  explicit Api(std::string base) : base_(std::move(base)) {
    http::ClientOptions o;
    o.retry.max_attempts = 1;
    o.connect_timeout = std::chrono::milliseconds(2000);
    o.default_timeout = std::chrono::milliseconds(30000);
    o.proxy = "";
    client_ = std::make_unique<http::Client>(std::move(o));
  }
  Answer Call(const std::string& method, const std::string& path, const json* body = nullptr) {
    http::Request r;
    r.method = method;
    r.url = base_ + path;
    if (!token.empty()) r.headers.Add("Authorization", "Bearer " + token);
    if (body) {
      r.headers.Add("Content-Type", "application/json");
      r.body = body->dump();
    }
    auto resp = client_->Send(r);
    if (!resp.ok()) return {};
    Answer a{resp->status, json::parse(resp->body, nullptr, false)};
    return a;
  }
  Answer Get(const std::string& path) { return Call("GET", path); }
  Answer Post(const std::string& path, const json& body) { return Call("POST", path, &body); }
  Answer Patch(const std::string& path, const json& body) { return Call("PATCH", path, &body); }
  Answer Put(const std::string& path, const json& body) { return Call("PUT", path, &body); }
  Answer Delete(const std::string& path) { return Call("DELETE", path); }
  bool Login(const std::string& login, const std::string& password) {
    Answer a = Post("/api/v1/login", {{"login", login}, {"password", password}});
    if (a.status != 200) return false;
    token = a.body["token"];
    return true;
  }
  // Every record of a collection (all pages).
  std::vector<json> All(const std::string& collection) {
    std::vector<json> out;
    std::string after;
    while (true) {
      Answer a = Get("/api/v1/" + collection + "?limit=1000" + (after.empty() ? "" : "&page_after=" + after));
      EXPECT_EQ(a.status, 200) << a.body.dump();
      if (a.status != 200) break;
      for (auto& item : a.body["items"]) out.push_back(item);
      after = a.body.value("next_page_after", "");
      if (after.empty()) break;
    }
    return out;
  }
  std::string token;

 private:
  std::string base_;
  std::unique_ptr<http::Client> client_;
};

bool WaitFor(const std::function<bool()>& done, std::chrono::seconds limit = std::chrono::seconds(30)) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

class ReplicaInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tandem-replica-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    server_port_ = FreePort();
    replica_port_ = FreePort();
    std::ofstream(dir_ / "server.toml")
        << "listen = \"127.0.0.1:" << server_port_ << "\"\n"
        << "data_dir = \"" << (dir_ / "server").string() << "\"\n"
        << "log_level = \"warn\"\nthreads = 2\n"
        << "[admin]\nlogin = \"admin\"\npassword = \"admin-password\"\n";
    StartServer();
    admin_ = std::make_unique<Api>(ServerUrl());
    ASSERT_TRUE(admin_->Login("admin", "admin-password"));
    for (const char* user : {"alice", "bob"}) {
      Answer a = admin_->Post("/api/v1/users", {{"login", user}, {"password", std::string(user) + "-password"},
                                                {"role", "user"}});
      ASSERT_EQ(a.status, 201) << a.body.dump();
      ids_[user] = a.body["id"];
    }
    alice_ = std::make_unique<Api>(ServerUrl());
    ASSERT_TRUE(alice_->Login("alice", "alice-password"));
    bob_ = std::make_unique<Api>(ServerUrl());
    ASSERT_TRUE(bob_->Login("bob", "bob-password"));
  }

  void TearDown() override {
    for (pid_t* pid : {&server_pid_, &replica_pid_}) {
      if (*pid > 0) {
        kill(*pid, SIGCONT);
        kill(*pid, SIGKILL);
        waitpid(*pid, nullptr, 0);
        *pid = 0;
      }
    }
    if (HasFailure()) {
      for (const char* log : {"server.log", "replica.log"}) {
        std::ifstream in(dir_ / log);
        std::string text((std::istreambuf_iterator<char>(in)), {});
        std::cerr << "--- " << log << " (last 3000 bytes)\n"
                  << (text.size() > 3000 ? text.substr(text.size() - 3000) : text) << "\n";
      }
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string ServerUrl() const { return "http://127.0.0.1:" + std::to_string(server_port_); }
  std::string ReplicaUrl() const { return "http://127.0.0.1:" + std::to_string(replica_port_); }

  void StartServer() {
    server_pid_ = Spawn({TANDEMD_PATH, "--config", (dir_ / "server.toml").string()},
                        (dir_ / "server.log").string());
    Api probe(ServerUrl());
    ASSERT_TRUE(WaitFor([&] { return probe.Get("/healthz").status == 200; })) << "server did not start";
  }
  void StopServer() {
    kill(server_pid_, SIGTERM);
    waitpid(server_pid_, nullptr, 0);
    server_pid_ = 0;
  }

  void StartReplica(bool with_password = true, int page_size = 1000, int push_batch = 500) {
    std::vector<std::string> args = {REPLICA_RUNNER_PATH,
                                     "--replica-of", ServerUrl(),
                                     "--data-dir", (dir_ / "replica").string(),
                                     "--port", std::to_string(replica_port_),
                                     "--poll-ms", "200",
                                     "--page-size", std::to_string(page_size),
                                     "--push-batch", std::to_string(push_batch),
                                     "--fast-password-hash", "--log-level", "info"};
    if (with_password) {
      args.insert(args.end(), {"--login", "alice", "--password", "alice-password"});
    }
    replica_pid_ = Spawn(args, (dir_ / "replica.log").string());
    local_ = std::make_unique<Api>(ReplicaUrl());
    ASSERT_TRUE(WaitFor([&] { return local_->Get("/healthz").status == 200; })) << "replica did not start";
    ASSERT_TRUE(local_->Login("alice", "alice-password"));
  }
  void KillReplica() {
    kill(replica_pid_, SIGKILL);
    waitpid(replica_pid_, nullptr, 0);
    replica_pid_ = 0;
  }
  json Status() { return local_->Get("/api/v1/replica/status").body; }
  bool FillDone() {
    json s = Status();
    return s.is_object() && !s.value("full_pull_in_progress", true);
  }
  // Creates records on the server through alice's mutation batches (fast).
  void CreateOnServer(Api& api, const std::string& prefix, int n) {
    for (int start = 0; start < n; start += 1000) {
      json batch = json::array();
      for (int i = start; i < std::min(n, start + 1000); ++i) {
        batch.push_back({{"id", prefix + "-m" + std::to_string(i)}, {"entity", "contacts"},
                         {"record_id", prefix + "-" + std::to_string(i)}, {"op", "create"},
                         {"fields", {{"first_name", prefix + std::to_string(i)}}}});
      }
      Answer a = api.Post("/api/v1/mutations", {{"mutations", batch}});
      ASSERT_EQ(a.status, 200) << a.body.dump();
    }
  }
  std::string Name(Api& api, const std::string& id) {
    Answer a = api.Get("/api/v1/contacts/" + id);
    return a.status == 200 ? a.body.value("first_name", "") : "<" + std::to_string(a.status) + ">";
  }
  int CountWithPrefix(Api& api, const std::string& prefix) {
    int n = 0;
    for (const auto& c : api.All("contacts")) n += c.value("first_name", "").rfind(prefix, 0) == 0;
    return n;
  }

  fs::path dir_;
  int server_port_ = 0;
  int replica_port_ = 0;
  pid_t server_pid_ = 0;
  pid_t replica_pid_ = 0;
  std::map<std::string, std::string> ids_;
  std::unique_ptr<Api> admin_, alice_, bob_, local_;
};

TEST_F(ReplicaInteropTest, OfflineEditsOnBothSidesConvergeAndConflictsSurface) {
  CreateOnServer(*alice_, "c", 20);
  Answer shared = bob_->Post("/api/v1/contacts", {{"first_name", "bob-shared"}});
  ASSERT_EQ(shared.status, 201);
  StartReplica();
  ASSERT_TRUE(WaitFor([&] { return FillDone(); }));
  EXPECT_EQ(local_->All("contacts").size(), 20u);  // my data only
  EXPECT_EQ(Name(*local_, shared.body["id"]), "<404>");
  EXPECT_EQ(Status()["client_version"], Status()["server_version"]);

  // The server goes away: the replica notices by itself within seconds.
  StopServer();
  auto t0 = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return Status().value("state", "") == "offline"; }, std::chrono::seconds(10)));
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
  // Offline, the local API keeps answering and queues the writes.
  EXPECT_EQ(local_->Patch("/api/v1/contacts/c-0", {{"first_name", "laptop-0"}}).status, 200);
  EXPECT_EQ(local_->Patch("/api/v1/contacts/c-2", {{"first_name", "laptop-2"}}).status, 200);
  Answer created = local_->Post("/api/v1/contacts", {{"first_name", "offline-new"}});
  ASSERT_EQ(created.status, 201);
  EXPECT_EQ(local_->Delete("/api/v1/contacts/c-3").status, 204);
  EXPECT_EQ(Name(*local_, "c-2"), "laptop-2");
  EXPECT_EQ(Status()["pending"], 4);

  // The laptop sleeps; meanwhile the server returns and changes records too.
  kill(replica_pid_, SIGSTOP);
  StartServer();
  ASSERT_TRUE(alice_->Login("alice", "alice-password"));  // the old session survives; a new one is fine too
  ASSERT_EQ(alice_->Patch("/api/v1/contacts/c-0", {{"first_name", "server-0"}}).status, 200);
  ASSERT_EQ(alice_->Patch("/api/v1/contacts/c-4", {{"first_name", "server-4"}}).status, 200);
  kill(replica_pid_, SIGCONT);

  ASSERT_TRUE(WaitFor([&] {
    json s = Status();
    return s.value("state", "") == "online" && s.value("pending", -1) == 0 && s.value("conflicts", 0) == 1;
  })) << Status().dump();
  ASSERT_TRUE(WaitFor([&] { return Name(*local_, "c-4") == "server-4"; }));
  EXPECT_EQ(Name(*alice_, "c-2"), "laptop-2");
  EXPECT_EQ(Name(*alice_, created.body["id"]), "offline-new");  // same id on both sides
  EXPECT_EQ(CountWithPrefix(*alice_, "offline-new"), 1);
  EXPECT_EQ(Name(*alice_, "c-3"), "<404>");

  // The record edited on both sides is a conflict: both versions kept.
  json conflicts = local_->Get("/api/v1/conflicts").body["items"];
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0]["id"], "c-0");
  EXPECT_EQ(conflicts[0]["mine"]["first_name"], "laptop-0");
  EXPECT_EQ(conflicts[0]["theirs"]["first_name"], "server-0");
  EXPECT_EQ(Name(*alice_, "c-0"), "server-0");
  EXPECT_EQ(Name(*local_, "c-0"), "laptop-0");

  Answer resolved = local_->Post("/api/v1/conflicts/contacts/c-0", {{"resolution", "mine"}});
  ASSERT_EQ(resolved.status, 200) << resolved.body.dump();
  ASSERT_TRUE(WaitFor([&] { return Name(*alice_, "c-0") == "laptop-0"; }));
  EXPECT_TRUE(local_->Get("/api/v1/conflicts").body["items"].empty());

  // Converged: same names on both sides.
  std::map<std::string, std::string> server_names, local_names;
  for (const auto& c : alice_->All("contacts")) {
    if (c["owner_id"] == ids_["alice"]) server_names[c["id"]] = c["first_name"];
  }
  ASSERT_TRUE(WaitFor([&] {
    local_names.clear();
    for (const auto& c : local_->All("contacts")) local_names[c["id"]] = c["first_name"];
    return local_names == server_names;
  }));
  EXPECT_EQ(local_names, server_names);
  json doctor = local_->Get("/api/v1/replica/doctor").body;
  EXPECT_TRUE(doctor.value("ok", false)) << doctor.dump();
}

TEST_F(ReplicaInteropTest, OwnershipAndFilterChangesMoveRecordsInAndOut) {
  Answer x = alice_->Post("/api/v1/contacts", {{"first_name", "x"}});
  Answer z = bob_->Post("/api/v1/contacts", {{"first_name", "z"}});
  ASSERT_EQ(x.status, 201);
  ASSERT_EQ(z.status, 201);
  std::string xid = x.body["id"], zid = z.body["id"];
  StartReplica();
  ASSERT_TRUE(WaitFor([&] { return FillDone(); }));
  EXPECT_EQ(Name(*local_, xid), "x");
  EXPECT_EQ(Name(*local_, zid), "<404>");

  // The server gives x to bob: it leaves alice's data.
  ASSERT_EQ(admin_->Patch("/api/v1/contacts/" + xid, {{"owner_id", ids_["bob"]}}).status, 200);
  ASSERT_TRUE(WaitFor([&] { return Name(*local_, xid) == "<404>"; }));

  // Everyone's contacts: both arrive.
  Answer put = local_->Put("/api/v1/replica/data-groups", {{"contacts", {{"owner", "all"}}}});
  ASSERT_EQ(put.status, 200) << put.body.dump();
  ASSERT_TRUE(WaitFor([&] { return Name(*local_, xid) == "x" && Name(*local_, zid) == "z"; }));

  // No contacts at all: they leave.
  ASSERT_EQ(local_->Put("/api/v1/replica/data-groups", {{"contacts", {{"enabled", false}}}}).status, 200);
  ASSERT_TRUE(WaitFor([&] { return local_->All("contacts").empty(); }));
  // Nothing was deleted on the server.
  EXPECT_EQ(Name(*alice_, zid), "z");
}

TEST_F(ReplicaInteropTest, KillDuringPullAndDuringPushLosesAndDuplicatesNothing) {
  const int kServerRecords = 10000;
  CreateOnServer(*alice_, "s", kServerRecords);
  StartReplica(true, /*page_size=*/50, /*push_batch=*/20);
  ASSERT_TRUE(WaitFor([&] {
    json s = Status();
    return s.value("full_pull_in_progress", false) && s["fill"].value("records", 0) > 0;
  }));
  json before_kill = Status();
  KillReplica();  // mid-fill
  RecordProperty("fill_records_at_kill", before_kill["fill"].value("records", 0));
  std::cerr << "killed during the fill after " << before_kill["fill"].dump() << "\n";
  StartReplica(/*with_password=*/false, 50, 20);  // no credentials needed again
  ASSERT_TRUE(WaitFor([&] { return FillDone(); }, std::chrono::seconds(120)));
  auto local = local_->All("contacts");
  EXPECT_EQ(local.size(), static_cast<size_t>(kServerRecords));
  EXPECT_EQ(Status()["tracked_records"], kServerRecords);

  // Queue 300 creations offline, then kill the replica in the middle of pushing them.
  StopServer();
  ASSERT_TRUE(WaitFor([&] { return Status().value("state", "") == "offline"; }));
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(local_->Post("/api/v1/contacts", {{"first_name", "push-" + std::to_string(i)}}).status, 201);
  }
  EXPECT_EQ(Status()["pending"], 300);
  StartServer();
  ASSERT_TRUE(WaitFor([&] {
    int pending = Status().value("pending", 300);
    return pending < 300;
  }));
  int pending_at_kill = Status().value("pending", -1);
  KillReplica();  // mid-push
  RecordProperty("pending_at_kill", pending_at_kill);
  std::cerr << "killed during the push with " << pending_at_kill << " pending\n";
  StartReplica(false, 50, 20);
  ASSERT_TRUE(WaitFor([&] { return Status().value("pending", -1) == 0; }, std::chrono::seconds(60)));
  EXPECT_EQ(CountWithPrefix(*alice_, "push-"), 300);
  ASSERT_TRUE(WaitFor([&] { return local_->All("contacts").size() == kServerRecords + 300u; }));
  EXPECT_EQ(CountWithPrefix(*local_, "push-"), 300);
  EXPECT_EQ(Status()["failed"], 0);
  EXPECT_EQ(Status()["conflicts"], 0);
}

TEST_F(ReplicaInteropTest, TandemdReplicaOfServesTheSameApiLocally) {
  CreateOnServer(*alice_, "t", 30);
  std::string data_dir = (dir_ / "tandemd-replica").string();
  // The password comes from a file, never from the command line.
  const std::string password_file = (dir_ / "alice.pw").string();
  std::ofstream(password_file) << "alice-password\n";
  replica_pid_ = Spawn({TANDEMD_PATH, "--replica-of", ServerUrl(), "--data-dir", data_dir,
                        "--listen", "127.0.0.1:" + std::to_string(replica_port_), "--login", "alice",
                        "--password-file", password_file, "--log-level", "info"},
                       (dir_ / "replica.log").string());
  local_ = std::make_unique<Api>(ReplicaUrl());
  ASSERT_TRUE(WaitFor([&] { return local_->Get("/healthz").status == 200; }));
  ASSERT_TRUE(local_->Login("alice", "alice-password"));  // the server's credentials work locally
  ASSERT_TRUE(WaitFor([&] { return FillDone(); }));
  EXPECT_EQ(local_->All("contacts").size(), 30u);
  Answer created = local_->Post("/api/v1/contacts", {{"first_name", "from-the-laptop"}});
  ASSERT_EQ(created.status, 201);
  ASSERT_TRUE(WaitFor([&] { return Name(*alice_, created.body["id"]) == "from-the-laptop"; }));
  EXPECT_TRUE(fs::exists(fs::path(data_dir) / "replica.db"));
}

}  // namespace
}  // namespace tandem
