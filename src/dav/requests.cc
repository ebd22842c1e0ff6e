#include "dav/requests.h"

#include <fmt/format.h>

#include "dav/xml.h"

namespace tandem::dav {
namespace {

constexpr std::string_view kHeader = R"(<?xml version="1.0" encoding="utf-8"?>)";
constexpr std::string_view kNamespaces =
    R"( xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:I="http://apple.com/ns/ical/")";

std::string Element(const PropName& p, std::string_view content = {}) {
  std::string prefix;
  std::string extra;
  if (p.ns == kNsDav) prefix = "D";
  else if (p.ns == kNsCalDav) prefix = "C";
  else if (p.ns == kNsCalendarServer) prefix = "CS";
  else if (p.ns == kNsAppleIcal) prefix = "I";
  else {
    prefix = "X";
    extra = fmt::format(R"( xmlns:X="{}")", XmlEscape(p.ns));
  }
  if (content.empty()) return fmt::format("<{}:{}{}/>", prefix, p.name, extra);
  return fmt::format("<{0}:{1}{2}>{3}</{0}:{1}>", prefix, p.name, extra, content);
}

std::string PropBlock(const std::vector<PropName>& props) {
  std::string out = "<D:prop>";
  for (const auto& p : props) out += Element(p);
  out += "</D:prop>";
  return out;
}

}  // namespace

PropName DavProp(std::string_view name) { return {std::string(kNsDav), std::string(name)}; }
PropName CalDavProp(std::string_view name) { return {std::string(kNsCalDav), std::string(name)}; }

std::string PropfindBody(const std::vector<PropName>& props) {
  return fmt::format("{}<D:propfind{}>{}</D:propfind>", kHeader, kNamespaces, PropBlock(props));
}

std::string ProppatchSetBody(const PropName& prop, std::string_view value) {
  return fmt::format("{}<D:propertyupdate{}><D:set><D:prop>{}</D:prop></D:set></D:propertyupdate>",
                     kHeader, kNamespaces, Element(prop, XmlEscape(value)));
}

std::string SyncCollectionBody(std::string_view sync_token, const std::vector<PropName>& props,
                               std::optional<int> limit) {
  std::string token = sync_token.empty() ? "<D:sync-token/>"
                                         : fmt::format("<D:sync-token>{}</D:sync-token>",
                                                       XmlEscape(sync_token));
  std::string limit_block =
      limit ? fmt::format("<D:limit><D:nresults>{}</D:nresults></D:limit>", *limit) : "";
  return fmt::format("{}<D:sync-collection{}>{}<D:sync-level>1</D:sync-level>{}{}</D:sync-collection>",
                     kHeader, kNamespaces, token, limit_block, PropBlock(props));
}

std::string CalendarMultigetBody(const std::vector<std::string>& hrefs,
                                 const std::vector<PropName>& props) {
  std::string body = fmt::format("{}<C:calendar-multiget{}>{}", kHeader, kNamespaces,
                                 PropBlock(props));
  for (const auto& href : hrefs) body += fmt::format("<D:href>{}</D:href>", XmlEscape(href));
  body += "</C:calendar-multiget>";
  return body;
}

std::string CalendarQueryBody(const CalendarQuery& query, const std::vector<PropName>& props) {
  std::string inner;
  if (!query.time_from.empty() || !query.time_to.empty()) {
    inner += "<C:time-range";
    if (!query.time_from.empty()) inner += fmt::format(R"( start="{}")", XmlEscape(query.time_from));
    if (!query.time_to.empty()) inner += fmt::format(R"( end="{}")", XmlEscape(query.time_to));
    inner += "/>";
  }
  if (query.uid) {
    inner += fmt::format(
        R"(<C:prop-filter name="UID"><C:text-match collation="i;octet">{}</C:text-match></C:prop-filter>)",
        XmlEscape(*query.uid));
  }
  return fmt::format(
      R"({}<C:calendar-query{}>{}<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="{}">{}</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>)",
      kHeader, kNamespaces, PropBlock(props), XmlEscape(query.component), inner);
}

}  // namespace tandem::dav
