#include "sync/planner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace tandem::sync {
namespace {

using store::ItemStatus;

// Everything known about one item (one status key) in this run.
struct Slot {
  const ItemStatus* status = nullptr;
  // This run's versions: their boxes in the input (a consumed input's creation
  // moves the observation out of its box).
  Boxed<Observation>* crm = nullptr;
  Boxed<Observation>* external = nullptr;
  bool crm_deleted = false;
  bool external_deleted = false;
  std::string pairing_reason;  // initialization: why two new items were paired

  const Observation* Crm() const { return crm != nullptr && *crm ? &**crm : nullptr; }
  const Observation* External() const {
    return external != nullptr && *external ? &**external : nullptr;
  }
};

bool Filtered(const Observation& o, const store::PairOptions& opt) {
  return !o.in_window || (opt.skip_private && o.is_private);
}

std::string FilterReason(const Observation& o, const store::PairOptions& opt, Side side) {
  if (!o.in_window) return fmt::format("left the sync window ({})", SideName(side));
  return fmt::format("became private and private events are not synced ({})", SideName(side));
}

// S3 with the pair's policy; ties are broken in favour of the CRM so that the
// result never depends on the order of input.
std::pair<Side, std::string> ConflictWinner(const Observation& crm, const Observation& ext,
                                            store::ConflictPolicy policy) {
  switch (policy) {
    case store::ConflictPolicy::kCrmWins:
      return {Side::kCrm, "conflict: CRM wins by policy"};
    case store::ConflictPolicy::kExternalWins:
      return {Side::kExternal, "conflict: external wins by policy"};
    case store::ConflictPolicy::kLaterWins:
      break;
  }
  if (crm.modified && ext.modified && *crm.modified != *ext.modified) {
    return *crm.modified > *ext.modified
               ? std::pair{Side::kCrm, std::string("conflict: CRM newer")}
               : std::pair{Side::kExternal, std::string("conflict: external newer")};
  }
  if (crm.modified && !ext.modified)
    return {Side::kCrm, "conflict: only the CRM version has a modification time"};
  if (!crm.modified && ext.modified) {
    return {Side::kExternal, "conflict: only the external version has a modification time"};
  }
  return {Side::kCrm, "conflict: same modification time, CRM wins the tie"};
}

class Planner {
 public:
  // `consume`: the caller gave up the input (MakePlan(PlanInput&&)); observations
  // of new items are moved into their creations instead of copied.
  Planner(const PlanInput& in, bool consume) : in_(in), consume_(consume) {}

  Plan Run() {
    IndexStatus();
    Collect(Side::kCrm, in_.crm);
    Collect(Side::kExternal, in_.external);
    if (in_.initializing) PairNewItems();
    plan_.actions.reserve(slots_.size());  // one action per item, as a rule
    for (auto& [key, slot] : slots_) Decide(key, slot);
    Guard();
    return std::move(plan_);
  }

 private:
  void IndexStatus() {
    // With incremental changes only the rows they touch matter: a scan with a
    // small key set is much cheaper than indexing every row of a large pair.
    const bool complete = in_.crm.complete || in_.external.complete;
    std::unordered_set<std::string_view> crm_keys, ext_keys, uids;
    if (!complete) {
      for (const Boxed<Observation>& o : in_.crm.changed) crm_keys.insert(o->href), uids.insert(o->uid);
      for (const std::string& h : in_.crm.deleted) crm_keys.insert(h);
      for (const Boxed<Observation>& o : in_.external.changed) {
        ext_keys.insert(o->href), uids.insert(o->uid);
      }
      for (const std::string& h : in_.external.deleted) ext_keys.insert(h);
    }
    const size_t n = complete ? in_.status.size() : crm_keys.size() + ext_keys.size();
    by_uid_.reserve(n);
    by_crm_.reserve(n);
    by_ext_.reserve(n);
    for (const ItemStatus& row : in_.status) {
      if (!complete && !crm_keys.contains(row.crm_id) && !ext_keys.contains(row.external_href) &&
          !uids.contains(row.uid)) {
        continue;
      }
      by_uid_.emplace(row.uid, &row);
      if (!row.crm_id.empty()) by_crm_.emplace(row.crm_id, &row);
      if (!row.external_href.empty()) by_ext_.emplace(row.external_href, &row);
    }
  }

