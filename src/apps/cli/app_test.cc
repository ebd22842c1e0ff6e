// The whole command line in-process: parsing, the requests each command sends,
// what it prints and its exit code, against a scripted server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <sstream>

#include "apps/cli/context.h"

namespace tandem::cli {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using Route = std::function<Result<http::Response>(const http::Request&)>;

http::Response Answer(int status, std::string body, http::Headers headers = {}) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-cli-app-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    home_ = tmpl;
  }
  void TearDown() override { fs::remove_all(home_); }

  int Run(std::vector<std::string> args, std::string stdin_text = "", bool tty = false) {
    out_.str("");
    err_.str("");
    in_.str(stdin_text);
    in_.clear();
    CliRuntime rt;
    rt.config_env = {(home_ / "cfg").string(), home_.string()};
    rt.out = &out_;
    rt.err = &err_;
    rt.in = &in_;
    rt.zone = &zone_;
    rt.stdin_is_tty = tty;
    rt.prompt_secret = [this](const std::string& prompt) -> Result<std::string> {
      prompts_.push_back(prompt);
      return std::string("typed-secret");
    };
    rt.prompt_line = [this](const std::string& prompt) -> Result<std::string> {
      prompts_.push_back(prompt);
      return std::string("typed-login");
    };
    rt.clock = &clock_;
    rt.make_http = [this] {
      return [this](const http::Request& r) {
        sent_.push_back(r);
        return route_(r);
      };
    };
    std::vector<const char*> argv{"tandem"};
    for (const auto& a : args) argv.push_back(a.c_str());
    return RunCli(static_cast<int>(argv.size()), argv.data(), std::move(rt));
  }

  void LogIn() {
    route_ = [](const http::Request&) {
      return Answer(200, R"({"token":"t0k","user":{"id":"u1","login":"alice","role":"admin"}})");
    };
    ASSERT_EQ(Run({"login", "--server", "http://srv.test", "--user", "alice"}, "pw\n"), 0)
        << err_.str();
    sent_.clear();
  }

  fs::path home_;
  std::ostringstream out_, err_;
  std::istringstream in_;
  FixedOffsetZone zone_{std::chrono::hours{1}};
  FakeClock clock_{*ParseRfc3339("2026-11-24T10:00:00Z")};
  Route route_ = [](const http::Request&) { return Answer(500, ""); };
  std::vector<http::Request> sent_;
  std::vector<std::string> prompts_;
};

TEST_F(CliTest, OnATerminalLoginAsksForNameAndPassword) {
  route_ = [](const http::Request&) {
    return Answer(200, R"({"token":"x","user":{"id":"u1","login":"typed-login"}})");
  };
  ASSERT_EQ(Run({"login", "--server", "http://srv.test"}, "", /*tty=*/true), 0) << err_.str();
  EXPECT_EQ(prompts_, (std::vector<std::string>{"Login at http://srv.test: ",
                                                "Password for typed-login at http://srv.test: "}));
  EXPECT_EQ(Json::parse(sent_[0].body),
            (Json{{"login", "typed-login"}, {"password", "typed-secret"}}));
  // Not on a terminal, a missing --user is a usage error and nothing is asked.
  prompts_.clear();
  fs::remove_all(home_ / "cfg");
  EXPECT_EQ(Run({"login", "--server", "http://srv.test"}, "pw\n"), 2);
  EXPECT_TRUE(prompts_.empty());
}

