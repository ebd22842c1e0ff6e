// SyncService over the real pieces: SQLite CRM store and sync state in one
// database, the CRM side, the iCalendar codec; the external calendar is an
// in-memory CalendarSide registered as provider "memory".
#include "sync/sync_service.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/random.h"
#include "ical/ical.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sync_state_sqlite.h"
#include "sync/memory_calendar.h"

namespace tandem::sync {
namespace {

Instant At(const char* t) { return ParseRfc3339(t).value(); }

// A calendar server that goes away: after `writes_before` more writes, every
// request fails as a refused connection would.
struct Outage {
  int writes_before = -1;  // -1: never
  int attempts_while_down = 0;
  bool Down() { return writes_before == 0; }
  Status Refused() {
    ++attempts_while_down;
    return Status::Unavailable("cannot reach http://127.0.0.1:9/cal/: Connection refused");
  }
  void Wrote() {
    if (writes_before > 0) --writes_before;
  }
};

// How the lent calendar lists: like a calendarView (Microsoft Graph), a full
// listing holds only what occurs within the window; a cursor may be refused.
struct Listing {
  bool windowed = false;
  bool refuse_cursor_once = false;
};

// Lends the fixture's calendar to the service.
class Borrowed final : public CalendarSide {
 public:
  Borrowed(CalendarSide& s, Outage& outage, Listing& listing)
      : s_(s), outage_(outage), listing_(listing) {}
  Result<std::string> Identity() override { return s_.Identity(); }
  Result<ChangeSet> ChangesSince(const std::string& c, const TimeRange& w) override {
    if (!c.empty() && listing_.refuse_cursor_once) {
      listing_.refuse_cursor_once = false;
      return Status::ResyncRequired("the delta link expired");
    }
    TANDEM_ASSIGN_OR_RETURN(ChangeSet cs, s_.ChangesSince(c, w));
    if (cs.complete && listing_.windowed) {
      std::erase_if(cs.changed, [&w](const Item& i) {
        auto e = ical::ParseEvent(i.ical, {});
        return e.ok() && !ical::OccursWithin(e->activity, w.from, w.to);
      });
      cs.windowed = true;
    }
    return cs;
  }
  Result<std::vector<Item>> GetMany(const std::vector<std::string>& h) override {
    return s_.GetMany(h);
  }
  // Batches as the lent calendar does (the base CreateBatch creates one by one here).
  size_t CreateBatchLimit() const override { return s_.CreateBatchLimit(); }
  Result<ItemRef> Create(const std::string& u, const std::string& i) override {
    if (outage_.Down()) return outage_.Refused();
    outage_.Wrote();
    return s_.Create(u, i);
  }
  Result<ItemRef> Update(const std::string& h, const std::string& e,
                         const std::string& i) override {
    if (outage_.Down()) return outage_.Refused();
    outage_.Wrote();
    return s_.Update(h, e, i);
  }
  Status Delete(const std::string& h, const std::string& e) override {
    if (outage_.Down()) return outage_.Refused();
    outage_.Wrote();
    return s_.Delete(h, e);
  }
  Result<std::optional<Item>> FindByUid(const std::string& u) override {
    if (outage_.Down()) return outage_.Refused();
    return s_.FindByUid(u);
  }

 private:
  CalendarSide& s_;
  Outage& outage_;
  Listing& listing_;
};

std::string Event(const std::string& uid, const std::string& summary, const char* start,
                  const char* end, const char* modified = "20261101T000000Z",
                  const std::string& extra = "") {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
         "\r\nDTSTAMP:" + modified + "\r\nLAST-MODIFIED:" + modified + "\r\nDTSTART:" + start +
         "\r\nDTEND:" + end + "\r\nSUMMARY:" + summary + "\r\n" + extra +
         "END:VEVENT\r\nEND:VCALENDAR\r\n";
}

class SyncServiceTest : public testing::Test {
 protected:
  void SetUp() override {
    auto crm =
        store::sqlite::SqliteStore::Open({.path = ":memory:", .clock = &clock_, .ids = &ids_});
    ASSERT_TRUE(crm.ok()) << crm.status().ToString();
    crm_ = std::move(*crm);
    auto state =
        store::sqlite::OpenSqliteSyncState({.pool = &crm_->pool(), .clock = &clock_, .ids = &ids_});
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    state_ = std::move(*state);
    registry_.Register("memory",
                       [this](const store::SyncPair&) -> Result<std::unique_ptr<CalendarSide>> {
                         return std::unique_ptr<CalendarSide>(new Borrowed(external_, outage_, listing_));
                       });
    service_ = std::make_unique<SyncService>(SyncServiceOptions{.store = crm_.get(),
                                                                .state = state_.get(),
                                                                .providers = &registry_,
                                                                .clock = &clock_,
                                                                .ids = &ids_});
    auto pair = service_->AddPair({.user_id = "user-1", .provider = "memory", .calendar = "mem:1"});
    ASSERT_TRUE(pair.ok()) << pair.status().ToString();
    pair_id_ = pair->id;
  }

  model::Activity CrmActivity(const std::string& subject, const char* start, const char* end) {
    model::Activity a;
    a.meta.owner_id = "user-1";
    a.subject = subject;
    a.start = At(start);
    a.end = At(end);
    auto r = crm_->Create(a);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }

  std::vector<model::Activity> CrmAll() {
    store::ListOptions lo;
    lo.owner_id = "user-1";
    lo.limit = 1000;
    return crm_->ListActivities(lo)->items;
  }

