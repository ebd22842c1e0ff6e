#include "sync/sync_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "sync/crm_side.h"
#include "sync/ical_codec.h"

namespace tandem::sync {
namespace {

ical::MapOptions MapOptionsFor(const store::PairOptions& o, std::string zone) {
  ical::MapOptions m;
  m.multi_day = o.multi_day == store::MultiDayHandling::kStartWithEndInTitle
                    ? ical::MultiDayRule::kStartWithEndInTitle
                    : ical::MultiDayRule::kKeep;
  m.default_zone = std::move(zone);
  return m;
}

}  // namespace

Result<std::unique_ptr<CalendarSide>> ProviderRegistry::Open(const store::SyncPair& pair) {
  auto it = openers_.find(pair.provider);
  if (it == openers_.end()) {
    return Status::InvalidArgument(
        fmt::format("provider: unknown calendar provider '{}'", pair.provider));
  }
  return it->second(pair);
}

Status ValidatePairOptions(const store::PairOptions& o) {
  if (o.window_days_back < 0 || o.window_days_back > 3660) {
    return Status::InvalidArgument("window_days_back: must be between 0 and 3660");
  }
  if (o.window_days_ahead < 1 || o.window_days_ahead > 3660) {
    return Status::InvalidArgument("window_days_ahead: must be between 1 and 3660");
  }
  if (o.deletion_limit < 0) return Status::InvalidArgument("deletion_limit: must not be negative");
  return Status::Ok();
}

SyncService::SyncService(SyncServiceOptions options) : o_(options) {}

Result<store::SyncPair> SyncService::AddPair(const NewSyncPair& p) {
  if (p.user_id.empty()) return Status::InvalidArgument("user_id: must not be empty");
  if (p.calendar.empty()) return Status::InvalidArgument("calendar: must not be empty");
  TANDEM_RETURN_IF_ERROR(ValidatePairOptions(p.options));
  store::SyncPair pair;
  pair.user_id = p.user_id;
  pair.provider = p.provider;
  pair.calendar = p.calendar;
  pair.credential_ref = p.credential_ref;
  pair.options = p.options;
  // One pair per user and calendar: two would read it twice per run and each write
  // its own copy of every CRM change.
  TANDEM_ASSIGN_OR_RETURN(std::vector<store::SyncPair> existing, o_.state->ListPairs(p.user_id));
  auto same = [](std::string a, std::string b) {
    while (!a.empty() && a.back() == '/') a.pop_back();
    while (!b.empty() && b.back() == '/') b.pop_back();
    auto lower_origin = [](std::string& u) {
      size_t end = u.find('/', u.find("://") == std::string::npos ? 0 : u.find("://") + 3);
      for (size_t i = 0; i < std::min(end, u.size()); ++i)
        u[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(u[i])));
    };
    lower_origin(a);
    lower_origin(b);
    return a == b;
  };
  for (const store::SyncPair& e : existing) {
    if (e.provider == p.provider && same(e.calendar, p.calendar)) {
      return Status::AlreadyExists(fmt::format(
          "calendar: you already sync this calendar in pair {} ({}); remove that pair first "
          "(tandem sync pair remove {}) to pair it again",
          e.id, e.calendar, e.id));
    }
  }
  // The provider must be known (the calendar itself is checked at Init).
  if (auto* registry = dynamic_cast<ProviderRegistry*>(o_.providers);
      registry && !registry->Knows(p.provider)) {
    return Status::InvalidArgument(
        fmt::format("provider: unknown calendar provider '{}'", p.provider));
  }
  return o_.state->CreatePair(std::move(pair));
}

Result<std::vector<store::SyncPair>> SyncService::ListPairs(const std::string& user_id) {
  return o_.state->ListPairs(user_id);
}

Result<store::SyncPair> SyncService::GetPair(const std::string& pair_id) {
  return o_.state->GetPair(pair_id);
}

Status SyncService::UpdateOptions(const std::string& pair_id, const store::PairOptions& options) {
  TANDEM_RETURN_IF_ERROR(ValidatePairOptions(options));
  TANDEM_ASSIGN_OR_RETURN(store::SyncPair pair, o_.state->GetPair(pair_id));
  pair.options = options;
  return o_.state->UpdatePair(pair);
}

Status SyncService::RemovePair(const std::string& pair_id) { return o_.state->DeletePair(pair_id); }

std::string SyncService::ZoneOf(const std::string& user_id) const {
  // Floating times are read in the user's zone (docs/SYNC.md); a user who set
  // none, or one that is gone, gets the server's.
  Result<model::User> user = o_.store->GetUser(user_id);
  if (user.ok() && !user->time_zone.empty()) return user->time_zone;
  return o_.default_zone.empty() ? std::string("UTC") : o_.default_zone;
}

Result<RunReport> SyncService::Execute(const std::string& pair_id, const RunOptions& run) {
  TANDEM_ASSIGN_OR_RETURN(store::SyncPair pair, o_.state->GetPair(pair_id));
  TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<CalendarSide> external, o_.providers->Open(pair));
  CrmSide crm(CrmSideOptions{.store = o_.store,
                             .state = o_.state,
                             .ids = o_.ids,
                             .user_id = pair.user_id,
                             .map = MapOptionsFor(pair.options, ZoneOf(pair.user_id)),
                             .pair_id = pair.id,
                             .origin = "sync:" + pair.id});
  IcalCodec codec;
  SyncEngine engine(EngineDeps{o_.state, &codec, o_.clock});
  return engine.Run(pair_id, crm, *external, run);
}

Result<RunReport> SyncService::Init(const std::string& pair_id, bool dry_run) {
  return Execute(pair_id, RunOptions{.dry_run = dry_run, .force = false, .initialize = true});
}

Result<RunReport> SyncService::RunNow(const std::string& pair_id, bool dry_run, bool force) {
  return Execute(pair_id, RunOptions{.dry_run = dry_run, .force = force, .initialize = false});
}

Result<std::vector<store::SyncLogEntry>> SyncService::SyncLog(const std::string& pair_id,
                                                              int limit) {
  return o_.state->ListLog(pair_id, std::clamp(limit, 1, 10000));
}

Result<std::vector<store::SyncRun>> SyncService::Runs(const std::string& pair_id, int limit) {
  return o_.state->ListRuns(pair_id, std::clamp(limit, 1, 10000));
}

Result<std::vector<store::TrashEntry>> SyncService::Trash(const std::string& user_id,
                                                          bool include_restored) {
  return o_.state->ListTrash(user_id, include_restored);
}

Result<std::string> SyncService::RestoreTrash(const std::string& user_id, int64_t trash_id) {
  TANDEM_ASSIGN_OR_RETURN(store::TrashEntry entry, o_.state->GetTrash(trash_id));
  if (entry.user_id != user_id)
    return Status::NotFound(fmt::format("trash entry {} does not exist", trash_id));
  if (entry.restored_at) {
    return Status::AlreadyExists(fmt::format("trash entry {} was restored already", trash_id));
  }
  store::PairOptions options;
  if (auto pair = o_.state->GetPair(entry.pair_id); pair.ok()) options = pair->options;
  CrmSide crm(CrmSideOptions{.store = o_.store,
                             .state = o_.state,
                             .ids = o_.ids,
                             .user_id = user_id,
                             .map = MapOptionsFor(options, ZoneOf(user_id))});
  TANDEM_ASSIGN_OR_RETURN(ItemRef ref, crm.Create(entry.uid, entry.ical));
  TANDEM_RETURN_IF_ERROR(o_.state->MarkRestored(trash_id, o_.clock->Now()));
  return ref.href;
}

}  // namespace tandem::sync
