// RapidCheck state-machine test of the sync engine (planner + executor) against a
// small reference model of the rules in docs/SYNC.md.
//
// Two in-memory calendars (the CRM side and the external side) receive random
// creations, edits (title, moves into and out of the window, private toggles)
// and deletions by "the user" on both sides, trash restores, syncs, and syncs
// that crash at a chosen executor step (before or after a request reached the
// side, or before a state write) followed by a normal sync, and syncs during
// which the user edits an item the engine is about to update or delete (its
// precondition fails; with "later wins" the user's newer edit must survive), a
// calendar emptied by hand, the external calendar replaced by a new one at the
// same address (same identity, every sync token void), and the calendar server
// going away in the middle of a run; half the external servers leave an item
// created after the cursor and deleted since out of their next listing. After
// every sync:
//   - both calendars hold exactly what the model says (so both sides agree,
//     nothing is duplicated and no edit is lost),
//   - every conflict loser of the model is in the sync log,
//   - every activity the model trashed is in the trash with its content,
//   - the engine never wrote or deleted an item outside the window or filtered as
//     private,
//   - the sync converged (a further run has nothing to do),
//   - the mass-deletion guard stopped exactly the runs that would trash or
//     delete most of the paired items (none silently), a stopped run wrote
//     nothing, and a replaced calendar was never synced as deletions,
//   - a run meeting an outage stopped after a few unanswered requests,
//   - the pair's status rows are the model's tracked events.
//
// Run twice: with the line codec between two in-memory calendars, and with the
// real iCalendar codec and the CRM side over an in-memory SQLite store (the
// external calendar stays in memory: it is where outages and replacements are
// staged).
//
// Cases: 3000 and 300 by default; TANDEM_SYNC_RC_CASES=N and
// TANDEM_SYNC_RC_ICAL_CASES=N for longer runs (CI runs 10,000 of each).
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/clock.h"
#include "sync/engine.h"
#include "ical/ical.h"
#include "store/sqlite/sqlite_store.h"
#include "sync/crm_side.h"
#include "sync/ical_codec.h"
#include "sync/line_codec.h"
#include "sync/memory_calendar.h"
#include "sync/memory_sync_state.h"

