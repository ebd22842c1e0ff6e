#include "store/sqlite/sync_state_sqlite.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace tandem::store::sqlite {
namespace {

constexpr std::string_view kComponent = "sync";

const std::vector<Migration>& SyncMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "sync state tables", R"sql(
CREATE TABLE sync_pairs (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  provider TEXT NOT NULL,
  calendar TEXT NOT NULL,
  credential_ref TEXT NOT NULL DEFAULT '',
  options TEXT NOT NULL,
  identity TEXT NOT NULL DEFAULT '',
  crm_cursor TEXT NOT NULL DEFAULT '',
  external_cursor TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  initialized INTEGER,
  last_run INTEGER
);
CREATE INDEX sync_pairs_user ON sync_pairs(user_id);
CREATE TABLE sync_status (
  pair_id TEXT NOT NULL REFERENCES sync_pairs(id) ON DELETE CASCADE,
  uid TEXT NOT NULL,
  crm_id TEXT NOT NULL,
  crm_etag TEXT NOT NULL,
  crm_hash TEXT NOT NULL,
  external_href TEXT NOT NULL,
  external_etag TEXT NOT NULL,
  external_hash TEXT NOT NULL,
  PRIMARY KEY (pair_id, uid)
) WITHOUT ROWID;
CREATE INDEX sync_status_crm ON sync_status(pair_id, crm_id);
CREATE INDEX sync_status_external ON sync_status(pair_id, external_href);
CREATE TABLE sync_intents (
  pair_id TEXT NOT NULL REFERENCES sync_pairs(id) ON DELETE CASCADE,
  uid TEXT NOT NULL,
  target TEXT NOT NULL,
  source_href TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (pair_id, uid)
) WITHOUT ROWID;
CREATE TABLE sync_pending (
  pair_id TEXT NOT NULL REFERENCES sync_pairs(id) ON DELETE CASCADE,
  side TEXT NOT NULL,
  href TEXT NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (pair_id, side, href)
) WITHOUT ROWID;
CREATE TABLE sync_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  pair_id TEXT NOT NULL REFERENCES sync_pairs(id) ON DELETE CASCADE,
  started INTEGER NOT NULL,
  finished INTEGER,
  dry_run INTEGER NOT NULL,
  outcome TEXT NOT NULL
);
CREATE INDEX sync_runs_pair ON sync_runs(pair_id, id);
CREATE TABLE sync_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL,
  pair_id TEXT NOT NULL REFERENCES sync_pairs(id) ON DELETE CASCADE,
  at INTEGER NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  uid TEXT NOT NULL,
  crm_id TEXT NOT NULL,
  external_href TEXT NOT NULL,
  before TEXT NOT NULL,
  after TEXT NOT NULL,
  reason TEXT NOT NULL,
  error TEXT NOT NULL
);
CREATE INDEX sync_log_pair ON sync_log(pair_id, id);
CREATE TABLE sync_trash (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  pair_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  activity_id TEXT NOT NULL,
  uid TEXT NOT NULL,
  subject TEXT NOT NULL,
  start INTEGER NOT NULL,
  ical TEXT NOT NULL,
  deleted_at INTEGER NOT NULL,
  restored_at INTEGER
);
CREATE INDEX sync_trash_user ON sync_trash(user_id, id);
CREATE TABLE sync_crm_uids (
  user_id TEXT NOT NULL,
  uid TEXT NOT NULL,
  activity_id TEXT NOT NULL,
  PRIMARY KEY (user_id, uid)
) WITHOUT ROWID;
CREATE INDEX sync_crm_uids_activity ON sync_crm_uids(user_id, activity_id);
)sql"},
      {2, "CalDAV resource names", R"sql(
CREATE TABLE dav_names (
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  activity_id TEXT NOT NULL,
  PRIMARY KEY (user_id, name)
) WITHOUT ROWID;
CREATE UNIQUE INDEX dav_names_activity ON dav_names(user_id, activity_id);
)sql"},
  };
  return kMigrations;
}

std::string OptionsToJson(const PairOptions& o) {
  nlohmann::json j = {
      {"window_days_back", o.window_days_back},
      {"window_days_ahead", o.window_days_ahead},
      {"skip_private", o.skip_private},
      {"reminders", std::string(ReminderHandlingName(o.reminders))},
      {"multi_day", std::string(MultiDayHandlingName(o.multi_day))},
      {"conflict", std::string(ConflictPolicyName(o.conflict))},
      {"deletion_limit", o.deletion_limit},
  };
  return j.dump();
}

