// FakeGoogle: the local fake of the Google Calendar API (tests/fakes/google)
// for one test. Test-only.
#pragma once

#include "tests/fakes/fake_process.h"

namespace tandem::testing {

class FakeGoogle : public FakeProcess {
 public:
  FakeGoogle() : FakeProcess("tests/fakes/google/fake_google.py", {"--max-batch-calls", "50"}) {}
  std::string api() const { return base() + "/calendar/v3"; }
};

}  // namespace tandem::testing
