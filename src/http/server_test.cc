#include "http/server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace tandem::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// One blocking client connection to the server under test.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void SendRaw(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // Reads one response; status 0 when the server closed the connection instead.
  bhttp::response<bhttp::string_body> Read() {
    bhttp::response<bhttp::string_body> res;
    beast::error_code ec;
    bhttp::read(socket_, buffer_, res, ec);
    if (ec) res.result(0);
    return res;
  }
  bhttp::response<bhttp::string_body> ReadWith(bhttp::response_parser<bhttp::string_body>& parser) {
    beast::error_code ec;
    bhttp::read(socket_, buffer_, parser, ec);
    auto res = parser.release();
    if (ec) res.result(0);
    return res;
  }
  bhttp::response<bhttp::string_body> Do(bhttp::verb verb, std::string target,
                                         std::string body = "") {
    bhttp::request<bhttp::string_body> req(verb, target, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    req.body() = std::move(body);
    req.prepare_payload();
    bhttp::write(socket_, req);
    return Read();
  }
  // True when the server closed the connection (EOF or reset).
  bool ClosedByServer() {
    char c;
    beast::error_code ec;
    socket_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

Router TestRouter() {
  Router router;
  router.Add("GET", "/items/{id}", [](const ServerRequest& r) {
    return ServerResponse::Text(
        200, "item=" + r.PathParam("id") + " q=" + std::string(r.Query("q").value_or("-")));
  });
  router.Add("DELETE", "/items/{id}",
             [](const ServerRequest&) { return ServerResponse::Empty(204); });
  router.Add("POST", "/echo", [](const ServerRequest& r) {
    return ServerResponse::Text(200, std::string(r.Header("x-tag").value_or("")) + ":" + r.body);
  });
  router.Add("PROPFIND", "/dav/{path}", [](const ServerRequest& r) {
    return ServerResponse::Text(207, "dav " + r.PathParam("path"));
  });
  router.Add("GET", "/throw",
             [](const ServerRequest&) -> ServerResponse { throw std::runtime_error("boom"); });
  return router;
}

std::unique_ptr<Server> StartServer(ServerOptions options, Router router = TestRouter()) {
  options.threads = 2;
  auto server = Server::Start(std::move(options), std::move(router));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return std::move(server).value();
}

TEST(PercentDecodeTest, DecodesEscapesAndPlus) {
  EXPECT_EQ(PercentDecode("a%20b+c", false), "a b+c");
  EXPECT_EQ(PercentDecode("a%20b+c", true), "a b c");
  EXPECT_EQ(PercentDecode("%2", true), "%2");
  EXPECT_EQ(PercentDecode("%zz%41", true), "%zzA");
}

TEST(RouterTest, MatchesParamsAndReports404And405) {
  Router router = TestRouter();
  ServerRequest r;
  r.method = "GET";
  r.path = "/items/abc/";
  ServerResponse res = router.Dispatch(&r);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "item=abc q=-");

  r.method = "PUT";
  res = router.Dispatch(&r);
  EXPECT_EQ(res.status, 405);
  bool has_allow = false;
  for (auto& [k, v] : res.headers) {
    if (k == "Allow") {
      has_allow = true;
      EXPECT_EQ(v, "GET, DELETE");
    }
  }
  EXPECT_TRUE(has_allow);

  r.method = "GET";
  r.path = "/items";
  EXPECT_EQ(router.Dispatch(&r).status, 404);
  r.path = "/items/a/b";
  EXPECT_EQ(router.Dispatch(&r).status, 404);
}

TEST(ServerTest, ServesKeepAliveRequestsWithDecodedQueryAndPath) {
  auto server = StartServer({});
  RawClient client(server->port());
  auto res = client.Do(bhttp::verb::get, "/items/a%20b?q=x%26y+z&other=1");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "item=a b q=x&y z");
  EXPECT_TRUE(res.keep_alive());
  // Same connection, second request.
  res = client.Do(bhttp::verb::post, "/echo", "hello");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), ":hello");
  res = client.Do(bhttp::verb::get, "/nothing");
  EXPECT_EQ(res.result_int(), 404);
}

