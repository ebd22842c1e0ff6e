// HTTP client on libcurl: one connection pool per Client, HTTP/2 where the server
// offers it over TLS, TLS verified by default, Basic/Digest/Bearer auth, timeouts,
// redirects, retries with exponential backoff, Retry-After for 429/503 (capped),
// proxies from the environment (libcurl reads http_proxy/https_proxy/no_proxy).
//
// Example:
//   tandem::http::ClientOptions options;
//   options.auth = tandem::http::Auth::Basic("alice", "secret");
//   tandem::http::Client client(std::move(options));
//   auto response = client.Send({.method = "GET", .url = "https://example.test/"});
//   if (!response.ok()) { /* network error: Unavailable / DeadlineExceeded / ... */ }
//   else if (response->status == 200) { use(response->body); }
//
// Errors: Send returns a Response for every HTTP answer, whatever its status
// (4xx/5xx included, after retries were spent); a non-OK Result only when no
// answer came: Unavailable (connect/resolve/reset/TLS), DeadlineExceeded
// (timeout), InvalidArgument (malformed URL, unsupported scheme), Internal.
// StatusForHttpError maps an unwanted HTTP status to a domain Status.
//
// Thread safety: a Client is NOT thread-safe (one curl easy handle, reused so
// that connections are kept alive); use one Client per thread. Distinct Clients
// may be used concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/random.h"
#include "core/status.h"
#include "core/time.h"

namespace tandem::http {

// Header fields in order, names compared case-insensitively.
class Headers {
 public:
  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string, std::string>> fields) : fields_(fields) {}

  void Add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field of that name by one.
  void Set(std::string name, std::string value);
  void Remove(std::string_view name);
  // The first value of `name`, if present.
  std::optional<std::string> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

struct Request {
  std::string method = "GET";  // any token: GET, PUT, PROPFIND, REPORT, ...
  std::string url;
  Headers headers;
  std::string body;
  // Whole-request timeout; zero = ClientOptions::default_timeout.
  std::chrono::milliseconds timeout{0};
  // Streaming: when set, the body of a 2xx answer goes to body_sink chunk by
  // chunk instead of Response::body (other answers are still collected there).
  // Returning false aborts the transfer (Send then returns Internal; the sink
  // keeps its own reason). body_restart runs before every attempt, so a sink fed
  // by a failed attempt can forget what it got.
  std::function<bool(std::string_view chunk)> body_sink;
  std::function<void()> body_restart;
};

struct Response {
  int status = 0;
  Headers headers;  // of the final response (after redirects and auth rounds)
  std::string body;
  std::string effective_url;  // the URL that answered (after redirects)
};

enum class AuthScheme { kNone, kBasic, kDigest, kBasicOrDigest, kBearer };

struct Auth {
  AuthScheme scheme = AuthScheme::kNone;
  std::string user;
  std::string password;
  std::string bearer_token;

  // Basic is sent with the first request (no extra round trip).
  static Auth Basic(std::string user, std::string password) {
    return {AuthScheme::kBasic, std::move(user), std::move(password), {}};
  }
  static Auth Digest(std::string user, std::string password) {
    return {AuthScheme::kDigest, std::move(user), std::move(password), {}};
  }
  // Lets the server choose (costs one 401 round trip per connection).
  static Auth BasicOrDigest(std::string user, std::string password) {
    return {AuthScheme::kBasicOrDigest, std::move(user), std::move(password), {}};
  }
  static Auth Bearer(std::string token) { return {AuthScheme::kBearer, {}, {}, std::move(token)}; }
};

// How backoff waits. Tests inject one that records instead of sleeping.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepFor(Duration d) = 0;
};

// The wait before retrying a throttled request (429, 503, rate-limit 403): the
// server's Retry-After (seconds, at most 120) when longer than `backoff`, plus
// a jitter of up to `backoff` (`random` null: half of it).
Duration ThrottleWait(const Headers& headers, Duration backoff, Random* random);

class RealSleeper final : public Sleeper {
 public:
  void SleepFor(Duration d) override;
};

// Sleeps on `sleeper`, or for real when it is null.
inline void Pause(Sleeper* sleeper, Duration d) {
  if (sleeper) {
    sleeper->SleepFor(d);
  } else {
    RealSleeper().SleepFor(d);
  }
}

struct RetryPolicy {
  // Total attempts including the first; 1 disables retries.
  int max_attempts = 4;
  Duration initial_backoff = std::chrono::milliseconds(250);
  double multiplier = 2.0;
  Duration max_backoff = std::chrono::seconds(8);
  // Retry-After above this is not waited for: the 429/503 response is returned.
  Duration max_retry_after = std::chrono::seconds(60);
};

struct ClientOptions {
  Auth auth;
  bool verify_tls = true;
  std::string ca_file;  // PEM bundle of a private CA, in addition to verification
  bool follow_redirects = true;
  int max_redirects = 5;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds default_timeout{120'000};
  // Explicit proxy URL; empty = libcurl's environment handling (http_proxy, ...).
  std::string proxy;
  std::string user_agent = "tandem/" TANDEM_VERSION;
  RetryPolicy retry;
  // Checked against the address of every connection before a request is sent on
  // it (redirect hops included); a refusal ends the request with its
  // PermissionDenied, never retried. Null = any address.
  std::function<Status(std::string_view ip)> check_address;
  // Not owned; null = a RealSleeper / SystemClock owned by the client.
  Sleeper* sleeper = nullptr;
  const Clock* clock = nullptr;  // for Retry-After given as an HTTP date
};

// Counters since construction (for diagnostics and benchmarks).
struct ClientStats {
  int64_t requests_sent = 0;  // attempts that reached curl, retries included
  int64_t retries = 0;
  int64_t bytes_received = 0;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `request`, retrying as RetryPolicy says: network errors and 5xx for
  // idempotent methods (everything but POST/PATCH/LOCK), 429 and 503 with a
  // Retry-After no longer than max_retry_after for every method. Nothing else
  // is retried. Redirects (301/302/303/307/308) are followed hop by hop, each
  // hop requested once unless it fails as above; credentials go only to the
  // first request's origin (or its https upgrade); more than max_redirects
  // hops is Unavailable.
  Result<Response> Send(const Request& request);

  const ClientStats& stats() const { return stats_; }
  const ClientOptions& options() const { return options_; }

 private:
  struct Impl;
  Result<Response> SendWithRetries(const Request& request, bool with_credentials);
  Result<Response> SendOnce(const Request& request, bool with_credentials);
  std::optional<Duration> RetryAfter(const Response& response) const;

  ClientOptions options_;
  std::unique_ptr<Impl> impl_;
  ClientStats stats_;
};

// True for methods that may be repeated without changing the outcome.
bool IsIdempotent(std::string_view method);

// Maps a non-success HTTP status to a domain Status (401 Unauthenticated, 403
// PermissionDenied, 404/410 NotFound, 409 Conflict, 412 PreconditionFailed,
// 413/429/507 ResourceExhausted, 408/504 DeadlineExceeded, 5xx Unavailable,
// other 4xx InvalidArgument). `what` names the operation for the message.
Status StatusForHttpError(const Response& response, std::string_view what);

// Resolves `ref` (absolute URL, absolute path or relative path) against `base`.
std::string ResolveUrl(std::string_view base, std::string_view ref);
// "https://host:port" of a URL (no trailing slash); empty if it has none.
std::string UrlOrigin(std::string_view url);
// The path part of a URL ("/a/b/"), without query; "/" if empty.
std::string UrlPath(std::string_view url);

}  // namespace tandem::http
