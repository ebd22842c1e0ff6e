#include "store/sqlite/database.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fmt/format.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite/database_pool.h"

namespace tandem::store::sqlite {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tandem-db-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Run as the other process of OpeningAnotherConnectionKeepsTheLocksOfTheFirst:
// open the database, read it, close it, exit (before any test runs).
const bool kOpenAndCloseHelper = [] {
  const char* path = std::getenv("TANDEM_TEST_OPEN_AND_CLOSE");
  if (path == nullptr) return false;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) _exit(2);
  if (sqlite3_exec(db, "SELECT count(*) FROM t", nullptr, nullptr, nullptr) != SQLITE_OK) _exit(3);
  sqlite3_close(db);
  _exit(0);
}();

std::unique_ptr<Database> OpenOrDie(const std::string& path) {
  auto db = Database::Open({.path = path});
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return std::move(db).value();
}

TEST(DatabaseTest, OpensWithWalAndForeignKeys) {
  TempDir dir;
  auto db = OpenOrDie(dir.File("a.db"));
  auto mode = db->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(mode->Step().value());
  EXPECT_EQ(mode->Text(0), "wal");
  auto fk = db->Prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(fk.ok());
  ASSERT_TRUE(fk->Step().value());
  EXPECT_EQ(fk->Int64(0), 1);
  auto sync = db->Prepare("PRAGMA synchronous");
  ASSERT_TRUE(sync.ok());
  ASSERT_TRUE(sync->Step().value());
  EXPECT_EQ(sync->Int64(0), 1);  // NORMAL
}

TEST(DatabaseTest, CreatesTheDatabaseAndItsWalAndShmOwnerOnlyWhateverTheUmask) {
  TempDir dir;
  mode_t old = ::umask(022);  // a root shell's umask: SQLite alone would make 0644 files
  {
    auto db = OpenOrDie(dir.File("secret.db"));
    ASSERT_TRUE(db->Execute("CREATE TABLE t(x); INSERT INTO t VALUES (1);").ok());
    for (const char* name : {"secret.db", "secret.db-wal", "secret.db-shm"}) {
      struct stat st {};
      ASSERT_EQ(::stat(dir.File(name).c_str(), &st), 0) << name;
      EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
    }
  }
  ::umask(old);
}

// Opening another connection to a database this process holds must not drop the
// first connection's locks: closing any descriptor of the file releases every
// POSIX lock of the process on it. A process whose shared lock is gone looks
// absent to the others: the last of them to close takes the file exclusively,
// checkpoints and deletes the WAL under the running process (seen as two
// tandemd on one database losing sight of each other's writes).
TEST(DatabaseTest, OpeningAnotherConnectionKeepsTheLocksOfTheFirst) {
  TempDir dir;
  std::string path = dir.File("locked.db");
  auto first = OpenOrDie(path);
  ASSERT_TRUE(first->Execute("PRAGMA wal_autocheckpoint = 0; CREATE TABLE t(x); "
                             "INSERT INTO t VALUES (1); SELECT count(*) FROM t")
                  .ok());
  auto second = OpenOrDie(path);  // the same file, the same process
  ASSERT_TRUE(std::filesystem::exists(path + "-wal"));
  // Another process (this binary started afresh: a forked child would share
  // SQLite's in-process lock table) opens and closes the database; it must see
  // that this process still has it open, and leave the WAL alone.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::setenv("TANDEM_TEST_OPEN_AND_CLOSE", path.c_str(), 1);
    ::execl("/proc/self/exe", "store_database_test", static_cast<char*>(nullptr));
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(std::filesystem::exists(path + "-wal"))
      << "another process took the database for unused and removed its WAL";
}

