#include "model/json_fields.h"
#include "replica/replicator.h"

#include <fmt/format.h>
#include <algorithm>
#include <spdlog/spdlog.h>

#include "model/json.h"
#include "replica/local_records.h"

namespace tandem::replica {

namespace {
bool NoAnswer(const Status& s) {
  return s.Is(Code::kUnavailable) || s.Is(Code::kDeadlineExceeded);
}
}  // namespace

Result<Resolution> ParseResolution(std::string_view s) {
  if (s == "mine") return Resolution::kMine;
  if (s == "theirs") return Resolution::kTheirs;
  if (s == "merged") return Resolution::kMerged;
  return Status::InvalidArgument(fmt::format("resolution: must be mine, theirs or merged, not '{}'", s));
}

Result<std::unique_ptr<Replicator>> Replicator::Open(ReplicatorOptions options) {
  if (!options.local || !options.state || !options.server || !options.link || !options.clock ||
      !options.ids || options.user_id.empty()) {
    return Status::InvalidArgument("replicator: local, state, server, link, clock, ids and user_id are required");
  }
  std::unique_ptr<Replicator> r(new Replicator(std::move(options)));
  TANDEM_RETURN_IF_ERROR(r->Load());
  return r;
}

Status Replicator::Load() {
  ReplicaState& st = *options_.state;
  TANDEM_ASSIGN_OR_RETURN(auto groups, st.GetMeta("data_groups"));
  if (groups) {
    Json j = Json::parse(*groups, nullptr, false);
    auto parsed = model::DataGroupsFromJson(j);
    if (!parsed.ok()) return Status::Corruption("stored data groups: " + parsed.status().message());
    groups_ = *parsed;
  } else {
    groups_ = model::DefaultDataGroups();
    TANDEM_RETURN_IF_ERROR(st.SetMeta("data_groups", ToJson(groups_).dump()));
  }
  TANDEM_ASSIGN_OR_RETURN(auto gen, st.GetMeta("generation"));
  if (!gen) {
    // A new replica: the first fill is a full pull of generation 1.
    TANDEM_RETURN_IF_ERROR(st.SetMeta("generation", "1"));
    TANDEM_RETURN_IF_ERROR(st.SetMeta("full_pull", "1"));
    TANDEM_RETURN_IF_ERROR(st.SetMeta("cursor", ""));
    generation_ = 1;
    full_pull_ = true;
  } else {
    generation_ = std::stoll(*gen);
    TANDEM_ASSIGN_OR_RETURN(auto full, st.GetMeta("full_pull"));
    full_pull_ = full && *full == "1";
  }
  return Status::Ok();
}

template <typename T>
Result<T> Replicator::Observe(Result<T> r) {
  if (!r.ok() && NoAnswer(r.status())) {
    options_.link->OnNoAnswer();
  } else {
    options_.link->OnAnswer();
  }
  return r;
}

model::DataGroups Replicator::data_groups() const {
  std::lock_guard lock(groups_mu_);
  return groups_;
}

bool Replicator::FullPullInProgress() const {
  std::lock_guard lock(groups_mu_);
  return full_pull_;
}

Status Replicator::StartFullResync() {
  std::lock_guard lock(sync_mu_);
  return StartFullResyncLocked();
}

Status Replicator::StartFullResyncLocked() {
  std::lock_guard lock(groups_mu_);
  ReplicaState& st = *options_.state;
  TANDEM_RETURN_IF_ERROR(st.SetMeta("generation", std::to_string(generation_ + 1)));
  TANDEM_RETURN_IF_ERROR(st.SetMeta("full_pull", "1"));
  TANDEM_RETURN_IF_ERROR(st.SetMeta("cursor", ""));
  ++generation_;
  full_pull_ = true;
  progress_ = {};
  return Status::Ok();
}

Status Replicator::SetDataGroups(const model::DataGroups& groups) {
  std::lock_guard lock(sync_mu_);
  TANDEM_RETURN_IF_ERROR(options_.state->SetMeta("data_groups", ToJson(groups).dump()));
  {
    std::lock_guard g(groups_mu_);
    groups_ = groups;
  }
  return StartFullResyncLocked();
}

Result<SyncReport> Replicator::SyncOnce() {
  std::lock_guard lock(sync_mu_);
  Connectivity& link = *options_.link;
  link.Tick();
  if (link.state() == LinkState::kOffline) {
    if (!link.ProbeDue()) return Status::Unavailable("offline; next probe pending");
    TANDEM_RETURN_IF_ERROR(Observe(options_.server->Info()).status());
  }
  SyncReport report;
  bool more = true;
  while (more) {
    TANDEM_RETURN_IF_ERROR(PushBatchLocked(&more, &report).status());
  }
  if (link.state() == LinkState::kDraining) link.OnOutboxDrained();
  more = true;
  while (more) {
    TANDEM_ASSIGN_OR_RETURN(int n, PullPageLocked(&more));
    report.pulled += n;
  }
  return report;
}

Result<int> Replicator::PullPage(bool* more) {
  std::lock_guard lock(sync_mu_);
  return PullPageLocked(more);
}

Result<int> Replicator::PushBatch(bool* more, SyncReport* report) {
  std::lock_guard lock(sync_mu_);
  return PushBatchLocked(more, report);
}

Status Replicator::PlanChange(FeedChange& c,
                              const std::set<std::pair<model::EntityType, std::string>>& outstanding,
                              const std::unordered_map<std::string, int64_t>& known_versions,
                              const model::DataGroups& groups, Instant now,
                              std::vector<store::sqlite::SqliteStore::RecordWrite>* writes,
                              ReplicaState::PageTracking* tracking) {
  if (outstanding.count({c.entity, c.id}) > 0) {
    // A local write waits for the server's verdict; a conflicted record shows
    // the newest server version as "theirs".
    ReplicaState::TheirsUpdate t{c.entity, c.id, Json(nullptr), std::nullopt};
    if (c.op == FeedOp::kUpsert) {
      if (c.record.contains("version") && c.record["version"].is_number_integer()) {
        t.version = c.record["version"].get<int64_t>();
      }
      t.theirs = std::move(c.record);
    }
    tracking->theirs.push_back(std::move(t));
    return Status::Ok();
  }
  auto found = known_versions.find(ReplicaState::TrackingKey(c.entity, c.id));
  std::optional<int64_t> known;
  if (found != known_versions.end()) known = found->second;
  bool keep = c.op == FeedOp::kUpsert && model::InScope(groups, c.entity, c.record,
                                                        options_.user_id, now);
  if (!keep) {
    // Deleted on the server, no longer visible, or out of the data groups (a
    // changed owner included): the local copy goes.
    store::sqlite::SqliteStore::RecordWrite remove;
    remove.entity = c.entity;
    remove.id = c.id;
    writes->push_back(std::move(remove));
    if (known) tracking->untracked.emplace_back(c.entity, c.id);
    return Status::Ok();
  }
  auto record_version = model::IntField(c.record, "version");
  if (!record_version.ok()) return model::Wire(record_version.status(), "change feed: " + c.id);
  int64_t version = *record_version;
  if (!known || *known < version) {
    for (const auto& field : groups.For(c.entity).excluded_fields) c.record.erase(field);
    TANDEM_ASSIGN_OR_RETURN(auto write, ToRecordWrite(c.entity, c.record, known.has_value()));
    writes->push_back(std::move(write));
  }
  tracking->versions.emplace_back(c.entity, c.id, version);
  return Status::Ok();
}

Result<int> Replicator::PullPageLocked(bool* more) {
  *more = false;
  ReplicaState& st = *options_.state;
  TANDEM_ASSIGN_OR_RETURN(auto cursor, st.GetMeta("cursor"));
  model::DataGroups groups = data_groups();
  std::string scope = ToJson(groups).dump();
  auto page = Observe(options_.server->Changes(cursor.value_or(""), options_.page_size, scope));
  if (!page.ok()) {
    if (page.status().Is(Code::kResyncRequired)) {
      spdlog::warn("replica: {}; starting a full resync (unsent changes are kept)",
                   page.status().message());
      TANDEM_RETURN_IF_ERROR(StartFullResyncLocked());
      *more = true;
      return 0;
    }
    return page.status();
  }
  std::lock_guard apply(apply_mu_);
  TANDEM_ASSIGN_OR_RETURN(auto outstanding_list, st.OutstandingRecords());
  std::set<std::pair<model::EntityType, std::string>> outstanding(outstanding_list.begin(),
                                                                 outstanding_list.end());
  std::vector<std::pair<model::EntityType, std::string_view>> keys;
  keys.reserve(page->changes.size());
  for (const FeedChange& c : page->changes) keys.emplace_back(c.entity, c.id);
  TANDEM_ASSIGN_OR_RETURN(auto known_versions, st.ServerVersions(keys));

  ReplicaState::PageTracking tracking;
  tracking.versions.reserve(page->changes.size());
  std::vector<store::sqlite::SqliteStore::RecordWrite> writes;
  writes.reserve(page->changes.size());
  Instant now = options_.clock->Now();
  for (FeedChange& c : page->changes) {
    Status s = PlanChange(c, outstanding, known_versions, groups, now, &writes, &tracking);
    if (!s.ok()) {
      // Nothing of the page is written: it is pulled again next time.
      return s.WithContext(fmt::format("applying {} {}", model::EntityName(c.entity), c.id));
    }
  }
  int64_t generation;
  bool full;
  {
    std::lock_guard g(groups_mu_);
    generation = generation_;
    full = full_pull_;
  }
  const std::string& next = page->next;
  TANDEM_RETURN_IF_ERROR(options_.local->ApplyWrites(
      std::move(writes), [&](store::sqlite::Database& db) {
        return ReplicaState::CommitPageIn(db, tracking, generation, next);
      }));
  *more = page->more;
  if (full) {
    progress_.records += static_cast<int64_t>(page->changes.size());
    progress_.pages += 1;
    if (!page->more) {
      TANDEM_RETURN_IF_ERROR(SweepUnseen());
      TANDEM_RETURN_IF_ERROR(st.SetMeta("full_pull", "0"));
      std::lock_guard g(groups_mu_);
      full_pull_ = false;
      progress_.done = true;
    }
    if (options_.on_progress) options_.on_progress(progress_);
  }
  return static_cast<int>(page->changes.size());
}

Status Replicator::SweepUnseen() {
  ReplicaState& st = *options_.state;
  TANDEM_ASSIGN_OR_RETURN(auto unseen, st.TrackedBefore(generation_));
  for (const auto& [entity, id] : unseen) {
    TANDEM_ASSIGN_OR_RETURN(bool outstanding, st.HasOutstanding(entity, id));
    if (outstanding) continue;
    TANDEM_RETURN_IF_ERROR(DropLocal(*options_.local, entity, id));
    TANDEM_RETURN_IF_ERROR(st.Untrack(entity, id));
  }
  return Status::Ok();
}

Result<int> Replicator::PushBatchLocked(bool* more, SyncReport* report) {
  *more = false;
  ReplicaState& st = *options_.state;
  TANDEM_ASSIGN_OR_RETURN(auto batch, st.NextBatch(options_.push_batch));
  if (batch.empty()) return 0;
  std::vector<OutgoingMutation> outgoing;
  outgoing.reserve(batch.size());
  for (Mutation& m : batch) {
    OutgoingMutation o{std::move(m), std::nullopt};
    if (o.mutation.op != MutationOp::kCreate) {
      TANDEM_ASSIGN_OR_RETURN(o.base_version, st.ServerVersion(o.mutation.entity, o.mutation.record_id));
    }
    outgoing.push_back(std::move(o));
  }
  auto results = Observe(options_.server->Push(outgoing));
  if (!results.ok()) {
    if (!NoAnswer(results.status())) {
      for (const auto& o : outgoing) {
        TANDEM_RETURN_IF_ERROR(st.NoteAttempt(o.mutation.mutation_id, results.status().ToString()));
      }
    }
    return results.status();
  }
  std::lock_guard apply(apply_mu_);
  int64_t generation;
  {
    std::lock_guard g(groups_mu_);
    generation = generation_;
  }
  std::vector<std::pair<const Mutation*, std::optional<int64_t>>> applied;
  for (size_t i = 0; i < outgoing.size(); ++i) {
    const Mutation& m = outgoing[i].mutation;
    const PushResult& r = (*results)[i];
    switch (r.outcome) {
      case PushOutcome::kApplied:
        applied.emplace_back(&m, r.version);
        ++report->pushed;
        break;
      case PushOutcome::kConflict: {
        std::optional<int64_t> theirs_version;
        if (r.current.is_object() && r.current.contains("version")) {
          theirs_version = r.current["version"].get<int64_t>();
        }
        TANDEM_RETURN_IF_ERROR(st.RecordConflictFor(m, r.current, theirs_version));
        ++report->conflicts;
        spdlog::info("replica: conflict on {} {}: {}", model::EntityName(m.entity), m.record_id,
                     r.message);
        break;
      }
      case PushOutcome::kRejected: {
        std::string error = fmt::format("{}: {}", r.error, r.message);
        TANDEM_RETURN_IF_ERROR(st.MarkFailed(m.mutation_id, error));
        ++report->rejected;
        spdlog::warn("replica: {} of {} {} rejected: {}", MutationOpName(m.op),
                     model::EntityName(m.entity), m.record_id, error);
        break;
      }
      case PushOutcome::kRetry:
        TANDEM_RETURN_IF_ERROR(st.NoteAttempt(m.mutation_id, r.error + ": " + r.message));
        break;
    }
  }
  TANDEM_RETURN_IF_ERROR(st.MarkAppliedAll(applied, generation));
  // Go on while the queue holds more and this batch made progress (a batch of
  // only retries waits for the next round).
  bool progressed = std::any_of(results->begin(), results->end(), [](const PushResult& r) {
    return r.outcome != PushOutcome::kRetry;
  });
  TANDEM_ASSIGN_OR_RETURN(int64_t pending, st.PendingCount());
  *more = progressed && pending > 0;
  return static_cast<int>(outgoing.size());
}

Status Replicator::Resolve(model::EntityType e, std::string_view id, Resolution how,
                           const Json& merged) {
  std::lock_guard lock(sync_mu_);
  std::lock_guard apply(apply_mu_);
  ReplicaState& st = *options_.state;
  store::Store& local = *options_.local;
  TANDEM_ASSIGN_OR_RETURN(RecordConflict c, st.GetConflict(e, id));
  int64_t generation;
  {
    std::lock_guard g(groups_mu_);
    generation = generation_;
  }
  model::DataGroups groups = data_groups();
  if (how == Resolution::kTheirs) {
    if (c.theirs.is_null()) {
      TANDEM_RETURN_IF_ERROR(DropLocal(local, e, id));
      TANDEM_RETURN_IF_ERROR(st.DropConflict(e, id));
      return st.Untrack(e, id);
    }
    TANDEM_RETURN_IF_ERROR(PutLocal(local, e, model::WithoutExcluded(groups, e, c.theirs), true));
    TANDEM_RETURN_IF_ERROR(st.DropConflict(e, id));
    return st.SetServerVersion(e, id, c.theirs_version.value_or(0), generation);
  }

  auto mine = GetLocal(local, e, id);
  if (!mine.ok() && !mine.status().Is(Code::kNotFound)) return mine.status();
  Mutation m;
  m.mutation_id = options_.ids->NewId();
  m.entity = e;
  m.record_id = std::string(id);
  if (how == Resolution::kMerged) {
    if (!merged.is_object()) return Status::InvalidArgument("merged: must be an object of fields");
    Json base = mine.ok() ? *mine : (c.theirs.is_null() ? Json::object() : c.theirs);
    Json fields = WritableFields(merged);
    base.merge_patch(fields);
    base["id"] = std::string(id);
    if (!base.contains("version")) base["version"] = 1;
    TANDEM_RETURN_IF_ERROR(PutLocal(local, e, base, mine.ok()));
    mine = base;
  }
  if (!mine.ok()) {
    // Deleted here, changed there: "mine" deletes it there too.
    m.op = MutationOp::kDelete;
  } else if (c.theirs.is_null()) {
    m.op = MutationOp::kCreate;  // deleted there, kept here: bring it back
    m.fields = WritableFields(model::WithoutExcluded(groups, e, *mine));
  } else {
    m.op = MutationOp::kUpdate;
    m.fields = ChangedFields(model::WithoutExcluded(groups, e, c.theirs),
                             model::WithoutExcluded(groups, e, *mine));
  }
  TANDEM_RETURN_IF_ERROR(st.DropConflict(e, id));
  if (c.theirs.is_null()) {
    TANDEM_RETURN_IF_ERROR(st.Untrack(e, id));
    if (m.op == MutationOp::kDelete) return Status::Ok();  // gone on both sides
  } else {
    TANDEM_RETURN_IF_ERROR(st.SetServerVersion(e, id, c.theirs_version.value_or(0), generation));
  }
  return st.Enqueue(m);
}

}  // namespace tandem::replica