  const ItemStatus* Find(const std::unordered_map<std::string_view, const ItemStatus*>& index,
                         std::string_view key) const {
    auto it = index.find(key);
    return it == index.end() ? nullptr : it->second;
  }

  void Collect(Side side, const SideChanges& changes) {
    const auto& by_href = side == Side::kCrm ? by_crm_ : by_ext_;
    std::unordered_set<std::string_view> seen;
    seen.reserve(changes.changed.size());
    for (const Boxed<Observation>& box : changes.changed) {
      if (!box) continue;
      const Observation& obs = *box;
      const ItemStatus* row = Find(by_href, obs.href);
      if (row == nullptr && !obs.uid.empty()) row = Find(by_uid_, obs.uid);
      std::string key = row != nullptr ? row->uid : obs.uid;
      if (key.empty()) {
        plan_.warnings.push_back(
            fmt::format("{} item {} has no UID; skipped", SideName(side), obs.href));
        continue;
      }
      Slot& slot = slots_[key];
      Boxed<Observation>*& place = side == Side::kCrm ? slot.crm : slot.external;
      if (place != nullptr) {
        plan_.warnings.push_back(fmt::format("{} items {} and {} carry the same UID {}; {} skipped",
                                             SideName(side), (*place)->href, obs.href, key, obs.href));
        continue;
      }
      // The input is the caller's; only a consumed one is ever moved from.
      place = const_cast<Boxed<Observation>*>(&box);
      slot.status = row;
      seen.insert(obs.href);
    }
    for (const std::string& href : changes.deleted) {
      const ItemStatus* row = Find(by_href, href);
      if (row == nullptr || seen.contains(href)) continue;
      MarkDeleted(side, *row);
    }
    for (const std::string& href : changes.unreadable) seen.insert(href);
    if (changes.complete) {
      for (const ItemStatus& row : in_.status) {
        const std::string& href = side == Side::kCrm ? row.crm_id : row.external_href;
        if (!seen.contains(href)) MarkDeleted(side, row);
      }
    }
  }

  void MarkDeleted(Side side, const ItemStatus& row) {
    Slot& slot = slots_[row.uid];
    slot.status = &row;
    const Boxed<Observation>* present = side == Side::kCrm ? slot.crm : slot.external;
    if (present != nullptr) return;  // seen under another href: changed, not deleted
    (side == Side::kCrm ? slot.crm_deleted : slot.external_deleted) = true;
  }

