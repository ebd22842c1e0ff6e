#include "replica/connectivity.h"

#include <gtest/gtest.h>

namespace tandem::replica {
namespace {

using std::chrono::seconds;

class ConnectivityTest : public ::testing::Test {
 protected:
  FakeClock clock_{FromUnixSeconds(1'790'000'000)};
  Connectivity link_{clock_, {.probe_min = seconds(1), .probe_max = seconds(8), .sleep_gap = seconds(30)}};
};

TEST_F(ConnectivityTest, StartsOnlineAndStaysOnlineWhileAnswered) {
  EXPECT_EQ(link_.state(), LinkState::kOnline);
  link_.OnAnswer();
  EXPECT_EQ(link_.state(), LinkState::kOnline);
  EXPECT_EQ(link_.transitions(), 0);
}

TEST_F(ConnectivityTest, NoAnswerGoesOfflineAndProbesAfterBackoff) {
  link_.OnNoAnswer();
  EXPECT_EQ(link_.state(), LinkState::kOffline);
  EXPECT_FALSE(link_.ProbeDue());
  clock_.Advance(std::chrono::milliseconds(999));
  EXPECT_FALSE(link_.ProbeDue());
  clock_.Advance(std::chrono::milliseconds(1));
  EXPECT_TRUE(link_.ProbeDue());
}

TEST_F(ConnectivityTest, BackoffDoublesUpToTheCap) {
  link_.OnNoAnswer();  // 1 s
  Instant t0 = clock_.Now();
  EXPECT_EQ(link_.NextProbe() - t0, seconds(1));
  link_.OnNoAnswer();  // 2 s
  EXPECT_EQ(link_.NextProbe() - t0, seconds(2));
  link_.OnNoAnswer();  // 4
  link_.OnNoAnswer();  // 8
  link_.OnNoAnswer();  // capped at 8
  EXPECT_EQ(link_.NextProbe() - t0, seconds(8));
}

TEST_F(ConnectivityTest, AnswerDrainsBeforeGoingOnline) {
  link_.OnNoAnswer();
  link_.OnAnswer();
  EXPECT_EQ(link_.state(), LinkState::kDraining);
  EXPECT_FALSE(link_.online());
  link_.OnOutboxDrained();
  EXPECT_EQ(link_.state(), LinkState::kOnline);
  EXPECT_EQ(link_.transitions(), 3);
}

TEST_F(ConnectivityTest, FailureWhileDrainingGoesBackOffline) {
  link_.OnNoAnswer();
  link_.OnAnswer();
  link_.OnNoAnswer();
  EXPECT_EQ(link_.state(), LinkState::kOffline);
  // Backoff restarted from the minimum after the answer.
  EXPECT_EQ(link_.NextProbe() - clock_.Now(), seconds(1));
}

TEST_F(ConnectivityTest, DrainedOnlyMattersWhileDraining) {
  link_.OnNoAnswer();
  link_.OnOutboxDrained();
  EXPECT_EQ(link_.state(), LinkState::kOffline);
}

TEST_F(ConnectivityTest, SleepMakesTheNextProbeDueAtOnce) {
  for (int i = 0; i < 5; ++i) link_.OnNoAnswer();  // backoff at the 8 s cap
  link_.Tick();
  clock_.Advance(seconds(3));
  link_.Tick();
  EXPECT_FALSE(link_.ProbeDue());
  // The laptop slept: the wall clock jumps by an hour between two ticks.
  clock_.Advance(std::chrono::hours(1));
  link_.Tick();
  EXPECT_TRUE(link_.ProbeDue());
  link_.OnAnswer();
  EXPECT_EQ(link_.state(), LinkState::kDraining);
}

}  // namespace
}  // namespace tandem::replica
