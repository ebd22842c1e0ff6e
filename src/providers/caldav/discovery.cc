#include "providers/caldav/discovery.h"

#include <algorithm>

#include <fmt/format.h>

#include "dav/requests.h"

namespace tandem::providers::caldav {

using dav::DavResponse;
using dav::kNsAppleIcal;
using dav::kNsCalDav;
using dav::kNsCalendarServer;
using dav::kNsDav;

bool CalendarInfo::SupportsReport(std::string_view name) const {
  return std::find(reports.begin(), reports.end(), name) != reports.end();
}

bool CalendarInfo::SupportsComponent(std::string_view name) const {
  return components.empty() || std::find(components.begin(), components.end(), name) != components.end();
}

std::string CollectionUrl(std::string url) {
  if (url.empty() || url.back() != '/') url.push_back('/');
  return url;
}

std::vector<dav::PropName> CollectionProps(CollectionState state) {
  std::vector<dav::PropName> props = {dav::DavProp("resourcetype"),
                                      dav::DavProp("displayname"),
                                      dav::DavProp("resource-id"),
                                      dav::DavProp("supported-report-set"),
                                      {std::string(kNsAppleIcal), "calendar-color"},
                                      dav::CalDavProp("supported-calendar-component-set")};
  if (state == CollectionState::kWith) {
    props.push_back(dav::DavProp("sync-token"));
    props.push_back({std::string(kNsCalendarServer), "getctag"});
  }
  return props;
}

CalendarInfo ToCalendarInfo(const DavResponse& response, const std::string& base) {
  CalendarInfo info;
  info.url = CollectionUrl(http::ResolveUrl(base, response.href));
  if (const dav::XmlElement* type = response.Prop(kNsDav, "resourcetype")) {
    info.is_calendar = type->Child(kNsCalDav, "calendar") != nullptr;
  }
  info.display_name = response.PropText(kNsDav, "displayname");
  info.color = response.PropText(kNsAppleIcal, "calendar-color");
  info.ctag = response.PropText(kNsCalendarServer, "getctag");
  info.sync_token = response.PropText(kNsDav, "sync-token");
  if (const dav::XmlElement* rid = response.Prop(kNsDav, "resource-id")) {
    auto hrefs = rid->Children(kNsDav, "href");
    info.resource_id = hrefs.empty() ? rid->TrimmedText() : hrefs[0]->TrimmedText();
  }
  if (const dav::XmlElement* set = response.Prop(kNsCalDav, "supported-calendar-component-set")) {
    for (const dav::XmlElement* comp : set->Children(kNsCalDav, "comp")) {
      info.components.push_back(comp->Attribute("name"));
    }
  }
  if (const dav::XmlElement* set = response.Prop(kNsDav, "supported-report-set")) {
    for (const dav::XmlElement* supported : set->Children(kNsDav, "supported-report")) {
      // RFC 3253: <supported-report><report><name/></report>; Xandikos leaves out <report>.
      const dav::XmlElement* report = supported->Child(kNsDav, "report");
      for (const auto& r : (report ? report : supported)->children) info.reports.push_back(r.name);
    }
  }
  return info;
}

Result<dav::Multistatus> Propfind(http::Client& client, const std::string& url, int depth,
                                  const std::vector<dav::PropName>& props) {
  http::Request request;
  request.method = "PROPFIND";
  request.url = url;
  request.headers.Add("Depth", std::to_string(depth));
  request.headers.Add("Content-Type", "application/xml; charset=utf-8");
  request.body = dav::PropfindBody(props);
  TANDEM_ASSIGN_OR_RETURN(http::Response response, client.Send(request));
  if (response.status != 207) {
    return http::StatusForHttpError(response, "PROPFIND " + url);
  }
  auto ms = dav::ParseMultistatus(response.body);
  if (!ms.ok()) return ms.status().WithContext("PROPFIND " + url);
  return ms;
}

Result<CalendarInfo> ReadCollection(http::Client& client, const std::string& url,
                                    CollectionState state) {
  std::string collection = CollectionUrl(url);
  TANDEM_ASSIGN_OR_RETURN(dav::Multistatus ms, Propfind(client, collection, 0, CollectionProps(state)));
  for (const auto& r : ms.responses) {
    if (dav::SameHref(r.href, http::UrlPath(collection))) return ToCalendarInfo(r, collection);
  }
  if (ms.responses.size() == 1) return ToCalendarInfo(ms.responses[0], collection);
  return Status::Corruption("PROPFIND " + collection + ": no response for the collection itself");
}

Result<std::vector<CalendarInfo>> ListCalendars(http::Client& client, const std::string& home_url) {
  std::string home = CollectionUrl(home_url);
  TANDEM_ASSIGN_OR_RETURN(dav::Multistatus ms, Propfind(client, home, 1, CollectionProps()));
  std::vector<CalendarInfo> out;
  for (const auto& r : ms.responses) {
    CalendarInfo info = ToCalendarInfo(r, home);
    if (info.is_calendar) out.push_back(std::move(info));
  }
  return out;
}

namespace {

// PROPFIND Depth 0 for the principal and home-set properties at `url`.
Result<DavResponse> PrincipalProps(http::Client& client, const std::string& url,
                                   std::string* answered_url) {
  http::Request request;
  request.method = "PROPFIND";
  request.url = url;
  request.headers.Add("Depth", "0");
  request.headers.Add("Content-Type", "application/xml; charset=utf-8");
  request.body = dav::PropfindBody({dav::DavProp("current-user-principal"),
                                    dav::DavProp("resourcetype"),
                                    dav::CalDavProp("calendar-home-set")});
  TANDEM_ASSIGN_OR_RETURN(http::Response response, client.Send(request));
  if (response.status != 207) return http::StatusForHttpError(response, "PROPFIND " + url);
  auto ms = dav::ParseMultistatus(response.body);
  if (!ms.ok()) return ms.status().WithContext("PROPFIND " + url);
  if (ms->responses.empty()) return Status::Corruption("PROPFIND " + url + ": empty multistatus");
  *answered_url = response.effective_url.empty() ? url : response.effective_url;
  return ms->responses[0];
}

}  // namespace

Result<DiscoveryResult> Discover(http::Client& client, const std::string& start_url) {
  DiscoveryResult result;
  std::string origin = http::UrlOrigin(start_url);
  if (origin.empty()) return Status::InvalidArgument("not an http(s) URL: " + start_url);

  // 1. Where to start: the well-known URL for a bare server, else the URL given.
  std::string answered;
  Result<DavResponse> first = Status::NotFound("not tried");
  if (http::UrlPath(start_url) == "/") {
    first = PrincipalProps(client, origin + "/.well-known/caldav", &answered);
  }
  if (!first.ok()) {
    if (first.status().Is(Code::kUnauthenticated)) return first.status();
    first = PrincipalProps(client, start_url, &answered);
  }
  if (!first.ok()) return first.status().WithContext("CalDAV discovery at " + start_url);

  // The start URL may itself be a calendar.
  if (const dav::XmlElement* type = first->Prop(kNsDav, "resourcetype");
      type != nullptr && type->Child(kNsCalDav, "calendar") != nullptr) {
    TANDEM_ASSIGN_OR_RETURN(CalendarInfo info, ReadCollection(client, answered));
    result.calendars.push_back(std::move(info));
    return result;
  }

  // 2. The principal, then its calendar-home-set.
  DavResponse principal = *first;
  auto principal_hrefs = first->PropHrefs(kNsDav, "current-user-principal");
  if (!principal_hrefs.empty()) {
    result.principal_url = http::ResolveUrl(answered, principal_hrefs[0]);
    if (!dav::SameHref(result.principal_url, answered) ||
        principal.PropHrefs(kNsCalDav, "calendar-home-set").empty()) {
      std::string principal_answered;
      TANDEM_ASSIGN_OR_RETURN(principal,
                              PrincipalProps(client, result.principal_url, &principal_answered));
    }
  } else {
    result.principal_url = answered;
  }
  for (const auto& href : principal.PropHrefs(kNsCalDav, "calendar-home-set")) {
    result.home_set_urls.push_back(CollectionUrl(http::ResolveUrl(result.principal_url, href)));
  }
  if (result.home_set_urls.empty()) {
    return Status::NotFound("CalDAV discovery at " + start_url +
                            ": no calendar-home-set (principal " + result.principal_url + ")");
  }

  // 3. The calendars of every home.
  for (const auto& home : result.home_set_urls) {
    TANDEM_ASSIGN_OR_RETURN(auto calendars, ListCalendars(client, home));
    for (auto& c : calendars) result.calendars.push_back(std::move(c));
  }
  return result;
}

}  // namespace tandem::providers::caldav
