// Sync benchmarks (docs/bench-sync.md).
//
//   BM_Plan/100000/1000        MakePlan with 100,000 status rows and 1,000
//                              changes (500 per side), all rows given (worst case).
//   BM_PlanTouchedRows/...     the same changes with only the rows they touch
//                              (what the engine passes).
//   BM_RunNoChanges/N          a full engine run (CRM side on a SQLite file, sync
//                              state in the same file, real iCalendar codec;
//                              external side in memory) over N paired items
//                              when nothing changed.
//   BM_RunTenChanges/N         the same with 10 CRM edits to propagate.
//   BM_InitImport/N            a first sync (initialize) of N events from a
//                              memory calendar into an empty SQLite CRM: the
//                              digest of every event and the CRM writes, the
//                              part of a user's first sync that is Tandem's own.
//   BM_VdirListNoChanges/N     a vdir folder's ChangesSince with nothing changed
//                              (stat of every file: grows with N, see the doc).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "core/random.h"
#include "ical/ical.h"
#include "providers/vdir/vdir_calendar.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sync_state_sqlite.h"
#include "sync/crm_side.h"
#include "sync/engine.h"
#include "sync/ical_codec.h"
#include "sync/memory_calendar.h"
#include "sync/planner.h"

namespace tandem::sync {
namespace {
namespace fs = std::filesystem;

const Instant kNow = FromUnixSeconds(1'790'000'000);

PlanInput MakeInput(int items, int changes, bool only_touched) {
  PlanInput in;
  in.now = kNow;
  in.status_count = items;
  in.status.reserve(items);
  for (int i = 0; i < items; ++i) {
    std::string uid = fmt::format("uid-{:06}", i);
    in.status.push_back(store::ItemStatus{"p", uid, fmt::format("crm-{:06}", i), "\"1\"",
                                          fmt::format("hc{}", i), uid + ".ics", "e1",
                                          fmt::format("he{}", i)});
  }
  for (int c = 0; c < changes; ++c) {
    int i = (c * 97) % items;
    Observation o;
    o.uid = fmt::format("uid-{:06}", i);
    o.content_hash = fmt::format("new{}", c);
    o.modified = kNow;
    o.title_key = "meeting";
    if (c % 2 == 0) {
      o.href = fmt::format("crm-{:06}", i);
      o.etag = "\"2\"";
      in.crm.changed.push_back(o);
    } else {
      o.href = o.uid + ".ics";
      o.etag = "e2";
      in.external.changed.push_back(o);
    }
  }
  if (only_touched) {
    std::vector<store::ItemStatus> touched;
    for (int c = 0; c < changes; ++c) touched.push_back(in.status[(c * 97) % items]);
    in.status = std::move(touched);
  }
  return in;
}

void BM_Plan(benchmark::State& state) {
  PlanInput in =
      MakeInput(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), false);
  for (auto _ : state) {
    Plan p = MakePlan(in);
    benchmark::DoNotOptimize(p.actions.data());
    if (p.actions.size() != static_cast<size_t>(state.range(1)))
      state.SkipWithError("unexpected plan");
  }
}
BENCHMARK(BM_Plan)->Args({100000, 1000})->Unit(benchmark::kMillisecond);

void BM_PlanTouchedRows(benchmark::State& state) {
  PlanInput in =
      MakeInput(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), true);
  for (auto _ : state) {
    Plan p = MakePlan(in);
    benchmark::DoNotOptimize(p.actions.data());
  }
}
BENCHMARK(BM_PlanTouchedRows)->Args({100000, 1000})->Unit(benchmark::kMillisecond);

// N paired items: activities in a SQLite CRM, the same events in a memory
// calendar, status rows and cursors as a finished initialization leaves them.
struct World {
  fs::path dir;
  FakeClock clock{kNow};
  SeededRandom random{5};
  IdGenerator ids{clock, random};
  std::unique_ptr<store::sqlite::SqliteStore> crm;
  std::unique_ptr<store::SyncStateStore> state;
  MemoryCalendar external{"bench-calendar", "ev-"};
  IcalCodec codec;
  std::string pair_id;
  std::vector<std::string> activity_ids;
  int edit_round = 0;

