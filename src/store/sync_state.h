// SyncStateStore: the persistent state of calendar sync (DESIGN "sync engine"):
// sync pairs with their options and cursors, one status row per paired item,
// creation intents, items to re-plan, the sync log (S11), the trash (S12), and the
// UIDs the CRM side gives its activities.
//
// The engine (src/sync) is the only writer. The SQLite implementation keeps these
// tables in the CRM database file (src/store/sqlite/sync_state_sqlite.h); an
// in-memory one serves tests (src/sync/memory_sync_state.h).
//
// Thread safety: implementations are safe for concurrent use; one pair is run by
// one engine at a time (the scheduler's lease), so rows of one pair never race.
// Errors: NotFound for an unknown pair or trash entry; InvalidArgument for bad
// options; Unavailable/Internal for database failures.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace tandem::store {

// S3: what wins when an item changed on both sides since the last agreement.
enum class ConflictPolicy { kLaterWins, kCrmWins, kExternalWins };
inline std::string_view ConflictPolicyName(ConflictPolicy p) {
  switch (p) {
    case ConflictPolicy::kCrmWins:
      return "crm-wins";
    case ConflictPolicy::kExternalWins:
      return "external-wins";
    default:
      return "later-wins";
  }
}
inline Result<ConflictPolicy> ParseConflictPolicy(std::string_view s) {
  if (s == "later-wins") return ConflictPolicy::kLaterWins;
  if (s == "crm-wins") return ConflictPolicy::kCrmWins;
  if (s == "external-wins") return ConflictPolicy::kExternalWins;
  return Status::InvalidArgument("conflict policy: expected later-wins, crm-wins or external-wins");
}

// S10: what happens to reminders (VALARM / reminder_minutes).
enum class ReminderHandling {
  kSync,          // synced both ways like any other field
  kCrmOnly,       // kept in the CRM, never written to the external calendar
  kExternalOnly,  // never written into the CRM
};
inline std::string_view ReminderHandlingName(ReminderHandling r) {
  switch (r) {
    case ReminderHandling::kCrmOnly:
      return "crm-only";
    case ReminderHandling::kExternalOnly:
      return "external-only";
    default:
      return "sync";
  }
}
inline Result<ReminderHandling> ParseReminderHandling(std::string_view s) {
  if (s == "sync") return ReminderHandling::kSync;
  if (s == "crm-only") return ReminderHandling::kCrmOnly;
  if (s == "external-only") return ReminderHandling::kExternalOnly;
  return Status::InvalidArgument("reminders: expected sync, crm-only or external-only");
}

// S5: how an external multi-day event becomes a CRM activity.
enum class MultiDayHandling { kKeep, kStartWithEndInTitle };
inline std::string_view MultiDayHandlingName(MultiDayHandling m) {
  return m == MultiDayHandling::kStartWithEndInTitle ? "start-with-end-in-title" : "keep";
}
inline Result<MultiDayHandling> ParseMultiDayHandling(std::string_view s) {
  if (s == "keep") return MultiDayHandling::kKeep;
  if (s == "start-with-end-in-title") return MultiDayHandling::kStartWithEndInTitle;
  return Status::InvalidArgument("multi-day: expected keep or start-with-end-in-title");
}

struct PairOptions {
  int window_days_back = 92;    // S4: about 3 months back
  int window_days_ahead = 366;  // S4: about 1 year ahead
  bool skip_private = false;    // S9
  ReminderHandling reminders = ReminderHandling::kSync;
  MultiDayHandling multi_day = MultiDayHandling::kKeep;
  ConflictPolicy conflict = ConflictPolicy::kLaterWins;
  // Mass-deletion guard: a run that would delete more than this many items (on
  // either side, trash included) stops unless forced.
  int deletion_limit = 100;
};

// One user's CRM calendar paired with one external calendar.
struct SyncPair {
  std::string id;
  std::string user_id;
  std::string provider;        // "vdir", "caldav", ...
  std::string calendar;        // the provider's address of the calendar (folder, URL)
  std::string credential_ref;  // opaque reference into the credential vault (S16); may be empty
  PairOptions options;
  std::string
      identity;  // S14: the calendar's identity recorded at initialization; "" = not initialized
  std::string crm_cursor;  // CRM change-feed position
  std::string external_cursor;
  Instant created{};
  std::optional<Instant> initialized;
  std::optional<Instant> last_run;
};