  int64_t CrmCount() {
    auto r = crm_->pool().Read();
    auto stmt = (*r)->Prepare("SELECT count(*) FROM activities");
    EXPECT_TRUE(stmt.ok() && stmt->Step().value());
    return stmt->Int64(0);
  }

  RunReport Run(bool force = false) {
    auto r = service_->RunNow(pair_id_, false, force);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RunReport{};
  }

  std::string ExternalSubject(const std::string& uid) {
    auto f = external_.FindByUid(uid);
    if (!f.ok() || !*f) return "<missing>";
    return ical::ParseEvent((*f)->ical, {})->activity.subject;
  }

  FakeClock clock_{At("2026-11-24T10:00:00Z")};
  SeededRandom random_{11};
  IdGenerator ids_{clock_, random_};
  std::unique_ptr<store::sqlite::SqliteStore> crm_;
  std::unique_ptr<store::SyncStateStore> state_;
  MemoryCalendar external_{"calendar-A", "ev-"};
  Outage outage_;
  Listing listing_;
  ProviderRegistry registry_;
  std::unique_ptr<SyncService> service_;
  std::string pair_id_;
};

TEST_F(SyncServiceTest, InitPairsExistingEventsAndCreatesOnlyWhatIsMissing) {
  model::Activity board =
      CrmActivity("Board meeting", "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z");
  model::Activity lunch = CrmActivity("Lunch", "2026-12-02T12:00:00Z", "2026-12-02T13:00:00Z");
  external_.UserPut("ext-board",
                    Event("ext-board", "board   MEETING", "20261201T100000Z", "20261201T110000Z"));
  external_.UserPut("ext-dentist",
                    Event("ext-dentist", "Dentist", "20261203T080000Z", "20261203T090000Z"));

  auto dry = service_->Init(pair_id_, /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_EQ(CrmAll().size(), 2u);  // a dry run writes nothing
  EXPECT_NE(dry->plan.find("paired by start, end and title"), std::string::npos) << dry->plan;

  auto init = service_->Init(pair_id_);
  ASSERT_TRUE(init.ok()) << init.status().ToString();
  EXPECT_TRUE(init->errors.empty());
  EXPECT_EQ(init->applied["create"], 2) << init->plan;  // lunch -> external, dentist -> CRM
  EXPECT_EQ(CrmAll().size(), 3u);
  EXPECT_EQ(external_.Snapshot().size(), 3u);
  EXPECT_EQ(ExternalSubject(lunch.meta.id), "Lunch");
  EXPECT_FALSE(service_->GetPair(pair_id_)->identity.empty());

  RunReport again = Run();
  EXPECT_EQ(again.applied.count("create"), 0u) << again.plan;
  EXPECT_EQ(again.applied.count("update"), 0u) << again.plan;
  EXPECT_EQ(CrmAll().size(), 3u);
  EXPECT_EQ(external_.Snapshot().size(), 3u);
  // The activity Init imported is in the CRM's change feed, with the version the
  // status recorded: not read again.
  EXPECT_EQ(again.crm_changes, 0) << again.plan;

  // Edited in the CRM afterwards: a new version, read and pushed.
  model::Activity dentist;
  for (const model::Activity& a : CrmAll()) {
    if (a.subject == "Dentist") dentist = a;
  }
  ASSERT_FALSE(dentist.meta.id.empty());
  dentist.subject = "Dentist (moved)";
  ASSERT_TRUE(crm_->Update(dentist, dentist.meta.version).ok());
  RunReport edited = Run();
  EXPECT_EQ(edited.crm_changes, 1) << edited.plan;
  EXPECT_EQ(edited.applied["update"], 1) << edited.plan;
  EXPECT_EQ(ExternalSubject("ext-dentist"), "Dentist (moved)");

  // Deleted and created again under the same id (offline clients and imports keep
  // ids) before the next run: version 1 again, but not the version recorded.
  clock_.Advance(std::chrono::minutes(1));
  // Lunch (made in the CRM, pushed at Init) is still at version 1.
  ASSERT_EQ(crm_->GetActivity(lunch.meta.id)->meta.version, 1);
  ASSERT_TRUE(crm_->Delete(model::EntityType::kActivity, lunch.meta.id, std::nullopt).ok());
  model::Activity reborn = lunch;
  reborn.meta.version = 0;
  reborn.subject = "Lunch (second life)";
  auto created = crm_->Create(reborn);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_EQ(created->meta.version, 1);
  RunReport after_rebirth = Run();
  EXPECT_EQ(after_rebirth.crm_changes, 1) << after_rebirth.plan;
  EXPECT_EQ(ExternalSubject(lunch.meta.id), "Lunch (second life)") << after_rebirth.plan;
  (void)board;
}

TEST_F(SyncServiceTest, ChangesFlowBothWaysAndConflictLoserIsLogged) {
  model::Activity a = CrmActivity("Review", "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z");
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  ASSERT_EQ(ExternalSubject(a.meta.id), "Review");

  // CRM edit -> external.
  clock_.Advance(std::chrono::minutes(5));
  a = *crm_->GetActivity(a.meta.id);
  a.subject = "Review (moved)";
  a = *crm_->Update(a, a.meta.version);
  RunReport r1 = Run();
  EXPECT_EQ(r1.applied["update"], 1) << r1.plan;
  EXPECT_EQ(ExternalSubject(a.meta.id), "Review (moved)");

  // External edit -> CRM, keeping what the CRM owns.
  auto item = *external_.FindByUid(a.meta.id);
  ASSERT_TRUE(item);
  ASSERT_TRUE(external_
                  .UserEdit(item->href,
                            Event(a.meta.id, "Review v3", "20261201T100000Z", "20261201T113000Z",
                                  "20261124T101000Z", "ATTENDEE:mailto:x@example.com\r\n"))
                  .ok());
  RunReport r2 = Run();
  EXPECT_EQ(r2.applied["update"], 1) << r2.plan;
  model::Activity got = *crm_->GetActivity(a.meta.id);
  EXPECT_EQ(got.subject, "Review v3");
  EXPECT_EQ(got.end, At("2026-12-01T11:30:00Z"));
  EXPECT_NE(got.ical_extra.find("x@example.com"), std::string::npos);

  // Both change: the external one is later, so it wins; the CRM version is logged.
  clock_.Set(At("2026-11-24T11:00:00Z"));
  got.subject = "CRM version";
  ASSERT_TRUE(crm_->Update(got, got.meta.version).ok());
  item = *external_.FindByUid(a.meta.id);
  ASSERT_TRUE(external_
                  .UserEdit(item->href, Event(a.meta.id, "External version", "20261201T100000Z",
                                              "20261201T113000Z", "20261124T120000Z"))
                  .ok());
  RunReport r3 = Run();
  EXPECT_EQ(crm_->GetActivity(a.meta.id)->subject, "External version");
  auto log = service_->SyncLog(pair_id_, 50);
  ASSERT_TRUE(log.ok());
  bool logged = false;
  for (const auto& e : *log) {
    if (e.action == "conflict-loser" && e.reason == "conflict: external newer") {
      logged = e.before.find("CRM version") != std::string::npos;
    }
  }
  EXPECT_TRUE(logged) << r3.plan;
}

TEST_F(SyncServiceTest, ExternalDeletionGoesToTrashAndRestoreRecreatesIt) {
  model::Activity a = CrmActivity("Offsite", "2026-12-05T09:00:00Z", "2026-12-05T17:00:00Z");
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  auto item = *external_.FindByUid(a.meta.id);
  ASSERT_TRUE(external_.UserDelete(item->href).ok());

  RunReport r = Run();
  EXPECT_EQ(r.applied["trash"], 1) << r.plan;
  EXPECT_TRUE(crm_->GetActivity(a.meta.id).status().Is(Code::kNotFound));
  auto trash = service_->Trash("user-1");
  ASSERT_TRUE(trash.ok());
  ASSERT_EQ(trash->size(), 1u);
  EXPECT_EQ(trash->front().subject, "Offsite");
  EXPECT_TRUE(service_->RestoreTrash("user-2", trash->front().id).status().Is(Code::kNotFound));

  auto restored = service_->RestoreTrash("user-1", trash->front().id);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(crm_->GetActivity(*restored)->subject, "Offsite");
  EXPECT_TRUE(service_->Trash("user-1")->empty());
  EXPECT_TRUE(
      service_->RestoreTrash("user-1", trash->front().id).status().Is(Code::kAlreadyExists));

  RunReport r2 = Run();
  EXPECT_EQ(r2.applied["create"], 1) << r2.plan;
  EXPECT_EQ(ExternalSubject(a.meta.id), "Offsite");  // back on the calendar, same UID
  EXPECT_EQ(external_.Snapshot().size(), 1u);
}

TEST_F(SyncServiceTest, CrmDeletionDeletesExternally) {
  model::Activity a = CrmActivity("Call", "2026-12-05T09:00:00Z", "2026-12-05T09:30:00Z");
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  ASSERT_TRUE(crm_->Delete(model::EntityType::kActivity, a.meta.id, std::nullopt).ok());
  RunReport r = Run();
  EXPECT_EQ(r.applied["delete"], 1) << r.plan;
  EXPECT_TRUE(external_.Snapshot().empty());
}

TEST_F(SyncServiceTest, AnEventDeletedRightAfterItWasWrittenOutIsHeardOnEveryServer) {
  // A server that leaves a created-then-deleted item out of its next sync report
  // (RFC 6578 allows it; Xandikos does): the run after the one that wrote the
  // event out still learns that the user deleted it.
  external_.SetOmitsCreatedThenDeleted(true);
  CrmActivity("Standing call", "2026-12-03T09:00:00Z", "2026-12-03T09:30:00Z");
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  model::Activity fresh = CrmActivity("Demo at Acme", "2026-12-05T09:00:00Z", "2026-12-05T10:00:00Z");
  RunReport out = Run();
  EXPECT_EQ(out.applied["create"], 1) << out.plan;
  std::string href;
  for (const auto& [h, item] : external_.Snapshot())
    if (item.ical.find("Demo at Acme") != std::string::npos) href = h;
  ASSERT_FALSE(href.empty());
  ASSERT_TRUE(external_.UserDelete(href).ok());
  RunReport r = Run();
  EXPECT_EQ(r.applied["trash"], 1) << r.plan;
  EXPECT_FALSE(crm_->GetActivity(fresh.meta.id).ok());
  auto trash = state_->ListTrash("user-1", false);
  ASSERT_TRUE(trash.ok());
  ASSERT_EQ(trash->size(), 1u);
  EXPECT_EQ((*trash)[0].subject, "Demo at Acme");
  // Nothing is left to confirm: the next run is quiet and reads nothing by href.
  RunReport quiet = Run();
  EXPECT_TRUE(quiet.applied.empty()) << quiet.plan;
}

TEST_F(SyncServiceTest, IdentityChangeStopsWithHowToReinitialize) {
  CrmActivity("Call", "2026-12-05T09:00:00Z", "2026-12-05T09:30:00Z");
  auto not_yet = service_->RunNow(pair_id_);
  EXPECT_TRUE(not_yet.status().Is(Code::kPreconditionFailed));
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  external_.SetIdentity("calendar-B");
  auto r = service_->RunNow(pair_id_);
  ASSERT_TRUE(r.status().Is(Code::kPreconditionFailed));
  EXPECT_NE(r.status().message().find("re-initialize"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("calendar-B"), std::string::npos);
  auto reinit = service_->Init(pair_id_);
  ASSERT_TRUE(reinit.ok());
  EXPECT_EQ(reinit->applied.count("create"), 0u) << reinit->plan;  // paired again, no duplicates
  EXPECT_EQ(external_.Snapshot().size(), 1u);
  EXPECT_TRUE(service_->RunNow(pair_id_).ok());
}

TEST_F(SyncServiceTest, MassDeletionIsRefusedUnlessForced) {
  store::PairOptions o;
  o.deletion_limit = 1;
  ASSERT_TRUE(service_->UpdateOptions(pair_id_, o).ok());
  model::Activity a = CrmActivity("A", "2026-12-05T09:00:00Z", "2026-12-05T09:30:00Z");
  model::Activity b = CrmActivity("B", "2026-12-06T09:00:00Z", "2026-12-06T09:30:00Z");
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  for (auto& [href, item] : external_.Snapshot()) ASSERT_TRUE(external_.UserDelete(href).ok());
  RunReport refused = Run();
  ASSERT_TRUE(refused.refusal);
  EXPECT_NE(refused.refusal->find("would delete 2 items (limit 1)"), std::string::npos);
  EXPECT_EQ(CrmAll().size(), 2u);
  RunReport forced = Run(/*force=*/true);
  EXPECT_FALSE(forced.refusal);
  EXPECT_EQ(forced.applied["trash"], 2) << forced.plan;
  EXPECT_TRUE(CrmAll().empty());
}

TEST_F(SyncServiceTest, OneBadItemIsReportedAndTheOthersSync) {
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  std::string bad = external_.UserPut("bad", "BEGIN:VCALENDAR\r\nthis is not iCalendar\r\n");
  external_.UserPut("good", Event("good", "Good one", "20261210T100000Z", "20261210T110000Z"));
  RunReport r = Run();
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].external_href, bad);
  EXPECT_EQ(r.applied["create"], 1);
  ASSERT_EQ(CrmAll().size(), 1u);
  EXPECT_EQ(CrmAll()[0].subject, "Good one");
}

TEST_F(SyncServiceTest, ALargeImportIsCommittedInBatchesAroundExternalWrites) {
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  // More than two batches of CRM imports, with CRM-side creations (external
  // writes, which end a batch) planned among them.
  for (int i = 0; i < 1203; ++i) {
    std::string uid = fmt::format("bulk-{:04}", i);
    external_.UserPut(uid, Event(uid, fmt::format("Imported {}", i), "20261210T100000Z",
                                 "20261210T110000Z"));
  }
  // One that the CRM refuses (a title over 1,000 characters): reported, the rest of
  // its batch stays.
  external_.UserPut("too-long", Event("too-long", std::string(1001, 'x'), "20261211T100000Z",
                                      "20261211T110000Z"));
  for (int i = 0; i < 3; ++i) CrmActivity(fmt::format("From the CRM {}", i), "2026-12-12T10:00:00Z", "2026-12-12T11:00:00Z");
  RunReport r = Run();
  EXPECT_EQ(r.applied["create"], 1206) << r.Summary();
  ASSERT_EQ(r.errors.size(), 1u) << r.Summary();
  EXPECT_EQ(CrmCount(), 1206);
  EXPECT_EQ(*state_->CountStatus(pair_id_), 1206);
  EXPECT_EQ(ExternalSubject("bulk-0000"), "Imported 0");
  // Nothing is left half-done: the next run only retries the refused item.
  RunReport again = Run();
  EXPECT_EQ(again.applied.count("create"), 0u) << again.Summary();
  EXPECT_EQ(CrmCount(), 1206);
}

TEST_F(SyncServiceTest, ConcurrentChangeIsNeverOverwrittenAndIsReplanned) {
  model::Activity a = CrmActivity("Plan", "2026-12-05T09:00:00Z", "2026-12-05T09:30:00Z");
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  clock_.Advance(std::chrono::minutes(1));
  a = *crm_->GetActivity(a.meta.id);
  a.subject = "Plan (CRM)";
  ASSERT_TRUE(crm_->Update(a, a.meta.version).ok());
  // Someone edits the event between our read and our write.
  bool once = true;
  external_.SetFaultHook(
      [&](std::string_view op, MemoryCalendar::Phase phase, const std::string& href) {
        if (once && op == "update" && phase == MemoryCalendar::Phase::kBefore) {
          once = false;
          ASSERT_TRUE(external_
                          .UserEdit(href, Event(a.meta.id, "Plan (phone)", "20261205T090000Z",
                                                "20261205T093000Z", "20261124T200000Z"))
                          .ok());
        }
      });
  RunReport r1 = Run();
  EXPECT_EQ(r1.deferred, 1) << r1.plan;
  EXPECT_EQ(ExternalSubject(a.meta.id), "Plan (phone)");  // not overwritten
  RunReport r2 = Run();
  // Re-planned as a conflict: the phone's edit is later and wins.
  EXPECT_EQ(crm_->GetActivity(a.meta.id)->subject, "Plan (phone)") << r2.plan;
  EXPECT_EQ(ExternalSubject(a.meta.id), "Plan (phone)");
}

TEST_F(SyncServiceTest, CreationInterruptedByACrashIsHealedWithoutDuplicate) {
  struct Crash {};
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  model::Activity a = CrmActivity("New", "2026-12-05T09:00:00Z", "2026-12-05T09:30:00Z");
  external_.SetFaultHook([](std::string_view op, MemoryCalendar::Phase phase, const std::string&) {
    if (op == "create" && phase == MemoryCalendar::Phase::kAfter) throw Crash{};  // response lost
  });
  EXPECT_THROW((void)service_->RunNow(pair_id_), Crash);
  external_.SetFaultHook(nullptr);
  RunReport r = Run();
  // Healed either through the intent (FindByUid) or by pairing the UID that
  // came back in the external feed; never created twice.
  EXPECT_EQ(r.applied["heal"] + r.applied["record"], 1) << r.plan;
  EXPECT_EQ(r.applied.count("create"), 0u) << r.plan;
  EXPECT_EQ(external_.Snapshot().size(), 1u);
  EXPECT_EQ(ExternalSubject(a.meta.id), "New");
  EXPECT_TRUE(Run().applied.empty());
}

TEST_F(SyncServiceTest, ABatchOfCreationsSendsNoRequestWhileATransactionIsOpen) {
  // The creations of a batch write their intents in one transaction and their
  // answers in another; a request sent inside either would hold every other
  // writer (the REST API) for as long as the calendar takes to answer.
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  external_.SetCreateBatchLimit(3);
  for (int i = 0; i < 7; ++i) {
    std::string start = fmt::format("2026-12-{:02}T09:00:00Z", 5 + i);
    std::string end = fmt::format("2026-12-{:02}T09:30:00Z", 5 + i);
    CrmActivity(fmt::format("Visit {}", i), start.c_str(), end.c_str());
  }
  int requests = 0, inside_a_transaction = 0;
  external_.SetFaultHook([&](std::string_view op, MemoryCalendar::Phase phase, const std::string&) {
    if (op != "create" || phase != MemoryCalendar::Phase::kBefore) return;
    ++requests;
    // This thread's writer lease: the open batch's own connection, if any.
    auto writer = crm_->pool().Write();
    if (writer->InTransaction()) ++inside_a_transaction;
  });
  RunReport r = Run();
  external_.SetFaultHook(nullptr);
  EXPECT_EQ(r.applied["create"], 7) << r.plan;
  EXPECT_EQ(requests, 7);
  EXPECT_EQ(inside_a_transaction, 0);
  EXPECT_EQ(external_.Snapshot().size(), 7u);
  // The run's phases (logged for operators) lie within its whole.
  const auto& t = r.seconds;
  EXPECT_GT(t.total, 0.0);
  EXPECT_GT(t.apply, 0.0);
  EXPECT_LE(t.crm + t.external + t.plan + t.apply, t.total);
  EXPECT_TRUE(Run().applied.empty());  // every creation recorded: nothing to redo
}

TEST_F(SyncServiceTest, PrivateEventsAreNotSyncedWhenSkipped) {
  store::PairOptions o;
  o.skip_private = true;
  ASSERT_TRUE(service_->UpdateOptions(pair_id_, o).ok());
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  external_.UserPut("p", Event("p", "Doctor", "20261210T100000Z", "20261210T110000Z",
                               "20261101T000000Z", "CLASS:PRIVATE\r\n"));
  model::Activity mine = CrmActivity("Mine", "2026-12-05T09:00:00Z", "2026-12-05T09:30:00Z");
  mine.is_private = true;
  ASSERT_TRUE(crm_->Update(mine, mine.meta.version).ok());
  RunReport r = Run();
  EXPECT_TRUE(r.applied.empty()) << r.plan;
  EXPECT_EQ(CrmAll().size(), 1u);
  EXPECT_EQ(external_.Snapshot().size(), 1u);
}

TEST_F(SyncServiceTest, MultiDayEventBecomesOneActivityAndDoesNotChurn) {
  store::PairOptions o;
  o.multi_day = store::MultiDayHandling::kStartWithEndInTitle;
  ASSERT_TRUE(service_->UpdateOptions(pair_id_, o).ok());
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  external_.UserPut("trip", Event("trip", "Trip", "20261210T080000Z", "20261212T170000Z"));
  RunReport r = Run();
  ASSERT_EQ(r.applied["create"], 1) << r.plan;
  ASSERT_EQ(CrmAll().size(), 1u);
  model::Activity a = CrmAll()[0];
  EXPECT_EQ(a.start, At("2026-12-10T08:00:00Z"));
  EXPECT_NE(a.subject.find("Trip (until 2026-12-12"), std::string::npos) << a.subject;
  // The next runs see no change on either side: nothing is written back.
  RunReport r2 = Run();
  EXPECT_EQ(r2.applied.count("update"), 0u) << r2.plan;
  RunReport r3 = Run();
  EXPECT_TRUE(r3.applied.empty() || (r3.applied.size() == 1 && r3.applied.count("record")))
      << r3.plan;
  EXPECT_EQ(ExternalSubject("trip"), "Trip");
}

TEST_F(SyncServiceTest, BadOptionsAndUnknownProviderAreRejected) {
  store::PairOptions o;
  o.window_days_ahead = 0;
  EXPECT_TRUE(
      service_->AddPair({.user_id = "u", .provider = "memory", .calendar = "x", .options = o})
          .status()
          .Is(Code::kInvalidArgument));
  EXPECT_TRUE(service_->AddPair({.user_id = "u", .provider = "carrier-pigeon", .calendar = "x"})
                  .status()
                  .Is(Code::kInvalidArgument));
  EXPECT_EQ(service_->ListPairs("user-1")->size(), 1u);
  ASSERT_TRUE(service_->RemovePair(pair_id_).ok());
  EXPECT_TRUE(service_->ListPairs("user-1")->empty());
}

}  // namespace
}  // namespace tandem::sync

