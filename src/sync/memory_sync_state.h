// An in-memory SyncStateStore for tests and benchmarks. Same contract as the
// SQLite one (store/sync_state.h); nothing survives the object.
//
// Fault injection: a write hook, when set, is called before every mutating call
// (tests use it to simulate a crash between two writes of a run).
//
// Thread-safe (one mutex).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "core/clock.h"
#include "store/sync_state.h"

namespace tandem::sync {

class MemorySyncStateStore final : public store::SyncStateStore {
 public:
  explicit MemorySyncStateStore(const Clock& clock) : clock_(clock) {}

  void SetWriteHook(std::function<void(std::string_view what)> hook) {
    write_hook_ = std::move(hook);
  }

  Result<store::SyncPair> CreatePair(store::SyncPair pair) override;
  Result<store::SyncPair> GetPair(std::string_view id) override;
  Result<std::vector<store::SyncPair>> ListPairs(std::string_view user_id) override;
  Status UpdatePair(const store::SyncPair& pair) override;
  Status SetCredential(std::string_view pair_id, std::string_view credential_ref) override;
  Status DeletePair(std::string_view id) override;

  Result<std::optional<store::ItemStatus>> StatusByUid(std::string_view pair_id,
                                                       std::string_view uid) override;
  Result<std::optional<store::ItemStatus>> StatusByCrmId(std::string_view pair_id,
                                                         std::string_view crm_id) override;
  Result<std::optional<store::ItemStatus>> StatusByExternalHref(std::string_view pair_id,
                                                                std::string_view href) override;
  Result<std::vector<store::ItemStatus>> ListStatus(std::string_view pair_id) override;
  Result<int64_t> CountStatus(std::string_view pair_id) override;
  Status PutStatus(const store::ItemStatus& row) override;
  Status DeleteStatus(std::string_view pair_id, std::string_view uid) override;
  Status ClearStatus(std::string_view pair_id) override;

  Status PutIntent(const store::CreationIntent& intent) override;
  Result<std::optional<store::CreationIntent>> GetIntent(std::string_view pair_id,
                                                         std::string_view uid) override;
  Status DeleteIntent(std::string_view pair_id, std::string_view uid) override;

  Status AddPending(const store::PendingItem& item) override;
  Result<std::vector<store::PendingItem>> ListPending(std::string_view pair_id) override;
  Status RemovePending(std::string_view pair_id, std::string_view side,
                       std::string_view href) override;
  Status ClearPending(std::string_view pair_id) override;

  Result<int64_t> BeginRun(const store::SyncRun& run) override;
  Status FinishRun(int64_t run_id, Instant finished, std::string_view outcome) override;
  Status AppendLog(const store::SyncLogEntry& entry) override;
  Result<std::vector<store::SyncLogEntry>> ListLog(std::string_view pair_id, int limit) override;
  Result<std::vector<store::SyncRun>> ListRuns(std::string_view pair_id, int limit) override;

  Result<int64_t> PutTrash(const store::TrashEntry& entry) override;
  Result<std::vector<store::TrashEntry>> ListTrash(std::string_view user_id,
                                                   bool include_restored) override;
  Result<store::TrashEntry> GetTrash(int64_t id) override;
  Status MarkRestored(int64_t id, Instant at) override;
  Status DeleteTrash(int64_t id) override;

  Status PutCrmUid(std::string_view user_id, std::string_view uid,
                   std::string_view activity_id) override;
  Result<std::optional<std::string>> CrmIdForUid(std::string_view user_id,
                                                 std::string_view uid) override;
  Result<std::optional<std::string>> UidForCrmId(std::string_view user_id,
                                                 std::string_view activity_id) override;

  Status PutDavName(std::string_view user_id, std::string_view name,
                    std::string_view activity_id) override;
  Result<std::optional<std::string>> ActivityForDavName(std::string_view user_id,
                                                        std::string_view name) override;
  Result<std::optional<std::string>> DavNameOf(std::string_view user_id,
                                               std::string_view activity_id) override;

 private:
  void Hook(std::string_view what) {
    if (write_hook_) write_hook_(what);
  }
  using Key = std::pair<std::string, std::string>;

  const Clock& clock_;
  std::function<void(std::string_view)> write_hook_;
  std::mutex mu_;
  int64_t next_pair_ = 1;
  std::map<std::string, store::SyncPair> pairs_;
  std::map<Key, store::ItemStatus> status_;  // (pair, uid)
  std::map<Key, store::CreationIntent> intents_;
  std::map<std::tuple<std::string, std::string, std::string>, store::PendingItem> pending_;
  std::map<int64_t, store::SyncRun> runs_;
  std::vector<store::SyncLogEntry> log_;
  std::map<int64_t, store::TrashEntry> trash_;
  std::map<Key, std::string> crm_uid_;   // (user, uid) -> activity id
  std::map<Key, std::string> dav_name_;  // (user, name) -> activity id
};

}  // namespace tandem::sync
