// Offline client figures (docs/bench-replica.md), against a real tandemd process
// over loopback; the replica side runs in this process (HttpReplicationServer +
// Replicator over a local SQLite file, as `tandemd --replica-of` does).
//
//   first fill:        N activities of the user, pulled from an empty replica
//   push:              1,000 queued local updates pushed (mutation batches)
//   incremental pull:  100 changed records pulled from a server holding M records
//
// The server databases are seeded directly through SqliteStore::ImportActivities
// before tandemd starts (seeding through HTTP would dominate the run).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/auth.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/random.h"
#include "http/client.h"
#include "model/json.h"
#include "replica/http_replication_server.h"
#include "replica/recording_store.h"
#include "replica/replicator.h"
#include "store/sqlite/sqlite_store.h"

namespace tandem::replica {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

struct Server {
  pid_t pid = 0;
  int port = 0;
  std::string epoch;
  int64_t latest_seq = 0;
  std::string url() const { return fmt::format("http://127.0.0.1:{}", port); }
};

// Seeds `records` activities of user "alice" into dir/tandem.db and starts tandemd.
Server SeedAndStart(const fs::path& dir, int64_t records) {
  fs::create_directories(dir);
  SystemClock clock;
  SecureRandom random;
  IdGenerator ids(clock, random);
  Server server;
  {
    auto store = store::sqlite::SqliteStore::Open(
        {.path = (dir / "tandem.db").string(), .clock = &clock, .ids = &ids});
    if (!store.ok()) throw std::runtime_error(store.status().ToString());
    model::User alice;
    alice.id = "u-alice";
    alice.login = "alice";
    alice.password_hash = *api::HashPassword("alice-password", api::PasswordCost::Fast());
    (void)(*store)->CreateUser(alice);
    Instant base = clock.Now() - std::chrono::hours(24 * 30);
    int64_t i = 0;
    auto t0 = Steady::now();
    auto imported = (*store)->ImportActivities([&](model::Activity* a) {
      if (i >= records) return false;
      a->meta.owner_id = "u-alice";
      a->subject = fmt::format("Meeting {}", i);
      a->location = "Room 4";
      a->description = "Agenda: pipeline review, next steps, follow-up calls.";
      a->start = base + std::chrono::minutes(i % 200000);
      a->end = a->start + std::chrono::minutes(30);
      ++i;
      return true;
    });
    if (!imported.ok()) throw std::runtime_error(imported.status().ToString());
    std::cerr << fmt::format("seeded {} activities in {:.1f} s\n", *imported,
                             Ms(Steady::now() - t0) / 1000);
    server.epoch = (*store)->Epoch();
    server.latest_seq = *(*store)->LatestSeq();
  }
  server.port = FreePort();
  std::ofstream(dir / "server.toml") << fmt::format(
      "listen = \"127.0.0.1:{}\"\ndata_dir = \"{}\"\nlog_level = \"warn\"\nthreads = 2\n"
      "[admin]\nlogin = \"admin\"\npassword = \"admin-password\"\n",
      server.port, dir.string());
  server.pid = fork();
  if (server.pid == 0) {
    std::string config = (dir / "server.toml").string();
    execl(TANDEMD_PATH, TANDEMD_PATH, "--config", config.c_str(), nullptr);
    _exit(127);
  }
  http::Client probe;
  for (int i = 0; i < 500; ++i) {
    auto r = probe.Send({.method = "GET", .url = server.url() + "/healthz"});
    if (r.ok() && r->status == 200) return server;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("tandemd did not start");
}

void Stop(Server& s) {
  kill(s.pid, SIGTERM);
  waitpid(s.pid, nullptr, 0);
}

// A replica in this process: local store, state, link, replicator.
struct Replica {
  SystemClock clock;
  SecureRandom random;
  IdGenerator ids{clock, random};
  std::unique_ptr<store::sqlite::SqliteStore> local;
  std::unique_ptr<ReplicaState> state;
  std::unique_ptr<HttpReplicationServer> server;
  std::unique_ptr<Connectivity> link;
  std::unique_ptr<Replicator> replicator;
  std::unique_ptr<RecordingStore> recording;

  Replica(const fs::path& db, const std::string& url, int page_size, int push_batch,
          const std::function<void(ReplicaState&)>& before = nullptr) {
    local = std::move(store::sqlite::SqliteStore::Open({.path = db.string(), .clock = &clock, .ids = &ids}))
                .value();
    state = std::move(ReplicaState::Open(local->pool(), clock)).value();
    if (before) before(*state);
    server = std::make_unique<HttpReplicationServer>(HttpServerOptions{
        .base_url = url, .login = "alice", .password = "alice-password", .clock = &clock});
    link = std::make_unique<Connectivity>(clock);
    auto r = Replicator::Open({.local = local.get(), .state = state.get(), .server = server.get(),
                               .link = link.get(), .clock = &clock, .ids = &ids,
                               .user_id = "u-alice", .page_size = page_size,
                               .push_batch = push_batch});
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    replicator = std::move(r).value();
    recording = std::make_unique<RecordingStore>(RecordingStoreOptions{
        .inner = local.get(), .state = state.get(), .ids = &ids,
        .apply_mutex = &replicator->apply_mutex()});
  }
};

int Main(int argc, char** argv) {
  CLI::App app{"replica benchmarks"};
  int64_t fill_records = 100000;
  int64_t big_records = 1000000;
  int page_size = 5000;
  int rounds = 20;
  std::string workdir = (fs::temp_directory_path() / "tandem-replica-bench").string();
  app.add_option("--fill-records", fill_records);
  app.add_option("--big-records", big_records);
  app.add_option("--page-size", page_size);
  app.add_option("--rounds", rounds);
  app.add_option("--workdir", workdir);
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(spdlog::level::warn);
  fs::remove_all(workdir);
  fs::path dir(workdir);

  // --- first fill and push
  {
    Server server = SeedAndStart(dir / "server-fill", fill_records);
    Replica replica(dir / "replica-fill.db", server.url(), page_size, 1000);
    auto t0 = Steady::now();
    bool more = true;
    int64_t pulled = 0;
    while (more) {
      auto n = replica.replicator->PullPage(&more);
      if (!n.ok()) throw std::runtime_error(n.status().ToString());
      pulled += *n;
    }
    double fill_ms = Ms(Steady::now() - t0);
    {
      // The server's share: the same pages fetched again without applying them.
      HttpReplicationServer probe({.base_url = server.url(), .login = "alice",
                                   .password = "alice-password", .clock = &replica.clock});
      auto t1 = Steady::now();
      std::string cursor;
      bool again = true;
      while (again) {
        auto page = probe.Changes(cursor, page_size, model::ToJson(replica.replicator->data_groups()).dump());
        if (!page.ok()) throw std::runtime_error(page.status().ToString());
        cursor = page->next;
        again = page->more;
      }
      std::cout << fmt::format("first_fill_fetch_only time_ms={:.0f}\n", Ms(Steady::now() - t1));
    }
    std::cout << fmt::format("first_fill records={} page_size={} time_ms={:.0f} records_per_s={:.0f}\n",
                             pulled, page_size, fill_ms, pulled / (fill_ms / 1000));

    // 1,000 local edits queued, then pushed.
    auto page = replica.local->ListActivities({.limit = 1000});
    for (auto a : page->items) {
      a.subject += " (edited offline)";
      if (!replica.recording->Update(a, std::nullopt).ok()) throw std::runtime_error("local update");
    }
    int64_t queued = *replica.state->PendingCount();
    t0 = Steady::now();
    SyncReport report;
    more = true;
    while (more) {
      auto n = replica.replicator->PushBatch(&more, &report);
      if (!n.ok()) throw std::runtime_error(n.status().ToString());
    }
    double push_ms = Ms(Steady::now() - t0);
    std::cout << fmt::format("push mutations={} applied={} conflicts={} time_ms={:.0f}\n", queued,
                             report.pushed, report.conflicts, push_ms);
    Stop(server);
  }

  // --- incremental pull from a big server (--big-records 0 skips it)
  if (big_records > 0) {
    Server server = SeedAndStart(dir / "server-big", big_records);
    // A replica that is up to date: its cursor is the server's end of feed.
    Replica replica(dir / "replica-big.db", server.url(), 1000, 1000, [&](ReplicaState& st) {
      (void)st.SetMeta("generation", "1");
      (void)st.SetMeta("full_pull", "0");
      (void)st.SetMeta("cursor", fmt::format("{}.{}", server.epoch, server.latest_seq));
    });
    HttpReplicationServer writer({.base_url = server.url(), .login = "alice",
                                  .password = "alice-password", .clock = &replica.clock});
    std::vector<double> times;
    SecureRandom pick;
    for (int round = 0; round < rounds; ++round) {
      // 100 records change on the server (one mutation batch of another client).
      std::vector<OutgoingMutation> batch;
      auto listed = replica.local->ListActivities({.limit = 1});  // keep the local DB warm
      (void)listed;
      http::Client client;
      auto login = writer.Login();
      std::string token = (*login)["token"];
      // Records to change: ids from the feed of the big server (first pages).
      static std::vector<std::string> ids;
      if (ids.empty()) {
        auto page = writer.Changes("", 10000, "");
        for (const auto& c : page->changes) ids.push_back(c.id);
      }
      for (int i = 0; i < 100; ++i) {
        OutgoingMutation m;
        m.mutation.mutation_id = replica.ids.NewId();
        m.mutation.entity = model::EntityType::kActivity;
        m.mutation.record_id = ids[(round * 100 + i) % ids.size()];
        m.mutation.op = MutationOp::kUpdate;
        m.mutation.fields = {{"subject", fmt::format("changed in round {}", round)}};
        batch.push_back(std::move(m));
      }
      auto pushed = writer.Push(batch);
      if (!pushed.ok()) throw std::runtime_error(pushed.status().ToString());
      auto t0 = Steady::now();
      auto report = replica.replicator->SyncOnce();
      double ms = Ms(Steady::now() - t0);
      if (!report.ok() || report->pulled != 100) {
        throw std::runtime_error(fmt::format("round {}: pulled {} ({})", round,
                                             report.ok() ? report->pulled : -1,
                                             report.status().ToString()));
      }
      times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    std::cout << fmt::format(
        "incremental_pull server_records={} changes=100 rounds={} median_ms={:.1f} p90_ms={:.1f} "
        "max_ms={:.1f}\n",
        big_records, rounds, times[times.size() / 2], times[times.size() * 9 / 10], times.back());
    Stop(server);
  }
  fs::remove_all(workdir);
  return 0;
}

}  // namespace
}  // namespace tandem::replica

int main(int argc, char** argv) {
  try {
    return tandem::replica::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "replica_bench: " << e.what() << "\n";
    return 1;
  }
}