namespace tandem::sync {
namespace {

const Instant kNow = FromUnixSeconds(1'790'000'000);

struct InjectedCrash {};

// ---------------------------------------------------------------- the model

struct Content {
  std::string title;
  int day = 0;  // start = now + day days; one hour long
  bool priv = false;
  int64_t mod = 0;  // modification time (µs)
  std::string Key() const { return fmt::format("{}|{}|{}", title, day, priv); }
};

struct ModelEvent {
  std::optional<Content> crm, ext;
  bool crm_touched = false, ext_touched = false;  // in that side's feed since the last sync
  bool tracked = false;
  std::string agreed_crm, agreed_ext;  // content keys at the last agreement
};

struct TrashRecord {
  std::string uid;
  Content content;
  bool restored = false;
};

struct Model {
  std::map<std::string, ModelEvent> events;  // by UID
  int next_uid = 0;
  int64_t clock = 0;
  bool skip_private = false;
  store::ConflictPolicy policy = store::ConflictPolicy::kLaterWins;
  std::vector<TrashRecord> trash;
  std::vector<std::pair<std::string, std::string>> losers;  // (uid, content key)
};

bool InWindow(int day) { return day >= -92 && day <= 365; }

bool Filtered(const Model& m, const Content& c) {
  return !InWindow(c.day) || (m.skip_private && c.priv);
}

// Side::kCrm when the CRM version wins a conflict.
Side Winner(const Model& m, const Content& c, const Content& e) {
  switch (m.policy) {
    case store::ConflictPolicy::kCrmWins:
      return Side::kCrm;
    case store::ConflictPolicy::kExternalWins:
      return Side::kExternal;
    case store::ConflictPolicy::kLaterWins:
      break;
  }
  return e.mod > c.mod ? Side::kExternal : Side::kCrm;
}

void Track(ModelEvent& ev) {
  ev.tracked = true;
  ev.agreed_crm = ev.crm->Key();
  ev.agreed_ext = ev.ext->Key();
}

// (side, UID) of every item an update or deletion of the model sync writes to.
using Writes = std::vector<std::pair<Side, std::string>>;

void Resolve(Model& m, const std::string& uid, ModelEvent& ev, Writes* w) {
  if (ev.crm->Key() == ev.ext->Key()) return;
  if (Winner(m, *ev.crm, *ev.ext) == Side::kCrm) {
    m.losers.push_back({uid, ev.ext->Key()});
    ev.ext = ev.crm;
    if (w) w->push_back({Side::kExternal, uid});
  } else {
    m.losers.push_back({uid, ev.crm->Key()});
    ev.crm = ev.ext;
    if (w) w->push_back({Side::kCrm, uid});
  }
}

// What one model sync deletes: activities trashed, external events deleted.
struct Deletions {
  int trash = 0;
  int deletes = 0;
};

// One complete sync, rule by rule (docs/SYNC.md), written independently of the planner.
Deletions ModelSync(Model& m, Writes* w = nullptr) {
  Deletions d;
  for (auto& [uid, ev] : m.events) {
    auto& c = ev.crm;
    auto& e = ev.ext;
    const bool touched = (c && ev.crm_touched) || (e && ev.ext_touched);
    ev.crm_touched = ev.ext_touched = false;
    if (!ev.tracked) {
      if (!touched) continue;  // untracked and unchanged: not seen
      if (c && e) {
        if (Filtered(m, *c) || Filtered(m, *e)) continue;
        Resolve(m, uid, ev, w);
        Track(ev);
      } else if (c) {
        if (!Filtered(m, *c)) {
          e = c;
          Track(ev);
        }
      } else if (e) {
        if (!Filtered(m, *e)) {
          c = e;
          Track(ev);
        }
      }
      continue;
    }
    if ((c && Filtered(m, *c)) || (e && Filtered(m, *e)) || (!c && !e)) {
      ev.tracked = false;  // untracked: nothing written anywhere
      continue;
    }
    const bool crm_changed = c && c->Key() != ev.agreed_crm;
    const bool ext_changed = e && e->Key() != ev.agreed_ext;
    if (!c) {
      if (ext_changed) {
        c = e;  // the change wins over the deletion
        Track(ev);
      } else {
        e.reset();
        ev.tracked = false;
        ++d.deletes;
        if (w) w->push_back({Side::kExternal, uid});
      }
      continue;
    }
    if (!e) {
      if (crm_changed) {
        e = c;
        Track(ev);
      } else {
        m.trash.push_back({uid, *c, false});
        c.reset();
        ev.tracked = false;
        ++d.trash;
        if (w) w->push_back({Side::kCrm, uid});
      }
      continue;
    }
    if (crm_changed && ext_changed) {
      Resolve(m, uid, ev, w);
    } else if (crm_changed) {
      e = c;
      if (w) w->push_back({Side::kExternal, uid});
    } else if (ext_changed) {
      c = e;
      if (w) w->push_back({Side::kCrm, uid});
    }
    Track(ev);
  }
  return d;
}

// The mass-deletion guard's relative rule (docs/SYNC.md): a run that would
// trash, or delete, at least 3 of the paired items and more than half of them
// stops and asks. `paired` is the pair's status row count before the run.
bool GuardMustStop(const Deletions& d, int64_t paired) {
  auto most = [paired](int n) { return n >= 3 && 2 * int64_t{n} > paired; };
  return most(d.trash) || most(d.deletes);
}

// An initialization (S13) after the external calendar was replaced by one whose
// events share no UID and no title with the CRM's: every CRM event inside the
// window goes out, every new external one inside the window comes in, nothing
// is trashed.
void ModelInit(Model& m) {
  for (auto& [uid, ev] : m.events) {
    ev.crm_touched = ev.ext_touched = false;
    ev.tracked = false;
    if (ev.crm && ev.ext) continue;  // not generated: the new calendar's UIDs are new
    if (ev.crm && !Filtered(m, *ev.crm)) {
      ev.ext = ev.crm;
      Track(ev);
    } else if (ev.ext && !Filtered(m, *ev.ext)) {
      ev.crm = ev.ext;
      Track(ev);
    }
  }
}

// ------------------------------------------------------- the system under test

// The codec under test: the line codec (fast, exact) or the real iCalendar
// codec with the real CRM side over SQLite (what tandemd runs).
bool g_ical = false;

std::string IcalTime(Instant t) {
  return fmt::format("{:%Y%m%dT%H%M%SZ}", fmt::gmtime(static_cast<std::time_t>(ToUnixSeconds(t))));
}

// A modification time: the model's counter, as microseconds (line codec) or as
// whole seconds (iCalendar's LAST-MODIFIED has no finer grain).
Instant ModTime(int64_t mod) {
  return g_ical ? kNow + std::chrono::seconds(mod) : FromUnixMicros(mod);
}

std::string Text(const std::string& uid, const Content& c) {
  if (g_ical) {
    const Instant start = kNow + std::chrono::hours(24 * c.day);
    return fmt::format(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Tandem tests//EN\r\nBEGIN:VEVENT\r\n"
        "UID:{}\r\nDTSTAMP:{}\r\nLAST-MODIFIED:{}\r\nDTSTART:{}\r\nDTEND:{}\r\n"
        "SUMMARY:{}\r\n{}END:VEVENT\r\nEND:VCALENDAR\r\n",
        uid, IcalTime(ModTime(c.mod)), IcalTime(ModTime(c.mod)), IcalTime(start),
        IcalTime(start + std::chrono::hours(1)), c.title, c.priv ? "CLASS:PRIVATE\r\n" : "");
  }
  LineEvent e;
  e.uid = uid;
  e.title = c.title;
  e.start = ToUnixSeconds(kNow) + int64_t{c.day} * 86400;
  e.end = e.start + 3600;
  e.is_private = c.priv;
  e.modified_us = c.mod;
  return WriteLineEvent(e);
}

// The model's view of an item's text (its modification time left out).
Result<Content> Decode(std::string_view text) {
  if (g_ical) {
    TANDEM_ASSIGN_OR_RETURN(ical::Event ev, ical::ParseEvent(text, ical::MapOptions{}));
    return Content{ev.activity.subject,
                   static_cast<int>((ToUnixSeconds(ev.activity.start) - ToUnixSeconds(kNow)) / 86400),
                   ev.activity.is_private, 0};
  }
  TANDEM_ASSIGN_OR_RETURN(LineEvent ev, ParseLineEvent(text));
  return Content{ev.title, static_cast<int>((ev.start - ToUnixSeconds(kNow)) / 86400),
                 ev.is_private, 0};
}

std::string UidOf(std::string_view text) {
  if (g_ical) {
    auto ev = ical::ParseEvent(text, ical::MapOptions{});
    return ev.ok() ? ev->uid : "";
  }
  auto ev = ParseLineEvent(text);
  return ev.ok() ? ev->uid : "";
}

using Stored = MemoryCalendar::Stored;
using FaultHook = MemoryCalendar::FaultHook;
using Phase = MemoryCalendar::Phase;

// What the test does to a calendar beside the engine: the user's own edits,
// looking at what it holds, and the fault hook around the engine's writes.
class TestSide {
 public:
  virtual ~TestSide() = default;
  virtual CalendarSide& side() = 0;  // what the engine is given
  virtual std::string UserPut(const std::string& uid, const std::string& text) = 0;
  virtual Status UserEdit(const std::string& href, const std::string& text) = 0;
  virtual Status UserDelete(const std::string& href) = 0;
  // What SyncService::RestoreTrash does: the trashed item created again.
  virtual void Restore(const std::string& uid, const std::string& text) = 0;
  virtual std::map<std::string, Stored> Snapshot() = 0;
  virtual std::optional<Stored> Get(const std::string& href) = 0;
  virtual int64_t mutation_count() const = 0;
  virtual void SetFaultHook(FaultHook hook) = 0;
  Result<std::optional<Item>> FindByUid(const std::string& uid) { return side().FindByUid(uid); }
};

class MemoryTestSide final : public TestSide {
 public:
  MemoryTestSide(std::string identity, std::string prefix)
      : cal_(std::move(identity), std::move(prefix)) {}
  CalendarSide& side() override { return cal_; }
  std::string UserPut(const std::string& uid, const std::string& text) override {
    return cal_.UserPut(uid, text);
  }
  Status UserEdit(const std::string& href, const std::string& text) override {
    return cal_.UserEdit(href, text);
  }
  Status UserDelete(const std::string& href) override { return cal_.UserDelete(href); }
  void Restore(const std::string& uid, const std::string& text) override { cal_.UserPut(uid, text); }
  std::map<std::string, Stored> Snapshot() override { return cal_.Snapshot(); }
  std::optional<Stored> Get(const std::string& href) override {
    auto snap = cal_.Snapshot();
    auto it = snap.find(href);
    if (it == snap.end()) return std::nullopt;
    return it->second;
  }
  int64_t mutation_count() const override { return cal_.mutation_count(); }
  void SetFaultHook(FaultHook hook) override { cal_.SetFaultHook(std::move(hook)); }
  // The external server's own events.
  void UserReplace(const std::vector<std::pair<std::string, std::string>>& items) {
    cal_.UserReplace(items);
  }
  void SetUnavailable(bool gone) { cal_.SetUnavailable(gone); }
  void SetOmitsCreatedThenDeleted(bool omits) { cal_.SetOmitsCreatedThenDeleted(omits); }
  void SetCreateBatchLimit(size_t n) { cal_.SetCreateBatchLimit(n); }
  int64_t refused_calls() const { return cal_.refused_calls(); }

 private:
  MemoryCalendar cal_;
};

// The engine's writes to a side, with the fault hook around each (as
// MemoryCalendar has it built in).
class HookedSide final : public CalendarSide {
 public:
  explicit HookedSide(CalendarSide& inner) : inner_(inner) {}
  void SetFaultHook(FaultHook hook) { hook_ = std::move(hook); }
  int64_t mutation_count() const { return mutations_; }
  Result<std::string> Identity() override { return inner_.Identity(); }
  Result<ChangeSet> ChangesSince(const std::string& cursor, const TimeRange& window) override {
    return inner_.ChangesSince(cursor, window);
  }
  Result<ChangeSet> StreamChangesSince(const std::string& cursor, const TimeRange& window,
                                       const ItemSink& sink) override {
    return inner_.StreamChangesSince(cursor, window, sink);
  }
  Result<std::vector<Item>> GetMany(const std::vector<std::string>& hrefs) override {
    return inner_.GetMany(hrefs);
  }
  Result<ItemRef> Create(const std::string& uid, const std::string& ical) override {
    Fire("create", Phase::kBefore, uid);
    auto r = inner_.Create(uid, ical);
    if (!r.ok()) return r;
    ++mutations_;
    Fire("create", Phase::kAfter, uid);
    return r;
  }
  Result<ItemRef> CreateMapped(const std::string& uid, const std::string& ical,
                               const model::Activity& activity,
                               const std::string& content_hash) override {
    Fire("create", Phase::kBefore, uid);
    auto r = inner_.CreateMapped(uid, ical, activity, content_hash);
    if (!r.ok()) return r;
    ++mutations_;
    Fire("create", Phase::kAfter, uid);
    return r;
  }
  Result<ItemRef> Update(const std::string& href, const std::string& etag,
                         const std::string& ical) override {
    Fire("update", Phase::kBefore, href);
    auto r = inner_.Update(href, etag, ical);
    if (!r.ok()) return r;
    ++mutations_;
    Fire("update", Phase::kAfter, href);
    return r;
  }
  Status Delete(const std::string& href, const std::string& etag) override {
    Fire("delete", Phase::kBefore, href);
    Status st = inner_.Delete(href, etag);
    if (!st.ok()) return st;
    ++mutations_;
    Fire("delete", Phase::kAfter, href);
    return st;
  }
  Result<std::optional<Item>> FindByUid(const std::string& uid) override {
    return inner_.FindByUid(uid);
  }

 private:
  void Fire(std::string_view op, Phase p, const std::string& key) {
    if (hook_) hook_(op, p, key);
  }
  CalendarSide& inner_;
  FaultHook hook_;
  int64_t mutations_ = 0;
};

// The CRM as tandemd has it: activities in SQLite, read and written by the
// engine through CrmSide; the user's edits go to the store as the REST API's do.
class CrmTestSide final : public TestSide {
 public:
  CrmTestSide(store::SyncStateStore& state, const std::string& pair_id) : state_(state) {
    auto s = store::sqlite::SqliteStore::Open(
        {.path = ":memory:", .clock = &clock_, .ids = &ids_, .series_end = &ical::SeriesEnd});
    if (!s.ok()) throw std::runtime_error(s.status().ToString());
    store_ = std::move(*s);
    engine_side_ = std::make_unique<CrmSide>(CrmSideOptions{.store = store_.get(),
                                                            .state = &state_,
                                                            .ids = &ids_,
                                                            .user_id = "user-1",
                                                            .pair_id = pair_id,
                                                            .origin = "sync:" + pair_id});
    hooked_ = std::make_unique<HookedSide>(*engine_side_);
  }
  CalendarSide& side() override { return *hooked_; }
  std::string UserPut(const std::string& uid, const std::string& text) override {
    auto ev = ical::ParseEvent(text, ical::MapOptions{});
    RC_ASSERT(ev.ok());
    model::Activity a = ev->activity;
    a.meta.id = uid;  // an activity made in the CRM: its id is its UID
    a.meta.owner_id = "user-1";
    a.meta.origin.clear();
    WriteAt(ev->last_modified);
    auto made = store_->Create(a);
    RC_ASSERT(made.ok());
    return made->meta.id;
  }
  Status UserEdit(const std::string& href, const std::string& text) override {
    auto ev = ical::ParseEvent(text, ical::MapOptions{});
    RC_ASSERT(ev.ok());
    TANDEM_ASSIGN_OR_RETURN(model::Activity a, store_->GetActivity(href));
    a.subject = ev->activity.subject;
    a.start = ev->activity.start;
    a.end = ev->activity.end;
    a.is_private = ev->activity.is_private;
    a.meta.origin.clear();
    WriteAt(ev->last_modified);
    return store_->Update(a, std::nullopt).status();
  }
  Status UserDelete(const std::string& href) override {
    return store_->Delete(model::EntityType::kActivity, href, std::nullopt);
  }
  void Restore(const std::string& uid, const std::string& text) override {
    CrmSide plain(CrmSideOptions{
        .store = store_.get(), .state = &state_, .ids = &ids_, .user_id = "user-1"});
    RC_ASSERT(plain.Create(uid, text).ok());
  }
  std::map<std::string, Stored> Snapshot() override {
    CrmSide plain(CrmSideOptions{
        .store = store_.get(), .state = &state_, .ids = &ids_, .user_id = "user-1"});
    auto all = plain.ChangesSince("", TimeRange{});
    RC_ASSERT(all.ok());
    std::map<std::string, Stored> out;
    for (auto& item : all->changed) out[item.href] = Stored{UidOf(item.ical), item.etag, item.ical};
    return out;
  }
  std::optional<Stored> Get(const std::string& href) override {
    auto items = engine_side_->GetMany({href});
    if (!items.ok() || items->empty()) return std::nullopt;
    return Stored{UidOf(items->front().ical), items->front().etag, items->front().ical};
  }
  int64_t mutation_count() const override { return hooked_->mutation_count(); }
  void SetFaultHook(FaultHook hook) override { hooked_->SetFaultHook(std::move(hook)); }

 private:
  // A user's write at the modification time the model gave it. The store has a
  // clock of its own: the engine's stays at kNow, where the model puts the
  // window's edges (the store's clock never goes back).
  void WriteAt(const std::optional<Instant>& t) {
    if (t && *t > clock_.Now()) clock_.Set(*t);
  }
  FakeClock clock_{kNow};
  store::SyncStateStore& state_;
  SeededRandom random_{11};
  IdGenerator ids_{clock_, random_};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<CrmSide> engine_side_;
  std::unique_ptr<HookedSide> hooked_;
};

struct Sut {
  FakeClock clock{kNow};
  MemorySyncStateStore state{clock};
  std::unique_ptr<TestSide> crm_owned;
  MemoryTestSide ext{"calendar-1", "ev-"};
  LineCodec line_codec;
  IcalCodec ical_codec;
  SyncEngine engine{EngineDeps{&state, g_ical ? static_cast<const EventCodec*>(&ical_codec)
                                              : static_cast<const EventCodec*>(&line_codec),
                               &clock}};
  std::string pair_id;
  bool skip_private = false;
  std::string violation;  // set by the guards below

  // Crash injection: the n-th step of a run throws; 0 = off.
  // A user edit made while the engine is about to write (update or delete) the
  // item `concurrent_uid` on `concurrent_side`: the engine's precondition fails.
  std::optional<Side> concurrent_side;
  std::string concurrent_uid;
  std::string concurrent_text;
  bool concurrent_fired = false;
  int concurrent_edits = 0;

  int steps = 0;
  int crashes = 0;
  int crash_at = 0;
  bool crash_after_request = false;

  // The external server going away at its `gone_at`-th write of a run (0 = never).
  int gone_at = 0;
  int ext_writes = 0;
  int outages = 0;
  int replacements = 0;
  int guard_stops = 0;

  explicit Sut(const Model& m) : skip_private(m.skip_private) {
    store::SyncPair p;
    p.user_id = "user-1";
    p.provider = "memory";
    p.options.skip_private = m.skip_private;
    p.options.conflict = m.policy;
    p.options.deletion_limit = 1000;
    pair_id = state.CreatePair(p)->id;
    if (g_ical) {
      crm_owned = std::make_unique<CrmTestSide>(state, pair_id);
    } else {
      crm_owned = std::make_unique<MemoryTestSide>("crm", "act-");
    }
    TestSide& crm = *crm_owned;
    auto guard = [this](TestSide& side) {
      return
          [this, &side](std::string_view op, MemoryCalendar::Phase phase, const std::string& key) {
            if (phase == MemoryCalendar::Phase::kBefore && op != "create") {
              if (auto stored = side.Get(key)) {
                auto ev = Decode(stored->ical);
                RC_ASSERT(ev.ok());
                if (!InWindow(ev->day) || (skip_private && ev->priv)) {
                  violation = fmt::format("engine {} touched filtered item {}", op, key);
                }
              }
            }
            const Side this_side = &side == crm_owned.get() ? Side::kCrm : Side::kExternal;
            if (phase == MemoryCalendar::Phase::kBefore && op != "create" && !concurrent_fired &&
                concurrent_side == this_side) {
              auto stored = side.Get(key);
              if (stored && stored->uid == concurrent_uid) {
                concurrent_fired = true;
                ++concurrent_edits;
                RC_ASSERT(side.UserEdit(key, concurrent_text).ok());
              }
            }
            if (this_side == Side::kExternal && phase == MemoryCalendar::Phase::kBefore &&
                gone_at > 0 && ++ext_writes == gone_at) {
              ext.SetUnavailable(true);  // this write and every call after it fail
              ++outages;
            }
            Step(phase == MemoryCalendar::Phase::kAfter);
          };
    };
    crm.SetFaultHook(guard(crm));
    ext.SetFaultHook(guard(ext));
    state.SetWriteHook([this](std::string_view) { Step(false); });
  }

  void Step(bool after_request) {
    if (crash_at == 0) return;
    if (!after_request) ++steps;
    if (steps == crash_at && after_request == crash_after_request) {
      crash_at = 0;
      ++crashes;
      throw InjectedCrash{};
    }
  }

  std::optional<std::string> HrefOf(TestSide& side, const std::string& uid) {
    auto found = side.FindByUid(uid);
    if (!found.ok() || !*found) return std::nullopt;
    return (*found)->href;
  }
  TestSide& crm() { return *crm_owned; }
  Result<RunReport> Run(const RunOptions& options) {
    return engine.Run(pair_id, crm_owned->side(), ext.side(), options);
  }
};

// ------------------------------------------------------------------ commands

using Cmd = rc::state::Command<Model, Sut>;

Content GenContent(const Model& m) {
  Content c;
  c.title =
      *rc::gen::elementOf(std::vector<std::string>{"Lunch", "Board meeting", "Call", "Review"});
  c.day = *rc::gen::oneOf(rc::gen::inRange(-92, 366),
                          rc::gen::elementOf(std::vector<int>{-400, -93, -92, 0, 365, 366, 800}));
  c.priv = *rc::gen::weightedElement<bool>({{4, false}, {1, true}});
  c.mod = m.clock + 1;
  return c;
}

struct UserCreate : Cmd {
  Side side;
  Content content;
  std::string uid;
  explicit UserCreate(const Model& m)
      : side(*rc::gen::element(Side::kCrm, Side::kExternal)),
        content(GenContent(m)),
        uid(fmt::format("uid-{}", m.next_uid)) {}
  void checkPreconditions(const Model& m) const override { RC_PRE(!m.events.contains(uid)); }
  void apply(Model& m) const override {
    ++m.next_uid;
    m.clock = std::max(m.clock, content.mod);
    ModelEvent& ev = m.events[uid];
    (side == Side::kCrm ? ev.crm : ev.ext) = content;
    (side == Side::kCrm ? ev.crm_touched : ev.ext_touched) = true;
  }
  void run(const Model&, Sut& s) const override {
    (side == Side::kCrm ? s.crm() : static_cast<TestSide&>(s.ext)).UserPut(uid, Text(uid, content));
  }
  void show(std::ostream& os) const override {
    os << "UserCreate(" << SideName(side) << ", " << uid << ", " << content.Key() << ")";
  }
};

std::vector<std::string> PresentOn(const Model& m, Side side) {
  std::vector<std::string> out;
  for (const auto& [uid, ev] : m.events) {
    if (side == Side::kCrm ? ev.crm.has_value() : ev.ext.has_value()) out.push_back(uid);
  }
  return out;
}

struct UserEdit : Cmd {
  Side side;
  std::string uid;
  Content content;
  explicit UserEdit(const Model& m) : side(*rc::gen::element(Side::kCrm, Side::kExternal)) {
    auto uids = PresentOn(m, side);
    RC_PRE(!uids.empty());
    uid = *rc::gen::elementOf(uids);
    content = GenContent(m);
  }
  void checkPreconditions(const Model& m) const override {
    auto it = m.events.find(uid);
    RC_PRE(it != m.events.end() &&
           (side == Side::kCrm ? it->second.crm : it->second.ext).has_value());
  }
  void apply(Model& m) const override {
    m.clock = std::max(m.clock, content.mod);
    ModelEvent& ev = m.events[uid];
    (side == Side::kCrm ? ev.crm : ev.ext) = content;
    (side == Side::kCrm ? ev.crm_touched : ev.ext_touched) = true;
  }
  void run(const Model&, Sut& s) const override {
    TestSide& cal = side == Side::kCrm ? s.crm() : static_cast<TestSide&>(s.ext);
    auto href = s.HrefOf(cal, uid);
    RC_ASSERT(href.has_value());
    RC_ASSERT(cal.UserEdit(*href, Text(uid, content)).ok());
  }
  void show(std::ostream& os) const override {
    os << "UserEdit(" << SideName(side) << ", " << uid << ", " << content.Key() << ")";
  }
};

struct UserDelete : Cmd {
  Side side;
  std::string uid;
  explicit UserDelete(const Model& m) : side(*rc::gen::element(Side::kCrm, Side::kExternal)) {
    auto uids = PresentOn(m, side);
    RC_PRE(!uids.empty());
    uid = *rc::gen::elementOf(uids);
  }
  void checkPreconditions(const Model& m) const override {
    auto it = m.events.find(uid);
    RC_PRE(it != m.events.end() &&
           (side == Side::kCrm ? it->second.crm : it->second.ext).has_value());
  }
  void apply(Model& m) const override {
    ModelEvent& ev = m.events[uid];
    (side == Side::kCrm ? ev.crm : ev.ext).reset();
    (side == Side::kCrm ? ev.crm_touched : ev.ext_touched) = true;
  }
  void run(const Model&, Sut& s) const override {
    TestSide& cal = side == Side::kCrm ? s.crm() : static_cast<TestSide&>(s.ext);
    auto href = s.HrefOf(cal, uid);
    RC_ASSERT(href.has_value());
    RC_ASSERT(cal.UserDelete(*href).ok());
  }
  void show(std::ostream& os) const override {
    os << "UserDelete(" << SideName(side) << ", " << uid << ")";
  }
};

struct RestoreTrash : Cmd {
  std::string uid;
  explicit RestoreTrash(const Model& m) {
    std::vector<std::string> uids;
    for (const auto& t : m.trash) {
      auto it = m.events.find(t.uid);
      if (!t.restored && it != m.events.end() && !it->second.crm && !it->second.ext)
        uids.push_back(t.uid);
    }
    RC_PRE(!uids.empty());
    uid = *rc::gen::elementOf(uids);
  }
  void checkPreconditions(const Model& m) const override {
    bool ok = false;
    for (const auto& t : m.trash) {
      auto it = m.events.find(t.uid);
      ok = ok || (t.uid == uid && !t.restored && it != m.events.end() && !it->second.crm &&
                  !it->second.ext);
    }
    RC_PRE(ok);
  }
  void apply(Model& m) const override {
    for (auto& t : m.trash) {
      if (t.uid == uid && !t.restored) {
        t.restored = true;
        m.events[uid].crm = t.content;
        m.events[uid].crm_touched = true;
      }
    }
  }
  void run(const Model&, Sut& s) const override {
    auto entries = s.state.ListTrash("user-1", false);
    RC_ASSERT(entries.ok());
    const store::TrashEntry* newest = nullptr;
    for (const auto& t : *entries) {
      if (t.uid == uid && newest == nullptr) newest = &t;
    }
    RC_ASSERT(newest != nullptr);
    s.crm().Restore(uid, newest->ical);
    for (const auto& t : *entries) {
      if (t.uid == uid) RC_ASSERT(s.state.MarkRestored(t.id, s.clock.Now()).ok());
    }
  }
  void show(std::ostream& os) const override { os << "RestoreTrash(" << uid << ")"; }
};

// Runs the engine until a run has nothing left to do; asserts convergence.
void SyncUntilQuiet(Sut& s) {
  for (int i = 0; i < 6; ++i) {
    auto report = s.Run(RunOptions{});
    RC_ASSERT(report.ok());
    if (report->refusal) {
      // The mass-deletion guard stops only runs that would delete most of the pair
      // (or an empty or foreign listing); nothing was applied. The model's user
      // meant those deletions: they confirm, as the message asks, with force.
      RC_ASSERT(report->applied.empty());
      RC_ASSERT(report->refusal->find("refusing") != std::string::npos ||
                report->refusal->find("nothing was changed") != std::string::npos);
      report = s.Run(RunOptions{.force = true});
      RC_ASSERT(report.ok());
      RC_ASSERT(!report->refusal);
    }
    RC_ASSERT(report->errors.empty());
    bool quiet = report->deferred == 0;
    for (const auto& [action, n] : report->applied) quiet = quiet && action == "record";
    if (quiet) return;
  }
  RC_FAIL("sync did not converge within 6 runs");
}

int64_t Tracked(const Model& m) {
  int64_t n = 0;
  for (const auto& [uid, ev] : m.events) n += ev.tracked ? 1 : 0;
  return n;
}

void CheckAgainstModel(const Model& m, Sut& s) {
  RC_ASSERT(s.violation.empty());
  // The pair's status rows are the model's tracked events (the guard weighs
  // deletions against them).
  auto paired = s.state.CountStatus(s.pair_id);
  RC_ASSERT(paired.ok());
  if (*paired != Tracked(m)) {
    std::string rows, tracked;
    if (auto all = s.state.ListStatus(s.pair_id); all.ok())
      for (const auto& r : *all) rows += r.uid + " ";
    for (const auto& [uid, ev] : m.events)
      if (ev.tracked) tracked += uid + " ";
    RC_FAIL(fmt::format("status rows {}(model tracks {})", rows, tracked));
  }
  for (TestSide* cal : {&s.crm(), static_cast<TestSide*>(&s.ext)}) {
    const bool is_crm = cal == &s.crm();
    std::map<std::string, int> per_uid;
    for (const auto& [href, item] : cal->Snapshot()) {
      ++per_uid[item.uid];
      auto it = m.events.find(item.uid);
      RC_ASSERT(it != m.events.end());
      const std::optional<Content>& want = is_crm ? it->second.crm : it->second.ext;
      if (!want) {
        RC_FAIL(fmt::format("{} holds {} which the model says is absent",
                            is_crm ? "CRM" : "external", item.uid));
      }
      auto decoded = Decode(item.ical);
      RC_ASSERT(decoded.ok());
      const Content& got = *decoded;
      if (got.Key() != want->Key()) {
        RC_FAIL(fmt::format("{} {}: has {}, model wants {}", is_crm ? "CRM" : "external", item.uid,
                            got.Key(), want->Key()));
      }
    }
    for (const auto& [uid, n] : per_uid) RC_ASSERT(n == 1);
    for (const auto& [uid, ev] : m.events) {
      if (is_crm ? ev.crm.has_value() : ev.ext.has_value()) {
        if (!per_uid.contains(uid))
          RC_FAIL(fmt::format("{} lacks {}", is_crm ? "CRM" : "external", uid));
      }
    }
  }
  auto log = s.state.ListLog(s.pair_id, 1'000'000);
  RC_ASSERT(log.ok());
  for (const auto& [uid, key] : m.losers) {
    bool found = false;
    for (const auto& e : *log) {
      if (e.uid != uid || e.action != "conflict-loser") continue;
      auto c = Decode(e.before);
      found = found || (c.ok() && c->Key() == key);
    }
    if (!found) RC_FAIL(fmt::format("conflict loser {} of {} is not in the sync log", key, uid));
  }
  auto trash = s.state.ListTrash("user-1", true);
  RC_ASSERT(trash.ok());
  for (const auto& t : m.trash) {
    bool found = false;
    for (const auto& e : *trash) {
      auto c = Decode(e.ical);
      if (e.uid != t.uid || !c.ok()) continue;
      found = found || c->Key() == t.content.Key();
    }
    if (!found) RC_FAIL(fmt::format("trashed {} is not in the trash", t.uid));
  }
}

// The first run of a sync: the guard stops it exactly when the model's sync
// would trash, or delete, most of the paired items; a stopped run writes nothing.
void FirstRunGuarded(const Deletions& d, Sut& s) {
  auto paired = s.state.CountStatus(s.pair_id);
  RC_ASSERT(paired.ok());
  const int64_t crm_writes = s.crm().mutation_count(), ext_writes = s.ext.mutation_count();
  auto report = s.Run(RunOptions{});
  RC_ASSERT(report.ok());
  if (GuardMustStop(d, *paired)) {
    if (!report->refusal)
      RC_FAIL(fmt::format("a silent mass deletion: {} trashed and {} deleted of {} paired items",
                          d.trash, d.deletes, *paired));
    RC_ASSERT(s.crm().mutation_count() == crm_writes);
    RC_ASSERT(s.ext.mutation_count() == ext_writes);
    ++s.guard_stops;
  } else if (report->refusal) {
    RC_FAIL(fmt::format("stopped a run of {} trashed and {} deleted of {} paired items: {}",
                        d.trash, d.deletes, *paired, *report->refusal));
  }
}

struct Sync : Cmd {
  void apply(Model& m) const override { ModelSync(m); }
  void run(const Model& m, Sut& s) const override {
    Model next = m;
    FirstRunGuarded(ModelSync(next), s);
    SyncUntilQuiet(s);  // a stopped run is confirmed with --force, as the user would
    CheckAgainstModel(next, s);
  }
  void show(std::ostream& os) const override { os << "Sync"; }
};

// One run and no more (a scheduled run; nothing re-runs to check it converged),
// again only for what it deferred: it must do all the model's sync does. The next run then starts from the
// cursor taken before this run's own writes.
struct SingleRun : Cmd {
  explicit SingleRun(const Model& m) {
    Model next = m;
    RC_PRE(!GuardMustStop(ModelSync(next), Tracked(m)));
  }
  void checkPreconditions(const Model& m) const override {
    Model next = m;
    RC_PRE(!GuardMustStop(ModelSync(next), Tracked(m)));
  }
  void apply(Model& m) const override { ModelSync(m); }
  void run(const Model& m, Sut& s) const override {
    // A run that deferred an item (a UID met on both sides, re-planned with both
    // versions) leaves work pending: the scheduler runs again for it.
    for (int i = 0;; ++i) {
      auto report = s.Run(RunOptions{});
      RC_ASSERT(report.ok());
      RC_ASSERT(!report->refusal);
      RC_ASSERT(report->errors.empty());
      if (report->deferred == 0) break;
      RC_ASSERT(i < 3);
    }
    Model next = m;
    apply(next);
    CheckAgainstModel(next, s);
  }
  void show(std::ostream& os) const override { os << "SingleRun"; }
};

// The user empties one calendar (every event deleted by hand, or a wrong
// account's empty calendar): the next run must stop before trashing or deleting
// the paired items, and go on only when confirmed.
struct EmptySide : Cmd {
  Side side;
  explicit EmptySide(const Model& m) : side(*rc::gen::element(Side::kCrm, Side::kExternal)) {
    RC_PRE(!PresentOn(m, side).empty());
  }
  void apply(Model& m) const override {
    for (auto& [uid, ev] : m.events) {
      auto& c = side == Side::kCrm ? ev.crm : ev.ext;
      if (!c) continue;
      c.reset();
      (side == Side::kCrm ? ev.crm_touched : ev.ext_touched) = true;
    }
  }
  void run(const Model&, Sut& s) const override {
    TestSide& cal = side == Side::kCrm ? s.crm() : static_cast<TestSide&>(s.ext);
    for (const auto& [href, item] : cal.Snapshot()) RC_ASSERT(cal.UserDelete(href).ok());
  }
  void show(std::ostream& os) const override { os << "EmptySide(" << SideName(side) << ")"; }
};

// The external calendar deleted and created anew at the same address (a server
// that keeps no identity marker: same identity), holding 0-3 new events whose
// UIDs and titles the CRM does not know. With 3 or more paired items (or none
// listed at all) the run must stop, trashing nothing: the user re-initializes,
// which sends the CRM's events to the new calendar and takes its events in.
// With fewer paired items it is an ordinary run (their absence reads as
// deletions below the guard's threshold).
struct ReplaceCalendar : Cmd {
  std::vector<std::pair<std::string, Content>> fresh;
  explicit ReplaceCalendar(const Model& m) {
    const int n = *rc::gen::inRange(0, 4);
    for (int i = 0; i < n; ++i) {
      Content c = GenContent(m);
      // A title of its own: the initialization (S13) pairs same-title, same-time
      // events, which this model leaves out.
      const std::string uid = fmt::format("uid-{}", m.next_uid + i);
      c.title = *rc::gen::elementOf(std::vector<std::string>{"Offsite", "Kickoff"}) + " " + uid;
      fresh.emplace_back(uid, c);
    }
  }
  void checkPreconditions(const Model& m) const override {
    for (const auto& [uid, c] : fresh) RC_PRE(!m.events.contains(uid));
  }
  static bool Stops(const Model& m, size_t listed) {
    const int64_t paired = Tracked(m);
    return (listed == 0 && paired > 0) || (listed > 0 && paired >= 3);
  }
  void apply(Model& m) const override {
    const bool stops = Stops(m, fresh.size());
    m.next_uid += static_cast<int>(fresh.size());
    for (auto& [uid, ev] : m.events) {
      if (!ev.ext) continue;
      ev.ext.reset();
      if (ev.tracked) ev.ext_touched = true;  // a paired item missing from a full listing
    }
    for (const auto& [uid, c] : fresh) {
      m.clock = std::max(m.clock, c.mod);
      m.events[uid].ext = c;
      m.events[uid].ext_touched = true;
    }
    if (stops) {
      ModelInit(m);
    } else {
      ModelSync(m);
    }
  }
  void run(const Model& m, Sut& s) const override {
    std::vector<std::pair<std::string, std::string>> items;
    for (const auto& [uid, c] : fresh) items.emplace_back(uid, Text(uid, c));
    s.ext.UserReplace(items);
    ++s.replacements;
    const int64_t crm_writes = s.crm().mutation_count();
    auto trash_before = s.state.ListTrash("user-1", true);
    RC_ASSERT(trash_before.ok());
    auto report = s.Run(RunOptions{});
    RC_ASSERT(report.ok());
    if (Stops(m, fresh.size())) {
      if (!report->refusal)
        RC_FAIL(fmt::format("a replaced calendar was synced as deletions: {}", report->Summary()));
      RC_ASSERT(s.crm().mutation_count() == crm_writes);
      auto trash_after = s.state.ListTrash("user-1", true);
      RC_ASSERT(trash_after.ok() && trash_after->size() == trash_before->size());
      // The message names the command that helps.
      RC_ASSERT(report->refusal->find("tandem sync pair init") != std::string::npos);
      auto init = s.Run(RunOptions{.initialize = true});
      RC_ASSERT(init.ok());
      RC_ASSERT(!init->refusal);
    } else if (report->refusal) {
      RC_FAIL("stopped an ordinary run after a replacement: " + *report->refusal);
    }
    SyncUntilQuiet(s);
    Model next = m;
    apply(next);
    CheckAgainstModel(next, s);
  }
  void show(std::ostream& os) const override {
    os << "ReplaceCalendar(";
    for (const auto& [uid, c] : fresh) os << uid << " " << c.Key() << "; ";
    os << ")";
  }
};

// The calendar server goes away at the run's n-th write to it and stays away
// for the rest of the run: the run stops after a few unanswered requests (not
// one per pending item), keeps what it did, and the next runs, with the server
// back, finish the work.
struct OutageSync : Cmd {
  int gone_at;
  OutageSync() : gone_at(*rc::gen::inRange(1, 8)) {}
  void apply(Model& m) const override { ModelSync(m); }
  void run(const Model& m, Sut& s) const override {
    s.gone_at = gone_at;
    s.ext_writes = 0;
    const int64_t refused_before = s.ext.refused_calls();
    auto report = s.Run(RunOptions{});
    s.gone_at = 0;
    s.ext.SetUnavailable(false);
    // A run that met the outage says so, or ended with the server's error; it
    // never went on asking a server that does not answer.
    RC_ASSERT(report.ok() || report.status().Is(Code::kUnavailable));
    RC_ASSERT(s.ext.refused_calls() - refused_before <= 5);
    if (report.ok() && s.ext.refused_calls() > refused_before) {
      RC_ASSERT(report->unreachable.has_value() || !report->errors.empty());
    }
    SyncUntilQuiet(s);
    Model next = m;
    apply(next);
    CheckAgainstModel(next, s);
  }
  void show(std::ostream& os) const override { os << "OutageSync(write " << gone_at << ")"; }
};

struct CrashingSync : Cmd {
  int crash_at;
  bool after_request;
  CrashingSync() : crash_at(*rc::gen::inRange(1, 40)), after_request(*rc::gen::arbitrary<bool>()) {}
  void apply(Model& m) const override { ModelSync(m); }
  void run(const Model& m, Sut& s) const override {
    s.steps = 0;
    s.crash_at = crash_at;
    s.crash_after_request = after_request;
    try {
      auto report = s.Run(RunOptions{});
      RC_ASSERT(report.ok());
    } catch (const InjectedCrash&) {
      // the process "died" here; the next run must heal whatever was half done
    }
    s.crash_at = 0;
    SyncUntilQuiet(s);
    Model next = m;
    apply(next);
    CheckAgainstModel(next, s);
  }
  void show(std::ostream& os) const override {
    os << "CrashingSync(step " << crash_at << (after_request ? ", after the request" : ", before")
       << ")";
  }
};

// With "later modification wins", a user edit that lands between the engine's
// read and its write must not be overwritten: the write fails its precondition,
// the item is re-planned, and the edit (the newest) wins. The model treats it as
// an edit made just before the sync.
struct ConcurrentEditSync : Cmd {
  Side side;
  std::string uid;
  Content content;
  static Writes PredictedWrites(const Model& m) {
    Model copy = m;
    Writes w;
    ModelSync(copy, &w);
    return w;
  }
  explicit ConcurrentEditSync(const Model& m) {
    RC_PRE(m.policy == store::ConflictPolicy::kLaterWins);
    Writes w = PredictedWrites(m);
    RC_PRE(!w.empty());
    std::tie(side, uid) = *rc::gen::elementOf(w);
    content = GenContent(m);
  }
  void checkPreconditions(const Model& m) const override {
    RC_PRE(m.policy == store::ConflictPolicy::kLaterWins);
    Writes w = PredictedWrites(m);
    RC_PRE(std::find(w.begin(), w.end(), std::pair{side, uid}) != w.end());
  }
  void apply(Model& m) const override {
    m.clock = std::max(m.clock, content.mod);
    ModelEvent& ev = m.events[uid];
    (side == Side::kCrm ? ev.crm : ev.ext) = content;
    (side == Side::kCrm ? ev.crm_touched : ev.ext_touched) = true;
    ModelSync(m);
  }
  void run(const Model& m, Sut& s) const override {
    s.concurrent_side = side;
    s.concurrent_uid = uid;
    s.concurrent_text = Text(uid, content);
    s.concurrent_fired = false;
    SyncUntilQuiet(s);
    s.concurrent_side.reset();
    RC_ASSERT(s.concurrent_fired);
    Model next = m;
    apply(next);
    CheckAgainstModel(next, s);
  }
  void show(std::ostream& os) const override {
    os << "ConcurrentEditSync(" << SideName(side) << ", " << uid << ", " << content.Key() << ")";
  }
};

int CasesFromEnv(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::max(1, std::atoi(v)) : fallback;
}

void RunStateMachine(bool ical, int cases) {
  g_ical = ical;
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = cases;
  params.maxSize = 60;
  rc::detail::TestMetadata metadata{"SyncStateMachine", "random edits, syncs and crashes"};
  auto result = rc::detail::checkTestable(
      [] {
        Model m;
        m.skip_private = *rc::gen::arbitrary<bool>();
        m.policy =
            *rc::gen::element(store::ConflictPolicy::kLaterWins, store::ConflictPolicy::kCrmWins,
                              store::ConflictPolicy::kExternalWins);
        Sut sut(m);
        // Half the servers leave a created-then-deleted item out of their next
        // sync report (RFC 6578 allows it; Xandikos does).
        sut.ext.SetOmitsCreatedThenDeleted(*rc::gen::arbitrary<bool>());
        // Some take creations in batches (Google's batch endpoint).
        sut.ext.SetCreateBatchLimit(*rc::gen::element<size_t>(1, 1, 3));
        // Initialize the (empty) pair first: records the calendar identity.
        auto init = sut.Run(RunOptions{.initialize = true});
        RC_ASSERT(init.ok());
        const auto commands = *rc::state::gen::commands(
            m,
            rc::state::gen::execOneOfWithArgs<
                UserCreate, UserCreate, UserCreate, UserEdit, UserEdit, UserEdit, UserDelete,
                RestoreTrash, Sync, Sync, SingleRun, SingleRun, CrashingSync, CrashingSync,
                ConcurrentEditSync, ConcurrentEditSync, EmptySide, ReplaceCalendar, OutageSync>());
        rc::state::runAll(commands, m, sut);
        // A final sync from whatever state the sequence ended in.
        Model last = m;
        rc::state::applyAll(commands, last);
        Sync().run(last, sut);
        RC_CLASSIFY(sut.crashes > 0, "a crash was injected");
        RC_CLASSIFY(sut.outages > 0, "the server went away mid-run");
        RC_CLASSIFY(sut.replacements > 0, "the calendar was replaced");
        RC_CLASSIFY(sut.guard_stops > 0, "the guard stopped a mass deletion");
        RC_CLASSIFY(sut.concurrent_edits > 0, "a concurrent edit met a precondition");
        RC_CLASSIFY(!last.losers.empty(), "a conflict was resolved");
        RC_CLASSIFY(!last.trash.empty(), "an activity went to the trash");
        RC_CLASSIFY(commands.size() >= 20, ">= 20 commands");
      },
      metadata, params);
  g_ical = false;
  std::ostringstream out;
  rc::detail::printResultMessage(result, out);
  if (!result.is<rc::detail::SuccessResult>()) FAIL() << out.str();
  std::cout << out.str() << "\n";
}

// The line codec between two in-memory calendars: fast, so many cases.
TEST(SyncStateMachine, BothSidesAgreeAfterRandomEditsSyncsAndCrashes) {
  RunStateMachine(false, CasesFromEnv("TANDEM_SYNC_RC_CASES", 3000));
}

// What tandemd runs: the iCalendar codec, and the CRM side over SQLite.
TEST(SyncStateMachine, TheSameWithTheIcalendarCodecAndTheCrmSide) {
  RunStateMachine(true, CasesFromEnv("TANDEM_SYNC_RC_ICAL_CASES", 300));
}

}  // namespace
}  // namespace tandem::sync
