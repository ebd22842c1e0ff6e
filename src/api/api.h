// The REST/JSON API v1 (docs/API.md): sessions, users, CRM records, change feed.
//
// RestApi registers its routes on an http::Router; the handlers translate HTTP to
// Store calls and Status codes to HTTP codes (errors.h, the only place that does).
// Authorization: a bearer token per request (auth.h) and store::MayAccess per
// record; records a caller may not see answer 404, like unknown ids.
//
// Thread safety: a RestApi is safe for concurrent requests once its routes are
// registered. The Store, Clock and Random given must outlive it.
#pragma once

#include <memory>
#include <string>

#include "api/auth.h"
#include "core/clock.h"
#include "core/random.h"
#include "core/status.h"
#include "core/time.h"
#include "http/server.h"
#include "store/store.h"

namespace tandem::api {

struct ApiOptions {
  store::Store* store = nullptr;  // REQUIRED
  const Clock* clock = nullptr;   // REQUIRED
  Random* random = nullptr;       // REQUIRED; secure in production (tokens)
  Duration session_lifetime = std::chrono::hours(12);
  // Tombstones older than this are pruned by Maintain(); cursors before the
  // pruned range answer 410 ResyncRequired.
  Duration tombstone_retention = std::chrono::hours(24 * 30);
  PasswordCost password_cost = PasswordCost::Interactive();
};

class RestApi {
 public:
  explicit RestApi(ApiOptions options);
  ~RestApi();

  // Adds every route of docs/API.md, the JSON 404/405 answers, and leaves
  // `server_options->error_response` answering in the API's error shape.
  void Register(http::Router* router);
  static void ConfigureServer(http::ServerOptions* server_options);

  // Periodic housekeeping: prunes tombstones older than the retention and expired
  // sessions. Returns the first error.
  Status Maintain();

  Authenticator& authenticator();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::api
