// RecordingStore: the Store the local API serves, over the replica's local store.
// Every CRM record write through it is also queued in the outbox, so the API
// handlers work unchanged and every local write reaches the server (C2).
//
// The mutation is queued first and removed again if the local write fails: a
// crash in between leaves a queued write whose local copy is missing, which the
// push makes true on the server and the pull brings back; never a local write
// the server would not learn of. Updates queue only the fields that changed,
// so the server merges them onto its version (and excluded large fields are
// never blanked there). Reads, users and sessions pass through.
//
// Thread safety: as the inner Store; writes hold the replicator's apply mutex.
#pragma once

#include <functional>
#include <mutex>

#include "core/ids.h"
#include "replica/replica_state.h"
#include "store/store.h"

namespace tandem::replica {

struct RecordingStoreOptions {
  store::Store* inner = nullptr;     // REQUIRED
  ReplicaState* state = nullptr;     // REQUIRED
  IdGenerator* ids = nullptr;        // REQUIRED (record ids for creates, mutation ids)
  std::mutex* apply_mutex = nullptr; // REQUIRED (Replicator::apply_mutex())
  std::function<void()> on_write;    // after each queued write (wakes the pusher)
};

class RecordingStore final : public store::Store {
 public:
  explicit RecordingStore(RecordingStoreOptions options) : o_(std::move(options)) {}

  std::string Epoch() const override { return o_.inner->Epoch(); }
  int SchemaVersion() const override { return o_.inner->SchemaVersion(); }

  Result<model::User> CreateUser(model::User u) override { return o_.inner->CreateUser(std::move(u)); }
  Result<model::User> GetUser(std::string_view id) override { return o_.inner->GetUser(id); }
  Result<model::User> GetUserByLogin(std::string_view login) override {
    return o_.inner->GetUserByLogin(login);
  }
  Result<std::vector<model::User>> ListUsers() override { return o_.inner->ListUsers(); }
  Result<model::User> UpdateUser(model::User u, std::optional<int64_t> v) override {
    return o_.inner->UpdateUser(std::move(u), v);
  }
  Status DeleteUser(std::string_view id) override { return o_.inner->DeleteUser(id); }
  Result<int64_t> CountUsers() override { return o_.inner->CountUsers(); }

  Status CreateSession(const store::Session& s) override { return o_.inner->CreateSession(s); }
  Result<store::Session> GetSession(std::string_view h) override { return o_.inner->GetSession(h); }
  Status DeleteSession(std::string_view h) override { return o_.inner->DeleteSession(h); }
  Status CreateAppPassword(const store::AppPassword& p) override { return o_.inner->CreateAppPassword(p); }
  Result<std::vector<store::AppPassword>> ListAppPasswords(std::string_view user_id) override {
    return o_.inner->ListAppPasswords(user_id);
  }
  Status DeleteAppPassword(std::string_view user_id, std::string_view name) override {
    return o_.inner->DeleteAppPassword(user_id, name);
  }
  Result<int> DeleteExpiredSessions(Instant now) override {
    return o_.inner->DeleteExpiredSessions(now);
  }

  Result<model::Account> Create(model::Account r) override;
  Result<model::Contact> Create(model::Contact r) override;
  Result<model::Opportunity> Create(model::Opportunity r) override;
  Result<model::Activity> Create(model::Activity r) override;
  Result<model::Account> Update(model::Account r, std::optional<int64_t> expected) override;
  Result<model::Contact> Update(model::Contact r, std::optional<int64_t> expected) override;
  Result<model::Opportunity> Update(model::Opportunity r, std::optional<int64_t> expected) override;
  Result<model::Activity> Update(model::Activity r, std::optional<int64_t> expected) override;
  Status Delete(model::EntityType entity, std::string_view id, std::optional<int64_t> expected,
                std::string_view origin = {}) override;

  Result<model::Account> GetAccount(std::string_view id) override { return o_.inner->GetAccount(id); }
  Result<model::Contact> GetContact(std::string_view id) override { return o_.inner->GetContact(id); }
  Result<model::Opportunity> GetOpportunity(std::string_view id) override {
    return o_.inner->GetOpportunity(id);
  }
  Result<model::Activity> GetActivity(std::string_view id) override {
    return o_.inner->GetActivity(id);
  }
  Result<std::vector<model::Activity>> GetActivities(const std::vector<std::string>& ids) override {
    return o_.inner->GetActivities(ids);
  }
  Result<store::Page<model::Account>> ListAccounts(const store::ListOptions& o) override {
    return o_.inner->ListAccounts(o);
  }
  Result<store::Page<model::Contact>> ListContacts(const store::ListOptions& o) override {
    return o_.inner->ListContacts(o);
  }
  Result<store::Page<model::Opportunity>> ListOpportunities(const store::ListOptions& o) override {
    return o_.inner->ListOpportunities(o);
  }
  Result<store::Page<model::Activity>> ListActivities(const store::ListOptions& o) override {
    return o_.inner->ListActivities(o);
  }
  Result<store::ChangeBatch> ChangesSince(int64_t after, int limit,
                                          const store::ChangeFilter& f) override {
    return o_.inner->ChangesSince(after, limit, f);
  }
  Result<int64_t> LatestSeq() override { return o_.inner->LatestSeq(); }
  Result<int> PruneTombstones(Instant older_than) override {
    return o_.inner->PruneTombstones(older_than);
  }

 private:
  template <typename T>
  Result<T> CreateRecorded(T r);
  template <typename T>
  Result<T> UpdateRecorded(T r, std::optional<int64_t> expected);

  RecordingStoreOptions o_;
};

}  // namespace tandem::replica