// One paired item: the state both sides agreed on at the last sync.
struct ItemStatus {
  std::string pair_id;
  std::string uid;       // the UID the external calendar knows the item by
  std::string crm_id;    // CRM activity id (the CRM side's href)
  std::string crm_etag;  // the activity's version as ETag
  std::string crm_hash;  // ical::ContentHash of the CRM version
  std::string external_href;
  std::string external_etag;
  std::string external_hash;
};

// A creation about to be sent (written before the request, removed after the
// status row): a crash in between is healed by FindByUid on the next run.
struct CreationIntent {
  std::string pair_id;
  std::string uid;
  std::string target;  // "crm" or "external"
  std::string source_href;
  Instant at{};
};

// An item to fetch and re-plan on the next run (a failed action, a precondition
// failure, a creation that met an existing item).
struct PendingItem {
  std::string pair_id;
  std::string side;  // "crm" or "external"
  std::string href;
  std::string reason;
};

struct SyncRun {
  int64_t id = 0;
  std::string pair_id;
  Instant started{};
  std::optional<Instant> finished;
  bool dry_run = false;
  std::string outcome;  // "ok", "partial: 2 failed", "refused: ...", "error: ..."
};

// S11: one applied (or failed) action of a run.
struct SyncLogEntry {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string pair_id;
  Instant at{};
  std::string
      action;  // "create", "update", "delete", "trash", "pair", "untrack", "conflict-loser", ...
  std::string target;  // "crm", "external" or "" (status only)
  std::string uid;
  std::string crm_id;
  std::string external_href;
  std::string before;  // iCalendar of the record before (empty when none)
  std::string after;   // iCalendar after (empty when none)
  std::string reason;  // "conflict: external newer", "deleted externally", ...
  std::string error;   // empty when the action succeeded
};

// S12: a CRM activity removed because its external event was deleted.
struct TrashEntry {
  int64_t id = 0;
  std::string pair_id;
  std::string user_id;
  std::string activity_id;
  std::string uid;
  std::string subject;
  Instant start{};
  std::string ical;  // the activity as iCalendar, enough to re-create it
  Instant deleted_at{};
  std::optional<Instant> restored_at;
};

class SyncStateStore {
 public:
  virtual ~SyncStateStore() = default;

  // Group commit (optional): while a batch is open, this thread's writes to the
  // state, and to the CRM store when it shares the state's database, go into one
  // transaction that Commit ends (destruction rolls it back). A write that fails
  // inside it undoes only itself. Other threads' writes wait meanwhile: keep
  // batches to a few hundred writes, and make no network calls inside one.
  class WriteBatch {
   public:
    virtual ~WriteBatch() = default;
    virtual Status Commit() = 0;
  };
  // nullptr when the implementation has no batches (every write commits alone).
  virtual Result<std::unique_ptr<WriteBatch>> BeginBatch() {
    return std::unique_ptr<WriteBatch>();
  }

  // --- pairs. CreatePair assigns id (when empty) and created.
  virtual Result<SyncPair> CreatePair(SyncPair pair) = 0;
  virtual Result<SyncPair> GetPair(std::string_view id) = 0;
  virtual Result<std::vector<SyncPair>> ListPairs(std::string_view user_id) = 0;  // "" = all users
  // Replaces the stored pair (options, identity, cursors, times), not its
  // credential: a run's copy of the pair, written back at its end, must not undo
  // a credential renewed meanwhile (a rotated refresh token). NotFound if unknown.
  virtual Status UpdatePair(const SyncPair& pair) = 0;
  // Replaces the pair's credential_ref alone. NotFound if unknown.
  virtual Status SetCredential(std::string_view pair_id, std::string_view credential_ref) = 0;
  // Removes the pair and all its status rows, intents, pending items and log.
  // Trash entries stay (they hold the user's data).
  virtual Status DeletePair(std::string_view id) = 0;

