// The CalDAV provider against a misbehaving server (in-process, loopback): every
// call ends with a clear error or a correct result, and nothing is duplicated.
#include <gtest/gtest.h>

#include <atomic>

#include "providers/caldav/caldav_calendar.h"
#include "tests/faulty_dav/fake_dav_server.h"

namespace tandem::providers::caldav {
namespace {

using tandem::testing::FakeDavOptions;
using tandem::testing::FakeDavServer;
using tandem::testing::Fault;
using tandem::testing::FaultKind;
using tandem::testing::RecordedRequest;
using tandem::testing::ScriptedReply;

class RecordingSleeper final : public http::Sleeper {
 public:
  void SleepFor(Duration d) override { waits.push_back(d); }
  std::vector<Duration> waits;
};

class FaultyDavTest : public ::testing::Test {
 protected:
  std::unique_ptr<CalDavCalendar> Open(FakeDavServer& server, int max_attempts = 4,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    CalDavCalendarOptions options;
    options.calendar_url = server.CollectionUrl();
    options.http.sleeper = &sleeper_;
    options.http.default_timeout = timeout;
    options.http.retry.max_attempts = max_attempts;
    auto calendar = CalDavCalendar::Open(std::move(options));
    EXPECT_TRUE(calendar.ok());
    return std::move(calendar).value();
  }
  // Replaces every answer to `method` (the first `times` ones; -1 = all) with `reply`.
  static std::function<Fault(const RecordedRequest&)> Replace(std::string method, ScriptedReply reply,
                                                              int times = -1,
                                                              FaultKind kind = FaultKind::kReplace) {
    auto left = std::make_shared<std::atomic<int>>(times);
    return [=](const RecordedRequest& r) {
      if (r.method != method || *left == 0) return Fault{};
      --*left;
      return Fault{kind, reply};
    };
  }
  static ScriptedReply Xml207(std::string body) {
    return ScriptedReply{.status = 207, .headers = {{"Content-Type", "application/xml"}},
                         .body = std::move(body)};
  }

  RecordingSleeper sleeper_;
};

TEST_F(FaultyDavTest, MalformedXmlIsCorruption) {
  FakeDavServer server;
  server.Put("a.ics", FakeDavServer::Event("a", "A"));
  auto calendar = Open(server);
  for (const char* body : {"<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/u/cal/a.ics</D:href>",
                           "<html><body>Internal proxy page</body></html>",
                           "\x01\x02 not xml",
                           "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
                           "<D:multistatus xmlns:D=\"DAV:\">&b;</D:multistatus>"}) {
    server.SetFault(Replace("REPORT", Xml207(body)));
    auto changes = calendar->ChangesSince("", {});
    ASSERT_FALSE(changes.ok()) << body;
    EXPECT_EQ(changes.status().code(), Code::kCorruption) << changes.status().ToString();
    EXPECT_NE(changes.status().message().find("REPORT"), std::string::npos)
        << "the message names the request: " << changes.status().ToString();
  }
  server.SetFault(nullptr);
  EXPECT_TRUE(calendar->ChangesSince("", {}).ok());
}

TEST_F(FaultyDavTest, ServerErrorAfterSavingACreateDoesNotDuplicate) {
  FakeDavServer server;
  server.SetFault(Replace("PUT", {.status = 500}, 1, FaultKind::kAfterApply));
  auto calendar = Open(server);
  auto created = calendar->Create("u1", FakeDavServer::Event("u1", "once"));
  // The retry meets its own first attempt: reported as AlreadyExists, so the engine
  // pairs with the existing item through FindByUid.
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Code::kAlreadyExists);
  auto found = calendar->FindByUid("u1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(server.size(), 1u);
  EXPECT_EQ(server.Count("PUT"), 2);
}

TEST_F(FaultyDavTest, ServerErrorAfterSavingAnUpdateOrDeleteIsHandled) {
  FakeDavServer server;
  server.Put("a.ics", FakeDavServer::Event("a", "A"));
  auto calendar = Open(server);
  auto items = calendar->GetMany({"/u/cal/a.ics"});
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  server.SetFault(Replace("PUT", {.status = 502}, 1, FaultKind::kAfterApply));
  auto updated = calendar->Update("/u/cal/a.ics", (*items)[0].etag, FakeDavServer::Event("a", "B"));
  // Saved, but we cannot know the new ETag: PreconditionFailed makes the engine re-read.
  EXPECT_EQ(updated.status().code(), Code::kPreconditionFailed);
  auto now = calendar->GetMany({"/u/cal/a.ics"});
  ASSERT_TRUE(now.ok());
  EXPECT_NE((*now)[0].ical.find("SUMMARY:B"), std::string::npos);

  server.SetFault(Replace("DELETE", {.status = 503}, 1, FaultKind::kAfterApply));
  EXPECT_TRUE(calendar->Delete("/u/cal/a.ics", (*now)[0].etag).ok());
  EXPECT_EQ(server.size(), 0u);
}

TEST_F(FaultyDavTest, RaceBetweenReadAndWriteIs412) {
  FakeDavServer server;
  server.Put("a.ics", FakeDavServer::Event("a", "A"));
  auto calendar = Open(server);
  auto items = calendar->GetMany({"/u/cal/a.ics"});
  ASSERT_TRUE(items.ok());
  server.Put("a.ics", FakeDavServer::Event("a", "someone else"));
  EXPECT_EQ(calendar->Update("/u/cal/a.ics", (*items)[0].etag, FakeDavServer::Event("a", "us"))
                .status()
                .code(),
            Code::kPreconditionFailed);
  EXPECT_EQ(calendar->Delete("/u/cal/a.ics", (*items)[0].etag).code(), Code::kPreconditionFailed);
  EXPECT_EQ(server.size(), 1u);
}

TEST_F(FaultyDavTest, TooManyRequestsWaitsForRetryAfter) {
  FakeDavServer server;
  server.Put("a.ics", FakeDavServer::Event("a", "A"));
  server.SetFault(Replace("REPORT", {.status = 429, .headers = {{"Retry-After", "2"}}}, 2));
  auto calendar = Open(server);
  auto changes = calendar->ChangesSince("", {});
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  EXPECT_EQ(changes->changed.size(), 1u);
  ASSERT_EQ(sleeper_.waits.size(), 2u);
  EXPECT_EQ(sleeper_.waits[0], std::chrono::seconds(2));

  server.SetFault(Replace("REPORT", {.status = 429, .headers = {{"Retry-After", "86400"}}}));
  auto refused = calendar->ChangesSince(changes->next_cursor, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(sleeper_.waits.size(), 2u);  // a day is beyond the cap: not waited
}

TEST_F(FaultyDavTest, SlowServerTimesOut) {
  FakeDavServer server;
  server.SetFault(Replace("REPORT", {.delay = std::chrono::milliseconds(3000)}));
  auto calendar = Open(server, /*max_attempts=*/2, std::chrono::milliseconds(200));
  auto changes = calendar->ChangesSince("", {});
  ASSERT_FALSE(changes.ok());
  EXPECT_EQ(changes.status().code(), Code::kDeadlineExceeded) << changes.status().ToString();
  EXPECT_EQ(server.Count("REPORT"), 2);
}

TEST_F(FaultyDavTest, DroppedConnectionsAreRetriedThenReported) {
  FakeDavServer server;
  server.Put("a.ics", FakeDavServer::Event("a", "A"));
  server.SetFault(Replace("REPORT", {.drop = true}, 2));
  auto calendar = Open(server);
  auto changes = calendar->ChangesSince("", {});
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  EXPECT_EQ(changes->changed.size(), 1u);

  server.SetFault(Replace("REPORT", {.drop = true}));
  auto lost = calendar->ChangesSince(changes->next_cursor, {});
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), Code::kUnavailable) << lost.status().ToString();

