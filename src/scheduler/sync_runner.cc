#include "scheduler/sync_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace tandem::scheduler {

SyncRunner::SyncRunner(SyncSchedule schedule, const Clock& clock, RunPair run, LeaseHooks leases,
                       Options options)
    : clock_(clock),
      run_(std::move(run)),
      leases_(std::move(leases)),
      options_(options),
      schedule_(std::move(schedule)) {}

SyncRunner::~SyncRunner() { Stop(); }

void SyncRunner::Start() {
  std::lock_guard lock(mu_);
  if (dispatcher_.joinable()) return;
  stopping_ = false;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  if (options_.workers > 0) dispatcher_ = std::thread([this] { DispatcherLoop(); });
}

void SyncRunner::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_dispatcher_.notify_all();
  wake_workers_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  workers_.clear();
  // Jobs queued but never started go back to the schedule; nobody waits forever.
  std::vector<Done> pending;
  {
    std::lock_guard lock(mu_);
    for (auto& job : queue_) schedule_.RunSkipped(job.pair_id, clock_.Now());
    queue_.clear();
    for (auto* m : {&waiters_, &inflight_waiters_}) {
      for (auto& [id, callbacks] : *m)
        for (auto& d : callbacks) pending.push_back(std::move(d));
      m->clear();
    }
  }
  PairRunResult stopping{RunOutcome::kFailed, "the server is shutting down", std::nullopt, ""};
  for (auto& d : pending) d(stopping);
}

std::vector<SyncRunner::Job> SyncRunner::FairOrder(const std::vector<std::string>& due) const {
  std::map<std::string, std::deque<std::string>> by_user;
  std::vector<std::string> users;  // in order of their oldest due pair
  for (const auto& id : due) {
    const PairTimer* t = schedule_.Find(id);
    std::string user = t ? t->user_id : "";
    if (!by_user.count(user)) users.push_back(user);
    by_user[user].push_back(id);
  }
  std::vector<Job> out;
  for (bool any = true; any;) {
    any = false;
    for (const auto& u : users) {
      auto& q = by_user[u];
      if (q.empty()) continue;
      out.push_back({q.front(), u});
      q.pop_front();
      any = true;
    }
  }
  return out;
}

int SyncRunner::Tick(Instant now) {
  std::vector<Job> jobs;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return 0;
    jobs = FairOrder(schedule_.TakeDue(now));
    for (const auto& j : jobs) {
      if (auto it = waiters_.find(j.pair_id); it != waiters_.end()) {
        auto& inflight = inflight_waiters_[j.pair_id];
        for (auto& p : it->second) inflight.push_back(std::move(p));
        waiters_.erase(it);
      }
    }
    if (options_.workers > 0) {
      for (auto& j : jobs) queue_.push_back(j);
    }
  }
  if (options_.workers > 0) {
    wake_workers_.notify_all();
  } else {
    for (const auto& j : jobs) Execute(j);
  }
  return static_cast<int>(jobs.size());
}

