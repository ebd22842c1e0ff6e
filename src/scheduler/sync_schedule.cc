#include "scheduler/sync_schedule.h"

#include <algorithm>

namespace tandem::scheduler {

std::optional<Instant> PairTimer::Due() const {
  if (next_run && push_due) return std::min(*next_run, *push_due);
  return next_run ? next_run : push_due;
}

Duration SyncSchedule::Interval() const {
  return options_.server_job ? options_.server_interval : options_.user_interval;
}

Duration SyncSchedule::Backoff(int failures) {
  // base * 2^(failures-1), capped, with +-25% jitter so many failing pairs spread out.
  Duration d = options_.backoff_base;
  for (int i = 1; i < failures && d < options_.backoff_max; ++i) d *= 2;
  d = std::min(d, options_.backoff_max);
  int64_t quarter = d.count() / 4;
  if (quarter > 0) {
    d += Duration(static_cast<int64_t>(random_.Uniform(2 * quarter + 1)) - quarter);
  }
  return d;
}

void SyncSchedule::ScheduleAt(PairTimer& t, Instant when) {
  if (!t.next_run || when < *t.next_run) t.next_run = when;
}

void SyncSchedule::AddPair(const std::string& pair_id, const std::string& user_id, bool enabled,
                           Instant now, bool run_at_once) {
  PairTimer t;
  t.pair_id = pair_id;
  t.user_id = user_id;
  t.enabled = enabled;
  if (enabled && (options_.server_job || logged_in_.count(user_id)))
    t.next_run = run_at_once ? now : now + Interval();
  pairs_[pair_id] = std::move(t);
}

void SyncSchedule::RemovePair(const std::string& pair_id) { pairs_.erase(pair_id); }

void SyncSchedule::SetEnabled(const std::string& pair_id, bool enabled, Instant now) {
  auto it = pairs_.find(pair_id);
  if (it == pairs_.end()) return;
  it->second.enabled = enabled;
  if (!enabled) {
    it->second.next_run.reset();
  } else if (options_.server_job || logged_in_.count(it->second.user_id)) {
    ScheduleAt(it->second, now);
  }
}

void SyncSchedule::UserLoggedIn(const std::string& user_id, Instant now) {
  bool first = logged_in_.insert(user_id).second;
  if (options_.server_job || !first) return;  // the server job's timer rules
  for (auto& [id, t] : pairs_)
    if (t.user_id == user_id && t.enabled && !t.failing) ScheduleAt(t, now);
}

void SyncSchedule::UserLoggedOut(const std::string& user_id) {
  logged_in_.erase(user_id);
  if (options_.server_job) return;
  for (auto& [id, t] : pairs_)
    if (t.user_id == user_id) t.next_run.reset();  // a pending push still goes out
}

void SyncSchedule::CrmChanged(const std::string& user_id, Instant now,
                              const std::string& except_pair) {
  for (auto& [id, t] : pairs_) {
    if (t.user_id != user_id || !t.enabled || id == except_pair) continue;
    // While backing off after a failure the retry carries the change: no hammering.
    if (t.consecutive_failures > 0) continue;
    if (!t.push_first_request) t.push_first_request = now;
    t.push_due = std::min(now + options_.debounce, *t.push_first_request + options_.max_debounce);
  }
}

bool SyncSchedule::RunNow(const std::string& pair_id, Instant now) {
  auto it = pairs_.find(pair_id);
  if (it == pairs_.end()) return false;
  it->second.next_run = now;
  return true;
}

std::vector<std::string> SyncSchedule::TakeDue(Instant now) {
  std::vector<std::pair<Instant, std::string>> due;
  for (auto& [id, t] : pairs_)
    if (t.enabled && !t.running && t.Due() && *t.Due() <= now) due.emplace_back(*t.Due(), id);
  std::sort(due.begin(), due.end());
  std::vector<std::string> out;
  for (auto& [when, id] : due) {
    auto& t = pairs_[id];
    t.running = true;
    t.next_run.reset();
    t.push_due.reset();
    t.push_first_request.reset();
    out.push_back(id);
  }
  return out;
}

void SyncSchedule::RunFinished(const std::string& pair_id, RunOutcome outcome,
                               const std::string& error, std::optional<Instant> retry_after,
                               Instant now) {
  auto it = pairs_.find(pair_id);
  if (it == pairs_.end()) return;
  PairTimer& t = it->second;
  std::optional<Instant> asked_meanwhile = t.next_run;  // "sync now" during the run
  t.running = false;
  t.last_run = now;
  t.last_outcome = outcome;
  if (outcome == RunOutcome::kSucceeded) {
    t.consecutive_failures = 0;
    t.failing = false;
    t.last_error.clear();
    t.next_run.reset();
    if (options_.server_job || logged_in_.count(t.user_id)) t.next_run = now + Interval();
    if (asked_meanwhile) ScheduleAt(t, *asked_meanwhile);
    return;  // a push requested during the run stays due
  }
  t.consecutive_failures++;
  t.last_error = error;
  if (t.consecutive_failures >= options_.failing_threshold) t.failing = true;
  Instant when = now + (t.failing ? options_.failing_interval : Backoff(t.consecutive_failures));
  if (retry_after && *retry_after > when) when = *retry_after;
  // The backoff wins over pushes and timers: a failing server is not hammered.
  t.next_run = when;
  t.push_due.reset();
  t.push_first_request.reset();
}

void SyncSchedule::RunSkipped(const std::string& pair_id, Instant retry_at) {
  auto it = pairs_.find(pair_id);
  if (it == pairs_.end()) return;
  it->second.running = false;
  ScheduleAt(it->second, retry_at);
}

std::optional<Instant> SyncSchedule::NextWakeup() const {
  std::optional<Instant> best;
  for (const auto& [id, t] : pairs_)
    if (t.enabled && !t.running && t.Due() && (!best || *t.Due() < *best)) best = t.Due();
  return best;
}

const PairTimer* SyncSchedule::Find(const std::string& pair_id) const {
  auto it = pairs_.find(pair_id);
  return it == pairs_.end() ? nullptr : &it->second;
}

std::vector<PairTimer> SyncSchedule::Snapshot() const {
  std::vector<PairTimer> out;
  for (const auto& [id, t] : pairs_) out.push_back(t);
  return out;
}

}  // namespace tandem::scheduler