TEST_F(CliTest, HelpOnEveryLevelExitsZero) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("activities"));
  EXPECT_THAT(out_.str(), HasSubstr("agenda"));
  EXPECT_EQ(Run({"activities", "add", "--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("--all-day"));
  EXPECT_THAT(out_.str(), HasSubstr("--reminder"));
  EXPECT_EQ(Run({"users", "disable", "--help"}), 0);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Run({}), 2);
  EXPECT_EQ(Run({"accounts"}), 2);
  EXPECT_EQ(Run({"accounts", "list", "--bogus"}), 2);
  EXPECT_THAT(err_.str(), StartsWith("error: "));
  EXPECT_EQ(Run({"opportunities", "add", "--stage", "maybe"}), 2);
  EXPECT_EQ(Run({"activities", "list", "--limit", "0"}), 2);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(CliTest, NotLoggedInExitsThree) {
  EXPECT_EQ(Run({"accounts", "list"}), 3);
  EXPECT_EQ(err_.str(), "error: not logged in; run: tandem login\n");
  EXPECT_TRUE(sent_.empty());
}

TEST_F(CliTest, LoginSavesTokenPrivatelyAndSendsNoPasswordInUrl) {
  LogIn();
  fs::path cred = home_ / "cfg" / "tandem" / "credentials.json";
  ASSERT_TRUE(fs::exists(cred));
  struct stat st {};
  ASSERT_EQ(::stat(cred.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  route_ = [](const http::Request& r) {
    return Answer(200, R"({"id":"u1","login":"alice","display_name":"Alice","role":"admin"})");
  };
  EXPECT_EQ(Run({"whoami"}), 0);
  EXPECT_EQ(out_.str(), "alice - Alice (admin) at http://srv.test\n");
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].url, "http://srv.test/api/v1/me");
  EXPECT_EQ(sent_[0].headers.Get("Authorization"), "Bearer t0k");
}

TEST_F(CliTest, TheTokenIsNeverSentToAnotherServer) {
  LogIn();
  EXPECT_EQ(Run({"accounts", "list", "--server", "http://evil.test"}), 3);
  EXPECT_THAT(err_.str(), HasSubstr("not logged in to http://evil.test"));
  EXPECT_TRUE(sent_.empty());
  route_ = [](const http::Request&) { return Answer(200, R"({"items":[]})"); };
  EXPECT_EQ(Run({"accounts", "list", "--server", "http://srv.test/"}), 0) << err_.str();
  ASSERT_EQ(sent_.size(), 1u);
}

TEST_F(CliTest, ActivitiesListIsChronological) {
  LogIn();
  route_ = [](const http::Request&) {
    return Answer(200, R"({"items":[
        {"id":"late","subject":"B","start":"2026-12-02T08:00:00Z","end":"2026-12-02T09:00:00Z"},
        {"id":"early","subject":"A","start":"2026-12-01T08:00:00Z","end":"2026-12-01T09:00:00Z"}],
        "next_page_after":""})");
  };
  ASSERT_EQ(Run({"activities", "list"}), 0);
  EXPECT_LT(out_.str().find("early"), out_.str().find("late"));
}

TEST_F(CliTest, LoginBodyCarriesThePasswordFromStdin) {
  route_ = [](const http::Request&) {
    return Answer(200, R"({"token":"x","user":{"id":"u1","login":"bob"}})");
  };
  ASSERT_EQ(Run({"--server", "http://srv.test", "login", "-u", "bob"}, "s3cret\n"), 0);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].method, "POST");
  EXPECT_EQ(Json::parse(sent_[0].body), (Json{{"login", "bob"}, {"password", "s3cret"}}));
  EXPECT_EQ(out_.str(), "Logged in to http://srv.test as bob.\n");
}

TEST_F(CliTest, WrongPasswordExitsThreeWithServerMessage) {
  route_ = [](const http::Request&) {
    return Answer(401, R"({"error":"Unauthenticated","message":"wrong login or password"})");
  };
  EXPECT_EQ(Run({"login", "--server", "http://srv.test", "--user", "a"}, "bad\n"), 3);
  EXPECT_EQ(err_.str(), "error: wrong login or password\n");
  EXPECT_FALSE(fs::exists(home_ / "cfg" / "tandem" / "credentials.json"));
}

