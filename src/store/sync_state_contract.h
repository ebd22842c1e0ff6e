// The SyncStateStore contract suite (header-only gtest code): every
// implementation's test binary instantiates it with a factory
// (INSTANTIATE_TEST_SUITE_P(Impl, SyncStateContract, testing::Values(factory))).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "core/clock.h"
#include "store/sync_state.h"

namespace tandem::sync::contract {

using StateFactory = std::function<std::unique_ptr<store::SyncStateStore>(const Clock&)>;

class SyncStateContract : public testing::TestWithParam<StateFactory> {
 protected:
  void SetUp() override { state_ = GetParam()(clock_); }
  store::SyncPair NewPair(const std::string& user = "user-1") {
    store::SyncPair p;
    p.user_id = user;
    p.provider = "vdir";
    p.calendar = "/tmp/cal";
    p.options.conflict = store::ConflictPolicy::kExternalWins;
    p.options.skip_private = true;
    p.options.window_days_back = 10;
    auto r = state_->CreatePair(p);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }
  static store::ItemStatus Row(const std::string& pair, const std::string& uid) {
    return store::ItemStatus{pair, uid, "crm-" + uid, "\"1\"", "hc", uid + ".ics", "e1", "he"};
  }

  FakeClock clock_{FromUnixSeconds(1'790'000'000)};
  std::unique_ptr<store::SyncStateStore> state_;
};

TEST_P(SyncStateContract, PairRoundTripsWithOptionsAndCursors) {
  store::SyncPair p = NewPair();
  EXPECT_FALSE(p.id.empty());
  EXPECT_EQ(p.created, clock_.Now());
  p.identity = "vdir:/tmp/cal:1:2";
  p.crm_cursor = "42";
  p.external_cursor = "7";
  p.initialized = clock_.Now();
  ASSERT_TRUE(state_->UpdatePair(p).ok());
  auto got = state_->GetPair(p.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->identity, "vdir:/tmp/cal:1:2");
  EXPECT_EQ(got->crm_cursor, "42");
  EXPECT_EQ(got->external_cursor, "7");
  EXPECT_EQ(got->options.conflict, store::ConflictPolicy::kExternalWins);
  EXPECT_TRUE(got->options.skip_private);
  EXPECT_EQ(got->options.window_days_back, 10);
  EXPECT_EQ(got->initialized, clock_.Now());
  EXPECT_FALSE(got->last_run);
  NewPair("user-2");
  EXPECT_EQ(state_->ListPairs("user-1")->size(), 1u);
  EXPECT_EQ(state_->ListPairs("")->size(), 2u);
  EXPECT_TRUE(state_->GetPair("nope").status().Is(Code::kNotFound));
  store::SyncPair missing = p;
  missing.id = "nope";
  EXPECT_TRUE(state_->UpdatePair(missing).Is(Code::kNotFound));
}

TEST_P(SyncStateContract, ARunsCopyOfThePairNeverUndoesARenewedCredential) {
  store::SyncPair p = NewPair();
  ASSERT_TRUE(state_->SetCredential(p.id, "sealed-1").ok());
  store::SyncPair run_copy = *state_->GetPair(p.id);  // what a run holds
  ASSERT_TRUE(state_->SetCredential(p.id, "sealed-2").ok());  // renewed during the run
  run_copy.crm_cursor = "9";
  ASSERT_TRUE(state_->UpdatePair(run_copy).ok());  // the run's end
  auto got = state_->GetPair(p.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->credential_ref, "sealed-2");
  EXPECT_EQ(got->crm_cursor, "9");
  EXPECT_TRUE(state_->SetCredential("nope", "x").Is(Code::kNotFound));
}

TEST_P(SyncStateContract, StatusIsFoundByUidCrmIdAndHref) {
  store::SyncPair p = NewPair();
  ASSERT_TRUE(state_->PutStatus(Row(p.id, "a")).ok());
  ASSERT_TRUE(state_->PutStatus(Row(p.id, "b")).ok());
  EXPECT_EQ(*state_->CountStatus(p.id), 2);
  EXPECT_EQ((*state_->StatusByUid(p.id, "a"))->crm_id, "crm-a");
  EXPECT_EQ((*state_->StatusByCrmId(p.id, "crm-b"))->uid, "b");
  EXPECT_EQ((*state_->StatusByExternalHref(p.id, "a.ics"))->uid, "a");
  EXPECT_FALSE(*state_->StatusByUid(p.id, "zzz"));
  store::ItemStatus changed = Row(p.id, "a");
  changed.external_etag = "e2";
  ASSERT_TRUE(state_->PutStatus(changed).ok());  // replaces
  EXPECT_EQ((*state_->StatusByUid(p.id, "a"))->external_etag, "e2");
  EXPECT_EQ(*state_->CountStatus(p.id), 2);
  ASSERT_TRUE(state_->DeleteStatus(p.id, "a").ok());
  EXPECT_EQ(state_->ListStatus(p.id)->size(), 1u);
  ASSERT_TRUE(state_->ClearStatus(p.id).ok());
  EXPECT_EQ(*state_->CountStatus(p.id), 0);
}

TEST_P(SyncStateContract, IntentsAndPending) {
  store::SyncPair p = NewPair();
  ASSERT_TRUE(state_->PutIntent({p.id, "u1", "external", "crm-1", clock_.Now()}).ok());
  auto i = state_->GetIntent(p.id, "u1");
  ASSERT_TRUE(i.ok() && i->has_value());
  EXPECT_EQ((*i)->source_href, "crm-1");
  ASSERT_TRUE(state_->DeleteIntent(p.id, "u1").ok());
  EXPECT_FALSE(*state_->GetIntent(p.id, "u1"));

  ASSERT_TRUE(state_->AddPending({p.id, "crm", "crm-1", "412"}).ok());
  ASSERT_TRUE(state_->AddPending({p.id, "crm", "crm-1", "again"}).ok());  // same key: one row
  ASSERT_TRUE(state_->AddPending({p.id, "external", "x.ics", "boom"}).ok());
  EXPECT_EQ(state_->ListPending(p.id)->size(), 2u);
  ASSERT_TRUE(state_->RemovePending(p.id, "crm", "crm-1").ok());
  auto left = state_->ListPending(p.id);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().href, "x.ics");
  ASSERT_TRUE(state_->ClearPending(p.id).ok());
  EXPECT_TRUE(state_->ListPending(p.id)->empty());
}

TEST_P(SyncStateContract, LogIsNewestFirstPerPair) {
  store::SyncPair p = NewPair();
  store::SyncPair other = NewPair("user-2");
  auto run = state_->BeginRun({0, p.id, clock_.Now(), std::nullopt, false, ""});
  ASSERT_TRUE(run.ok());
  for (int i = 0; i < 3; ++i) {
    store::SyncLogEntry e;
    e.run_id = *run;
    e.pair_id = p.id;
    e.at = clock_.Now();
    e.action = "update";
    e.uid = "u" + std::to_string(i);
    e.before = "BEFORE";
    e.after = "AFTER";
    e.reason = "conflict: external newer";
    ASSERT_TRUE(state_->AppendLog(e).ok());
  }
  store::SyncLogEntry foreign;
  foreign.pair_id = other.id;
  foreign.action = "create";
  ASSERT_TRUE(state_->AppendLog(foreign).ok());
  ASSERT_TRUE(state_->FinishRun(*run, clock_.Now(), "ok").ok());
  auto log = state_->ListLog(p.id, 2);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].uid, "u2");
  EXPECT_EQ((*log)[1].uid, "u1");
  EXPECT_EQ((*log)[0].before, "BEFORE");
  EXPECT_EQ((*log)[0].reason, "conflict: external newer");
  auto runs = state_->ListRuns(p.id, 10);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->front().outcome, "ok");
  EXPECT_TRUE(runs->front().finished.has_value());
}

