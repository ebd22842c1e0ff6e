// SyncService: the calendar sync facade the REST API, the CLI and the scheduler
// call. It owns nothing but wiring: pairs and state in the SyncStateStore, the CRM
// side over the Store, the external side from a ProviderFactory (vdir, CalDAV,
// ... each implements CalendarSide; the engine never sees HTTP).
//
// Thread safety: safe for concurrent use, except that one pair must not be run
// (Init/RunNow) by two callers at once: the scheduler's lease guarantees it.
// Authorization is the caller's: check that the pair's user_id is the viewer
// (or an admin) before calling.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "store/store.h"
#include "store/sync_state.h"
#include "sync/calendar_side.h"
#include "sync/engine.h"

namespace tandem::sync {

// Opens the external calendar of a pair. Implementations must be thread-safe.
class ProviderFactory {
 public:
  virtual ~ProviderFactory() = default;
  // InvalidArgument for a provider it does not know; the provider's errors else
  // (Unauthenticated for bad credentials, NotFound for a missing calendar, ...).
  virtual Result<std::unique_ptr<CalendarSide>> Open(const store::SyncPair& pair) = 0;
};

// A factory that dispatches on SyncPair::provider to registered functions
// (the composition root registers "vdir", "caldav", ...).
class ProviderRegistry final : public ProviderFactory {
 public:
  using Opener = std::function<Result<std::unique_ptr<CalendarSide>>(const store::SyncPair&)>;
  // REQUIRES: called before the registry is shared between threads.
  void Register(std::string provider, Opener opener) {
    openers_[std::move(provider)] = std::move(opener);
  }
  bool Knows(const std::string& provider) const { return openers_.contains(provider); }
  Result<std::unique_ptr<CalendarSide>> Open(const store::SyncPair& pair) override;

 private:
  std::map<std::string, Opener> openers_;
};

struct SyncServiceOptions {
  store::Store* store = nullptr;           // REQUIRED: the CRM
  store::SyncStateStore* state = nullptr;  // REQUIRED
  ProviderFactory* providers = nullptr;    // REQUIRED
  const Clock* clock = nullptr;            // REQUIRED
  IdGenerator* ids = nullptr;              // REQUIRED (activities created from events)
  // The zone for floating times of users who set none (model::User::time_zone).
  std::string default_zone = "UTC";
};

struct NewSyncPair {
  std::string user_id;
  std::string provider;        // "vdir", "caldav", ...
  std::string calendar;        // folder or URL
  std::string credential_ref;  // into the credential vault; may be empty
  store::PairOptions options;
};

class SyncService {
 public:
  explicit SyncService(SyncServiceOptions options);

  // InvalidArgument for bad options (window, deletion limit) or an unknown
  // provider. The pair is not initialized yet: call Init.
  Result<store::SyncPair> AddPair(const NewSyncPair& pair);
  Result<std::vector<store::SyncPair>> ListPairs(const std::string& user_id);  // "" = all users
  Result<store::SyncPair> GetPair(const std::string& pair_id);
  Status UpdateOptions(const std::string& pair_id, const store::PairOptions& options);
  // Forgets the pair, its status and its log; nothing is deleted on either calendar.
  Status RemovePair(const std::string& pair_id);

  // S13: lists both calendars, pairs existing events (UID, CRM-id stamp, then same
  // start, end and title), creates only what is missing, records the calendar
  // identity (S14). Also the way to re-initialize after an identity change.
  // The report's plan says what was paired and why.
  Result<RunReport> Init(const std::string& pair_id, bool dry_run = false);

  // S15: one sync run now. PreconditionFailed when the pair is not initialized or
  // the calendar's identity changed (the message says how to re-initialize).
  // `force` overrides the mass-deletion guard.
  Result<RunReport> RunNow(const std::string& pair_id, bool dry_run = false, bool force = false);

  // S11: newest first.
  Result<std::vector<store::SyncLogEntry>> SyncLog(const std::string& pair_id, int limit = 100);
  Result<std::vector<store::SyncRun>> Runs(const std::string& pair_id, int limit = 20);

  // S12: the user's trash, newest first.
  Result<std::vector<store::TrashEntry>> Trash(const std::string& user_id,
                                               bool include_restored = false);
  // Re-creates the activity in the CRM (the next run creates the event on the
  // external calendar again) and returns the new activity id. NotFound when the
  // entry is not the user's; AlreadyExists when it was restored already or an
  // activity with its UID exists.
  Result<std::string> RestoreTrash(const std::string& user_id, int64_t trash_id);

 private:
  Result<RunReport> Execute(const std::string& pair_id, const RunOptions& run);
  std::string ZoneOf(const std::string& user_id) const;

  SyncServiceOptions o_;
};

// Validates pair options: InvalidArgument naming the field.
Status ValidatePairOptions(const store::PairOptions& options);

}  // namespace tandem::sync
