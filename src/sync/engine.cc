#include "sync/engine.h"

#include "model/entities.h"
#include "sync/digest_pool.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace tandem::sync {
namespace {

// A transaction of sync-state writes opened on demand and committed when asked
// (or dropped, rolled back, with the object). Where the state has no
// transactions it does nothing and every write stands alone.
class LocalWrites {
 public:
  explicit LocalWrites(store::SyncStateStore& state) : state_(state) {}
  void Open() {
    if (batch_ || unsupported_) return;
    auto b = state_.BeginBatch();
    if (!b.ok() || *b == nullptr) {
      if (b.ok()) unsupported_ = true;  // the state has no transactions
      return;  // a failed begin: the writes go one by one
    }
    batch_ = std::move(*b);
  }
  Status Commit() {
    if (!batch_) return Status::Ok();
    Status s = batch_->Commit();
    batch_.reset();
    return s;
  }

 private:
  store::SyncStateStore& state_;
  std::unique_ptr<store::SyncStateStore::WriteBatch> batch_;
  bool unsupported_ = false;
};

using store::ItemStatus;

// The texts of a large listing's items, out of memory until the executor writes
// them: a temporary file the system removes when it is closed.
class SpillFile {
 public:
  SpillFile() = default;
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;
  ~SpillFile() {
    if (file_ != nullptr) std::fclose(file_);
  }

  // Moves the observation's text into the file.
  Status Put(Observation* o) {
    if (file_ == nullptr) {
      file_ = std::tmpfile();
      if (file_ == nullptr) {
        return Status::Unavailable(
            fmt::format("cannot create a temporary file for a large listing: {}", std::strerror(errno)));
      }
    }
    const char* p = o->ical.data();
    size_t left = o->ical.size();
    int64_t at = end_;
    while (left > 0) {
      ssize_t n = ::pwrite(fileno(file_), p, left, at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return Status::Unavailable(
            fmt::format("writing the listing's temporary file: {}", std::strerror(errno)));
      }
      p += n;
      left -= static_cast<size_t>(n);
      at += n;
    }
    o->spill_offset = end_;
    o->spill_size = static_cast<int64_t>(o->ical.size());
    end_ = at;
    std::string().swap(o->ical);
    return Status::Ok();
  }

  Result<std::string> Get(const Observation& o) const {
    std::string text(static_cast<size_t>(o.spill_size), '\0');
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::pread(fileno(file_), text.data() + done, text.size() - done,
                          o.spill_offset + static_cast<int64_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return Status::Internal(
            fmt::format("reading the listing's temporary file: {}", std::strerror(errno)));
      }
      done += static_cast<size_t>(n);
    }
    return text;
  }

 private:
  std::FILE* file_ = nullptr;
  int64_t end_ = 0;
};

class Run {
 public:
  Run(const EngineDeps& d, store::SyncPair pair, CalendarSide& crm, CalendarSide& ext,
      const RunOptions& options)
      : d_(d), pair_(std::move(pair)), crm_(crm), ext_(ext), options_(options) {}

