// CredentialVault: seals external-calendar passwords and OAuth refresh tokens
// (SPEC S16) with libsodium's secretbox (XSalsa20-Poly1305) under a server key.
//
// The key comes from the environment variable named in the options (64 hex
// characters) or from a key file in the data directory, created with mode 0600
// on first use. Sealed text is "v1:" + hex(nonce || ciphertext); it says nothing
// of the secret but its length. Thread-safe after construction.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "core/random.h"
#include "core/status.h"

namespace tandem {

class CredentialVault {
 public:
  static constexpr size_t kKeyBytes = 32;

  struct Options {
    std::string key_file;        // e.g. <data-dir>/secret.key
    std::string key_from_env;    // the key as hex (wins over the file) or empty
  };

  // Loads the key (or creates the key file). PermissionDenied when an existing key
  // file is readable by group or others; Corruption when it has the wrong size.
  static Result<CredentialVault> Open(const Options& options, Random& random);

  Result<std::string> Seal(std::string_view secret) const;
  // Unauthenticated when the sealed text was not made with this key or was altered.
  Result<std::string> Unseal(std::string_view sealed) const;

 private:
  CredentialVault(std::array<unsigned char, kKeyBytes> key, Random& random)
      : key_(key), random_(&random) {}
  std::array<unsigned char, kKeyBytes> key_;
  Random* random_;
};

}  // namespace tandem
