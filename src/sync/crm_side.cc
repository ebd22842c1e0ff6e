#include "sync/crm_side.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <unordered_set>

namespace tandem::sync {

Result<std::string> CrmSide::Identity() {
  return fmt::format("crm:{}:{}", o_.store->Epoch(), o_.user_id);
}

Result<Item> CrmSide::ItemOf(const model::Activity& a) {
  TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> mapped,
                          o_.state->UidForCrmId(o_.user_id, a.meta.id));
  ical::WriteOptions w = WriteOptionsFor(a, mapped.value_or(a.meta.id));
  w.multi_day = o_.map.multi_day;
  TANDEM_ASSIGN_OR_RETURN(std::string ics, ical::WriteEvent(a, w));
  return Item{a.meta.id, ItemETag(a), std::move(ics)};
}

ical::WriteOptions CrmSide::WriteOptionsFor(const model::Activity& a, std::string uid) {
  ical::WriteOptions w;
  w.uid = std::move(uid);
  w.crm_id = a.meta.id;
  w.dtstamp = a.meta.modified;
  w.created = a.meta.created;
  w.last_modified = a.meta.modified;
  return w;
}

std::string CrmSide::StoredHash(const model::Activity& a) const {
  // ItemOf writes the activity and IcalCodec::Digest reads it back with the
  // default mapping; the round trip keeps the content hash (gated over the
  // iCalendar corpus, tests/ical_corpus), so the hash of the stored activity is
  // the digest's. A pair mapping differently (multi-day rule) is read back.
  if (!MapsWithDefaults()) return "";
  return ical::ContentHash(a);
}

bool CrmSide::MapsWithDefaults() const {
  const ical::MapOptions defaults;
  return o_.map.multi_day == defaults.multi_day && o_.map.default_zone == defaults.default_zone;
}

Result<std::optional<model::Activity>> CrmSide::Owned(const std::string& id) {
  Result<model::Activity> a = o_.store->GetActivity(id);
  if (!a.ok()) {
    if (a.status().Is(Code::kNotFound)) return std::optional<model::Activity>();
    return a.status();
  }
  if (a->meta.owner_id != o_.user_id) return std::optional<model::Activity>();
  return std::optional<model::Activity>(std::move(*a));
}

std::string CrmSide::ItemETag(const model::Activity& a) { return model::ItemETagOf(a.meta); }

Result<std::optional<int64_t>> CrmSide::VersionOf(const std::string& etag,
                                                   const model::Activity& current) {
  if (etag.empty()) return std::optional<int64_t>();
  std::string_view v = etag;
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  const size_t dot = v.find('.');
  if (dot == std::string_view::npos) {  // a plain version
    auto plain = model::ParseIfMatch(etag);
    if (!plain.ok()) {
      return Status::PreconditionFailed(fmt::format("activity {}: {} is not its ETag (now {})",
                                                    current.meta.id, etag, ItemETag(current)));
    }
    return plain;
  }
  int64_t version = 0, created = 0;
  std::string_view vs = v.substr(0, dot), cs = v.substr(dot + 1);
  auto [p1, e1] = std::from_chars(vs.data(), vs.data() + vs.size(), version);
  auto [p2, e2] = std::from_chars(cs.data(), cs.data() + cs.size(), created);
  if (e1 != std::errc() || p1 != vs.data() + vs.size() || e2 != std::errc() ||
      p2 != cs.data() + cs.size()) {
    // Not one this side gave out: it cannot name the current version.
    return Status::PreconditionFailed(fmt::format("activity {}: {} is not its ETag (now {})",
                                                  current.meta.id, etag, ItemETag(current)));
  }
  if (created != ToUnixMicros(current.meta.created)) {
    return Status::PreconditionFailed(fmt::format(
        "activity {} was deleted and created again since version {} was read", current.meta.id,
        version));
  }
  return std::optional<int64_t>(version);
}

Result<ChangeSet> CrmSide::ChangesSince(const std::string& cursor, const TimeRange& window) {
  std::vector<Item> items;
  ItemSink gather = [&](Item&& item) {
    items.push_back(std::move(item));
    return Status::Ok();
  };
  TANDEM_ASSIGN_OR_RETURN(ChangeSet out, StreamChangesSince(cursor, window, gather));
  out.changed = std::move(items);
  return out;
}

