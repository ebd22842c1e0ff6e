// bench_sync_caldav: one phase of the full two-way sync CRM (SQLite store) <->
// one CalDAV calendar, timed, for run.sh (docs/bench-sync-caldav.md).
//
//   bench_sync_caldav first       --url U --user N --password P --data-dir D
//       fresh store in D (removed first), one user, one caldav pair with a wide
//       window (all seeded events inside), SyncService::Init (S13).
//   bench_sync_caldav noop        ... : RunNow on the same data dir.
//   bench_sync_caldav incremental ... : RunNow again (run.sh changed events first).
//
// Prints one line "phase=... seconds=... crm_activities=... requests_sent=...
// external_changes=... vmhwm_kib=... summary=..." (key=value, summary last) and
// exits 1 when the run fails or reports item errors.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "core/random.h"
#include "http/client.h"
#include "providers/caldav/caldav_calendar.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sync_state_sqlite.h"
#include "sync/sync_service.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

struct Args {
  std::string phase;
  std::string url;
  std::string user;
  std::string password;
  std::string data_dir;
  int window_days_back = 400;
  int window_days_ahead = 800;
  int multiget_batch = 200;
};

// Peak resident set of this process (VmHWM) in KiB, 0 when unknown.
int64_t PeakRssKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

// Counts HTTP requests across every CalDAV side the service opens.
struct RequestCounter {
  int64_t requests = 0;
};

// Wraps the provider so its HTTP statistics survive the service closing it.
class CountingCalendar final : public sync::CalendarSide {
 public:
  CountingCalendar(std::unique_ptr<providers::caldav::CalDavCalendar> inner, RequestCounter& c)
      : inner_(std::move(inner)), counter_(c) {}
  ~CountingCalendar() override { counter_.requests += inner_->http_stats().requests_sent; }

  Result<std::string> Identity() override { return inner_->Identity(); }
  Result<sync::ChangeSet> ChangesSince(const std::string& cursor,
                                       const sync::TimeRange& window) override {
    return inner_->ChangesSince(cursor, window);
  }
  Result<sync::ChangeSet> StreamChangesSince(const std::string& cursor,
                                             const sync::TimeRange& window,
                                             const sync::ItemSink& sink) override {
    return inner_->StreamChangesSince(cursor, window, sink);
  }
  Result<std::vector<sync::Item>> GetMany(const std::vector<std::string>& hrefs) override {
    return inner_->GetMany(hrefs);
  }
  Result<sync::ItemRef> Create(const std::string& uid, const std::string& ical) override {
    return inner_->Create(uid, ical);
  }
  Result<sync::ItemRef> Update(const std::string& href, const std::string& etag,
                               const std::string& ical) override {
    return inner_->Update(href, etag, ical);
  }
  Status Delete(const std::string& href, const std::string& etag) override {
    return inner_->Delete(href, etag);
  }
  Result<std::optional<sync::Item>> FindByUid(const std::string& uid) override {
    return inner_->FindByUid(uid);
  }

 private:
  std::unique_ptr<providers::caldav::CalDavCalendar> inner_;
  RequestCounter& counter_;
};

