// Runs the Store contract suite (store_contract_test.cc) against SQLite, on a
// file and in memory, plus SQLite-specific checks.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "store/sqlite/schema.h"
#include "store/store_contract_test.h"

namespace tandem::store::contract {
namespace {

class SqliteFileLocation final : public StoreLocation {
 public:
  SqliteFileLocation() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "tandem-store-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  ~SqliteFileLocation() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Result<std::unique_ptr<Store>> Open(const Clock& clock, IdGenerator& ids) override {
    return OpenSqliteStore({.path = (dir_ / "tandem.db").string(), .clock = &clock, .ids = &ids});
  }
  bool CanReopen() const override { return true; }

 private:
  std::filesystem::path dir_;
};

class SqliteMemoryLocation final : public StoreLocation {
 public:
  Result<std::unique_ptr<Store>> Open(const Clock& clock, IdGenerator& ids) override {
    return OpenSqliteStore({.path = ":memory:", .clock = &clock, .ids = &ids});
  }
  bool CanReopen() const override { return false; }
};

INSTANTIATE_TEST_SUITE_P(
    Sqlite, StoreContractTest,
    ::testing::Values(
        StoreFactory{"File", [] { return std::make_unique<SqliteFileLocation>(); }},
        StoreFactory{"Memory", [] { return std::make_unique<SqliteMemoryLocation>(); }}),
    [](const ::testing::TestParamInfo<StoreFactory>& info) { return info.param.name; });

TEST(SqliteStoreTest, RequiresClockAndIds) {
  FakeClock clock(FromUnixSeconds(1'790'000'000));
  SeededRandom random(1);
  IdGenerator ids(clock, random);
  EXPECT_EQ(OpenSqliteStore({.path = ":memory:", .clock = nullptr, .ids = &ids}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(OpenSqliteStore({.path = ":memory:", .clock = &clock, .ids = nullptr}).status().code(),
            Code::kInvalidArgument);
}

TEST(SqliteStoreTest, BatchCreateIsAllOrNothingAndLogsEveryRecord) {
  FakeClock clock(FromUnixSeconds(1'790'000'000));
  SeededRandom random(1);
  IdGenerator ids(clock, random);
  auto store = sqlite::SqliteStore::Open({.path = ":memory:", .clock = &clock, .ids = &ids});
  ASSERT_TRUE(store.ok());
  std::vector<model::Activity> batch(3);
  for (int i = 0; i < 3; ++i) {
    batch[i].meta.owner_id = "o";
    batch[i].subject = "s" + std::to_string(i);
    batch[i].start = batch[i].end = FromUnixSeconds(1'790'000'000 + i);
  }
  batch[2].subject.clear();  // invalid: nothing is written
  EXPECT_EQ((*store)->CreateActivities(batch).status().code(), Code::kInvalidArgument);
  EXPECT_EQ((*store)->LatestSeq().value(), 0);
  batch[2].subject = "s2";
  auto created = (*store)->CreateActivities(batch);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto feed = (*store)->ChangesSince(0, 10, {});
  ASSERT_TRUE(feed.ok());
  ASSERT_EQ(feed->changes.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(feed->changes[i].id, (*created)[i].meta.id);
}

TEST(SqliteStoreTest, OtherComponentsMigrateTheirOwnTablesInTheSameDatabase) {
  FakeClock clock(FromUnixSeconds(1'790'000'000));
  SeededRandom random(1);
  IdGenerator ids(clock, random);
  auto store = sqlite::SqliteStore::Open({.path = ":memory:", .clock = &clock, .ids = &ids});
  ASSERT_TRUE(store.ok());
  auto w = (*store)->pool().Write();
  ASSERT_TRUE(sqlite::ApplyMigrations(*w, "demo",
                                      {{1, "t", "CREATE TABLE demo_items(id TEXT PRIMARY KEY);"}})
                  .ok());
  EXPECT_EQ(sqlite::AppliedSchemaVersion(*w, "demo").value(), 1);
  EXPECT_EQ(sqlite::AppliedSchemaVersion(*w, sqlite::kCrmComponent).value(),
            (*store)->SchemaVersion());
}

}  // namespace
}  // namespace tandem::store::contract
