// The sync planner: a pure function from (status, changes on each side, options,
// now) to the actions that bring both sides into agreement. No I/O, no clock, no
// randomness: the same input always gives the same plan. The rules are listed in
// docs/SYNC.md; planner_test.cc has one table test per rule.
//
// Thread safety: stateless; safe to call from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "store/sync_state.h"
#include "sync/calendar_side.h"

namespace tandem::sync {

enum class Side { kCrm, kExternal };
std::string_view SideName(Side s);  // "crm", "external"
inline Side Other(Side s) { return s == Side::kCrm ? Side::kExternal : Side::kCrm; }

// An optional value kept on the heap, copied deeply. An Action carries up to three
// observations and a status row, most of them absent; held inline they made
// every Action ~1.5 KB, which dominated a 10,000-event first sync's memory.
template <typename T>
class Boxed {
 public:
  Boxed() = default;
  Boxed(std::nullopt_t) {}  // NOLINT(google-explicit-constructor): as std::optional
  Boxed(T value) : p_(std::make_unique<T>(std::move(value))) {}  // NOLINT
  Boxed(const Boxed& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(const Boxed& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  Boxed& operator=(Boxed&&) noexcept = default;
  Boxed& operator=(T value) {
    p_ = std::make_unique<T>(std::move(value));
    return *this;
  }
  Boxed& operator=(std::nullopt_t) {
    p_.reset();
    return *this;
  }
  explicit operator bool() const { return p_ != nullptr; }
  bool has_value() const { return p_ != nullptr; }
  T& operator*() { return *p_; }
  const T& operator*() const { return *p_; }
  T* operator->() { return p_.get(); }
  const T* operator->() const { return p_.get(); }
  void reset() { p_.reset(); }

 private:
  std::unique_ptr<T> p_;
};

// One item as seen on one side in this run, digested from its iCalendar by the
// engine (src/sync/event_codec.h). The planner only compares these fields.
struct Observation {
  std::string href;
  std::string etag;
  std::string uid;
  std::string crm_id;               // X-TANDEM-CRM-ID stamp, when present
  std::string content_hash;         // ical::ContentHash of the synced fields
  std::optional<Instant> modified;  // LAST-MODIFIED (CRM: the activity's modified time)
  bool in_window = true;            // any occurrence within the sync window (S4)
  bool is_private = false;          // private / confidential (S9)
  bool recurring = false;           // a series (RRULE or RDATE)
  bool cancelled = false;           // STATUS:CANCELLED (docs/SYNC.md)
  std::string title;                // the subject as written (logs, trash)
  // For initialization (S13): start, end and normalized title.
  Instant start{};
  Instant end{};
  std::string title_key;
  std::string ical;  // the item itself, carried to the executor; empty when spilled
  // The codec's mapping of `ical` with the default options (IcalCodec), kept
  // for an item the engine may create in the CRM, so the CRM side does not read
  // the text again (CalendarSide::CreateMapped); null when not kept.
  std::shared_ptr<const model::Activity> parsed;
  // Items of a large listing wait in the run's spill file instead of memory (the
  // engine reads them back when it writes them): offset and size there; -1 = not.
  int64_t spill_offset = -1;
  int64_t spill_size = 0;
};

struct SideChanges {
  // Each on the heap: a creation takes its observation over without a copy (a
  // first sync of a large calendar then holds each observation once).
  std::vector<Boxed<Observation>> changed;
  std::vector<std::string> deleted;  // hrefs
  // Present on this side but unreadable (reported apart): never taken for
  // deleted, whatever the listing; nothing is planned for them.
  std::vector<std::string> unreadable;  // hrefs
  // A complete listing: status rows whose href on this side is not in `changed`
  // are deleted on this side.
  bool complete = false;
};

struct PlanInput {
  // Status rows the changes touch (looked up by href and UID); every row of the
  // pair when a side is complete.
  std::vector<store::ItemStatus> status;
  int64_t status_count = 0;  // rows of the whole pair (for the mass-deletion guard)
  SideChanges crm;
  SideChanges external;
  store::PairOptions options;
  std::string pair_id;        // named in the guard's messages (the command to run)
  Instant now{};
  bool force = false;         // overrides the mass-deletion guard
  bool initializing = false;  // S13: pair existing items by UID, CRM-id stamp, then time+title
};

enum class ActionKind {
  kCreate,   // create `source` on `target` (with `uid`)
  kUpdate,   // overwrite `target`'s item with `source` (precondition: status ETag)
  kDelete,   // delete the item on `target` (precondition: status ETag)
  kTrash,    // CRM activity whose external event was deleted: to the trash (S12)
  kRecord,   // no write: record (or refresh) the status row from both observations
  kUntrack,  // no write: forget the status row (left the window / became filtered)
  kSkip,     // no write: a new item left out on purpose; logged with the reason
};
std::string_view ActionKindName(ActionKind k);

struct Action {
  ActionKind kind = ActionKind::kRecord;
  Side target = Side::kExternal;    // the side written (kCreate, kUpdate, kDelete, kTrash)
  std::string uid;                  // the status key (external UID)
  Boxed<store::ItemStatus> base;    // status before, when the item was paired
  Boxed<Observation> crm;           // current CRM version, when seen this run
  Boxed<Observation> external;      // current external version, when seen this run
  Boxed<Observation> loser;         // the overwritten version of a conflict (to the log)
  std::string reason;

  // The version written to `target` (the other side's observation).
  const Boxed<Observation>& source() const { return target == Side::kCrm ? external : crm; }
};

struct Plan {
  std::vector<Action> actions;
  // Set when the guard stopped the run: nothing is to be applied.
  std::optional<std::string> refusal;
  std::vector<std::string> warnings;  // per-item oddities (duplicate UIDs, ...)
  int deletions() const;
  // How many actions of each kind write to a side ("create" -> 3, ...).
  std::map<std::string, int> WriteCounts() const;
  // One line per action, for dry runs and the run report; past `max_actions`
  // lines, one line counting the rest by kind.
  // `titles` (by UID) names items this run did not read (a deletion's target).
  std::string ToString(size_t max_actions = SIZE_MAX,
                       const std::map<std::string, std::string>* titles = nullptr) const;
};

// S4: the window around `now` the options describe, [now - back, now + ahead).
TimeRange SyncWindow(const store::PairOptions& options, Instant now);

// Lowercase, trimmed, inner whitespace collapsed (S13 title matching).
std::string NormalizeTitle(std::string_view title);

Plan MakePlan(const PlanInput& input);
// The same, taking the input: new items' observations move into their creations
// (a first sync of a large calendar then holds each observation once).
Plan MakePlan(PlanInput&& input);

}  // namespace tandem::sync
