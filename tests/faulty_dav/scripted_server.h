// ScriptedServer: an in-process HTTP/1.1 server on 127.0.0.1 (Boost.Beast) whose
// answers a test scripts with a handler. It can also misbehave on purpose: delay an
// answer, drop the connection without answering, or answer garbage. Every request
// is recorded so tests can assert what the client sent.
//
// Thread safety: the handler runs on the server's connection threads (one per
// connection); requests() and the counters may be read from any thread.
// Test-only code: it throws nothing out of its threads and stops in the destructor.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace tandem::testing {

struct RecordedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct ScriptedReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // wait before answering
  bool drop = false;                   // close the connection without answering
  bool close_after = false;            // answer, then close the connection
};

class ScriptedServer {
 public:
  using Handler = std::function<ScriptedReply(const RecordedRequest&)>;

  explicit ScriptedServer(Handler handler)
      : handler_(std::move(handler)),
        acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~ScriptedServer() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    accept_thread_.join();
    for (auto& t : connection_threads_) t.join();
  }

  int port() const { return port_; }
  std::string Url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<RecordedRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int request_count() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(requests_.size());
  }
  int connections_accepted() const { return connections_.load(); }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) break;
      ++connections_;
      std::lock_guard lock(mu_);
      open_fds_.push_back(socket.native_handle());
      connection_threads_.emplace_back(
          [this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
    }
  }

  void Serve(boost::asio::ip::tcp::socket socket) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    while (!stopping_) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(512 * 1024 * 1024);
      boost::system::error_code ec;
      http::read(socket, buffer, parser, ec);
      if (ec) break;
      auto& req = parser.get();
      RecordedRequest recorded;
      recorded.method = std::string(req.method_string());
      recorded.target = std::string(req.target());
      for (const auto& field : req) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        recorded.headers[name] = std::string(field.value());
      }
      recorded.body = req.body();
      {
        std::lock_guard lock(mu_);
        requests_.push_back(recorded);
      }
      ScriptedReply reply = handler_(recorded);
      if (reply.delay.count() > 0) {
        auto until = std::chrono::steady_clock::now() + reply.delay;
        while (!stopping_ && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
      if (reply.drop) break;
      http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
      for (const auto& [k, v] : reply.headers) res.set(k, v);
      res.body() = reply.body;
      res.keep_alive(!reply.close_after && req.keep_alive());
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec || reply.close_after || !req.keep_alive()) break;
    }
    boost::system::error_code ignored;
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    std::lock_guard lock(mu_);
    std::erase(open_fds_, socket.native_handle());
    socket.close(ignored);
  }

  Handler handler_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<RecordedRequest> requests_;
  std::vector<int> open_fds_;
  std::vector<std::thread> connection_threads_;
  std::thread accept_thread_;
};

}  // namespace tandem::testing
