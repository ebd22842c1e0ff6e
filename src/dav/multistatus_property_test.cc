// Properties of the multistatus reader over generated input (the fuzz target's
// invariants, run as a fast unit test).
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include "dav/multistatus.h"

namespace tandem::dav {
namespace {

constexpr char kValid[] = R"(<?xml version="1.0"?><D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:sync-token>t</D:sync-token><D:response><D:href>/c/a.ics</D:href><D:propstat><D:prop><D:getetag>"1"</D:getetag><C:calendar-data>BEGIN:VCALENDAR&#13;
END:VCALENDAR</C:calendar-data></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>)";

Status ParseInChunks(const std::string& input, size_t chunk) {
  MultistatusReader reader([](DavResponse&&) { return Status::Ok(); });
  for (size_t i = 0; i < input.size(); i += chunk) {
    TANDEM_RETURN_IF_ERROR(reader.Feed(std::string_view(input).substr(i, chunk)));
  }
  return reader.Finish();
}

TEST(MultistatusPropertyTest, ChunkingNeverChangesTheVerdictAndErrorsAreCorruption) {
  ASSERT_TRUE(ParseMultistatus(kValid).ok());
  bool ok = rc::check("mutated multistatus", [] {
    std::string input = kValid;
    const int edits = *rc::gen::inRange(0, 6);
    for (int i = 0; i < edits; ++i) {
      size_t at = *rc::gen::inRange<size_t>(0, input.size());
      switch (*rc::gen::inRange(0, 3)) {
        case 0: input.erase(at, *rc::gen::inRange<size_t>(1, 20)); break;
        case 1: input.insert(at, *rc::gen::elementOf(std::vector<std::string>{
                    "<", ">", "&", "&lol;", "<!DOCTYPE x>", "</D:response>", "\xff", "<D:href>"})); break;
        default: input[at % input.size()] = *rc::gen::arbitrary<char>(); break;
      }
    }
    auto whole = ParseMultistatus(input);
    if (!whole.ok()) RC_ASSERT(whole.status().code() == Code::kCorruption);
    const size_t chunk = *rc::gen::inRange<size_t>(1, 64);
    RC_ASSERT(ParseInChunks(input, chunk).ok() == whole.ok());
  });
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace tandem::dav
