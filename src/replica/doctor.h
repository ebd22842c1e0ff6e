// Doctor (C9, C10): finds the common problems of a replica and says how to fix
// them; with `fix` it repairs what it safely can.
//
// Checks: server reachable; client and server versions (C9); credentials; local
// database integrity (PRAGMA integrity_check) and schema version; clock skew
// against the server's Date header; stuck outbox (pending mutations tried many
// times or waiting too long); failed mutations and open conflicts (per record).
// Fixes (fix = true): failed mutations are queued again (after the user
// corrected the cause on the server, e.g. a permission); a database whose
// integrity check fails is not touched (the fix text says how to refill it).
//
// Thread safety: as its collaborators (all safe for concurrent use).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/clock.h"
#include "replica/replica_state.h"
#include "replica/replication_server.h"
#include "store/sqlite/database_pool.h"

namespace tandem::replica {

struct DoctorCheck {
  std::string name;    // "reachability", "version", "credentials", "database", ...
  bool ok = false;
  std::string detail;  // what was found
  std::string fix;     // what to do when not ok
  bool fixable = false;  // RunDoctor with fix repairs it
  std::string fixed;   // what the fix did (the check then passes)
};

struct DoctorOptions {
  ReplicationServer* server = nullptr;           // REQUIRED
  ReplicaState* state = nullptr;                 // REQUIRED
  store::sqlite::DatabasePool* pool = nullptr;   // REQUIRED: the local database
  const Clock* clock = nullptr;                  // REQUIRED
  std::string data_dir;                          // checked for modes wider than 0700/0600
  std::string client_version = TANDEM_VERSION;
  Duration max_clock_skew = std::chrono::minutes(2);
  int stuck_attempts = 5;
  Duration stuck_age = std::chrono::hours(1);
  bool fix = false;
};

std::vector<DoctorCheck> RunDoctor(const DoctorOptions& options);
nlohmann::json ToJson(const std::vector<DoctorCheck>& checks);

}  // namespace tandem::replica
