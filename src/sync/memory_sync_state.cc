#include "sync/memory_sync_state.h"

#include <fmt/format.h>

#include <algorithm>

namespace tandem::sync {

using store::ItemStatus;
using Lock = std::lock_guard<std::mutex>;

Result<store::SyncPair> MemorySyncStateStore::CreatePair(store::SyncPair pair) {
  Hook("create pair");
  Lock l(mu_);
  if (pair.id.empty()) pair.id = fmt::format("pair-{}", next_pair_++);
  if (pairs_.contains(pair.id)) return Status::AlreadyExists("sync pair " + pair.id);
  pair.created = clock_.Now();
  pairs_[pair.id] = pair;
  return pair;
}

Result<store::SyncPair> MemorySyncStateStore::GetPair(std::string_view id) {
  Lock l(mu_);
  auto it = pairs_.find(std::string(id));
  if (it == pairs_.end()) return Status::NotFound(fmt::format("sync pair {} does not exist", id));
  return it->second;
}

Result<std::vector<store::SyncPair>> MemorySyncStateStore::ListPairs(std::string_view user_id) {
  Lock l(mu_);
  std::vector<store::SyncPair> out;
  for (auto& [id, p] : pairs_) {
    if (user_id.empty() || p.user_id == user_id) out.push_back(p);
  }
  return out;
}

Status MemorySyncStateStore::UpdatePair(const store::SyncPair& pair) {
  Hook("update pair");
  Lock l(mu_);
  auto it = pairs_.find(pair.id);
  if (it == pairs_.end())
    return Status::NotFound(fmt::format("sync pair {} does not exist", pair.id));
  const std::string credential = it->second.credential_ref;  // SetCredential's alone
  it->second = pair;
  it->second.credential_ref = credential;
  return Status::Ok();
}

Status MemorySyncStateStore::SetCredential(std::string_view pair_id,
                                           std::string_view credential_ref) {
  Hook("set credential");
  Lock l(mu_);
  auto it = pairs_.find(std::string(pair_id));
  if (it == pairs_.end())
    return Status::NotFound(fmt::format("sync pair {} does not exist", pair_id));
  it->second.credential_ref = std::string(credential_ref);
  return Status::Ok();
}

Status MemorySyncStateStore::DeletePair(std::string_view id) {
  Hook("delete pair");
  Lock l(mu_);
  std::string key(id);
  if (pairs_.erase(key) == 0)
    return Status::NotFound(fmt::format("sync pair {} does not exist", id));
  std::erase_if(status_, [&](auto& kv) { return kv.first.first == key; });
  std::erase_if(intents_, [&](auto& kv) { return kv.first.first == key; });
  std::erase_if(pending_, [&](auto& kv) { return std::get<0>(kv.first) == key; });
  std::erase_if(runs_, [&](auto& kv) { return kv.second.pair_id == key; });
  std::erase_if(log_, [&](auto& e) { return e.pair_id == key; });
  return Status::Ok();
}

Result<std::optional<ItemStatus>> MemorySyncStateStore::StatusByUid(std::string_view pair_id,
                                                                    std::string_view uid) {
  Lock l(mu_);
  auto it = status_.find(Key(pair_id, uid));
  if (it == status_.end()) return std::optional<ItemStatus>();
  return std::optional<ItemStatus>(it->second);
}

Result<std::optional<ItemStatus>> MemorySyncStateStore::StatusByCrmId(std::string_view pair_id,
                                                                      std::string_view crm_id) {
  Lock l(mu_);
  for (auto it = status_.lower_bound(Key(pair_id, ""));
       it != status_.end() && it->first.first == pair_id; ++it) {
    if (it->second.crm_id == crm_id) return std::optional<ItemStatus>(it->second);
  }
  return std::optional<ItemStatus>();
}

Result<std::optional<ItemStatus>> MemorySyncStateStore::StatusByExternalHref(
    std::string_view pair_id, std::string_view href) {
  Lock l(mu_);
  for (auto it = status_.lower_bound(Key(pair_id, ""));
       it != status_.end() && it->first.first == pair_id; ++it) {
    if (it->second.external_href == href) return std::optional<ItemStatus>(it->second);
  }
  return std::optional<ItemStatus>();
}

Result<std::vector<ItemStatus>> MemorySyncStateStore::ListStatus(std::string_view pair_id) {
  Lock l(mu_);
  std::vector<ItemStatus> out;
  for (auto it = status_.lower_bound(Key(pair_id, ""));
       it != status_.end() && it->first.first == pair_id; ++it) {
    out.push_back(it->second);
  }
  return out;
}

Result<int64_t> MemorySyncStateStore::CountStatus(std::string_view pair_id) {
  Lock l(mu_);
  int64_t n = 0;
  for (auto it = status_.lower_bound(Key(pair_id, ""));
       it != status_.end() && it->first.first == pair_id; ++it) {
    ++n;
  }
  return n;
}

Status MemorySyncStateStore::PutStatus(const ItemStatus& row) {
  Hook("put status");
  Lock l(mu_);
  status_[Key(row.pair_id, row.uid)] = row;
  return Status::Ok();
}

Status MemorySyncStateStore::DeleteStatus(std::string_view pair_id, std::string_view uid) {
  Hook("delete status");
  Lock l(mu_);
  status_.erase(Key(pair_id, uid));
  return Status::Ok();
}

Status MemorySyncStateStore::ClearStatus(std::string_view pair_id) {
  Hook("clear status");
  Lock l(mu_);
  std::erase_if(status_, [&](auto& kv) { return kv.first.first == pair_id; });
  return Status::Ok();
}

Status MemorySyncStateStore::PutIntent(const store::CreationIntent& intent) {
  Hook("put intent");
  Lock l(mu_);
  intents_[Key(intent.pair_id, intent.uid)] = intent;
  return Status::Ok();
}

Result<std::optional<store::CreationIntent>> MemorySyncStateStore::GetIntent(
    std::string_view pair_id, std::string_view uid) {
  Lock l(mu_);
  auto it = intents_.find(Key(pair_id, uid));
  if (it == intents_.end()) return std::optional<store::CreationIntent>();
  return std::optional<store::CreationIntent>(it->second);
}

Status MemorySyncStateStore::DeleteIntent(std::string_view pair_id, std::string_view uid) {
  Hook("delete intent");
  Lock l(mu_);
  intents_.erase(Key(pair_id, uid));
  return Status::Ok();
}

Status MemorySyncStateStore::AddPending(const store::PendingItem& item) {
  Hook("add pending");
  Lock l(mu_);
  pending_[{item.pair_id, item.side, item.href}] = item;
  return Status::Ok();
}

Result<std::vector<store::PendingItem>> MemorySyncStateStore::ListPending(
    std::string_view pair_id) {
  Lock l(mu_);
  std::vector<store::PendingItem> out;
  for (auto& [k, v] : pending_) {
    if (std::get<0>(k) == pair_id) out.push_back(v);
  }
  return out;
}

Status MemorySyncStateStore::RemovePending(std::string_view pair_id, std::string_view side,
                                           std::string_view href) {
  Hook("remove pending");
  Lock l(mu_);
  pending_.erase({std::string(pair_id), std::string(side), std::string(href)});
  return Status::Ok();
}

Status MemorySyncStateStore::ClearPending(std::string_view pair_id) {
  Hook("clear pending");
  Lock l(mu_);
  std::erase_if(pending_, [&](auto& kv) { return std::get<0>(kv.first) == pair_id; });
  return Status::Ok();
}

Result<int64_t> MemorySyncStateStore::BeginRun(const store::SyncRun& run) {
  Hook("begin run");
  Lock l(mu_);
  int64_t id = runs_.empty() ? 1 : runs_.rbegin()->first + 1;
  runs_[id] = run;
  runs_[id].id = id;
  return id;
}

Status MemorySyncStateStore::FinishRun(int64_t run_id, Instant finished, std::string_view outcome) {
  Hook("finish run");
  Lock l(mu_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return Status::NotFound(fmt::format("sync run {}", run_id));
  it->second.finished = finished;
  it->second.outcome = outcome;
  return Status::Ok();
}

Status MemorySyncStateStore::AppendLog(const store::SyncLogEntry& entry) {
  Hook("append log");
  Lock l(mu_);
  log_.push_back(entry);
  log_.back().id = static_cast<int64_t>(log_.size());
  return Status::Ok();
}

Result<std::vector<store::SyncLogEntry>> MemorySyncStateStore::ListLog(std::string_view pair_id,
                                                                       int limit) {
  Lock l(mu_);
  std::vector<store::SyncLogEntry> out;
  for (auto it = log_.rbegin(); it != log_.rend() && static_cast<int>(out.size()) < limit; ++it) {
    if (it->pair_id == pair_id) out.push_back(*it);
  }
  return out;
}

Result<std::vector<store::SyncRun>> MemorySyncStateStore::ListRuns(std::string_view pair_id,
                                                                   int limit) {
  Lock l(mu_);
  std::vector<store::SyncRun> out;
  for (auto it = runs_.rbegin(); it != runs_.rend() && static_cast<int>(out.size()) < limit; ++it) {
    if (it->second.pair_id == pair_id) out.push_back(it->second);
  }
  return out;
}

Result<int64_t> MemorySyncStateStore::PutTrash(const store::TrashEntry& entry) {
  Hook("put trash");
  Lock l(mu_);
  int64_t id = trash_.empty() ? 1 : trash_.rbegin()->first + 1;
  trash_[id] = entry;
  trash_[id].id = id;
  return id;
}

Result<std::vector<store::TrashEntry>> MemorySyncStateStore::ListTrash(std::string_view user_id,
                                                                       bool include_restored) {
  Lock l(mu_);
  std::vector<store::TrashEntry> out;
  for (auto it = trash_.rbegin(); it != trash_.rend(); ++it) {
    if (it->second.user_id != user_id) continue;
    if (it->second.restored_at && !include_restored) continue;
    out.push_back(it->second);
  }
  return out;
}

Result<store::TrashEntry> MemorySyncStateStore::GetTrash(int64_t id) {
  Lock l(mu_);
  auto it = trash_.find(id);
  if (it == trash_.end()) return Status::NotFound(fmt::format("trash entry {} does not exist", id));
  return it->second;
}

Status MemorySyncStateStore::MarkRestored(int64_t id, Instant at) {
  Hook("mark restored");
  Lock l(mu_);
  auto it = trash_.find(id);
  if (it == trash_.end()) return Status::NotFound(fmt::format("trash entry {} does not exist", id));
  it->second.restored_at = at;
  return Status::Ok();
}

Status MemorySyncStateStore::DeleteTrash(int64_t id) {
  Hook("delete trash");
  Lock l(mu_);
  trash_.erase(id);
  return Status::Ok();
}

namespace {
// The first key of `user_id` whose value is `value` (the reverse lookup of the
// (user, key) -> activity id maps).
std::optional<std::string> KeyOfValue(const std::map<std::pair<std::string, std::string>, std::string>& m,
                                      std::string_view user_id, std::string_view value) {
  for (auto& [k, v] : m) {
    if (k.first == user_id && v == value) return k.second;
  }
  return std::nullopt;
}
}  // namespace

Status MemorySyncStateStore::PutCrmUid(std::string_view user_id, std::string_view uid,
                                       std::string_view activity_id) {
  Hook("put crm uid");
  Lock l(mu_);
  crm_uid_[Key(user_id, uid)] = std::string(activity_id);
  return Status::Ok();
}

Result<std::optional<std::string>> MemorySyncStateStore::CrmIdForUid(std::string_view user_id,
                                                                     std::string_view uid) {
  Lock l(mu_);
  auto it = crm_uid_.find(Key(user_id, uid));
  if (it == crm_uid_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Result<std::optional<std::string>> MemorySyncStateStore::UidForCrmId(std::string_view user_id,
                                                                     std::string_view activity_id) {
  Lock l(mu_);
  return KeyOfValue(crm_uid_, user_id, activity_id);
}


Status MemorySyncStateStore::PutDavName(std::string_view user_id, std::string_view name,
                                        std::string_view activity_id) {
  Hook("put dav name");
  Lock l(mu_);
  for (auto it = dav_name_.begin(); it != dav_name_.end();) {  // one name per activity
    it = (it->first.first == user_id && it->second == activity_id) ? dav_name_.erase(it) : ++it;
  }
  dav_name_[Key(user_id, name)] = std::string(activity_id);
  return Status::Ok();
}

Result<std::optional<std::string>> MemorySyncStateStore::ActivityForDavName(
    std::string_view user_id, std::string_view name) {
  Lock l(mu_);
  auto it = dav_name_.find(Key(user_id, name));
  if (it == dav_name_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Result<std::optional<std::string>> MemorySyncStateStore::DavNameOf(std::string_view user_id,
                                                                   std::string_view activity_id) {
  Lock l(mu_);
  return KeyOfValue(dav_name_, user_id, activity_id);
}

}  // namespace tandem::sync