  Result<RunReport> Go() {
    report_.pair_id = pair_.id;
    report_.dry_run = options_.dry_run;
    report_.initialization = options_.initialize;
    const Instant now = d_.clock->Now();
    window_ = SyncWindow(pair_.options, now);

    TANDEM_ASSIGN_OR_RETURN(std::string identity, ext_.Identity());
    if (!options_.initialize) {
      if (pair_.identity.empty()) {
        return Status::PreconditionFailed(fmt::format(
            "sync pair {} is not initialized: run the initialization first (tandem sync pair init {})",
            pair_.id, pair_.id));
      }
      if (identity != pair_.identity) {
        return Status::PreconditionFailed(fmt::format(
            "the external calendar of sync pair {} is not the one it was initialized with "
            "(initialized: {}; now: {}); nothing was synced. If the calendar was replaced on "
            "purpose, re-initialize the pair (tandem sync pair init {}): existing events are paired again, "
            "nothing is duplicated.",
            pair_.id, pair_.identity, identity, pair_.id));
      }
    }

    const std::string crm_cursor = options_.initialize ? "" : pair_.crm_cursor;
    const std::string ext_cursor = options_.initialize ? "" : pair_.external_cursor;
    PlanInput in;
    TANDEM_ASSIGN_OR_RETURN(std::vector<store::PendingItem> pending,
                            d_.state->ListPending(pair_.id));
    std::vector<std::string> crm_pending, ext_pending;
    for (const auto& p : pending) (p.side == "crm" ? crm_pending : ext_pending).push_back(p.href);
    // Both sides are digested item by item as they arrive (a first listing of a
    // large calendar is never held whole).
    const auto started = std::chrono::steady_clock::now();
    auto lap = [mark = started]() mutable {
      auto t = std::chrono::steady_clock::now();
      double s = std::chrono::duration<double>(t - mark).count();
      mark = t;
      return s;
    };
    TANDEM_ASSIGN_OR_RETURN(ChangeSet crm_cs, FetchSide(Side::kCrm, crm_cursor, in.crm));
    report_.seconds.crm = lap();
    TANDEM_ASSIGN_OR_RETURN(ChangeSet ext_cs, FetchSide(Side::kExternal, ext_cursor, in.external));
    TANDEM_RETURN_IF_ERROR(ResolveWindowed(Side::kCrm, crm_cs, in.crm));
    TANDEM_RETURN_IF_ERROR(ResolveWindowed(Side::kExternal, ext_cs, in.external));
    TANDEM_RETURN_IF_ERROR(FetchPendingInto(Side::kCrm, crm_pending, crm_cs, in.crm));
    TANDEM_RETURN_IF_ERROR(FetchPendingInto(Side::kExternal, ext_pending, ext_cs, in.external));
    report_.seconds.external = lap();  // with the re-reads of both sides
    for (auto& w : crm_cs.warnings) report_.warnings.push_back("crm: " + w);
    for (auto& w : ext_cs.warnings) report_.warnings.push_back("external: " + w);

    in.options = pair_.options;
    in.pair_id = pair_.id;
    in.now = now;
    in.force = options_.force;
    in.initializing = options_.initialize;
    in.crm.complete = crm_cs.complete;
    in.crm.deleted = std::move(crm_cs.deleted);
    in.external.complete = ext_cs.complete;
    in.external.deleted = std::move(ext_cs.deleted);
    report_.crm_changes = static_cast<int>(in.crm.changed.size() + in.crm.deleted.size());
    report_.external_changes =
        static_cast<int>(in.external.changed.size() + in.external.deleted.size());
    if (!options_.initialize) {
      TANDEM_RETURN_IF_ERROR(LoadStatus(in));
      // The mass-deletion guard weighs every run's deletions against the pair's size.
      TANDEM_ASSIGN_OR_RETURN(in.status_count, d_.state->CountStatus(pair_.id));
    }

    Plan plan = MakePlan(std::move(in));  // takes the input over and frees it
    report_.seconds.plan = lap();
    // A first sync of a large calendar plans one action per event: the report
    // lists the first ones and counts the rest.
    static constexpr size_t kPlanLines = 1000;
    const std::map<std::string, std::string> titles = DeletionTitles(plan, kPlanLines);
    report_.plan = plan.ToString(kPlanLines, &titles);
    report_.planned = plan.WriteCounts();
    for (auto& w : plan.warnings) report_.warnings.push_back(w);
    if (plan.refusal) {
      report_.refusal = plan.refusal;
      if (!options_.dry_run) {
        TANDEM_ASSIGN_OR_RETURN(int64_t run_id, d_.state->BeginRun(store::SyncRun{
                                                    .pair_id = pair_.id, .started = now}));
        TANDEM_RETURN_IF_ERROR(
            d_.state->FinishRun(run_id, d_.clock->Now(), "refused: " + *plan.refusal));
      }
      return report_;
    }
    if (options_.dry_run) return report_;

    TANDEM_ASSIGN_OR_RETURN(
        report_.run_id, d_.state->BeginRun(store::SyncRun{.pair_id = pair_.id, .started = now}));
    if (options_.initialize) {
      TANDEM_RETURN_IF_ERROR(d_.state->ClearStatus(pair_.id));
      pair_.identity = identity;
      pair_.initialized = now;
    }
    LogUnreadable();
    TANDEM_RETURN_IF_ERROR(ApplyAll(plan.actions));
    report_.seconds.apply = lap();

    // Items to retry first, then forget what was handled, then the cursors: a
    // crash anywhere here leaves a superset of the work for the next run.
    {
      // One transaction where the state has them (a first push notes every event).
      TANDEM_ASSIGN_OR_RETURN(std::unique_ptr<store::SyncStateStore::WriteBatch> batch,
                              d_.state->BeginBatch());
      for (const auto& p : new_pending_) TANDEM_RETURN_IF_ERROR(d_.state->AddPending(p));
      std::set<std::pair<std::string, std::string>> keep;
      for (const auto& p : new_pending_) keep.insert({p.side, p.href});
      for (const auto& p : pending) {
        if (!keep.contains({p.side, p.href})) {
          TANDEM_RETURN_IF_ERROR(d_.state->RemovePending(pair_.id, p.side, p.href));
        }
      }
      if (batch) TANDEM_RETURN_IF_ERROR(batch->Commit());
    }
    pair_.crm_cursor = crm_cs.next_cursor;
    pair_.external_cursor = ext_cs.next_cursor;
    pair_.last_run = now;
    TANDEM_RETURN_IF_ERROR(d_.state->UpdatePair(pair_));
    std::string outcome =
        report_.unreachable ? "calendar unreachable: " + *report_.unreachable
        : report_.errors.empty() ? "ok"
                                 : fmt::format("partial: {} failed", report_.errors.size());
    TANDEM_RETURN_IF_ERROR(d_.state->FinishRun(report_.run_id, d_.clock->Now(), outcome));
    report_.seconds.total = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report_;
  }

 private:
  CalendarSide& SideOf(Side s) { return s == Side::kCrm ? crm_ : ext_; }

  // The titles of the items the plan deletes or trashes without having read them
  // this run (deleted on the other side, nothing new on this one), so the plan
  // names the appointments a user is about to lose. The CRM's are read always
  // (local); the calendar's only in a dry run, which a user reads. Best effort.
  std::map<std::string, std::string> DeletionTitles(const Plan& plan, size_t max_actions) {
    std::map<std::string, std::string> out;
    std::map<std::string, std::string> uid_of[2];  // by side: href -> uid
    for (size_t i = 0; i < plan.actions.size() && i < max_actions; ++i) {
      const Action& a = plan.actions[i];
      if (a.kind != ActionKind::kTrash && a.kind != ActionKind::kDelete) continue;
      if ((a.crm && !a.crm->title.empty()) || (a.external && !a.external->title.empty())) continue;
      if (!a.base) continue;
      if (a.target == Side::kCrm && !a.base->crm_id.empty()) {
        uid_of[0][a.base->crm_id] = a.uid;
      } else if (a.target == Side::kExternal && options_.dry_run &&
                 !a.base->external_href.empty()) {
        uid_of[1][a.base->external_href] = a.uid;
      }
    }
    for (int side = 0; side < 2; ++side) {
      if (uid_of[side].empty()) continue;
      std::vector<std::string> hrefs;
      for (const auto& [href, uid] : uid_of[side]) hrefs.push_back(href);
      auto items = SideOf(side == 0 ? Side::kCrm : Side::kExternal).GetMany(hrefs);
      if (!items.ok()) continue;
      for (const Item& item : *items) {
        auto it = uid_of[side].find(item.href);
        if (it != uid_of[side].end()) out[it->second] = d_.codec->Name(item.ical).summary;
      }
    }
    return out;
  }