TEST(ServerTest, HeadIsGetWithoutBody) {
  auto server = StartServer({});
  RawClient client(server->port());
  client.SendRaw("HEAD /items/7 HTTP/1.1\r\nHost: x\r\n\r\n");
  bhttp::response_parser<bhttp::string_body> parser;
  parser.skip(true);  // a HEAD answer has no body whatever Content-Length says
  auto res = client.ReadWith(parser);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[bhttp::field::content_length], "10");  // "item=7 q=-"
  EXPECT_EQ(res.body(), "");
  // The connection stays usable: the next answer is not mixed with a body.
  EXPECT_EQ(client.Do(bhttp::verb::get, "/items/8").body(), "item=8 q=-");
}

TEST(ServerTest, RoutesWebDavMethods) {
  auto server = StartServer({});
  RawClient client(server->port());
  client.SendRaw("PROPFIND /dav/cal HTTP/1.1\r\nHost: x\r\nDepth: 1\r\nContent-Length: 0\r\n\r\n");
  auto res = client.Read();
  EXPECT_EQ(res.result_int(), 207);
  EXPECT_EQ(res.body(), "dav cal");
  client.SendRaw("REPORT /dav/cal HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 405);
}

TEST(ServerTest, OversizeBodyGets413AndClose) {
  ServerOptions options;
  options.body_limit = 1000;
  auto server = StartServer(options);
  RawClient client(server->port());
  auto res = client.Do(bhttp::verb::post, "/echo", std::string(5000, 'x'));
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_FALSE(res.keep_alive());
  // The limit is per request: a small body on a new connection is fine.
  RawClient again(server->port());
  EXPECT_EQ(again.Do(bhttp::verb::post, "/echo", std::string(999, 'x')).result_int(), 200);
}

TEST(ServerTest, AnswersExpectContinueBeforeTheBody) {
  auto server = StartServer({});
  RawClient client(server->port());
  client.SendRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  auto interim = client.Read();
  EXPECT_EQ(interim.result_int(), 100);
  client.SendRaw("hello");
  auto res = client.Read();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), ":hello");
}

TEST(ServerTest, GarbageRequestLineGets400) {
  auto server = StartServer({});
  RawClient client(server->port());
  client.SendRaw("this is not http\r\n\r\n");
  auto res = client.Read();
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_TRUE(client.ClosedByServer());
  // The server still serves others.
  RawClient other(server->port());
  EXPECT_EQ(other.Do(bhttp::verb::get, "/items/1").result_int(), 200);
}

TEST(ServerTest, ThrowingHandlerGives500UsingErrorBuilder) {
  ServerOptions options;
  options.error_response = [](int status, std::string_view message) {
    return ServerResponse::Json(status, "{\"error\":" + std::to_string(status) + "}");
  };
  auto server = StartServer(options);
  RawClient client(server->port());
  auto res = client.Do(bhttp::verb::get, "/throw");
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_EQ(res.body(), "{\"error\":500}");
}

TEST(ServerTest, SlowClientIsDisconnectedAndDoesNotBlockOthers) {
  ServerOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  auto server = StartServer(options);
  RawClient slow(server->port());
  slow.SendRaw("GET /items/1 HTTP/1.1\r\nHost: x\r\n");  // never finishes its head
  RawClient quick(server->port());
  EXPECT_EQ(quick.Do(bhttp::verb::get, "/items/2").result_int(), 200);
  EXPECT_TRUE(slow.ClosedByServer());
}

