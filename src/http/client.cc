#include "http/client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace tandem::http {
namespace {

std::once_flag g_curl_init_once;

void EnsureCurlInitialized() {
  std::call_once(g_curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

struct Exchange {
  Response* response;
  int64_t* bytes;
  CURL* easy;
  const std::function<bool(std::string_view)>* sink;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  if (*exchange->sink) {
    long status = 0;
    curl_easy_getinfo(exchange->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status <= 299) {
      *exchange->bytes += static_cast<int64_t>(size * count);
      return (*exchange->sink)(std::string_view(data, size * count)) ? size * count : 0;
    }
  }
  exchange->response->body.append(data, size * count);
  *exchange->bytes += static_cast<int64_t>(size * count);
  return size * count;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new response starts (after a redirect, a 401 auth round or a 100): keep
    // only the headers of the last one.
    exchange->response->headers = Headers();
    return size * count;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    exchange->response->headers.Add(std::string(Trim(line.substr(0, colon))),
                                    std::string(Trim(line.substr(colon + 1))));
  }
  return size * count;
}

Status StatusForCurlError(CURLcode code, const char* detail, const std::string& url) {
  std::string message = fmt::format("{} ({}): {}", curl_easy_strerror(code), url,
                                    detail && *detail ? detail : "no detail");
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status::DeadlineExceeded(message);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status::InvalidArgument(message);
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
      return Status::Internal(message);
    default:
      return Status::Unavailable(message);
  }
}

// Errors where the request surely never reached the server: safe to retry for
// every method.
bool NeverSent(CURLcode code) {
  return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
         code == CURLE_COULDNT_RESOLVE_PROXY;
}

bool Retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

// curl puts the user name and password into the effective URL: never hand them out.
std::string WithoutCredentials(const std::string& url) {
  CURLU* handle = curl_url();
  std::string out = url;
  if (curl_url_set(handle, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    curl_url_set(handle, CURLUPART_USER, nullptr, 0);
    curl_url_set(handle, CURLUPART_PASSWORD, nullptr, 0);
    char* text = nullptr;
    if (curl_url_get(handle, CURLUPART_URL, &text, 0) == CURLUE_OK) {
      out = text;
      curl_free(text);
    }
  }
  curl_url_cleanup(handle);
  return out;
}

}  // namespace

void Headers::Set(std::string name, std::string value) {
  Remove(name);
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(fields_, [&](const auto& f) { return EqualsIgnoreCase(f.first, name); });
}

std::optional<std::string> Headers::Get(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void RealSleeper::SleepFor(Duration d) { std::this_thread::sleep_for(d); }

Duration ThrottleWait(const Headers& headers, Duration backoff, Random* random) {
  Duration wait = backoff;
  if (auto after = headers.Get("Retry-After")) {
    const long long s = std::atoll(after->c_str());
    if (s > 0) wait = std::max<Duration>(wait, std::chrono::seconds(std::min(s, 120LL)));
  }
  const double jitter = random ? static_cast<double>(random->Uniform(1000)) / 1000.0 : 0.5;
  return wait + std::chrono::duration_cast<Duration>(backoff * jitter);
}

bool IsIdempotent(std::string_view method) {
  return !(EqualsIgnoreCase(method, "POST") || EqualsIgnoreCase(method, "PATCH") ||
           EqualsIgnoreCase(method, "LOCK"));
}

struct Client::Impl {
  CURL* easy = nullptr;
  RealSleeper real_sleeper;
  SystemClock system_clock;
  char error[CURL_ERROR_SIZE] = {};
  CURLcode last_code = CURLE_OK;
  const std::function<Status(std::string_view)>* check_address = nullptr;
  Status refused;  // set by the address check of the last attempt

  // Before curl opens a socket to `addr`: a refused address is never connected
  // to, so an open port and a closed one answer alike (no port scan through the
  // sync).
  // Every connection is opened here (redirect hops, other addresses of a host);
  // a reused one was checked when it was opened.
  static curl_socket_t OpenSocket(void* data, curlsocktype /*purpose*/,
                                  struct curl_sockaddr* addr) {
    auto* impl = static_cast<Impl*>(data);
    char ip[INET6_ADDRSTRLEN] = {};
    if (addr->family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&addr->addr);
      inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    } else if (addr->family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr->addr);
      inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    }
    Status s = (*impl->check_address)(ip);
    if (!s.ok()) {
      impl->refused = std::move(s);
      return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
  }
};

Client::Client(ClientOptions options) : options_(std::move(options)), impl_(new Impl) {
  EnsureCurlInitialized();
  impl_->easy = curl_easy_init();
  if (options_.sleeper == nullptr) options_.sleeper = &impl_->real_sleeper;
  if (options_.clock == nullptr) options_.clock = &impl_->system_clock;
}

Client::~Client() {
  if (impl_->easy != nullptr) curl_easy_cleanup(impl_->easy);
}

Result<Response> Client::SendOnce(const Request& request, bool with_credentials) {
  CURL* easy = impl_->easy;
  if (easy == nullptr) return Status::Internal("curl_easy_init failed");
  // Reset options but keep the handle's connection cache (keep-alive, HTTP/2).
  curl_easy_reset(easy);
  impl_->error[0] = '\0';

  Response response;
  Exchange exchange{&response, &stats_.bytes_received, easy, &request.body_sink};
  if (request.body_restart) request.body_restart();
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, impl_->error);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // whatever curl can decode
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  auto timeout = request.timeout.count() > 0 ? request.timeout : options_.default_timeout;
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.proxy.empty()) curl_easy_setopt(easy, CURLOPT_PROXY, options_.proxy.c_str());
  // Redirects are followed by Send, one hop at a time, so that a retry repeats
  // only the hop that failed.
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);

  impl_->refused = Status::Ok();
  if (options_.check_address) {
    impl_->check_address = &options_.check_address;
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &Impl::OpenSocket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, impl_.get());
  }

  const Auth& auth = options_.auth;
  switch (with_credentials ? auth.scheme : AuthScheme::kNone) {
    case AuthScheme::kNone:
      break;
    case AuthScheme::kBasic:
    case AuthScheme::kDigest:
    case AuthScheme::kBasicOrDigest: {
      long mask = auth.scheme == AuthScheme::kBasic    ? CURLAUTH_BASIC
                  : auth.scheme == AuthScheme::kDigest ? CURLAUTH_DIGEST
                                                       : (CURLAUTH_BASIC | CURLAUTH_DIGEST);
      curl_easy_setopt(easy, CURLOPT_HTTPAUTH, mask);
      curl_easy_setopt(easy, CURLOPT_USERNAME, auth.user.c_str());
      curl_easy_setopt(easy, CURLOPT_PASSWORD, auth.password.c_str());
      break;
    }
    case AuthScheme::kBearer:
      curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
      curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, auth.bearer_token.c_str());
      break;
  }

  const std::string& method = request.method;
  if (method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!request.body.empty() || method == "POST" || method == "PUT") {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
  }

  curl_slist* header_list = nullptr;
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers.fields()) {
    if (EqualsIgnoreCase(name, "Content-Type")) has_content_type = true;
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    header_list = curl_slist_append(header_list, line.c_str());
  }
  // No "Expect: 100-continue" wait on large bodies; curl's POST default type is wrong for us.
  header_list = curl_slist_append(header_list, "Expect:");
  if (!has_content_type) header_list = curl_slist_append(header_list, "Content-Type:");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, header_list);

  ++stats_.requests_sent;
  CURLcode code = curl_easy_perform(easy);
  impl_->last_code = code;
  curl_slist_free_all(header_list);
  if (code == CURLE_WRITE_ERROR && request.body_sink) {
    return Status::Internal("response body rejected by its consumer (" + request.url + ")");
  }
  if (!impl_->refused.ok() && code != CURLE_OK) {
    return impl_->refused.WithContext(request.method + " " + WithoutCredentials(request.url));
  }
  if (code != CURLE_OK) {
    return StatusForCurlError(code, impl_->error, request.url);
  }
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  char* effective = nullptr;
  curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &effective);
  response.effective_url = WithoutCredentials(effective ? effective : request.url);
  return response;
}