TEST_F(CliTest, AddActivityTurnsFlagsIntoJson) {
  LogIn();
  route_ = [](const http::Request&) {
    return Answer(201, R"({"id":"A1","version":1})", {{"ETag", "\"1\""}});
  };
  ASSERT_EQ(Run({"activities", "add", "--subject", "Review", "--start", "2026-12-01 09:00",
                 "--location", "Room 1", "--show-as", "tentative", "--private", "--reminder", "15",
                 "--regarding-type", "account", "--regarding-id", "acc1"}),
            0)
      << err_.str();
  EXPECT_EQ(out_.str(), "Created activity A1 (version 1)\n");
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].url, "http://srv.test/api/v1/activities");
  Json body = Json::parse(sent_[0].body);
  EXPECT_EQ(body["subject"], "Review");
  EXPECT_EQ(body["start"], "2026-12-01T08:00:00Z");
  EXPECT_EQ(body["end"], "2026-12-01T09:00:00Z");
  EXPECT_EQ(body["all_day"], false);
  EXPECT_EQ(body["private"], true);
  EXPECT_EQ(body["show_as"], "tentative");
  EXPECT_EQ(body["reminder_minutes"], 15);
  EXPECT_EQ(body["regarding_type"], "account");
  EXPECT_EQ(body["regarding_id"], "acc1");
  EXPECT_FALSE(body.contains("description"));  // not given, not sent
}

TEST_F(CliTest, ServerValidationErrorIsOneLine) {
  LogIn();
  route_ = [](const http::Request&) {
    return Answer(400, R"({"error":"InvalidArgument","message":"end: must not be before start"})");
  };
  EXPECT_EQ(Run({"activities", "add", "--subject", "x", "--start", "2026-12-01 10:00", "--end",
                 "2026-12-01 09:00"}),
            1);
  EXPECT_EQ(err_.str(), "error: end: must not be before start\n");
}

TEST_F(CliTest, EditSendsTheVersionItReadAndReportsAConflict) {
  LogIn();
  route_ = [](const http::Request& r) {
    if (r.method == "GET") {
      return Answer(200, R"({"id":"A1","subject":"Old","version":7,
                             "start":"2026-12-01T08:00:00Z","end":"2026-12-01T09:00:00Z"})",
                    {{"ETag", "\"7\""}});
    }
    return Answer(412, R"({"error":"PreconditionFailed","message":"version mismatch"})");
  };
  EXPECT_EQ(Run({"activities", "edit", "A1", "--subject", "New"}), 4);
  EXPECT_EQ(err_.str(),
            "error: changed on the server meanwhile; re-run to see the current version\n");
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].method, "PATCH");
  EXPECT_EQ(sent_[1].headers.Get("If-Match"), "\"7\"");
  EXPECT_EQ(Json::parse(sent_[1].body), (Json{{"subject", "New"}}));

  sent_.clear();
  EXPECT_EQ(Run({"activities", "edit", "A1", "--if-version", "3", "--no-reminder"}), 4);
  EXPECT_EQ(sent_[1].headers.Get("If-Match"), "\"3\"");
  EXPECT_TRUE(Json::parse(sent_[1].body)["reminder_minutes"].is_null());
}

