// The REST API of tandemd (docs/API.md) as the CLI uses it. All HTTP goes through
// tandem::http::Client; the client is reached through an HttpSend function so
// tests can answer requests without a server.
//
// Errors: every method returns the server's error as a Status whose code follows
// the HTTP status (401 Unauthenticated, 403 PermissionDenied, 404 NotFound,
// 409 Conflict, 412 PreconditionFailed, 400/422 InvalidArgument, 500 Internal,
// 502/503/504 Unavailable)
// and whose message is the server's own message ("end: must not be before start").
// No answer at all gives Unavailable "cannot reach <server>: ...".
// Not thread-safe (one CLI invocation, one thread).
#pragma once

#include <chrono>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "http/client.h"

namespace tandem::cli {

using Json = nlohmann::json;
using HttpSend = std::function<Result<http::Response>(const http::Request&)>;
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// The message printed for a 412 on edit/delete.
inline constexpr std::string_view kChangedMeanwhile =
    "changed on the server meanwhile; re-run to see the current version";

struct FetchedRecord {
  Json record;
  std::string etag;  // as sent by the server; "" when it sent none
};

struct RecordPage {
  Json items = Json::array();
  std::string next_page_after;  // empty on the last page
};

// How long the CLI waits for a sync run, an initialization or a pairing.
inline constexpr std::chrono::milliseconds kSyncRunTimeout = std::chrono::minutes(30);

class ApiClient {
 public:
  // `server` is the base URL ("http://127.0.0.1:8080"); `token` may be empty
  // (login, version).
  ApiClient(std::string server, std::string token, HttpSend send);

  const std::string& server() const { return server_; }

  // POST /api/v1/login: the whole answer ({"token": ..., "user": {...}}).
  Result<Json> Login(std::string_view login, std::string_view password);
  // POST /api/v1/logout: ends the session on the server.
  Status Logout();
  // GET /api/v1/me.
  Result<Json> Me();
  // GET /api/v1/version: {"version": "...", ...}.
  Result<Json> ServerVersion();

  // GET /api/v1/<collection>?<query>: one page.
  Result<RecordPage> List(std::string_view collection, const QueryParams& query);
  // GET /api/v1/<collection>/<id>.
  Result<FetchedRecord> Get(std::string_view collection, std::string_view id);
  // POST /api/v1/<collection>: the created record.
  Result<Json> Create(std::string_view collection, const Json& body);
  // PATCH /api/v1/<collection>/<id> with If-Match: the updated record.
  // PreconditionFailed (message kChangedMeanwhile) when the version moved on.
  Result<Json> Update(std::string_view collection, std::string_view id, const Json& fields,
                      std::string_view if_match);
  // DELETE /api/v1/<collection>/<id>, with If-Match when `if_match` is not empty.
  Status Delete(std::string_view collection, std::string_view id, std::string_view if_match);

  // Any other call (for commands added later: sync, trash, conflicts, doctor).
  // `path` starts with "/api/v1/". Returns the parsed JSON body (null when empty).
  Result<Json> Call(std::string_view method, std::string_view path, const Json* body = nullptr,
                    std::string_view if_match = {});

 private:
  Result<http::Response> Exchange(std::string_view method, std::string_view path, const Json* body,
                                  std::string_view if_match);

  std::string server_;
  std::string token_;
  HttpSend send_;
};

// "a=1&b=x%20y" (RFC 3986 percent-encoding).
std::string EncodeQuery(const QueryParams& query);
// The Status for an HTTP error answer, with the server's message when its body
// is a JSON error ({"error": {"code", "message"}} or {"error": "...", "message": ...}).
// `record_write`: a 412 is a record's moved version (kChangedMeanwhile); else the
// server's own message is kept.
Status StatusFromErrorResponse(const http::Response& response, bool record_write = true);

// A real HttpSend over tandem::http::Client: fails fast (connect timeout 5 s,
// two attempts) because a person is waiting.
HttpSend MakeCurlSend(std::shared_ptr<http::Client> client);
std::shared_ptr<http::Client> MakeCliHttpClient();

}  // namespace tandem::cli
