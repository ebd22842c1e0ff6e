// Where the time of "list 100 activities" goes: the store query, model::ToJson,
// and dumping the JSON text, each for one page of 100 activities; and the direct
// writer (model::AppendJson) that replaced the last two.
#include <benchmark/benchmark.h>

#include "core/clock.h"
#include "core/ids.h"
#include "model/json.h"
#include "store/store.h"

namespace {

using namespace tandem;

struct Fixture {
  SystemClock clock;
  SeededRandom random{1};
  IdGenerator ids{clock, random};
  std::unique_ptr<store::Store> store;
  store::ListOptions range;
  Fixture() {
    store = std::move(*store::OpenSqliteStore({.path = ":memory:", .clock = &clock, .ids = &ids}));
    model::User u;
    u.login = "bench";
    u.password_hash = "x";
    auto user = *store->CreateUser(u);
    Instant base = FromUnixSeconds(1'900'000'000);
    for (int i = 0; i < 20000; ++i) {
      model::Activity a;
      a.meta.owner_id = user.id;
      a.subject = "Benchmark appointment " + std::to_string(i);
      a.location = "Room " + std::to_string(i % 40);
      a.description = "Seeded for the API benchmark.";
      a.start = base + std::chrono::minutes(30) * (i % 17520);
      a.end = a.start + std::chrono::minutes(30);
      (void)store->Create(std::move(a));
    }
    range.limit = 100;
    range.from = base;
    range.to = base + std::chrono::hours(100);
    range.viewer = store::Viewer{user.id, false};
  }
};

Fixture& Shared() {
  static Fixture f;
  return f;
}

void BM_StoreListRange(benchmark::State& state) {
  auto& f = Shared();
  for (auto _ : state) {
    auto page = f.store->ListActivities(f.range);
    benchmark::DoNotOptimize(page);
  }
}
BENCHMARK(BM_StoreListRange);

void BM_ToJson100(benchmark::State& state) {
  auto& f = Shared();
  auto page = *f.store->ListActivities(f.range);
  for (auto _ : state) {
    model::Json items = model::Json::array();
    for (const auto& a : page.items) items.push_back(model::ToJson(a));
    benchmark::DoNotOptimize(items);
  }
}
BENCHMARK(BM_ToJson100);

void BM_Dump100(benchmark::State& state) {
  auto& f = Shared();
  auto page = *f.store->ListActivities(f.range);
  model::Json items = model::Json::array();
  for (const auto& a : page.items) items.push_back(model::ToJson(a));
  for (auto _ : state) {
    std::string text = items.dump();
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_Dump100);

// The path the list and change-feed answers take: JSON text written straight
// from the structs (replaces ToJson + dump).
void BM_AppendJson100(benchmark::State& state) {
  auto& f = Shared();
  auto page = *f.store->ListActivities(f.range);
  for (auto _ : state) {
    std::string text = "{\"items\":[";
    for (size_t i = 0; i < page.items.size(); ++i) {
      if (i > 0) text += ',';
      model::AppendJson(page.items[i], &text);
    }
    text += "]}";
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_AppendJson100);

}  // namespace

BENCHMARK_MAIN();