  // A create whose answer is lost after the server saved it: no duplicate.
  server.SetFault(Replace("PUT", {.drop = true}, 1, FaultKind::kAfterApply));
  auto created = calendar->Create("dropped", FakeDavServer::Event("dropped", "x"));
  EXPECT_EQ(created.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(server.size(), 2u);
}

TEST_F(FaultyDavTest, RewritingServerCausesNoInventedChanges) {
  FakeDavServer server(FakeDavOptions{
      .etag_on_put = false,
      .rewrite_on_put = [](const std::string& ical) {
        std::string out = ical;
        out.insert(out.find("END:VEVENT"), "X-SERVER-STAMP:1\r\n");
        return out;
      }});
  auto calendar = Open(server);
  auto start = calendar->ChangesSince("", {});
  ASSERT_TRUE(start.ok());
  auto created = calendar->Create("r1", FakeDavServer::Event("r1", "x"));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->etag, "");  // the server gave none: the engine re-reads
  auto first = calendar->ChangesSince(start->next_cursor, {});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->changed.size(), 1u);  // our write, as the server stored it
  EXPECT_NE(first->changed[0].ical.find("X-SERVER-STAMP"), std::string::npos);
  auto second = calendar->ChangesSince(first->next_cursor, {});
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->changed.empty());  // nothing happened since: nothing reported
  EXPECT_TRUE(second->deleted.empty());
}

TEST_F(FaultyDavTest, AuthenticationFailureIsClear) {
  FakeDavServer server;
  auto calendar = Open(server);
  server.SetFault([](const RecordedRequest&) {
    return Fault{FaultKind::kReplace, {.status = 401, .headers = {{"WWW-Authenticate", "Basic realm=\"x\""}}}};
  });
  auto changes = calendar->ChangesSince("", {});
  ASSERT_FALSE(changes.ok());
  EXPECT_EQ(changes.status().code(), Code::kUnauthenticated);
}

TEST_F(FaultyDavTest, ServerErrorOnTokenWhileCollectionAnswersMeansResync) {
  FakeDavServer server;
  auto calendar = Open(server, /*max_attempts=*/1);
  auto full = calendar->ChangesSince("", {});
  ASSERT_TRUE(full.ok());
  // Like Xandikos with an unknown token: a bare 500 for the REPORT only.
  server.SetFault(Replace("REPORT", {.status = 500, .body = "Server got itself in trouble"}));
  auto delta = calendar->ChangesSince(full->next_cursor, {});
  EXPECT_EQ(delta.status().code(), Code::kResyncRequired) << delta.status().ToString();
  // But when the whole server is down it is Unavailable, not a resync.
  server.SetFault([](const RecordedRequest&) { return Fault{FaultKind::kReplace, {.status = 503}}; });
  auto down = calendar->ChangesSince(full->next_cursor, {});
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();
}

}  // namespace
}  // namespace tandem::providers::caldav
