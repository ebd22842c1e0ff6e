// CrmSide: one user's CRM activities as a CalendarSide. Items are the activities
// written as iCalendar (ical::WriteEvent) carrying X-TANDEM-CRM-ID = activity id;
// href = activity id; ETag = the activity version and creation time; cursor = the store's
// change-feed sequence (filtered to the user's activities).
//
// UIDs: an activity created in the CRM uses its id as UID; an activity created
// from an external event keeps that event's UID, recorded in the sync state
// (PutCrmUid) before the activity is written, with the activity id chosen up
// front, so a crash in between is healed by FindByUid.
//
// Incoming items are parsed with ical::ParseEvent (multi-day rule S5 from the
// options); an update keeps what the CRM owns and iCalendar does not carry (kind,
// "regarding", sharing, owner) and takes ical_extra from the incoming item.
//
// Thread safety: as the Store and SyncStateStore given (both thread-safe).
#pragma once

#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "ical/ical.h"
#include "store/store.h"
#include "store/sync_state.h"
#include "sync/calendar_side.h"

namespace tandem::sync {

struct CrmSideOptions {
  store::Store* store = nullptr;           // REQUIRED
  store::SyncStateStore* state = nullptr;  // REQUIRED (UID map)
  IdGenerator* ids = nullptr;              // REQUIRED (ids of activities created from events)
  std::string user_id;                     // REQUIRED
  ical::MapOptions map;                    // multi-day rule, default zone
  int page_size = 1000;
  // The sync pair this side serves, when it serves one: an incremental listing
  // then leaves out the activities at the version the pair's status recorded
  // (unchanged since the pair wrote or last saw them; the run after an import
  // would otherwise render and digest every activity it created, only to find
  // them equal). Pending items still reach the engine through GetMany.
  std::string pair_id;
  // The origin of this side's writes in the change feed (RecordMeta::origin):
  // "sync:<pair id>" for a run, so that its own writes do not trigger it again.
  std::string origin;
};

class CrmSide final : public CalendarSide {
 public:
  explicit CrmSide(CrmSideOptions options) : o_(std::move(options)) {}

  // "crm:<store epoch>:<user id>"
  Result<std::string> Identity() override;
  // "" lists every activity of the user (not limited to the window, so that a
  // complete listing never reports an item outside the window as deleted).
  Result<ChangeSet> ChangesSince(const std::string& cursor, const TimeRange& window) override;
  // The same, a page of activities at a time.
  Result<ChangeSet> StreamChangesSince(const std::string& cursor, const TimeRange& window,
                                       const ItemSink& sink) override;
  Result<std::vector<Item>> GetMany(const std::vector<std::string>& hrefs) override;
  Result<ItemRef> Create(const std::string& uid, const std::string& ical) override;
  // Takes the digest's activity and hash when this side maps with the default
  // options (the digest's); else reads `ical` as Create does.
  Result<ItemRef> CreateMapped(const std::string& uid, const std::string& ical,
                               const model::Activity& activity,
                               const std::string& content_hash) override;
  Result<ItemRef> Update(const std::string& href, const std::string& etag,
                         const std::string& ical) override;
  Status Delete(const std::string& href, const std::string& etag) override;
  Result<std::optional<Item>> FindByUid(const std::string& uid) override;

  // The item for one activity (exposed for the trash and tests).
  Result<Item> ItemOf(const model::Activity& a);
  // How a stored activity is written under `uid`: its id as X-TANDEM-CRM-ID, its
  // times as DTSTAMP/CREATED/LAST-MODIFIED (also the CalDAV server's task list).
  static ical::WriteOptions WriteOptionsFor(const model::Activity& a, std::string uid);
  // Items' ETags carry the activity's version and creation time: the version
  // alone starts again at 1 when a deleted activity's id is created anew (offline
  // mutations, imports with ids), and the engine trusts an ETag it recorded to
  // mean unchanged content.
  static std::string ItemETag(const model::Activity& a);

 private:
  Result<std::optional<model::Activity>> Owned(const std::string& id);
  // The version an ETag expects of `current`: PreconditionFailed when it names
  // an earlier life of the id. A plain version (older status rows) is accepted.
  static Result<std::optional<int64_t>> VersionOf(const std::string& etag,
                                                  const model::Activity& current);
  // The digest's content hash of a stored activity, "" when it must be read back.
  std::string StoredHash(const model::Activity& a) const;
  bool MapsWithDefaults() const;
  // Create's work once the text is mapped: `hash` is the activity's content
  // hash when known ("": computed as StoredHash does).
  Result<ItemRef> CreateActivity(const std::string& uid, model::Activity a,
                                 const std::string& hash);

  CrmSideOptions o_;
};

}  // namespace tandem::sync
