// Fills a Tandem database for the API benchmarks: user bench/bench and N activities
// of that user, spread over the coming year (30-minute slots). Usage:
//   api_bench_seed DB_PATH N
#include <cstdio>
#include <cstdlib>
#include <string>

#include "api/auth.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/random.h"
#include "store/store.h"

int main(int argc, char** argv) {
  using namespace tandem;
  if (argc != 3) {
    std::fprintf(stderr, "usage: api_bench_seed DB_PATH N\n");
    return 2;
  }
  const int n = std::atoi(argv[2]);
  SystemClock clock;
  SecureRandom random;
  IdGenerator ids(clock, random);
  auto store = store::OpenSqliteStore({.path = argv[1], .clock = &clock, .ids = &ids});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  model::User user;
  user.login = "bench";
  user.password_hash = *api::HashPassword("bench", api::PasswordCost::Interactive());
  auto created = (*store)->CreateUser(user);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
    return 1;
  }
  Instant base = std::chrono::floor<std::chrono::days>(clock.Now()) + std::chrono::hours(24);
  for (int i = 0; i < n; ++i) {
    model::Activity a;
    a.meta.owner_id = created->id;
    a.subject = "Benchmark appointment " + std::to_string(i);
    a.location = "Room " + std::to_string(i % 40);
    a.description = "Seeded for the API benchmark.";
    a.start = base + std::chrono::minutes(30) * (i % 17520);
    a.end = a.start + std::chrono::minutes(30);
    auto r = (*store)->Create(std::move(a));
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  std::printf("%s\n", created->id.c_str());
  return 0;
}
