// CalendarSide: what the sync engine sees of a calendar, whichever it is (the CRM
// store, a vdir folder, a CalDAV collection, later Google or Graph). Items travel
// as iCalendar text (one VCALENDAR per item: a single event, or a recurring
// series with its overridden instances); the engine maps and compares them with
// src/ical. Providers stay transport: they know nothing of CRM fields.
//
// Errors: PreconditionFailed when an ETag no longer matches (someone else changed
// the item); NotFound for an unknown href; ResyncRequired when a cursor is no
// longer accepted (the engine retries with an empty cursor, a full listing);
// Unavailable / DeadlineExceeded / ResourceExhausted for transient failures.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace tandem::model {
struct Activity;
}  // namespace tandem::model

namespace tandem::sync {

struct TimeRange {
  Instant from{};
  Instant to{};
};

struct ItemRef {
  std::string href;  // the side's own address of the item (CRM: activity id; CalDAV: path)
  std::string etag;  // may be empty when a server did not return one; the engine then re-reads
  // The codec's content hash of what the side stored, when the side knows it
  // without a read (the CRM side hashes the activity it just wrote). Empty: the
  // engine reads the item back and digests it.
  std::string content_hash;
  // The item as the side stored it, when its write's answer holds it (Google
  // and Graph answer with the event): the engine digests it instead of reading
  // the item back. Empty: read back (or content_hash above).
  std::string stored_ical;
};

struct Item {
  std::string href;
  std::string etag;
  std::string ical;  // a whole VCALENDAR
};

struct ChangeSet {
  std::vector<Item> changed;          // created or modified since the cursor, with content
  std::vector<std::string> deleted;   // hrefs removed since the cursor
  std::string next_cursor;            // pass to the next ChangesSince
  // True when this is a complete listing (empty cursor, or a server that cannot
  // say what changed): every item of the calendar is in `changed`, and known
  // items missing from it are gone.
  bool complete = false;
  // With `complete`: complete only for the items that occur within the window
  // ChangesSince was given (Microsoft Graph's calendarView). A known item
  // missing from such a listing may have left the window rather than the
  // calendar: the engine reads it (GetMany) before taking it for deleted.
  bool windowed = false;
  // Per-item problems the side met while listing (an unreadable resource, two
  // resources with one UID): reported, not fatal for the run (C8).
  std::vector<std::string> warnings;
};

// Handed each item as it arrives (streaming form of ChangesSince). An item may be
// handed twice when a transfer was restarted by a retry; the later copy wins.
using ItemSink = std::function<Status(Item&& item)>;

class CalendarSide {
 public:
  virtual ~CalendarSide() = default;

  // A stable identity of the calendar (S14): the same on every run while the
  // calendar is the same one; different when it was replaced or re-created.
  virtual Result<std::string> Identity() = 0;

  // What changed since `cursor` ("" = everything). `window` is a hint: a side that
  // has to list may limit the listing to items that may occur within it (the
  // engine filters again itself).
  virtual Result<ChangeSet> ChangesSince(const std::string& cursor, const TimeRange& window) = 0;

  // ChangesSince handing each changed item to `sink` instead of holding them all
  // (the engine's first listing of a large calendar); the returned ChangeSet has
  // an empty `changed`. The default gathers ChangesSince's result; a side with a
  // streaming transport (CalDAV) overrides it.
  virtual Result<ChangeSet> StreamChangesSince(const std::string& cursor, const TimeRange& window,
                                               const ItemSink& sink) {
    TANDEM_ASSIGN_OR_RETURN(ChangeSet cs, ChangesSince(cursor, window));
    for (Item& item : cs.changed) TANDEM_RETURN_IF_ERROR(sink(std::move(item)));
    cs.changed.clear();
    return cs;
  }

  // Current content of the given items; unknown hrefs are left out.
  virtual Result<std::vector<Item>> GetMany(const std::vector<std::string>& hrefs) = 0;

  // Creates a new item that carries `uid`. AlreadyExists when the side already holds
  // an item with that UID (the engine then pairs with it instead).
  virtual Result<ItemRef> Create(const std::string& uid, const std::string& ical) = 0;

  // Create, for a text the engine's codec has already read: `activity` is what
  // the default mapping (ical::MapOptions{}) gives for `ical`, `content_hash`
  // its ical::ContentHash. A side that maps items itself (the CRM) may take them
  // instead of reading the text again; the default ignores them.
  virtual Result<ItemRef> CreateMapped(const std::string& uid, const std::string& ical,
                                       const model::Activity& /*activity*/,
                                       const std::string& /*content_hash*/) {
    return Create(uid, ical);
  }

  // Several creations in one request where the side can (Google's batch
  // endpoint): at most CreateBatchLimit() items, the answers in their order (each
  // as Create's). A request that failed as a whole fails every item. The
  // default creates one by one.
  virtual size_t CreateBatchLimit() const { return 1; }
  virtual std::vector<Result<ItemRef>> CreateBatch(
      const std::vector<std::pair<std::string, std::string>>& uid_and_ical) {
    std::vector<Result<ItemRef>> out;
    out.reserve(uid_and_ical.size());
    for (const auto& [uid, ical] : uid_and_ical) out.push_back(Create(uid, ical));
    return out;
  }

  // Replaces an item if its ETag is still `etag` (empty etag = unconditional).
  virtual Result<ItemRef> Update(const std::string& href, const std::string& etag,
                                 const std::string& ical) = 0;

  // Deletes an item if its ETag is still `etag` (empty = unconditional). Deleting a
  // missing item is OK (already gone).
  virtual Status Delete(const std::string& href, const std::string& etag) = 0;

  // The item carrying `uid`, if any (to heal a creation interrupted by a crash).
  virtual Result<std::optional<Item>> FindByUid(const std::string& uid) = 0;
};

}  // namespace tandem::sync
