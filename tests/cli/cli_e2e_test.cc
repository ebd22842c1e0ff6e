// The `tandem` binary against a real `tandemd`: each test starts the server on
// 127.0.0.1 (free port, temporary data dir, admin password from its config file),
// runs the CLI as a separate process with HOME/XDG_CONFIG_HOME in a temporary
// folder, checks output and exit codes, and stops the server by its PID.
#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"

extern char** environ;

namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Json = nlohmann::json;

constexpr char kAdminPassword[] = "correct horse battery";
constexpr char kChangedMeanwhile[] =
    "error: changed on the server meanwhile; re-run to see the current version\n";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A port nothing listens on right now (the kernel's choice, then released).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Starts `argv` with stdin/stdout/stderr redirected to files and `env` as the
// environment. Returns the PID, or -1.
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const fs::path& in, const fs::path& out, const fs::path& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

class CliEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-cli-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "home");
    fs::create_directories(dir_ / "xdg");
    std::ofstream(dir_ / "password") << kAdminPassword << "\n";
    std::ofstream(dir_ / "wrong-password") << "not the password\n";
    std::ofstream(dir_ / "empty");
  }

  void TearDown() override {
    StopServer();
    fs::remove_all(dir_);
  }

  void StartServer() {
#ifndef TANDEMD_PATH
    GTEST_SKIP() << "the tandemd target does not exist in this build tree";
#else
    port_ = FreePort();
    server_url_ = fmt::format("http://127.0.0.1:{}", port_);
    std::ofstream(dir_ / "tandemd.toml") << fmt::format(
        "listen = \"127.0.0.1:{}\"\ndata_dir = \"{}\"\nlog_level = \"warn\"\nthreads = 2\n"
        "[admin]\nlogin = \"admin\"\npassword = \"{}\"\n",
        port_, (dir_ / "data").string(), kAdminPassword);
    server_pid_ = Spawn({TANDEMD_PATH, "--config", (dir_ / "tandemd.toml").string()},
                        {"HOME=" + (dir_ / "home").string(), "PATH=/usr/bin:/bin"}, dir_ / "empty",
                        dir_ / "tandemd.out", dir_ / "tandemd.err");
    ASSERT_GT(server_pid_, 0) << "cannot start " << TANDEMD_PATH;
    // Ready when /healthz answers; give up after 20 s.
    tandem::http::ClientOptions options;
    options.retry.max_attempts = 1;
    options.connect_timeout = std::chrono::milliseconds(1000);
    tandem::http::Client client(std::move(options));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      ASSERT_EQ(::waitpid(server_pid_, &status, WNOHANG), 0)
          << "tandemd exited early: " << ReadFile(dir_ / "tandemd.err")
          << ReadFile(dir_ / "tandemd.out");
      auto r = client.Send({.method = "GET", .url = server_url_ + "/healthz"});
      if (r.ok() && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "tandemd did not become ready: " << ReadFile(dir_ / "tandemd.err");
#endif
  }

  void StopServer() {
    if (server_pid_ <= 0) return;
    ::kill(server_pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    int status = 0;
    while (::waitpid(server_pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(server_pid_, SIGKILL);
        ::waitpid(server_pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    server_pid_ = -1;
  }

  // Runs `tandem args...` with the test's HOME, XDG_CONFIG_HOME and TZ.
  Outcome Tandem(std::vector<std::string> args, const std::string& stdin_text = "",
                 const std::string& tz = "UTC") {
    std::ofstream(dir_ / "stdin") << stdin_text;
    std::vector<std::string> argv{TANDEM_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_t pid =
        Spawn(argv,
              {"HOME=" + (dir_ / "home").string(), "XDG_CONFIG_HOME=" + (dir_ / "xdg").string(),
               "TZ=" + tz, "PATH=/usr/bin:/bin"},
              dir_ / "stdin", dir_ / "cli.out", dir_ / "cli.err");
    Outcome o;
    if (pid <= 0) return o;
    int status = 0;
    ::waitpid(pid, &status, 0);
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.out = ReadFile(dir_ / "cli.out");
    o.err = ReadFile(dir_ / "cli.err");
    return o;
  }

  Json TandemJson(std::vector<std::string> args) {
    args.push_back("--json");
    Outcome o = Tandem(args);
    EXPECT_EQ(o.exit_code, 0) << o.err;
    Json j = Json::parse(o.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << o.out;
    return j;
  }

  void LogInAsAdmin() {
    Outcome o = Tandem({"login", "--server", server_url_, "--user", "admin", "--password-file",
                        (dir_ / "password").string()});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    EXPECT_EQ(o.out, fmt::format("Logged in to {} as admin.\n", server_url_));
  }

  fs::path dir_;
  int port_ = 0;
  std::string server_url_;
  pid_t server_pid_ = -1;
};

TEST_F(CliEndToEndTest, RecordLifecycleAgendaAndConflicts) {
  StartServer();
  if (IsSkipped() || HasFatalFailure()) return;
  LogInAsAdmin();
  if (HasFatalFailure()) return;

  fs::path cred = dir_ / "xdg" / "tandem" / "credentials.json";
  struct stat st {};
  ASSERT_EQ(::stat(cred.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(ReadFile(cred), Not(HasSubstr(kAdminPassword)));

  Outcome who = Tandem({"whoami"});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, StartsWith("admin"));
  EXPECT_THAT(who.out, HasSubstr("(admin)"));

  Outcome version = Tandem({"version"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_THAT(version.out, HasSubstr("client: " TANDEM_VERSION));
  EXPECT_THAT(version.out, HasSubstr("server: " TANDEM_VERSION));
  EXPECT_EQ(version.err, "");  // same version: no warning

  // Accounts: add (text and JSON), list.
  Outcome acme = Tandem({"accounts", "add", "--name", "Acme Corp", "--phone", "+1 555 0100"});
  ASSERT_EQ(acme.exit_code, 0) << acme.err;
  EXPECT_THAT(acme.out, StartsWith("Created account "));
  EXPECT_THAT(acme.out, HasSubstr("(version 1)"));
  Json globex = TandemJson({"accounts", "add", "--name", "Globex"});
  std::string globex_id = globex.value("id", "");
  ASSERT_FALSE(globex_id.empty());
  Outcome accounts = Tandem({"accounts", "list"});
  EXPECT_EQ(accounts.exit_code, 0) << accounts.err;
  EXPECT_THAT(accounts.out, StartsWith("ID"));
  EXPECT_THAT(accounts.out, HasSubstr("Acme Corp"));
  EXPECT_THAT(accounts.out, HasSubstr(globex_id + "  Globex"));

  // Pagination: one page by default with a note, every page with --all.
  for (const char* name : {"Ada", "Grace", "Edsger"}) {
    ASSERT_EQ(Tandem({"contacts", "add", "--first-name", name, "--last-name", "Test"}).exit_code,
              0);
  }
  Outcome page = Tandem({"contacts", "list", "--limit", "2"});
  EXPECT_EQ(page.exit_code, 0) << page.err;
  EXPECT_EQ(std::count(page.out.begin(), page.out.end(), '\n'), 3);  // header + 2
  EXPECT_THAT(page.err, HasSubstr("--all"));
  Json all = TandemJson({"contacts", "list", "--limit", "2", "--all", "--owner", "me"});
  EXPECT_EQ(all["items"].size(), 3u);
  EXPECT_EQ(all["more"], false);

  // Activities: a private timed one and an all-day one.
  Json review =
      TandemJson({"activities", "add", "--subject", "Review", "--start", "2027-03-10 09:00",
                  "--end", "2027-03-10 10:30", "--location", "Room 1", "--private", "--reminder",
                  "15", "--regarding-type", "account", "--regarding-id", globex_id});
  std::string review_id = review.value("id", "");
  ASSERT_FALSE(review_id.empty()) << review.dump();
  EXPECT_EQ(review["start"], "2027-03-10T09:00:00Z");
  EXPECT_EQ(review["end"], "2027-03-10T10:30:00Z");
  EXPECT_EQ(review["reminder_minutes"], 15);
  EXPECT_EQ(review["version"], 1);
  Outcome holiday = Tandem({"activities", "add", "--subject", "Holiday", "--all-day", "--start",
                            "2027-03-10", "--end", "2027-03-11"});
  ASSERT_EQ(holiday.exit_code, 0) << holiday.err;

  // The server's validation message, one line, exit 1.
  Outcome backwards = Tandem({"activities", "add", "--subject", "Backwards", "--start",
                              "2027-03-10 10:00", "--end", "2027-03-10 09:00"});
  EXPECT_EQ(backwards.exit_code, 1);
  EXPECT_EQ(backwards.err, "error: end: must not be before start\n");

  // Edit sends the version it read; a stale version is refused with exit 4.
  Outcome edit = Tandem({"activities", "edit", review_id, "--subject", "Review v2"});
  EXPECT_EQ(edit.exit_code, 0) << edit.err;
  EXPECT_EQ(edit.out, "Updated activity " + review_id + " (version 2)\n");
  Outcome stale =
      Tandem({"activities", "edit", review_id, "--if-version", "1", "--subject", "Lost update"});
  EXPECT_EQ(stale.exit_code, 4);
  EXPECT_EQ(stale.err, kChangedMeanwhile);
  Json shown = TandemJson({"activities", "show", review_id});
  EXPECT_EQ(shown["subject"], "Review v2");
  EXPECT_EQ(shown["version"], 2);
  // Moving the start keeps the 90-minute duration.
  ASSERT_EQ(Tandem({"activities", "edit", review_id, "--start", "2027-03-10 13:00"}).exit_code, 0);
  shown = TandemJson({"activities", "show", review_id});
  EXPECT_EQ(shown["start"], "2027-03-10T13:00:00Z");
  EXPECT_EQ(shown["end"], "2027-03-10T14:30:00Z");

  // Range listing and the agenda, read in another zone (Berlin is UTC+1 in March).
  Json day = TandemJson({"activities", "list", "--from", "2027-03-10", "--to", "2027-03-10"});
  EXPECT_EQ(day["items"].size(), 2u) << day.dump();
  Outcome agenda = Tandem({"agenda", "--from", "2027-03-10", "--days", "2"}, "", "Europe/Berlin");
  EXPECT_EQ(agenda.exit_code, 0) << agenda.err;
  EXPECT_EQ(agenda.out,
            "Wed 2027-03-10\n"
            "  all day      Holiday\n"
            "  14:00-15:30  Review v2  @ Room 1  [private]\n"
            "\n"
            "Thu 2027-03-11\n"
            "  all day      Holiday\n");
  Json agenda_json = TandemJson({"agenda", "--from", "2027-03-10", "--to", "2027-03-10"});
  EXPECT_EQ(agenda_json["items"].size(), 2u);
  Outcome empty_agenda = Tandem({"agenda", "--from", "2027-04-01", "--days", "3"});
  EXPECT_EQ(empty_agenda.out, "No activities from 2027-04-01 to 2027-04-03.\n");

  // Delete, then it is gone (exit 5).
  Outcome del = Tandem({"activities", "delete", review_id});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_EQ(del.out, "Deleted activity " + review_id + "\n");
  Outcome gone = Tandem({"activities", "show", review_id});
  EXPECT_EQ(gone.exit_code, 5);
  EXPECT_THAT(gone.err, StartsWith("error: "));

  // Usage errors never reach the server.
  EXPECT_EQ(Tandem({"activities", "add", "--subject", "x"}).exit_code, 2);  // no --start
  EXPECT_EQ(Tandem({"accounts", "frobnicate"}).exit_code, 2);

  // Logout revokes the session; afterwards commands say "not logged in" (exit 3).
  Outcome out = Tandem({"logout"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_FALSE(fs::exists(cred));
  Outcome after = Tandem({"accounts", "list"});
  EXPECT_EQ(after.exit_code, 3);
  EXPECT_EQ(after.err, "error: not logged in; run: tandem login\n");
}

TEST_F(CliEndToEndTest, WrongPasswordExitsThree) {
  StartServer();
  if (IsSkipped() || HasFatalFailure()) return;
  Outcome o = Tandem({"login", "--server", server_url_, "--user", "admin", "--password-file",
                      (dir_ / "wrong-password").string()});
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_THAT(o.err, StartsWith("error: "));
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1);
  EXPECT_FALSE(fs::exists(dir_ / "xdg" / "tandem" / "credentials.json"));
  // The password also comes from stdin when it is not a terminal.
  Outcome piped = Tandem({"login", "--server", server_url_, "--user", "admin"},
                         std::string(kAdminPassword) + "\n");
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  Outcome me = Tandem({"whoami"});
  EXPECT_EQ(me.exit_code, 0) << me.err;
  // A token the server does not know (expired, revoked) is an auth failure too.
  fs::path cred = dir_ / "xdg" / "tandem" / "credentials.json";
  Json saved = Json::parse(ReadFile(cred));
  saved["token"] = std::string(64, '0');
  std::ofstream(cred) << saved.dump();
  Outcome unknown = Tandem({"whoami"});
  EXPECT_EQ(unknown.exit_code, 3);
  EXPECT_THAT(unknown.err, StartsWith("error: "));
}

TEST_F(CliEndToEndTest, ServerDownExitsSix) {
  std::string dead = fmt::format("http://127.0.0.1:{}", FreePort());
  Outcome version = Tandem({"version", "--server", dead});
  EXPECT_EQ(version.exit_code, 6);
  EXPECT_THAT(version.err, StartsWith("error: cannot reach " + dead));
  Outcome login = Tandem({"login", "--server", dead, "--user", "admin", "--password-file",
                          (dir_ / "password").string()});
  EXPECT_EQ(login.exit_code, 6);
  // With a saved session whose server has gone away.
  StartServer();
  if (IsSkipped() || HasFatalFailure()) return;
  LogInAsAdmin();
  StopServer();
  Outcome list = Tandem({"accounts", "list"});
  EXPECT_EQ(list.exit_code, 6);
  EXPECT_THAT(list.err, StartsWith("error: cannot reach " + server_url_));
}

}  // namespace
