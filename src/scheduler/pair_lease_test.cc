#include "scheduler/pair_lease.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/random.h"

namespace tandem::scheduler {
namespace {

namespace fs = std::filesystem;
using store::sqlite::Database;
using std::chrono::seconds;

const Instant kT0 = FromUnixSeconds(1795000000);

class PairLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lease-" + random_.Hex(6));
    fs::create_directories(dir_);
    path_ = (dir_ / "tandem.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<Database> Open() {
    auto db = Database::Open({.path = path_});
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_TRUE(PairLeases::Migrate(**db).ok());
    return std::move(db).value();
  }
  SecureRandom random_;
  fs::path dir_;
  std::string path_;
};

TEST_F(PairLeaseTest, OneHolderAtATimeUntilExpiryThenTakeover) {
  auto db1 = Open();
  auto db2 = Open();
  PairLeases a(*db1, "process-a"), b(*db2, "process-b");
  EXPECT_TRUE(a.Acquire("p1", kT0, seconds(60))->acquired);
  auto busy = b.Acquire("p1", kT0 + seconds(30), seconds(60));
  ASSERT_TRUE(busy.ok());
  EXPECT_FALSE(busy->acquired);
  EXPECT_EQ(busy->holder, "process-a");  // who has it, and since when
  EXPECT_EQ(busy->since, kT0);
  EXPECT_EQ(busy->expires, kT0 + seconds(60));
  EXPECT_TRUE(b.Acquire("p2", kT0, seconds(60))->acquired);  // leases are per pair
  auto again = a.Acquire("p1", kT0 + seconds(30), seconds(60));  // re-entrant for its holder
  EXPECT_TRUE(again->acquired);
  EXPECT_EQ(again->since, kT0);  // a renewal keeps the start
  EXPECT_TRUE(*a.Renew("p1", kT0 + seconds(50), seconds(60)));
  EXPECT_FALSE(b.Acquire("p1", kT0 + seconds(100), seconds(60))->acquired);  // renewed until 110
  // a dies without releasing: the lease expires and b takes over.
  EXPECT_TRUE(b.Acquire("p1", kT0 + seconds(111), seconds(60))->acquired);
  EXPECT_FALSE(*a.Renew("p1", kT0 + seconds(112), seconds(60)));  // a learns it lost it
  ASSERT_TRUE(a.Release("p1").ok());                              // releasing another's: no-op
  EXPECT_FALSE(a.Acquire("p1", kT0 + seconds(113), seconds(60))->acquired);
  ASSERT_TRUE(b.Release("p1").ok());
  EXPECT_TRUE(a.Acquire("p1", kT0 + seconds(114), seconds(60))->acquired);
}

TEST_F(PairLeaseTest, RenewAllExtendsEveryLeaseOfThisHolderOnly) {
  auto db1 = Open();
  auto db2 = Open();
  PairLeases a(*db1, "process-a"), b(*db2, "process-b");
  ASSERT_TRUE(a.Acquire("p1", kT0, seconds(60))->acquired);
  ASSERT_TRUE(a.Acquire("p2", kT0, seconds(60))->acquired);
  ASSERT_TRUE(b.Acquire("p3", kT0, seconds(60))->acquired);
  EXPECT_EQ(*a.RenewAll(kT0 + seconds(50), seconds(60)), 2);
  EXPECT_FALSE(b.Acquire("p1", kT0 + seconds(100), seconds(60))->acquired);  // until 110
  EXPECT_TRUE(a.Acquire("p3", kT0 + seconds(61), seconds(60))->acquired);    // b's expired
}

// A restarted process of the same node takes over the leases of its dead
// predecessor at once; a live process of the node, or any process of another
// node, keeps its lease until it expires.
TEST_F(PairLeaseTest, DeadProcessOfThisNodeIsTakenOverAtOnce) {
  auto db1 = Open();
  auto db2 = Open();
  auto db3 = Open();
  std::set<int> alive = {100, 200, 300};
  auto is_alive = [&](int pid) { return alive.count(pid) > 0; };
  std::string dead = PairLeases::MakeHolder("web-1", 100, "aaaa");
  PairLeases old_process(*db1, dead, is_alive);
  PairLeases other_node(*db2, PairLeases::MakeHolder("web-2", 300, "cccc"), is_alive);
  ASSERT_TRUE(old_process.Acquire("p1", kT0, seconds(60))->acquired);
  ASSERT_TRUE(other_node.Acquire("p2", kT0, seconds(60))->acquired);
  PairLeases restarted(*db3, PairLeases::MakeHolder("web-1", 200, "bbbb"), is_alive);
  auto live = restarted.Acquire("p1", kT0 + seconds(1), seconds(60));
  EXPECT_FALSE(live->acquired) << "process 100 still lives";
  EXPECT_EQ(live->Describe(), "node web-1 (process 100) since " + FormatRfc3339(kT0));
  alive.erase(100);  // kill -9
  alive.erase(300);  // another node's pid means nothing here
  auto got = restarted.Acquire("p1", kT0 + seconds(2), seconds(60));
  EXPECT_TRUE(got->acquired);
  EXPECT_TRUE(got->took_over_dead);
  EXPECT_EQ(got->since, kT0 + seconds(2));
  EXPECT_FALSE(*old_process.Renew("p1", kT0 + seconds(3), seconds(60)));
  EXPECT_FALSE(restarted.Acquire("p2", kT0 + seconds(2), seconds(60))->acquired);
  EXPECT_TRUE(restarted.Acquire("p2", kT0 + seconds(61), seconds(60))->acquired);
}

TEST_F(PairLeaseTest, HolderNamesAndProcessCheck) {
  EXPECT_EQ(PairLeases::MakeHolder("a/b", 42, "ff"), "a_b/42/ff");
  EXPECT_TRUE(PairLeases::ProcessAlive(getpid()));
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_FALSE(PairLeases::ProcessAlive(child));  // reaped: gone
  LeaseState s{.holder = "free-text"};
  EXPECT_EQ(s.Describe().rfind("holder free-text since ", 0), 0u);
}

// Two real processes contend for one pair's lease on one database file; every
// time one holds it, it records the interval. No two intervals may overlap.
TEST_F(PairLeaseTest, TwoProcessesNeverHoldTheSameLeaseAtOnce) {
  {
    auto db = Open();
    ASSERT_TRUE(db->Execute("CREATE TABLE runs(holder TEXT, start_us INTEGER, end_us INTEGER)").ok());
  }
  auto contend = [&](const std::string& holder) -> int {
    auto db = Database::Open({.path = path_});
    if (!db.ok()) return 10;
    PairLeases leases(**db, holder);
    SystemClock clock;
    int held = 0;
    for (int i = 0; i < 300; ++i) {
      auto got = leases.Acquire("pair", clock.Now(), seconds(30));
      if (!got.ok()) return 11;
      if (!got->acquired) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        continue;
      }
      int64_t start = ToUnixMicros(clock.Now());
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // "the run"
      int64_t end = ToUnixMicros(clock.Now());
      auto st = (*db)->Prepare("INSERT INTO runs VALUES(?1, ?2, ?3)");
      if (!st.ok()) return 12;
      st->BindText(1, holder).BindInt64(2, start).BindInt64(3, end);
      if (!st->Run().ok()) return 13;
      if (!leases.Release("pair").ok()) return 14;
      ++held;
      std::this_thread::sleep_for(std::chrono::microseconds(300));  // let the other in
    }
    return held > 0 ? 0 : 15;
  };
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(contend("child"));
  int parent_rc = contend("parent");
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(parent_rc, 0);

  auto db = Open();
  auto st = db->Prepare("SELECT holder, start_us, end_us FROM runs ORDER BY start_us");
  ASSERT_TRUE(st.ok());
  std::vector<std::tuple<std::string, int64_t, int64_t>> runs;
  while (*st->Step()) runs.emplace_back(st->Text(0), st->Int64(1), st->Int64(2));
  ASSERT_GT(runs.size(), 10u);
  for (size_t i = 1; i < runs.size(); ++i)
    EXPECT_LE(std::get<2>(runs[i - 1]), std::get<1>(runs[i])) << "overlapping runs at " << i;
  bool both = std::any_of(runs.begin(), runs.end(), [](auto& r) { return std::get<0>(r) == "child"; }) &&
              std::any_of(runs.begin(), runs.end(), [](auto& r) { return std::get<0>(r) == "parent"; });
  EXPECT_TRUE(both) << "both processes should have held the lease at some point";
}

}  // namespace
}  // namespace tandem::scheduler
