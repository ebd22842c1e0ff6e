#include "http/client.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/faulty_dav/scripted_server.h"

namespace tandem::http {
namespace {

using tandem::testing::RecordedRequest;
using tandem::testing::ScriptedReply;
using tandem::testing::ScriptedServer;

class RecordingSleeper final : public Sleeper {
 public:
  void SleepFor(Duration d) override { waits.push_back(d); }
  std::vector<Duration> waits;
};

ClientOptions FastOptions(RecordingSleeper* sleeper) {
  ClientOptions options;
  options.sleeper = sleeper;
  options.default_timeout = std::chrono::milliseconds(5000);
  return options;
}

TEST(HeadersTest, LookupIgnoresCase) {
  Headers h{{"ETag", "\"1\""}, {"Content-Type", "text/plain"}};
  EXPECT_EQ(h.Get("etag").value_or(""), "\"1\"");
  EXPECT_EQ(h.Get("CONTENT-TYPE").value_or(""), "text/plain");
  EXPECT_FALSE(h.Get("Location").has_value());
  h.Set("etag", "\"2\"");
  EXPECT_EQ(h.Get("ETag").value_or(""), "\"2\"");
  EXPECT_EQ(h.fields().size(), 2u);
}

TEST(UrlTest, ResolvesRelativeAndAbsoluteReferences) {
  EXPECT_EQ(ResolveUrl("http://h:1/a/b/", "/x/y.ics"), "http://h:1/x/y.ics");
  EXPECT_EQ(ResolveUrl("http://h:1/a/b/", "c.ics"), "http://h:1/a/b/c.ics");
  EXPECT_EQ(ResolveUrl("http://h:1/a/b/", "https://o/z"), "https://o/z");
  EXPECT_EQ(UrlOrigin("http://h:1/a/b/"), "http://h:1");
  EXPECT_EQ(UrlPath("http://h:1/a/b/?q=1"), "/a/b/");
  EXPECT_EQ(UrlPath("http://h:1"), "/");
}

TEST(ClientTest, SendsMethodHeadersBodyAndReadsResponse) {
  ScriptedServer server([](const RecordedRequest& r) {
    ScriptedReply reply;
    reply.status = 207;
    reply.headers = {{"ETag", "\"abc\""}, {"Content-Type", "application/xml"}};
    reply.body = "echo:" + r.method + ":" + r.body;
    return reply;
  });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  Request request;
  request.method = "PROPFIND";
  request.url = server.Url("/cal/");
  request.headers.Add("Depth", "1");
  request.headers.Add("Content-Type", "application/xml; charset=utf-8");
  request.body = "<propfind/>";
  auto response = client.Send(request);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 207);
  EXPECT_EQ(response->body, "echo:PROPFIND:<propfind/>");
  EXPECT_EQ(response->headers.Get("etag").value_or(""), "\"abc\"");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/cal/");
  EXPECT_EQ(requests[0].Header("depth"), "1");
  EXPECT_EQ(requests[0].Header("content-type"), "application/xml; charset=utf-8");
  EXPECT_EQ(requests[0].Header("expect"), "");
}

TEST(ClientTest, ReusesOneConnectionForManyRequests) {
  ScriptedServer server([](const RecordedRequest&) { return ScriptedReply{.body = "ok"}; });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  for (int i = 0; i < 5; ++i) {
    auto response = client.Send({.method = "GET", .url = server.Url("/x")});
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->body, "ok");
  }
  EXPECT_EQ(server.request_count(), 5);
  EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(ClientTest, SendsBasicAndBearerCredentials) {
  ScriptedServer server([](const RecordedRequest&) { return ScriptedReply{}; });
  RecordingSleeper sleeper;
  {
    ClientOptions options = FastOptions(&sleeper);
    options.auth = Auth::Basic("alice", "s3cret");
    Client client(options);
    auto response = client.Send({.url = server.Url("/")});
    ASSERT_TRUE(response.ok());
    // The effective URL never carries the credentials.
    EXPECT_EQ(response->effective_url, server.Url("/"));
  }
  {
    ClientOptions options = FastOptions(&sleeper);
    options.auth = Auth::Bearer("tok-123");
    Client client(options);
    ASSERT_TRUE(client.Send({.url = server.Url("/")}).ok());
  }
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Header("authorization"), "Basic YWxpY2U6czNjcmV0");
  EXPECT_EQ(requests[1].Header("authorization"), "Bearer tok-123");
}

