// Store benchmark: a SQLite store of 1,000,000 activities (kept in /tmp and
// reused across runs), then the change-feed reads a client or sync job makes.
//
//   TANDEM_BENCH_STORE_DB       database file (default /tmp/tandem-bench-store/store.db)
//   TANDEM_BENCH_STORE_RECORDS  activities to load when the file is new (default 1000000)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "core/random.h"
#include "store/sqlite/sqlite_store.h"

namespace tandem::store::bench {
namespace {

using sqlite::SqliteStore;

constexpr int kOwners = 50;
constexpr int64_t kBaseSeconds = 1'767'225'600;  // 2026-01-01T00:00:00Z

struct Dataset {
  std::unique_ptr<SqliteStore> store;
  int64_t latest_seq = 0;
  int64_t cursor_before_last_100 = 0;  // exactly 100 changes follow it
};

[[noreturn]] void Die(const Status& status, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

model::Activity MakeActivity(Random& random, int64_t i) {
  model::Activity a;
  a.meta.owner_id = "user-" + std::to_string(i % kOwners);
  a.meta.shared = random.Uniform(10) != 0;
  a.kind = static_cast<model::ActivityKind>(random.Uniform(3));
  a.subject = "Meeting " + std::to_string(i) + " about the quarterly plan";
  a.location = "Room " + std::to_string(random.Uniform(40));
  a.description =
      "Agenda: figures, open questions, next steps. Bring the signed offer and the "
      "updated contact list. Ref " +
      std::to_string(random.NextU64());
  // Two years of appointments on 15-minute boundaries, 15 minutes to 3 hours long.
  int64_t start = kBaseSeconds + static_cast<int64_t>(random.Uniform(2 * 365 * 96)) * 900;
  a.start = FromUnixSeconds(start);
  a.end = FromUnixSeconds(start + 900 * (1 + static_cast<int64_t>(random.Uniform(12))));
  a.show_as = model::ShowAs::kBusy;
  a.is_private = random.Uniform(20) == 0;
  if (random.Uniform(2) == 0) a.reminder_minutes = 15;
  if (random.Uniform(10) == 0) a.rrule = "FREQ=WEEKLY;COUNT=10";
  a.time_zone = "Europe/Prague";
  return a;
}

Dataset OpenDataset(const Clock& clock, IdGenerator& ids, Random& random) {
  const char* env_path = std::getenv("TANDEM_BENCH_STORE_DB");
  std::string path = env_path != nullptr ? env_path : "/tmp/tandem-bench-store/store.db";
  const char* env_records = std::getenv("TANDEM_BENCH_STORE_RECORDS");
  int64_t records = env_records != nullptr ? std::atoll(env_records) : 1'000'000;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());

  auto opened = SqliteStore::Open({.path = path, .clock = &clock, .ids = &ids});
  if (!opened.ok()) Die(opened.status(), "open");
  Dataset d{std::move(opened).value(), 0};
  auto latest = d.store->LatestSeq();
  if (!latest.ok()) Die(latest.status(), "latest seq");
  if (*latest == 0) {
    auto t0 = std::chrono::steady_clock::now();
    int64_t i = 0;
    auto imported = d.store->ImportActivities([&](model::Activity* a) {
      if (i == records) return false;
      *a = MakeActivity(random, i++);
      return true;
    });
    if (!imported.ok()) Die(imported.status(), "import");
    double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // A realistic tail: recent edits and deletions of older records.
    auto t1 = std::chrono::steady_clock::now();
    std::vector<std::string> some;
    for (int64_t after = 0; some.size() < 3000;) {
      auto batch = d.store->ChangesSince(after + static_cast<int64_t>(random.Uniform(200)), 1, {});
      if (!batch.ok() || batch->changes.empty()) break;
      some.push_back(batch->changes[0].id);
      after = batch->changes[0].seq + static_cast<int64_t>(records / 3000);
    }
    int updates = 0, deletes = 0;
    for (size_t k = 0; k < some.size(); ++k) {
      if (k % 10 == 0) {
        if (d.store->Delete(model::EntityType::kActivity, some[k], std::nullopt).ok()) ++deletes;
        continue;
      }
      auto a = d.store->GetActivity(some[k]);
      if (!a.ok()) continue;
      a->subject += " (moved)";
      if (d.store->Update(*a, a->meta.version).ok()) ++updates;
    }
    double tail_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::fprintf(stderr,
                 "loaded %lld activities in one transaction in %.1f s (%.0f/s); then %d "
                 "single updates and %d deletes in %.2f s (%.0f writes/s)\n",
                 static_cast<long long>(*imported), load_s, *imported / load_s, updates, deletes,
                 tail_s, (updates + deletes) / tail_s);
    latest = d.store->LatestSeq();
    if (!latest.ok()) Die(latest.status(), "latest seq");
  }
  d.latest_seq = *latest;
  {
    auto r = d.store->pool().Read();
    if (!r.ok()) Die(r.status(), "read");
    auto stmt = (*r)->Prepare(
        "SELECT seq FROM changes WHERE departure = 0 ORDER BY seq DESC "
        "LIMIT 1 OFFSET 100");
    if (!stmt.ok()) Die(stmt.status(), "prepare");
    auto row = stmt->Step();
    if (!row.ok()) Die(row.status(), "step");
    d.cursor_before_last_100 = *row ? stmt->Int64(0) : 0;
  }
  std::error_code ec;
  std::fprintf(stderr, "dataset %s: latest seq %lld, %.0f MB\n", path.c_str(),
               static_cast<long long>(d.latest_seq), std::filesystem::file_size(path, ec) / 1e6);
  return d;
}

// The read a client makes when it is a little behind: the next 100 changes after
// its cursor, then those records.
void ChangesAfterCursor(benchmark::State& state, Dataset& d, bool random_cursor,
                        bool owner_filter) {
  SeededRandom random(7);
  int64_t loaded = 0;
  ChangeFilter filter;
  if (owner_filter) filter.owner_id = "user-7";
  for (auto _ : state) {
    int64_t cursor = random_cursor ? static_cast<int64_t>(random.Uniform(d.latest_seq - 10'000))
                                   : d.cursor_before_last_100;
    auto batch = d.store->ChangesSince(cursor, 100, filter);
    if (!batch.ok()) {
      state.SkipWithError(batch.status().ToString().c_str());
      return;
    }
    std::vector<std::string> ids;
    ids.reserve(batch->changes.size());
    for (const auto& c : batch->changes) {
      if (c.op == ChangeOp::kUpsert) ids.push_back(c.id);
    }
    auto records = d.store->GetActivities(ids);
    if (!records.ok()) {
      state.SkipWithError(records.status().ToString().c_str());
      return;
    }
    loaded += static_cast<int64_t>(records->size());
    benchmark::DoNotOptimize(records->data());
  }
  state.counters["records_per_read"] =
      benchmark::Counter(static_cast<double>(loaded) / state.iterations());
}

// A first fill: 100,000 records through feed pages of 1,000 and GetActivities.
void FullPull(benchmark::State& state, Dataset& d) {
  const int64_t target = state.range(0);
  int64_t total = 0;
  for (auto _ : state) {
    int64_t cursor = 0, loaded = 0;
    while (loaded < target) {
      auto batch = d.store->ChangesSince(cursor, 1000, {});
      if (!batch.ok()) {
        state.SkipWithError(batch.status().ToString().c_str());
        return;
      }
      std::vector<std::string> ids;
      for (const auto& c : batch->changes) {
        if (c.op == ChangeOp::kUpsert) ids.push_back(c.id);
      }
      auto records = d.store->GetActivities(ids);
      if (!records.ok()) {
        state.SkipWithError(records.status().ToString().c_str());
        return;
      }
      loaded += static_cast<int64_t>(records->size());
      cursor = batch->next_seq;
      if (!batch->more) break;
    }
    total += loaded;
  }
  state.counters["records"] = benchmark::Counter(static_cast<double>(total) / state.iterations());
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}

// A calendar view: one owner's week, as that owner sees it.
void WeekOfOneOwner(benchmark::State& state, Dataset& d) {
  SeededRandom random(11);
  int64_t found = 0;
  for (auto _ : state) {
    ListOptions o;
    o.limit = 1000;
    o.owner_id = "user-" + std::to_string(random.Uniform(kOwners));
    o.viewer = Viewer{*o.owner_id, false};
    int64_t week = static_cast<int64_t>(random.Uniform(100));
    o.from = FromUnixSeconds(kBaseSeconds + week * 7 * 86400);
    o.to = *o.from + std::chrono::hours(24 * 7);
    auto page = d.store->ListActivities(o);
    if (!page.ok()) {
      state.SkipWithError(page.status().ToString().c_str());
      return;
    }
    found += static_cast<int64_t>(page->items.size());
  }
  state.counters["activities_per_week"] =
      benchmark::Counter(static_cast<double>(found) / state.iterations());
}

// One conditional update (If-Match), committed.
// One conditional update (If-Match), committed; cycles over the 100 most
// recently changed activities.
void ConditionalUpdate(benchmark::State& state, Dataset& d) {
  auto batch = d.store->ChangesSince(d.cursor_before_last_100, 100, {});
  std::vector<std::string> ids;
  if (batch.ok()) {
    for (const auto& c : batch->changes) {
      if (c.op == ChangeOp::kUpsert) ids.push_back(c.id);
    }
  }
  auto current = d.store->GetActivities(ids);
  if (!current.ok() || current->empty()) {
    state.SkipWithError("no activity to update");
    return;
  }
  std::vector<model::Activity> records = *std::move(current);
  size_t next = 0;
  for (auto _ : state) {
    model::Activity& a = records[next++ % records.size()];
    a.location = "Room " + std::to_string(a.meta.version);
    auto updated = d.store->Update(a, a.meta.version);
    if (!updated.ok()) {
      state.SkipWithError(updated.status().ToString().c_str());
      return;
    }
    a = *std::move(updated);
  }
}

}  // namespace
}  // namespace tandem::store::bench

int main(int argc, char** argv) {
  using namespace tandem::store::bench;
  tandem::SystemClock clock;
  tandem::SeededRandom random(2026);
  tandem::IdGenerator ids(clock, random);
  benchmark::Initialize(&argc, argv);
  Dataset d = OpenDataset(clock, ids, random);

  benchmark::RegisterBenchmark("ChangesAfterCursor/tail/100", [&](benchmark::State& s) {
    ChangesAfterCursor(s, d, false, false);
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ChangesAfterCursor/random_cursor/100", [&](benchmark::State& s) {
    ChangesAfterCursor(s, d, true, false);
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ChangesAfterCursor/random_cursor_owner_filter/100",
                               [&](benchmark::State& s) { ChangesAfterCursor(s, d, true, true); })
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("FullPull", [&](benchmark::State& s) { FullPull(s, d); })
      ->Arg(100'000)
      ->Iterations(3)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ListActivities/week_of_one_owner", [&](benchmark::State& s) {
    WeekOfOneOwner(s, d);
  })->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ConditionalUpdate", [&](benchmark::State& s) {
    ConditionalUpdate(s, d);
  })->Unit(benchmark::kMicrosecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