Result<PairOptions> OptionsFromJson(std::string_view text) {
  PairOptions o;
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    o.window_days_back = j.value("window_days_back", o.window_days_back);
    o.window_days_ahead = j.value("window_days_ahead", o.window_days_ahead);
    o.skip_private = j.value("skip_private", o.skip_private);
    o.deletion_limit = j.value("deletion_limit", o.deletion_limit);
    TANDEM_ASSIGN_OR_RETURN(o.reminders,
                            ParseReminderHandling(j.value("reminders", std::string("sync"))));
    TANDEM_ASSIGN_OR_RETURN(o.multi_day,
                            ParseMultiDayHandling(j.value("multi_day", std::string("keep"))));
    TANDEM_ASSIGN_OR_RETURN(o.conflict,
                            ParseConflictPolicy(j.value("conflict", std::string("later-wins"))));
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(fmt::format("stored sync options: {}", e.what()));
  }
  return o;
}

std::optional<Instant> OptInstant(const Statement& s, int col) {
  auto v = s.OptionalInt64(col);
  if (!v) return std::nullopt;
  return FromUnixMicros(*v);
}

std::optional<int64_t> OptMicros(const std::optional<Instant>& t) {
  if (!t) return std::nullopt;
  return ToUnixMicros(*t);
}

constexpr std::string_view kPairColumns =
    "id, user_id, provider, calendar, credential_ref, options, identity, crm_cursor, "
    "external_cursor, created, initialized, last_run";

Result<SyncPair> PairFromRow(const Statement& s) {
  SyncPair p;
  p.id = s.Text(0);
  p.user_id = s.Text(1);
  p.provider = s.Text(2);
  p.calendar = s.Text(3);
  p.credential_ref = s.Text(4);
  TANDEM_ASSIGN_OR_RETURN(p.options, OptionsFromJson(s.TextView(5)));
  p.identity = s.Text(6);
  p.crm_cursor = s.Text(7);
  p.external_cursor = s.Text(8);
  p.created = FromUnixMicros(s.Int64(9));
  p.initialized = OptInstant(s, 10);
  p.last_run = OptInstant(s, 11);
  return p;
}

constexpr std::string_view kStatusColumns =
    "pair_id, uid, crm_id, crm_etag, crm_hash, external_href, external_etag, external_hash";

ItemStatus StatusFromRow(const Statement& s) {
  return ItemStatus{s.Text(0), s.Text(1), s.Text(2), s.Text(3),
                    s.Text(4), s.Text(5), s.Text(6), s.Text(7)};
}

constexpr std::string_view kTrashColumns =
    "id, pair_id, user_id, activity_id, uid, subject, start, ical, deleted_at, restored_at";

TrashEntry TrashFromRow(const Statement& s) {
  TrashEntry t;
  t.id = s.Int64(0);
  t.pair_id = s.Text(1);
  t.user_id = s.Text(2);
  t.activity_id = s.Text(3);
  t.uid = s.Text(4);
  t.subject = s.Text(5);
  t.start = FromUnixMicros(s.Int64(6));
  t.ical = s.Text(7);
  t.deleted_at = FromUnixMicros(s.Int64(8));
  t.restored_at = OptInstant(s, 9);
  return t;
}

class SqliteWriteBatch final : public SyncStateStore::WriteBatch {
 public:
  explicit SqliteWriteBatch(DatabasePool::Batch batch) : batch_(std::move(batch)) {}
  Status Commit() override { return batch_.Commit(); }

 private:
  DatabasePool::Batch batch_;
};

class SqliteSyncState final : public SyncStateStore {
 public:
  explicit SqliteSyncState(const SyncStateOptions& o) : o_(o) {}

  Result<std::unique_ptr<WriteBatch>> BeginBatch() override {
    TANDEM_ASSIGN_OR_RETURN(DatabasePool::Batch batch, o_.pool->BeginBatch());
    return std::unique_ptr<WriteBatch>(std::make_unique<SqliteWriteBatch>(std::move(batch)));
  }

