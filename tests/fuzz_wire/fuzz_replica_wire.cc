// libFuzzer target for the replica's wire format: a server answer (a change-feed
// page, the results of a mutation batch) is read as OK or a Status naming what is
// wrong, never an exception (the fuzzer aborts on one) or a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/json.h"
#include "replica/replication_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto j = tandem::model::Json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  for (size_t expected : {size_t{0}, size_t{1}, size_t{3}}) (void)tandem::replica::ParsePushResults(j, expected);
  (void)tandem::replica::ParseFeedPage(std::move(j));
  return 0;
}
