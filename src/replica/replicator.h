// Replicator: moves changes between the server and the local replica.
//
// Pull: pages of the server's change feed, asked with the data groups as the
// feed's scope (the server leaves out what is outside them). Each page is
// applied in ONE local transaction: the record writes, the tracked versions,
// the conflicts' newer "theirs" and the cursor (SqliteStore::ApplyWrites with
// ReplicaState::CommitPageIn). A crash leaves the page wholly applied or not at
// all; a page pulled again is harmless anyway (ids are the server's, versions
// decide).
// Records with a pending or conflicted local write are left alone by the pull
// (a conflicted one gets the newer server version as "theirs").
// A 410 (cursor too old, or another server database) starts a full resync: a
// new generation is pulled from the beginning and what it did not bring is
// removed locally, except records with unsent local writes (they stay queued).
//
// Push: the oldest pending mutations, at most one per record, each with the
// server version its local copy derives from. applied -> dequeued, the new
// server version tracked; conflict -> both versions kept (RecordConflict) until
// the user resolves; rejected -> recorded per record with the server's message
// (C8), out of the queue, the others go on; retry -> stays queued.
//
// Online/offline (Connectivity): a request without answer sends the replica
// offline; SyncOnce then only probes, at growing intervals; the first answer
// drains the outbox, and only an empty outbox makes it online again.
//
// Thread safety: safe for concurrent use; pull, push and resolutions are
// serialized. Local writes from the API (RecordingStore) hold apply_mutex(), so
// the pull never interleaves with one.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "replica/connectivity.h"
#include "model/data_groups.h"
#include "replica/replica_state.h"
#include "replica/replication_server.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace tandem::replica {

struct FillProgress {
  int64_t records = 0;  // changes applied by this full pull so far
  int64_t pages = 0;
  bool done = false;
};

struct ReplicatorOptions {
  store::sqlite::SqliteStore* local = nullptr;  // REQUIRED: the local store (writes not recorded)
  ReplicaState* state = nullptr;          // REQUIRED
  ReplicationServer* server = nullptr;    // REQUIRED
  Connectivity* link = nullptr;           // REQUIRED
  const Clock* clock = nullptr;           // REQUIRED
  IdGenerator* ids = nullptr;             // REQUIRED: ids of mutations made by resolutions
  std::string user_id;                    // REQUIRED: the replica's user
  int page_size = 1000;
  int push_batch = 500;
  std::function<void(const FillProgress&)> on_progress;  // during a full pull
};

struct SyncReport {
  int pulled = 0;
  int pushed = 0;
  int conflicts = 0;
  int rejected = 0;
};

enum class Resolution { kMine, kTheirs, kMerged };
Result<Resolution> ParseResolution(std::string_view s);

class Replicator {
 public:
  static Result<std::unique_ptr<Replicator>> Open(ReplicatorOptions options);

  // One round: probe when offline, push everything, then pull everything.
  // Unavailable when the server did not answer (the replica is then offline).
  Result<SyncReport> SyncOnce();

  // One page each; `more` says whether to call again.
  Result<int> PullPage(bool* more);
  Result<int> PushBatch(bool* more, SyncReport* report);

  // Starts a full pull with the new filter (records that left it are removed
  // locally as the pull goes, records that entered it arrive).
  Status SetDataGroups(const model::DataGroups& groups);
  model::DataGroups data_groups() const;
  Status StartFullResync();
  // True while a full pull (first fill or resync) is unfinished.
  bool FullPullInProgress() const;

  // Ends a conflict (mine: push the local version over theirs; theirs: take the
  // server's; merged: `merged` fields onto the local copy, then push).
  // NotFound when the record has no conflict.
  Status Resolve(model::EntityType e, std::string_view id, Resolution how,
                 const Json& merged = Json::object());

  std::mutex& apply_mutex() { return apply_mu_; }
  const ReplicatorOptions& options() const { return options_; }

 private:
  explicit Replicator(ReplicatorOptions options) : options_(std::move(options)) {}
  Status Load();
  // Notes the outcome of a server call in the connectivity state.
  template <typename T>
  Result<T> Observe(Result<T> r);
  Status SweepUnseen();  // REQUIRES: apply_mu_ held
  Result<int> PullPageLocked(bool* more);                          // REQUIRES: sync_mu_
  Result<int> PushBatchLocked(bool* more, SyncReport* report);     // REQUIRES: sync_mu_
  Status StartFullResyncLocked();                                  // REQUIRES: sync_mu_
  // What one change of a page does locally, added to `writes` and `tracking`.
  Status PlanChange(FeedChange& c, const std::set<std::pair<model::EntityType, std::string>>& outstanding,
                    const std::unordered_map<std::string, int64_t>& known_versions,
                    const model::DataGroups& groups, Instant now,
                    std::vector<store::sqlite::SqliteStore::RecordWrite>* writes,
                    ReplicaState::PageTracking* tracking);  // REQUIRES: apply_mu_

  ReplicatorOptions options_;
  std::mutex sync_mu_;   // one pull/push/resolution at a time
  std::mutex apply_mu_;  // local writes vs page application
  mutable std::mutex groups_mu_;
  model::DataGroups groups_;
  int64_t generation_ = 1;
  bool full_pull_ = true;
  FillProgress progress_;
};

}  // namespace tandem::replica