  // S13: new CRM items and new external items that are the same event are paired
  // before anything is created: by UID (same slot already), then by the CRM-id
  // stamp, then by same start, end and normalized title.
  void PairNewItems() {
    std::map<std::string, std::string> crm_only_by_href;  // CRM href -> slot key
    std::multimap<std::tuple<Instant, Instant, std::string>, std::string> crm_only_by_time;
    for (auto& [key, slot] : slots_) {
      if (slot.status != nullptr) continue;
      if (slot.crm != nullptr && slot.external != nullptr) {
        slot.pairing_reason = "initialization: paired by UID";
      } else if (slot.crm != nullptr) {
        const Observation& crm = *slot.Crm();
        crm_only_by_href.emplace(crm.href, key);
        crm_only_by_time.emplace(std::tuple{crm.start, crm.end, crm.title_key}, key);
      }
    }
    std::vector<std::string> merged;  // CRM-only slots moved into an external slot
    auto take = [&](const std::string& crm_key, Slot& ext_slot, const char* reason) {
      Slot& crm_slot = slots_[crm_key];
      ext_slot.crm = crm_slot.crm;
      ext_slot.pairing_reason = reason;
      crm_slot.crm = nullptr;
      merged.push_back(crm_key);
      const Observation& crm = *ext_slot.Crm();
      crm_only_by_href.erase(crm.href);
      auto range = crm_only_by_time.equal_range(std::tuple{crm.start, crm.end, crm.title_key});
      for (auto it = range.first; it != range.second; ++it) {
        if (it->second == crm_key) {
          crm_only_by_time.erase(it);
          break;
        }
      }
    };
    for (auto& [key, slot] : slots_) {
      if (slot.status != nullptr || slot.crm != nullptr || slot.external == nullptr) continue;
      const Observation& ext = *slot.External();
      if (!ext.crm_id.empty()) {
        if (auto it = crm_only_by_href.find(ext.crm_id); it != crm_only_by_href.end()) {
          take(std::string(it->second), slot, "initialization: paired by X-TANDEM-CRM-ID");
          continue;
        }
      }
      if (ext.title_key.empty()) continue;  // an untitled event is too weak a match
      auto it = crm_only_by_time.find(std::tuple{ext.start, ext.end, ext.title_key});
      if (it != crm_only_by_time.end()) {
        take(std::string(it->second), slot, "initialization: paired by start, end and title");
      }
    }
    for (const std::string& k : merged) {
      auto it = slots_.find(k);
      if (it != slots_.end() && it->second.crm == nullptr && it->second.external == nullptr &&
          it->second.status == nullptr) {
        slots_.erase(it);
      }
    }
  }

  Action Make(ActionKind kind, Side target, const std::string& key, const Slot& slot,
              std::string reason) {
    Action a;
    a.kind = kind;
    a.target = target;
    a.uid = key;
    if (slot.status != nullptr) a.base = *slot.status;
    if (const Observation* c = slot.Crm()) a.crm = *c;
    if (const Observation* e = slot.External()) a.external = *e;
    a.reason = std::move(reason);
    return a;
  }

  // Make for a new item's creation, the slot's last use: with a consumed input the
  // observation (the bulk of a first sync's memory) moves into the action.
  Action MakeCreate(Side target, const std::string& key, const Slot& slot, std::string reason) {
    if (!consume_) return Make(ActionKind::kCreate, target, key, slot, std::move(reason));
    Action a;
    a.kind = ActionKind::kCreate;
    a.target = target;
    a.uid = key;
    // The input is the caller's non-const object (MakePlan(PlanInput&&)): the
    // observation itself moves, not a copy of it.
    if (slot.crm != nullptr) a.crm = std::move(*slot.crm);
    if (slot.external != nullptr) a.external = std::move(*slot.external);
    a.reason = std::move(reason);
    return a;
  }

  void Emit(Action a) { plan_.actions.push_back(std::move(a)); }

