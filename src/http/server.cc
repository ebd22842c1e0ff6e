#include "http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

namespace tandem::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

ServerResponse DefaultError(int status, std::string_view message) {
  return ServerResponse::Text(status, std::string(message) + "\n");
}

}  // namespace

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

// --- ServerRequest / ServerResponse

std::optional<std::string_view> ServerRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

const std::string& ServerRequest::PathParam(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : path_params) {
    if (k == name) return v;
  }
  return kEmpty;
}

std::optional<std::string_view> ServerRequest::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

ServerResponse ServerResponse::Text(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  return r;
}

ServerResponse ServerResponse::Json(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

ServerResponse ServerResponse::Empty(int status) {
  ServerResponse r;
  r.status = status;
  return r;
}

ServerResponse& ServerResponse::SetHeader(std::string name, std::string value) {
  std::erase_if(headers, [&](const auto& h) { return EqualsIgnoreCase(h.first, name); });
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

// --- Router

void Router::Add(std::string_view method, std::string_view pattern, Handler handler) {
  AddDeferred(method, pattern,
              [h = std::move(handler)](const ServerRequest& r, Responder respond) { respond(h(r)); });
}

void Router::AddDeferred(std::string_view method, std::string_view pattern,
                         DeferredHandler handler) {
  routes_.push_back({Route{std::string(method), SplitPath(pattern)}, std::move(handler)});
}

ServerResponse Router::Dispatch(ServerRequest* request) const {
  std::optional<ServerResponse> answer;
  Dispatch(request, [&answer](ServerResponse r) {
    if (!answer) answer = std::move(r);
  });
  if (!answer) return DefaultError(500, "the handler did not answer during the call");
  return std::move(*answer);
}

void Router::Dispatch(ServerRequest* request, Responder respond) const {
  std::vector<std::string> segments = SplitPath(request->path);
  std::string allowed;
  for (const auto& [route, handler] : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::vector<std::pair<std::string, std::string>> params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const std::string& p = route.segments[i];
      if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
        if (segments[i].empty()) match = false;
        params.emplace_back(p.substr(1, p.size() - 2), segments[i]);
      } else if (p != segments[i]) {
        match = false;
      }
    }
    if (!match) continue;
    if (route.method != request->method) {
      if (allowed.find(route.method) == std::string::npos) {
        allowed += (allowed.empty() ? "" : ", ") + route.method;
      }
      continue;
    }
    request->path_params = std::move(params);
    return handler(*request, std::move(respond));
  }
  if (!allowed.empty()) {
    if (method_not_allowed_) return respond(method_not_allowed_(*request, allowed));
    return respond(DefaultError(405, "method not allowed").SetHeader("Allow", allowed));
  }
  if (not_found_) return respond(not_found_(*request));
  respond(DefaultError(404, "not found"));
}

// --- Server

namespace {

class Connection;

}  // namespace

struct Server::Impl {
  // Declared before ioc: handlers destroyed with ioc still touch these.
  ServerOptions options;
  Router router;
  std::atomic<bool> stopping{false};
  std::atomic<int> open{0};
  std::mutex mu;
  std::set<std::weak_ptr<Connection>, std::owner_less<std::weak_ptr<Connection>>> connections;
  std::once_flag joined;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<asio::steady_timer> grace_timer;
  std::vector<std::thread> workers;

