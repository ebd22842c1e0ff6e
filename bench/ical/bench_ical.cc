// iCalendar mapping throughput (docs/bench-ical.md).
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "ical/ical.h"
#include "ical/internal.h"

namespace tandem::ical {
namespace {

Instant At(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

std::string SimpleEvent(int i) {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Bench//EN\r\nBEGIN:VEVENT\r\n"
         "UID:event-" +
         std::to_string(i) +
         "@example.com\r\nDTSTAMP:20261124T100000Z\r\n"
         "DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\n"
         "SUMMARY:Customer call " +
         std::to_string(i) +
         "\r\nLOCATION:Phone\r\n"
         "DESCRIPTION:Discuss the renewal\\, pricing and next steps.\r\n"
         "TRANSP:OPAQUE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
}

std::string ZonedEvent(int i) {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Bench//EN\r\nBEGIN:VEVENT\r\n"
         "UID:event-" +
         std::to_string(i) +
         "@example.com\r\nDTSTAMP:20261124T100000Z\r\n"
         "DTSTART;TZID=Europe/Berlin:20261201T090000\r\n"
         "DTEND;TZID=Europe/Berlin:20261201T100000\r\n"
         "SUMMARY:Customer call " +
         std::to_string(i) +
         "\r\nLOCATION:Phone\r\n"
         "TRANSP:OPAQUE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
}

void ParseMapWrite(benchmark::State& state, std::string (*make)(int)) {
  std::vector<std::string> inputs;
  for (int i = 0; i < 64; ++i) inputs.push_back(make(i));
  MapOptions options;
  size_t i = 0;
  for (auto _ : state) {
    Result<Event> e = ParseEvent(inputs[i++ % inputs.size()], options);
    if (!e.ok()) state.SkipWithError(e.status().ToString().c_str());
    WriteOptions w;
    w.uid = e->uid;
    w.dtstamp = *e->dtstamp;
    Result<std::string> out = WriteEvent(e->activity, w);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ParseMapWriteSimpleUtc(benchmark::State& state) { ParseMapWrite(state, SimpleEvent); }
BENCHMARK(BM_ParseMapWriteSimpleUtc);

void BM_ParseMapWriteZoned(benchmark::State& state) { ParseMapWrite(state, ZonedEvent); }
BENCHMARK(BM_ParseMapWriteZoned);

void BM_ContentHash(benchmark::State& state) {
  Result<Event> e = ParseEvent(SimpleEvent(1), {});
  for (auto _ : state) benchmark::DoNotOptimize(ContentHash(e->activity));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContentHash);

// A daily 09:00 Berlin series with 20 moved instances, expanded over 15 months.
model::Activity DailyWithExceptions() {
  model::Activity a;
  a.subject = "Stand-up";
  a.start = At("2026-01-05T08:00:00Z");
  a.end = a.start + std::chrono::minutes(15);
  a.time_zone = "Europe/Berlin";
  a.rrule = "FREQ=DAILY";
  std::string extra = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n";
  for (int k = 0; k < 20; ++k) {
    char rid[32], start[32], end[32];
    int month = 1 + (k % 12), day = 10 + k;
    snprintf(rid, sizeof(rid), "2026%02d%02dT090000", month, day);
    snprintf(start, sizeof(start), "2026%02d%02dT100000", month, day);
    snprintf(end, sizeof(end), "2026%02d%02dT103000", month, day);
    extra += std::string("BEGIN:VEVENT\r\nUID:standup\r\nRECURRENCE-ID;TZID=Europe/Berlin:") + rid +
             "\r\nDTSTART;TZID=Europe/Berlin:" + start + "\r\nDTEND;TZID=Europe/Berlin:" + end +
             "\r\nSUMMARY:Stand-up (moved)\r\nEND:VEVENT\r\n";
  }
  extra += "END:VCALENDAR\r\n";
  a.ical_extra = extra;
  return a;
}

void BM_ExpandDaily15MonthsWith20Exceptions(benchmark::State& state) {
  model::Activity a = DailyWithExceptions();
  Instant from = At("2026-01-01T00:00:00Z");
  Instant to = At("2027-04-01T00:00:00Z");
  size_t count = 0;
  for (auto _ : state) {
    Result<std::vector<Occurrence>> occ = Expand(a, from, to, 10000);
    if (!occ.ok()) state.SkipWithError(occ.status().ToString().c_str());
    count = occ->size();
    benchmark::DoNotOptimize(occ);
  }
  state.counters["occurrences"] = static_cast<double>(count);
}
BENCHMARK(BM_ExpandDaily15MonthsWith20Exceptions)->Unit(benchmark::kMicrosecond);

// The same on a Series prepared once (overrides parsed, zone offsets remembered):
// what a caller expanding one activity for several windows pays per window.
void BM_SeriesExpandDaily15MonthsWith20Exceptions(benchmark::State& state) {
  Result<Series> series = Series::Prepare(DailyWithExceptions());
  Instant from = At("2026-01-01T00:00:00Z");
  Instant to = At("2027-04-01T00:00:00Z");
  size_t count = 0;
  for (auto _ : state) {
    Result<std::vector<Occurrence>> occ = series->Expand(from, to, 10000);
    count = occ->size();
    benchmark::DoNotOptimize(occ);
  }
  state.counters["occurrences"] = static_cast<double>(count);
}
BENCHMARK(BM_SeriesExpandDaily15MonthsWith20Exceptions)->Unit(benchmark::kMicrosecond);

// The same expansion through libical's recurrence iterator alone (the path every
// rule that is not simple DAILY/WEEKLY takes), for comparison.
void BM_ExpandDaily15MonthsWith20ExceptionsLibicalIterator(benchmark::State& state) {
  model::Activity a = DailyWithExceptions();
  Instant from = At("2026-01-01T00:00:00Z");
  Instant to = At("2027-04-01T00:00:00Z");
  for (auto _ : state) benchmark::DoNotOptimize(detail::ExpandWithLibicalOnly(a, from, to, 10000));
}
BENCHMARK(BM_ExpandDaily15MonthsWith20ExceptionsLibicalIterator)->Unit(benchmark::kMicrosecond);

void BM_SeriesPrepareDailyWith20Exceptions(benchmark::State& state) {
  model::Activity a = DailyWithExceptions();
  for (auto _ : state) benchmark::DoNotOptimize(Series::Prepare(a));
}
BENCHMARK(BM_SeriesPrepareDailyWith20Exceptions)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tandem::ical

BENCHMARK_MAIN();