  // Actions that write only the CRM database (the CRM store and the sync state
  // share it): a creation imported into the CRM, its status row and log entry.
  static bool LocalOnly(const Action& a) {
    switch (a.kind) {
      case ActionKind::kRecord:
      case ActionKind::kUntrack:
      case ActionKind::kSkip:
        return true;
      case ActionKind::kCreate:
      case ActionKind::kUpdate:
      case ActionKind::kTrash:
        return a.target == Side::kCrm;
      case ActionKind::kDelete:
        return false;
    }
    return false;
  }

  // Runs the actions in order. Consecutive local-only actions are grouped into
  // one transaction of up to kBatchActions (a first sync importing 10,000 events
  // commits ~20 times, not 50,000): all-or-nothing inside the CRM database, so
  // crash safety holds as for single writes. A batch is committed before any
  // action that writes the external calendar, so the intents that make those
  // writes crash-safe are durable before the request leaves.
  Status ApplyAll(const std::vector<Action>& actions) {
    static constexpr int kBatchActions = 500;
    LocalWrites batch(*d_.state);
    int in_batch = 0;
    auto flush = [&]() -> Status {
      in_batch = 0;
      return batch.Commit().WithContext("committing a batch of the run's CRM writes");
    };
    // A calendar that stops answering is not met item by item: after
    // kUnreachableAfter consecutive connection failures (or 5xx) of its writes,
    // the run writes nothing more to it. What it did is kept; the rest is left
    // pending for the next run (local-only actions still apply).
    static constexpr int kUnreachableAfter = 3;
    int unanswered = 0;
    const size_t create_batch = std::max<size_t>(1, ext_.CreateBatchLimit());
    for (size_t i = 0; i < actions.size(); ++i) {
      const Action& a = actions[i];
      const bool local = LocalOnly(a);
      if (!local) {
        TANDEM_RETURN_IF_ERROR(flush());
        if (report_.unreachable) {
          Defer(a, "not attempted: the calendar was unreachable");
          ++report_.left;
          continue;
        }
      } else {
        batch.Open();
      }
      if (create_batch > 1 && ExternalCreate(a) && i + 1 < actions.size() &&
          ExternalCreate(actions[i + 1])) {
        std::vector<const Action*> group;
        while (i < actions.size() && group.size() < create_batch && ExternalCreate(actions[i]))
          group.push_back(&actions[i++]);
        --i;
        ApplyCreateBatch(group, &unanswered, kUnreachableAfter);
        continue;
      }
      Status s = Apply(a);
      if (!s.ok()) Fail(a, s);
      if (!local && a.target == Side::kExternal) {
        const bool unanswered_now = s.Is(Code::kUnavailable) || s.Is(Code::kDeadlineExceeded);
        unanswered = unanswered_now ? unanswered + 1 : 0;
        if (unanswered >= kUnreachableAfter) report_.unreachable = s.ToString();
      }
      if (local && ++in_batch >= kBatchActions) TANDEM_RETURN_IF_ERROR(flush());
    }
    return flush();
  }

  void LogUnreadable() {
    size_t n = 0;
    for (const ItemError& e : report_.errors) {
      if (e.action != "read") continue;
      store::SyncLogEntry entry{.run_id = report_.run_id,
                                .pair_id = pair_.id,
                                .at = d_.clock->Now(),
                                .action = "read",
                                .target = e.target,
                                .uid = e.uid,
                                .crm_id = e.crm_id,
                                .external_href = e.external_href,
                                .before = n < unreadable_texts_.size() ? unreadable_texts_[n] : "",
                                .error = e.error};
      ++n;
      Status logged = d_.state->AppendLog(entry);
      if (!logged.ok()) report_.warnings.push_back("sync log: " + logged.ToString());
    }
  }

  // One side's changes since `cursor` into `out`, digested as they arrive (past
  // kKeepInMemory items their texts go to the spill file). An expired cursor
  // gives a full listing.
  Result<ChangeSet> FetchSide(Side side, const std::string& cursor, SideChanges& out) {
    CalendarSide& calendar = SideOf(side);
    std::unordered_map<std::string, size_t> at;  // href -> index in out.changed
    // Each digest is taken in the order the items came, whichever thread made it.
    auto take = [&](Item&& item, Result<Observation>&& digest) -> Status {
      auto seen = at.find(item.href);
      if (seen != at.end()) {
        // Handed again (a transfer restarted by a retry): the later copy wins.
        SideChanges again;
        TANDEM_RETURN_IF_ERROR(TakeDigest(side, std::move(item), std::move(digest), again));
        if (!again.changed.empty()) out.changed[seen->second] = std::move(again.changed.front());
        return Status::Ok();
      }
      std::string href = item.href;
      size_t before = out.changed.size();
      TANDEM_RETURN_IF_ERROR(TakeDigest(side, std::move(item), std::move(digest), out));
      if (out.changed.size() > before) at.emplace(std::move(href), before);
      return Status::Ok();
    };
    // The items are digested on d_.digest_workers threads while the listing
    // goes on (the CalDAV side hands them over from inside the transfer).
    auto list = [&](const std::string& from) -> Result<ChangeSet> {
      DigestPool pool(*d_.codec, window_, d_.digest_workers, kDigestInFlight, take);
      Result<ChangeSet> r = calendar.StreamChangesSince(
          from, window_, [&](Item&& item) { return pool.Add(std::move(item)); });
      // Whatever was handed over is taken, as when each was digested at once.
      Status finished = pool.Finish();
      if (!r.ok()) return r;
      TANDEM_RETURN_IF_ERROR(finished);
      return r;
    };
    Result<ChangeSet> r = list(cursor);
    if (!r.ok() && r.status().Is(Code::kResyncRequired) && !cursor.empty()) {
      out.changed.clear();
      out.unreadable.clear();
      at.clear();
      r = list("");  // the cursor expired: list everything
    }
    return r;
  }

