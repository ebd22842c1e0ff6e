// Which network addresses an outbound request may reach. A CRM user who pairs a
// calendar chooses the URL; without a policy tandemd would connect wherever it
// points (its own API, other loopback ports, the cloud metadata service, the
// LAN) with credentials of the user's choosing, and redirects would take it
// there too. The check runs on the address actually connected to (after DNS,
// on every redirect hop), so neither a name nor a redirect gets around it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tandem::http {

enum class AddressClass {
  kPublic,
  kPrivate,      // 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7
  kLoopback,     // 127/8, ::1
  kLinkLocal,    // 169.254/16 (the metadata service 169.254.169.254 among them), fe80::/10
  kUnspecified,  // 0.0.0.0, ::, multicast, broadcast and whatever cannot be parsed
};

// The class of a numeric IPv4 or IPv6 address (IPv4-mapped IPv6 as its IPv4).
AddressClass ClassifyAddress(std::string_view ip);
std::string_view AddressClassName(AddressClass c);  // "public", "private", "loopback", ...

struct AddressPolicy {
  bool allow_all = false;  // admins, and tests
  bool public_ = true;
  bool private_ = true;
  bool loopback = false;
  bool link_local = false;

  // Ok, or PermissionDenied naming the address and its class.
  Status Check(std::string_view ip) const;
  std::string Describe() const;  // "public, private"
};

// Whether `s` is a refusal of AddressPolicy::Check (also after WithContext), as
// opposed to a server's own 403.
bool IsAddressRefusal(const Status& s);

// Parses a list of class names ("public", "private", "loopback", "link-local",
// or "all"); InvalidArgument naming an unknown one.
Result<AddressPolicy> ParseAddressPolicy(const std::vector<std::string>& names);

}  // namespace tandem::http
