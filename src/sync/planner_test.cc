// Table tests: one row per planner rule of docs/SYNC.md.
#include "sync/planner.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <optional>
#include <string>
#include <vector>

namespace tandem::sync {
namespace {

using store::ConflictPolicy;
using store::ItemStatus;

const Instant kNow = FromUnixSeconds(1'790'000'000);
const Instant kT1 = FromUnixSeconds(1'789'000'000);
const Instant kT2 = FromUnixSeconds(1'789'500'000);

ItemStatus Row(const std::string& uid) {
  return ItemStatus{.pair_id = "p",
                    .uid = uid,
                    .crm_id = "crm-" + uid,
                    .crm_etag = "c1",
                    .crm_hash = "h-" + uid,
                    .external_href = uid + ".ics",
                    .external_etag = "e1",
                    .external_hash = "h-" + uid};
}

Observation Crm(const std::string& uid, const std::string& hash,
                std::optional<Instant> modified = {}) {
  Observation o;
  o.href = "crm-" + uid;
  o.etag = "c2";
  o.uid = uid;
  o.content_hash = hash;
  o.modified = modified;
  return o;
}

Observation Ext(const std::string& uid, const std::string& hash,
                std::optional<Instant> modified = {}) {
  Observation o;
  o.href = uid + ".ics";
  o.etag = "e2";
  o.uid = uid;
  o.content_hash = hash;
  o.modified = modified;
  return o;
}

Observation OutOfWindow(Observation o) {
  o.in_window = false;
  return o;
}
Observation Private(Observation o) {
  o.is_private = true;
  return o;
}
Observation Series(Observation o) {
  o.recurring = true;
  return o;
}
Observation Cancelled(Observation o) {
  o.cancelled = true;
  return o;
}

struct Expect {
  ActionKind kind;
  std::optional<Side> target;  // checked for writing actions
  std::string reason_part;     // substring of the reason
};

struct Case {
  std::string name;
  std::vector<ItemStatus> status;
  std::vector<Observation> crm_changed;
  std::vector<std::string> crm_deleted;
  std::vector<Observation> ext_changed;
  std::vector<std::string> ext_deleted;
  std::vector<Expect> expect;  // empty = no action
  ConflictPolicy policy = ConflictPolicy::kLaterWins;
  bool skip_private = false;
};

class PlannerRules : public testing::TestWithParam<Case> {};

TEST_P(PlannerRules, ProducesTheDocumentedAction) {
  const Case& c = GetParam();
  PlanInput in;
  in.status = c.status;
  in.status_count = static_cast<int64_t>(c.status.size());
  in.crm.changed.assign(c.crm_changed.begin(), c.crm_changed.end());
  in.crm.deleted = c.crm_deleted;
  in.external.changed.assign(c.ext_changed.begin(), c.ext_changed.end());
  in.external.deleted = c.ext_deleted;
  in.options.conflict = c.policy;
  in.options.skip_private = c.skip_private;
  in.now = kNow;
  Plan plan = MakePlan(in);
  ASSERT_FALSE(plan.refusal) << *plan.refusal;
  ASSERT_EQ(plan.actions.size(), c.expect.size()) << plan.ToString();
  for (size_t i = 0; i < c.expect.size(); ++i) {
    const Action& a = plan.actions[i];
    EXPECT_EQ(a.kind, c.expect[i].kind) << plan.ToString();
    if (c.expect[i].target) {
      EXPECT_EQ(a.target, *c.expect[i].target) << plan.ToString();
    }
    EXPECT_NE(a.reason.find(c.expect[i].reason_part), std::string::npos)
        << "reason '" << a.reason << "' lacks '" << c.expect[i].reason_part << "'";
  }
}

const Observation kUnchangedCrm = [] {
  Observation o = Crm("a", "h-a");
  o.etag = "c1";
  return o;
}();

INSTANTIATE_TEST_SUITE_P(
    Table, PlannerRules,
    testing::Values(
        Case{.name = "NothingChanged", .status = {Row("a")}},
        Case{.name = "CrmChangePropagates",
             .status = {Row("a")},
             .crm_changed = {Crm("a", "h2")},
             .expect = {{ActionKind::kUpdate, Side::kExternal, "changed in the CRM"}}},
        Case{.name = "ExternalChangePropagates",
             .status = {Row("a")},
             .ext_changed = {Ext("a", "h2")},
             .expect = {{ActionKind::kUpdate, Side::kCrm, "changed externally"}}},
        Case{.name = "EtagOnlyChangeIsNoChange",
             .status = {Row("a")},
             .ext_changed = {Ext("a", "h-a")},
             .expect = {{ActionKind::kRecord, std::nullopt, "content unchanged"}}},
        Case{.name = "SameEtagSameContentIsNothing",
             .status = {Row("a")},
             .crm_changed = {kUnchangedCrm}},
        Case{.name = "BothChangedIdenticallyIsNoConflict",
             .status = {Row("a")},
             .crm_changed = {Crm("a", "h2", kT1)},
             .ext_changed = {Ext("a", "h2", kT2)},
             .expect = {{ActionKind::kRecord, std::nullopt, "same change"}}},
        Case{.name = "ConflictLaterExternalWins",
             .status = {Row("a")},
             .crm_changed = {Crm("a", "hc", kT1)},
             .ext_changed = {Ext("a", "he", kT2)},
             .expect = {{ActionKind::kUpdate, Side::kCrm, "conflict: external newer"}}},
        Case{.name = "ConflictLaterCrmWins",
             .status = {Row("a")},
             .crm_changed = {Crm("a", "hc", kT2)},
             .ext_changed = {Ext("a", "he", kT1)},
             .expect = {{ActionKind::kUpdate, Side::kExternal, "conflict: CRM newer"}}},
        Case{.name = "ConflictTieCrmWins",
             .status = {Row("a")},
             .crm_changed = {Crm("a", "hc", kT1)},
             .ext_changed = {Ext("a", "he", kT1)},
             .expect = {{ActionKind::kUpdate, Side::kExternal, "CRM wins the tie"}}},
        Case{.name = "ConflictOnlyExternalHasTime",
             .status = {Row("a")},
             .crm_changed = {Crm("a", "hc")},
             .ext_changed = {Ext("a", "he", kT1)},
             .expect = {{ActionKind::kUpdate, Side::kCrm, "only the external"}}},
        Case{.name = "ConflictPolicyCrmWins",
             .status = {Row("a")},
             .crm_changed = {Crm("a", "hc", kT1)},
             .ext_changed = {Ext("a", "he", kT2)},
             .expect = {{ActionKind::kUpdate, Side::kExternal, "CRM wins by policy"}},
             .policy = ConflictPolicy::kCrmWins},
        Case{.name = "ConflictPolicyExternalWins",
             .status = {Row("a")},
             .crm_changed = {Crm("a", "hc", kT2)},
             .ext_changed = {Ext("a", "he", kT1)},
             .expect = {{ActionKind::kUpdate, Side::kCrm, "external wins by policy"}},
             .policy = ConflictPolicy::kExternalWins},
        Case{.name = "ExternalDeletionTrashesCrm",
             .status = {Row("a")},
             .ext_deleted = {"a.ics"},
             .expect = {{ActionKind::kTrash, Side::kCrm, "deleted externally"}}},
        Case{.name = "CrmDeletionDeletesExternally",
             .status = {Row("a")},
             .crm_deleted = {"crm-a"},
             .expect = {{ActionKind::kDelete, Side::kExternal, "deleted in the CRM"}}},
        Case{.name = "DeletedOnBothSidesForgets",
             .status = {Row("a")},
             .crm_deleted = {"crm-a"},
             .ext_deleted = {"a.ics"},
             .expect = {{ActionKind::kUntrack, std::nullopt, "both sides"}}},
        Case{.name = "CrmChangedExternalDeletedChangeWins",
             .status = {Row("a")},
             .crm_changed = {Crm("a", "h2")},
             .ext_deleted = {"a.ics"},
             .expect = {{ActionKind::kCreate, Side::kExternal, "the change wins"}}},
        Case{.name = "ExternalChangedCrmDeletedChangeWins",
             .status = {Row("a")},
             .crm_deleted = {"crm-a"},
             .ext_changed = {Ext("a", "h2")},
             .expect = {{ActionKind::kCreate, Side::kCrm, "the change wins"}}},
        Case{.name = "UnchangedCrmEchoAndExternalDeletionTrashes",
             .status = {Row("a")},
             .crm_changed = {kUnchangedCrm},
             .ext_deleted = {"a.ics"},
             .expect = {{ActionKind::kTrash, Side::kCrm, "deleted externally"}}},
        Case{.name = "CrmCreationCreatesExternally",
             .crm_changed = {Crm("n", "hn")},
             .expect = {{ActionKind::kCreate, Side::kExternal, "created in the CRM"}}},
        Case{.name = "ExternalCreationCreatesInCrm",
             .ext_changed = {Ext("n", "hn")},
             .expect = {{ActionKind::kCreate, Side::kCrm, "created externally"}}},
        Case{.name = "CreationOutsideWindowIgnored", .ext_changed = {OutOfWindow(Ext("n", "hn"))}},
        Case{.name = "SeriesWithoutOccurrenceInWindowIsLoggedAsLeftOut",
             .ext_changed = {Series(OutOfWindow(Ext("n", "hn")))},
             .expect = {{ActionKind::kSkip, Side::kExternal,
                         "left out: a series with no occurrence inside the sync window"}}},
        Case{.name = "CrmSeriesWithoutOccurrenceInWindowIsLoggedAsLeftOut",
             .crm_changed = {Series(OutOfWindow(Crm("n", "hn")))},
             .expect = {{ActionKind::kSkip, Side::kCrm, "widen the window"}}},
        Case{.name = "SeriesInWindowIsCreated",
             .ext_changed = {Series(Ext("n", "hn"))},
             .expect = {{ActionKind::kCreate, Side::kCrm, "created externally"}}},
        Case{.name = "CancelledExternallyAndDeletedInCrmIsNotRecreated",
             .status = {Row("a")},
             .crm_deleted = {"crm-a"},
             .ext_changed = {Cancelled(Ext("a", "h2"))},
             .expect = {{ActionKind::kDelete, Side::kExternal, "the deletion wins"}}},
        Case{.name = "CancelledInCrmAndDeletedExternallyIsNotRecreated",
             .status = {Row("a")},
             .crm_changed = {Cancelled(Crm("a", "h2"))},
             .ext_deleted = {"a.ics"},
             .expect = {{ActionKind::kTrash, Side::kCrm, "the deletion wins"}}},
        Case{.name = "CancellationPropagatesLikeAnyChange",
             .status = {Row("a")},
             .ext_changed = {Cancelled(Ext("a", "h2"))},
             .expect = {{ActionKind::kUpdate, Side::kCrm, "changed externally"}}},
        Case{.name = "NewCancelledEventIsCreatedAsCancelled",
             .ext_changed = {Cancelled(Ext("n", "hn"))},
             .expect = {{ActionKind::kCreate, Side::kCrm, "created externally"}}},
        Case{.name = "CrmCreationOutsideWindowIgnored", .crm_changed = {OutOfWindow(Crm("n", "hn"))}},
        Case{.name = "PrivateCreationIgnoredWhenSkipping",
             .ext_changed = {Private(Ext("n", "hn"))},
             .skip_private = true},
        Case{.name = "PrivateCreationSyncedWhenNotSkipping",
             .ext_changed = {Private(Ext("n", "hn"))},
             .expect = {{ActionKind::kCreate, Side::kCrm, "created externally"}}},
        Case{.name = "LeavingWindowUntracksNeverDeletes",
             .status = {Row("a")},
             .ext_changed = {OutOfWindow(Ext("a", "h2"))},
             .expect = {{ActionKind::kUntrack, std::nullopt, "left the sync window"}}},
        Case{.name = "CrmLeavingWindowUntracks",
             .status = {Row("a")},
             .crm_changed = {OutOfWindow(Crm("a", "h2"))},
             .expect = {{ActionKind::kUntrack, std::nullopt, "left the sync window"}}},
        Case{.name = "BecomingPrivateUntracksWhenSkipping",
             .status = {Row("a")},
             .crm_changed = {Private(Crm("a", "h2"))},
             .expect = {{ActionKind::kUntrack, std::nullopt, "became private"}},
             .skip_private = true},
        Case{.name = "OutOfWindowEchoWithDeletionUntracksNotDeletes",
             .status = {Row("a")},
             .crm_deleted = {"crm-a"},
             .ext_changed = {OutOfWindow(Ext("a", "h-a"))},
             .expect = {{ActionKind::kUntrack, std::nullopt, "left the sync window"}}},
        Case{.name = "NewOnBothSidesSameUidSameContentPairs",
             .crm_changed = {Crm("n", "hn")},
             .ext_changed = {Ext("n", "hn")},
             .expect = {{ActionKind::kRecord, std::nullopt, "same UID"}}},
        Case{.name = "NewOnBothSidesSameUidDifferentContentUsesPolicy",
             .crm_changed = {Crm("n", "h1", kT2)},
             .ext_changed = {Ext("n", "h2", kT1)},
             .expect = {{ActionKind::kUpdate, Side::kExternal, "conflict: CRM newer"}}},
        Case{.name = "ExternalItemMatchedByUidUnderNewHref",
             .status = {Row("a")},
             .ext_changed = {[] {
               Observation o = Ext("a", "h2");
               o.href = "moved.ics";
               return o;
             }()},
             .expect = {{ActionKind::kUpdate, Side::kCrm, "changed externally"}}},
        Case{.name = "DeletionOfUnknownHrefIgnored", .ext_deleted = {"nobody.ics"}},
        Case{.name = "DuplicateUidOnOneSideKeepsFirst",
             .ext_changed = {Ext("n", "h1"),
                             [] {
                               Observation o = Ext("n", "h2");
                               o.href = "dup.ics";
                               return o;
                             }()},
             .expect = {{ActionKind::kCreate, Side::kCrm, "created externally"}}}),
    [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(Planner, ConflictLoserIsCarriedForTheLog) {
  PlanInput in;
  in.status = {Row("a")};
  in.status_count = 1;
  in.crm.changed = {Crm("a", "hc", kT1)};
  in.external.changed = {Ext("a", "he", kT2)};
  Plan plan = MakePlan(in);
  ASSERT_EQ(plan.actions.size(), 1u);
  ASSERT_TRUE(plan.actions[0].loser);
  EXPECT_EQ(plan.actions[0].loser->content_hash, "hc");
  ASSERT_TRUE(plan.actions[0].source());
  EXPECT_EQ(plan.actions[0].source()->content_hash, "he");
}

TEST(Planner, IsDeterministicWhateverTheInputOrder) {
  PlanInput a;
  a.status = {Row("a"), Row("b"), Row("c")};
  a.status_count = 3;
  a.crm.changed = {Crm("a", "x"), Crm("c", "y"), Crm("new1", "z")};
  a.external.changed = {Ext("b", "w"), Ext("new2", "v")};
  PlanInput b = a;
  std::reverse(b.status.begin(), b.status.end());
  std::reverse(b.crm.changed.begin(), b.crm.changed.end());
  std::reverse(b.external.changed.begin(), b.external.changed.end());
  EXPECT_EQ(MakePlan(a).ToString(), MakePlan(b).ToString());
}

TEST(Planner, CompleteListingMissingItemIsDeleted) {
  PlanInput in;
  in.status = {Row("a"), Row("b")};
  in.status_count = 2;
  in.external.complete = true;
  Observation a = Ext("a", "h-a");
  a.etag = "e1";
  in.external.changed = {a};
  Plan plan = MakePlan(in);
  ASSERT_FALSE(plan.refusal);
  ASSERT_EQ(plan.actions.size(), 1u) << plan.ToString();
  EXPECT_EQ(plan.actions[0].kind, ActionKind::kTrash);
  EXPECT_EQ(plan.actions[0].uid, "b");
}

TEST(PlannerGuard, EmptyCompleteListingIsRefusedUnlessForced) {
  PlanInput in;
  in.status = {Row("a"), Row("b")};
  in.status_count = 2;
  in.external.complete = true;
  Plan plan = MakePlan(in);
  ASSERT_TRUE(plan.refusal);
  EXPECT_NE(plan.refusal->find("lists no events while 2 items are paired"), std::string::npos);
  EXPECT_EQ(plan.deletions(), 2);
  in.force = true;
  plan = MakePlan(in);
  EXPECT_FALSE(plan.refusal);
  EXPECT_EQ(plan.deletions(), 2);
}

TEST(PlannerGuard, TooManyDeletionsAreRefusedUnlessForced) {
  PlanInput in;
  for (int i = 0; i < 5; ++i) {
    in.status.push_back(Row("r" + std::to_string(i)));
    in.crm.deleted.push_back("crm-r" + std::to_string(i));
  }
  in.status_count = 20;  // a quarter of the pair: below the relative rule
  in.options.deletion_limit = 4;
  Plan plan = MakePlan(in);
  ASSERT_TRUE(plan.refusal);
  EXPECT_NE(plan.refusal->find("would delete 5 items (limit 4)"), std::string::npos);
  in.options.deletion_limit = 5;
  EXPECT_FALSE(MakePlan(in).refusal);
  in.options.deletion_limit = 4;
  in.force = true;
  EXPECT_FALSE(MakePlan(in).refusal);
}

TEST(PlannerGuard, AnIncrementalRunThatEmptiesACalendarIsRefused) {
  // 8 paired events, all deleted on the calendar since the last run (a sync
  // token's changes, not a full listing).
  PlanInput in;
  for (int i = 0; i < 8; ++i) {
    in.status.push_back(Row("r" + std::to_string(i)));
    in.external.deleted.push_back("r" + std::to_string(i) + ".ics");
  }
  in.status_count = 8;
  Plan plan = MakePlan(in);
  ASSERT_TRUE(plan.refusal) << plan.ToString();
  EXPECT_NE(plan.refusal->find("trash 8 of the 8 paired CRM activities"), std::string::npos)
      << *plan.refusal;
  in.force = true;
  plan = MakePlan(in);
  EXPECT_FALSE(plan.refusal);
  EXPECT_EQ(plan.deletions(), 8);
}

TEST(PlannerGuard, MoreThanHalfOfThePairInOneDirectionIsRefused) {
  auto plan_for = [](int paired, int deleted_in_crm) {
    PlanInput in;
    for (int i = 0; i < paired; ++i) in.status.push_back(Row("r" + std::to_string(i)));
    for (int i = 0; i < deleted_in_crm; ++i) in.crm.deleted.push_back("crm-r" + std::to_string(i));
    in.status_count = paired;
    return MakePlan(in);
  };
  Plan four_of_six = plan_for(6, 4);
  ASSERT_TRUE(four_of_six.refusal);
  EXPECT_NE(four_of_six.refusal->find("delete 4 of the 6 paired events on the external calendar"),
            std::string::npos)
      << *four_of_six.refusal;
  EXPECT_FALSE(plan_for(6, 3).refusal);   // half is not more than half
  EXPECT_FALSE(plan_for(3, 2).refusal);   // a few deletions are everyday edits
  EXPECT_FALSE(plan_for(100, 40).refusal);
}

TEST(PlannerGuard, AFullListingWithNoneOfThePairedItemsIsAnotherCalendar) {
  // The calendar was deleted and created again at the same URL (a server that
  // keeps no identity marker): its token is gone, the full listing holds one new
  // event and none of the 30 paired ones.
  PlanInput in;
  for (int i = 0; i < 30; ++i) in.status.push_back(Row("r" + std::to_string(i)));
  in.status_count = 30;
  in.pair_id = "p-42";
  in.external.complete = true;
  in.external.changed = {Ext("fresh", "hf")};
  Plan plan = MakePlan(in);
  ASSERT_TRUE(plan.refusal) << plan.ToString();
  EXPECT_NE(plan.refusal->find("none of the 30 paired ones"), std::string::npos) << *plan.refusal;
  EXPECT_NE(plan.refusal->find("tandem sync pair init p-42"), std::string::npos) << *plan.refusal;
  // --force would trash every paired item: never the advice for another calendar.
  EXPECT_EQ(plan.refusal->find("--force"), std::string::npos) << *plan.refusal;
  // One paired item still there: an ordinary listing (the relative rule still
  // guards the 29 deletions).
  Observation kept = Ext("r0", "h-r0");
  kept.etag = "e1";
  in.external.changed.push_back(kept);
  plan = MakePlan(in);
  ASSERT_TRUE(plan.refusal);
  EXPECT_NE(plan.refusal->find("trash 29 of the 30"), std::string::npos) << *plan.refusal;
}

TEST(PlannerInit, PairsByUidThenStampThenTimeAndTitle) {
  PlanInput in;
  in.initializing = true;
  Observation by_uid_c = Crm("u1", "h1");
  Observation by_uid_e = Ext("u1", "h1");
  Observation by_stamp_c = Crm("crm-own-uid", "h2");
  by_stamp_c.href = "act-2";
  Observation by_stamp_e = Ext("ext-uid-2", "h2");
  by_stamp_e.crm_id = "act-2";
  Observation by_title_c = Crm("crm-uid-3", "h3");
  by_title_c.href = "act-3";
  by_title_c.start = kT1;
  by_title_c.end = kT2;
  by_title_c.title_key = NormalizeTitle("  Board   Meeting ");
  Observation by_title_e = Ext("ext-uid-3", "h3x", kT1);
  by_title_e.start = kT1;
  by_title_e.end = kT2;
  by_title_e.title_key = NormalizeTitle("board meeting");
  Observation lonely_c = Crm("lonely-c", "h4");
  lonely_c.title_key = "lunch";
  lonely_c.start = kT1;
  Observation lonely_e = Ext("lonely-e", "h5");
  lonely_e.title_key = "lunch";
  lonely_e.start = kT2;
  in.crm.changed = {by_uid_c, by_stamp_c, by_title_c, lonely_c};
  in.external.changed = {by_uid_e, by_stamp_e, by_title_e, lonely_e};
  in.crm.complete = in.external.complete = true;
  Plan plan = MakePlan(in);
  ASSERT_FALSE(plan.refusal);
  std::map<std::string, const Action*> by_uid;
  for (const Action& a : plan.actions) by_uid[a.uid] = &a;
  ASSERT_EQ(plan.actions.size(), 5u) << plan.ToString();
  EXPECT_EQ(by_uid["u1"]->kind, ActionKind::kRecord);
  EXPECT_NE(by_uid["u1"]->reason.find("paired by UID"), std::string::npos);
  EXPECT_EQ(by_uid["ext-uid-2"]->kind, ActionKind::kRecord);
  EXPECT_NE(by_uid["ext-uid-2"]->reason.find("X-TANDEM-CRM-ID"), std::string::npos);
  ASSERT_TRUE(by_uid["ext-uid-2"]->crm);
  EXPECT_EQ(by_uid["ext-uid-2"]->crm->href, "act-2");
  // Paired by time and title, contents differ: resolved by the policy.
  EXPECT_EQ(by_uid["ext-uid-3"]->kind, ActionKind::kUpdate);
  EXPECT_NE(by_uid["ext-uid-3"]->reason.find("start, end and title"), std::string::npos);
  EXPECT_EQ(by_uid["lonely-c"]->kind, ActionKind::kCreate);
  EXPECT_EQ(by_uid["lonely-c"]->target, Side::kExternal);
  EXPECT_EQ(by_uid["lonely-e"]->kind, ActionKind::kCreate);
  EXPECT_EQ(by_uid["lonely-e"]->target, Side::kCrm);
  EXPECT_EQ(by_uid.count("crm-own-uid"), 0u);
  EXPECT_EQ(by_uid.count("crm-uid-3"), 0u);

  // Handing the input over gives the same plan, with the new items' observations
  // moved (whole) into their creations.
  PlanInput copy = in;
  Plan moved = MakePlan(std::move(copy));
  ASSERT_EQ(moved.ToString(), plan.ToString());
  ASSERT_EQ(moved.actions.size(), plan.actions.size());
  for (size_t i = 0; i < plan.actions.size(); ++i) {
    const Action& a = plan.actions[i];
    const Action& b = moved.actions[i];
    ASSERT_EQ(a.crm.has_value(), b.crm.has_value());
    ASSERT_EQ(a.external.has_value(), b.external.has_value());
    if (a.crm) EXPECT_EQ(std::tie(a.crm->href, a.crm->uid, a.crm->title_key, a.crm->content_hash),
                         std::tie(b.crm->href, b.crm->uid, b.crm->title_key, b.crm->content_hash));
    if (a.external) {
      EXPECT_EQ(std::tie(a.external->href, a.external->uid, a.external->content_hash),
                std::tie(b.external->href, b.external->uid, b.external->content_hash));
    }
  }
}

TEST(PlannerWindow, WindowIsThreeMonthsBackOneYearAhead) {
  store::PairOptions o;
  TimeRange w = SyncWindow(o, kNow);
  EXPECT_EQ(w.from, kNow - std::chrono::days(92));
  EXPECT_EQ(w.to, kNow + std::chrono::days(366));
}

TEST(PlanText, ListsTheFirstActionsAndCountsTheRest) {
  Plan plan;
  for (int i = 0; i < 5; ++i) {
    Action a;
    a.kind = i < 3 ? ActionKind::kCreate : ActionKind::kRecord;
    a.target = Side::kCrm;
    a.uid = "u" + std::to_string(i);
    a.reason = "new";
    plan.actions.push_back(std::move(a));
  }
  EXPECT_EQ(plan.ToString(2),
            "create   crm       u0  (new)\n"
            "create   crm       u1  (new)\n"
            "... and 3 more actions (1 create, 2 record)\n");
  const std::string all = plan.ToString();
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 5) << all;
  EXPECT_EQ(all.find("more actions"), std::string::npos);
}

TEST(PlannerTitle, NormalizesCaseAndSpaces) {
  EXPECT_EQ(NormalizeTitle("  Team\t Sync  \n"), "team sync");
  EXPECT_EQ(NormalizeTitle(""), "");
}

}  // namespace
}  // namespace tandem::sync