  // A listing complete only within the window: each paired item it left out is
  // read; one the side still has is taken as changed (the planner's window rule
  // applies to it), one it no longer has as deleted. The listing is then an
  // incremental one: never a deletion inferred for an event that only moved out
  // of the window or grew old.
  Status ResolveWindowed(Side side, ChangeSet& cs, SideChanges& out) {
    if (!cs.complete || !cs.windowed) return Status::Ok();
    cs.complete = false;
    if (options_.initialize) return Status::Ok();  // nothing is paired yet
    TANDEM_ASSIGN_OR_RETURN(std::vector<ItemStatus> rows, d_.state->ListStatus(pair_.id));
    std::unordered_set<std::string> listed(out.unreadable.begin(), out.unreadable.end());
    for (const Boxed<Observation>& o : out.changed) listed.insert(o->href);
    std::vector<std::string> missing;
    for (const ItemStatus& row : rows) {
      const std::string& href = side == Side::kCrm ? row.crm_id : row.external_href;
      if (!href.empty() && !listed.contains(href)) missing.push_back(href);
    }
    static constexpr size_t kChunk = 200;
    for (size_t at = 0; at < missing.size(); at += kChunk) {
      std::vector<std::string> chunk(missing.begin() + at,
                                     missing.begin() + std::min(missing.size(), at + kChunk));
      TANDEM_ASSIGN_OR_RETURN(std::vector<Item> found, SideOf(side).GetMany(chunk));
      std::unordered_set<std::string> present;
      for (Item& i : found) {
        present.insert(i.href);
        TANDEM_RETURN_IF_ERROR(DigestInto(side, std::move(i), out));
      }
      for (std::string& h : chunk)
        if (!present.contains(h)) cs.deleted.push_back(std::move(h));
    }
    return Status::Ok();
  }

  // The pending items of one side not already in its listing: fetched again
  // into `out`, or gone (deleted) when the side no longer has them.
  Status FetchPendingInto(Side side, const std::vector<std::string>& pending, ChangeSet& cs,
                          SideChanges& out) {
    if (pending.empty() || cs.complete) return Status::Ok();
    std::unordered_set<std::string> known(cs.deleted.begin(), cs.deleted.end());
    for (const Boxed<Observation>& o : out.changed) known.insert(o->href);
    std::vector<std::string> wanted;
    for (const std::string& h : pending) {
      if (!known.contains(h)) wanted.push_back(h);
    }
    if (wanted.empty()) return Status::Ok();
    TANDEM_ASSIGN_OR_RETURN(std::vector<Item> found, SideOf(side).GetMany(wanted));
    std::unordered_set<std::string> present;
    for (Item& i : found) {
      present.insert(i.href);
      TANDEM_RETURN_IF_ERROR(DigestInto(side, std::move(i), out));
    }
    for (std::string& h : wanted) {
      if (!present.contains(h)) cs.deleted.push_back(std::move(h));
    }
    return Status::Ok();
  }

  // Digests one item into `out`; an unreadable item is reported (C8), not fatal.
  Status DigestInto(Side side, Item&& item, SideChanges& out) {
    Result<Observation> obs = d_.codec->Digest(item, window_);
    return TakeDigest(side, std::move(item), std::move(obs), out);
  }

  // The digest of one item into `out` (DigestInto's second half).
  Status TakeDigest(Side side, Item&& item, Result<Observation>&& obs, SideChanges& out) {
    static constexpr size_t kKeepInMemory = 1000;
    if (!obs.ok()) {
      // C8: named as well as it can be, logged, kept pending (read again next
      // run until it is fixed or deleted) and never taken for deleted.
      ItemName name = d_.codec->Name(item.ical);
      ItemError e{.action = "read",
                  .target = std::string(SideName(side)),
                  .uid = name.uid,
                  .summary = name.summary,
                  .error = fmt::format("cannot read {}{}: {}", item.href,
                                       name.summary.empty() ? "" : " (\"" + name.summary + "\")",
                                       obs.status().ToString())};
      (side == Side::kCrm ? e.crm_id : e.external_href) = item.href;
      new_pending_.push_back({pair_.id, std::string(SideName(side)), item.href, e.error});
      out.unreadable.push_back(std::move(item.href));
      unreadable_texts_.push_back(item.ical.substr(0, kKeepUnreadable));
      report_.errors.push_back(std::move(e));
      return Status::Ok();
    }
    obs->href = std::move(item.href);
    obs->etag = std::move(item.etag);
    obs->ical = std::move(item.ical);
    // Held until planned and applied: what only a digest's reader needs goes now
    // (the title, past the items the plan's report names; the title key outside
    // an initialization, S13).
    if (out.changed.size() >= kKeepInMemory) std::string().swap(obs->title);
    if (!options_.initialize) std::string().swap(obs->title_key);
    KeepParsed(side, *obs);
    if (out.changed.size() >= kKeepInMemory) TANDEM_RETURN_IF_ERROR(spill_.Put(&*obs));
    out.changed.push_back(std::move(*obs));
    return Status::Ok();
  }

  // The codec's mapping is kept for what a run may import into the CRM (a new
  // external item within the window), up to kKeepParsedBytes in all; the rest
  // is read again by the CRM side when it is created.
  void KeepParsed(Side side, Observation& o) {
    if (o.parsed == nullptr) return;
    if (side != Side::kExternal || !o.in_window || parsed_bytes_ >= kKeepParsedBytes) {
      o.parsed.reset();
      return;
    }
    const model::Activity& a = *o.parsed;
    parsed_bytes_ += sizeof(model::Activity) + a.subject.capacity() + a.location.capacity() +
                     a.description.capacity() + a.time_zone.capacity() + a.rrule.capacity() +
                     a.ical_extra.capacity() +
                     (a.exdates.capacity() + a.rdates.capacity()) * sizeof(Instant);
  }

  // The text of an observation, from memory or from the spill file.
  Result<std::string> IcalOf(const Observation& o) const {
    if (o.spill_offset >= 0) return spill_.Get(o);
    return o.ical;
  }