  explicit World(int n) {
    std::string pattern = (fs::temp_directory_path() / "tandem-bench-sync-XXXXXX").string();
    dir = mkdtemp(pattern.data());
    crm = std::move(*store::sqlite::SqliteStore::Open(
        {.path = (dir / "t.db").string(), .clock = &clock, .ids = &ids}));
    state = std::move(
        *store::sqlite::OpenSqliteSyncState({.pool = &crm->pool(), .clock = &clock, .ids = &ids}));
    std::vector<model::Activity> acts;
    for (int i = 0; i < n; ++i) {
      model::Activity a;
      a.meta.owner_id = "alice";
      a.subject = fmt::format("Meeting {}", i);
      a.start = kNow + std::chrono::hours(i % 5000);
      a.end = a.start + std::chrono::hours(1);
      acts.push_back(std::move(a));
    }
    acts = std::move(*crm->CreateActivities(std::move(acts)));
    store::SyncPair p;
    p.user_id = "alice";
    p.provider = "memory";
    p.calendar = "mem";
    p.identity = "bench-calendar";
    p.initialized = kNow;
    pair_id = state->CreatePair(p)->id;
    CrmSide side = Crm();
    // One transaction for the setup's status rows (the writer connection is
    // the same for every lease).
    {
      auto w = crm->pool().Write();
      (void)w->Execute("BEGIN");
    }
    for (const model::Activity& a : acts) {
      Item item = *side.ItemOf(a);
      std::string href = external.UserPut(a.meta.id, item.ical);
      std::string etag = external.GetMany({href})->front().etag;
      Observation o = *codec.Digest(item, SyncWindow(p.options, kNow));
      (void)state->PutStatus(store::ItemStatus{pair_id, a.meta.id, a.meta.id, item.etag,
                                               o.content_hash, href, etag, o.content_hash});
      activity_ids.push_back(a.meta.id);
    }
    {
      auto w = crm->pool().Write();
      (void)w->Execute("COMMIT");
    }
    // Record the cursors as a finished initialization leaves them.
    store::SyncPair pair = *state->GetPair(pair_id);
    pair.crm_cursor = std::to_string(*crm->LatestSeq());
    pair.external_cursor = external.ChangesSince("", {})->next_cursor;
    (void)state->UpdatePair(pair);
    // Start from a checkpointed database, as a server that has been running
    // does, not from the setup's write-ahead log.
    auto w = crm->pool().Write();
    (void)w->Execute("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  ~World() { fs::remove_all(dir); }

  CrmSide Crm() {
    return CrmSide(
        CrmSideOptions{.store = crm.get(), .state = state.get(), .ids = &ids, .user_id = "alice"});
  }
  Result<RunReport> Run() {
    CrmSide side = Crm();
    SyncEngine engine(EngineDeps{state.get(), &codec, &clock});
    return engine.Run(pair_id, side, external, RunOptions{});
  }
};

World& WorldOf(int n) {
  static std::map<int, std::unique_ptr<World>> worlds;  // benchmark fixture cache
  auto& w = worlds[n];
  if (!w) w = std::make_unique<World>(n);
  return *w;
}

void BM_RunNoChanges(benchmark::State& state) {
  World& w = WorldOf(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto r = w.Run();
    if (!r.ok() || !r->applied.empty()) state.SkipWithError("a run with no changes did work");
  }
  state.counters["paired"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_RunNoChanges)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_RunTenChanges(benchmark::State& state) {
  World& w = WorldOf(static_cast<int>(state.range(0)));
  int& round = w.edit_round;  // across invocations: every edit is a new content
  for (auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < 10; ++i) {
      const std::string& id = w.activity_ids[(round * 10 + i) % w.activity_ids.size()];
      model::Activity a = *w.crm->GetActivity(id);
      a.subject = fmt::format("Edited {} {}", round, i);
      (void)w.crm->Update(a, std::nullopt);
    }
    ++round;
    state.ResumeTiming();
    auto r = w.Run();
    if (!r.ok() || r->applied["update"] != 10) {
      state.SkipWithError(r.ok() ? ("expected 10 updates: " + r->Summary() + "\n" + r->plan).c_str()
                                 : r.status().ToString().c_str());
      break;
    }
    state.PauseTiming();
    (void)w.Run();  // absorb the echo of our own writes outside the timing
    state.ResumeTiming();
  }
}
BENCHMARK(BM_RunTenChanges)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

// N events like peers/seed-events.sh makes (a VTIMEZONE, a wrapped description,
// categories; every fifth one weekly), imported by an initialization into an
// empty CRM.
std::string SeedEvent(int i) {
  static const char* kZones[] = {"Europe/Berlin", "Asia/Tokyo", "America/New_York"};
  std::string tz = kZones[i % 3];
  std::string vtz =
      tz == "Asia/Tokyo"
          ? "BEGIN:VTIMEZONE\r\nTZID:Asia/Tokyo\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0900\r\n"
            "TZOFFSETTO:+0900\r\nTZNAME:JST\r\nDTSTART:19700101T000000\r\nEND:STANDARD\r\n"
            "END:VTIMEZONE\r\n"
          : fmt::format(
                "BEGIN:VTIMEZONE\r\nTZID:{}\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:{}\r\n"
                "TZOFFSETTO:{}\r\nTZNAME:S\r\nDTSTART:19700329T020000\r\n"
                "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n"
                "TZOFFSETFROM:{}\r\nTZOFFSETTO:{}\r\nTZNAME:W\r\nDTSTART:19701025T030000\r\n"
                "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n",
                tz, tz == "Europe/Berlin" ? "+0100" : "-0500", tz == "Europe/Berlin" ? "+0200" : "-0400",
                tz == "Europe/Berlin" ? "+0200" : "-0400", tz == "Europe/Berlin" ? "+0100" : "-0500");
  int day = 1 + i % 28, month = 1 + (i / 28) % 6;  // inside the default window
  return fmt::format(
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nCALSCALE:GREGORIAN\r\n{}"
      "BEGIN:VEVENT\r\nUID:seed-{}\r\nDTSTAMP:20261207T111102Z\r\nCREATED:20261207T111102Z\r\n"
      "LAST-MODIFIED:20261207T111102Z\r\nSEQUENCE:0\r\n"
      "DTSTART;TZID={}:2027{:02}{:02}T114500\r\nDTEND;TZID={}:2027{:02}{:02}T124500\r\n"
      "SUMMARY:Quarterly business review {}\r\nLOCATION:Room 4.12\r\n"
      "DESCRIPTION:Agenda:\\n1. Status of open opportunities\\n2. Pricing\\, discount\r\n"
      " s and contract terms\\n3. Next steps\\; owners and deadlines\r\n"
      "STATUS:CONFIRMED\r\nTRANSP:OPAQUE\r\nX-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\n"
      "CATEGORIES:Partner\r\n{}END:VEVENT\r\nEND:VCALENDAR\r\n",
      vtz, i, tz, month, day, tz, month, day, i, i % 5 == 0 ? "RRULE:FREQ=WEEKLY;COUNT=10\r\n" : "");
}

void BM_InitImport(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<std::string> events;
  for (int i = 0; i < n; ++i) events.push_back(SeedEvent(i));
  for (auto _ : state) {
    state.PauseTiming();
    std::string pattern = (fs::temp_directory_path() / "tandem-bench-init-XXXXXX").string();
    fs::path dir = mkdtemp(pattern.data());
    FakeClock clock{FromUnixSeconds(1'796'600'000)};
    SeededRandom random{7};
    IdGenerator ids{clock, random};
    auto crm = std::move(*store::sqlite::SqliteStore::Open(
        {.path = (dir / "t.db").string(), .clock = &clock, .ids = &ids}));
    auto sync_state = std::move(
        *store::sqlite::OpenSqliteSyncState({.pool = &crm->pool(), .clock = &clock, .ids = &ids}));
    MemoryCalendar external{"bench-calendar", "ev-"};
    for (int i = 0; i < n; ++i) external.UserPut(fmt::format("seed-{}", i), events[i]);
    store::SyncPair p;
    p.user_id = "alice";
    p.provider = "memory";
    p.calendar = "mem";
    p.identity = "bench-calendar";
    std::string pair_id = sync_state->CreatePair(p)->id;
    IcalCodec codec;
    CrmSide side(CrmSideOptions{
        .store = crm.get(), .state = sync_state.get(), .ids = &ids, .user_id = "alice"});
    SyncEngine engine(EngineDeps{sync_state.get(), &codec, &clock});
    state.ResumeTiming();
    auto r = engine.Run(pair_id, side, external, RunOptions{.initialize = true});
    state.PauseTiming();
    std::string error;
    if (!r.ok()) error = r.status().ToString();
    else if (r->applied["create"] != n) error = "expected creations: " + r->Summary();
    else {
      state.counters["crm_s"] = r->seconds.crm;
      state.counters["external_s"] = r->seconds.external;
      state.counters["plan_s"] = r->seconds.plan;
      state.counters["apply_s"] = r->seconds.apply;
    }
    crm.reset();
    if (std::getenv("TANDEM_BENCH_KEEP") == nullptr) fs::remove_all(dir);
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    state.ResumeTiming();
  }
  state.counters["events"] = n;
}
BENCHMARK(BM_InitImport)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_VdirListNoChanges(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::string pattern = (fs::temp_directory_path() / "tandem-bench-vdir-XXXXXX").string();
  fs::path dir = mkdtemp(pattern.data());
  for (int i = 0; i < n; ++i) {
    std::ofstream(dir / fmt::format("e{}.ics", i)) << fmt::format(
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:e{}\r\nDTSTART:20261201T100000Z\r\n"
        "SUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        i);
  }
  providers::vdir::VdirCalendar cal({.path = dir.string(), .state_dir = (dir.string() + "-state")});
  std::string cursor = cal.ChangesSince("", {})->next_cursor;
  for (auto _ : state) {
    auto cs = cal.ChangesSince(cursor, {});
    if (!cs.ok() || !cs->changed.empty()) state.SkipWithError("unexpected changes");
    cursor = cs->next_cursor;
  }
  fs::remove_all(dir);
  fs::remove_all(dir.string() + "-state");
}
BENCHMARK(BM_VdirListNoChanges)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tandem::sync

BENCHMARK_MAIN();