  // --- status rows, keyed by (pair, uid)
  virtual Result<std::optional<ItemStatus>> StatusByUid(std::string_view pair_id,
                                                        std::string_view uid) = 0;
  virtual Result<std::optional<ItemStatus>> StatusByCrmId(std::string_view pair_id,
                                                          std::string_view crm_id) = 0;
  virtual Result<std::optional<ItemStatus>> StatusByExternalHref(std::string_view pair_id,
                                                                 std::string_view href) = 0;
  virtual Result<std::vector<ItemStatus>> ListStatus(std::string_view pair_id) = 0;
  virtual Result<int64_t> CountStatus(std::string_view pair_id) = 0;
  // Inserts or replaces the row with the same (pair, uid).
  virtual Status PutStatus(const ItemStatus& row) = 0;
  virtual Status DeleteStatus(std::string_view pair_id, std::string_view uid) = 0;
  virtual Status ClearStatus(std::string_view pair_id) = 0;

  // --- creation intents, keyed by (pair, uid)
  virtual Status PutIntent(const CreationIntent& intent) = 0;
  virtual Result<std::optional<CreationIntent>> GetIntent(std::string_view pair_id,
                                                          std::string_view uid) = 0;
  virtual Status DeleteIntent(std::string_view pair_id, std::string_view uid) = 0;

  // --- items to re-plan, keyed by (pair, side, href)
  virtual Status AddPending(const PendingItem& item) = 0;
  virtual Result<std::vector<PendingItem>> ListPending(std::string_view pair_id) = 0;
  virtual Status RemovePending(std::string_view pair_id, std::string_view side,
                               std::string_view href) = 0;
  virtual Status ClearPending(std::string_view pair_id) = 0;

  // --- sync log (S11)
  virtual Result<int64_t> BeginRun(const SyncRun& run) = 0;  // returns the run id
  virtual Status FinishRun(int64_t run_id, Instant finished, std::string_view outcome) = 0;
  virtual Status AppendLog(const SyncLogEntry& entry) = 0;
  // Newest first, at most `limit` entries.
  virtual Result<std::vector<SyncLogEntry>> ListLog(std::string_view pair_id, int limit) = 0;
  virtual Result<std::vector<SyncRun>> ListRuns(std::string_view pair_id, int limit) = 0;

  // --- trash (S12)
  virtual Result<int64_t> PutTrash(const TrashEntry& entry) = 0;  // returns the id
  // Newest first; restored entries are left out unless `include_restored`.
  virtual Result<std::vector<TrashEntry>> ListTrash(std::string_view user_id,
                                                    bool include_restored) = 0;
  virtual Result<TrashEntry> GetTrash(int64_t id) = 0;
  virtual Status MarkRestored(int64_t id, Instant at) = 0;
  // Drops an entry (a trash move whose deletion was then refused by a precondition).
  virtual Status DeleteTrash(int64_t id) = 0;

  // --- the UID the CRM side uses for an activity created from an external event
  // (activities created in the CRM use their id as UID and have no row here).
  virtual Status PutCrmUid(std::string_view user_id, std::string_view uid,
                           std::string_view activity_id) = 0;
  virtual Result<std::optional<std::string>> CrmIdForUid(std::string_view user_id,
                                                         std::string_view uid) = 0;
  virtual Result<std::optional<std::string>> UidForCrmId(std::string_view user_id,
                                                         std::string_view activity_id) = 0;

  // --- the resource name a CalDAV client chose for an activity it created
  // (PUT /dav/calendars/<user>/<collection>/<name>), when the name is not
  // "<UID>.ics": a client expects to find its resource where it put it.
  // Rows outlive their activity harmlessly (a lookup of a gone activity is 404).
  virtual Status PutDavName(std::string_view user_id, std::string_view name,
                            std::string_view activity_id) = 0;
  virtual Result<std::optional<std::string>> ActivityForDavName(std::string_view user_id,
                                                                std::string_view name) = 0;
  virtual Result<std::optional<std::string>> DavNameOf(std::string_view user_id,
                                                       std::string_view activity_id) = 0;
};

}  // namespace tandem::store