namespace tandem::sync {
namespace {

std::string Calendar(const std::string& vevent_body) {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\n" + vevent_body +
         "END:VEVENT\r\nEND:VCALENDAR\r\n";
}

std::string ExternalIcal(MemoryCalendar& cal, const std::string& uid) {
  auto f = cal.FindByUid(uid);
  return f.ok() && *f ? (*f)->ical : std::string("<missing>");
}

TEST_F(SyncServiceTest, FloatingTimesAreReadInTheUsersZoneAndWrittenBackFloating) {
  model::User u;
  u.id = "user-1";
  u.login = "one";
  u.password_hash = "x";
  u.time_zone = "Europe/Berlin";
  ASSERT_TRUE(crm_->CreateUser(u).ok());
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  external_.UserPut("float", Event("float", "Local", "20261210T090000", "20261210T100000"));
  Run();
  ASSERT_EQ(CrmAll().size(), 1u);
  model::Activity a = CrmAll()[0];
  EXPECT_EQ(a.start, At("2026-12-10T08:00:00Z"));  // 09:00 in Berlin (CET)
  a.subject = "Local, edited";
  ASSERT_TRUE(crm_->Update(a, std::nullopt).ok());
  RunReport r = Run();
  EXPECT_EQ(r.applied["update"], 1) << r.plan;
  std::string ics = ExternalIcal(external_, "float");
  EXPECT_NE(ics.find("DTSTART:20261210T090000\r\n"), std::string::npos) << ics;
  EXPECT_EQ(ics.find("TZID"), std::string::npos) << ics;
  EXPECT_NE(ics.find("SUMMARY:Local\\, edited"), std::string::npos) << ics;
  // A run after that sees no change on either side.
  RunReport quiet = Run();
  EXPECT_TRUE(quiet.applied.empty()) << quiet.plan;
}

TEST_F(SyncServiceTest, MultiDayRuleNeverShortensTheExternalEvent) {
  store::PairOptions options;
  options.multi_day = store::MultiDayHandling::kStartWithEndInTitle;
  ASSERT_TRUE(service_->UpdateOptions(pair_id_, options).ok());
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  external_.UserPut("fair", Calendar("UID:fair\r\nDTSTAMP:20261101T000000Z\r\n"
                                     "DTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261228\r\n"
                                     "SUMMARY:Trade fair\r\n"));
  Run();
  ASSERT_EQ(CrmAll().size(), 1u);
  model::Activity a = CrmAll()[0];
  EXPECT_EQ(a.subject, "Trade fair (until 2026-12-27)");
  a.subject = "Trade fair Berlin (until 2026-12-27)";
  ASSERT_TRUE(crm_->Update(a, std::nullopt).ok());
  Run();
  std::string ics = ExternalIcal(external_, "fair");
  EXPECT_NE(ics.find("DTEND;VALUE=DATE:20261228"), std::string::npos) << ics;
  EXPECT_NE(ics.find("SUMMARY:Trade fair Berlin\r\n"), std::string::npos) << ics;
  // The user removes the suffix altogether: still the real end, no suffix.
  a = CrmAll()[0];
  a.subject = "Fair";
  ASSERT_TRUE(crm_->Update(a, std::nullopt).ok());
  Run();
  ics = ExternalIcal(external_, "fair");
  EXPECT_NE(ics.find("DTEND;VALUE=DATE:20261228"), std::string::npos) << ics;
  EXPECT_NE(ics.find("SUMMARY:Fair\r\n"), std::string::npos) << ics;
}

TEST_F(SyncServiceTest, SequenceAndCreatedSurviveAWriteBack) {
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  external_.UserPut("seq", Event("seq", "Call", "20261210T090000Z", "20261210T100000Z",
                                 "20261101T000000Z",
                                 "SEQUENCE:4\r\nCREATED:20200101T120000Z\r\n"));
  Run();
  model::Activity a = CrmAll()[0];
  EXPECT_EQ(a.sequence, 4);
  a.subject = "Call, renamed";
  ASSERT_TRUE(crm_->Update(a, std::nullopt).ok());
  Run();
  std::string ics = ExternalIcal(external_, "seq");
  EXPECT_NE(ics.find("SEQUENCE:4\r\n"), std::string::npos) << ics;
  EXPECT_NE(ics.find("CREATED:20200101T120000Z"), std::string::npos) << ics;
  a = CrmAll()[0];
  a.start += std::chrono::hours(1);
  a.end += std::chrono::hours(1);
  ASSERT_TRUE(crm_->Update(a, std::nullopt).ok());
  Run();
  ics = ExternalIcal(external_, "seq");
  EXPECT_NE(ics.find("SEQUENCE:5\r\n"), std::string::npos) << ics;
}

TEST_F(SyncServiceTest, CancelledAndUntitledEventsImportAndWriteBackAsTheyAre) {
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  external_.UserPut("off", Event("off", "Off", "20261210T090000Z", "20261210T100000Z",
                                 "20261101T000000Z", "STATUS:CANCELLED\r\n"));
  external_.UserPut("blank", Calendar("UID:blank\r\nDTSTAMP:20261101T000000Z\r\n"
                                      "DTSTART:20261211T090000Z\r\nDTEND:20261211T100000Z\r\n"));
  RunReport r = Run();
  EXPECT_TRUE(r.errors.empty()) << r.Summary();
  ASSERT_EQ(CrmAll().size(), 2u) << r.plan;
  for (model::Activity a : CrmAll()) {
    if (a.subject == "Off") {
      EXPECT_TRUE(a.cancelled);
    } else {
      EXPECT_EQ(a.subject, "");
      a.location = "Room 2";
      ASSERT_TRUE(crm_->Update(a, std::nullopt).ok());
    }
  }
  Run();
  std::string blank = ExternalIcal(external_, "blank");
  EXPECT_NE(blank.find("LOCATION:Room 2"), std::string::npos) << blank;
  EXPECT_EQ(blank.find("SUMMARY"), std::string::npos) << blank;
  // The CRM user deletes the cancelled activity; the calendar's copy goes, it is
  // never brought back live.
  for (const model::Activity& a : CrmAll()) {
    if (a.cancelled) ASSERT_TRUE(crm_->Delete(model::EntityType::kActivity, a.meta.id, {}).ok());
  }
  Run();
  EXPECT_EQ(ExternalIcal(external_, "off"), "<missing>");
}

TEST_F(SyncServiceTest, AnUpdateLogsTheVersionItReplacedOnEitherSide) {
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  external_.UserPut("u1", Event("u1", "Before the edit", "20261210T090000Z", "20261210T100000Z"));
  Run();
  // Changed externally: the CRM's version is replaced and logged.
  external_.UserPut("u1", Event("u1", "Edited on the phone", "20261210T090000Z",
                                "20261210T100000Z", "20261102T000000Z"));
  Run();
  // Changed in the CRM: the calendar's version is replaced and logged.
  model::Activity a = CrmAll()[0];
  a.subject = "Edited in the CRM";
  ASSERT_TRUE(crm_->Update(a, std::nullopt).ok());
  Run();
  auto log = service_->SyncLog(pair_id_, 20);
  ASSERT_TRUE(log.ok());
  int updates = 0;
  for (const auto& e : *log) {
    if (e.action != "update") continue;
    ++updates;
    if (e.target == "crm") {
      EXPECT_NE(e.before.find("SUMMARY:Before the edit"), std::string::npos) << e.before;
      EXPECT_NE(e.after.find("SUMMARY:Edited on the phone"), std::string::npos) << e.after;
    } else {
      EXPECT_NE(e.before.find("SUMMARY:Edited on the phone"), std::string::npos) << e.before;
      EXPECT_NE(e.after.find("SUMMARY:Edited in the CRM"), std::string::npos) << e.after;
    }
  }
  EXPECT_EQ(updates, 2);
}

TEST_F(SyncServiceTest, ASecondPairOfTheSameCalendarIsRefusedNamingTheFirst) {
  auto again = service_->AddPair({.user_id = "user-1", .provider = "memory", .calendar = "mem:1/"});
  ASSERT_EQ(again.status().code(), Code::kAlreadyExists) << again.status().ToString();
  EXPECT_NE(again.status().message().find(pair_id_), std::string::npos) << again.status().ToString();
  // Another user, or another calendar, is fine.
  EXPECT_TRUE(service_->AddPair({.user_id = "user-2", .provider = "memory", .calendar = "mem:1"}).ok());
  EXPECT_TRUE(service_->AddPair({.user_id = "user-1", .provider = "memory", .calendar = "mem:2"}).ok());
}

TEST_F(SyncServiceTest, ASeriesWithNoOccurrenceInTheWindowIsLoggedAsLeftOut) {
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  external_.UserPut("old", Event("old", "Old series", "20200106T090000Z", "20200106T100000Z",
                                 "20261101T000000Z", "RRULE:FREQ=WEEKLY;COUNT=3\r\n"));
  RunReport r = Run();
  EXPECT_EQ(r.applied["skip"], 1) << r.plan;
  EXPECT_TRUE(CrmAll().empty());
  auto log = service_->SyncLog(pair_id_, 10);
  ASSERT_TRUE(log.ok());
  bool found = false;
  for (const auto& e : *log) {
    if (e.uid == "old" && e.action == "skip") {
      found = true;
      EXPECT_NE(e.reason.find("no occurrence inside the sync window"), std::string::npos)
          << e.reason;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(SyncServiceTest, AWindowedFullListingNeverTakesAnEventThatGrewOldForDeleted) {
  // Three paired events: one soon, one that will grow old, one the user deletes.
  CrmActivity("Soon", "2026-12-20T09:00:00Z", "2026-12-20T10:00:00Z");
  model::Activity old = CrmActivity("Growing old", "2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z");
  model::Activity gone = CrmActivity("Deleted by the user", "2026-12-21T09:00:00Z", "2026-12-21T10:00:00Z");
  listing_.windowed = true;
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  ASSERT_EQ(external_.Snapshot().size(), 3u);
  // Half a year on, the old one is behind the window; the user deletes one, and
  // the calendar refuses the cursor (a new round: a full listing of the window).
  clock_.Advance(std::chrono::days(180));
  ASSERT_TRUE(external_.UserDelete((*external_.FindByUid(gone.meta.id))->href).ok());
  listing_.refuse_cursor_once = true;
  RunReport r = Run();
  EXPECT_EQ(r.applied["trash"], 1) << r.plan;  // the deleted one only
  EXPECT_TRUE(crm_->GetActivity(old.meta.id).ok()) << r.plan;
  EXPECT_TRUE(crm_->GetActivity(gone.meta.id).status().Is(Code::kNotFound));
  EXPECT_EQ(CrmCount(), 2);
  EXPECT_EQ(external_.Snapshot().size(), 2u);
}

TEST_F(SyncServiceTest, ACalendarThatGoesAwayMidRunStopsTheRunAndTheNextRunGoesOn) {
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  for (int i = 0; i < 30; ++i)
    CrmActivity(fmt::format("Visit {}", i), "2026-12-10T10:00:00Z", "2026-12-10T11:00:00Z");
  outage_.writes_before = 10;
  RunReport cut = Run();
  ASSERT_TRUE(cut.unreachable) << cut.Summary();
  EXPECT_NE(cut.unreachable->find("Connection refused"), std::string::npos);
  EXPECT_EQ(cut.applied["create"], 10);
  EXPECT_EQ(outage_.attempts_while_down, 3) << "met item by item, not stopped";
  EXPECT_EQ(cut.left, 17);
  EXPECT_NE(cut.Summary().find("calendar unreachable"), std::string::npos) << cut.Summary();
  auto runs = service_->Runs(pair_id_, 1);
  ASSERT_TRUE(runs.ok() && !runs->empty());
  EXPECT_TRUE(runs->front().outcome.starts_with("calendar unreachable")) << runs->front().outcome;
  // Back again: the next run creates the other 20, none twice.
  outage_.writes_before = -1;
  RunReport healed = Run();
  EXPECT_FALSE(healed.unreachable);
  EXPECT_TRUE(healed.errors.empty()) << healed.Summary();
  EXPECT_EQ(external_.Snapshot().size(), 30u) << healed.Summary();
  EXPECT_EQ(Run().Summary(), "no changes");
}

TEST_F(SyncServiceTest, AnUnreadableItemIsNamedLoggedRetriedAndNeverTakenForDeleted) {
  CrmActivity("Quarterly review", "2026-12-10T10:00:00Z", "2026-12-10T11:00:00Z");
  ASSERT_TRUE(service_->Init(pair_id_).ok());
  ASSERT_EQ(external_.Snapshot().size(), 1u);
  const std::string href = external_.Snapshot().begin()->first;
  const std::string uid = external_.Snapshot().begin()->second.uid;
  // Others beside it, so that one deletion would be under the mass-deletion guard.
  for (int i = 0; i < 5; ++i)
    CrmActivity(fmt::format("Visit {}", i), "2026-12-11T10:00:00Z", "2026-12-11T11:00:00Z");
  ASSERT_TRUE(Run().errors.empty());
  // Someone's tool breaks the paired event (no VEVENT any more), and adds a broken one.
  const std::string broken =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:broken-1\r\nSUMMARY:Call back\r\n"
      "END:VTODO\r\nEND:VCALENDAR\r\n";
  ASSERT_TRUE(external_.UserEdit(href, broken).ok());
  std::string other = external_.UserPut("x-2", "BEGIN:VCALENDAR\r\nSUMMARY:Half\r\nUID:x-2\r\n");
  RunReport r = Run();
  ASSERT_EQ(r.errors.size(), 2u) << r.Summary();
  const ItemError& e = r.errors[0].external_href == href ? r.errors[0] : r.errors[1];
  EXPECT_EQ(e.action, "read");
  EXPECT_EQ(e.uid, "broken-1");
  EXPECT_EQ(e.summary, "Call back");
  EXPECT_NE(e.error.find(href), std::string::npos) << e.error;
  EXPECT_EQ(r.applied.count("trash"), 0u) << r.plan;
  EXPECT_EQ(CrmAll().size(), 6u);
  // Logged with the text as it was read.
  auto log = service_->SyncLog(pair_id_, 10);
  ASSERT_TRUE(log.ok());
  int logged = 0;
  for (const auto& entry : *log)
    if (entry.action == "read" && entry.run_id == r.run_id && !entry.error.empty()) {
      ++logged;
      if (entry.external_href == href) EXPECT_EQ(entry.before, broken);
    }
  EXPECT_EQ(logged, 2);
  // A full listing (a lost cursor) does not take it for deleted either.
  auto pair = state_->GetPair(pair_id_);
  pair->external_cursor = "";
  ASSERT_TRUE(state_->UpdatePair(*pair).ok());
  RunReport full = Run();
  EXPECT_FALSE(full.refusal) << *full.refusal;
  EXPECT_EQ(full.applied.count("trash"), 0u) << full.plan;
  EXPECT_EQ(CrmAll().size(), 6u);
  // Read again on the next run until fixed: then the fix syncs.
  ASSERT_TRUE(external_.UserDelete(other).ok());
  ASSERT_TRUE(external_
                  .UserEdit(href, Event(uid, "Quarterly review (moved)", "20261210T140000Z",
                                        "20261210T150000Z", "20261125T000000Z"))
                  .ok());
  RunReport fixed = Run();
  EXPECT_TRUE(fixed.errors.empty()) << fixed.Summary();
  int moved = 0;
  for (const auto& act : CrmAll()) moved += act.subject == "Quarterly review (moved)";
  EXPECT_EQ(moved, 1);
}

}  // namespace
}  // namespace tandem::sync