TEST(ClientTest, AnswersDigestChallenge) {
  ScriptedServer server([](const RecordedRequest& r) {
    if (r.Header("authorization").starts_with("Digest ")) return ScriptedReply{.body = "in"};
    return ScriptedReply{.status = 401,
                         .headers = {{"WWW-Authenticate",
                                      "Digest realm=\"t\", nonce=\"n1\", qop=\"auth\""}}};
  });
  RecordingSleeper sleeper;
  ClientOptions options = FastOptions(&sleeper);
  options.auth = Auth::Digest("alice", "pw");
  Client client(options);
  auto response = client.Send({.url = server.Url("/d")});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "in");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[1].Header("authorization").find("username=\"alice\""), std::string::npos);
}

TEST(ClientTest, FollowsRedirectKeepingTheMethod) {
  ScriptedServer server([](const RecordedRequest& r) {
    if (r.target == "/.well-known/caldav") {
      return ScriptedReply{.status = 301, .headers = {{"Location", "/dav/"}}};
    }
    return ScriptedReply{.status = 207, .body = r.method};
  });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  auto response = client.Send({.method = "PROPFIND", .url = server.Url("/.well-known/caldav"),
                               .body = "<x/>"});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 207);
  EXPECT_EQ(response->body, "PROPFIND");
  EXPECT_EQ(response->effective_url, server.Url("/dav/"));
}

TEST(ClientTest, ARedirectIsRequestedOnceAndOnlyTheFailingHopIsRetried) {
  int dead_port;
  {
    ScriptedServer gone([](const RecordedRequest&) { return ScriptedReply{}; });
    dead_port = gone.port();
  }
  ScriptedServer server([&](const RecordedRequest&) {
    return ScriptedReply{.status = 301,
                         .headers = {{"Location", "http://127.0.0.1:" + std::to_string(dead_port) + "/"}}};
  });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  auto response = client.Send({.method = "PROPFIND", .url = server.Url("/.well-known/caldav")});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnavailable);
  EXPECT_EQ(server.request_count(), 1);  // the redirect itself is not asked again
  EXPECT_EQ(sleeper.waits.size(), 3u);   // the unreachable target is
}

TEST(ClientTest, ARedirectLoopEndsAfterMaxRedirectsEachHopOnce) {
  ScriptedServer server([](const RecordedRequest& r) {
    return ScriptedReply{.status = 302, .headers = {{"Location", r.target == "/a" ? "/b" : "/a"}}};
  });
  RecordingSleeper sleeper;
  ClientOptions options = FastOptions(&sleeper);
  options.max_redirects = 3;
  Client client(options);
  auto response = client.Send({.url = server.Url("/a")});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnavailable);
  EXPECT_NE(response.status().message().find("more than 3 redirects"), std::string::npos)
      << response.status().message();
  EXPECT_EQ(server.request_count(), 4);
  EXPECT_TRUE(sleeper.waits.empty());
}

TEST(ClientTest, CredentialsDoNotFollowARedirectToAnotherOrigin) {
  ScriptedServer other([](const RecordedRequest& r) {
    return ScriptedReply{.body = "auth=" + r.Header("authorization")};
  });
  ScriptedServer server([&](const RecordedRequest& r) {
    if (r.target == "/here") return ScriptedReply{.body = "auth=" + r.Header("authorization")};
    if (r.target == "/away") return ScriptedReply{.status = 307, .headers = {{"Location", other.Url("/x")}}};
    return ScriptedReply{.status = 308, .headers = {{"Location", "/here"}}};
  });
  RecordingSleeper sleeper;
  ClientOptions options = FastOptions(&sleeper);
  options.auth = Auth::Basic("alice", "secret");
  Client client(options);
  auto same = client.Send({.url = server.Url("/start")});
  ASSERT_TRUE(same.ok());
  EXPECT_NE(same->body.find("Basic "), std::string::npos) << same->body;
  auto away = client.Send({.url = server.Url("/away")});
  ASSERT_TRUE(away.ok());
  EXPECT_EQ(away->body, "auth=");
  EXPECT_EQ(away->effective_url, other.Url("/x"));
}

