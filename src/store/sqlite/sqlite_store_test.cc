// Runs the Store contract suite (store_contract_test.cc) against SQLite, on a
// file and in memory, plus SQLite-specific checks.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "store/sqlite/schema.h"
#include "store/store_contract_test.h"

namespace tandem::store::contract {
namespace {

class SqliteFileLocation final : public StoreLocation {
 public:
  SqliteFileLocation() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tandem-store-XXXXXX").string();
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
    ::testing::Values(StoreFactory{"File", [] { return std::make_unique<SqliteFileLocation>(); }},
                      StoreFactory{"Memory",
                                   [] { return std::make_unique<SqliteMemoryLocation>(); }}),
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
  batch[2].subject = std::string(1001, 'x');  // invalid (too long): nothing is written
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

TEST(SqliteStoreTest, ApplyWritesUpsertsRemovesAndCommitsWithTheCallersRowsOrNotAtAll) {
  FakeClock clock(FromUnixSeconds(1'790'000'000));
  SeededRandom random(1);
  IdGenerator ids(clock, random);
  auto opened = sqlite::SqliteStore::Open({.path = ":memory:", .clock = &clock, .ids = &ids});
  ASSERT_TRUE(opened.ok());
  auto& store = **opened;
  {
    auto w = store.pool().Write();
    ASSERT_TRUE(w->Execute("CREATE TABLE cursor(value TEXT)").ok());
    ASSERT_TRUE(w->Execute("INSERT INTO cursor VALUES ('start')").ok());
  }
  model::Contact kept;
  kept.meta.id = "c-kept";
  kept.meta.owner_id = "o";
  kept.first_name = "Before";
  ASSERT_TRUE(store.Create(kept).ok());
  model::Account gone;
  gone.meta.id = "a-gone";
  gone.meta.owner_id = "o";
  gone.name = "Gone";
  ASSERT_TRUE(store.Create(gone).ok());

  auto page = [&](const std::string& bad_subject) {
    std::vector<sqlite::SqliteStore::RecordWrite> writes;
    model::Contact changed = kept;
    changed.first_name = "After";
    changed.meta.version = 42;  // the server's version: the local store keeps its own
    // Wrong hint on purpose: "not present" for an existing record still updates it.
    writes.push_back({model::EntityType::kContact, changed.meta.id, changed, false});
    model::Activity fresh;
    fresh.meta.id = "act-new";
    fresh.meta.owner_id = "o";
    fresh.subject = bad_subject;
    fresh.start = fresh.end = clock.Now();
    // Wrong hint the other way: "present" for a missing record creates it.
    writes.push_back({model::EntityType::kActivity, fresh.meta.id, fresh, true});
    writes.push_back({model::EntityType::kAccount, "a-gone", std::monostate{}, true});
    writes.push_back({model::EntityType::kAccount, "never-there", std::monostate{}, false});
    return store.ApplyWrites(std::move(writes), [](sqlite::Database& db) {
      return db.Execute("UPDATE cursor SET value = 'page-1'");
    });
  };
  auto cursor = [&] {
    auto r = store.pool().Read();
    auto stmt = (*r)->Prepare("SELECT value FROM cursor");
    EXPECT_TRUE(stmt.ok());
    EXPECT_TRUE(stmt->Step().value());
    return stmt->Text(0);
  };
  int64_t seq_before = store.LatestSeq().value();

  // An invalid record in the page: nothing of it is written, the cursor stays.
  Status failed = page(std::string(1001, 'x'));  // too long a subject
  EXPECT_EQ(failed.code(), Code::kInvalidArgument);
  EXPECT_NE(failed.message().find("act-new"), std::string::npos) << failed.ToString();
  EXPECT_EQ(store.GetContact("c-kept")->first_name, "Before");
  EXPECT_TRUE(store.GetAccount("a-gone").ok());
  EXPECT_EQ(store.GetActivity("act-new").status().code(), Code::kNotFound);
  EXPECT_EQ(cursor(), "start");
  EXPECT_EQ(store.LatestSeq().value(), seq_before);

  ASSERT_TRUE(page("Kick-off").ok());
  auto contact = store.GetContact("c-kept");
  EXPECT_EQ(contact->first_name, "After");
  EXPECT_EQ(contact->meta.version, 2);
  EXPECT_EQ(store.GetActivity("act-new")->subject, "Kick-off");
  EXPECT_EQ(store.GetAccount("a-gone").status().code(), Code::kNotFound);
  EXPECT_EQ(cursor(), "page-1");
  // Every write is in the local change feed (the local API's clients see them).
  auto feed = store.ChangesSince(seq_before, 10, {});
  ASSERT_TRUE(feed.ok());
  EXPECT_EQ(feed->changes.size(), 3u);
}

TEST(SqliteStoreTest, ImportStreamsManyActivitiesInOneTransaction) {
  FakeClock clock(FromUnixSeconds(1'790'000'000));
  SeededRandom random(1);
  IdGenerator ids(clock, random);
  auto store = sqlite::SqliteStore::Open({.path = ":memory:", .clock = &clock, .ids = &ids});
  ASSERT_TRUE(store.ok());
  int produced = 0;
  auto bad = (*store)->ImportActivities([&](model::Activity* a) {
    if (produced == 5) return false;
    a->meta.owner_id = "o";
    a->subject = produced == 3 ? std::string(1001, 'x') : "s";  // the fourth is invalid
    ++produced;
    return true;
  });
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_EQ((*store)->LatestSeq().value(), 0);  // rolled back entirely

  produced = 0;
  auto imported = (*store)->ImportActivities([&](model::Activity* a) {
    if (produced == 500) return false;
    a->meta.owner_id = "o" + std::to_string(produced % 3);
    a->subject = "s" + std::to_string(produced);
    a->start = a->end = FromUnixSeconds(1'790'000'000 + produced);
    ++produced;
    return true;
  });
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(*imported, 500);
  auto feed = (*store)->ChangesSince(0, 1000, {.entity = {}, .owner_id = "o1"});
  ASSERT_TRUE(feed.ok());
  EXPECT_EQ(feed->changes.size(), 167u);
}

TEST(SqliteStoreTest, TimeRangeListsSelectSeriesByTheirStoredEnd) {
  FakeClock clock(FromUnixSeconds(1'790'000'000));
  SeededRandom random(1);
  IdGenerator ids(clock, random);
  // A stand-in for ical::SeriesEnd: "COUNT=N" daily series end N days after the start.
  auto series_end = [](const model::Activity& a) -> std::optional<Instant> {
    size_t at = a.rrule.find("COUNT=");
    if (at == std::string::npos) return std::nullopt;
    return a.start + std::chrono::days(std::stoi(a.rrule.substr(at + 6))) + (a.end - a.start);
  };
  auto store = sqlite::SqliteStore::Open(
      {.path = ":memory:", .clock = &clock, .ids = &ids, .series_end = series_end});
  ASSERT_TRUE(store.ok());
  const Instant t0 = FromUnixSeconds(1'790'000'000);
  auto add = [&](const char* subject, Instant start, const char* rrule) {
    model::Activity a;
    a.meta.owner_id = "o";
    a.subject = subject;
    a.start = start;
    a.end = start + std::chrono::hours(1);
    a.rrule = rrule;
    auto created = (*store)->Create(a);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  };
  using std::chrono::days;
  add("ended last month", t0 - days(60), "FREQ=DAILY;COUNT=10");
  add("runs into the range", t0 - days(60), "FREQ=DAILY;COUNT=100");
  add("endless since long ago", t0 - days(3000), "FREQ=WEEKLY");
  add("starts after the range", t0 + days(30), "FREQ=DAILY;COUNT=3");
  add("single, in range", t0 + days(1), "");
  ListOptions o;
  o.from = t0;
  o.to = t0 + days(7);
  auto page = (*store)->ListActivities(o);
  ASSERT_TRUE(page.ok());
  std::set<std::string> got;
  for (const auto& a : page->items) got.insert(a.subject);
  EXPECT_EQ(got, (std::set<std::string>{"runs into the range", "endless since long ago",
                                        "single, in range"}));
  // The series' branch of the query is served by its index.
  auto r = (*store)->pool().Read();
  ASSERT_TRUE(r.ok());
  auto plan = (*r)->Prepare(
      "EXPLAIN QUERY PLAN SELECT id FROM activities WHERE series_end IS NOT NULL AND "
      "series_end >= 0 AND start_at < 1");
  ASSERT_TRUE(plan.ok());
  std::string details;
  while (plan->Step().value()) details += plan->Text(3) + "\n";
  EXPECT_NE(details.find("activities_series"), std::string::npos) << details;
}

TEST(SqliteStoreTest, TwoStoresOnOneFileSerializeTheirWrites) {
  // Two SqliteStore objects stand for two processes sharing the database: the
  // SQLite file lock and busy timeout, not the in-process pool, keep them apart.
  std::string pattern = (std::filesystem::temp_directory_path() / "tandem-two-XXXXXX").string();
  std::filesystem::path dir = mkdtemp(pattern.data());
  std::string path = (dir / "shared.db").string();
  FakeClock clock(FromUnixSeconds(1'790'000'000));
  SeededRandom random(1);
  IdGenerator ids(clock, random);
  {
    auto first = OpenSqliteStore({.path = path, .clock = &clock, .ids = &ids});
    auto second = OpenSqliteStore({.path = path, .clock = &clock, .ids = &ids});
    ASSERT_TRUE(first.ok() && second.ok());
    EXPECT_EQ((*first)->Epoch(), (*second)->Epoch());
    auto a = (*first)->Create(model::Account{.meta = {.owner_id = "o"}, .name = "shared"});
    ASSERT_TRUE(a.ok());
    std::atomic<int> ok{0}, stale{0}, other{0};
    auto work = [&](Store* store) {
      for (int i = 0; i < 60; ++i) {
        auto current = store->GetAccount(a->meta.id);
        if (!current.ok()) {
          ++other;
          continue;
        }
        model::Account next = *current;
        next.notes += "x";
        auto updated = store->Update(next, current->meta.version);
        if (updated.ok()) {
          ++ok;
        } else if (updated.status().code() == Code::kPreconditionFailed) {
          ++stale;
        } else {
          ++other;
          ADD_FAILURE() << updated.status().ToString();
        }
      }
    };
    std::thread t1(work, first->get());
    std::thread t2(work, second->get());
    t1.join();
    t2.join();
    EXPECT_EQ(other.load(), 0);
    auto final_state = (*second)->GetAccount(a->meta.id);
    ASSERT_TRUE(final_state.ok());
    EXPECT_EQ(final_state->meta.version, ok.load() + 1);
    EXPECT_EQ(static_cast<int>(final_state->notes.size()), ok.load());
    EXPECT_EQ(ok.load() + stale.load(), 120);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
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
