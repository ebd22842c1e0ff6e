// Exit codes of the `tandem` command (documented in docs/CLI.md) and how an
// error Status maps onto them. Scripts depend on these numbers: never renumber.
#pragma once

#include "core/status.h"

namespace tandem::cli {

enum class ExitCode : int {
  kOk = 0,
  kError = 1,        // anything not listed below
  kUsage = 2,        // bad command line (unknown option, missing argument, bad value)
  kAuth = 3,         // not logged in, bad credentials, expired session, not allowed
  kConflict = 4,     // the record changed on the server meanwhile (412) or conflicts (409)
  kNotFound = 5,     // no such record
  kUnreachable = 6,  // the server could not be reached
};

// Maps an error to its exit code. OK maps to kOk.
ExitCode ExitCodeFor(const Status& status);

}  // namespace tandem::cli