  void Decide(const std::string& key, const Slot& slot) {
    const store::PairOptions& opt = in_.options;
    const Observation* c = slot.Crm();
    const Observation* e = slot.External();

    if (slot.status == nullptr) {
      if (c != nullptr && e != nullptr) {
        if (Filtered(*c, opt) || Filtered(*e, opt)) return;  // neither side is tracked
        std::string why =
            slot.pairing_reason.empty() ? "same UID on both sides" : slot.pairing_reason;
        if (c->content_hash == e->content_hash) {
          Emit(Make(ActionKind::kRecord, Side::kExternal, key, slot, why + ", same content"));
          return;
        }
        auto [winner, reason] = ConflictWinner(*c, *e, opt.conflict);
        Action a = Make(ActionKind::kUpdate, Other(winner), key, slot, why + "; " + reason);
        a.loser = winner == Side::kCrm ? *e : *c;
        Emit(std::move(a));
        return;
      }
      if (c != nullptr) {
        if (!Filtered(*c, opt)) {
          Emit(MakeCreate(Side::kExternal, key, slot, "created in the CRM"));
        } else {
          NoteLeftOut(key, slot, *c, Side::kCrm);
        }
        return;
      }
      if (e != nullptr) {
        if (!Filtered(*e, opt)) {
          Emit(MakeCreate(Side::kCrm, key, slot, "created externally"));
        } else {
          NoteLeftOut(key, slot, *e, Side::kExternal);
        }
      }
      return;
    }

    const ItemStatus& s = *slot.status;
    // An item outside the window or filtered as private is forgotten, never
    // written or deleted on either side.
    if (c != nullptr && Filtered(*c, opt)) {
      Emit(Make(ActionKind::kUntrack, Side::kCrm, key, slot, FilterReason(*c, opt, Side::kCrm)));
      return;
    }
    if (e != nullptr && Filtered(*e, opt)) {
      Emit(Make(ActionKind::kUntrack, Side::kExternal, key, slot,
                FilterReason(*e, opt, Side::kExternal)));
      return;
    }
    const bool crm_changed = c != nullptr && c->content_hash != s.crm_hash;
    const bool ext_changed = e != nullptr && e->content_hash != s.external_hash;

    if (slot.crm_deleted && slot.external_deleted) {
      Emit(Make(ActionKind::kUntrack, Side::kCrm, key, slot, "deleted on both sides"));
      return;
    }
    // A cancelled event is never brought back as a live one, nor brought back at
    // all: a deletion on one side wins over a cancellation on the other.
    if (slot.crm_deleted && ext_changed && e->cancelled) {
      Emit(Make(ActionKind::kDelete, Side::kExternal, key, slot,
                "deleted in the CRM and cancelled externally: the deletion wins"));
      return;
    }
    if (slot.external_deleted && crm_changed && c->cancelled) {
      Emit(Make(ActionKind::kTrash, Side::kCrm, key, slot,
                "deleted externally and cancelled in the CRM: the deletion wins"));
      return;
    }
    if (slot.crm_deleted) {
      if (ext_changed) {
        Emit(Make(
            ActionKind::kCreate, Side::kCrm, key, slot,
            "deleted in the CRM but changed externally: the change wins, re-created in the CRM"));
      } else {
        Emit(Make(ActionKind::kDelete, Side::kExternal, key, slot, "deleted in the CRM"));
      }
      return;
    }
    if (slot.external_deleted) {
      if (crm_changed) {
        Emit(Make(
            ActionKind::kCreate, Side::kExternal, key, slot,
            "deleted externally but changed in the CRM: the change wins, re-created externally"));
      } else {
        Emit(Make(ActionKind::kTrash, Side::kCrm, key, slot, "deleted externally"));
      }
      return;
    }
    if (crm_changed && ext_changed) {
      if (c->content_hash == e->content_hash) {
        Emit(Make(ActionKind::kRecord, Side::kExternal, key, slot, "same change on both sides"));
        return;
      }
      auto [winner, reason] = ConflictWinner(*c, *e, opt.conflict);
      Action a = Make(ActionKind::kUpdate, Other(winner), key, slot, reason);
      a.loser = winner == Side::kCrm ? *e : *c;
      Emit(std::move(a));
      return;
    }
    if (crm_changed) {
      Emit(Make(ActionKind::kUpdate, Side::kExternal, key, slot, "changed in the CRM"));
      return;
    }
    if (ext_changed) {
      Emit(Make(ActionKind::kUpdate, Side::kCrm, key, slot, "changed externally"));
      return;
    }
    // Same content: only the ETag or address moved (our own write coming back, a
    // re-serialization). Keep preconditions current.
    const bool moved = (c != nullptr && (c->etag != s.crm_etag || c->href != s.crm_id)) ||
                       (e != nullptr && (e->etag != s.external_etag || e->href != s.external_href));
    if (moved)
      Emit(
          Make(ActionKind::kRecord, Side::kExternal, key, slot, "ETag changed, content unchanged"));
  }

