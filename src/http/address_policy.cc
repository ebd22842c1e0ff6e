#include "http/address_policy.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

namespace tandem::http {

namespace {

AddressClass ClassifyV4(uint32_t a) {
  auto in = [a](uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
  if (in(0x7F000000u, 8)) return AddressClass::kLoopback;
  if (in(0xA9FE0000u, 16)) return AddressClass::kLinkLocal;
  if (in(0x0A000000u, 8) || in(0xAC100000u, 12) || in(0xC0A80000u, 16) || in(0x64400000u, 10))
    return AddressClass::kPrivate;
  if (in(0x00000000u, 8) || in(0xE0000000u, 4) || a == 0xFFFFFFFFu) return AddressClass::kUnspecified;
  return AddressClass::kPublic;
}

}  // namespace

AddressClass ClassifyAddress(std::string_view ip_text) {
  std::string ip(ip_text);
  if (!ip.empty() && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (auto zone = ip.find('%'); zone != std::string::npos) ip.resize(zone);
  in_addr v4{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) return ClassifyV4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, ip.c_str(), &v6) != 1) return AddressClass::kUnspecified;
  const uint8_t* b = v6.s6_addr;
  static constexpr std::array<uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::memcmp(b, kMapped.data(), kMapped.size()) == 0) {
    return ClassifyV4((uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15]);
  }
  bool zero_prefix = true;
  for (int i = 0; i < 15; ++i) zero_prefix = zero_prefix && b[i] == 0;
  if (zero_prefix && b[15] == 1) return AddressClass::kLoopback;
  if (zero_prefix && b[15] == 0) return AddressClass::kUnspecified;
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return AddressClass::kLinkLocal;
  if ((b[0] & 0xFE) == 0xFC) return AddressClass::kPrivate;
  if (b[0] == 0xFF) return AddressClass::kUnspecified;
  return AddressClass::kPublic;
}

std::string_view AddressClassName(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic: return "public";
    case AddressClass::kPrivate: return "private";
    case AddressClass::kLoopback: return "loopback";
    case AddressClass::kLinkLocal: return "link-local";
    case AddressClass::kUnspecified: return "unspecified";
  }
  return "unspecified";
}

namespace {
constexpr std::string_view kRefusalSetting = "[sync] calendar_addresses";
}  // namespace

bool IsAddressRefusal(const Status& s) {
  return s.Is(Code::kPermissionDenied) && s.message().find(kRefusalSetting) != std::string::npos;
}

Status AddressPolicy::Check(std::string_view ip) const {
  if (allow_all) return Status::Ok();
  AddressClass c = ClassifyAddress(ip);
  bool ok = (c == AddressClass::kPublic && public_) || (c == AddressClass::kPrivate && private_) ||
            (c == AddressClass::kLoopback && loopback) || (c == AddressClass::kLinkLocal && link_local);
  if (ok) return Status::Ok();
  return Status::PermissionDenied(fmt::format(
      "calendars at {} addresses are not allowed on this server ({} is {}; allowed: {}); an admin "
      "can allow them with {}",
      AddressClassName(c), ip, AddressClassName(c), Describe(), kRefusalSetting));
}

std::string AddressPolicy::Describe() const {
  if (allow_all) return "all";
  std::string out;
  auto add = [&out](bool on, const char* name) {
    if (on) out += out.empty() ? name : std::string(", ") + name;
  };
  add(public_, "public");
  add(private_, "private");
  add(loopback, "loopback");
  add(link_local, "link-local");
  return out.empty() ? "none" : out;
}

Result<AddressPolicy> ParseAddressPolicy(const std::vector<std::string>& names) {
  AddressPolicy p;
  p.public_ = p.private_ = p.loopback = p.link_local = false;
  for (const auto& n : names) {
    if (n == "all") p.allow_all = true;
    else if (n == "public") p.public_ = true;
    else if (n == "private") p.private_ = true;
    else if (n == "loopback") p.loopback = true;
    else if (n == "link-local") p.link_local = true;
    else
      return Status::InvalidArgument(fmt::format(
          "calendar_addresses: unknown address class '{}' (public, private, loopback, link-local, all)", n));
  }
  return p;
}

}  // namespace tandem::http
