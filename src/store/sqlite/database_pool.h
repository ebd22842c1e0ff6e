// DatabasePool: the connections of one SQLite database shared by a process.
//
// One writer connection, handed out exclusively (writes are serialized in the
// process; across processes SQLite's lock and the busy timeout serialize them),
// and up to `max_readers` reader connections (PRAGMA query_only) so that many
// threads read concurrently while a write is in progress (WAL).
//
// An in-memory database (":memory:") is private to one connection, so there the
// pool has only the writer: Read() hands out the writer too, and reads are
// serialized with writes.
//
// Thread safety: DatabasePool is thread-safe. A Lease, and the Database it
// lends, belong to the thread that took it until the Lease is destroyed.
// REQUIRES: a thread holding a Lease must not ask for a Write() lease (and, for
// an in-memory database, for any lease): it would wait for itself. The exception
// is a Batch: while a thread holds one, its Write() and Read() lend it the
// batch's writer again (nested Transactions become savepoints), so the code it
// calls reads its own uncommitted writes.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/database.h"

namespace tandem::store::sqlite {

struct DatabasePoolOptions {
  std::string path;  // file, or ":memory:"
  int busy_timeout_ms = 5000;
  int max_readers = 4;
  const Clock* clock = nullptr;  // for schema_migrations.applied_at; may be null
};

class DatabasePool {
 public:
  // Opens the writer connection now (creating the file); readers open on demand.
  static Result<std::unique_ptr<DatabasePool>> Open(const DatabasePoolOptions& options);
  ~DatabasePool();
  DatabasePool(const DatabasePool&) = delete;
  DatabasePool& operator=(const DatabasePool&) = delete;

  // A connection lent until destruction.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease();
    Database& operator*() const { return *db_; }
    Database* operator->() const { return db_; }
    Database& db() const { return *db_; }

   private:
    friend class DatabasePool;
    Lease(DatabasePool* pool, Database* db, bool writer, bool nested = false)
        : pool_(pool), db_(db), writer_(writer), nested_(nested) {}
    DatabasePool* pool_;
    Database* db_;
    bool writer_;
    bool nested_;  // lent again inside a Batch: returning it releases nothing
  };

  // Many writes of this thread in ONE transaction (group commit): holds the
  // writer from BeginBatch until Commit or destruction (rollback). Other threads'
  // writes wait meanwhile, so keep batches short (a few hundred writes). Writes
  // that fail inside it roll back only their own savepoint.
  class Batch {
   public:
    Batch(Batch&& other) noexcept;
    Batch& operator=(Batch&&) = delete;
    Batch(const Batch&) = delete;
    ~Batch();
    // Commits; the batch is over either way.
    Status Commit();

   private:
    friend class DatabasePool;
    Batch(DatabasePool* pool, Lease lease, Transaction tx)
        : pool_(pool), lease_(std::move(lease)), tx_(std::move(tx)) {}
    void End();  // gives the writer back
    DatabasePool* pool_;
    std::optional<Lease> lease_;
    Transaction tx_;
    bool ended_ = false;
  };
  Result<Batch> BeginBatch();

  // The writer connection; blocks while another thread holds it.
  Lease Write();
  // A reader connection (the writer for an in-memory database); blocks while all
  // readers are lent. Fails only when a new connection cannot be opened.
  Result<Lease> Read();

  bool in_memory() const { return in_memory_; }
  const DatabasePoolOptions& options() const { return options_; }

 private:
  explicit DatabasePool(DatabasePoolOptions options);
  void Return(Database* db, bool writer);

  DatabasePoolOptions options_;
  bool in_memory_ = false;

  std::mutex writer_mu_;
  std::condition_variable writer_cv_;
  bool writer_lent_ = false;
  bool batch_open_ = false;
  std::thread::id batch_owner_;  // valid while batch_open_
  std::unique_ptr<Database> writer_;

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Database>> readers_;  // all reader connections
  std::vector<Database*> idle_readers_;
  int opening_readers_ = 0;  // being opened outside the lock
};

}  // namespace tandem::store::sqlite
