#include "scheduler/sync_schedule.h"

#include <gtest/gtest.h>

namespace tandem::scheduler {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const Instant kT0 = FromUnixSeconds(1795000000);

class ScheduleTest : public ::testing::Test {
 protected:
  SyncSchedule Make(ScheduleOptions o = {}) { return SyncSchedule(o, random_); }
  SeededRandom random_{1};
};

TEST_F(ScheduleTest, LoginRunsAtOnceThenEveryTenMinutesWhileLoggedIn) {
  auto s = Make();
  s.AddPair("p1", "alice", true, kT0);
  EXPECT_TRUE(s.TakeDue(kT0).empty());  // not logged in, no server job: nothing
  EXPECT_FALSE(s.NextWakeup());

  s.UserLoggedIn("alice", kT0 + seconds(5));
  EXPECT_EQ(s.TakeDue(kT0 + seconds(5)), std::vector<std::string>{"p1"});
  EXPECT_TRUE(s.TakeDue(kT0 + seconds(6)).empty());  // running: never handed out twice
  s.RunFinished("p1", RunOutcome::kSucceeded, "", std::nullopt, kT0 + seconds(10));
  EXPECT_EQ(*s.NextWakeup(), kT0 + seconds(10) + minutes(10));
  EXPECT_TRUE(s.TakeDue(kT0 + minutes(10)).empty());
  EXPECT_EQ(s.TakeDue(kT0 + seconds(10) + minutes(10)).size(), 1u);
  s.RunFinished("p1", RunOutcome::kSucceeded, "", std::nullopt, kT0 + minutes(11));

  s.UserLoggedOut("alice");
  EXPECT_FALSE(s.NextWakeup());
  EXPECT_TRUE(s.TakeDue(kT0 + hours(5)).empty());
}

TEST_F(ScheduleTest, ServerJobRunsEveryoneAndLoginAddsNoDoubleRun) {
  ScheduleOptions o;
  o.server_job = true;
  o.server_interval = minutes(15);
  auto s = Make(o);
  s.AddPair("p1", "alice", true, kT0);
  s.AddPair("p2", "bob", true, kT0);
  s.AddPair("p3", "carol", false, kT0);  // disabled: never
  auto due = s.TakeDue(kT0);
  EXPECT_EQ(due, (std::vector<std::string>{"p1", "p2"}));
  s.RunFinished("p1", RunOutcome::kSucceeded, "", std::nullopt, kT0 + seconds(1));
  s.RunFinished("p2", RunOutcome::kSucceeded, "", std::nullopt, kT0 + seconds(1));
  s.UserLoggedIn("alice", kT0 + minutes(1));
  EXPECT_TRUE(s.TakeDue(kT0 + minutes(1)).empty());  // the server job's timer rules
  EXPECT_EQ(s.TakeDue(kT0 + seconds(1) + minutes(15)).size(), 2u);
}

TEST_F(ScheduleTest, FiftyQuickEditsCauseOnePushAfterQuiet) {
  auto s = Make();
  s.AddPair("p1", "alice", true, kT0);
  for (int i = 0; i < 50; ++i) s.CrmChanged("alice", kT0 + std::chrono::milliseconds(100 * i));
  Instant last = kT0 + std::chrono::milliseconds(4900);
  EXPECT_TRUE(s.TakeDue(last + seconds(2)).empty());  // still within the quiet time
  EXPECT_EQ(s.TakeDue(last + seconds(3)).size(), 1u);
  s.RunFinished("p1", RunOutcome::kSucceeded, "", std::nullopt, last + seconds(4));
  EXPECT_FALSE(s.NextWakeup());  // user not logged in: no periodic run, the push is done
}

TEST_F(ScheduleTest, ContinuousEditsStillPushWithinMaxDebounce) {
  auto s = Make();
  s.AddPair("p1", "alice", true, kT0);
  std::vector<std::string> ran;
  for (int i = 0; i <= 40; ++i) {
    Instant now = kT0 + seconds(i);
    s.CrmChanged("alice", now);
    for (auto& id : s.TakeDue(now)) {
      ran.push_back(id);
      s.RunFinished(id, RunOutcome::kSucceeded, "", std::nullopt, now);
    }
  }
  EXPECT_EQ(ran.size(), 1u);  // at 30 s (max_debounce), although edits never paused
}

TEST_F(ScheduleTest, EditDuringARunIsPushedAfterIt) {
  auto s = Make();
  s.AddPair("p1", "alice", true, kT0);
  s.RunNow("p1", kT0);
  ASSERT_EQ(s.TakeDue(kT0).size(), 1u);
  s.CrmChanged("alice", kT0 + seconds(1));
  s.RunFinished("p1", RunOutcome::kSucceeded, "", std::nullopt, kT0 + seconds(2));
  EXPECT_EQ(*s.NextWakeup(), kT0 + seconds(4));
}

TEST_F(ScheduleTest, ARunsOwnWritesPushTheUsersOtherPairsOnly) {
  auto s = Make();
  s.AddPair("p1", "alice", true, kT0);
  s.AddPair("p2", "alice", true, kT0);
  s.CrmChanged("alice", kT0, /*except_pair=*/"p1");
  EXPECT_EQ(s.TakeDue(kT0 + seconds(5)), std::vector<std::string>{"p2"});
  s.RunFinished("p2", RunOutcome::kSucceeded, "", std::nullopt, kT0 + seconds(6));
  EXPECT_FALSE(s.NextWakeup()) << "p1 must not be pushed by its own writes";
}

TEST_F(ScheduleTest, BackoffGrowsHonoursRetryAfterFlagsAndResets) {
  ScheduleOptions o;
  o.server_job = true;
  auto s = Make(o);
  s.AddPair("p1", "alice", true, kT0);
  Instant now = kT0;
  Duration previous{0};
  for (int failure = 1; failure <= 5; ++failure) {
    ASSERT_EQ(s.TakeDue(now).size(), 1u) << failure;
    s.RunFinished("p1", RunOutcome::kFailed, "HTTP 503", std::nullopt, now);
    Duration wait = *s.NextWakeup() - now;
    Duration nominal = o.backoff_base * (1 << (failure - 1));
    EXPECT_GE(wait, nominal * 3 / 4) << failure;
    EXPECT_LE(wait, nominal * 5 / 4) << failure;
    EXPECT_GT(wait, previous);
    previous = wait;
    s.CrmChanged("alice", now + seconds(1));  // no hammering while backing off
    EXPECT_EQ(*s.NextWakeup() - now, wait);
    now = *s.NextWakeup();
  }
  ASSERT_EQ(s.TakeDue(now).size(), 1u);
  s.RunFinished("p1", RunOutcome::kFailed, "HTTP 503", std::nullopt, now);
  EXPECT_TRUE(s.Find("p1")->failing);
  EXPECT_EQ(*s.NextWakeup(), now + o.failing_interval);
  EXPECT_EQ(s.Find("p1")->last_error, "HTTP 503");

  now = *s.NextWakeup();
  ASSERT_EQ(s.TakeDue(now).size(), 1u);
  s.RunFinished("p1", RunOutcome::kFailed, "429", now + hours(5), now);
  EXPECT_EQ(*s.NextWakeup(), now + hours(5));  // Retry-After beyond the backoff

  now += hours(5);
  ASSERT_EQ(s.TakeDue(now).size(), 1u);
  s.RunFinished("p1", RunOutcome::kSucceeded, "", std::nullopt, now);
  EXPECT_FALSE(s.Find("p1")->failing);
  EXPECT_EQ(s.Find("p1")->consecutive_failures, 0);
  EXPECT_EQ(*s.NextWakeup(), now + o.server_interval);
}

TEST_F(ScheduleTest, SkippedRunIsRetriedAndRunNowIsImmediate) {
  auto s = Make();
  s.AddPair("p1", "alice", true, kT0);
  EXPECT_FALSE(s.RunNow("nope", kT0));
  EXPECT_TRUE(s.RunNow("p1", kT0));
  ASSERT_EQ(s.TakeDue(kT0).size(), 1u);
  s.RunSkipped("p1", kT0 + seconds(20));  // the lease was held elsewhere
  EXPECT_EQ(*s.NextWakeup(), kT0 + seconds(20));
  s.SetEnabled("p1", false, kT0);
  EXPECT_TRUE(s.TakeDue(kT0 + hours(1)).empty());
}

}  // namespace
}  // namespace tandem::scheduler