  Status LoadStatus(PlanInput& in) {
    if (in.crm.complete || in.external.complete) {
      TANDEM_ASSIGN_OR_RETURN(in.status, d_.state->ListStatus(pair_.id));
      return Status::Ok();
    }
    std::unordered_map<std::string, ItemStatus> rows;
    auto add = [&](Result<std::optional<ItemStatus>> r) -> Status {
      if (!r.ok()) return r.status();
      if (*r) rows.emplace((*r)->uid, std::move(**r));
      return Status::Ok();
    };
    for (const Boxed<Observation>& o : in.crm.changed) {
      TANDEM_RETURN_IF_ERROR(add(d_.state->StatusByCrmId(pair_.id, o->href)));
      if (!o->uid.empty()) TANDEM_RETURN_IF_ERROR(add(d_.state->StatusByUid(pair_.id, o->uid)));
    }
    for (const std::string& h : in.crm.deleted)
      TANDEM_RETURN_IF_ERROR(add(d_.state->StatusByCrmId(pair_.id, h)));
    for (const Boxed<Observation>& o : in.external.changed) {
      TANDEM_RETURN_IF_ERROR(add(d_.state->StatusByExternalHref(pair_.id, o->href)));
      if (!o->uid.empty()) TANDEM_RETURN_IF_ERROR(add(d_.state->StatusByUid(pair_.id, o->uid)));
    }
    for (const std::string& h : in.external.deleted) {
      TANDEM_RETURN_IF_ERROR(add(d_.state->StatusByExternalHref(pair_.id, h)));
    }
    in.status.reserve(rows.size());
    for (auto& [uid, row] : rows) in.status.push_back(std::move(row));
    return Status::Ok();
  }

  static std::string CrmHref(const Action& a) {
    if (a.crm) return a.crm->href;
    return a.base ? a.base->crm_id : "";
  }
  static std::string ExtHref(const Action& a) {
    if (a.external) return a.external->href;
    return a.base ? a.base->external_href : "";
  }

  // Re-plan this item next run: both sides' versions are fetched again.
  void Defer(const Action& a, const std::string& why) {
    std::string c = CrmHref(a), e = ExtHref(a);
    if (!c.empty()) new_pending_.push_back({pair_.id, "crm", c, why});
    if (!e.empty()) new_pending_.push_back({pair_.id, "external", e, why});
  }

  void Fail(const Action& a, const Status& s) {
    Defer(a, s.ToString());
    report_.errors.push_back(ItemError{.action = std::string(ActionKindName(a.kind)),
                                       .target = std::string(SideName(a.target)),
                                       .uid = a.uid,
                                       .crm_id = CrmHref(a),
                                       .external_href = ExtHref(a),
                                       .error = s.ToString()});
    Status logged = Log(a, std::string(ActionKindName(a.kind)), "", "", s.ToString());
    if (!logged.ok()) report_.warnings.push_back("sync log: " + logged.ToString());
  }

  // `written_href`: where a creation went on its target (unknown to the action).
  Status Log(const Action& a, std::string action, std::string before, std::string after,
             std::string error = "", const std::string& written_href = "") {
    store::SyncLogEntry e;
    e.run_id = report_.run_id;
    e.pair_id = pair_.id;
    e.at = d_.clock->Now();
    e.action = std::move(action);
    const bool writes = a.kind != ActionKind::kRecord && a.kind != ActionKind::kUntrack &&
                        a.kind != ActionKind::kSkip;
    e.target = writes ? std::string(SideName(a.target)) : "";
    e.uid = a.uid;
    e.crm_id = CrmHref(a);
    e.external_href = ExtHref(a);
    if (!written_href.empty()) (a.target == Side::kCrm ? e.crm_id : e.external_href) = written_href;
    e.before = std::move(before);
    e.after = std::move(after);
    e.reason = a.reason;
    e.error = std::move(error);
    return d_.state->AppendLog(e);
  }

  void Count(const Action& a) { ++report_.applied[std::string(ActionKindName(a.kind))]; }

  // The target's version after a write, read back so that the status holds
  // what the side really stores (a side may normalize what it was given).
  Result<Observation> ReadBack(Side side, const ItemRef& ref, const std::string& written) {
    if (!ref.content_hash.empty() && !ref.etag.empty()) {
      // The side hashed what it stored (the CRM side): no read needed; the log
      // keeps the text that was written.
      Observation o;
      o.href = ref.href;
      o.etag = ref.etag;
      o.content_hash = ref.content_hash;
      o.ical = written;
      return o;
    }
    std::vector<Item> items;
    if (!ref.stored_ical.empty() && !ref.etag.empty()) {
      items.push_back(Item{ref.href, ref.etag, ref.stored_ical});  // the write's own answer
    } else {
      TANDEM_ASSIGN_OR_RETURN(items, SideOf(side).GetMany({ref.href}));
    }
    Item item = items.empty() ? Item{ref.href, ref.etag, written} : std::move(items.front());
    TANDEM_ASSIGN_OR_RETURN(Observation o, d_.codec->Digest(item, window_));
    o.href = item.href;
    o.etag = item.etag;
    o.ical = std::move(item.ical);
    return o;
  }

  Status PutRow(const std::string& uid, const Observation& crm, const Observation& ext) {
    return d_.state->PutStatus(ItemStatus{.pair_id = pair_.id,
                                          .uid = uid,
                                          .crm_id = crm.href,
                                          .crm_etag = crm.etag,
                                          .crm_hash = crm.content_hash,
                                          .external_href = ext.href,
                                          .external_etag = ext.etag,
                                          .external_hash = ext.content_hash});
  }

  // The current observation of one side for an action: as seen this run, else
  // as the status last recorded it.
  Observation Current(const Action& a, Side side) {
    const Boxed<Observation>& seen = side == Side::kCrm ? a.crm : a.external;
    if (seen) return *seen;
    Observation o;
    if (a.base) {
      o.href = side == Side::kCrm ? a.base->crm_id : a.base->external_href;
      o.etag = side == Side::kCrm ? a.base->crm_etag : a.base->external_etag;
      o.content_hash = side == Side::kCrm ? a.base->crm_hash : a.base->external_hash;
      o.uid = a.uid;
    }
    return o;
  }

