// The vdir provider for the catalog (sync/provider.h): a folder of .ics files on
// the server's own disk (vdirsyncer's and khal's layout). Admins only: it reads
// and writes the server's file system.
#pragma once

#include <memory>

#include "sync/provider.h"

namespace tandem::providers::vdir {

std::unique_ptr<sync::Provider> MakeProvider();

}  // namespace tandem::providers::vdir
