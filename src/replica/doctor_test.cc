#include "replica/doctor.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/data_dir.h"
#include "core/random.h"

namespace tandem::replica {
namespace {

class ScriptedServer final : public ReplicationServer {
 public:
  Result<FeedPage> Changes(std::string_view, int, std::string_view) override { return Status::Unavailable("down"); }
  Result<std::vector<PushResult>> Push(const std::vector<OutgoingMutation>&) override {
    return Status::Unavailable("down");
  }
  Result<ServerInfo> Info() override {
    if (!reachable) return Status::Unavailable("connection refused");
    return info;
  }
  Result<Json> Me() override {
    if (!credentials_ok) return Status::Unauthenticated("login: wrong password");
    return Json{{"login", "alice"}};
  }
  bool reachable = true;
  bool credentials_ok = true;
  ServerInfo info;
};

class DoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = std::move(store::sqlite::DatabasePool::Open({.path = ":memory:"})).value();
    state_ = std::move(ReplicaState::Open(*pool_, clock_)).value();
    server_.info = {.server_version = TANDEM_VERSION, .api = 1, .schema = 1, .date = clock_.Now()};
  }
  const DoctorCheck* Find(const std::vector<DoctorCheck>& checks, std::string_view name) {
    for (const auto& c : checks) {
      if (c.name == name) return &c;
    }
    ADD_FAILURE() << "no check " << name;
    return nullptr;
  }
  DoctorOptions Options() {
    return {.server = &server_, .state = state_.get(), .pool = pool_.get(), .clock = &clock_};
  }

  FakeClock clock_{FromUnixSeconds(1'790'000'000)};
  std::unique_ptr<store::sqlite::DatabasePool> pool_;
  std::unique_ptr<ReplicaState> state_;
  ScriptedServer server_;
};

TEST_F(DoctorTest, HealthyReplicaPassesEveryCheck) {
  auto checks = RunDoctor(Options());
  for (const auto& c : checks) EXPECT_TRUE(c.ok) << c.name << ": " << c.detail;
  EXPECT_EQ(Find(checks, "database")->detail, "integrity_check: ok");
  EXPECT_TRUE(ToJson(checks)["ok"].get<bool>());
}

TEST_F(DoctorTest, ReportsAndFixesADataFolderOthersCanRead) {
  namespace fs = std::filesystem;
  SecureRandom random;
  fs::path dir = fs::temp_directory_path() / ("tandem-doctor-" + random.Hex(6));
  ASSERT_TRUE(SecureDataDir(dir.string()).ok());
  std::ofstream(dir / "replica.db") << "x";
  fs::permissions(dir, static_cast<fs::perms>(0755), fs::perm_options::replace);
  fs::permissions(dir / "replica.db", static_cast<fs::perms>(0644), fs::perm_options::replace);
  DoctorOptions o = Options();
  o.data_dir = dir.string();
  auto wide_checks = RunDoctor(o);  // held: Find points into it
  const DoctorCheck* wide = Find(wide_checks, "file_modes");
  ASSERT_NE(wide, nullptr);
  EXPECT_FALSE(wide->ok);
  EXPECT_TRUE(wide->fixable);
  EXPECT_NE(wide->detail.find("replica.db: 0644 -> 0600"), std::string::npos) << wide->detail;
  o.fix = true;
  auto fixed_checks = RunDoctor(o);
  const DoctorCheck* fixed = Find(fixed_checks, "file_modes");
  ASSERT_NE(fixed, nullptr);
  EXPECT_TRUE(fixed->ok) << fixed->detail;
  EXPECT_EQ(static_cast<unsigned>(fs::status(dir / "replica.db").permissions()) & 0777u, 0600u);
  EXPECT_EQ(static_cast<unsigned>(fs::status(dir).permissions()) & 0777u, 0700u);
  fs::remove_all(dir);
}

TEST_F(DoctorTest, FindsUnreachableServer) {
  server_.reachable = false;
  auto checks = RunDoctor(Options());
  EXPECT_FALSE(Find(checks, "reachability")->ok);
  EXPECT_FALSE(ToJson(checks)["ok"].get<bool>());
}

TEST_F(DoctorTest, FindsVersionMismatchClockSkewAndBadCredentials) {
  server_.info.server_version = "9.9.0";
  server_.info.date = clock_.Now() - std::chrono::minutes(10);
  server_.credentials_ok = false;
  auto checks = RunDoctor(Options());
  EXPECT_FALSE(Find(checks, "version")->ok);
  EXPECT_NE(Find(checks, "version")->detail.find("9.9.0"), std::string::npos);
  EXPECT_FALSE(Find(checks, "clock")->ok);
  EXPECT_NE(Find(checks, "clock")->detail.find("600"), std::string::npos);
  EXPECT_FALSE(Find(checks, "credentials")->ok);
}

TEST_F(DoctorTest, FindsStuckAndFailedItemsAndRequeuesFailedOnFix) {
  Mutation m;
  m.mutation_id = "m1";
  m.entity = model::EntityType::kContact;
  m.record_id = "c1";
  ASSERT_TRUE(state_->Enqueue(m).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(state_->NoteAttempt("m1", "Unavailable").ok());
  m.mutation_id = "m2";
  m.record_id = "c2";
  ASSERT_TRUE(state_->Enqueue(m).ok());
  ASSERT_TRUE(state_->MarkFailed("m2", "PermissionDenied: owner_id").ok());

  auto checks = RunDoctor(Options());
  EXPECT_FALSE(Find(checks, "outbox")->ok);
  EXPECT_NE(Find(checks, "outbox")->detail.find("c1"), std::string::npos);
  EXPECT_FALSE(Find(checks, "failed_mutations")->ok);
  EXPECT_NE(Find(checks, "failed_mutations")->detail.find("c2"), std::string::npos);

  DoctorOptions fix = Options();
  fix.fix = true;
  auto fixed = RunDoctor(fix);
  EXPECT_TRUE(Find(checks, "failed_mutations")->fixable);
  EXPECT_EQ(Find(fixed, "failed_mutations")->fixed, "queued 1 again");
  EXPECT_TRUE(Find(fixed, "failed_mutations")->ok);
  EXPECT_FALSE(Find(fixed, "outbox")->fixable);
  EXPECT_TRUE(state_->ListOutbox(OutboxState::kFailed)->empty());
  EXPECT_EQ(*state_->PendingCount(), 2);
}

}  // namespace
}  // namespace tandem::replica
