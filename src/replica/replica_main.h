// The offline client as a program part: `tandemd --replica-of URL` (C2, C3).
//
// LocalReplica opens (or creates) the local database in `data_dir`, logs in to
// the server (first start: with the given login and password, kept sealed in the
// data directory afterwards so later starts and token renewals need nothing),
// serves the same REST API on localhost over the local data (the CLI and other
// clients work unchanged), plus the replica's own routes:
//   GET  /api/v1/replica/status            state, versions (C9), queue, progress
//   GET  /api/v1/replica/data-groups       the filters (C4); PUT replaces them
//   GET  /api/v1/replica/outbox            queued and failed writes (C8)
//   GET  /api/v1/replica/doctor[?fix=1]    diagnostics (C10)
//   POST /api/v1/replica/sync              sync now
//   GET  /api/v1/conflicts                 records edited on both sides
//   POST /api/v1/conflicts/{entity}/{id}   {"resolution":"mine"|"theirs"|"merged","fields":{}}
// and runs the sync loop in the background (C7): push then pull every
// `poll_interval` while online, probes while offline, at once after a local write.
//
// Wiring in tandemd_main.cc:
//   if (!replica_of.empty()) {
//     tandem::replica::ReplicaOptions r;
//     r.server_url = replica_of; r.data_dir = data_dir; r.login = ...; r.password = ...;
//     r.listen_address = listen address; r.port = listen port;
//     return tandem::replica::RunReplica(r, signals);
//   }
//
// Thread safety: LocalReplica's methods may be called from any thread.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace tandem::replica {

struct ReplicaOptions {
  std::string server_url;   // REQUIRED: "http://server:8480"
  std::string data_dir;     // REQUIRED: holds replica.db and secret.key
  std::string login;        // REQUIRED on the first start
  std::string password;     // REQUIRED on the first start; optional later (a new one replaces)
  std::string listen_address = "127.0.0.1";
  uint16_t port = 8481;     // 0 = any free port
  int threads = 2;
  std::chrono::milliseconds poll_interval{1000};
  int page_size = 1000;
  int push_batch = 500;
  bool fast_password_hash = false;  // tests only: cheap argon2 parameters for the local login
};

class LocalReplica {
 public:
  // Errors: InvalidArgument (missing options, another server's data directory),
  // Unavailable (first start while the server is unreachable; port in use),
  // Unauthenticated (refused credentials at the first start), the store's errors.
  static Result<std::unique_ptr<LocalReplica>> Start(const ReplicaOptions& options);
  ~LocalReplica();  // Stop()

  uint16_t port() const;
  // Stops the sync loop and the local server (in-flight requests finish).
  void Stop();

  struct Impl;

 private:
  explicit LocalReplica(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Runs a LocalReplica until one of `signals` (SIGTERM/SIGINT, blocked by the
// caller) arrives. Exit codes as tandemd: 0 ok, 1 runtime failure, 2 usage.
int RunReplica(const ReplicaOptions& options, const sigset_t& signals);

}  // namespace tandem::replica
