#include "scheduler/pair_lease.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
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
  EXPECT_TRUE(*a.Acquire("p1", kT0, seconds(60)));
  EXPECT_FALSE(*b.Acquire("p1", kT0 + seconds(30), seconds(60)));
  EXPECT_TRUE(*b.Acquire("p2", kT0, seconds(60)));  // leases are per pair
  EXPECT_TRUE(*a.Acquire("p1", kT0 + seconds(30), seconds(60)));  // re-entrant for its holder
  EXPECT_TRUE(*a.Renew("p1", kT0 + seconds(50), seconds(60)));
  EXPECT_FALSE(*b.Acquire("p1", kT0 + seconds(100), seconds(60)));  // renewed until 110
  // a dies without releasing: the lease expires and b takes over.
  EXPECT_TRUE(*b.Acquire("p1", kT0 + seconds(111), seconds(60)));
  EXPECT_FALSE(*a.Renew("p1", kT0 + seconds(112), seconds(60)));  // a learns it lost it
  ASSERT_TRUE(a.Release("p1").ok());                              // releasing another's: no-op
  EXPECT_FALSE(*a.Acquire("p1", kT0 + seconds(113), seconds(60)));
  ASSERT_TRUE(b.Release("p1").ok());
  EXPECT_TRUE(*a.Acquire("p1", kT0 + seconds(114), seconds(60)));
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
      if (!*got) {
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