  // `unchanged`, when given, is told whether the text to write is the source's
  // own, byte for byte.
  Result<std::string> PrepareFor(const Action& a, Side target, const std::string* current,
                                 bool* unchanged = nullptr) {
    const Observation& src = *a.source();
    PrepareOptions p;
    p.target = target;
    p.reminders = pair_.options.reminders;
    p.target_current = current;
    p.source_uid = src.uid;
    if (target == Side::kExternal) {
      p.uid = a.uid;
      p.crm_id = src.href;
    } else {
      p.uid = a.crm ? a.crm->uid : a.uid;
    }
    TANDEM_ASSIGN_OR_RETURN(std::string text, IcalOf(src));
    TANDEM_ASSIGN_OR_RETURN(std::string prepared, d_.codec->Prepare(text, p));
    if (unchanged != nullptr) *unchanged = prepared == text;
    return prepared;
  }

  Status Apply(const Action& a) {
    switch (a.kind) {
      case ActionKind::kRecord: {
        TANDEM_RETURN_IF_ERROR(PutRow(a.uid, Current(a, Side::kCrm), Current(a, Side::kExternal)));
        if (!a.base) {
          // A new pairing may be the other half of an interrupted creation.
          TANDEM_RETURN_IF_ERROR(d_.state->DeleteIntent(pair_.id, a.uid));
          TANDEM_RETURN_IF_ERROR(Log(a, "pair", "", ""));
        }
        Count(a);
        return Status::Ok();
      }
      case ActionKind::kSkip: {
        TANDEM_RETURN_IF_ERROR(Log(a, "skip", "", ""));
        Count(a);
        return Status::Ok();
      }
      case ActionKind::kUntrack: {
        TANDEM_RETURN_IF_ERROR(d_.state->DeleteStatus(pair_.id, a.uid));
        TANDEM_RETURN_IF_ERROR(Log(a, "untrack", "", ""));
        Count(a);
        return Status::Ok();
      }
      case ActionKind::kCreate:
        return ApplyCreate(a);
      case ActionKind::kUpdate:
        return ApplyUpdate(a);
      case ActionKind::kDelete:
        return ApplyDelete(a);
      case ActionKind::kTrash:
        return ApplyTrash(a);
    }
    return Status::Internal("unknown action");
  }

  // Pairs the source with an item the target already holds under the UID (a
  // creation interrupted by a crash, or a concurrent one). Returns true when
  // paired; false when the two differ and were deferred to the next run.
  Result<bool> PairWithExisting(const Action& a, const Item& existing, const std::string& written) {
    TANDEM_ASSIGN_OR_RETURN(Observation found, d_.codec->Digest(existing, window_));
    found.href = existing.href;
    found.etag = existing.etag;
    found.ical = existing.ical;
    TANDEM_ASSIGN_OR_RETURN(Observation wanted, d_.codec->Digest(Item{"", "", written}, window_));
    const Observation& src = *a.source();
    if (found.content_hash != wanted.content_hash) {
      Action deferred = a;
      (a.target == Side::kCrm ? deferred.crm : deferred.external) = found;
      Defer(deferred, "an item with this UID already exists; re-planned");
      ++report_.deferred;
      TANDEM_RETURN_IF_ERROR(d_.state->DeleteIntent(pair_.id, a.uid));
      return false;
    }
    const Observation& crm = a.target == Side::kCrm ? found : src;
    const Observation& ext = a.target == Side::kCrm ? src : found;
    TANDEM_RETURN_IF_ERROR(PutRow(a.uid, crm, ext));
    TANDEM_RETURN_IF_ERROR(d_.state->DeleteIntent(pair_.id, a.uid));
    TANDEM_RETURN_IF_ERROR(Log(a, "pair", "", found.ical, "", existing.href));
    ++report_.applied["heal"];
    return true;
  }

  struct PreparedCreate {
    std::string ical;
    bool unchanged = false;
  };

  // A creation up to its request: the text to write, the intent that makes it
  // crash-safe written. nullopt when an earlier run's creation was found there
  // and paired instead.
  Result<std::optional<PreparedCreate>> PrepareCreate(const Action& a) {
    const Observation& src = *a.source();
    CalendarSide& target = SideOf(a.target);
    PreparedCreate p;
    TANDEM_ASSIGN_OR_RETURN(p.ical, PrepareFor(a, a.target, nullptr, &p.unchanged));
    TANDEM_ASSIGN_OR_RETURN(std::optional<store::CreationIntent> intent,
                            d_.state->GetIntent(pair_.id, a.uid));
    if (intent) {
      // A previous run meant to create this item; it may have reached the side.
      TANDEM_ASSIGN_OR_RETURN(std::optional<Item> existing, target.FindByUid(a.uid));
      if (existing) {
        TANDEM_RETURN_IF_ERROR(PairWithExisting(a, *existing, p.ical).status());
        return std::optional<PreparedCreate>();
      }
    }
    TANDEM_RETURN_IF_ERROR(
        d_.state->PutIntent(store::CreationIntent{.pair_id = pair_.id,
                                                  .uid = a.uid,
                                                  .target = std::string(SideName(a.target)),
                                                  .source_href = src.href,
                                                  .at = d_.clock->Now()}));
    return std::optional<PreparedCreate>(std::move(p));
  }