TEST_F(CliTest, EditWithNothingToChangeIsUsage) {
  LogIn();
  route_ = [](const http::Request&) { return Answer(200, R"({"id":"A1","version":1})"); };
  EXPECT_EQ(Run({"accounts", "edit", "A1"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("nothing to change"));
}

TEST_F(CliTest, NotFoundExitsFive) {
  LogIn();
  route_ = [](const http::Request&) {
    return Answer(404, R"({"error":"NotFound","message":"no such account"})");
  };
  EXPECT_EQ(Run({"accounts", "show", "nope"}), 5);
  EXPECT_EQ(err_.str(), "error: no such account\n");
}

TEST_F(CliTest, UnreachableServerExitsSix) {
  LogIn();
  route_ = [](const http::Request&) -> Result<http::Response> {
    return Status::Unavailable("Connection refused");
  };
  EXPECT_EQ(Run({"contacts", "list"}), 6);
  EXPECT_EQ(err_.str(), "error: cannot reach http://srv.test: Connection refused\n");
}

TEST_F(CliTest, ListPrintsATableAndJsonOnRequest) {
  LogIn();
  route_ = [](const http::Request&) {
    return Answer(200, R"({"items":[{"id":"c1","name":"Acme","phone":"+1","website":"a.test"}],
                          "next_page_after":""})");
  };
  ASSERT_EQ(Run({"accounts", "list", "--owner", "me"}), 0);
  EXPECT_EQ(out_.str(),
            "ID  NAME  PHONE  WEBSITE\n"
            "c1  Acme  +1     a.test\n");
  EXPECT_EQ(sent_[0].url, "http://srv.test/api/v1/accounts?owner=me");
  // --json works before or after the subcommand.
  ASSERT_EQ(Run({"accounts", "list", "--json"}), 0);
  Json j = Json::parse(out_.str());
  EXPECT_EQ(j["items"][0]["name"], "Acme");
  EXPECT_EQ(j["more"], false);
}

TEST_F(CliTest, ActivitiesListPassesTheRangeInUtc) {
  LogIn();
  route_ = [](const http::Request&) { return Answer(200, R"({"items":[],"next_page_after":""})"); };
  ASSERT_EQ(Run({"activities", "list", "--from", "2026-12-01", "--to", "2026-12-01"}), 0);
  EXPECT_EQ(sent_[0].url,
            "http://srv.test/api/v1/"
            "activities?from=2026-11-30T23%3A00%3A00Z&to=2026-12-01T23%3A00%3A00Z");
  EXPECT_EQ(out_.str(), "No activities.\n");
}

TEST_F(CliTest, AgendaAsksForTheCallersWeek) {
  LogIn();
  route_ = [](const http::Request&) {
    return Answer(200, R"({"items":[{"id":"a","subject":"Standup","start":"2026-11-25T08:00:00Z",
                          "end":"2026-11-25T08:15:00Z","all_day":false,"private":true}],
                          "next_page_after":""})");
  };
  ASSERT_EQ(Run({"agenda"}), 0) << err_.str();
  EXPECT_EQ(sent_[0].url,
            "http://srv.test/api/v1/activities?owner=me&from=2026-11-23T23%3A00%3A00Z&"
            "to=2026-11-30T23%3A00%3A00Z&limit=1000");
  EXPECT_EQ(out_.str(), "Wed 2026-11-25\n  09:00-09:15  Standup  [private]\n");
  EXPECT_EQ(Run({"agenda", "--to", "2026-11-20"}), 2);
}

TEST_F(CliTest, VersionWarnsOnMismatch) {
  route_ = [](const http::Request&) {
    return Answer(200, R"({"server_version":"99.0.0","api":1})");
  };
  ASSERT_EQ(Run({"version", "--server", "http://srv.test"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("client: " TANDEM_VERSION));
  EXPECT_THAT(out_.str(), HasSubstr("server: 99.0.0"));
  EXPECT_THAT(err_.str(), HasSubstr("warning: client version"));
  route_ = [](const http::Request&) {
    return Answer(200, std::string(R"({"server_version":")") + TANDEM_VERSION + "\"}");
  };
  ASSERT_EQ(Run({"version", "--server", "http://srv.test", "--json"}), 0);
  EXPECT_EQ(Json::parse(out_.str())["match"], true);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CliTest, LogoutForgetsTheSessionEvenIfTheServerIsDown) {
  LogIn();
  route_ = [](const http::Request&) -> Result<http::Response> {
    return Status::Unavailable("down");
  };
  EXPECT_EQ(Run({"logout"}), 0);
  EXPECT_THAT(err_.str(), HasSubstr("warning"));
  EXPECT_EQ(Run({"whoami"}), 3);
}

TEST_F(CliTest, UsersAddReadsTheNewPasswordFromStdin) {
  LogIn();
  route_ = [](const http::Request&) { return Answer(201, R"({"id":"u2","login":"carol"})"); };
  ASSERT_EQ(Run({"users", "add", "--login", "carol", "--role", "user"}, "pw2\n"), 0) << err_.str();
  Json body = Json::parse(sent_[0].body);
  EXPECT_EQ(body["password"], "pw2");
  EXPECT_EQ(body["role"], "user");
  EXPECT_EQ(out_.str(), "Created user u2\n");
}

}  // namespace
}  // namespace tandem::cli
