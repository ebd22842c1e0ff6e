#include "model/json_fields.h"
#include "replica/http_replication_server.h"

#include <fmt/format.h>

#include <ctime>

namespace tandem::replica {

namespace {
std::string QueryEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}
}  // namespace

std::optional<Instant> ParseHttpDate(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  time_t t = timegm(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return FromUnixSeconds(static_cast<int64_t>(t));
}

Status StatusOfAnswer(const http::Response& response, std::string_view what) {
  if (response.status == 410) return Status::ResyncRequired(fmt::format("{}: cursor expired", what));
  Json body = Json::parse(response.body, nullptr, false);
  Status fallback = http::StatusForHttpError(response, what);
  if (body.is_object() && body.contains("message") && body["message"].is_string()) {
    return Status(fallback.code(), fmt::format("{}: {}", what, body["message"].get<std::string>()));
  }
  return fallback;
}

HttpReplicationServer::HttpReplicationServer(HttpServerOptions options)
    : options_(std::move(options)) {
  http::ClientOptions c;
  c.connect_timeout = options_.connect_timeout;
  c.default_timeout = options_.timeout;
  c.retry.max_attempts = 1;  // the replicator decides when to try again
  c.clock = options_.clock;
  c.proxy = "";
  client_ = std::make_unique<http::Client>(std::move(c));
}

HttpReplicationServer::~HttpReplicationServer() = default;

Result<http::Response> HttpReplicationServer::SendLocked(std::string method,
                                                         std::string path_and_query,
                                                         const Json* body, bool with_token) {
  http::Request req;
  req.method = std::move(method);
  req.url = options_.base_url + path_and_query;
  req.headers.Add("Accept", "application/json");
  if (body != nullptr) {
    req.headers.Add("Content-Type", "application/json");
    req.body = body->dump();
  }
  if (with_token && !options_.token.empty()) {
    req.headers.Add("Authorization", "Bearer " + options_.token);
  }
  return client_->Send(req);
}

Result<Json> HttpReplicationServer::LoginLocked() {
  Json body = {{"login", options_.login}, {"password", options_.password}};
  TANDEM_ASSIGN_OR_RETURN(http::Response r, SendLocked("POST", "/api/v1/login", &body, false));
  if (r.status != 200) return StatusOfAnswer(r, "login");
  Json j = Json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("token") || !j["token"].is_string()) {
    return Status::Corruption("login: answer without token");
  }
  options_.token = j["token"].get<std::string>();
  if (options_.on_token) options_.on_token(options_.token);
  return j;
}

Result<Json> HttpReplicationServer::Login() {
  std::lock_guard lock(mu_);
  return LoginLocked();
}

Result<http::Response> HttpReplicationServer::SendAuthorized(std::string method,
                                                             std::string path_and_query,
                                                             const Json* body) {
  if (options_.token.empty()) TANDEM_RETURN_IF_ERROR(LoginLocked().status());
  TANDEM_ASSIGN_OR_RETURN(http::Response r, SendLocked(method, path_and_query, body, true));
  if (r.status != 401 || options_.password.empty()) return r;
  // The session ended (expired during a long offline period, or revoked).
  TANDEM_RETURN_IF_ERROR(LoginLocked().status());
  return SendLocked(method, path_and_query, body, true);
}

Result<FeedPage> HttpReplicationServer::Changes(std::string_view since, int limit,
                                                std::string_view scope) {
  std::lock_guard lock(mu_);
  std::string path = fmt::format("/api/v1/changes?limit={}", limit);
  if (!since.empty()) path += "&since=" + QueryEscape(since);
  if (!scope.empty()) path += "&scope=" + QueryEscape(scope);
  TANDEM_ASSIGN_OR_RETURN(http::Response r, SendAuthorized("GET", path, nullptr));
  if (r.status != 200) return StatusOfAnswer(r, "change feed");
  Json j = Json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return Status::Corruption("change feed: answer is not JSON");
  return ParseFeedPage(std::move(j));
}

Result<std::vector<PushResult>> HttpReplicationServer::Push(
    const std::vector<OutgoingMutation>& batch) {
  std::lock_guard lock(mu_);
  Json body = MutationBatchToJson(batch);
  TANDEM_ASSIGN_OR_RETURN(http::Response r, SendAuthorized("POST", "/api/v1/mutations", &body));
  if (r.status != 200) return StatusOfAnswer(r, "mutations");
  Json j = Json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return Status::Corruption("mutations: answer is not JSON");
  return ParsePushResults(j, batch.size());
}

Result<ServerInfo> HttpReplicationServer::Info() {
  std::lock_guard lock(mu_);
  TANDEM_ASSIGN_OR_RETURN(http::Response r, SendLocked("GET", "/api/v1/version", nullptr, false));
  if (r.status != 200) return StatusOfAnswer(r, "version");
  Json j = Json::parse(r.body, nullptr, false);
  if (!j.is_object()) return Status::Corruption("version: answer is not a JSON object");
  ServerInfo info;
  auto version = model::StringField(j, "server_version");
  auto api = model::IntField(j, "api");
  auto schema = model::IntField(j, "schema");
  for (const Status& s : {version.status(), api.status(), schema.status()})
    if (!s.ok()) return model::Wire(s, "version");
  info.server_version = *version;
  info.api = static_cast<int>(*api);
  info.schema = static_cast<int>(*schema);
  if (auto date = r.headers.Get("Date")) info.date = ParseHttpDate(*date);
  return info;
}

Result<Json> HttpReplicationServer::Me() {
  std::lock_guard lock(mu_);
  TANDEM_ASSIGN_OR_RETURN(http::Response r, SendAuthorized("GET", "/api/v1/me", nullptr));
  if (r.status != 200) return StatusOfAnswer(r, "me");
  Json j = Json::parse(r.body, nullptr, false);
  if (!j.is_object()) return Status::Corruption("me: answer is not a JSON object");
  return j;
}

}  // namespace tandem::replica