  // A creation after its request answered `ref`.
  Status FinishCreate(const Action& a, const PreparedCreate& p, Result<ItemRef> ref) {
    const Observation& src = *a.source();
    CalendarSide& target = SideOf(a.target);
    if (!ref.ok() && ref.status().Is(Code::kAlreadyExists)) {
      TANDEM_ASSIGN_OR_RETURN(std::optional<Item> existing, target.FindByUid(a.uid));
      if (existing) return PairWithExisting(a, *existing, p.ical).status();
    }
    if (!ref.ok()) return ref.status();
    TANDEM_ASSIGN_OR_RETURN(Observation after, ReadBack(a.target, *ref, p.ical));
    const Observation& crm = a.target == Side::kCrm ? after : src;
    const Observation& ext = a.target == Side::kCrm ? src : after;
    TANDEM_RETURN_IF_ERROR(PutRow(a.uid, crm, ext));
    TANDEM_RETURN_IF_ERROR(d_.state->DeleteIntent(pair_.id, a.uid));
    TANDEM_RETURN_IF_ERROR(Log(a, "create", "", after.ical, "", ref->href));
    if (a.target == Side::kExternal) {
      // RFC 6578 lets a server leave out of the next sync report an item created
      // after its token and deleted before the report (Xandikos does): the next
      // run reads it by href unless the listing names it, so a user who deletes
      // a fresh event before the next run is heard.
      new_pending_.push_back({pair_.id, "external", ref->href,
                              "created by the previous run; confirmed by the next listing"});
    }
    Count(a);
    return Status::Ok();
  }

  Status ApplyCreate(const Action& a) {
    const Observation& src = *a.source();
    CalendarSide& target = SideOf(a.target);
    TANDEM_ASSIGN_OR_RETURN(std::optional<PreparedCreate> p, PrepareCreate(a));
    if (!p) return Status::Ok();
    // The digest's mapping describes the source text: it stands for what is
    // written only when that text goes out unchanged.
    Result<ItemRef> ref = p->unchanged && src.parsed != nullptr
                              ? target.CreateMapped(a.uid, p->ical, *src.parsed, src.content_hash)
                              : target.Create(a.uid, p->ical);
    return FinishCreate(a, *p, std::move(ref));
  }

  // Consecutive creations on the external calendar, sent in batches where it
  // takes them (a first push of 10,000 events in 200 requests, not 10,000). The
  // intents of a batch are written before its request leaves.
  static bool ExternalCreate(const Action& a) {
    return a.kind == ActionKind::kCreate && a.target == Side::kExternal;
  }
  void ApplyCreateBatch(const std::vector<const Action*>& group, int* unanswered,
                        int unreachable_after) {
    std::vector<std::pair<const Action*, PreparedCreate>> ready;
    // The group's intents in one transaction, committed (durable) before the
    // request leaves; the answers' rows and log lines in another: 2 commits per
    // batch of creations, not 4 per creation.
    // No request is sent while a transaction is open (other writers would wait
    // on it): an item with an earlier run's intent, which may look for the item
    // on the calendar, is prepared outside one.
    LocalWrites intents(*d_.state);
    for (const Action* a : group) {
      auto earlier = d_.state->GetIntent(pair_.id, a->uid);
      if (earlier.ok() && earlier->has_value()) {
        if (Status c = intents.Commit(); !c.ok()) {
          for (const auto& [b, p] : ready) Fail(*b, c.WithContext("recording the creations' intents"));
          return;
        }
      } else {
        intents.Open();
      }
      auto p = PrepareCreate(*a);
      if (!p.ok()) {
        Fail(*a, p.status());
        continue;
      }
      if (*p) ready.emplace_back(a, std::move(**p));
    }
    if (Status c = intents.Commit(); !c.ok()) {
      for (const auto& [a, p] : ready) Fail(*a, c.WithContext("recording the creations' intents"));
      return;
    }
    if (ready.empty()) return;
    std::vector<std::pair<std::string, std::string>> items;
    items.reserve(ready.size());
    for (const auto& [a, p] : ready) items.emplace_back(a->uid, p.ical);
    std::vector<Result<ItemRef>> refs = ext_.CreateBatch(items);
    LocalWrites rows(*d_.state);
    for (size_t k = 0; k < ready.size(); ++k) {
      Result<ItemRef> ref = k < refs.size() ? std::move(refs[k])
                                            : Result<ItemRef>(Status::Internal("no answer in the batch"));
      const Action& a = *ready[k].first;
      // An answer that holds the stored event needs no request to finish;
      // anything else (a refusal that looks for the item, a read-back) runs
      // outside the transaction.
      const bool local = ref.ok() && !ref->etag.empty() &&
                         (!ref->stored_ical.empty() || !ref->content_hash.empty());
      if (local) {
        rows.Open();
      } else if (Status c = rows.Commit(); !c.ok()) {
        report_.warnings.push_back("recording a batch of creations: " + c.ToString());
      }
      if (report_.unreachable) {
        // The intent stays: the next run finds the item if it was created.
        Defer(a, "not confirmed: the calendar was unreachable");
        ++report_.left;
        continue;
      }
      Status s = FinishCreate(a, ready[k].second, std::move(ref));
      if (!s.ok()) Fail(a, s);
      const bool unanswered_now = s.Is(Code::kUnavailable) || s.Is(Code::kDeadlineExceeded);
      *unanswered = unanswered_now ? *unanswered + 1 : 0;
      if (*unanswered >= unreachable_after) report_.unreachable = s.ToString();
    }
    // Not committed: the intents stay, and the next run pairs what was created.
    if (Status c = rows.Commit(); !c.ok())
      report_.warnings.push_back("recording a batch of creations: " + c.ToString());
  }

