#include "scheduler/pair_lease.h"

#include <signal.h>

#include <cerrno>
#include <charconv>
#include <vector>

namespace tandem::scheduler {

using store::sqlite::Migration;

namespace {

struct HolderParts {
  std::string node;
  int pid = 0;
};

// "<node>/<pid>/<random>" -> node and pid; pid 0 when the text has another form.
HolderParts Split(const std::string& holder) {
  HolderParts p;
  size_t a = holder.find('/');
  if (a == std::string::npos) return p;
  size_t b = holder.find('/', a + 1);
  if (b == std::string::npos) return p;
  int pid = 0;
  auto [end, ec] = std::from_chars(holder.data() + a + 1, holder.data() + b, pid);
  if (ec != std::errc() || end != holder.data() + b || pid <= 0) return p;
  p.node = holder.substr(0, a);
  p.pid = pid;
  return p;
}

}  // namespace

std::string LeaseState::Describe() const {
  HolderParts p = Split(holder);
  std::string who = p.pid > 0 ? "node " + p.node + " (process " + std::to_string(p.pid) + ")"
                              : "holder " + holder;
  return who + " since " + FormatRfc3339(since);
}

Status PairLeases::Migrate(store::sqlite::Database& db) {
  static const std::vector<Migration> kMigrations = {
      {1, "sync_leases",
       "CREATE TABLE sync_leases ("
       "  pair_id TEXT PRIMARY KEY,"
       "  holder TEXT NOT NULL,"
       "  expires_us INTEGER NOT NULL)"},
      {2, "sync_leases_since",
       "ALTER TABLE sync_leases ADD COLUMN since_us INTEGER NOT NULL DEFAULT 0"},
  };
  return store::sqlite::ApplyMigrations(db, "scheduler", kMigrations);
}

std::string PairLeases::MakeHolder(const std::string& node, int pid, const std::string& random_hex) {
  std::string clean;
  for (char c : node) clean += c == '/' ? '_' : c;
  return clean + "/" + std::to_string(pid) + "/" + random_hex;
}

bool PairLeases::ProcessAlive(int pid) {
  if (pid <= 0) return true;  // unknown: never treated as dead
  return kill(pid, 0) == 0 || errno == EPERM;
}

PairLeases::PairLeases(store::sqlite::Database& db, std::string holder,
                       std::function<bool(int pid)> alive)
    : db_(db), holder_(std::move(holder)), alive_(std::move(alive)) {
  node_ = Split(holder_).node;
}

bool PairLeases::DeadOnThisNode(const std::string& other) const {
  if (node_.empty() || other == holder_) return false;
  HolderParts p = Split(other);
  return p.pid > 0 && p.node == node_ && !alive_(p.pid);
}

Result<LeaseState> PairLeases::Current(const std::string& pair_id) {
  TANDEM_ASSIGN_OR_RETURN(auto st, db_.PrepareCached(
      "SELECT holder, since_us, expires_us FROM sync_leases WHERE pair_id = ?1"));
  st.BindText(1, pair_id);
  LeaseState s;
  TANDEM_ASSIGN_OR_RETURN(bool row, st.Step());
  if (row) {
    s.holder = st.Text(0);
    s.since = FromUnixMicros(st.Int64(1));
    s.expires = FromUnixMicros(st.Int64(2));
  }
  return s;
}

Result<LeaseState> PairLeases::Acquire(const std::string& pair_id, Instant now, Duration ttl) {
  // One statement decides atomically: insert, or take over only when the current
  // lease expired or is already ours. SQLite serializes writers, so two processes
  // can never both see "changed 1 row" for a live lease. A renewal keeps since_us.
  TANDEM_ASSIGN_OR_RETURN(auto st, db_.PrepareCached(
      "INSERT INTO sync_leases(pair_id, holder, expires_us, since_us) VALUES(?1, ?2, ?3, ?4) "
      "ON CONFLICT(pair_id) DO UPDATE SET holder = excluded.holder, "
      "expires_us = excluded.expires_us, "
      "since_us = CASE WHEN sync_leases.holder = excluded.holder THEN sync_leases.since_us "
      "           ELSE excluded.since_us END "
      "WHERE sync_leases.expires_us <= ?4 OR sync_leases.holder = excluded.holder"));
  st.BindText(1, pair_id).BindText(2, holder_).BindInt64(3, ToUnixMicros(now + ttl))
      .BindInt64(4, ToUnixMicros(now));
  TANDEM_RETURN_IF_ERROR(st.Run());
  bool got = db_.ChangedRows() == 1;
  TANDEM_ASSIGN_OR_RETURN(LeaseState s, Current(pair_id));
  if (got) {
    s.acquired = true;
    return s;
  }
  if (!DeadOnThisNode(s.holder)) return s;
  // The holder was a process of this node that is gone: take over, but only
  // from exactly that holder (another live process may be doing the same).
  TANDEM_ASSIGN_OR_RETURN(auto take, db_.PrepareCached(
      "UPDATE sync_leases SET holder = ?2, expires_us = ?3, since_us = ?4 "
      "WHERE pair_id = ?1 AND holder = ?5"));
  take.BindText(1, pair_id).BindText(2, holder_).BindInt64(3, ToUnixMicros(now + ttl))
      .BindInt64(4, ToUnixMicros(now)).BindText(5, s.holder);
  TANDEM_RETURN_IF_ERROR(take.Run());
  bool taken = db_.ChangedRows() == 1;
  TANDEM_ASSIGN_OR_RETURN(s, Current(pair_id));
  s.acquired = taken;
  s.took_over_dead = taken;
  if (taken) s.holder = holder_;
  return s;
}

Result<bool> PairLeases::Renew(const std::string& pair_id, Instant now, Duration ttl) {
  TANDEM_ASSIGN_OR_RETURN(auto st, db_.PrepareCached(
      "UPDATE sync_leases SET expires_us = ?3 WHERE pair_id = ?1 AND holder = ?2"));
  st.BindText(1, pair_id).BindText(2, holder_).BindInt64(3, ToUnixMicros(now + ttl));
  TANDEM_RETURN_IF_ERROR(st.Run());
  return db_.ChangedRows() == 1;
}

Result<int64_t> PairLeases::RenewAll(Instant now, Duration ttl) {
  TANDEM_ASSIGN_OR_RETURN(auto st, db_.PrepareCached(
      "UPDATE sync_leases SET expires_us = ?2 WHERE holder = ?1"));
  st.BindText(1, holder_).BindInt64(2, ToUnixMicros(now + ttl));
  TANDEM_RETURN_IF_ERROR(st.Run());
  return db_.ChangedRows();
}

Status PairLeases::Release(const std::string& pair_id) {
  TANDEM_ASSIGN_OR_RETURN(
      auto st, db_.PrepareCached("DELETE FROM sync_leases WHERE pair_id = ?1 AND holder = ?2"));
  st.BindText(1, pair_id).BindText(2, holder_);
  return st.Run();
}

}  // namespace tandem::scheduler