  // A new item the filters keep out. Single events outside the window are the
  // common case and go unlogged; a series with no occurrence inside the window
  // is one a user looks for, so the log says why it is missing.
  void NoteLeftOut(const std::string& key, const Slot& slot, const Observation& o, Side side) {
    if (!o.recurring || o.in_window) return;
    const TimeRange w = SyncWindow(in_.options, in_.now);
    Emit(Make(ActionKind::kSkip, side, key, slot,
              fmt::format("left out: a series with no occurrence inside the sync window "
                          "({} to {}; {}); widen the window to sync it",
                          FormatRfc3339(w.from), FormatRfc3339(w.to), SideName(side))));
  }

  // Below this many paired items the relative guard stays quiet (deleting two of
  // three events is an everyday edit).
  static constexpr int64_t kFewItems = 3;

  void Guard() {
    if (in_.force) return;
    const std::string pair = in_.pair_id.empty() ? "PAIR" : in_.pair_id;
    const std::string force_command = "tandem sync now " + pair + " --force";
    auto empty_side = [&](const SideChanges& ch) {
      return ch.complete && ch.changed.empty() && in_.status_count > 0;
    };
    if (empty_side(in_.external) || empty_side(in_.crm)) {
      const char* which = empty_side(in_.external) ? "the external calendar" : "the CRM calendar";
      plan_.refusal = fmt::format(
          "{} lists no events while {} items are paired; refusing to mirror that as mass "
          "deletion, nothing was changed. If the calendar really was emptied, apply it with "
          "`{}`; if it was replaced by a new calendar, re-initialize the pair with "
          "`tandem sync pair init {}` (nothing is trashed then).",
          which, in_.status_count, force_command, pair);
      return;
    }
    // A complete listing (an expired sync token, a first run after a cursor loss)
    // that holds items but none of the paired ones is another calendar at the same
    // address (deleted and re-created, restored from a backup), not a mass deletion.
    auto holds_none = [&](Side side, const SideChanges& ch) {
      if (!ch.complete || ch.changed.empty() || in_.status_count < kFewItems) return false;
      for (const auto& [key, slot] : slots_) {
        if (slot.status != nullptr && (side == Side::kCrm ? slot.crm : slot.external) != nullptr)
          return false;
      }
      return true;
    };
    for (Side side : {Side::kExternal, Side::kCrm}) {
      if (!holds_none(side, side == Side::kCrm ? in_.crm : in_.external)) continue;
      plan_.refusal = fmt::format(
          "{} lists {} items but none of the {} paired ones: it looks like a different or "
          "re-created calendar, so nothing was changed. If it is the right calendar, "
          "re-initialize the pair with `tandem sync pair init {}` to pair its items afresh; "
          "nothing is trashed then.",
          side == Side::kCrm ? "the CRM calendar" : "the external calendar",
          (side == Side::kCrm ? in_.crm : in_.external).changed.size(), in_.status_count, pair);
      return;
    }
    // Relative rule, per direction and on every run: most of the paired items gone
    // from one side at once is far more often a mistake (an emptied or swapped
    // calendar, a wrong account) than an intent.
    const auto count_kind = [&](ActionKind kind) {
      return static_cast<int64_t>(std::count_if(plan_.actions.begin(), plan_.actions.end(),
                                                 [&](const Action& a) { return a.kind == kind; }));
    };
    for (auto [kind, what] : {std::pair{ActionKind::kTrash, "trash {} of the {} paired CRM activities "
                                                            "(deleted on the external calendar)"},
                              std::pair{ActionKind::kDelete, "delete {} of the {} paired events on "
                                                             "the external calendar (deleted in "
                                                             "the CRM)"}}) {
      const int64_t n = count_kind(kind);
      if (n >= kFewItems && 2 * n > in_.status_count) {
        plan_.refusal = fmt::format(
            fmt::runtime("this run would " + std::string(what) +
                "; refusing, nothing was changed. Check the calendars; if the deletions are "
                "meant, apply them with `{}`."),
            n, in_.status_count, force_command);
        return;
      }
    }
    int deletions = plan_.deletions();
    if (deletions > in_.options.deletion_limit) {
      plan_.refusal = fmt::format(
          "this run would delete {} items (limit {}); refusing, nothing was changed. Check the "
          "calendars; if the deletions are meant, apply them with `{}`.",
          deletions, in_.options.deletion_limit, force_command);
    }
  }

