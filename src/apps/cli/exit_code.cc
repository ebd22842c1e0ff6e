#include "apps/cli/exit_code.h"

namespace tandem::cli {

ExitCode ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk:
      return ExitCode::kOk;
    case Code::kUnauthenticated:
    case Code::kPermissionDenied:
      return ExitCode::kAuth;
    case Code::kPreconditionFailed:
    case Code::kConflict:
    case Code::kAlreadyExists:
      return ExitCode::kConflict;
    case Code::kNotFound:
      return ExitCode::kNotFound;
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
      return ExitCode::kUnreachable;
    default:
      return ExitCode::kError;
  }
}

}  // namespace tandem::cli
