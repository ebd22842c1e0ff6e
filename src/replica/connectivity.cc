#include "replica/connectivity.h"

#include <algorithm>

namespace tandem::replica {

std::string_view LinkStateName(LinkState s) {
  switch (s) {
    case LinkState::kOnline: return "online";
    case LinkState::kOffline: return "offline";
    case LinkState::kDraining: return "draining";
  }
  return "offline";
}

Connectivity::Connectivity(const Clock& clock, ConnectivityOptions options)
    : clock_(clock), options_(options), backoff_(options.probe_min), last_tick_(clock.Now()) {}

LinkState Connectivity::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

int Connectivity::transitions() const {
  std::lock_guard lock(mu_);
  return transitions_;
}

void Connectivity::SetState(LinkState s) {
  if (s != state_) ++transitions_;
  state_ = s;
}

void Connectivity::OnAnswer() {
  std::lock_guard lock(mu_);
  backoff_ = options_.probe_min;
  if (state_ == LinkState::kOffline) SetState(LinkState::kDraining);
}

void Connectivity::OnNoAnswer() {
  std::lock_guard lock(mu_);
  Instant now = clock_.Now();
  if (state_ != LinkState::kOffline) {
    SetState(LinkState::kOffline);
    backoff_ = options_.probe_min;
  } else {
    backoff_ = std::min<Duration>(backoff_ * 2, options_.probe_max);
  }
  next_probe_ = now + backoff_;
}

void Connectivity::OnOutboxDrained() {
  std::lock_guard lock(mu_);
  if (state_ == LinkState::kDraining) SetState(LinkState::kOnline);
}

bool Connectivity::ProbeDue() const {
  std::lock_guard lock(mu_);
  return state_ == LinkState::kOffline && clock_.Now() >= next_probe_;
}

Instant Connectivity::NextProbe() const {
  std::lock_guard lock(mu_);
  return next_probe_;
}

void Connectivity::Tick() {
  std::lock_guard lock(mu_);
  Instant now = clock_.Now();
  if (now - last_tick_ > options_.sleep_gap && state_ == LinkState::kOffline) {
    backoff_ = options_.probe_min;
    next_probe_ = now;
  }
  last_tick_ = now;
}

}  // namespace tandem::replica