Status RunPhase(const Args& a) {
  SystemClock clock;
  SecureRandom random;
  IdGenerator ids(clock, random);
  const bool first = a.phase == "first";
  fs::path db_path = fs::path(a.data_dir) / "tandem.db";
  if (first) {
    std::error_code ec;
    fs::remove_all(a.data_dir, ec);
    fs::create_directories(a.data_dir, ec);
    if (ec) return Status::InvalidArgument("cannot create " + a.data_dir + ": " + ec.message());
  } else if (!fs::exists(db_path)) {
    return Status::NotFound(db_path.string() + " is missing: run the phase \"first\" before");
  }

  TANDEM_ASSIGN_OR_RETURN(auto crm, store::sqlite::SqliteStore::Open(
                                        {.path = db_path.string(), .clock = &clock, .ids = &ids}));
  TANDEM_ASSIGN_OR_RETURN(auto state, store::sqlite::OpenSqliteSyncState(
                                          {.pool = &crm->pool(), .clock = &clock, .ids = &ids}));
  RequestCounter counter;
  sync::ProviderRegistry providers;
  providers.Register("caldav", [&](const store::SyncPair& pair)
                                   -> Result<std::unique_ptr<sync::CalendarSide>> {
    providers::caldav::CalDavCalendarOptions o;
    o.calendar_url = pair.calendar;
    o.http.auth = http::Auth::Basic(a.user, a.password);
    o.multiget_batch_size = a.multiget_batch;
    TANDEM_ASSIGN_OR_RETURN(auto cal, providers::caldav::CalDavCalendar::Open(std::move(o)));
    return std::unique_ptr<sync::CalendarSide>(new CountingCalendar(std::move(cal), counter));
  });
  sync::SyncService service({.store = crm.get(), .state = state.get(), .providers = &providers,
                             .clock = &clock, .ids = &ids});

  std::string pair_id;
  if (first) {
    model::User user;
    user.login = "bench";
    user.display_name = "Benchmark user";
    user.email = "bench@localhost";
    TANDEM_ASSIGN_OR_RETURN(user, crm->CreateUser(user));
    sync::NewSyncPair np;
    np.user_id = user.id;
    np.provider = "caldav";
    np.calendar = a.url;
    np.options.window_days_back = a.window_days_back;
    np.options.window_days_ahead = a.window_days_ahead;
    TANDEM_ASSIGN_OR_RETURN(auto pair, service.AddPair(np));
    pair_id = pair.id;
  } else {
    TANDEM_ASSIGN_OR_RETURN(auto pairs, service.ListPairs(""));
    if (pairs.size() != 1) return Status::InvalidArgument("expected exactly one sync pair in the store");
    pair_id = pairs[0].id;
  }

  auto t0 = std::chrono::steady_clock::now();
  Result<sync::RunReport> report = first ? service.Init(pair_id) : service.RunNow(pair_id);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!report.ok()) return report.status().WithContext("phase " + a.phase);

  // How many activities the CRM holds now (what the first sync pulled in).
  int64_t activities = -1;
  {
    TANDEM_ASSIGN_OR_RETURN(auto reader, crm->pool().Read());
    TANDEM_ASSIGN_OR_RETURN(auto count, reader->Prepare("SELECT count(*) FROM activities"));
    TANDEM_ASSIGN_OR_RETURN(bool row, count.Step());
    if (row) activities = count.Int64(0);
  }

  std::printf(
      "phase=%s seconds=%.3f crm_activities=%lld requests_sent=%lld crm_changes=%d "
      "external_changes=%d errors=%zu vmhwm_kib=%lld summary=%s\n",
      a.phase.c_str(), seconds, static_cast<long long>(activities),
      static_cast<long long>(counter.requests), report->crm_changes, report->external_changes,
      report->errors.size(), static_cast<long long>(PeakRssKib()), report->Summary().c_str());
  for (size_t i = 0; i < report->errors.size() && i < 5; ++i) {
    const auto& e = report->errors[i];
    std::fprintf(stderr, "item error: %s %s uid=%s: %s\n", e.action.c_str(), e.target.c_str(),
                 e.uid.c_str(), e.error.c_str());
  }
  if (report->refusal) return Status::PreconditionFailed("refused: " + *report->refusal);
  return Status::Ok();
}

}  // namespace
}  // namespace tandem

int main(int argc, char** argv) {
  tandem::Args a;
  CLI::App app{"Times one phase of the CRM <-> CalDAV sync"};
  app.add_option("phase", a.phase, "first | noop | incremental")
      ->required()
      ->check(CLI::IsMember({"first", "noop", "incremental"}));
  app.add_option("--url", a.url, "calendar collection URL")->required();
  app.add_option("--user", a.user, "CalDAV user")->required();
  app.add_option("--password", a.password, "CalDAV password")->required();
  app.add_option("--data-dir", a.data_dir, "folder of the CRM database")->required();
  app.add_option("--window-days-back", a.window_days_back);
  app.add_option("--window-days-ahead", a.window_days_ahead);
  app.add_option("--multiget-batch", a.multiget_batch);
  CLI11_PARSE(app, argc, argv);
  tandem::Status s = tandem::RunPhase(a);
  if (!s.ok()) {
    std::fprintf(stderr, "bench_sync_caldav: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