  explicit Impl(ServerOptions o, Router r) : options(std::move(o)), router(std::move(r)) {
    if (!options.error_response) options.error_response = DefaultError;
  }
  void Accept();
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Server::Impl* server)
      : stream_(std::move(socket)), server_(server) {
    server_->open.fetch_add(1);
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
  }
  ~Connection() { server_->open.fetch_sub(1); }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadRequest(); });
  }

  // Runs on the connection's strand: closes it when it waits for a new request.
  void StopIfIdle() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->reading_ && !self->parser_->got_some() && self->buffer_.size() == 0) {
        self->Close();
      }
    });
  }

  void Cut() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
  }

 private:
  void ReadRequest() {
    if (server_->stopping.load()) return Close();
    parser_.emplace();
    parser_->body_limit(server_->options.body_limit);
    parser_->header_limit(static_cast<uint32_t>(server_->options.header_limit));
    // The first request on a connection must arrive within the read timeout; later
    // ones may wait for the idle timeout (the whole request then must follow quickly
    // enough, bounded by read_timeout + idle_timeout).
    stream_.expires_after(first_ ? server_->options.read_timeout
                                 : server_->options.idle_timeout + server_->options.read_timeout);
    reading_ = true;
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  // A client that sent "Expect: 100-continue" waits for a go-ahead before its body.
  void OnHeader(beast::error_code ec) {
    if (ec) return OnRead(ec);
    const auto& head = parser_->get();
    auto expect = head[bhttp::field::expect];
    if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    reading_ = false;
    first_ = false;
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      return SendError(413, "request body larger than " +
                                std::to_string(server_->options.body_limit) + " bytes");
    }
    if (ec == bhttp::error::header_limit) return SendError(431, "request header too large");
    if (ec) return SendError(400, "malformed HTTP request: " + ec.message());

    bhttp::request<bhttp::string_body> req = parser_->release();
    ServerRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    std::string_view target(req.target().data(), req.target().size());
    size_t q = target.find('?');
    request.path = PercentDecode(target.substr(0, q), false);
    if (q != std::string_view::npos) {
      std::string_view query = target.substr(q + 1);
      size_t i = 0;
      while (i <= query.size()) {
        size_t amp = query.find('&', i);
        if (amp == std::string_view::npos) amp = query.size();
        std::string_view pair = query.substr(i, amp - i);
        if (!pair.empty()) {
          size_t eq = pair.find('=');
          std::string_view k = pair.substr(0, eq);
          std::string_view v = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
          request.query.emplace_back(PercentDecode(k, true), PercentDecode(v, true));
        }
        i = amp + 1;
      }
    }
    request.headers.reserve(8);
    for (const auto& field : req) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(req.body());
    request.remote_address = remote_;
    keep_alive_ = req.keep_alive();
    version_ = req.version();

    // HEAD is answered as GET without the body (RFC 9110 9.3.2).
    head_ = request.method == "HEAD";
    if (head_) request.method = "GET";
    auto reply = std::make_shared<Reply>(shared_from_this());
    try {
      server_->router.Dispatch(&request, [reply](ServerResponse r) { reply->Answer(std::move(r)); });
    } catch (const std::exception& e) {
      spdlog::error("http: handler for {} {} threw: {}", request.method, request.path, e.what());
      reply->Answer(server_->options.error_response(500, "internal error"));
    } catch (...) {
      spdlog::error("http: handler for {} {} threw", request.method, request.path);
      reply->Answer(server_->options.error_response(500, "internal error"));
    }
  }

  // The one answer to a request: sent on the connection's strand, whichever
  // thread gives it. It keeps the io_context running until it is given (a
  // dropped Reply answers 500), so a late answer never meets a stopped server.
  class Reply {
   public:
    explicit Reply(std::shared_ptr<Connection> c)
        : conn_(std::move(c)), work_(asio::make_work_guard(conn_->server_->ioc)) {}
    ~Reply() {
      if (!answered_.load()) {
        auto error = conn_->server_->options.error_response(500, "the request was dropped unanswered");
        Answer(std::move(error));
      }
    }
    // Hands the connection over to the send, so a Responder kept after its
    // answer holds nothing of the connection.
    void Answer(ServerResponse r) {
      if (answered_.exchange(true)) return;
      auto executor = conn_->stream_.get_executor();
      asio::dispatch(executor, [c = std::move(conn_), r = std::move(r),
                                work = std::move(work_)]() mutable { c->Send(std::move(r)); });
    }

   private:
    std::shared_ptr<Connection> conn_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::atomic<bool> answered_{false};
  };

  void SendError(int status, std::string message) {
    keep_alive_ = false;  // the rest of the stream cannot be trusted
    Send(server_->options.error_response(status, message));
  }

  void Send(ServerResponse response) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->result(static_cast<unsigned>(response.status));
    res->version(version_);
    for (auto& [k, v] : response.headers) res->insert(k, v);
    res->body() = std::move(response.body);
    bool keep = keep_alive_ && !server_->stopping.load();
    res->keep_alive(keep);
    res->prepare_payload();
    if (head_) {
      head_ = false;
      size_t length = res->body().size();
      res->body().clear();
      res->content_length(length);
    }
    stream_.expires_after(server_->options.write_timeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res, keep](beast::error_code ec, size_t) {
                         if (ec || !keep) return self->Close();
                         self->ReadRequest();
                       });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  Server::Impl* server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string remote_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  bool reading_ = false;
  bool head_ = false;  // the request being answered is a HEAD
  bool first_ = true;
  bool closed_ = false;
};

}  // namespace

