#include "replica/replica_state.h"

#include <gtest/gtest.h>

namespace tandem::replica {
namespace {

using model::EntityType;
using store::sqlite::DatabasePool;

class ReplicaStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = DatabasePool::Open({.path = ":memory:"});
    ASSERT_TRUE(pool.ok());
    pool_ = std::move(pool).value();
    auto st = ReplicaState::Open(*pool_, clock_);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    st_ = std::move(st).value();
  }
  Mutation Make(std::string mid, std::string record, MutationOp op = MutationOp::kUpdate) {
    Mutation m;
    m.mutation_id = std::move(mid);
    m.entity = EntityType::kContact;
    m.record_id = std::move(record);
    m.op = op;
    m.fields = {{"first_name", "Ada"}};
    return m;
  }
  std::vector<std::string> BatchIds(int limit) {
    auto batch = st_->NextBatch(limit);
    EXPECT_TRUE(batch.ok());
    std::vector<std::string> ids;
    for (const auto& m : *batch) ids.push_back(m.mutation_id);
    return ids;
  }

  FakeClock clock_{FromUnixSeconds(1'790'000'000)};
  std::unique_ptr<DatabasePool> pool_;
  std::unique_ptr<ReplicaState> st_;
};

TEST_F(ReplicaStateTest, OutboxKeepsOrderAndFieldsAcrossReads) {
  ASSERT_TRUE(st_->Enqueue(Make("m1", "r1", MutationOp::kCreate)).ok());
  ASSERT_TRUE(st_->Enqueue(Make("m2", "r2")).ok());
  auto batch = st_->NextBatch(10);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ((*batch)[0].mutation_id, "m1");
  EXPECT_EQ((*batch)[0].op, MutationOp::kCreate);
  EXPECT_EQ((*batch)[0].fields["first_name"], "Ada");
  EXPECT_EQ((*batch)[1].record_id, "r2");
  EXPECT_EQ(*st_->PendingCount(), 2);
}

TEST_F(ReplicaStateTest, DuplicateMutationIdIsRefused) {
  ASSERT_TRUE(st_->Enqueue(Make("m1", "r1")).ok());
  EXPECT_TRUE(st_->Enqueue(Make("m1", "r9")).Is(Code::kAlreadyExists));
}

TEST_F(ReplicaStateTest, BatchStopsAtASecondWriteOfTheSameRecord) {
  ASSERT_TRUE(st_->Enqueue(Make("m1", "r1")).ok());
  ASSERT_TRUE(st_->Enqueue(Make("m2", "r2")).ok());
  ASSERT_TRUE(st_->Enqueue(Make("m3", "r1")).ok());
  ASSERT_TRUE(st_->Enqueue(Make("m4", "r3")).ok());
  EXPECT_EQ(BatchIds(10), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(BatchIds(1), (std::vector<std::string>{"m1"}));
}

TEST_F(ReplicaStateTest, AppliedDequeuesAndTracksTheServerVersion) {
  Mutation m = Make("m1", "r1");
  ASSERT_TRUE(st_->Enqueue(m).ok());
  EXPECT_TRUE(*st_->HasOutstanding(EntityType::kContact, "r1"));
  ASSERT_TRUE(st_->MarkApplied(m, 7, 1).ok());
  EXPECT_FALSE(*st_->HasOutstanding(EntityType::kContact, "r1"));
  EXPECT_EQ(*st_->ServerVersion(EntityType::kContact, "r1"), std::optional<int64_t>(7));
  EXPECT_EQ(*st_->PendingCount(), 0);
  // A delete that was applied forgets the record.
  Mutation d = Make("m2", "r1", MutationOp::kDelete);
  ASSERT_TRUE(st_->Enqueue(d).ok());
  ASSERT_TRUE(st_->MarkApplied(d, std::nullopt, 1).ok());
  EXPECT_FALSE(st_->ServerVersion(EntityType::kContact, "r1")->has_value());
}

TEST_F(ReplicaStateTest, FailedMutationLeavesTheQueueWithItsError) {
  ASSERT_TRUE(st_->Enqueue(Make("m1", "r1")).ok());
  ASSERT_TRUE(st_->Enqueue(Make("m2", "r2")).ok());
  ASSERT_TRUE(st_->MarkFailed("m1", "InvalidArgument: end: must not be before start").ok());
  EXPECT_EQ(BatchIds(10), (std::vector<std::string>{"m2"}));
  auto failed = st_->ListOutbox(OutboxState::kFailed);
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ((*failed)[0].record_id, "r1");
  EXPECT_EQ((*failed)[0].last_error, "InvalidArgument: end: must not be before start");
  EXPECT_EQ((*failed)[0].attempts, 1);
  EXPECT_FALSE(*st_->HasOutstanding(EntityType::kContact, "r1"));
}

TEST_F(ReplicaStateTest, TransientFailureStaysQueuedAndCountsAttempts) {
  ASSERT_TRUE(st_->Enqueue(Make("m1", "r1")).ok());
  ASSERT_TRUE(st_->NoteAttempt("m1", "Unavailable").ok());
  ASSERT_TRUE(st_->NoteAttempt("m1", "Unavailable").ok());
  auto all = st_->ListOutbox();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].attempts, 2);
  EXPECT_EQ((*all)[0].state, OutboxState::kPending);
}

TEST_F(ReplicaStateTest, ConflictHoldsTheRecordsLaterWritesUntilDropped) {
  Mutation m1 = Make("m1", "r1");
  ASSERT_TRUE(st_->Enqueue(m1).ok());
  ASSERT_TRUE(st_->Enqueue(Make("m2", "r1")).ok());
  ASSERT_TRUE(st_->Enqueue(Make("m3", "r2")).ok());
  nlohmann::json theirs = {{"id", "r1"}, {"first_name", "Grace"}, {"version", 4}};
  ASSERT_TRUE(st_->RecordConflictFor(m1, theirs, 4).ok());
  EXPECT_EQ(BatchIds(10), (std::vector<std::string>{"m3"}));
  EXPECT_TRUE(*st_->HasOutstanding(EntityType::kContact, "r1"));
  auto c = st_->GetConflict(EntityType::kContact, "r1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->theirs["first_name"], "Grace");
  EXPECT_EQ(c->mine["first_name"], "Ada");
  EXPECT_EQ(c->theirs_version, std::optional<int64_t>(4));

  ASSERT_TRUE(st_->UpdateConflictTheirs(EntityType::kContact, "r1", {{"first_name", "G."}}, 5).ok());
  EXPECT_EQ(st_->GetConflict(EntityType::kContact, "r1")->theirs_version, std::optional<int64_t>(5));

  ASSERT_TRUE(st_->DropConflict(EntityType::kContact, "r1").ok());
  EXPECT_TRUE(st_->GetConflict(EntityType::kContact, "r1").status().Is(Code::kNotFound));
  EXPECT_FALSE(*st_->HasOutstanding(EntityType::kContact, "r1"));
  EXPECT_EQ(st_->ListOutbox()->size(), 1u);
}

TEST_F(ReplicaStateTest, CommitPageWritesTrackingAndCursorTogether) {
  ReplicaState::PageTracking t;
  t.versions.emplace_back(EntityType::kAccount, "a1", 3);
  t.versions.emplace_back(EntityType::kAccount, "a2", 1);
  ASSERT_TRUE(st_->CommitPage(t, 2, "epoch.10").ok());
  EXPECT_EQ(**st_->GetMeta("cursor"), "epoch.10");
  EXPECT_EQ(*st_->TrackedCount(), 2);
  ReplicaState::PageTracking drop;
  drop.untracked.emplace_back(EntityType::kAccount, "a1");
  ASSERT_TRUE(st_->CommitPage(drop, 2, "epoch.11").ok());
  EXPECT_EQ(*st_->TrackedCount(), 1);
  EXPECT_EQ(**st_->GetMeta("cursor"), "epoch.11");
  auto older = st_->TrackedBefore(3);
  ASSERT_TRUE(older.ok());
  ASSERT_EQ(older->size(), 1u);
  EXPECT_EQ((*older)[0].second, "a2");
  EXPECT_TRUE(st_->TrackedBefore(2)->empty());
}

TEST_F(ReplicaStateTest, OpeningTwiceKeepsData) {
  ASSERT_TRUE(st_->SetMeta("server_url", "http://127.0.0.1:1").ok());
  auto again = ReplicaState::Open(*pool_, clock_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(**(*again)->GetMeta("server_url"), "http://127.0.0.1:1");
}

}  // namespace
}  // namespace tandem::replica
