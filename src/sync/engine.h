// SyncEngine: one run of one sync pair: identity check (S14), fetch what changed
// on both sides, plan (planner.h, pure), apply with preconditions, log (S11),
// trash (S12), advance the cursors. Initialization (S13) is a run with
// `initialize` set: both sides are listed completely and existing items paired.
//
// Crash safety: a creation writes its intent before the request and is healed by
// FindByUid on the next run; status rows advance only for what was applied; a
// failed or refused item is kept as "pending" and re-fetched and re-planned on
// the next run, so the cursors may advance past it; cursors are written last, so
// a run that dies half-way is repeated from the old cursors (every action is
// idempotent against the status rows it left).
//
// Thread safety: a SyncEngine is stateless apart from its dependencies; one pair
// must not be run by two engines at once (the scheduler's lease ensures it).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "store/sync_state.h"
#include "sync/calendar_side.h"
#include "sync/event_codec.h"
#include "sync/planner.h"

namespace tandem::sync {

struct RunOptions {
  bool dry_run = false;     // plan and report, write nothing
  bool force = false;       // override the mass-deletion guard
  bool initialize = false;  // S13: full listings, pair existing items, record the identity
};

// C8: one item that could not be synced, and why.
struct ItemError {
  std::string action;  // "create", "update", ..., or "read" for an unreadable item
  std::string target;  // "crm" / "external"
  std::string uid;
  std::string crm_id;
  std::string external_href;
  std::string summary;  // the item's title, when known
  std::string error;
};

struct RunReport {
  std::string pair_id;
  int64_t run_id = 0;  // 0 when nothing was applied (dry run, refusal)
  bool dry_run = false;
  bool initialization = false;
  std::optional<std::string> refusal;  // the guard stopped the run
  // The external calendar stopped answering part-way: what was done is kept, the
  // rest is left for the next run (`left`), which goes on from there.
  std::optional<std::string> unreachable;
  int left = 0;
  int crm_changes = 0;                 // items seen changed or deleted on each side
  int external_changes = 0;
  std::map<std::string, int> applied;  // action name -> count applied
  std::map<std::string, int> planned;  // action name -> count planned (a dry run's answer)
  int deferred = 0;                    // re-planned on the next run (precondition failed, ...)
  std::vector<ItemError> errors;
  std::vector<std::string> warnings;
  std::string plan;  // the plan, one line per action
  // Wall seconds of the run's phases (an operator's "where did the time go"):
  // listing and digesting each side, planning, applying, and the whole.
  struct Phases {
    double crm = 0, external = 0, plan = 0, apply = 0, total = 0;
  } seconds;
  // "3 create, 1 update; 1 failed" (one line); "calendar unreachable: ..." first
  // when the run stopped early; "dry run: 1 trash" for what a dry run would do.
  std::string Summary() const;
};

struct EngineDeps {
  store::SyncStateStore* state = nullptr;  // REQUIRED
  const EventCodec* codec = nullptr;       // REQUIRED
  const Clock* clock = nullptr;            // REQUIRED
  // Threads digesting a listing's items while they arrive (0: each on the
  // thread that lists; the plan is the same either way).
  int digest_workers = 2;
};

class SyncEngine {
 public:
  explicit SyncEngine(EngineDeps deps) : d_(deps) {}

  // Errors that stop the whole run before anything is written: NotFound (pair);
  // PreconditionFailed when the pair is not initialized or the external calendar
  // is not the initialized one (the message says how to re-initialize); errors
  // of listing either side. Per-item failures are in the report, not here.
  Result<RunReport> Run(const std::string& pair_id, CalendarSide& crm, CalendarSide& external,
                        const RunOptions& options);

 private:
  EngineDeps d_;
};

}  // namespace tandem::sync