void Server::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec && !stopping.load()) {
      beast::error_code opt_ec;
      socket.set_option(tcp::no_delay(true), opt_ec);
      auto conn = std::make_shared<Connection>(std::move(socket), this);
      {
        std::lock_guard lock(mu);
        // Forget connections that are gone, so the set stays small.
        std::erase_if(connections, [](const auto& w) { return w.expired(); });
        connections.insert(conn);
      }
      conn->Start();
    } else if (ec) {
      spdlog::warn("http: accept failed: {}", ec.message());
    }
    if (!stopping.load()) Accept();
  });
}

namespace {

void PollUntilDrained(Server::Impl* impl, std::shared_ptr<asio::steady_timer> poll) {
  if (impl->open.load() == 0) {
    if (impl->grace_timer) impl->grace_timer->cancel();
    return;
  }
  poll->expires_after(std::chrono::milliseconds(20));
  poll->async_wait([impl, poll](beast::error_code) { PollUntilDrained(impl, poll); });
}

}  // namespace

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  Stop(std::chrono::milliseconds(2000));
  Wait();
}

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, Router router) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(router));
  beast::error_code ec;
  auto address = asio::ip::make_address(impl->options.address, ec);
  if (ec)
    return Status::InvalidArgument("listen address: " + impl->options.address + ": " +
                                   ec.message());
  tcp::endpoint endpoint(address, impl->options.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + impl->options.address + ":" +
                               std::to_string(impl->options.port) + ": " + ec.message());
  }
  int threads = impl->options.threads > 0
                    ? impl->options.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl->Accept();
  Impl* raw = impl.get();
  for (int i = 0; i < threads; ++i) {
    impl->workers.emplace_back([raw] {
      for (;;) {
        try {
          raw->ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http: worker caught: {}", e.what());
        }
      }
    });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

int Server::open_connections() const { return impl_->open.load(); }

void Server::Stop(std::chrono::milliseconds grace) {
  if (impl_->stopping.exchange(true)) return;
  Impl* impl = impl_.get();
  asio::post(impl->ioc, [impl, grace] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(impl->mu);
      for (const auto& w : impl->connections) {
        if (auto c = w.lock()) live.push_back(std::move(c));
      }
    }
    for (auto& c : live) c->StopIfIdle();
    impl->grace_timer = std::make_unique<asio::steady_timer>(impl->ioc);
    impl->grace_timer->expires_after(grace);
    impl->grace_timer->async_wait([impl](beast::error_code ec) {
      if (ec) return;
      std::vector<std::shared_ptr<Connection>> still;
      {
        std::lock_guard lock(impl->mu);
        for (const auto& w : impl->connections) {
          if (auto c = w.lock()) still.push_back(std::move(c));
        }
      }
      for (auto& c : still) c->Cut();
    });
    // When every connection has ended, the timer is the only work left: cancel it
    // so that run() returns.
    PollUntilDrained(impl, std::make_shared<asio::steady_timer>(impl->ioc));
  });
}

void Server::Wait() {
  std::call_once(impl_->joined, [this] {
    for (auto& t : impl_->workers) {
      if (t.joinable()) t.join();
    }
  });
}

}  // namespace tandem::http
