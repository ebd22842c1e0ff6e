// libFuzzer target: the multistatus reader must end every input with OK or
// Corruption, never crash, hang or expand entities. Built with -DTANDEM_FUZZ=ON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dav/multistatus.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto whole = tandem::dav::ParseMultistatus(input);
  // The same bytes fed in two chunks must give the same verdict.
  tandem::dav::MultistatusReader reader([](tandem::dav::DavResponse&&) { return tandem::Status::Ok(); });
  tandem::Status s = reader.Feed(input.substr(0, size / 2));
  if (s.ok()) s = reader.Feed(input.substr(size / 2));
  if (s.ok()) s = reader.Finish();
  if (s.ok() != whole.ok()) __builtin_trap();
  return 0;
}
