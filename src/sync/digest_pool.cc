#include "sync/digest_pool.h"

#include <utility>

namespace tandem::sync {

DigestPool::DigestPool(const EventCodec& codec, TimeRange window, int workers,
                       size_t max_in_flight, Done done)
    : codec_(codec),
      window_(window),
      max_in_flight_(max_in_flight < 1 ? 1 : max_in_flight),
      done_(std::move(done)) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
}

DigestPool::~DigestPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void DigestPool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return stop_ || taken_ - handed_ < slots_.size(); });
    if (stop_) return;
    // References into a deque survive pushes at the back; the slot is popped
    // only once its digest is set, which happens below, under the lock.
    Slot* slot = &slots_[taken_ - handed_];
    ++taken_;
    lock.unlock();
    Result<Observation> digest = codec_.Digest(slot->item, window_);
    lock.lock();
    slot->digest.emplace(std::move(digest));
    ready_.notify_one();
  }
}

Status DigestPool::Drain(std::unique_lock<std::mutex>& lock, size_t keep) {
  for (;;) {
    while (!slots_.empty() && slots_.front().digest.has_value()) {
      Slot slot = std::move(slots_.front());
      slots_.pop_front();
      ++handed_;
      lock.unlock();
      Status s = done_(std::move(slot.item), std::move(*slot.digest));
      lock.lock();
      if (!s.ok()) {
        failed_ = s;
        return s;
      }
    }
    if (slots_.size() <= keep) return Status::Ok();
    ready_.wait(lock);
  }
}

Status DigestPool::Add(Item&& item) {
  if (!failed_.ok()) return failed_;
  if (threads_.empty()) {
    Result<Observation> digest = codec_.Digest(item, window_);
    failed_ = done_(std::move(item), std::move(digest));
    return failed_;
  }
  std::unique_lock<std::mutex> lock(mu_);
  slots_.push_back(Slot{std::move(item), std::nullopt});
  work_.notify_one();
  return Drain(lock, max_in_flight_ - 1);
}

Status DigestPool::Finish() {
  if (!failed_.ok() || threads_.empty()) return failed_;
  std::unique_lock<std::mutex> lock(mu_);
  return Drain(lock, 0);
}

}  // namespace tandem::sync