TEST(ServerTest, GracefulStopFinishesRequestInProgress) {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool release = false;
  Router router;
  router.Add("GET", "/slow", [&](const ServerRequest&) {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    return ServerResponse::Text(200, "done");
  });
  auto server = StartServer({}, std::move(router));
  const uint16_t port = server->port();
  RawClient idle(port);
  EXPECT_EQ(idle.Do(bhttp::verb::get, "/missing").result_int(), 404);  // now idle, kept alive

  auto pending = std::async(std::launch::async, [&] {
    RawClient busy(port);
    return busy.Do(bhttp::verb::get, "/slow");
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  server->Stop();
  EXPECT_TRUE(idle.ClosedByServer());  // idle connections are closed at once
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  auto res = pending.get();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "done");
  EXPECT_FALSE(res.keep_alive());
  server->Wait();
  EXPECT_EQ(server->open_connections(), 0);
  // No longer accepting.
  EXPECT_THROW(RawClient late(port), std::exception);
}

// A deferred handler holds no worker: with ONE worker thread, three requests
// wait for answers given later from another thread while other requests on
// other connections are served; each waiting one then gets its own answer.
TEST(ServerTest, DeferredAnswersHoldNoWorkerThread) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, Responder>> parked;
  Router router;
  router.AddDeferred("POST", "/wait/{id}", [&](const ServerRequest& r, Responder respond) {
    std::lock_guard lock(mu);
    parked.emplace_back(r.PathParam("id"), std::move(respond));
    cv.notify_all();
  });
  router.AddDeferred("GET", "/dropped", [](const ServerRequest&, Responder) {});
  router.Add("GET", "/items/{id}",
             [](const ServerRequest& r) { return ServerResponse::Text(200, r.PathParam("id")); });
  auto started = Server::Start({.threads = 1}, std::move(router));
  ASSERT_TRUE(started.ok());
  auto& server = *started;
  const uint16_t port = server->port();
  std::vector<std::future<bhttp::response<bhttp::string_body>>> waiting;
  for (int i = 0; i < 3; ++i) {
    waiting.push_back(std::async(std::launch::async, [port, i] {
      RawClient c(port);
      return c.Do(bhttp::verb::post, "/wait/" + std::to_string(i));
    }));
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return parked.size() == 3; }));
  }
  RawClient other(port);
  auto res = other.Do(bhttp::verb::get, "/items/7");  // served while three wait
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "7");
  EXPECT_EQ(other.Do(bhttp::verb::get, "/dropped").result_int(), 500);  // never hangs
  std::thread answerer([&] {
    std::lock_guard lock(mu);
    for (auto& [id, respond] : parked) {
      respond(ServerResponse::Text(200, "answer " + id));
      respond(ServerResponse::Text(500, "a second answer is ignored"));
    }
  });
  answerer.join();
  for (int i = 0; i < 3; ++i) {
    auto r = waiting[i].get();
    EXPECT_EQ(r.result_int(), 200);
    EXPECT_EQ(r.body(), "answer " + std::to_string(i));
  }
  EXPECT_EQ(other.Do(bhttp::verb::get, "/items/8").body(), "8");  // keep-alive goes on
}

// Stop waits for a deferred answer that is still due (it may come from a run
// that finishes after Stop), and the connection gets it.
TEST(ServerTest, StopWaitsForDeferredAnswers) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Responder> parked;
  Router router;
  router.AddDeferred("POST", "/wait", [&](const ServerRequest&, Responder respond) {
    std::lock_guard lock(mu);
    parked = std::move(respond);
    cv.notify_all();
  });
  auto started = Server::Start({.threads = 1}, std::move(router));
  ASSERT_TRUE(started.ok());
  auto& server = *started;
  const uint16_t port = server->port();
  auto pending = std::async(std::launch::async, [port] {
    RawClient c(port);
    return c.Do(bhttp::verb::post, "/wait");
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return parked.has_value(); }));
  }
  server->Stop();
  {
    std::lock_guard lock(mu);
    (*parked)(ServerResponse::Text(200, "late but given"));
    parked.reset();
  }
  auto r = pending.get();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "late but given");
  server->Wait();
}

}  // namespace
}  // namespace tandem::http