TEST_P(SyncStateContract, TrashListRestoreAndSurvivesPairDeletion) {
  store::SyncPair p = NewPair();
  store::TrashEntry t;
  t.pair_id = p.id;
  t.user_id = "user-1";
  t.activity_id = "act-1";
  t.uid = "u1";
  t.subject = "Lunch";
  t.start = clock_.Now();
  t.ical = "BEGIN:VCALENDAR...";
  t.deleted_at = clock_.Now();
  auto id = state_->PutTrash(t);
  ASSERT_TRUE(id.ok());
  t.uid = "u2";
  auto id2 = state_->PutTrash(t);
  ASSERT_TRUE(id2.ok());
  auto listed = state_->ListTrash("user-1", false);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ(listed->front().uid, "u2");  // newest first
  EXPECT_TRUE(state_->ListTrash("user-2", true)->empty());
  ASSERT_TRUE(state_->MarkRestored(*id, clock_.Now()).ok());
  EXPECT_EQ(state_->ListTrash("user-1", false)->size(), 1u);
  EXPECT_EQ(state_->ListTrash("user-1", true)->size(), 2u);
  EXPECT_TRUE(state_->GetTrash(*id)->restored_at.has_value());
  ASSERT_TRUE(state_->PutStatus(Row(p.id, "a")).ok());
  ASSERT_TRUE(state_->DeletePair(p.id).ok());
  EXPECT_EQ(*state_->CountStatus(p.id), 0);
  EXPECT_EQ(state_->ListTrash("user-1", true)->size(), 2u);
  EXPECT_TRUE(state_->DeletePair(p.id).Is(Code::kNotFound));
  ASSERT_TRUE(state_->DeleteTrash(*id2).ok());
  EXPECT_TRUE(state_->GetTrash(*id2).status().Is(Code::kNotFound));
}

TEST_P(SyncStateContract, CrmUidsMapBothWaysPerUser) {
  ASSERT_TRUE(state_->PutCrmUid("user-1", "ext-uid", "act-9").ok());
  EXPECT_EQ(*state_->CrmIdForUid("user-1", "ext-uid"), std::optional<std::string>("act-9"));
  EXPECT_EQ(*state_->UidForCrmId("user-1", "act-9"), std::optional<std::string>("ext-uid"));
  EXPECT_FALSE(*state_->CrmIdForUid("user-2", "ext-uid"));
  EXPECT_FALSE(*state_->UidForCrmId("user-1", "act-1"));
}

TEST_P(SyncStateContract, DavNamesMapBothWaysPerUserOneNamePerActivity) {
  ASSERT_TRUE(state_->PutDavName("user-1", "phone-made.ics", "act-9").ok());
  EXPECT_EQ(*state_->ActivityForDavName("user-1", "phone-made.ics"),
            std::optional<std::string>("act-9"));
  EXPECT_EQ(*state_->DavNameOf("user-1", "act-9"), std::optional<std::string>("phone-made.ics"));
  EXPECT_FALSE(*state_->ActivityForDavName("user-2", "phone-made.ics"));
  EXPECT_FALSE(*state_->DavNameOf("user-2", "act-9"));
  // A second name for the same activity replaces the first.
  ASSERT_TRUE(state_->PutDavName("user-1", "renamed.ics", "act-9").ok());
  EXPECT_EQ(*state_->DavNameOf("user-1", "act-9"), std::optional<std::string>("renamed.ics"));
  EXPECT_FALSE(*state_->ActivityForDavName("user-1", "phone-made.ics"));
}

}  // namespace tandem::sync::contract
