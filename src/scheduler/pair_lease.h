// PairLease: "never two runs of the same pair at once", also across several
// tandemd processes on one database (SPEC S7, issue: scheduling). A lease row per
// pair names its holder and an expiry. Leases are short (a minute) and renewed
// while a run lasts, so a process that dies leaves a lease that soon expires.
//
// A holder is "<node>/<pid>/<random>". A process finds a lease held by a process
// of ITS OWN node whose pid is gone (killed, crashed) and takes it over at once,
// instead of waiting for the expiry: a restarted tandemd runs its pairs at once.
// Holders on other nodes are only ever taken over after expiry.
//
// Thread-safe: every call uses its own statement on the connection the caller
// passes, under that caller's serialization (one connection per thread).
#pragma once

#include <functional>
#include <string>

#include "core/status.h"
#include "core/time.h"
#include "store/sqlite/database.h"

namespace tandem::scheduler {

// What Acquire found: the lease is ours now, or who holds it.
struct LeaseState {
  bool acquired = false;
  std::string holder;  // the current holder (ours when acquired)
  Instant since{};     // when that holder took it
  Instant expires{};
  bool took_over_dead = false;  // acquired from a dead process of this node
  // "node web-1 (process 4711) since 2026-12-05 16:04:05 UTC", for messages.
  std::string Describe() const;
};

class PairLeases {
 public:
  // Creates or upgrades the lease table (component "scheduler").
  static Status Migrate(store::sqlite::Database& db);

  // A holder id for this process: "<node>/<pid>/<8 random hex>".
  static std::string MakeHolder(const std::string& node, int pid, const std::string& random_hex);
  // Whether a process with this pid runs on this machine (kill(pid, 0)).
  static bool ProcessAlive(int pid);

  // `holder` as made by MakeHolder (any other text is a holder that is never
  // recognized as dead). `alive` answers for pids of this node (tests fake it).
  PairLeases(store::sqlite::Database& db, std::string holder,
             std::function<bool(int pid)> alive = &PairLeases::ProcessAlive);

  // Takes the lease until now + ttl: fresh, from an expired holder, from a dead
  // process of this node, or renewed when already ours. Otherwise tells who has it.
  Result<LeaseState> Acquire(const std::string& pair_id, Instant now, Duration ttl);
  // Extends a lease this holder has; false when it was lost (expired and taken).
  Result<bool> Renew(const std::string& pair_id, Instant now, Duration ttl);
  // Extends every lease this holder has (one statement); returns how many.
  Result<int64_t> RenewAll(Instant now, Duration ttl);
  // Gives the lease up (no-op when not held).
  Status Release(const std::string& pair_id);

  const std::string& holder() const { return holder_; }

 private:
  Result<LeaseState> Current(const std::string& pair_id);
  bool DeadOnThisNode(const std::string& other) const;

  store::sqlite::Database& db_;
  std::string holder_;
  std::string node_;  // holder_ up to the first '/'
  std::function<bool(int)> alive_;
};

}  // namespace tandem::scheduler
