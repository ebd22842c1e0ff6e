// The SyncStateStore contract (src/store/sync_state_contract.h) on SQLite, plus
// the SQLite-specific checks: the tables live beside the CRM's, migrations are
// idempotent, the state survives reopening the file.
#include "store/sqlite/sync_state_sqlite.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/random.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sync_state_contract.h"

namespace tandem::store::sqlite {
namespace {

// Keeps the CRM store (whose pool the sync state uses) alive with the state.
class Holder final : public SyncStateStore {
 public:
  static std::unique_ptr<SyncStateStore> Open(const Clock& clock) {
    auto h = std::make_unique<Holder>();
    h->random_ = std::make_unique<SeededRandom>(7);
    h->ids_ = std::make_unique<IdGenerator>(clock, *h->random_);
    auto crm = SqliteStore::Open({.path = ":memory:", .clock = &clock, .ids = h->ids_.get()});
    EXPECT_TRUE(crm.ok()) << crm.status().ToString();
    h->crm_ = std::move(*crm);
    auto state =
        OpenSqliteSyncState({.pool = &h->crm_->pool(), .clock = &clock, .ids = h->ids_.get()});
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    h->s_ = std::move(*state);
    return h;
  }
  Result<SyncPair> CreatePair(SyncPair p) override { return s_->CreatePair(std::move(p)); }
  Result<SyncPair> GetPair(std::string_view id) override { return s_->GetPair(id); }
  Result<std::vector<SyncPair>> ListPairs(std::string_view u) override { return s_->ListPairs(u); }
  Status UpdatePair(const SyncPair& p) override { return s_->UpdatePair(p); }
  Status SetCredential(std::string_view p, std::string_view c) override {
    return s_->SetCredential(p, c);
  }
  Status DeletePair(std::string_view id) override { return s_->DeletePair(id); }
  Result<std::optional<ItemStatus>> StatusByUid(std::string_view p, std::string_view u) override {
    return s_->StatusByUid(p, u);
  }
  Result<std::optional<ItemStatus>> StatusByCrmId(std::string_view p, std::string_view c) override {
    return s_->StatusByCrmId(p, c);
  }
  Result<std::optional<ItemStatus>> StatusByExternalHref(std::string_view p,
                                                         std::string_view h) override {
    return s_->StatusByExternalHref(p, h);
  }
  Result<std::vector<ItemStatus>> ListStatus(std::string_view p) override {
    return s_->ListStatus(p);
  }
  Result<int64_t> CountStatus(std::string_view p) override { return s_->CountStatus(p); }
  Status PutStatus(const ItemStatus& r) override { return s_->PutStatus(r); }
  Status DeleteStatus(std::string_view p, std::string_view u) override {
    return s_->DeleteStatus(p, u);
  }
  Status ClearStatus(std::string_view p) override { return s_->ClearStatus(p); }
  Status PutIntent(const CreationIntent& i) override { return s_->PutIntent(i); }
  Result<std::optional<CreationIntent>> GetIntent(std::string_view p, std::string_view u) override {
    return s_->GetIntent(p, u);
  }
  Status DeleteIntent(std::string_view p, std::string_view u) override {
    return s_->DeleteIntent(p, u);
  }
  Status AddPending(const PendingItem& i) override { return s_->AddPending(i); }
  Result<std::vector<PendingItem>> ListPending(std::string_view p) override {
    return s_->ListPending(p);
  }
  Status RemovePending(std::string_view p, std::string_view s, std::string_view h) override {
    return s_->RemovePending(p, s, h);
  }
  Status ClearPending(std::string_view p) override { return s_->ClearPending(p); }
  Result<int64_t> BeginRun(const SyncRun& r) override { return s_->BeginRun(r); }
  Status FinishRun(int64_t id, Instant f, std::string_view o) override {
    return s_->FinishRun(id, f, o);
  }
  Status AppendLog(const SyncLogEntry& e) override { return s_->AppendLog(e); }
  Result<std::vector<SyncLogEntry>> ListLog(std::string_view p, int l) override {
    return s_->ListLog(p, l);
  }
  Result<std::vector<SyncRun>> ListRuns(std::string_view p, int l) override {
    return s_->ListRuns(p, l);
  }
  Result<int64_t> PutTrash(const TrashEntry& t) override { return s_->PutTrash(t); }
  Result<std::vector<TrashEntry>> ListTrash(std::string_view u, bool r) override {
    return s_->ListTrash(u, r);
  }
  Result<TrashEntry> GetTrash(int64_t id) override { return s_->GetTrash(id); }
  Status MarkRestored(int64_t id, Instant at) override { return s_->MarkRestored(id, at); }
  Status DeleteTrash(int64_t id) override { return s_->DeleteTrash(id); }
  Status PutCrmUid(std::string_view u, std::string_view uid, std::string_view a) override {
    return s_->PutCrmUid(u, uid, a);
  }
  Result<std::optional<std::string>> CrmIdForUid(std::string_view u,
                                                 std::string_view uid) override {
    return s_->CrmIdForUid(u, uid);
  }
  Result<std::optional<std::string>> UidForCrmId(std::string_view u, std::string_view a) override {
    return s_->UidForCrmId(u, a);
  }
  Status PutDavName(std::string_view u, std::string_view n, std::string_view a) override {
    return s_->PutDavName(u, n, a);
  }
  Result<std::optional<std::string>> ActivityForDavName(std::string_view u,
                                                        std::string_view n) override {
    return s_->ActivityForDavName(u, n);
  }
  Result<std::optional<std::string>> DavNameOf(std::string_view u, std::string_view a) override {
    return s_->DavNameOf(u, a);
  }

 private:
  std::unique_ptr<SeededRandom> random_;
  std::unique_ptr<IdGenerator> ids_;
  std::unique_ptr<SqliteStore> crm_;
  std::unique_ptr<SyncStateStore> s_;
};

using tandem::sync::contract::SyncStateContract;
INSTANTIATE_TEST_SUITE_P(Sqlite, SyncStateContract,
                         testing::Values(tandem::sync::contract::StateFactory(&Holder::Open)));

TEST(SqliteSyncState, SurvivesReopenAndMigratesOnce) {
  std::string pattern = (std::filesystem::temp_directory_path() / "tandem-sync-XXXXXX").string();
  std::filesystem::path dir = mkdtemp(pattern.data());
  FakeClock clock(FromUnixSeconds(1'790'000'000));
  SeededRandom random(1);
  IdGenerator ids(clock, random);
  std::string pair_id;
  for (int round = 0; round < 2; ++round) {
    auto crm = SqliteStore::Open({.path = (dir / "t.db").string(), .clock = &clock, .ids = &ids});
    ASSERT_TRUE(crm.ok()) << crm.status().ToString();
    auto state = OpenSqliteSyncState({.pool = &(*crm)->pool(), .clock = &clock, .ids = &ids});
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    if (round == 0) {
      SyncPair p;
      p.user_id = "u";
      p.provider = "vdir";
      p.calendar = "/x";
      pair_id = (*state)->CreatePair(p)->id;
      ASSERT_TRUE((*state)->PutStatus({pair_id, "uid", "c", "e", "h", "x.ics", "e", "h"}).ok());
    } else {
      EXPECT_EQ((*state)->GetPair(pair_id)->calendar, "/x");
      EXPECT_EQ(*(*state)->CountStatus(pair_id), 1);
      auto w = (*crm)->pool().Write();
      EXPECT_EQ(*AppliedSchemaVersion(*w, "sync"), 2);  // the tables, the CalDAV names
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tandem::store::sqlite