std::optional<Duration> Client::RetryAfter(const Response& response) const {
  auto value = response.headers.Get("Retry-After");
  if (!value) return std::nullopt;
  std::string text(Trim(*value));
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (text.size() > 9) return Duration::max();
    return std::chrono::seconds(std::stoll(text));
  }
  time_t when = curl_getdate(text.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  auto delta = FromUnixSeconds(when) - options_.clock->Now();
  return delta.count() < 0 ? Duration(0) : delta;
}

Result<Response> Client::SendWithRetries(const Request& request, bool with_credentials) {
  const RetryPolicy& policy = options_.retry;
  const bool idempotent = IsIdempotent(request.method);
  Duration backoff = policy.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    Result<Response> result = SendOnce(request, with_credentials);
    const bool last = attempt >= std::max(1, policy.max_attempts);
    std::optional<Duration> wait;
    if (!result.ok()) {
      if (last || !impl_->refused.ok()) return result;  // a refused address stays refused
      CURLcode code = impl_->last_code;
      if (!Retryable(code) || !(idempotent || NeverSent(code))) return result;
      wait = backoff;
    } else {
      const Response& response = *result;
      int s = response.status;
      if (s == 429 || s == 503) {
        auto retry_after = RetryAfter(response);
        if (retry_after) {
          if (*retry_after > policy.max_retry_after || last) return result;
          wait = *retry_after;
        } else if (s == 503 && idempotent && !last) {
          wait = backoff;
        } else if (s == 429 && !last) {
          wait = backoff;
        } else {
          return result;
        }
      } else if (s >= 500 && s != 501 && s != 505 && idempotent && !last) {
        wait = backoff;
      } else {
        return result;
      }
    }
    ++stats_.retries;
    options_.sleeper->SleepFor(*wait);
    auto next = std::chrono::duration_cast<Duration>(backoff * policy.multiplier);
    backoff = std::min(next, policy.max_backoff);
  }
}

