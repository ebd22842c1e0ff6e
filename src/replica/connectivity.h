// Connectivity: the replica's online/offline state (C1, C6), driven by the
// outcome of every request to the server and by an injected clock.
//
//   online  --no answer--> offline --probe answered--> draining --outbox empty--> online
//   draining --no answer--> offline
//
// Offline, probes are due at growing intervals (min..max, doubling). A wall
// clock that jumped forward by more than `sleep_gap` between two Tick()s means
// the laptop slept: the next probe is due at once and the backoff restarts, so
// a wake-up reconnects within one probe, without restart or new login.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <chrono>
#include <mutex>
#include <string_view>

#include "core/clock.h"

namespace tandem::replica {

enum class LinkState { kOnline, kOffline, kDraining };
std::string_view LinkStateName(LinkState s);

struct ConnectivityOptions {
  Duration probe_min = std::chrono::seconds(1);
  Duration probe_max = std::chrono::seconds(15);
  Duration sleep_gap = std::chrono::seconds(30);
};

class Connectivity {
 public:
  Connectivity(const Clock& clock, ConnectivityOptions options = {});

  LinkState state() const;
  bool online() const { return state() == LinkState::kOnline; }

  // The server answered (any HTTP answer counts: it is reachable).
  void OnAnswer();
  // No answer (connection refused, reset, timeout).
  void OnNoAnswer();
  // Draining finished with an empty outbox.
  void OnOutboxDrained();
  // Offline: whether a probe is due now.
  bool ProbeDue() const;
  // The time the next probe is due (offline only).
  Instant NextProbe() const;
  // Call periodically; detects a sleep by the jump of the wall clock.
  void Tick();

  // How many times the state changed (status and tests).
  int transitions() const;

 private:
  void SetState(LinkState s);  // REQUIRES: mu_ held

  const Clock& clock_;
  const ConnectivityOptions options_;
  mutable std::mutex mu_;
  LinkState state_ = LinkState::kOnline;
  Duration backoff_;
  Instant next_probe_{};
  Instant last_tick_{};
  int transitions_ = 0;
};

}  // namespace tandem::replica