TEST(ClientTest, SeeOtherTurnsIntoAGetWithoutTheBody) {
  ScriptedServer server([](const RecordedRequest& r) {
    if (r.target == "/form") return ScriptedReply{.status = 303, .headers = {{"Location", "/result"}}};
    return ScriptedReply{.body = r.method + ":" + r.body};
  });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  auto response = client.Send({.method = "POST", .url = server.Url("/form"), .body = "a=1"});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->body, "GET:");
}

TEST(ClientTest, ClientErrorsAreNotRetried) {
  ScriptedServer server([](const RecordedRequest&) { return ScriptedReply{.status = 404}; });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  auto response = client.Send({.method = "PROPFIND", .url = server.Url("/x")});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(server.request_count(), 1);
  EXPECT_TRUE(sleeper.waits.empty());
}

TEST(ClientTest, RetriesServerErrorsOfIdempotentRequestsWithBackoff) {
  std::atomic<int> calls{0};
  ScriptedServer server([&](const RecordedRequest&) {
    return ++calls <= 2 ? ScriptedReply{.status = 500} : ScriptedReply{.body = "done"};
  });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  auto response = client.Send({.method = "PUT", .url = server.Url("/a.ics"), .body = "x"});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(calls.load(), 3);
  ASSERT_EQ(sleeper.waits.size(), 2u);
  EXPECT_EQ(sleeper.waits[0], std::chrono::milliseconds(250));
  EXPECT_EQ(sleeper.waits[1], std::chrono::milliseconds(500));
  EXPECT_EQ(client.stats().retries, 2);
}

TEST(ClientTest, DoesNotRetryPostOnServerError) {
  ScriptedServer server([](const RecordedRequest&) { return ScriptedReply{.status = 502}; });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  auto response = client.Send({.method = "POST", .url = server.Url("/"), .body = "{}"});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 502);
  EXPECT_EQ(server.request_count(), 1);
  EXPECT_TRUE(sleeper.waits.empty());
}

TEST(ClientTest, GivesUpAfterMaxAttemptsAndReturnsLastAnswer) {
  ScriptedServer server([](const RecordedRequest&) { return ScriptedReply{.status = 500}; });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  auto response = client.Send({.url = server.Url("/")});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(server.request_count(), 4);
  EXPECT_EQ(StatusForHttpError(*response, "GET /").code(), Code::kUnavailable);
}

TEST(ClientTest, HonoursRetryAfterWithinTheCap) {
  std::atomic<int> calls{0};
  ScriptedServer server([&](const RecordedRequest&) {
    return ++calls == 1 ? ScriptedReply{.status = 429, .headers = {{"Retry-After", "7"}}}
                        : ScriptedReply{.body = "ok"};
  });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  auto response = client.Send({.method = "POST", .url = server.Url("/")});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200);
  ASSERT_EQ(sleeper.waits.size(), 1u);
  EXPECT_EQ(sleeper.waits[0], std::chrono::seconds(7));
}

TEST(ClientTest, RetryAfterAsHttpDateUsesTheClock) {
  std::atomic<int> calls{0};
  ScriptedServer server([&](const RecordedRequest&) {
    return ++calls == 1 ? ScriptedReply{.status = 503,
                                        .headers = {{"Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT"}}}
                        : ScriptedReply{.body = "ok"};
  });
  RecordingSleeper sleeper;
  FakeClock clock(FromUnixSeconds(784111777 - 3));  // 3 s before that date
  ClientOptions options = FastOptions(&sleeper);
  options.clock = &clock;
  Client client(options);
  auto response = client.Send({.url = server.Url("/")});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200);
  ASSERT_EQ(sleeper.waits.size(), 1u);
  EXPECT_EQ(sleeper.waits[0], std::chrono::seconds(3));
}

