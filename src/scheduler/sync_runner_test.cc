#include "scheduler/sync_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

namespace tandem::scheduler {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const Instant kT0 = FromUnixSeconds(1795000000);

TEST(SyncRunnerTest, InlineRunsFollowTheScheduleAndLeases) {
  FakeClock clock(kT0);
  SeededRandom random(3);
  std::vector<std::string> ran;
  std::set<std::string> busy_elsewhere = {"p2"};
  SyncRunner runner(
      SyncSchedule({}, random), clock,
      [&](const std::string& id) {
        ran.push_back(id);
        return PairRunResult{RunOutcome::kSucceeded, "", std::nullopt, "0 changes"};
      },
      LeaseHooks{[&](const std::string& id) -> Result<LeaseAnswer> {
                   if (busy_elsewhere.count(id)) return LeaseAnswer{false, "node b (process 7)"};
                   return LeaseAnswer{};
                 },
                 [](const std::string&) {}},
      {.workers = 0});
  runner.AddPair("p1", "alice", true);
  runner.AddPair("p2", "alice", true);
  EXPECT_EQ(runner.Tick(clock.Now()), 0);
  runner.UserLoggedIn("alice");
  EXPECT_EQ(runner.Tick(clock.Now()), 2);
  EXPECT_EQ(ran, std::vector<std::string>{"p1"});  // p2's lease is held by another process
  // "Sync now" of a pair another process runs answers at once, naming it.
  auto busy = runner.RunNowAndWait("p2");
  ASSERT_TRUE(busy.ok());
  EXPECT_TRUE(busy->busy_elsewhere);
  EXPECT_EQ(busy->error, "running on node b (process 7)");
  EXPECT_EQ(ran, std::vector<std::string>{"p1"});
  busy_elsewhere.clear();
  clock.Advance(seconds(29));
  EXPECT_EQ(runner.Tick(clock.Now()), 0);
  clock.Advance(seconds(1));  // lease_busy_retry
  EXPECT_EQ(runner.Tick(clock.Now()), 1);
  EXPECT_EQ(ran.back(), "p2");
  clock.Advance(minutes(10));
  EXPECT_EQ(runner.Tick(clock.Now()), 2);
}

TEST(SyncRunnerTest, FairAcrossUsers) {
  FakeClock clock(kT0);
  SeededRandom random(3);
  std::vector<std::string> ran;
  ScheduleOptions o;
  o.server_job = true;
  SyncRunner runner(SyncSchedule(o, random), clock,
                    [&](const std::string& id) {
                      ran.push_back(id);
                      return PairRunResult{};
                    },
                    {}, {.workers = 0});
  for (int i = 0; i < 3; ++i) runner.AddPair("a" + std::to_string(i), "alice", true);
  runner.AddPair("b0", "bob", true);
  runner.AddPair("c0", "carol", true);
  EXPECT_EQ(runner.Tick(clock.Now()), 5);
  // alice's three pairs do not all go before bob's and carol's.
  EXPECT_EQ(ran, (std::vector<std::string>{"a0", "b0", "c0", "a1", "a2"}));
}

TEST(SyncRunnerTest, SyncNowWithWorkersReturnsTheOutcomeAndNeverOverlapsAPair) {
  SystemClock clock;
  SeededRandom random(5);
  std::atomic<int> concurrent{0}, max_concurrent{0}, runs{0};
  SyncRunner runner(
      SyncSchedule({}, random), clock,
      [&](const std::string& id) {
        int now = ++concurrent;
        int seen = max_concurrent.load();
        while (now > seen && !max_concurrent.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        --concurrent;
        ++runs;
        if (id == "bad") return PairRunResult{RunOutcome::kFailed, "HTTP 500", std::nullopt, ""};
        return PairRunResult{RunOutcome::kSucceeded, "", std::nullopt, "1 updated"};
      },
      {}, {.workers = 2});
  runner.AddPair("p1", "alice", true);
  runner.AddPair("bad", "alice", true);
  runner.Start();
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&] {
      auto r = runner.RunNowAndWait("p1");
      if (r.ok() && r->outcome == RunOutcome::kSucceeded && r->summary == "1 updated") ++ok;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(max_concurrent.load(), 1);  // one pair never runs twice at once
  EXPECT_GE(runs.load(), 1);
  EXPECT_LE(runs.load(), 8);
  auto bad = runner.RunNowAndWait("bad");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->error, "HTTP 500");
  EXPECT_EQ(runner.RunNowAndWait("nope").status().code(), Code::kNotFound);
  runner.Stop();
  for (const auto& t : runner.Status()) {
    if (t.pair_id == "bad") {
      EXPECT_EQ(t.consecutive_failures, 1);
    }
  }
}

}  // namespace
}  // namespace tandem::scheduler