Result<ChangeSet> CrmSide::StreamChangesSince(const std::string& cursor, const TimeRange&,
                                              const ItemSink& sink) {
  ChangeSet out;
  const int page = std::clamp(o_.page_size, 1, 1000);
  if (cursor.empty()) {
    TANDEM_ASSIGN_OR_RETURN(int64_t latest, o_.store->LatestSeq());
    out.complete = true;
    out.next_cursor = std::to_string(latest);
    store::ListOptions lo;
    lo.limit = page;
    lo.owner_id = o_.user_id;
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(store::Page<model::Activity> activities, o_.store->ListActivities(lo));
      for (const model::Activity& a : activities.items) {
        TANDEM_ASSIGN_OR_RETURN(Item item, ItemOf(a));
        TANDEM_RETURN_IF_ERROR(sink(std::move(item)));
      }
      if (activities.next_page_after.empty()) break;
      lo.page_after = activities.next_page_after;
    }
    return out;
  }
  int64_t seq = 0;
  auto [p, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), seq);
  if (ec != std::errc() || p != cursor.data() + cursor.size()) {
    return Status::ResyncRequired("CRM cursor is not a change-feed position: " + cursor);
  }
  // A position past the feed's end is another database's (this one restored
  // from a backup, or replaced): listing from it would miss every change until
  // the feed caught up.
  TANDEM_ASSIGN_OR_RETURN(int64_t latest, o_.store->LatestSeq());
  if (seq > latest) {
    return Status::ResyncRequired(fmt::format(
        "CRM cursor {} is past the change feed's end ({}): the database was restored or replaced",
        seq, latest));
  }
  store::ChangeFilter filter{model::EntityType::kActivity, o_.user_id};
  std::vector<std::string> upserts;
  std::unordered_set<std::string> seen;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(store::ChangeBatch batch, o_.store->ChangesSince(seq, 10000, filter));
    for (const store::Change& c : batch.changes) {
      if (!seen.insert(c.id).second) continue;
      if (c.op == store::ChangeOp::kDelete) {
        out.deleted.push_back(c.id);
      } else {
        upserts.push_back(c.id);
      }
    }
    seq = std::max(seq, batch.next_seq);
    if (!batch.more) break;
  }
  out.next_cursor = std::to_string(seq);
  // Read and handed out a page at a time: a run after a large import lists
  // every activity it created.
  for (size_t from = 0; from < upserts.size(); from += static_cast<size_t>(page)) {
    const size_t to = std::min(upserts.size(), from + static_cast<size_t>(page));
    std::vector<std::string> ids(upserts.begin() + static_cast<ptrdiff_t>(from),
                                 upserts.begin() + static_cast<ptrdiff_t>(to));
    TANDEM_ASSIGN_OR_RETURN(std::vector<model::Activity> acts, o_.store->GetActivities(ids));
    std::unordered_set<std::string> found;
    for (const model::Activity& a : acts) {
      if (a.meta.owner_id != o_.user_id) continue;
      found.insert(a.meta.id);
      if (!o_.pair_id.empty()) {
        TANDEM_ASSIGN_OR_RETURN(std::optional<store::ItemStatus> row,
                                o_.state->StatusByCrmId(o_.pair_id, a.meta.id));
        if (row && row->crm_etag == ItemETag(a)) continue;  // as recorded
      }
      Result<Item> item = ItemOf(a);
      if (!item.ok()) {
        out.warnings.push_back(fmt::format("activity {}: {}", a.meta.id, item.status().ToString()));
        continue;
      }
      TANDEM_RETURN_IF_ERROR(sink(std::move(*item)));
    }
    for (const std::string& id : ids) {
      if (!found.contains(id)) out.deleted.push_back(id);  // gone (or moved to another owner) meanwhile
    }
  }
  return out;
}

Result<std::vector<Item>> CrmSide::GetMany(const std::vector<std::string>& hrefs) {
  std::vector<Item> out;
  if (hrefs.empty()) return out;
  TANDEM_ASSIGN_OR_RETURN(std::vector<model::Activity> acts, o_.store->GetActivities(hrefs));
  for (const model::Activity& a : acts) {
    if (a.meta.owner_id != o_.user_id) continue;
    TANDEM_ASSIGN_OR_RETURN(Item item, ItemOf(a));
    out.push_back(std::move(item));
  }
  return out;
}

