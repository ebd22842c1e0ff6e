// DigestPool: digests a stream of items on worker threads while they keep
// arriving, and hands each result back on the thread that added the items, in
// the order the items came (so that whatever the caller does with them, href
// de-duplication, spilling, reporting, is as if digested one after the other).
//
// Thread safety: Add and Finish are called from one thread (the one the results
// are handed to); the codec must be thread-safe (EventCodec is).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "sync/event_codec.h"

namespace tandem::sync {

class DigestPool {
 public:
  // Called in arrival order, on the adding thread, with the item and its digest.
  // An error stops the pool: later Add and Finish calls return it.
  using Done = std::function<Status(Item&& item, Result<Observation>&& digest)>;

  // `workers` threads (0: each item is digested inside Add); at most
  // `max_in_flight` items wait for a digest or for their turn at once.
  DigestPool(const EventCodec& codec, TimeRange window, int workers, size_t max_in_flight,
             Done done);
  DigestPool(const DigestPool&) = delete;
  DigestPool& operator=(const DigestPool&) = delete;
  // Stops the workers; results not yet handed back are dropped.
  ~DigestPool();

  // Queues the item; hands back the results that are ready (waits for the
  // oldest when `max_in_flight` are pending).
  Status Add(Item&& item);
  // Waits for every queued item and hands back the rest.
  Status Finish();

 private:
  struct Slot {
    Item item;
    std::optional<Result<Observation>> digest;
  };
  void Work();
  // Hands back the ready results at the front; with `wait`, waits until the
  // queue is no longer than `keep`.
  Status Drain(std::unique_lock<std::mutex>& lock, size_t keep);

  const EventCodec& codec_;
  const TimeRange window_;
  const size_t max_in_flight_;
  Done done_;
  Status failed_;

  std::mutex mu_;
  std::condition_variable work_;   // workers: an item to take, or stop
  std::condition_variable ready_;  // adder: a digest arrived
  std::deque<Slot> slots_;         // in arrival order; front = oldest not handed back
  size_t handed_ = 0;              // items handed back (the sequence number of slots_.front())
  size_t taken_ = 0;               // items taken by a worker
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tandem::sync