namespace {

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string LowerHost(std::string_view origin) {
  std::string out(origin.substr(origin.find("://") == std::string_view::npos ? 0 : origin.find("://") + 3));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Credentials go only where the first request went: the same origin, or the same
// host and port upgraded from http to https (curl's rule for redirects too).
bool SameAuthority(std::string_view from_url, std::string_view to_url) {
  std::string from = UrlOrigin(from_url), to = UrlOrigin(to_url);
  if (EqualsIgnoreCase(from, to)) return true;
  if (!to.starts_with("https://") || !from.starts_with("http://")) return false;
  std::string from_host = LowerHost(from), to_host = LowerHost(to);
  auto bare = [](std::string h, std::string_view default_port) {
    if (h.ends_with(default_port)) h.resize(h.size() - default_port.size());
    return h;
  };
  return bare(from_host, ":80") == bare(to_host, ":443");
}

}  // namespace

Result<Response> Client::Send(const Request& request) {
  Request hop = request;
  bool with_credentials = true;
  for (int redirects = 0;; ++redirects) {
    TANDEM_ASSIGN_OR_RETURN(Response response, SendWithRetries(hop, with_credentials));
    if (!options_.follow_redirects || !IsRedirect(response.status)) return response;
    auto location = response.headers.Get("Location");
    if (!location || Trim(*location).empty()) return response;
    if (redirects >= options_.max_redirects) {
      return Status::Unavailable(fmt::format("{} {}: more than {} redirects (last to {})",
                                             request.method, WithoutCredentials(request.url),
                                             options_.max_redirects, WithoutCredentials(std::string(Trim(*location)))));
    }
    std::string next = ResolveUrl(hop.url, Trim(*location));
    if (next.empty() || !(next.starts_with("http://") || next.starts_with("https://"))) {
      return Status::InvalidArgument(fmt::format("{} {}: redirected to an unusable location '{}'",
                                                 request.method, WithoutCredentials(request.url),
                                                 WithoutCredentials(std::string(Trim(*location)))));
    }
    with_credentials = with_credentials && SameAuthority(hop.url, next);
    hop.url = std::move(next);
    // 303 means "see the answer there": a GET, without the body. Every other
    // redirect keeps the method and body (a PROPFIND stays a PROPFIND).
    if (response.status == 303 && hop.method != "HEAD") {
      hop.method = "GET";
      hop.body.clear();
      hop.headers.Remove("Content-Type");
    }
  }
}

Status StatusForHttpError(const Response& response, std::string_view what) {
  // The status only: the body of a foreign server's answer never goes into an
  // error the user sees (it could be anything the URL points at).
  std::string message = fmt::format("{}: HTTP {}", what, response.status);
  int s = response.status;
  if (s == 401) return Status::Unauthenticated(message);
  if (s == 403) return Status::PermissionDenied(message);
  if (s == 404 || s == 410) return Status::NotFound(message);
  if (s == 409) return Status::Conflict(message);
  if (s == 412) return Status::PreconditionFailed(message);
  if (s == 413 || s == 429 || s == 507) return Status::ResourceExhausted(message);
  if (s == 408 || s == 504) return Status::DeadlineExceeded(message);
  if (s >= 500) return Status::Unavailable(message);
  if (s >= 400) return Status::InvalidArgument(message);
  return Status::Internal(message + " (unexpected status)");
}

std::string ResolveUrl(std::string_view base, std::string_view ref) {
  CURLU* url = curl_url();
  std::string out;
  if (curl_url_set(url, CURLUPART_URL, std::string(base).c_str(), 0) == CURLUE_OK &&
      curl_url_set(url, CURLUPART_URL, std::string(ref).c_str(), 0) == CURLUE_OK) {
    char* text = nullptr;
    if (curl_url_get(url, CURLUPART_URL, &text, 0) == CURLUE_OK) {
      out = text;
      curl_free(text);
    }
  }
  curl_url_cleanup(url);
  return out.empty() ? std::string(ref) : out;
}

std::string UrlOrigin(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "";
  auto path_start = url.find('/', scheme_end + 3);
  return std::string(url.substr(0, path_start));
}

std::string UrlPath(std::string_view url) {
  auto scheme_end = url.find("://");
  std::string_view rest = url;
  if (scheme_end != std::string_view::npos) {
    auto path_start = url.find('/', scheme_end + 3);
    if (path_start == std::string_view::npos) return "/";
    rest = url.substr(path_start);
  }
  auto query = rest.find_first_of("?#");
  if (query != std::string_view::npos) rest = rest.substr(0, query);
  return rest.empty() ? "/" : std::string(rest);
}

}  // namespace tandem::http
