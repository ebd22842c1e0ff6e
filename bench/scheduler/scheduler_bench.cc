// bench_scheduler: the server job (S7) at scale (docs/bench-scheduler.md).
//
//   bench_scheduler overhead --pairs 100000 [--workers 2] [--lease-db FILE]
//       SyncRunner + SyncSchedule with the server job on and a run function that
//       does nothing: time from Start() until every pair ran once, per pair. With
//       --lease-db each run also takes and releases a real SQLite lease
//       (PairLeases), as CalendarSync does.
//
//   bench_scheduler round --base URL --users 1000 --data-dir D [--workers 2]
//       CalendarSync (tandemd's composition) over a SQLite store with one user
//       per CalDAV account u<i> (password p<i>) and one pair per user to
//       URL/u<i>/cal/. Setup adds the pairs; then two rounds, each a fresh
//       CalendarSync::Start with the server job on (every stored pair is due at
//       once): round 1 initializes every pair (S13), round 2 is the idle round
//       (nothing changed). A round ends when every pair has run once.
//
// Prints key=value lines; exits 1 when a run failed.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "apps/calendar_sync.h"
#include "core/clock.h"
#include "core/credential_vault.h"
#include "core/ids.h"
#include "core/random.h"
#include "scheduler/pair_lease.h"
#include "scheduler/sync_runner.h"
#include "store/sqlite/database.h"
#include "store/sqlite/sqlite_store.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

std::string LoadAverage() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (!f) return "?";
  char buf[64] = {};
  std::fgets(buf, sizeof buf, f);
  std::fclose(f);
  std::string s(buf);
  // first three fields
  size_t pos = 0;
  for (int i = 0; i < 3 && pos != std::string::npos; ++i) pos = s.find(' ', pos + 1);
  return s.substr(0, pos);
}

struct OverheadArgs {
  int pairs = 100000;
  int workers = 2;
  std::string lease_db;
};

Status Overhead(const OverheadArgs& a) {
  SystemClock clock;
  SeededRandom random(7);
  std::unique_ptr<store::sqlite::Database> db;
  std::unique_ptr<scheduler::PairLeases> leases;
  std::mutex lease_mu;
  scheduler::LeaseHooks hooks;
  if (!a.lease_db.empty()) {
    std::error_code ec;
    fs::remove(a.lease_db, ec);
    TANDEM_ASSIGN_OR_RETURN(db, store::sqlite::Database::Open({.path = a.lease_db}));
    TANDEM_RETURN_IF_ERROR(scheduler::PairLeases::Migrate(*db));
    leases = std::make_unique<scheduler::PairLeases>(*db, "bench");
    hooks.acquire = [&](const std::string& id) -> Result<scheduler::LeaseAnswer> {
      std::lock_guard lock(lease_mu);
      TANDEM_ASSIGN_OR_RETURN(auto s, leases->Acquire(id, clock.Now(), std::chrono::seconds(60)));
      return scheduler::LeaseAnswer{s.acquired, s.holder};
    };
    hooks.release = [&](const std::string& id) {
      std::lock_guard lock(lease_mu);
      (void)leases->Release(id);
    };
  }

  scheduler::ScheduleOptions so;
  so.server_job = true;
  so.server_interval = std::chrono::hours(1);  // one round only
  std::atomic<int64_t> ran{0};
  std::atomic<bool> all_ran{false};
  std::mutex done_mu;
  std::condition_variable done_cv;
  const int64_t total = a.pairs;
  scheduler::SyncRunner runner(
      scheduler::SyncSchedule(so, random), clock,
      [&](const std::string&) {
        if (ran.fetch_add(1) + 1 == total) {
          std::lock_guard lock(done_mu);
          all_ran = true;
          done_cv.notify_all();
        }
        return scheduler::PairRunResult{};
      },
      std::move(hooks), scheduler::SyncRunner::Options{.workers = a.workers});

  auto t_add = SteadyClock::now();
  for (int i = 0; i < a.pairs; ++i) {
    // 1 pair per user, as in the server job over many users.
    runner.AddPair(fmt::format("pair-{:07}", i), fmt::format("user-{:07}", i), true);
  }
  double add_s = SecondsSince(t_add);

  auto t0 = SteadyClock::now();
  if (a.workers > 0) {
    runner.Start();
    std::unique_lock lock(done_mu);
    if (!done_cv.wait_for(lock, std::chrono::minutes(20), [&] { return all_ran.load(); }))
      return Status::DeadlineExceeded(fmt::format("only {} of {} pairs ran", ran.load(), total));
  } else {
    runner.Tick(clock.Now());
  }
  double round_s = SecondsSince(t0);
  runner.Stop();
  std::printf(
      "mode=overhead pairs=%d workers=%d leases=%s add_seconds=%.3f round_seconds=%.3f "
      "per_pair_us=%.2f ran=%lld load=\"%s\"\n",
      a.pairs, a.workers, a.lease_db.empty() ? "none" : "sqlite", add_s, round_s,
      round_s * 1e6 / a.pairs, static_cast<long long>(ran.load()), LoadAverage().c_str());
  return ran.load() == total ? Status::Ok()
                             : Status::InvalidArgument("not every pair ran exactly once");
}

struct RoundArgs {
  std::string base;
  int users = 1000;
  std::string data_dir;
  int workers = 2;
};

