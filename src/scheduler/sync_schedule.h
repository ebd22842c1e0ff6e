// SyncSchedule: decides WHEN each sync pair runs (SPEC S6, S7, S15). Pure state
// and arithmetic over an injected "now"; it starts nothing itself. The
// SyncRunner asks it which pairs are due and tells it how each run ended.
//
// Rules:
// - Per-user mode (server job disabled): a user's pairs run right after login and
//   then every `user_interval` while the user has an active session.
// - Server job (S7) enabled: every enabled pair runs every `server_interval`,
//   logged in or not; login and the per-user timer add no runs (no double runs).
// - A CRM change by a user requests a push of that user's pairs after `debounce`
//   quiet time (50 quick edits: one run), at most `max_debounce` after the first.
// - "Sync now" (S15) makes a pair due at once.
// - A failed run backs off exponentially with jitter, never sooner than a
//   server's Retry-After; after `failing_threshold` failures in a row the pair is
//   flagged failing and retried every `failing_interval`. A success resets it.
//
// Not thread-safe: the owner serializes calls.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/time.h"

namespace tandem::scheduler {

using namespace std::chrono_literals;

struct ScheduleOptions {
  Duration user_interval = std::chrono::minutes(10);
  Duration server_interval = std::chrono::minutes(10);
  bool server_job = false;
  Duration debounce = std::chrono::seconds(3);
  Duration max_debounce = std::chrono::seconds(30);
  Duration backoff_base = std::chrono::seconds(30);
  Duration backoff_max = std::chrono::hours(1);
  int failing_threshold = 6;
  Duration failing_interval = std::chrono::hours(2);
};

enum class RunOutcome { kSucceeded, kFailed };

// What the schedule knows of one pair (also what `sync status` shows).
struct PairTimer {
  std::string pair_id;
  std::string user_id;
  bool enabled = true;
  std::optional<Instant> next_run;     // nullopt: not scheduled (user not logged in)
  std::optional<Instant> last_run;
  std::optional<RunOutcome> last_outcome;
  std::string last_error;
  int consecutive_failures = 0;
  bool failing = false;                // flagged after failing_threshold failures
  std::optional<Instant> push_due;            // a debounced push after a CRM change
  std::optional<Instant> push_first_request;  // start of that debounce window
  bool running = false;

  // When the pair runs next, whichever reason comes first.
  std::optional<Instant> Due() const;
};

class SyncSchedule {
 public:
  SyncSchedule(ScheduleOptions options, Random& random) : options_(options), random_(random) {}

  // `run_at_once`: when the pair's user is logged in (or the server job is on), the
  // first run is due now; false leaves the first run to the caller (e.g. an
  // initialization run right away through RunNow).
  void AddPair(const std::string& pair_id, const std::string& user_id, bool enabled, Instant now,
               bool run_at_once = true);
  void RemovePair(const std::string& pair_id);
  void SetEnabled(const std::string& pair_id, bool enabled, Instant now);

  void UserLoggedIn(const std::string& user_id, Instant now);
  void UserLoggedOut(const std::string& user_id);  // last session of the user ended
  // A debounced push for the user's pairs, all but `except_pair` (the pair whose
  // own run wrote the changes: they came from its calendar).
  void CrmChanged(const std::string& user_id, Instant now, const std::string& except_pair = "");
  // Returns false for an unknown pair.
  bool RunNow(const std::string& pair_id, Instant now);

  // Pairs due at `now` that are not running, oldest due first. Marks them running.
  std::vector<std::string> TakeDue(Instant now);
  // REQUIRES: the pair was handed out by TakeDue. `retry_after` from the server.
  void RunFinished(const std::string& pair_id, RunOutcome outcome, const std::string& error,
                   std::optional<Instant> retry_after, Instant now);
  // A run handed out could not start (e.g. another process holds the lease).
  void RunSkipped(const std::string& pair_id, Instant retry_at);

  // The earliest time anything becomes due (for the runner's sleep), if any.
  std::optional<Instant> NextWakeup() const;
  const PairTimer* Find(const std::string& pair_id) const;
  std::vector<PairTimer> Snapshot() const;

 private:
  Duration Interval() const;
  Duration Backoff(int failures);
  void ScheduleAt(PairTimer& t, Instant when);

  ScheduleOptions options_;
  Random& random_;
  std::map<std::string, PairTimer> pairs_;
  std::set<std::string> logged_in_;
};

}  // namespace tandem::scheduler
