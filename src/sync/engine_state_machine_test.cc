// RapidCheck state-machine test of the sync engine (planner + executor) against a
// small reference model of the rules in docs/SYNC.md.
//
// Two in-memory calendars (the CRM side and the external side) receive random
// creations, edits (title, moves into and out of the window, private toggles)
// and deletions by "the user" on both sides, trash restores, syncs, and syncs
// that crash at a chosen executor step (before or after a request reached the
// side, or before a state write) followed by a normal sync, and syncs during
// which the user edits an item the engine is about to update or delete (its
// precondition fails; with "later wins" the user's newer edit must survive). After every sync:
//   - both calendars hold exactly what the model says (so both sides agree,
//     nothing is duplicated and no edit is lost),
//   - every conflict loser of the model is in the sync log,
//   - every activity the model trashed is in the trash with its content,
//   - the engine never wrote or deleted an item outside the window or filtered as
//     private,
//   - the sync converged (a further run has nothing to do).
//
// Cases: 3000 by default; TANDEM_SYNC_RC_CASES=N for a longer run.
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

// One complete sync, rule by rule (docs/SYNC.md), written independently of the planner.
void ModelSync(Model& m, Writes* w = nullptr) {
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
}

// ------------------------------------------------------- the system under test

std::string Text(const std::string& uid, const Content& c) {
  LineEvent e;
  e.uid = uid;
  e.title = c.title;
  e.start = ToUnixSeconds(kNow) + int64_t{c.day} * 86400;
  e.end = e.start + 3600;
  e.is_private = c.priv;
  e.modified_us = c.mod;
  return WriteLineEvent(e);
}

struct Sut {
  FakeClock clock{kNow};
  MemorySyncStateStore state{clock};
  MemoryCalendar crm{"crm", "act-"};
  MemoryCalendar ext{"calendar-1", "ev-"};
  LineCodec codec;
  SyncEngine engine{EngineDeps{&state, &codec, &clock}};
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

