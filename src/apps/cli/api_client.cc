#include "apps/cli/api_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

namespace tandem::cli {
namespace {

std::string TrimSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string EscapeSegment(std::string_view s) {
  char* escaped = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  if (escaped == nullptr) return std::string(s);
  std::string out(escaped);
  curl_free(escaped);
  return out;
}

std::string RecordPath(std::string_view collection, std::string_view id) {
  return fmt::format("/api/v1/{}/{}", collection, EscapeSegment(id));
}

Result<Json> ParseBody(const http::Response& r) {
  if (r.body.empty()) return Json();
  Json j = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::Corruption(
        fmt::format("the server answered HTTP {} with a body that is not JSON", r.status));
  }
  return j;
}

}  // namespace

std::string EncodeQuery(const QueryParams& query) {
  std::string out;
  for (const auto& [k, v] : query) {
    if (!out.empty()) out += '&';
    out += EscapeSegment(k);
    out += '=';
    out += EscapeSegment(v);
  }
  return out;
}

Status StatusFromErrorResponse(const http::Response& response, bool record_write) {
  Status base = http::StatusForHttpError(response, "request");
  if (response.status == 422) base = Status::InvalidArgument("");
  // A server that answers with a bug is reachable: that is an error, not "down".
  if (response.status == 500 || response.status == 501) base = Status::Internal("");
  std::string message;
  Json j = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded() && j.is_object()) {
    auto err = j.find("error");
    if (err != j.end() && err->is_object()) {
      message = err->value("message", "");
    } else if (auto m = j.find("message"); m != j.end() && m->is_string()) {
      message = m->get<std::string>();
    } else if (err != j.end() && err->is_string()) {
      message = err->get<std::string>();
    }
  }
  // A record's 412 means its version moved on; other 412s (a sync pair whose
  // calendar was replaced, ...) carry their own explanation.
  if (response.status == 412 && (record_write || message.empty()))
    message = std::string(kChangedMeanwhile);
  if (message.empty()) {
    std::string_view body(response.body);
    if (!body.empty() && body.size() < 200 && body.find('<') == std::string_view::npos) {
      message = fmt::format("HTTP {}: {}", response.status, body);
    } else {
      message = fmt::format("the server answered HTTP {}", response.status);
    }
  }
  return Status(base.code(), message);
}

ApiClient::ApiClient(std::string server, std::string token, HttpSend send)
    : server_(TrimSlash(std::move(server))), token_(std::move(token)), send_(std::move(send)) {}

Result<http::Response> ApiClient::Exchange(std::string_view method, std::string_view path,
                                           const Json* body, std::string_view if_match) {
  http::Request req;
  req.method = std::string(method);
  req.url = server_ + std::string(path);
  req.headers.Add("Accept", "application/json");
  if (!token_.empty()) req.headers.Add("Authorization", "Bearer " + token_);
  if (!if_match.empty()) req.headers.Add("If-Match", std::string(if_match));
  if (body != nullptr) {
    req.headers.Add("Content-Type", "application/json");
    req.body = body->dump();
  }
  // A sync run or a pairing (discovery, first sync of a large calendar) may take
  // minutes; tandemd answers at once when the pair is busy elsewhere.
  const bool sync_call = path.rfind("/api/v1/sync/", 0) == 0;
  const bool sync_work = sync_call && method == "POST";
  if (sync_work) req.timeout = kSyncRunTimeout;
  auto response = send_(req);
  if (!response.ok()) {
    const Status& s = response.status();
    if (s.Is(Code::kInvalidArgument)) {
      return Status::InvalidArgument(fmt::format("bad server URL '{}': {}", server_, s.message()));
    }
    if (sync_work && s.Is(Code::kDeadlineExceeded)) {
      return Status::DeadlineExceeded(fmt::format(
          "no answer from {} within {} minutes; the run may go on there: see `tandem sync status`",
          server_, std::chrono::duration_cast<std::chrono::minutes>(kSyncRunTimeout).count()));
    }
    return Status(
        s.code() == Code::kDeadlineExceeded ? Code::kDeadlineExceeded : Code::kUnavailable,
        fmt::format("cannot reach {}: {}", server_, s.message()));
  }
  if (response->status < 200 || response->status > 299) {
    return StatusFromErrorResponse(*response, !sync_call);
  }
  return response;
}