  Status ApplyUpdate(const Action& a) {
    const Observation& src = *a.source();
    Observation cur = Current(a, a.target);
    // Read even when this run did not see the target (only the other side
    // changed): the log keeps every version an update replaces (S11), and a
    // reminder kept as the target has it (S10) is taken from it.
    TANDEM_ASSIGN_OR_RETURN(std::string current_ical, CurrentIcal(a, a.target));
    TANDEM_ASSIGN_OR_RETURN(
        std::string ical, PrepareFor(a, a.target, current_ical.empty() ? nullptr : &current_ical));
    // The losing version of a conflict goes to the log before it is overwritten,
    // so that no crash can lose it (S11).
    if (a.loser) {
      TANDEM_ASSIGN_OR_RETURN(std::string loser, IcalOf(*a.loser));
      TANDEM_ASSIGN_OR_RETURN(std::string winner, IcalOf(src));
      TANDEM_RETURN_IF_ERROR(Log(a, "conflict-loser", std::move(loser), std::move(winner)));
    }
    Result<ItemRef> ref = SideOf(a.target).Update(cur.href, cur.etag, ical);
    if (!ref.ok() &&
        (ref.status().Is(Code::kPreconditionFailed) || ref.status().Is(Code::kNotFound))) {
      // Someone changed (or removed) the target since we read it: never
      // overwrite; look at both versions again next run.
      Defer(a, ref.status().ToString());
      ++report_.deferred;
      return Log(a, "update", current_ical, "",
                 "deferred to the next run: " + ref.status().ToString());
    }
    if (!ref.ok()) return ref.status();
    TANDEM_ASSIGN_OR_RETURN(Observation after, ReadBack(a.target, *ref, ical));
    const Observation& crm = a.target == Side::kCrm ? after : src;
    const Observation& ext = a.target == Side::kCrm ? src : after;
    TANDEM_RETURN_IF_ERROR(PutRow(a.uid, crm, ext));
    TANDEM_RETURN_IF_ERROR(Log(a, "update", current_ical, after.ical));
    Count(a);
    return Status::Ok();
  }

  Result<std::string> CurrentIcal(const Action& a, Side side) {
    const Boxed<Observation>& seen = side == Side::kCrm ? a.crm : a.external;
    if (seen) return IcalOf(*seen);
    std::string href = side == Side::kCrm ? CrmHref(a) : ExtHref(a);
    TANDEM_ASSIGN_OR_RETURN(std::vector<Item> items, SideOf(side).GetMany({href}));
    return items.empty() ? std::string() : items.front().ical;
  }

  Status ApplyDelete(const Action& a) {
    Observation cur = Current(a, Side::kExternal);
    TANDEM_ASSIGN_OR_RETURN(std::string before, CurrentIcal(a, Side::kExternal));
    Status s = ext_.Delete(cur.href, cur.etag);
    if (s.Is(Code::kPreconditionFailed)) {
      Defer(a, s.ToString());
      ++report_.deferred;
      return Log(a, "delete", before, "", "deferred to the next run: " + s.ToString());
    }
    TANDEM_RETURN_IF_ERROR(s);
    TANDEM_RETURN_IF_ERROR(d_.state->DeleteStatus(pair_.id, a.uid));
    TANDEM_RETURN_IF_ERROR(Log(a, "delete", before, ""));
    Count(a);
    return Status::Ok();
  }

  Status ApplyTrash(const Action& a) {
    Observation cur = Current(a, Side::kCrm);
    TANDEM_ASSIGN_OR_RETURN(std::string before, CurrentIcal(a, Side::kCrm));
    int64_t trash_id = 0;
    if (!before.empty()) {
      store::TrashEntry t;
      t.pair_id = pair_.id;
      t.user_id = pair_.user_id;
      t.activity_id = cur.href;
      t.uid = a.uid;
      t.ical = before;
      t.deleted_at = d_.clock->Now();
      if (Result<Observation> o = d_.codec->Digest(Item{cur.href, cur.etag, before}, window_);
          o.ok()) {
        t.subject = o->title;
        t.start = o->start;
      }
      // Into the trash before the deletion: a crash in between leaves a trash
      // entry, never a lost activity.
      TANDEM_ASSIGN_OR_RETURN(trash_id, d_.state->PutTrash(t));
    }
    Status s = crm_.Delete(cur.href, cur.etag);
    if (s.Is(Code::kPreconditionFailed)) {
      if (trash_id != 0) TANDEM_RETURN_IF_ERROR(d_.state->DeleteTrash(trash_id));
      Defer(a, s.ToString());
      ++report_.deferred;
      return Log(a, "trash", before, "", "deferred to the next run: " + s.ToString());
    }
    TANDEM_RETURN_IF_ERROR(s);
    TANDEM_RETURN_IF_ERROR(d_.state->DeleteStatus(pair_.id, a.uid));
    TANDEM_RETURN_IF_ERROR(Log(a, "trash", before, ""));
    Count(a);
    return Status::Ok();
  }

  const EngineDeps& d_;
  store::SyncPair pair_;
  CalendarSide& crm_;
  CalendarSide& ext_;
  RunOptions options_;
  TimeRange window_;
  RunReport report_;
  std::vector<store::PendingItem> new_pending_;
  // The texts of unreadable items (report_.errors "read" entries, in order),
  // for the sync log; each cut at kKeepUnreadable bytes.
  static constexpr size_t kKeepUnreadable = 64 * 1024;
  // The digest's mappings kept for the CRM side's creations (KeepParsed).
  // Items of a listing waiting for their digest or their turn (DigestPool).
  static constexpr size_t kDigestInFlight = 64;
  static constexpr size_t kKeepParsedBytes = 24 << 20;
  size_t parsed_bytes_ = 0;
  std::vector<std::string> unreadable_texts_;
  bool unreachable_ = false;
  SpillFile spill_;
};

}  // namespace

std::string RunReport::Summary() const {
  if (refusal) return "refused: " + *refusal;
  std::string out;
  for (const auto& [action, n] : dry_run ? planned : applied) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", n, action);
  }
  if (out.empty()) out = "no changes";
  if (unreachable)
    out = fmt::format("calendar unreachable, stopped: {} done, {} left for the next run ({})", out,
                      left, *unreachable);
  if (deferred > 0) out += fmt::format("; {} deferred", deferred);
  if (!errors.empty()) out += fmt::format("; {} failed", errors.size());
  if (dry_run) out = "dry run: " + out;
  return out;
}

Result<RunReport> SyncEngine::Run(const std::string& pair_id, CalendarSide& crm,
                                  CalendarSide& external, const RunOptions& options) {
  TANDEM_ASSIGN_OR_RETURN(store::SyncPair pair, d_.state->GetPair(pair_id));
  class Run run(d_, std::move(pair), crm, external, options);
  return run.Go();
}

}  // namespace tandem::sync