  explicit Sut(const Model& m) : skip_private(m.skip_private) {
    store::SyncPair p;
    p.user_id = "user-1";
    p.provider = "memory";
    p.options.skip_private = m.skip_private;
    p.options.conflict = m.policy;
    p.options.deletion_limit = 1000;
    pair_id = state.CreatePair(p)->id;
    auto guard = [this](MemoryCalendar& side) {
      return
          [this, &side](std::string_view op, MemoryCalendar::Phase phase, const std::string& key) {
            if (phase == MemoryCalendar::Phase::kBefore && op != "create") {
              auto snap = side.Snapshot();
              auto it = snap.find(key);
              if (it != snap.end()) {
                auto ev = ParseLineEvent(it->second.ical);
                const int day = static_cast<int>((ev->start - ToUnixSeconds(kNow)) / 86400);
                if (!InWindow(day) || (skip_private && ev->is_private)) {
                  violation = fmt::format("engine {} touched filtered item {}", op, key);
                }
              }
            }
            const Side this_side = &side == &crm ? Side::kCrm : Side::kExternal;
            if (phase == MemoryCalendar::Phase::kBefore && op != "create" && !concurrent_fired &&
                concurrent_side == this_side) {
              auto snap = side.Snapshot();
              auto it = snap.find(key);
              if (it != snap.end() && it->second.uid == concurrent_uid) {
                concurrent_fired = true;
                ++concurrent_edits;
                RC_ASSERT(side.UserEdit(key, concurrent_text).ok());
              }
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

  std::optional<std::string> HrefOf(MemoryCalendar& side, const std::string& uid) {
    auto found = side.FindByUid(uid);
    if (!found.ok() || !*found) return std::nullopt;
    return (*found)->href;
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
    (side == Side::kCrm ? s.crm : s.ext).UserPut(uid, Text(uid, content));
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
    MemoryCalendar& cal = side == Side::kCrm ? s.crm : s.ext;
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
    MemoryCalendar& cal = side == Side::kCrm ? s.crm : s.ext;
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
    s.crm.UserPut(uid, newest->ical);  // what SyncService::RestoreTrash does via the CRM side
    for (const auto& t : *entries) {
      if (t.uid == uid) RC_ASSERT(s.state.MarkRestored(t.id, s.clock.Now()).ok());
    }
  }
  void show(std::ostream& os) const override { os << "RestoreTrash(" << uid << ")"; }
};

// Runs the engine until a run has nothing left to do; asserts convergence.
void SyncUntilQuiet(Sut& s) {
  for (int i = 0; i < 6; ++i) {
    auto report = s.engine.Run(s.pair_id, s.crm, s.ext, RunOptions{});
    RC_ASSERT(report.ok());
    if (report->refusal) {
      // The mass-deletion guard stops only runs that would delete most of the pair
      // (or an empty or foreign listing); nothing was applied. The model's user
      // meant those deletions: they confirm, as the message asks, with force.
      RC_ASSERT(report->applied.empty());
      RC_ASSERT(report->refusal->find("refusing") != std::string::npos ||
                report->refusal->find("nothing was changed") != std::string::npos);
      report = s.engine.Run(s.pair_id, s.crm, s.ext, RunOptions{.force = true});
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

void CheckAgainstModel(const Model& m, Sut& s) {
  RC_ASSERT(s.violation.empty());
  for (MemoryCalendar* cal : {&s.crm, &s.ext}) {
    const bool is_crm = cal == &s.crm;
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
      auto ev = ParseLineEvent(item.ical);
      RC_ASSERT(ev.ok());
      Content got{ev->title, static_cast<int>((ev->start - ToUnixSeconds(kNow)) / 86400),
                  ev->is_private, ev->modified_us};
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
      auto ev = ParseLineEvent(e.before);
      if (!ev.ok()) continue;
      Content c{ev->title, static_cast<int>((ev->start - ToUnixSeconds(kNow)) / 86400),
                ev->is_private, 0};
      found = found || c.Key() == key;
    }
    if (!found) RC_FAIL(fmt::format("conflict loser {} of {} is not in the sync log", key, uid));
  }
  auto trash = s.state.ListTrash("user-1", true);
  RC_ASSERT(trash.ok());
  for (const auto& t : m.trash) {
    bool found = false;
    for (const auto& e : *trash) {
      auto ev = ParseLineEvent(e.ical);
      if (e.uid != t.uid || !ev.ok()) continue;
      Content c{ev->title, static_cast<int>((ev->start - ToUnixSeconds(kNow)) / 86400),
                ev->is_private, 0};
      found = found || c.Key() == t.content.Key();
    }
    if (!found) RC_FAIL(fmt::format("trashed {} is not in the trash", t.uid));
  }
}

struct Sync : Cmd {
  void apply(Model& m) const override { ModelSync(m); }
  void run(const Model& m, Sut& s) const override {
    SyncUntilQuiet(s);
    Model next = m;
    apply(next);
    CheckAgainstModel(next, s);
  }
  void show(std::ostream& os) const override { os << "Sync"; }
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
      auto report = s.engine.Run(s.pair_id, s.crm, s.ext, RunOptions{});
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

int CasesFromEnv(int fallback) {
  const char* v = std::getenv("TANDEM_SYNC_RC_CASES");
  return v != nullptr ? std::max(1, std::atoi(v)) : fallback;
}

TEST(SyncStateMachine, BothSidesAgreeAfterRandomEditsSyncsAndCrashes) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = CasesFromEnv(3000);
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
        // Initialize the (empty) pair first: records the calendar identity.
        auto init = sut.engine.Run(sut.pair_id, sut.crm, sut.ext, RunOptions{.initialize = true});
        RC_ASSERT(init.ok());
        const auto commands = *rc::state::gen::commands(
            m,
            rc::state::gen::execOneOfWithArgs<
                UserCreate, UserCreate, UserEdit, UserEdit, UserEdit, UserDelete, RestoreTrash,
                Sync, Sync, CrashingSync, CrashingSync, ConcurrentEditSync, ConcurrentEditSync>());
        rc::state::runAll(commands, m, sut);
        // A final sync from whatever state the sequence ended in.
        Model last = m;
        rc::state::applyAll(commands, last);
        Sync().run(last, sut);
        RC_CLASSIFY(sut.crashes > 0, "a crash was injected");
        RC_CLASSIFY(sut.concurrent_edits > 0, "a concurrent edit met a precondition");
        RC_CLASSIFY(!last.losers.empty(), "a conflict was resolved");
        RC_CLASSIFY(!last.trash.empty(), "an activity went to the trash");
        RC_CLASSIFY(commands.size() >= 20, ">= 20 commands");
      },
      metadata, params);
  std::ostringstream out;
  rc::detail::printResultMessage(result, out);
  if (!result.is<rc::detail::SuccessResult>()) FAIL() << out.str();
  std::cout << out.str() << "\n";
}

}  // namespace
}  // namespace tandem::sync