Result<Json> ApiClient::Call(std::string_view method, std::string_view path, const Json* body,
                             std::string_view if_match) {
  TANDEM_ASSIGN_OR_RETURN(http::Response r, Exchange(method, path, body, if_match));
  return ParseBody(r);
}

Result<Json> ApiClient::Login(std::string_view login, std::string_view password) {
  Json body{{"login", login}, {"password", password}};
  TANDEM_ASSIGN_OR_RETURN(Json j, Call("POST", "/api/v1/login", &body));
  if (!j.is_object() || !j.contains("token") || !j["token"].is_string()) {
    return Status::Corruption("the server's login answer has no token");
  }
  return j;
}

Status ApiClient::Logout() { return Call("POST", "/api/v1/logout").status(); }

Result<Json> ApiClient::Me() { return Call("GET", "/api/v1/me"); }

Result<Json> ApiClient::ServerVersion() { return Call("GET", "/api/v1/version"); }

Result<RecordPage> ApiClient::List(std::string_view collection, const QueryParams& query) {
  std::string path = fmt::format("/api/v1/{}", collection);
  if (!query.empty()) path += "?" + EncodeQuery(query);
  TANDEM_ASSIGN_OR_RETURN(Json j, Call("GET", path));
  RecordPage page;
  if (j.is_array()) {
    page.items = std::move(j);
    return page;
  }
  if (!j.is_object() || !j.contains("items") || !j["items"].is_array()) {
    return Status::Corruption(fmt::format("the server's list of {} has no items", collection));
  }
  page.items = j["items"];
  for (const char* key : {"next_page_after", "next"}) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string()) {
      page.next_page_after = it->get<std::string>();
      break;
    }
  }
  return page;
}

Result<FetchedRecord> ApiClient::Get(std::string_view collection, std::string_view id) {
  TANDEM_ASSIGN_OR_RETURN(http::Response r,
                          Exchange("GET", RecordPath(collection, id), nullptr, {}));
  TANDEM_ASSIGN_OR_RETURN(Json j, ParseBody(r));
  FetchedRecord out;
  out.record = std::move(j);
  out.etag = r.headers.Get("ETag").value_or("");
  if (out.etag.empty() && out.record.is_object() && out.record.contains("version") &&
      out.record["version"].is_number_integer()) {
    out.etag = fmt::format("\"{}\"", out.record["version"].get<int64_t>());
  }
  return out;
}

Result<Json> ApiClient::Create(std::string_view collection, const Json& body) {
  return Call("POST", fmt::format("/api/v1/{}", collection), &body);
}

Result<Json> ApiClient::Update(std::string_view collection, std::string_view id, const Json& fields,
                               std::string_view if_match) {
  return Call("PATCH", RecordPath(collection, id), &fields, if_match);
}

Status ApiClient::Delete(std::string_view collection, std::string_view id,
                         std::string_view if_match) {
  return Call("DELETE", RecordPath(collection, id), nullptr, if_match).status();
}

HttpSend MakeCurlSend(std::shared_ptr<http::Client> client) {
  return [client](const http::Request& r) { return client->Send(r); };
}

std::shared_ptr<http::Client> MakeCliHttpClient() {
  http::ClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(5'000);
  options.default_timeout = std::chrono::milliseconds(60'000);
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = std::chrono::milliseconds(200);
  options.retry.max_retry_after = std::chrono::seconds(5);  // a person is waiting
  options.user_agent = "tandem-cli/" TANDEM_VERSION;
  return std::make_shared<http::Client>(std::move(options));
}

}  // namespace tandem::cli
