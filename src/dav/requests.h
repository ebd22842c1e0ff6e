// Bodies of the WebDAV/CalDAV requests Tandem sends: PROPFIND, PROPPATCH,
// sync-collection (RFC 6578), calendar-multiget and calendar-query (RFC 4791).
// Every text inserted is XML-escaped. Pure functions, reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::dav {

struct PropName {
  std::string ns;
  std::string name;
};

// Common properties.
PropName DavProp(std::string_view name);     // {DAV:}name
PropName CalDavProp(std::string_view name);  // {urn:ietf:params:xml:ns:caldav}name

std::string PropfindBody(const std::vector<PropName>& props);
// PROPPATCH setting one property to a text value.
std::string ProppatchSetBody(const PropName& prop, std::string_view value);
// sync-collection with `sync_token` ("" = initial), sync-level 1, optional limit.
std::string SyncCollectionBody(std::string_view sync_token, const std::vector<PropName>& props,
                               std::optional<int> limit = std::nullopt);
std::string CalendarMultigetBody(const std::vector<std::string>& hrefs,
                                 const std::vector<PropName>& props);

struct CalendarQuery {
  std::string component = "VEVENT";
  // iCalendar UTC date-times ("20260101T000000Z"); both empty = no time-range.
  std::string time_from;
  std::string time_to;
  // When set: only resources whose component has this UID (text-match).
  std::optional<std::string> uid;
};
std::string CalendarQueryBody(const CalendarQuery& query, const std::vector<PropName>& props);

}  // namespace tandem::dav
