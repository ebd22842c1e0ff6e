// SyncRunner: runs the pairs the SyncSchedule says are due, in the background, on
// a bounded pool of worker threads (C7), fairly across users, never two runs of
// one pair at once: in-process by the schedule's "running" mark, across
// processes by a lease (PairLeases) taken before and released after each run.
//
// The run itself is a function (the sync engine's RunNow in tandemd, a fake in
// tests), so this module knows nothing of calendars.
//
// Thread-safe. Start() spawns the dispatcher and workers; Tick(now) does one
// dispatch round synchronously and is what tests call with a FakeClock.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "scheduler/sync_schedule.h"

namespace tandem::scheduler {

struct PairRunResult {
  RunOutcome outcome = RunOutcome::kSucceeded;
  std::string error;                   // one line, for status and logs
  std::optional<Instant> retry_after;  // from a 429/503
  std::string summary;                 // e.g. "2 created, 1 updated"
  // The run did not happen here: another process holds the pair's lease (then
  // `error` says which, e.g. "running on node web-1 (process 4711) since ...").
  bool busy_elsewhere = false;
  // Set by the runner: the run function was called (false: busy elsewhere, or
  // the server stopped before the run started).
  bool ran = false;
};

// What a lease acquisition found.
struct LeaseAnswer {
  bool acquired = true;
  std::string holder;  // when not acquired: who runs the pair, for messages
};

// Lease hooks: acquire answers acquired=false when another process runs the pair.
struct LeaseHooks {
  std::function<Result<LeaseAnswer>(const std::string& pair_id)> acquire;
  std::function<void(const std::string& pair_id)> release;
};

class SyncRunner {
 public:
  struct Options {
    int workers = 2;  // 0: run inline in Tick (tests)
    Duration lease_busy_retry = std::chrono::seconds(30);
    Duration idle_wakeup = std::chrono::seconds(30);  // re-check at least this often
  };
  using RunPair = std::function<PairRunResult(const std::string& pair_id)>;

  SyncRunner(SyncSchedule schedule, const Clock& clock, RunPair run, LeaseHooks leases,
             Options options);
  ~SyncRunner();  // Stop()s

  void Start();
  // Finishes the runs in progress, starts no new ones.
  void Stop();

  // One dispatch round at `now`: takes the due pairs and queues them (or, with
  // 0 workers, runs them inline). Returns how many were dispatched.
  int Tick(Instant now);

  // Schedule events (thread-safe wrappers; they wake the dispatcher).
  void AddPair(const std::string& pair_id, const std::string& user_id, bool enabled,
               bool run_at_once = true);
  void RemovePair(const std::string& pair_id);
  void UserLoggedIn(const std::string& user_id);
  void UserLoggedOut(const std::string& user_id);
  void CrmChanged(const std::string& user_id, const std::string& except_pair = "");

  // S15: runs the pair as soon as a worker is free (after a run in progress of
  // this process) and calls `done` with that run's result, on the worker thread
  // (or at Stop, "shutting down"). When another process holds the pair's lease,
  // `done` is called at once with busy_elsewhere: nobody waits for a run that
  // is not ours. NotFound for an unknown pair (then `done` is never called).
  using Done = std::function<void(const PairRunResult&)>;
  tandem::Status RunNow(const std::string& pair_id, Done done);
  // RunNow and a blocking wait for the result (tests, tools).
  Result<PairRunResult> RunNowAndWait(const std::string& pair_id);

  std::vector<PairTimer> Status() const;

 private:
  struct Job {
    std::string pair_id;
    std::string user_id;
  };
  void DispatcherLoop();
  void WorkerLoop();
  void Execute(const Job& job);
  // Orders due pairs round-robin across users so one user's many pairs do not
  // starve the others.
  std::vector<Job> FairOrder(const std::vector<std::string>& due) const;

  const Clock& clock_;
  RunPair run_;
  LeaseHooks leases_;
  Options options_;

  mutable std::mutex mu_;
  std::condition_variable wake_dispatcher_;
  std::condition_variable wake_workers_;
  SyncSchedule schedule_;                 // guarded by mu_
  std::deque<Job> queue_;                 // guarded by mu_
  // "Sync now" callers waiting for the next run of a pair to start, and those whose
  // run has started (they get that run's result). Guarded by mu_.
  std::map<std::string, std::vector<Done>> waiters_;
  std::map<std::string, std::vector<Done>> inflight_waiters_;
  bool stopping_ = false;
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
};

}  // namespace tandem::scheduler
