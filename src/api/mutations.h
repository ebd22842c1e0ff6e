// Server side of the replica's push protocol: POST /api/v1/mutations.
//
// Request:  {"mutations":[{"id":"<client-generated uuid>","entity":"activities",
//            "record_id":"...","op":"create"|"update"|"delete",
//            "base_version":N|null,"fields":{...}}, ...]}   (at most 1000)
// Answer 200: {"results":[{"id":"...","outcome":"applied"|"conflict"|"rejected"|"retry",
//            "record":{...}|null,"version":N|null,"current":{...}|null,
//            "error":"<code name>","message":"..."}, ...]}  (same order)
//
// - applied: done (or done before: a replayed id answers the remembered result).
// - conflict: base_version is not the record's current version (or the record
//   was deleted meanwhile); `current` is the server's record (null when deleted).
//   Nothing is written: the client keeps both versions for the user (C8).
// - rejected: a permanent error for this record (validation, permission, unknown
//   record); remembered like applied, so a replay gives the same answer.
// - retry: a transient failure (database busy); not remembered.
// A malformed batch as a whole is InvalidArgument (400).
//
// Idempotency: applied/conflict/rejected results are kept per (user, mutation id)
// in table mutation_log (component "mutations"), written in one transaction at
// the end of the batch. A crash between a write and its log row is healed on replay: a create whose id exists, a delete of a missing
// record, an update whose fields are already in place all answer applied.
//
// Thread safety: MutationLog and ApplyMutationBatch are safe for concurrent use
// (the store's and the pool's own guarantees).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "api/auth.h"
#include "core/clock.h"
#include "core/status.h"
#include "http/server.h"
#include "store/sqlite/database_pool.h"
#include "store/store.h"

namespace tandem::api {

inline constexpr int kMaxMutationsPerBatch = 1000;

class MutationLog {
 public:
  // Applies the "mutations" migrations.
  static Result<std::unique_ptr<MutationLog>> Open(store::sqlite::DatabasePool& pool,
                                                   const Clock& clock);
  // The remembered result of a mutation, if any.
  Result<std::optional<nlohmann::json>> Find(std::string_view user_id,
                                             std::string_view mutation_id);
  Status Remember(std::string_view user_id, std::string_view mutation_id,
                  const nlohmann::json& result);
  // Many results in ONE transaction: (mutation id, result).
  Status RememberAll(std::string_view user_id,
                     const std::vector<std::pair<std::string, nlohmann::json>>& results);
  // Forgets results older than `older_than` (a client replays within days, not months).
  Result<int> Prune(Instant older_than);

 private:
  MutationLog(store::sqlite::DatabasePool& pool, const Clock& clock) : pool_(pool), clock_(clock) {}
  store::sqlite::DatabasePool& pool_;
  const Clock& clock_;
};

// Applies a batch for `viewer`, in order. InvalidArgument for a malformed batch.
Result<nlohmann::json> ApplyMutationBatch(store::Store& store, MutationLog& log,
                                          const store::Viewer& viewer,
                                          const nlohmann::json& body);

// What the route needs from the rest of the API.
struct MutationRoutes {
  store::Store* store = nullptr;  // REQUIRED
  MutationLog* log = nullptr;     // REQUIRED
  // The caller of a request (the API's bearer-token check); an error answers as is.
  std::function<Result<store::Viewer>(const http::ServerRequest&)> authenticate;  // REQUIRED
  // The API's error answer for a Status (api/errors.h ErrorResponse).
  std::function<http::ServerResponse(const Status&)> error;  // REQUIRED
};

// Adds POST /api/v1/mutations.
void RegisterMutationRoutes(http::Router* router, MutationRoutes routes);

// The same for RestApi::Register: callers authenticate through `auth`, errors
// answer in the API's shape, and the log lives in the store's own SQLite
// database. On another kind of store (or when the log cannot be opened) the
// route answers 501/503 with the reason.
void RegisterMutationRoutes(http::Router* router, store::Store* store, Authenticator* auth,
                            const Clock* clock);

}  // namespace tandem::api
