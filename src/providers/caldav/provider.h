// The CalDAV provider for the catalog (sync/provider.h): a calendar on a CalDAV
// server (Nextcloud, Radicale, Xandikos, iCloud, Fastmail, ...), reached with a
// user name and password (Basic or Digest).
#pragma once

#include <memory>

#include "sync/provider.h"

namespace tandem::providers::caldav {

std::unique_ptr<sync::Provider> MakeProvider();

}  // namespace tandem::providers::caldav
