// CalDavCalendar: one CalDAV calendar collection as a sync::CalendarSide.
//
//   CalDavCalendarOptions options;
//   options.calendar_url = "https://dav.example.test/alice/work/";
//   options.http.auth = http::Auth::Basic("alice", password);
//   TANDEM_ASSIGN_OR_RETURN(auto calendar, CalDavCalendar::Open(std::move(options)));
//   TANDEM_ASSIGN_OR_RETURN(sync::ChangeSet changes, calendar->ChangesSince(cursor, window));
//
// Request plan (cost grows with the changes, not the calendar):
// - servers with RFC 6578 sync-collection: one REPORT with the stored token asks
//   for getetag and calendar-data together; pages on a 507 for the collection
//   (truncated answer) with the token of that page; hrefs whose data did not come
//   inline (Xandikos never sends it there) are fetched with calendar-multiget in
//   batches; the first listing of such a server reads data with one calendar-query
//   over the window (a multiget of every href costs O(N) per href on Xandikos).
// - others: CS:getctag first (unchanged = done), then an ETag-only calendar-query
//   over the window, a diff against the listing kept in the cursor, and a
//   calendar-multiget for what changed or left the listing (gone = 404).
// Cursors are opaque strings made here ("sync1:<token>", "ctag1:<ctag>\n<etag>\t<href>...").
//
// Identity (S14): the collection URL plus, in that order of preference, the
// server's DAV:resource-id, or a marker property {urn:x-tandem:ns}calendar-instance
// that Tandem writes once with PROPPATCH (Radicale keeps it; a re-created
// collection lacks it and so gets a new identity). Servers that refuse dead
// properties (Xandikos) are identified by the URL alone; a re-created collection
// there still shows up as an invalid sync token (ResyncRequired), never as a gap.
//
// Errors: as in sync::CalendarSide; ResyncRequired when the server rejects the
// token (403/409 valid-sync-token, or a server error for the token while the
// collection itself answers); Corruption for unreadable XML; AlreadyExists on a
// create that meets an existing resource (412 or no-uid-conflict).
// Thread safety: not thread-safe (one HTTP client, cached capabilities).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "http/client.h"
#include "providers/caldav/discovery.h"
#include "sync/calendar_side.h"

namespace tandem::providers::caldav {

struct CalDavCalendarOptions {
  std::string calendar_url;  // the collection; a trailing slash is added
  http::ClientOptions http;  // auth, TLS (ca_file), timeouts, retry policy, sleeper
  int multiget_batch_size = 200;
  // DAV:limit for sync-collection pages; nullopt = let the server decide.
  std::optional<int> sync_page_size;
  // Write the identity marker when the collection has none (see above).
  bool write_identity_marker = true;
  // Makes a new marker value; null = a random UUID.
  std::function<std::string()> new_marker;
};

using sync::ItemSink;

class CalDavCalendar final : public sync::CalendarSide {
 public:
  // No network access; the first call finds out what the server supports.
  static Result<std::unique_ptr<CalDavCalendar>> Open(CalDavCalendarOptions options);
  ~CalDavCalendar() override;

  Result<std::string> Identity() override;
  Result<sync::ChangeSet> ChangesSince(const std::string& cursor,
                                       const sync::TimeRange& window) override;
  Result<std::vector<sync::Item>> GetMany(const std::vector<std::string>& hrefs) override;
  Result<sync::ItemRef> Create(const std::string& uid, const std::string& ical) override;
  Result<sync::ItemRef> Update(const std::string& href, const std::string& etag,
                               const std::string& ical) override;
  Status Delete(const std::string& href, const std::string& etag) override;
  Result<std::optional<sync::Item>> FindByUid(const std::string& uid) override;

  // ChangesSince without holding the items: each changed item goes to `sink`;
  // the returned ChangeSet has an empty `changed`. Memory stays bounded by one
  // multistatus response (for the 100,000-item first fetch).
  Result<sync::ChangeSet> StreamChangesSince(const std::string& cursor,
                                             const sync::TimeRange& window,
                                             const ItemSink& sink) override;

  // What the server said about the collection (fetched on first need, without
  // its state); kWith reads it again with ctag and sync-token.
  Result<CalendarInfo> Info(CollectionState state = CollectionState::kWithout);
  const http::ClientStats& http_stats() const { return client_.stats(); }
  const std::string& url() const { return url_; }

  // The href Create uses for `uid` (collection path + encoded UID + ".ics").
  std::string HrefForUid(const std::string& uid) const;

 private:
  explicit CalDavCalendar(CalDavCalendarOptions options);
  struct Listing;
  class Collector;

  // Chooses full listing, sync-collection or ctag by the cursor's form and gathers
  // into `out`; the warnings are moved into the result.
  Result<sync::ChangeSet> ListInto(const std::string& cursor, const sync::TimeRange& window,
                                   Collector& out);
  Result<sync::ChangeSet> FullListing(const sync::TimeRange& window, Collector& out);
  Result<sync::ChangeSet> SyncSince(const std::string& token, Collector& out);
  Result<sync::ChangeSet> CtagSince(const std::string& cursor, const sync::TimeRange& window,
                                    Collector& out);
  Status FetchByMultiget(const std::vector<std::string>& hrefs, Collector& out,
                         std::vector<std::string>* missing);
  Status CalendarQuery(const sync::TimeRange* window, std::optional<std::string> uid,
                       bool with_data, Collector& out, std::vector<std::pair<std::string, std::string>>* etags);
  std::string Absolute(const std::string& href) const;

  CalDavCalendarOptions options_;
  std::string url_;
  std::string path_;
  http::Client client_;
  std::optional<CalendarInfo> info_;
};

// Convenience for wiring (CLI, provider factory): a calendar with Basic-or-Digest
// credentials (Basic when `prefer_basic`, saving a round trip) and default options.
Result<std::unique_ptr<sync::CalendarSide>> MakeCalDavCalendar(const std::string& calendar_url,
                                                               const std::string& user,
                                                               const std::string& password,
                                                               bool prefer_basic = true);

// Extracts the UID of the first component of an iCalendar text ("" if none).
std::string IcalUid(std::string_view ical);

}  // namespace tandem::providers::caldav