TEST(DatabaseTest, BindsAndReadsEveryType) {
  auto db = OpenOrDie(":memory:");
  ASSERT_TRUE(db->Execute("CREATE TABLE t(a TEXT, b INTEGER, c REAL, d BLOB, e INTEGER)").ok());
  auto insert = db->Prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)");
  ASSERT_TRUE(insert.ok());
  std::string blob("\0\x01\xff", 3);
  insert->BindText(1, "x'; DROP TABLE t; --")
      .BindInt64(2, int64_t{1} << 40)
      .BindDouble(3, 2.5)
      .BindBlob(4, std::string_view(blob))
      .BindNull(5);
  ASSERT_TRUE(insert->Run().ok());
  auto select = db->Prepare("SELECT a, b, c, d, e, typeof(d) FROM t");
  ASSERT_TRUE(select.ok());
  ASSERT_TRUE(select->Step().value());
  EXPECT_EQ(select->Text(0), "x'; DROP TABLE t; --");
  EXPECT_EQ(select->Int64(1), int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(select->Double(2), 2.5);
  EXPECT_EQ(select->Blob(3), blob);
  EXPECT_TRUE(select->IsNull(4));
  EXPECT_EQ(select->OptionalInt64(4), std::nullopt);
  EXPECT_EQ(select->Text(5), "blob");
  EXPECT_FALSE(select->Step().value());
}

TEST(DatabaseTest, BindErrorIsReportedByStep) {
  auto db = OpenOrDie(":memory:");
  auto stmt = db->Prepare("SELECT ?1");
  ASSERT_TRUE(stmt.ok());
  stmt->BindInt64(7, 1);  // no such parameter
  auto row = stmt->Step();
  ASSERT_FALSE(row.ok());
  EXPECT_EQ(row.status().code(), Code::kInvalidArgument);
}

TEST(DatabaseTest, PrepareErrorNamesTheSql) {
  auto db = OpenOrDie(":memory:");
  auto stmt = db->Prepare("SELEC nothing");
  ASSERT_FALSE(stmt.ok());
  EXPECT_NE(stmt.status().message().find("SELEC nothing"), std::string::npos);
}

TEST(DatabaseTest, ConstraintViolationsMapToDomainCodes) {
  auto db = OpenOrDie(":memory:");
  ASSERT_TRUE(db->Execute("CREATE TABLE p(id TEXT PRIMARY KEY);"
                          "CREATE TABLE c(id TEXT PRIMARY KEY, p TEXT REFERENCES p(id),"
                          " n INTEGER CHECK (n >= 0));"
                          "INSERT INTO p VALUES ('a');")
                  .ok());
  auto dup = db->Prepare("INSERT INTO p VALUES ('a')");
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->Run().code(), Code::kAlreadyExists);
  auto orphan = db->Prepare("INSERT INTO c VALUES ('x', 'missing', 1)");
  ASSERT_TRUE(orphan.ok());
  EXPECT_EQ(orphan->Run().code(), Code::kNotFound);
  auto negative = db->Prepare("INSERT INTO c VALUES ('x', 'a', -1)");
  ASSERT_TRUE(negative.ok());
  EXPECT_EQ(negative->Run().code(), Code::kInvalidArgument);
}

int64_t CountRows(Database& db, std::string_view table_sql) {
  auto stmt = db.Prepare(table_sql);
  EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
  EXPECT_TRUE(stmt->Step().value());
  return stmt->Int64(0);
}

