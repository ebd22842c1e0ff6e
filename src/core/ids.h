// Record ids: UUIDv7 (RFC 9562) text, time-ordered so that new rows land at the
// end of B-tree indexes, and unique across servers and offline replicas.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/random.h"

namespace tandem {

// Thread-safe when its Clock and Random are.
class IdGenerator {
 public:
  IdGenerator(const Clock& clock, Random& random) : clock_(clock), random_(random) {}
  // "0192f0c4-6a1e-7c3b-9d2f-5e8a1b2c3d4e"
  std::string NewId();

 private:
  const Clock& clock_;
  Random& random_;
};

// True for the canonical 36-character lowercase or uppercase UUID form.
bool IsUuid(std::string_view s);

}  // namespace tandem
