// libFuzzer target: parse -> map -> write -> parse, plus expansion and hashing of
// whatever parsed. Any crash, sanitizer report or broken invariant is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ical/ical.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tandem;
  if (size > (1 << 20)) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ical::MapOptions options;
  options.multi_day =
      (size % 2) ? ical::MultiDayRule::kStartWithEndInTitle : ical::MultiDayRule::kKeep;
  Result<std::vector<ical::Event>> events = ical::ParseCalendar(text, options);
  if (!events.ok()) {
    Check(!events.status().message().empty());
    return 0;
  }
  for (const ical::Event& e : *events) {
    const model::Activity& a = e.activity;
    Check(a.end >= a.start);
    std::string hash = ical::ContentHash(a);
    Check(hash.size() == 64);
    Instant from = a.start - std::chrono::days(30);
    (void)ical::Expand(a, from, from + std::chrono::days(400), 50);
    (void)ical::OccursWithin(a, from, from + std::chrono::days(400));
    ical::WriteOptions w;
    w.uid = e.uid.empty() ? "fuzz" : e.uid;
    w.multi_day = options.multi_day;
    Result<std::string> ics = ical::WriteEvent(a, w);
    if (!ics.ok()) continue;
    // What we write we must be able to read back.
    Result<ical::Event> back = ical::ParseEvent(*ics, options);
    Check(back.ok());
  }
  return 0;
}
