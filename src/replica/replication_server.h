// What the replica needs from the server, as an interface (so the replicator is
// tested without HTTP), and the JSON of the change feed and of mutation batches
// (docs/API.md "Change feed", docs/REPLICA.md "Push").
//
// Errors of every method: Unavailable / DeadlineExceeded when the server did not
// answer (the replica goes offline); ResyncRequired for a 410 on the feed;
// Unauthenticated when the credentials are refused; other codes as the server
// said them.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "model/entities.h"
#include "replica/replica_state.h"

namespace tandem::replica {

enum class FeedOp { kUpsert, kDelete, kRemove };

struct FeedChange {
  model::EntityType entity = model::EntityType::kActivity;
  std::string id;
  FeedOp op = FeedOp::kUpsert;
  Json record;  // upsert only
};

struct FeedPage {
  std::vector<FeedChange> changes;
  std::string next;  // cursor to continue from
  bool more = false;
};

// A mutation as sent: the queued one plus the server version it was based on.
struct OutgoingMutation {
  Mutation mutation;
  std::optional<int64_t> base_version;
};

enum class PushOutcome { kApplied, kConflict, kRejected, kRetry };

struct PushResult {
  std::string mutation_id;
  PushOutcome outcome = PushOutcome::kRetry;
  Json record;                    // applied: the record as the server has it now (null: deleted)
  std::optional<int64_t> version;
  Json current;                   // conflict: the server's record (null: deleted there)
  std::string error;              // code name
  std::string message;
};

struct ServerInfo {
  std::string server_version;
  int api = 0;
  int schema = 0;
  std::optional<Instant> date;  // the Date header of the answer (clock skew)
};

class ReplicationServer {
 public:
  virtual ~ReplicationServer() = default;
  // One page of GET /api/v1/changes; `since` empty = from the beginning.
  // `scope`: the data groups as JSON text (the server leaves out what is outside
  // them); empty = everything visible.
  virtual Result<FeedPage> Changes(std::string_view since, int limit, std::string_view scope) = 0;
  // POST /api/v1/mutations; results in the order of `batch`.
  virtual Result<std::vector<PushResult>> Push(const std::vector<OutgoingMutation>& batch) = 0;
  // GET /api/v1/version (no auth).
  virtual Result<ServerInfo> Info() = 0;
  // GET /api/v1/me: checks the credentials; the user JSON.
  virtual Result<Json> Me() = 0;
};

// --- wire format
// Moves the records out of `j`.
Result<FeedPage> ParseFeedPage(Json&& j);
Json MutationBatchToJson(const std::vector<OutgoingMutation>& batch);
Result<std::vector<PushResult>> ParsePushResults(const Json& j, size_t expected);

}  // namespace tandem::replica
