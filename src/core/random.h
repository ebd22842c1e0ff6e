// Random: the only source of randomness (ids, tokens, salts, jitter), injected.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <span>
#include <string>

namespace tandem {

// Thread-safe.
class Random {
 public:
  virtual ~Random() = default;
  virtual void Fill(std::span<uint8_t> out) = 0;

  uint64_t NextU64();
  // Uniform in [0, bound). REQUIRES: bound > 0.
  uint64_t Uniform(uint64_t bound);
  // `bytes` random bytes as lowercase hex (2 * bytes characters).
  std::string Hex(size_t bytes);
};

// Cryptographically secure (libsodium randombytes).
class SecureRandom final : public Random {
 public:
  SecureRandom();
  void Fill(std::span<uint8_t> out) override;
};

// Deterministic, for tests and reproducible benchmarks. Not for secrets.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  void Fill(std::span<uint8_t> out) override;

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;
};

}  // namespace tandem