  const PlanInput& in_;
  bool consume_ = false;
  std::unordered_map<std::string_view, const ItemStatus*> by_uid_, by_crm_, by_ext_;
  std::map<std::string, Slot> slots_;
  Plan plan_;
};

}  // namespace

std::string_view SideName(Side s) { return s == Side::kCrm ? "crm" : "external"; }

std::string_view ActionKindName(ActionKind k) {
  switch (k) {
    case ActionKind::kCreate:
      return "create";
    case ActionKind::kUpdate:
      return "update";
    case ActionKind::kDelete:
      return "delete";
    case ActionKind::kTrash:
      return "trash";
    case ActionKind::kRecord:
      return "record";
    case ActionKind::kUntrack:
      return "untrack";
    case ActionKind::kSkip:
      return "skip";
  }
  return "?";
}

int Plan::deletions() const {
  return static_cast<int>(std::count_if(actions.begin(), actions.end(), [](const Action& a) {
    return a.kind == ActionKind::kDelete || a.kind == ActionKind::kTrash;
  }));
}

static bool Writes(ActionKind kind) {
  return kind != ActionKind::kRecord && kind != ActionKind::kUntrack && kind != ActionKind::kSkip;
}

std::map<std::string, int> Plan::WriteCounts() const {
  std::map<std::string, int> out;
  for (const Action& a : actions)
    if (Writes(a.kind)) ++out[std::string(ActionKindName(a.kind))];
  return out;
}

std::string Plan::ToString(size_t max_actions,
                           const std::map<std::string, std::string>* titles) const {
  std::string out;
  if (refusal) out += "REFUSED: " + *refusal + "\n";
  std::map<std::string_view, size_t> rest;
  for (size_t i = 0; i < actions.size(); ++i) {
    const Action& a = actions[i];
    const bool writes = Writes(a.kind);
    if (i >= max_actions) {
      ++rest[ActionKindName(a.kind)];
      continue;
    }
    // The title the user knows the event by, when this run saw it.
    const std::string* title = &a.uid;
    if (a.crm && !a.crm->title.empty()) {
      title = &a.crm->title;
    } else if (a.external && !a.external->title.empty()) {
      title = &a.external->title;
    } else if (titles) {
      auto it = titles->find(a.uid);
      if (it != titles->end() && !it->second.empty()) title = &it->second;
    }
    out += fmt::format("{:<8} {:<9} {}  ({})\n", ActionKindName(a.kind),
                       writes ? SideName(a.target) : "-", *title, a.reason);
  }
  if (!rest.empty()) {
    std::string counts;
    for (const auto& [kind, n] : rest) counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", n, kind);
    out += fmt::format("... and {} more actions ({})\n", actions.size() - max_actions, counts);
  }
  for (const std::string& w : warnings) out += "warning: " + w + "\n";
  return out;
}

TimeRange SyncWindow(const store::PairOptions& options, Instant now) {
  using std::chrono::days;
  return TimeRange{now - days(options.window_days_back), now + days(options.window_days_ahead)};
}

std::string NormalizeTitle(std::string_view title) {
  std::string out;
  bool space = false;
  for (char ch : title) {
    if (std::isspace(static_cast<unsigned char>(ch))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return out;
}

Plan MakePlan(const PlanInput& input) { return Planner(input, false).Run(); }

Plan MakePlan(PlanInput&& input) {
  PlanInput owned = std::move(input);
  return Planner(owned, true).Run();
}

}  // namespace tandem::sync
