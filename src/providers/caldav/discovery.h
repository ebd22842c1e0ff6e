// CalDAV discovery (RFC 6764 / RFC 4791 6.2.1 / RFC 5397) and calendar listing.
//
//   http::Client client(options);              // auth, TLS, timeouts
//   auto found = Discover(client, "https://dav.example.test");
//   for (const CalendarInfo& c : found->calendars) ...   // url, display name, ctag
//
// Discover accepts a bare server URL (tries /.well-known/caldav, then the URL
// itself), a principal URL, a calendar-home-set URL or a calendar URL.
// Errors: Unauthenticated / PermissionDenied from the server; NotFound when no
// principal or calendar home can be found; Corruption for unreadable XML;
// Unavailable / DeadlineExceeded from the network. Not thread-safe (the Client is not).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "dav/multistatus.h"
#include "dav/requests.h"
#include "http/client.h"

namespace tandem::providers::caldav {

struct CalendarInfo {
  std::string url;  // absolute, with trailing slash
  std::string display_name;
  std::string color;       // Apple calendar-color ("#RRGGBB[AA]"), may be empty
  std::string ctag;        // CS:getctag, may be empty
  std::string sync_token;  // DAV:sync-token, may be empty
  std::string resource_id; // DAV:resource-id (RFC 5842), rarely offered
  std::vector<std::string> components;  // "VEVENT", "VTODO", ...; empty = unknown
  std::vector<std::string> reports;     // local names: "sync-collection", "calendar-multiget"
  bool is_calendar = false;

  bool SupportsReport(std::string_view name) const;
  bool SupportsComponent(std::string_view name) const;  // true when unknown
};

struct DiscoveryResult {
  std::string principal_url;              // may be empty when the start URL was a calendar
  std::vector<std::string> home_set_urls;
  std::vector<CalendarInfo> calendars;    // only calendar collections
};

Result<DiscoveryResult> Discover(http::Client& client, const std::string& start_url);

// Whether to ask for a collection's state (getctag, sync-token). Some servers
// compute both over every item on each request (Radicale: 0.2 s at 1,000 items,
// 0.7 s at 10,000), so discovery and capability checks leave them out; only the
// ctag fallback of servers without sync-collection asks.
enum class CollectionState { kWithout, kWith };

// Depth-1 listing of a calendar home: every child that is a calendar collection
// (without its state).
Result<std::vector<CalendarInfo>> ListCalendars(http::Client& client, const std::string& home_url);

// Depth-0 properties of one collection (is_calendar false when it is not one).
Result<CalendarInfo> ReadCollection(http::Client& client, const std::string& url,
                                    CollectionState state = CollectionState::kWithout);

// The properties asked for by ListCalendars / ReadCollection.
std::vector<dav::PropName> CollectionProps(CollectionState state = CollectionState::kWithout);
// Builds a CalendarInfo from one multistatus response; `base` resolves its href.
CalendarInfo ToCalendarInfo(const dav::DavResponse& response, const std::string& base);

// Runs a PROPFIND and reads the whole multistatus. Non-207 answers become the
// Status of http::StatusForHttpError.
Result<dav::Multistatus> Propfind(http::Client& client, const std::string& url, int depth,
                                  const std::vector<dav::PropName>& props);

// Adds a trailing slash to a collection URL.
std::string CollectionUrl(std::string url);

}  // namespace tandem::providers::caldav
