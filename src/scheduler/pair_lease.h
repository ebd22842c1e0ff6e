// PairLease: "never two runs of the same pair at once", also across several
// tandemd processes on one database (SPEC S7, issue: scheduling). A lease row per
// pair names its holder (one random id per process) and an expiry; a process
// that dies leaves a lease that simply expires, and another process takes over.
//
// Thread-safe: every call uses its own statement on the connection the caller
// passes, under that caller's serialization (one connection per thread).
#pragma once

#include <string>

#include "core/status.h"
#include "core/time.h"
#include "store/sqlite/database.h"

namespace tandem::scheduler {

class PairLeases {
 public:
  // Creates the lease table (component "scheduler") when missing.
  static Status Migrate(store::sqlite::Database& db);

  // `holder` identifies this process (e.g. a random id made at start).
  PairLeases(store::sqlite::Database& db, std::string holder) : db_(db), holder_(std::move(holder)) {}

  // true: this holder now has the lease until now + ttl (taken fresh, taken over
  // from an expired holder, or renewed). false: another holder's lease is live.
  Result<bool> Acquire(const std::string& pair_id, Instant now, Duration ttl);
  // Extends a lease this holder has; false when it was lost (expired and taken).
  Result<bool> Renew(const std::string& pair_id, Instant now, Duration ttl);
  // Gives the lease up (no-op when not held).
  Status Release(const std::string& pair_id);

  const std::string& holder() const { return holder_; }

 private:
  store::sqlite::Database& db_;
  std::string holder_;
};

}  // namespace tandem::scheduler