TEST(DatabaseTest, TransactionRollsBackUnlessCommitted) {
  auto db = OpenOrDie(":memory:");
  ASSERT_TRUE(db->Execute("CREATE TABLE t(x INTEGER)").ok());
  {
    auto tx = Transaction::Begin(*db);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(db->Execute("INSERT INTO t VALUES (1)").ok());
  }  // destroyed without commit
  EXPECT_FALSE(db->InTransaction());
  EXPECT_EQ(CountRows(*db, "SELECT count(*) FROM t"), 0);
  {
    auto tx = Transaction::Begin(*db);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(db->Execute("INSERT INTO t VALUES (2)").ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_EQ(CountRows(*db, "SELECT count(*) FROM t"), 1);
}

TEST(DatabaseTest, CachedStatementsAreReusedAndReset) {
  auto db = OpenOrDie(":memory:");
  ASSERT_TRUE(db->Execute("CREATE TABLE t(x INTEGER)").ok());
  for (int i = 0; i < 10; ++i) {
    auto insert = db->PrepareCached("INSERT INTO t VALUES (?1)");
    ASSERT_TRUE(insert.ok());
    insert->BindInt64(1, i);
    ASSERT_TRUE(insert->Run().ok());
  }
  // Nested use of the same SQL gets two distinct statements.
  auto outer = db->PrepareCached("SELECT x FROM t ORDER BY x");
  ASSERT_TRUE(outer.ok());
  ASSERT_TRUE(outer->Step().value());
  auto inner = db->PrepareCached("SELECT x FROM t ORDER BY x");
  ASSERT_TRUE(inner.ok());
  ASSERT_TRUE(inner->Step().value());
  ASSERT_TRUE(outer->Step().value());
  EXPECT_EQ(outer->Int64(0), 1);
  EXPECT_EQ(inner->Int64(0), 0);
  EXPECT_EQ(CountRows(*db, "SELECT sum(x) FROM t"), 45);
}

constexpr std::string_view kV1 = "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL);";
constexpr std::string_view kV2 = "ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;";

TEST(MigrationsTest, AppliesInOrderOnceAndRecordsEachStep) {
  TempDir dir;
  std::vector<Migration> steps = {{1, "notes", kV1}, {2, "pinned", kV2}};
  {
    auto db = OpenOrDie(dir.File("m.db"));
    EXPECT_EQ(AppliedSchemaVersion(*db, "demo").value(), 0);
    ASSERT_TRUE(ApplyMigrations(*db, "demo", {steps[0]}).ok());
    EXPECT_EQ(AppliedSchemaVersion(*db, "demo").value(), 1);
    ASSERT_TRUE(ApplyMigrations(*db, "demo", steps).ok());
    EXPECT_EQ(AppliedSchemaVersion(*db, "demo").value(), 2);
  }
  auto db = OpenOrDie(dir.File("m.db"));
  // Reopening and applying again changes nothing (ALTER TABLE would fail if re-run).
  ASSERT_TRUE(ApplyMigrations(*db, "demo", steps).ok());
  EXPECT_EQ(CountRows(*db, "SELECT count(*) FROM schema_migrations WHERE component = 'demo'"), 2);
  auto names = db->Prepare(
      "SELECT name, applied_at FROM schema_migrations WHERE component = 'demo' ORDER BY version");
  ASSERT_TRUE(names.ok());
  ASSERT_TRUE(names->Step().value());
  EXPECT_EQ(names->Text(0), "notes");
  EXPECT_FALSE(names->Text(1).empty());
  ASSERT_TRUE(names->Step().value());
  EXPECT_EQ(names->Text(0), "pinned");
  // Components are independent.
  EXPECT_EQ(AppliedSchemaVersion(*db, "other").value(), 0);
}

TEST(MigrationsTest, UsesTheInjectedClockForAppliedAt) {
  FakeClock clock(FromUnixSeconds(1'700'000'000));
  auto db = Database::Open({.path = ":memory:", .clock = &clock});
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(ApplyMigrations(**db, "demo", {{1, "notes", kV1}}).ok());
  auto at = (*db)->Prepare("SELECT applied_at FROM schema_migrations");
  ASSERT_TRUE(at.ok());
  ASSERT_TRUE(at->Step().value());
  EXPECT_EQ(at->Text(0), FormatRfc3339(FromUnixSeconds(1'700'000'000)));
}

TEST(MigrationsTest, FailingStepIsRolledBackAndReported) {
  auto db = OpenOrDie(":memory:");
  std::vector<Migration> steps = {
      {1, "notes", kV1},
      {2, "broken", "CREATE TABLE half(x INTEGER); INSERT INTO nowhere VALUES (1);"}};
  Status status = ApplyMigrations(*db, "demo", steps);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("broken"), std::string::npos);
  EXPECT_EQ(AppliedSchemaVersion(*db, "demo").value(), 1);
  EXPECT_EQ(CountRows(*db, "SELECT count(*) FROM sqlite_schema WHERE name = 'half'"), 0);
}

TEST(MigrationsTest, RejectsGapsAndNewerDatabases) {
  auto db = OpenOrDie(":memory:");
  EXPECT_EQ(ApplyMigrations(*db, "demo", {{1, "a", kV1}, {3, "c", kV2}}).code(),
            Code::kInvalidArgument);
  ASSERT_TRUE(ApplyMigrations(*db, "demo", {{1, "a", kV1}, {2, "b", kV2}}).ok());
  EXPECT_EQ(ApplyMigrations(*db, "demo", {{1, "a", kV1}}).code(), Code::kConflict);
}

TEST(DatabaseTest, AFileThatIsNotADatabaseIsCorruption) {
  TempDir dir;
  std::string path = dir.File("garbage.db");
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string junk(8192, 'x');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  auto db = Database::Open({.path = path});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kCorruption) << db.status().ToString();
}

TEST(DatabaseTest, IntegrityCheckPassesOnASoundDatabase) {
  TempDir dir;
  auto db = OpenOrDie(dir.File("sound.db"));
  ASSERT_TRUE(db->Execute("CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT);"
                          "CREATE INDEX t_y ON t(y); INSERT INTO t(y) VALUES ('a'), ('b');")
                  .ok());
  EXPECT_TRUE(CheckIntegrity(*db).ok());
}

TEST(DatabaseTest, IntegrityCheckFindsADamagedPage) {
  TempDir dir;
  std::string path = dir.File("damaged.db");
  {
    auto db = OpenOrDie(path);
    ASSERT_TRUE(
        db->Execute("PRAGMA journal_mode=DELETE; PRAGMA page_size=4096;"
                    "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT); CREATE INDEX t_y ON t(y);"
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < 2000) INSERT INTO t(y) SELECT printf('row %08d', i) FROM n;")
            .ok());
  }
  ASSERT_GT(std::filesystem::file_size(path), 5u * 4096);
  {
    // Scribble over the middle of the third page (a b-tree page of the table).
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 2 * 4096 + 8, SEEK_SET);
    std::string junk(3000, '\xA5');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  auto db = Database::Open({.path = path});
  ASSERT_TRUE(db.ok()) << db.status().ToString();  // the header is intact
  Status status = CheckIntegrity(**db);
  EXPECT_EQ(status.code(), Code::kCorruption) << status.ToString();
}

TEST(DatabasePoolTest, ReadersSeeCommittedDataWhileAWriteIsOpen) {
  TempDir dir;
  auto pool = DatabasePool::Open({.path = dir.File("p.db"), .max_readers = 2});
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  {
    auto w = (*pool)->Write();
    ASSERT_TRUE(w->Execute("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);").ok());
  }
  auto w = (*pool)->Write();
  auto tx = Transaction::Begin(*w);
  ASSERT_TRUE(tx.ok());
  ASSERT_TRUE(w->Execute("INSERT INTO t VALUES (2)").ok());
  // Two readers at once, neither blocked by the open write transaction.
  auto r1 = (*pool)->Read();
  auto r2 = (*pool)->Read();
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_NE(&**r1, &**r2);
  EXPECT_EQ(CountRows(**r1, "SELECT count(*) FROM t"), 1);
  EXPECT_EQ(CountRows(**r2, "SELECT count(*) FROM t"), 1);
  // Readers refuse to write.
  EXPECT_FALSE((*r1)->Execute("INSERT INTO t VALUES (3)").ok());
  ASSERT_TRUE(tx->Commit().ok());
  EXPECT_EQ(CountRows(**r1, "SELECT count(*) FROM t"), 2);
}

TEST(DatabasePoolTest, ABatchGroupsNestedWritesAndReadsItsOwnUncommittedRows) {
  TempDir dir;
  auto pool = DatabasePool::Open({.path = dir.File("b.db"), .max_readers = 2});
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  {
    auto w = (*pool)->Write();
    ASSERT_TRUE(w->Execute("CREATE TABLE t(x INTEGER UNIQUE)").ok());
  }
  auto batch = (*pool)->BeginBatch();
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  // Code inside the batch takes its own leases and transactions as usual.
  for (int x : {1, 2}) {
    auto w = (*pool)->Write();
    auto tx = Transaction::Begin(*w);
    ASSERT_TRUE(tx.ok()) << tx.status().ToString();
    ASSERT_TRUE(w->Execute(fmt::format("INSERT INTO t VALUES ({})", x)).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  {
    // A failing write undoes only itself.
    auto w = (*pool)->Write();
    auto tx = Transaction::Begin(*w);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(w->Execute("INSERT INTO t VALUES (3)").ok());
    EXPECT_EQ(w->Execute("INSERT INTO t VALUES (1)").code(), Code::kAlreadyExists);
  }  // rolled back: 3 goes, 1 and 2 stay
  {
    auto r = (*pool)->Read();  // this thread reads through the batch
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(CountRows(**r, "SELECT count(*) FROM t"), 2);
  }
  // Another thread neither sees the rows nor writes until the commit.
  std::atomic<bool> wrote{false};
  std::thread other([&] {
    auto r = (*pool)->Read();
    EXPECT_EQ(CountRows(**r, "SELECT count(*) FROM t"), 0);
    auto w = (*pool)->Write();
    wrote = true;
    EXPECT_EQ(CountRows(*w, "SELECT count(*) FROM t"), 2);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(wrote.load());
  ASSERT_TRUE(batch->Commit().ok());
  other.join();
  EXPECT_TRUE(wrote.load());

  // A batch dropped without Commit rolls back everything in it.
  {
    auto dropped = (*pool)->BeginBatch();
    ASSERT_TRUE(dropped.ok());
    auto w = (*pool)->Write();
    ASSERT_TRUE(w->Execute("INSERT INTO t VALUES (9)").ok());
  }
  auto w = (*pool)->Write();
  EXPECT_EQ(CountRows(*w, "SELECT count(*) FROM t"), 2);
  EXPECT_FALSE(w->InTransaction());
}

TEST(DatabasePoolTest, InMemoryPoolSharesOneConnection) {
  auto pool = DatabasePool::Open({.path = ":memory:"});
  ASSERT_TRUE(pool.ok());
  {
    auto w = (*pool)->Write();
    ASSERT_TRUE(w->Execute("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (7);").ok());
  }
  auto r = (*pool)->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(CountRows(**r, "SELECT sum(x) FROM t"), 7);
}

TEST(DatabasePoolTest, ConcurrentWritersLoseNothing) {
  TempDir dir;
  auto pool = DatabasePool::Open({.path = dir.File("c.db"), .max_readers = 3});
  ASSERT_TRUE(pool.ok());
  {
    auto w = (*pool)->Write();
    ASSERT_TRUE(
        w->Execute("CREATE TABLE counter(n INTEGER); INSERT INTO counter VALUES (0);").ok());
  }
  constexpr int kThreads = 6;
  constexpr int kIncrements = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        {
          auto r = (*pool)->Read();
          if (!r.ok()) ++failures;
        }
        auto w = (*pool)->Write();
        auto tx = Transaction::Begin(*w);
        if (!tx.ok()) {
          ++failures;
          continue;
        }
        // Read-modify-write: would lose increments without write serialization.
        auto read = w->PrepareCached("SELECT n FROM counter");
        if (!read.ok() || !read->Step().value_or(false)) {
          ++failures;
          continue;
        }
        int64_t n = read->Int64(0);
        read->Reset();
        auto write = w->PrepareCached("UPDATE counter SET n = ?1");
        if (!write.ok()) {
          ++failures;
          continue;
        }
        write->BindInt64(1, n + 1);
        if (!write->Run().ok() || !tx->Commit().ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto r = (*pool)->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(CountRows(**r, "SELECT n FROM counter"), kThreads * kIncrements);
}

}  // namespace
}  // namespace tandem::store::sqlite
