#include "store/sqlite/database_pool.h"

#include <algorithm>
#include <utility>

namespace tandem::store::sqlite {

DatabasePool::DatabasePool(DatabasePoolOptions options) : options_(std::move(options)) {
  in_memory_ = options_.path.empty() || options_.path == ":memory:";
}

DatabasePool::~DatabasePool() = default;

Result<std::unique_ptr<DatabasePool>> DatabasePool::Open(const DatabasePoolOptions& options) {
  std::unique_ptr<DatabasePool> pool(new DatabasePool(options));
  DatabaseOptions db_options{.path = options.path,
                             .busy_timeout_ms = options.busy_timeout_ms,
                             .query_only = false,
                             .clock = options.clock};
  TANDEM_ASSIGN_OR_RETURN(pool->writer_, Database::Open(db_options));
  return pool;
}

DatabasePool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      db_(std::exchange(other.db_, nullptr)),
      writer_(other.writer_),
      nested_(other.nested_) {}

DatabasePool::Lease::~Lease() {
  if (pool_ != nullptr && !nested_) pool_->Return(db_, writer_);
}

DatabasePool::Lease DatabasePool::Write() {
  std::unique_lock lock(writer_mu_);
  if (batch_open_ && batch_owner_ == std::this_thread::get_id()) {
    return Lease(this, writer_.get(), true, /*nested=*/true);
  }
  writer_cv_.wait(lock, [this] { return !writer_lent_; });
  writer_lent_ = true;
  return Lease(this, writer_.get(), true);
}

Result<DatabasePool::Batch> DatabasePool::BeginBatch() {
  Lease lease = Write();
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*lease));
  {
    std::lock_guard lock(writer_mu_);
    batch_open_ = true;
    batch_owner_ = std::this_thread::get_id();
  }
  return Batch(this, std::move(lease), std::move(tx));
}

DatabasePool::Batch::Batch(Batch&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      lease_(std::move(other.lease_)),
      tx_(std::move(other.tx_)),
      ended_(std::exchange(other.ended_, true)) {}

DatabasePool::Batch::~Batch() {
  if (!ended_) {
    (void)tx_.Rollback();
    End();
  }
}

Status DatabasePool::Batch::Commit() {
  if (ended_) return Status::Internal("commit of a finished batch");
  Status s = tx_.Commit();
  End();
  return s;
}

void DatabasePool::Batch::End() {
  ended_ = true;
  {
    std::lock_guard lock(pool_->writer_mu_);
    pool_->batch_open_ = false;
  }
  lease_.reset();
}

Result<DatabasePool::Lease> DatabasePool::Read() {
  {
    std::lock_guard lock(writer_mu_);
    if (batch_open_ && batch_owner_ == std::this_thread::get_id()) {
      return Lease(this, writer_.get(), true, /*nested=*/true);
    }
  }
  if (in_memory_) return Write();
  std::unique_lock lock(readers_mu_);
  while (idle_readers_.empty()) {
    if (static_cast<int>(readers_.size()) + opening_readers_ < std::max(1, options_.max_readers)) {
      DatabaseOptions db_options{.path = options_.path,
                                 .busy_timeout_ms = options_.busy_timeout_ms,
                                 .query_only = true,
                                 .clock = options_.clock};
      // Opening a file touches the disk; other threads may return readers meanwhile.
      ++opening_readers_;
      lock.unlock();
      auto opened = Database::Open(db_options);
      lock.lock();
      --opening_readers_;
      if (!opened.ok()) {
        readers_cv_.notify_one();  // a waiter may try to open one itself
        return opened.status();
      }
      readers_.push_back(std::move(opened).value());
      return Lease(this, readers_.back().get(), false);
    }
    readers_cv_.wait(lock);
  }
  Database* db = idle_readers_.back();
  idle_readers_.pop_back();
  return Lease(this, db, false);
}

void DatabasePool::Return(Database* db, bool writer) {
  if (writer) {
    {
      std::lock_guard lock(writer_mu_);
      writer_lent_ = false;
    }
    writer_cv_.notify_one();
    return;
  }
  {
    std::lock_guard lock(readers_mu_);
    idle_readers_.push_back(db);
  }
  readers_cv_.notify_one();
}

}  // namespace tandem::store::sqlite