  // --- pairs
  Result<SyncPair> CreatePair(SyncPair pair) override {
    if (pair.id.empty()) pair.id = o_.ids->NewId();
    pair.created = o_.clock->Now();
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        w->PrepareCached(fmt::format("INSERT INTO sync_pairs({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                                     "?7, ?8, ?9, ?10, ?11, ?12)",
                                     kPairColumns)));
    BindPair(s, pair);
    TANDEM_RETURN_IF_ERROR(s.Run());
    return pair;
  }

  Result<SyncPair> GetPair(std::string_view id) override {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        r->PrepareCached(fmt::format("SELECT {} FROM sync_pairs WHERE id = ?1", kPairColumns)));
    s.BindText(1, id);
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Status::NotFound(fmt::format("sync pair {} does not exist", id));
    return PairFromRow(s);
  }

  Result<std::vector<SyncPair>> ListPairs(std::string_view user_id) override {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        r->PrepareCached(fmt::format(
            "SELECT {} FROM sync_pairs WHERE ?1 = '' OR user_id = ?1 ORDER BY created, id",
            kPairColumns)));
    s.BindText(1, user_id);
    std::vector<SyncPair> out;
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      TANDEM_ASSIGN_OR_RETURN(SyncPair p, PairFromRow(s));
      out.push_back(std::move(p));
    }
    return out;
  }

  Status UpdatePair(const SyncPair& pair) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        w->PrepareCached(
            "UPDATE sync_pairs SET user_id = ?2, provider = ?3, calendar = ?4, "
            "options = ?6, identity = ?7, crm_cursor = ?8, external_cursor = ?9, created = ?10, "
            "initialized = ?11, last_run = ?12 WHERE id = ?1"));
    BindPair(s, pair);
    TANDEM_RETURN_IF_ERROR(s.Run());
    if (w->ChangedRows() == 0)
      return Status::NotFound(fmt::format("sync pair {} does not exist", pair.id));
    return Status::Ok();
  }

  Status SetCredential(std::string_view pair_id, std::string_view credential_ref) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s, w->PrepareCached("UPDATE sync_pairs SET credential_ref = ?2 WHERE id = ?1"));
    s.BindText(1, pair_id).BindText(2, credential_ref);
    TANDEM_RETURN_IF_ERROR(s.Run());
    if (w->ChangedRows() == 0)
      return Status::NotFound(fmt::format("sync pair {} does not exist", pair_id));
    return Status::Ok();
  }

  Status DeletePair(std::string_view id) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached("DELETE FROM sync_pairs WHERE id = ?1"));
    s.BindText(1, id);
    TANDEM_RETURN_IF_ERROR(s.Run());
    if (w->ChangedRows() == 0)
      return Status::NotFound(fmt::format("sync pair {} does not exist", id));
    return Status::Ok();
  }

  // --- status
  Result<std::optional<ItemStatus>> StatusByUid(std::string_view pair_id,
                                                std::string_view uid) override {
    return OneStatus("uid", "", pair_id, uid);
  }
  Result<std::optional<ItemStatus>> StatusByCrmId(std::string_view pair_id,
                                                  std::string_view crm_id) override {
    return OneStatus("crm_id", "INDEXED BY sync_status_crm", pair_id, crm_id);
  }
  Result<std::optional<ItemStatus>> StatusByExternalHref(std::string_view pair_id,
                                                         std::string_view href) override {
    return OneStatus("external_href", "INDEXED BY sync_status_external", pair_id, href);
  }

  Result<std::vector<ItemStatus>> ListStatus(std::string_view pair_id) override {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        r->PrepareCached(fmt::format("SELECT {} FROM sync_status WHERE pair_id = ?1 ORDER BY uid",
                                     kStatusColumns)));
    s.BindText(1, pair_id);
    std::vector<ItemStatus> out;
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(StatusFromRow(s));
    }
    return out;
  }

  Result<int64_t> CountStatus(std::string_view pair_id) override {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(
        Statement s, r->PrepareCached("SELECT count(*) FROM sync_status WHERE pair_id = ?1"));
    s.BindText(1, pair_id);
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? s.Int64(0) : 0;
  }

  Status PutStatus(const ItemStatus& row) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(Statement s,
                            w->PrepareCached(fmt::format(
                                "INSERT OR REPLACE INTO sync_status({}) VALUES (?1, ?2, ?3, ?4, "
                                "?5, ?6, ?7, ?8)",
                                kStatusColumns)));
    s.BindText(1, row.pair_id)
        .BindText(2, row.uid)
        .BindText(3, row.crm_id)
        .BindText(4, row.crm_etag)
        .BindText(5, row.crm_hash)
        .BindText(6, row.external_href)
        .BindText(7, row.external_etag)
        .BindText(8, row.external_hash);
    return s.Run();
  }

  Status DeleteStatus(std::string_view pair_id, std::string_view uid) override {
    return Exec("DELETE FROM sync_status WHERE pair_id = ?1 AND uid = ?2", pair_id, uid);
  }
  Status ClearStatus(std::string_view pair_id) override {
    return Exec("DELETE FROM sync_status WHERE pair_id = ?1", pair_id);
  }

  // --- intents
  Status PutIntent(const CreationIntent& i) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s, w->PrepareCached("INSERT OR REPLACE INTO sync_intents(pair_id, uid, target, "
                                      "source_href, at) VALUES (?1, ?2, ?3, ?4, ?5)"));
    s.BindText(1, i.pair_id).BindText(2, i.uid).BindText(3, i.target).BindText(4, i.source_href);
    s.BindInt64(5, ToUnixMicros(i.at));
    return s.Run();
  }

  Result<std::optional<CreationIntent>> GetIntent(std::string_view pair_id,
                                                  std::string_view uid) override {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        r->PrepareCached("SELECT pair_id, uid, target, source_href, at FROM sync_intents "
                         "WHERE pair_id = ?1 AND uid = ?2"));
    s.BindText(1, pair_id).BindText(2, uid);
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<CreationIntent>();
    return std::optional<CreationIntent>(
        CreationIntent{s.Text(0), s.Text(1), s.Text(2), s.Text(3), FromUnixMicros(s.Int64(4))});
  }

  Status DeleteIntent(std::string_view pair_id, std::string_view uid) override {
    return Exec("DELETE FROM sync_intents WHERE pair_id = ?1 AND uid = ?2", pair_id, uid);
  }

  // --- pending
  Status AddPending(const PendingItem& p) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        w->PrepareCached("INSERT OR REPLACE INTO sync_pending(pair_id, side, href, reason) "
                         "VALUES (?1, ?2, ?3, ?4)"));
    s.BindText(1, p.pair_id).BindText(2, p.side).BindText(3, p.href).BindText(4, p.reason);
    return s.Run();
  }

  Result<std::vector<PendingItem>> ListPending(std::string_view pair_id) override {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(
        Statement s, r->PrepareCached("SELECT pair_id, side, href, reason FROM sync_pending WHERE "
                                      "pair_id = ?1 ORDER BY side, href"));
    s.BindText(1, pair_id);
    std::vector<PendingItem> out;
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(PendingItem{s.Text(0), s.Text(1), s.Text(2), s.Text(3)});
    }
    return out;
  }

  Status RemovePending(std::string_view pair_id, std::string_view side,
                       std::string_view href) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        w->PrepareCached(
            "DELETE FROM sync_pending WHERE pair_id = ?1 AND side = ?2 AND href = ?3"));
    s.BindText(1, pair_id).BindText(2, side).BindText(3, href);
    return s.Run();
  }

  Status ClearPending(std::string_view pair_id) override {
    return Exec("DELETE FROM sync_pending WHERE pair_id = ?1", pair_id);
  }

  // --- runs and log
  Result<int64_t> BeginRun(const SyncRun& run) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        w->PrepareCached("INSERT INTO sync_runs(pair_id, started, finished, dry_run, outcome) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)"));
    s.BindText(1, run.pair_id).BindInt64(2, ToUnixMicros(run.started));
    s.BindOptionalInt64(3, OptMicros(run.finished))
        .BindBool(4, run.dry_run)
        .BindText(5, run.outcome);
    TANDEM_RETURN_IF_ERROR(s.Run());
    return w->LastInsertRowId();
  }

  Status FinishRun(int64_t run_id, Instant finished, std::string_view outcome) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        w->PrepareCached("UPDATE sync_runs SET finished = ?2, outcome = ?3 WHERE id = ?1"));
    s.BindInt64(1, run_id).BindInt64(2, ToUnixMicros(finished)).BindText(3, outcome);
    TANDEM_RETURN_IF_ERROR(s.Run());
    if (w->ChangedRows() == 0) return Status::NotFound(fmt::format("sync run {}", run_id));
    return Status::Ok();
  }

  Status AppendLog(const SyncLogEntry& e) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        w->PrepareCached(
            "INSERT INTO sync_log(run_id, pair_id, at, action, target, uid, crm_id, external_href, "
            "before, after, reason, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
            "?12)"));
    s.BindInt64(1, e.run_id)
        .BindText(2, e.pair_id)
        .BindInt64(3, ToUnixMicros(e.at))
        .BindText(4, e.action);
    s.BindText(5, e.target).BindText(6, e.uid).BindText(7, e.crm_id).BindText(8, e.external_href);
    s.BindText(9, e.before).BindText(10, e.after).BindText(11, e.reason).BindText(12, e.error);
    return s.Run();
  }

  Result<std::vector<SyncLogEntry>> ListLog(std::string_view pair_id, int limit) override {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        r->PrepareCached(
            "SELECT id, run_id, pair_id, at, action, target, uid, crm_id, external_href, before, "
            "after, reason, error FROM sync_log WHERE pair_id = ?1 ORDER BY id DESC LIMIT ?2"));
    s.BindText(1, pair_id).BindInt64(2, limit);
    std::vector<SyncLogEntry> out;
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      SyncLogEntry e;
      e.id = s.Int64(0);
      e.run_id = s.Int64(1);
      e.pair_id = s.Text(2);
      e.at = FromUnixMicros(s.Int64(3));
      e.action = s.Text(4);
      e.target = s.Text(5);
      e.uid = s.Text(6);
      e.crm_id = s.Text(7);
      e.external_href = s.Text(8);
      e.before = s.Text(9);
      e.after = s.Text(10);
      e.reason = s.Text(11);
      e.error = s.Text(12);
      out.push_back(std::move(e));
    }
    return out;
  }

  Result<std::vector<SyncRun>> ListRuns(std::string_view pair_id, int limit) override {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        r->PrepareCached("SELECT id, pair_id, started, finished, dry_run, outcome FROM "
                         "sync_runs WHERE pair_id = ?1 ORDER BY id DESC LIMIT ?2"));
    s.BindText(1, pair_id).BindInt64(2, limit);
    std::vector<SyncRun> out;
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(SyncRun{s.Int64(0), s.Text(1), FromUnixMicros(s.Int64(2)), OptInstant(s, 3),
                            s.Bool(4), s.Text(5)});
    }
    return out;
  }

  // --- trash
  Result<int64_t> PutTrash(const TrashEntry& t) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        w->PrepareCached(
            "INSERT INTO sync_trash(pair_id, user_id, activity_id, uid, subject, start, ical, "
            "deleted_at, restored_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
    s.BindText(1, t.pair_id).BindText(2, t.user_id).BindText(3, t.activity_id).BindText(4, t.uid);
    s.BindText(5, t.subject).BindInt64(6, ToUnixMicros(t.start)).BindText(7, t.ical);
    s.BindInt64(8, ToUnixMicros(t.deleted_at)).BindOptionalInt64(9, OptMicros(t.restored_at));
    TANDEM_RETURN_IF_ERROR(s.Run());
    return w->LastInsertRowId();
  }

  Result<std::vector<TrashEntry>> ListTrash(std::string_view user_id,
                                            bool include_restored) override {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        r->PrepareCached(fmt::format("SELECT {} FROM sync_trash WHERE user_id = ?1 AND (?2 OR "
                                     "restored_at IS NULL) ORDER BY id DESC",
                                     kTrashColumns)));
    s.BindText(1, user_id).BindBool(2, include_restored);
    std::vector<TrashEntry> out;
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(TrashFromRow(s));
    }
    return out;
  }

  Result<TrashEntry> GetTrash(int64_t id) override {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        r->PrepareCached(fmt::format("SELECT {} FROM sync_trash WHERE id = ?1", kTrashColumns)));
    s.BindInt64(1, id);
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Status::NotFound(fmt::format("trash entry {} does not exist", id));
    return TrashFromRow(s);
  }

  Status MarkRestored(int64_t id, Instant at) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s, w->PrepareCached("UPDATE sync_trash SET restored_at = ?2 WHERE id = ?1"));
    s.BindInt64(1, id).BindInt64(2, ToUnixMicros(at));
    TANDEM_RETURN_IF_ERROR(s.Run());
    if (w->ChangedRows() == 0)
      return Status::NotFound(fmt::format("trash entry {} does not exist", id));
    return Status::Ok();
  }

  Status DeleteTrash(int64_t id) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached("DELETE FROM sync_trash WHERE id = ?1"));
    s.BindInt64(1, id);
    return s.Run();
  }

  // --- CRM UIDs
  Status PutCrmUid(std::string_view user_id, std::string_view uid,
                   std::string_view activity_id) override {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(
        Statement s,
        w->PrepareCached("INSERT OR REPLACE INTO sync_crm_uids(user_id, uid, activity_id) "
                         "VALUES (?1, ?2, ?3)"));
    s.BindText(1, user_id).BindText(2, uid).BindText(3, activity_id);
    return s.Run();
  }

  Result<std::optional<std::string>> CrmIdForUid(std::string_view user_id,
                                                 std::string_view uid) override {
    return OneText("SELECT activity_id FROM sync_crm_uids WHERE user_id = ?1 AND uid = ?2", user_id,
                   uid);
  }

  Result<std::optional<std::string>> UidForCrmId(std::string_view user_id,
                                                 std::string_view activity_id) override {
    return OneText(
        "SELECT uid FROM sync_crm_uids WHERE user_id = ?1 AND activity_id = ?2 ORDER BY uid LIMIT "
        "1",
        user_id, activity_id);
  }

  // --- CalDAV resource names
  Status PutDavName(std::string_view user_id, std::string_view name,
                    std::string_view activity_id) override {
    auto w = o_.pool->Write();
    // One name per activity: the unique index on (user, activity) makes the
    // REPLACE drop the activity's earlier name too.
    TANDEM_ASSIGN_OR_RETURN(
        Statement s, w->PrepareCached("INSERT OR REPLACE INTO dav_names(user_id, name, activity_id) "
                                      "VALUES (?1, ?2, ?3)"));
    s.BindText(1, user_id).BindText(2, name).BindText(3, activity_id);
    return s.Run();
  }

  Result<std::optional<std::string>> ActivityForDavName(std::string_view user_id,
                                                        std::string_view name) override {
    return OneText("SELECT activity_id FROM dav_names WHERE user_id = ?1 AND name = ?2", user_id,
                   name);
  }

  Result<std::optional<std::string>> DavNameOf(std::string_view user_id,
                                               std::string_view activity_id) override {
    return OneText("SELECT name FROM dav_names WHERE user_id = ?1 AND activity_id = ?2", user_id,
                   activity_id);
  }

 private:
  static void BindPair(Statement& s, const SyncPair& p) {
    s.BindText(1, p.id)
        .BindText(2, p.user_id)
        .BindText(3, p.provider)
        .BindText(4, p.calendar)
        .BindText(5, p.credential_ref)
        .BindText(6, OptionsToJson(p.options))
        .BindText(7, p.identity)
        .BindText(8, p.crm_cursor)
        .BindText(9, p.external_cursor)
        .BindInt64(10, ToUnixMicros(p.created))
        .BindOptionalInt64(11, OptMicros(p.initialized))
        .BindOptionalInt64(12, OptMicros(p.last_run));
  }

  // Without statistics SQLite prefers the primary key's pair_id prefix (a scan
  // of the whole pair) to the secondary index: name the index.
  Result<std::optional<ItemStatus>> OneStatus(std::string_view column, std::string_view index,
                                              std::string_view pair_id, std::string_view key) {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(
        Statement s, r->PrepareCached(fmt::format(
                         "SELECT {} FROM sync_status {} WHERE pair_id = ?1 AND {} = ?2 LIMIT 1",
                         kStatusColumns, index, column)));
    s.BindText(1, pair_id).BindText(2, key);
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<ItemStatus>();
    return std::optional<ItemStatus>(StatusFromRow(s));
  }

  Result<std::optional<std::string>> OneText(std::string_view sql, std::string_view a,
                                             std::string_view b) {
    TANDEM_ASSIGN_OR_RETURN(auto r, o_.pool->Read());
    TANDEM_ASSIGN_OR_RETURN(Statement s, r->PrepareCached(sql));
    s.BindText(1, a).BindText(2, b);
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(s.Text(0));
  }

  Status Exec(std::string_view sql, std::string_view a, std::string_view b = {}) {
    auto w = o_.pool->Write();
    TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached(sql));
    s.BindText(1, a);
    if (sql.find("?2") != std::string_view::npos) s.BindText(2, b);
    return s.Run();
  }

  SyncStateOptions o_;
};

}  // namespace

Result<std::unique_ptr<SyncStateStore>> OpenSqliteSyncState(const SyncStateOptions& options) {
  if (options.pool == nullptr || options.clock == nullptr || options.ids == nullptr) {
    return Status::InvalidArgument("sync state: pool, clock and ids are required");
  }
  {
    auto w = options.pool->Write();
    TANDEM_RETURN_IF_ERROR(ApplyMigrations(*w, kComponent, SyncMigrations()));
  }
  return std::unique_ptr<SyncStateStore>(new SqliteSyncState(options));
}

}  // namespace tandem::store::sqlite