Result<ItemRef> CrmSide::Create(const std::string& uid, const std::string& ical) {
  return CreateMapped(uid, ical, model::Activity(), "");
}

Result<ItemRef> CrmSide::CreateMapped(const std::string& uid, const std::string& ical,
                                      const model::Activity& activity,
                                      const std::string& content_hash) {
  TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> mapped,
                          o_.state->CrmIdForUid(o_.user_id, uid));
  const std::string candidate = mapped.value_or(uid);
  TANDEM_ASSIGN_OR_RETURN(std::optional<model::Activity> existing, Owned(candidate));
  if (existing) {
    return Status::AlreadyExists(fmt::format("activity {} already carries UID {}", candidate, uid));
  }
  // The digest's mapping is this side's own when both map with the defaults
  // (ParseEvent is a function of the text and the options); the store changes
  // no modeled field, so the hash of the stored activity is the digest's.
  if (!content_hash.empty() && MapsWithDefaults()) {
    return CreateActivity(uid, activity, content_hash);
  }
  TANDEM_ASSIGN_OR_RETURN(ical::Event e, ical::ParseEvent(ical, o_.map));
  return CreateActivity(uid, std::move(e.activity), "");
}

Result<ItemRef> CrmSide::CreateActivity(const std::string& uid, model::Activity a,
                                        const std::string& hash) {
  // A mapped id whose activity is gone (deleted, trashed) is not reused: the
  // store keeps its tombstone.
  a.meta.id = o_.ids->NewId();
  a.meta.owner_id = o_.user_id;
  a.meta.shared = false;
  a.meta.origin = o_.origin;
  TANDEM_RETURN_IF_ERROR(o_.state->PutCrmUid(o_.user_id, uid, a.meta.id));
  TANDEM_ASSIGN_OR_RETURN(model::Activity created, o_.store->Create(std::move(a)));
  return ItemRef{created.meta.id, ItemETag(created), hash.empty() ? StoredHash(created) : hash};
}

Result<ItemRef> CrmSide::Update(const std::string& href, const std::string& etag,
                                const std::string& ical) {
  TANDEM_ASSIGN_OR_RETURN(std::optional<model::Activity> current, Owned(href));
  if (!current) return Status::NotFound(fmt::format("activity {} does not exist", href));
  TANDEM_ASSIGN_OR_RETURN(std::optional<int64_t> expected, VersionOf(etag, *current));
  TANDEM_ASSIGN_OR_RETURN(ical::Event e, ical::ParseEvent(ical, o_.map));
  model::Activity a = std::move(e.activity);
  a.meta = current->meta;
  a.meta.origin = o_.origin;
  a.kind = current->kind;
  a.regarding_type = current->regarding_type;
  a.regarding_id = current->regarding_id;
  TANDEM_ASSIGN_OR_RETURN(model::Activity updated, o_.store->Update(std::move(a), expected));
  return ItemRef{updated.meta.id, ItemETag(updated), StoredHash(updated)};
}

Status CrmSide::Delete(const std::string& href, const std::string& etag) {
  TANDEM_ASSIGN_OR_RETURN(std::optional<model::Activity> current, Owned(href));
  if (!current) return Status::Ok();
  TANDEM_ASSIGN_OR_RETURN(std::optional<int64_t> expected, VersionOf(etag, *current));
  Status s = o_.store->Delete(model::EntityType::kActivity, href, expected, o_.origin);
  return s.Is(Code::kNotFound) ? Status::Ok() : s;
}

Result<std::optional<Item>> CrmSide::FindByUid(const std::string& uid) {
  TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> mapped,
                          o_.state->CrmIdForUid(o_.user_id, uid));
  TANDEM_ASSIGN_OR_RETURN(std::optional<model::Activity> a, Owned(mapped.value_or(uid)));
  if (!a) return std::optional<Item>();
  TANDEM_ASSIGN_OR_RETURN(Item item, ItemOf(*a));
  return std::optional<Item>(std::move(item));
}

}  // namespace tandem::sync
