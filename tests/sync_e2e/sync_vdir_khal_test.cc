// End to end: the CRM (SQLite store file) synced with a vdir folder that khal
// reads and writes. khal runs with a temporary configuration and data folder; no
// network is involved.
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/random.h"
#include "ical/ical.h"
#include "providers/vdir/vdir_calendar.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sync_state_sqlite.h"
#include "sync/sync_service.h"

namespace tandem {
namespace {
namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class SyncWithKhal : public testing::Test {
 protected:
  void SetUp() override {
    if (RunCommand("command -v khal").exit_code != 0) GTEST_SKIP() << "khal is not installed";
    std::string pattern = (fs::temp_directory_path() / "tandem-e2e-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    cal_ = dir_ / "calendar";
    fs::create_directories(cal_);
    fs::create_directories(dir_ / "khal-data");
    std::ofstream(dir_ / "khal.conf") << fmt::format(
        "[calendars]\n[[work]]\npath = {}\ntype = calendar\n"
        "[locale]\ntimeformat = %H:%M\ndateformat = %Y-%m-%d\nlongdateformat = %Y-%m-%d\n"
        "datetimeformat = %Y-%m-%d %H:%M\nlongdatetimeformat = %Y-%m-%d %H:%M\n"
        "local_timezone = UTC\ndefault_timezone = UTC\n[default]\ndefault_calendar = work\n",
        cal_.string());

    auto crm = store::sqlite::SqliteStore::Open(
        {.path = (dir_ / "tandem.db").string(), .clock = &clock_, .ids = &ids_});
    ASSERT_TRUE(crm.ok()) << crm.status().ToString();
    crm_ = std::move(*crm);
    auto state =
        store::sqlite::OpenSqliteSyncState({.pool = &crm_->pool(), .clock = &clock_, .ids = &ids_});
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    state_ = std::move(*state);
    registry_.Register(
        "vdir", [this](const store::SyncPair& p) -> Result<std::unique_ptr<sync::CalendarSide>> {
          return std::unique_ptr<sync::CalendarSide>(new providers::vdir::VdirCalendar(
              {.path = p.calendar, .state_dir = (dir_ / "vdir-state").string()}));
        });
    service_ = std::make_unique<sync::SyncService>(sync::SyncServiceOptions{.store = crm_.get(),
                                                                            .state = state_.get(),
                                                                            .providers = &registry_,
                                                                            .clock = &clock_,
                                                                            .ids = &ids_});
    auto pair =
        service_->AddPair({.user_id = "alice", .provider = "vdir", .calendar = cal_.string()});
    ASSERT_TRUE(pair.ok()) << pair.status().ToString();
    pair_id_ = pair->id;
    day_ = std::chrono::floor<std::chrono::days>(clock_.Now()) + std::chrono::days(2);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  CommandResult Khal(const std::string& args) {
    return RunCommand(fmt::format("XDG_DATA_HOME={} XDG_CONFIG_HOME={} khal -c {} {}",
                                  Quote((dir_ / "khal-data").string()), Quote(dir_.string()),
                                  Quote((dir_ / "khal.conf").string()), args));
  }
  std::string Day(int plus = 0) {
    return fmt::format("{:%Y-%m-%d}",
                       std::chrono::sys_days(std::chrono::floor<std::chrono::days>(day_)) +
                           std::chrono::days(plus));
  }
  std::string KhalList() {
    return Khal(fmt::format("list --format '{{start-time}} {{title}}' {} {}", Day(), Day(1)))
        .output;
  }
  std::vector<model::Activity> CrmAll() {
    store::ListOptions lo;
    lo.owner_id = "alice";
    lo.limit = 1000;
    return crm_->ListActivities(lo)->items;
  }

  SystemClock clock_;
  SecureRandom random_;
  IdGenerator ids_{clock_, random_};
  fs::path dir_, cal_;
  std::unique_ptr<store::sqlite::SqliteStore> crm_;
  std::unique_ptr<store::SyncStateStore> state_;
  sync::ProviderRegistry registry_;
  std::unique_ptr<sync::SyncService> service_;
  std::string pair_id_;
  Instant day_;
};

TEST_F(SyncWithKhal, KhalSeesCrmEventsAndCrmGetsKhalEvents) {
  model::Activity review;
  review.meta.owner_id = "alice";
  review.subject = "Quarterly review";
  review.start = day_ + std::chrono::hours(10);
  review.end = day_ + std::chrono::hours(11);
  review = *crm_->Create(review);

  auto init = service_->Init(pair_id_);
  ASSERT_TRUE(init.ok()) << init.status().ToString();
  ASSERT_TRUE(init->errors.empty()) << init->errors[0].error;
  EXPECT_TRUE(fs::exists(cal_ / (review.meta.id + ".ics")));

  // khal reads what Tandem wrote.
  std::string listed = KhalList();
  EXPECT_NE(listed.find("10:00 Quarterly review"), std::string::npos) << listed;

  // An event created with khal is synced into the CRM.
  auto made = Khal(fmt::format("new -a work {} 14:00 15:00 {}", Day(), Quote("Dentist from khal")));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto run = service_->RunNow(pair_id_);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_TRUE(run->errors.empty());
  EXPECT_EQ(run->applied["create"], 1) << run->plan;
  model::Activity dentist;
  for (const auto& a : CrmAll()) {
    if (a.subject == "Dentist from khal") dentist = a;
  }
  ASSERT_FALSE(dentist.meta.id.empty()) << run->plan;
  EXPECT_EQ(dentist.start, day_ + std::chrono::hours(14));
  EXPECT_EQ(dentist.end, day_ + std::chrono::hours(15));

  // A CRM edit shows up in khal; nothing is duplicated.
  review = *crm_->GetActivity(review.meta.id);
  review.subject = "Quarterly review (room 4)";
  ASSERT_TRUE(crm_->Update(review, review.meta.version).ok());
  run = service_->RunNow(pair_id_);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->applied["update"], 1) << run->plan;
  listed = KhalList();
  EXPECT_NE(listed.find("10:00 Quarterly review (room 4)"), std::string::npos) << listed;
  EXPECT_NE(listed.find("14:00 Dentist from khal"), std::string::npos) << listed;
  size_t files = 0;
  for (auto& e : fs::directory_iterator(cal_)) files += e.path().extension() == ".ics";
  EXPECT_EQ(files, 2u);

  // Removing khal's file moves the CRM activity to the trash; restoring it
  // puts the event back into the folder on the next run.
  for (auto& e : fs::directory_iterator(cal_)) {
    if (e.path().extension() != ".ics") continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find("Dentist from khal") != std::string::npos) fs::remove(e.path());
  }
  run = service_->RunNow(pair_id_);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->applied["trash"], 1) << run->plan;
  auto trash = service_->Trash("alice");
  ASSERT_EQ(trash->size(), 1u);
  ASSERT_TRUE(service_->RestoreTrash("alice", trash->front().id).ok());
  run = service_->RunNow(pair_id_);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->applied["create"], 1) << run->plan;
  listed = KhalList();
  EXPECT_NE(listed.find("14:00 Dentist from khal"), std::string::npos) << listed;

  // The sync log tells the story.
  auto log = service_->SyncLog(pair_id_, 100);
  ASSERT_TRUE(log.ok());
  EXPECT_GE(log->size(), 5u);
}

}  // namespace
}  // namespace tandem
