#include "core/credential_vault.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tandem {
namespace {

Result<std::array<unsigned char, CredentialVault::kKeyBytes>> KeyFromHex(std::string_view hex) {
  std::array<unsigned char, CredentialVault::kKeyBytes> key{};
  size_t len = 0;
  if (sodium_hex2bin(key.data(), key.size(), hex.data(), hex.size(), nullptr, &len, nullptr) !=
          0 ||
      len != key.size())
    return Status::InvalidArgument("the server key must be 64 hex characters");
  return key;
}

std::string ToHex(const unsigned char* data, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.pop_back();
  return out;
}

}  // namespace

Result<CredentialVault> CredentialVault::Open(const Options& o, Random& random) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  if (!o.key_from_env.empty()) {
    TANDEM_ASSIGN_OR_RETURN(auto key, KeyFromHex(o.key_from_env));
    return CredentialVault(key, random);
  }
  if (o.key_file.empty()) return Status::InvalidArgument("no server key: set a key file");
  int fd = ::open(o.key_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    std::array<unsigned char, kKeyBytes> key{};
    random.Fill(key);
    int wfd = ::open(o.key_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (wfd < 0)
      return Status::Unavailable(fmt::format("cannot create key file {}: {}", o.key_file,
                                             std::strerror(errno)));
    std::string hex = ToHex(key.data(), key.size()) + "\n";
    bool ok = ::write(wfd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size());
    ok = ::fsync(wfd) == 0 && ok;
    ::close(wfd);
    if (!ok) return Status::Unavailable(fmt::format("cannot write key file {}", o.key_file));
    return CredentialVault(key, random);
  }
  if (fd < 0)
    return Status::Unavailable(
        fmt::format("cannot read key file {}: {}", o.key_file, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
    ::close(fd);
    return Status::PermissionDenied(fmt::format(
        "key file {} is readable by others; run: chmod 600 {}", o.key_file, o.key_file));
  }
  char buf[200];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return Status::Corruption(fmt::format("key file {} is empty", o.key_file));
  std::string_view text(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  auto key = KeyFromHex(text);
  if (!key.ok()) return Status::Corruption(fmt::format("key file {}: {}", o.key_file,
                                                       key.status().message()));
  return CredentialVault(*key, random);
}

Result<std::string> CredentialVault::Seal(std::string_view secret) const {
  std::vector<unsigned char> buf(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                 secret.size());
  random_->Fill(std::span<uint8_t>(buf.data(), crypto_secretbox_NONCEBYTES));
  unsigned char* nonce = buf.data();
  if (crypto_secretbox_easy(buf.data() + crypto_secretbox_NONCEBYTES,
                            reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                            nonce, key_.data()) != 0)
    return Status::Internal("secretbox failed");
  return "v1:" + ToHex(buf.data(), buf.size());
}

Result<std::string> CredentialVault::Unseal(std::string_view sealed) const {
  if (!sealed.starts_with("v1:"))
    return Status::InvalidArgument("not a sealed credential (expected the v1: form)");
  sealed.remove_prefix(3);
  std::vector<unsigned char> buf(sealed.size() / 2);
  size_t len = 0;
  if (sodium_hex2bin(buf.data(), buf.size(), sealed.data(), sealed.size(), nullptr, &len,
                     nullptr) != 0 ||
      len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
    return Status::Corruption("sealed credential is damaged");
  size_t clen = len - crypto_secretbox_NONCEBYTES;
  std::string out(clen - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()),
                                 buf.data() + crypto_secretbox_NONCEBYTES, clen, buf.data(),
                                 key_.data()) != 0)
    return Status::Unauthenticated("sealed credential does not open with this server key");
  sodium_memzero(buf.data(), buf.size());
  return out;
}

}  // namespace tandem