// Waits until every pair of `cs` has finished one run in this process; returns
// the number that failed (the first errors go to stderr).
Result<int> WaitForRound(apps::CalendarSync& cs, size_t pairs) {
  auto deadline = SteadyClock::now() + std::chrono::minutes(30);
  for (;;) {
    auto timers = cs.runner().Status();
    size_t done = 0;
    int failed = 0;
    for (const auto& t : timers) {
      if (!t.last_outcome) continue;
      ++done;
      if (*t.last_outcome == scheduler::RunOutcome::kFailed) {
        if (failed++ < 3) std::fprintf(stderr, "pair %s: %s\n", t.pair_id.c_str(), t.last_error.c_str());
      }
    }
    if (done >= pairs) return failed;
    if (SteadyClock::now() > deadline)
      return Status::DeadlineExceeded(fmt::format("{} of {} pairs ran", done, pairs));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status Round(const RoundArgs& a) {
  SystemClock clock;
  SecureRandom random;
  IdGenerator ids(clock, random);
  std::error_code ec;
  fs::remove_all(a.data_dir, ec);
  fs::create_directories(a.data_dir, ec);
  if (ec) return Status::InvalidArgument("cannot create " + a.data_dir);
  std::string db_path = (fs::path(a.data_dir) / "tandem.db").string();
  TANDEM_ASSIGN_OR_RETURN(auto crm, store::sqlite::SqliteStore::Open(
                                        {.path = db_path, .clock = &clock, .ids = &ids}));
  TANDEM_ASSIGN_OR_RETURN(auto vault, CredentialVault::Open(
                                          {.key_file = (fs::path(a.data_dir) / "secret.key").string()},
                                          random));
  apps::CalendarSyncOptions o;
  o.store = crm.get();
  o.clock = &clock;
  o.ids = &ids;
  o.random = &random;
  o.vault = &vault;
  o.database_path = db_path;
  o.workers = a.workers;
  o.schedule.server_job = false;  // setup: nothing runs

  std::string base = a.base;
  if (!base.empty() && base.back() == '/') base.pop_back();
  auto t_setup = SteadyClock::now();
  {
    TANDEM_ASSIGN_OR_RETURN(auto cs, apps::CalendarSync::Start(o));
    for (int i = 1; i <= a.users; ++i) {
      model::User u;
      u.login = fmt::format("u{}", i);
      u.display_name = u.login;
      u.email = u.login + "@localhost";
      TANDEM_ASSIGN_OR_RETURN(u, crm->CreateUser(u));
      TANDEM_ASSIGN_OR_RETURN(std::string sealed,
                              cs->Seal({{"user", u.login}, {"password", fmt::format("p{}", i)}}));
      sync::NewSyncPair np;
      np.user_id = u.id;
      np.provider = "caldav";
      np.calendar = fmt::format("{}/u{}/cal/", base, i);
      np.credential_ref = sealed;
      // Added through the service: the URL is the calendar already (no discovery),
      // and the pair is not scheduled by this setup instance.
      TANDEM_RETURN_IF_ERROR(cs->service().AddPair(np).status());
    }
    cs->Stop();
  }
  std::printf("mode=setup users=%d seconds=%.3f\n", a.users, SecondsSince(t_setup));

  o.schedule.server_job = true;
  o.schedule.server_interval = std::chrono::hours(1);  // one run per pair per round
  int failures = 0;
  for (const char* round : {"initialize", "idle"}) {
    auto t0 = SteadyClock::now();
    TANDEM_ASSIGN_OR_RETURN(auto cs, apps::CalendarSync::Start(o));
    TANDEM_ASSIGN_OR_RETURN(int failed, WaitForRound(*cs, static_cast<size_t>(a.users)));
    double s = SecondsSince(t0);
    cs->Stop();
    failures += failed;
    std::printf(
        "mode=round round=%s pairs=%d workers=%d seconds=%.3f per_pair_ms=%.2f failed=%d "
        "load=\"%s\"\n",
        round, a.users, a.workers, s, s * 1e3 / a.users, failed, LoadAverage().c_str());
    std::fflush(stdout);
  }
  return failures == 0 ? Status::Ok() : Status::Unavailable(fmt::format("{} runs failed", failures));
}

}  // namespace
}  // namespace tandem

int main(int argc, char** argv) {
  CLI::App app{"Server-job (S7) scheduler benchmark"};
  app.require_subcommand(1);
  bool quiet = true;
  app.add_flag("!--log", quiet, "keep spdlog at info (one line per run)");
  tandem::OverheadArgs oa;
  auto* over = app.add_subcommand("overhead", "no-op runs through SyncRunner");
  over->add_option("--pairs", oa.pairs);
  over->add_option("--workers", oa.workers);
  over->add_option("--lease-db", oa.lease_db, "SQLite file for real leases (removed first)");
  tandem::RoundArgs ra;
  auto* round = app.add_subcommand("round", "CalendarSync rounds over one Radicale server");
  round->add_option("--base", ra.base, "http://127.0.0.1:PORT")->required();
  round->add_option("--users", ra.users);
  round->add_option("--data-dir", ra.data_dir)->required();
  round->add_option("--workers", ra.workers);
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(quiet ? spdlog::level::warn : spdlog::level::info);
  tandem::Status s = over->parsed() ? tandem::Overhead(oa) : tandem::Round(ra);
  if (!s.ok()) {
    std::fprintf(stderr, "bench_scheduler: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
