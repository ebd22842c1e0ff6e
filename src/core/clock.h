// Clock: the only way code asks what time it is, so tests can set it.
#pragma once

#include <atomic>

#include "core/time.h"

namespace tandem {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Instant Now() const override;
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Instant start) : now_us_(ToUnixMicros(start)) {}
  Instant Now() const override { return FromUnixMicros(now_us_.load()); }
  void Set(Instant t) { now_us_.store(ToUnixMicros(t)); }
  void Advance(Duration d) { now_us_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> now_us_;
};

}  // namespace tandem