void SyncRunner::Execute(const Job& job) {
  auto leased = leases_.acquire ? leases_.acquire(job.pair_id) : Result<LeaseAnswer>(LeaseAnswer{});
  if (!leased.ok() || !leased->acquired) {
    std::string why = leased.ok() ? "running on " + leased->holder
                                  : "cannot take the lease: " + leased.status().ToString();
    std::vector<Done> told;
    {
      std::lock_guard lock(mu_);
      schedule_.RunSkipped(job.pair_id, clock_.Now() + options_.lease_busy_retry);
      // Callers of "sync now" hear at once that the pair runs elsewhere; they do
      // not wait for a run of another process.
      if (auto it = inflight_waiters_.find(job.pair_id); it != inflight_waiters_.end()) {
        told = std::move(it->second);
        inflight_waiters_.erase(it);
      }
    }
    spdlog::info("sync pair {}: {}; retrying in {} s", job.pair_id, why,
                 std::chrono::duration_cast<std::chrono::seconds>(options_.lease_busy_retry).count());
    PairRunResult busy{RunOutcome::kFailed, why, std::nullopt, ""};
    busy.busy_elsewhere = leased.ok();
    for (auto& d : told) d(busy);
    return;
  }
  PairRunResult result = run_(job.pair_id);
  result.ran = true;
  if (leases_.release) leases_.release(job.pair_id);
  std::vector<Done> done;
  {
    std::lock_guard lock(mu_);
    schedule_.RunFinished(job.pair_id, result.outcome, result.error, result.retry_after,
                          clock_.Now());
    if (auto it = inflight_waiters_.find(job.pair_id); it != inflight_waiters_.end()) {
      done = std::move(it->second);
      inflight_waiters_.erase(it);
    }
  }
  if (result.outcome == RunOutcome::kSucceeded) {
    spdlog::info("sync pair {} of {}: ok {}", job.pair_id, job.user_id, result.summary);
  } else {
    spdlog::warn("sync pair {} of {}: failed: {}", job.pair_id, job.user_id, result.error);
  }
  for (auto& d : done) d(result);
  wake_dispatcher_.notify_all();
}

void SyncRunner::WorkerLoop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      wake_workers_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
    }
    Execute(job);
  }
}

void SyncRunner::DispatcherLoop() {
  for (;;) {
    Tick(clock_.Now());
    std::unique_lock lock(mu_);
    if (stopping_) return;
    Duration wait = options_.idle_wakeup;
    if (auto next = schedule_.NextWakeup()) {
      wait = std::clamp(*next - clock_.Now(), Duration(0), options_.idle_wakeup);
    }
    if (wait > Duration(0)) wake_dispatcher_.wait_for(lock, wait);
    if (stopping_) return;
  }
}

void SyncRunner::AddPair(const std::string& pair_id, const std::string& user_id, bool enabled,
                         bool run_at_once) {
  {
    std::lock_guard lock(mu_);
    schedule_.AddPair(pair_id, user_id, enabled, clock_.Now(), run_at_once);
  }
  wake_dispatcher_.notify_all();
}

void SyncRunner::RemovePair(const std::string& pair_id) {
  std::lock_guard lock(mu_);
  schedule_.RemovePair(pair_id);
}

void SyncRunner::UserLoggedIn(const std::string& user_id) {
  {
    std::lock_guard lock(mu_);
    schedule_.UserLoggedIn(user_id, clock_.Now());
  }
  wake_dispatcher_.notify_all();
}

void SyncRunner::UserLoggedOut(const std::string& user_id) {
  std::lock_guard lock(mu_);
  schedule_.UserLoggedOut(user_id);
}

void SyncRunner::CrmChanged(const std::string& user_id, const std::string& except_pair) {
  {
    std::lock_guard lock(mu_);
    schedule_.CrmChanged(user_id, clock_.Now(), except_pair);
  }
  wake_dispatcher_.notify_all();
}

tandem::Status SyncRunner::RunNow(const std::string& pair_id, Done done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return tandem::Status::Unavailable("the server is shutting down");
    if (!schedule_.RunNow(pair_id, clock_.Now()))
      return tandem::Status::NotFound("no sync pair " + pair_id);
    waiters_[pair_id].push_back(std::move(done));
  }
  if (options_.workers == 0) {
    Tick(clock_.Now());
  } else {
    wake_dispatcher_.notify_all();
  }
  return tandem::Status::Ok();
}

Result<PairRunResult> SyncRunner::RunNowAndWait(const std::string& pair_id) {
  auto promise = std::make_shared<std::promise<PairRunResult>>();
  std::future<PairRunResult> result = promise->get_future();
  TANDEM_RETURN_IF_ERROR(RunNow(pair_id, [promise](const PairRunResult& r) { promise->set_value(r); }));
  return result.get();
}

std::vector<PairTimer> SyncRunner::Status() const {
  std::lock_guard lock(mu_);
  return schedule_.Snapshot();
}

}  // namespace tandem::scheduler
