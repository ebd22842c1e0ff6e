// HTTP/1.1 server on Boost.Beast: keep-alive, a fixed pool of worker threads,
// request size limits, read/write/idle timeouts, graceful stop; and a Router that
// maps (method, path pattern) to handlers. It knows HTTP only; the meaning of the
// routes lives with whoever registers them (src/api, src/davserver).
//
// Example:
//   tandem::http::Router router;
//   router.Add("GET", "/items/{id}", [](const tandem::http::ServerRequest& r) {
//     return tandem::http::ServerResponse::Text(200, "item " + r.PathParam("id"));
//   });
//   auto server = tandem::http::Server::Start({.port = 0}, std::move(router));
//   if (server.ok()) { use((*server)->port()); (*server)->Stop(); }
//
// Thread safety: handlers run on the worker threads, concurrently for distinct
// connections; they must be thread-safe. A Router must not change after Start.
// Server::Stop/Wait/port may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace tandem::http {

// Header fields in arrival order; names compared ignoring ASCII case.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ServerRequest {
  std::string method;  // as sent, upper case ("GET", "PROPFIND")
  std::string target;  // raw request target ("/a/b%20c?x=1")
  std::string path;    // percent-decoded path without the query ("/a/b c")
  std::vector<std::pair<std::string, std::string>> path_params;  // from "{name}" segments
  std::vector<std::pair<std::string, std::string>> query;        // decoded ("+" is a space)
  HeaderList headers;
  std::string body;
  std::string remote_address;

  // The first header of that name, if present.
  std::optional<std::string_view> Header(std::string_view name) const;
  // The value of a "{name}" path segment ("" when the pattern has none).
  const std::string& PathParam(std::string_view name) const;
  // The first query parameter of that name, if present.
  std::optional<std::string_view> Query(std::string_view name) const;
};

struct ServerResponse {
  int status = 200;
  HeaderList headers;  // Content-Length and Connection are set by the server
  std::string body;

  static ServerResponse Text(int status, std::string body);
  static ServerResponse Json(int status, std::string body);
  static ServerResponse Empty(int status);
  ServerResponse& SetHeader(std::string name, std::string value);
};

using Handler = std::function<ServerResponse(const ServerRequest&)>;

// A deferred answer. Call it once, from any thread, when the response is ready;
// later calls are ignored. A Responder dropped without being called answers 500,
// so a connection never hangs. The server stays up (Wait() does not return)
// while a Responder has not been called or dropped.
using Responder = std::function<void(ServerResponse)>;
// A handler for slow work (a sync run, a remote server): it takes what it needs
// from the request (the reference is valid only during the call), hands the work
// to another thread and returns at once; no worker thread waits for it.
using DeferredHandler = std::function<void(const ServerRequest&, Responder)>;

// Routes by method and path pattern. A pattern is "/"-separated segments; a segment
// "{name}" matches any one non-empty segment and is captured. A trailing "/" on a
// request path is ignored. Any method token is accepted (WebDAV's PROPFIND,
// REPORT, MKCALENDAR, ... included).
class Router {
 public:
  // Called when no pattern matches the path (default: 404 text).
  using NotFoundHandler = Handler;
  // Called when the path matches but not for this method; `allowed` is the
  // comma-separated list for the Allow header (default: 405 text with Allow).
  using MethodNotAllowedHandler =
      std::function<ServerResponse(const ServerRequest&, const std::string& allowed)>;

  void Add(std::string_view method, std::string_view pattern, Handler handler);
  void AddDeferred(std::string_view method, std::string_view pattern, DeferredHandler handler);
  void SetNotFound(NotFoundHandler h) { not_found_ = std::move(h); }
  void SetMethodNotAllowed(MethodNotAllowedHandler h) { method_not_allowed_ = std::move(h); }

  // Finds the route for request->path and method, fills request->path_params and
  // runs the handler (or the not-found / method-not-allowed one), which answers
  // through `respond` (at once, or later for a deferred handler).
  void Dispatch(ServerRequest* request, Responder respond) const;
  // Dispatch for tests: the response of a handler that answers during the call
  // (a deferred one that answers later gives 500).
  ServerResponse Dispatch(ServerRequest* request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{x}" marks a parameter
  };
  std::vector<std::pair<Route, DeferredHandler>> routes_;
  NotFoundHandler not_found_;
  MethodNotAllowedHandler method_not_allowed_;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;               // 0 = any free port (see Server::port())
  int threads = 0;                 // 0 = one per core
  size_t body_limit = 1 << 20;     // larger bodies get 413
  size_t header_limit = 16 << 10;  // larger request heads get 431
  // Time allowed to receive one whole request (head and body) once its first
  // byte may arrive, and to send one response. A slow client is disconnected.
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  // How long an idle keep-alive connection is held open.
  std::chrono::milliseconds idle_timeout{60'000};
  // Builds the body of errors the HTTP layer answers itself (400 for an
  // unparsable request, 413, 431, 500 when a handler throws). Default: text.
  std::function<ServerResponse(int status, std::string_view message)> error_response;
};

class Server {
 public:
  // Binds, listens and starts the worker threads. Errors: InvalidArgument for a
  // bad address, Unavailable when the port cannot be bound.
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Router router);
  ~Server();  // Stop() and Wait()

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;

  // Graceful stop: stops accepting, closes idle connections, lets requests in
  // progress finish and answer (with "Connection: close"), then the workers end.
  // Connections still busy after `grace` are cut. Returns at once; see Wait().
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10'000));
  // Blocks until the worker threads have ended (after Stop()).
  void Wait();

  // Connections currently open (for tests and diagnostics).
  int open_connections() const;

  struct Impl;  // implementation detail (server.cc)

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Percent-decodes `text`; with `plus_is_space` a "+" becomes " " (query strings).
// Invalid escapes are kept as they are.
std::string PercentDecode(std::string_view text, bool plus_is_space);

}  // namespace tandem::http