TEST(ClientTest, RetryAfterBeyondTheCapIsReturnedNotWaited) {
  ScriptedServer server([](const RecordedRequest&) {
    return ScriptedReply{.status = 429, .headers = {{"Retry-After", "3600"}}};
  });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  auto response = client.Send({.url = server.Url("/")});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 429);
  EXPECT_TRUE(sleeper.waits.empty());
  EXPECT_EQ(StatusForHttpError(*response, "GET").code(), Code::kResourceExhausted);
}

TEST(ClientTest, DroppedConnectionIsRetriedThenReportedUnavailable) {
  ScriptedServer server([](const RecordedRequest&) { return ScriptedReply{.drop = true}; });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  auto response = client.Send({.url = server.Url("/")});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnavailable);
  EXPECT_EQ(server.request_count(), 4);
  EXPECT_EQ(sleeper.waits.size(), 3u);
}

TEST(ClientTest, SlowServerEndsInDeadlineExceeded) {
  ScriptedServer server([](const RecordedRequest&) {
    return ScriptedReply{.delay = std::chrono::milliseconds(2000)};
  });
  RecordingSleeper sleeper;
  ClientOptions options = FastOptions(&sleeper);
  options.retry.max_attempts = 1;
  Client client(options);
  auto response = client.Send({.url = server.Url("/"), .timeout = std::chrono::milliseconds(150)});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kDeadlineExceeded);
}

TEST(ClientTest, RefusedConnectionIsUnavailable) {
  int port;
  {
    ScriptedServer server([](const RecordedRequest&) { return ScriptedReply{}; });
    port = server.port();
  }
  RecordingSleeper sleeper;
  ClientOptions options = FastOptions(&sleeper);
  options.retry.max_attempts = 2;
  Client client(options);
  auto response = client.Send({.method = "POST", .url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnavailable);
  EXPECT_EQ(sleeper.waits.size(), 1u);  // never sent: safe to retry even a POST
}

TEST(ClientTest, MalformedUrlIsInvalidArgument) {
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  auto response = client.Send({.url = "ftp://127.0.0.1/x"});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(sleeper.waits.empty());
}

TEST(ClientTest, StreamsSuccessBodiesToTheSinkAndRestartsOnRetry) {
  std::atomic<int> calls{0};
  ScriptedServer server([&](const RecordedRequest&) {
    if (++calls == 1) return ScriptedReply{.status = 500, .body = "first try failed"};
    return ScriptedReply{.status = 207, .body = std::string(100000, 'x')};
  });
  RecordingSleeper sleeper;
  Client client(FastOptions(&sleeper));
  std::string streamed;
  int restarts = 0;
  Request request{.method = "REPORT", .url = server.Url("/")};
  request.body_sink = [&](std::string_view chunk) {
    streamed.append(chunk);
    return true;
  };
  request.body_restart = [&] {
    ++restarts;
    streamed.clear();
  };
  auto response = client.Send(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 207);
  EXPECT_TRUE(response->body.empty());
  EXPECT_EQ(streamed, std::string(100000, 'x'));
  EXPECT_EQ(restarts, 2);

  request.body_sink = [](std::string_view) { return false; };
  auto aborted = client.Send(request);
  ASSERT_FALSE(aborted.ok());
  EXPECT_EQ(aborted.status().code(), Code::kInternal);
}

TEST(StatusForHttpErrorTest, NeverCarriesTheAnswersBody) {
  Response r;
  r.status = 500;
  r.body = "ami-id instance-id secret-token";
  Status s = StatusForHttpError(r, "GET http://169.254.169.254/");
  EXPECT_EQ(s.message().find("secret"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("HTTP 500"), std::string::npos);
}

TEST(StatusForHttpErrorTest, MapsCodes) {
  Response r;
  r.status = 412;
  EXPECT_EQ(StatusForHttpError(r, "PUT").code(), Code::kPreconditionFailed);
  r.status = 401;
  EXPECT_EQ(StatusForHttpError(r, "PUT").code(), Code::kUnauthenticated);
  r.status = 404;
  EXPECT_EQ(StatusForHttpError(r, "PUT").code(), Code::kNotFound);
  r.status = 400;
  EXPECT_EQ(StatusForHttpError(r, "PUT").code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace tandem::http
