#include "providers/google/google_calendar.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>

#include "ical/ical.h"
#include "oauth/oauth.h"

namespace tandem::providers::google {
namespace {

using nlohmann::json;

std::string Text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string DateIso(Instant t) {
  return fmt::format("{:%Y-%m-%d}", fmt::gmtime(static_cast<std::time_t>(ToUnixSeconds(t))));
}

// A start or end: {"date": "2026-12-01"} or {"dateTime": RFC 3339, "timeZone": ...}.
Result<std::string> TimeLine(const char* name, const json& t, bool* all_day) {
  if (!t.is_object()) return Status::InvalidArgument(fmt::format("event {}: missing", name));
  if (t.contains("date") && t["date"].is_string()) {
    std::string d = t["date"].get<std::string>();
    d.erase(std::remove(d.begin(), d.end(), '-'), d.end());
    if (d.size() != 8) return Status::InvalidArgument(fmt::format("event {}.date: not a date", name));
    *all_day = true;
    return fmt::format("{};VALUE=DATE:{}\r\n", name, d);
  }
  TANDEM_ASSIGN_OR_RETURN(Instant at, ParseRfc3339(Text(t, "dateTime")));
  *all_day = false;
  return fmt::format("{}:{}\r\n", name, FormatBasicUtc(at));
}

Status ApiError(int status, const std::string& body, std::string_view what) {
  std::string message, reason;
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    message = Text(j["error"], "message");
    if (j["error"].contains("errors") && j["error"]["errors"].is_array() &&
        !j["error"]["errors"].empty() && j["error"]["errors"][0].is_object())
      reason = Text(j["error"]["errors"][0], "reason");
  }
  const std::string said =
      fmt::format("Google Calendar answered {} to {}{}{}", status, what,
                  message.empty() ? "" : ": " + message, reason.empty() ? "" : " (" + reason + ")");
  switch (status) {
    case 400: return Status::InvalidArgument(said);
    case 401: return Status::Unauthenticated(said);
    case 403: return reason.find("ateLimit") != std::string::npos ? Status::ResourceExhausted(said)
                                                                  : Status::PermissionDenied(said);
    case 404: return Status::NotFound(said);
    case 409: return Status::AlreadyExists(said);
    case 410: return Status::ResyncRequired(said);
    case 412: return Status::PreconditionFailed(said);
    case 429: return Status::ResourceExhausted(said);
    default: return status >= 500 ? Status::Unavailable(said) : Status::Internal(said);
  }
}

bool RateLimited(int status, const std::string& body) {
  if (status == 429) return true;
  if (status != 403) return false;
  return body.find("rateLimitExceeded") != std::string::npos ||
         body.find("userRateLimitExceeded") != std::string::npos;
}

}  // namespace

namespace {

// RECURRENCE-ID / EXDATE value of an instance's originalStartTime.
Result<std::string> OriginalStart(const json& x, bool* date) {
  const json o = x.value("originalStartTime", json::object());
  if (o.contains("date") && o["date"].is_string()) {
    std::string d = o["date"].get<std::string>();
    d.erase(std::remove(d.begin(), d.end(), '-'), d.end());
    *date = true;
    return d;
  }
  TANDEM_ASSIGN_OR_RETURN(Instant at, ParseRfc3339(Text(o, "dateTime")));
  *date = false;
  return FormatBasicUtc(at);
}

// One changed instance of a series as an overriding VEVENT.
Result<std::string> OverrideBlock(const json& x, const std::string& uid) {
  bool date = false, all_day = false;
  TANDEM_ASSIGN_OR_RETURN(std::string rid, OriginalStart(x, &date));
  std::string v = "BEGIN:VEVENT\r\nUID:" + ical::EscapeText(uid) + "\r\n";
  v += date ? "RECURRENCE-ID;VALUE=DATE:" + rid + "\r\n" : "RECURRENCE-ID:" + rid + "\r\n";
  TANDEM_ASSIGN_OR_RETURN(std::string start, TimeLine("DTSTART", x.value("start", json()), &all_day));
  v += start;
  if (x.contains("end")) {
    TANDEM_ASSIGN_OR_RETURN(std::string end, TimeLine("DTEND", x["end"], &all_day));
    v += end;
  }
  if (!Text(x, "summary").empty()) v += "SUMMARY:" + ical::EscapeText(Text(x, "summary")) + "\r\n";
  if (!Text(x, "location").empty()) v += "LOCATION:" + ical::EscapeText(Text(x, "location")) + "\r\n";
  if (!Text(x, "description").empty()) v += "DESCRIPTION:" + ical::EscapeText(Text(x, "description")) + "\r\n";
  if (auto u = ParseRfc3339(Text(x, "updated")); u.ok())
    v += "LAST-MODIFIED:" + FormatBasicUtc(*u) + "\r\nDTSTAMP:" + FormatBasicUtc(*u) + "\r\n";
  if (x.contains("sequence") && x["sequence"].is_number_integer())
    v += fmt::format("SEQUENCE:{}\r\n", x["sequence"].get<int64_t>());
  v += "END:VEVENT\r\n";
  return v;
}

}  // namespace

Result<std::string> EventToIcal(const std::string& event_json,
                                const std::vector<std::string>& exceptions) {
  json e = json::parse(event_json, nullptr, false);
  if (!e.is_object()) return Status::Corruption("Google event: not a JSON object");
  const std::string uid = Text(e, "iCalUID").empty() ? Text(e, "id") : Text(e, "iCalUID");
  if (uid.empty()) return Status::Corruption("Google event: no id");
  json priv = e.contains("extendedProperties") && e["extendedProperties"].is_object() &&
                      e["extendedProperties"].contains("private") &&
                      e["extendedProperties"]["private"].is_object()
                  ? e["extendedProperties"]["private"]
                  : json::object();
  std::string v = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Tandem//Google Calendar//EN\r\n"
                  "BEGIN:VEVENT\r\nUID:" + ical::EscapeText(uid) + "\r\n";
  bool all_day = false, end_all_day = false;
  TANDEM_ASSIGN_OR_RETURN(std::string start, TimeLine("DTSTART", e.value("start", json()), &all_day));
  v += start;
  if (e.contains("end")) {
    TANDEM_ASSIGN_OR_RETURN(std::string end, TimeLine("DTEND", e["end"], &end_all_day));
    v += end;
  }
  if (!Text(e, "summary").empty()) v += "SUMMARY:" + ical::EscapeText(Text(e, "summary")) + "\r\n";
  if (!Text(e, "location").empty()) v += "LOCATION:" + ical::EscapeText(Text(e, "location")) + "\r\n";
  if (!Text(e, "description").empty()) v += "DESCRIPTION:" + ical::EscapeText(Text(e, "description")) + "\r\n";
  if (e.contains("recurrence") && e["recurrence"].is_array())
    for (const auto& line : e["recurrence"])
      if (line.is_string()) v += line.get<std::string>() + "\r\n";
  // The series' changed instances: a cancelled one is an EXDATE, a moved or
  // edited one an overriding VEVENT (RECURRENCE-ID), after the master.
  std::string overrides;
  for (const std::string& text : exceptions) {
    json x = json::parse(text, nullptr, false);
    if (!x.is_object()) continue;
    if (Text(x, "status") == "cancelled") {
      bool date = false;
      auto rid = OriginalStart(x, &date);
      if (rid.ok()) v += (date ? "EXDATE;VALUE=DATE:" : "EXDATE:") + *rid + "\r\n";
      continue;
    }
    auto block = OverrideBlock(x, uid);
    if (block.ok()) overrides += *block;
  }
  v += Text(e, "transparency") == "transparent" ? "TRANSP:TRANSPARENT\r\n" : "TRANSP:OPAQUE\r\n";
  if (!Text(priv, "tandemShowAs").empty()) {
    static const std::map<std::string, std::string> kBusy = {
        {"tentative", "TENTATIVE"}, {"out-of-office", "OOF"}, {"working-elsewhere", "WORKINGELSEWHERE"}};
    auto it = kBusy.find(Text(priv, "tandemShowAs"));
    if (it != kBusy.end()) v += "X-MICROSOFT-CDO-BUSYSTATUS:" + it->second + "\r\n";
  }
  const std::string visibility = Text(e, "visibility");
  if (visibility == "private") v += "CLASS:PRIVATE\r\n";
  if (visibility == "confidential") v += "CLASS:CONFIDENTIAL\r\n";
  if (Text(priv, "tandemCancelled") == "true") v += "STATUS:CANCELLED\r\n";
  else if (Text(e, "status") == "tentative") v += "STATUS:TENTATIVE\r\n";
  if (e.contains("sequence") && e["sequence"].is_number_integer())
    v += fmt::format("SEQUENCE:{}\r\n", e["sequence"].get<int64_t>());
  if (auto c = ParseRfc3339(Text(e, "created")); c.ok()) v += "CREATED:" + FormatBasicUtc(*c) + "\r\n";
  if (auto u = ParseRfc3339(Text(e, "updated")); u.ok()) {
    v += "LAST-MODIFIED:" + FormatBasicUtc(*u) + "\r\nDTSTAMP:" + FormatBasicUtc(*u) + "\r\n";
  }
  if (!Text(priv, "tandemCrmId").empty()) v += "X-TANDEM-CRM-ID:" + Text(priv, "tandemCrmId") + "\r\n";
  if (e.contains("reminders") && e["reminders"].is_object() &&
      e["reminders"].contains("overrides") && e["reminders"]["overrides"].is_array()) {
    for (const auto& r : e["reminders"]["overrides"]) {
      if (!r.is_object() || !r.contains("minutes") || !r["minutes"].is_number_integer()) continue;
      if (Text(r, "method") != "popup" && !Text(r, "method").empty()) continue;
      v += fmt::format("BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT{}M\r\n"
                       "END:VALARM\r\n",
                       r["minutes"].get<int64_t>());
      break;  // the CRM keeps one reminder
    }
  }
  v += "END:VEVENT\r\n" + overrides + "END:VCALENDAR\r\n";
  // Read back through the iCalendar layer and written again in the event's own
  // zone, so that local times, DST and recurrence read as on Google.
  TANDEM_ASSIGN_OR_RETURN(ical::Event parsed, ical::ParseEvent(v, ical::MapOptions{}));
  const std::string zone = Text(e.value("start", json::object()), "timeZone");
  if (!all_day && !zone.empty()) {
    if (auto z = ical::ResolveZoneName(zone); z.ok()) parsed.activity.time_zone = *z;
  }
  return ical::WriteEvent(parsed.activity,
                          ical::WriteOptions{.uid = parsed.uid,
                                             .crm_id = parsed.crm_id,
                                             .sequence = parsed.sequence,
                                             .dtstamp = parsed.last_modified.value_or(Instant{}),
                                             .created = parsed.created,
                                             .last_modified = parsed.last_modified});
}

Result<std::string> IcalToEvent(const std::string& ical, const std::string& uid) {
  TANDEM_ASSIGN_OR_RETURN(ical::Event ev, ical::ParseEvent(ical, ical::MapOptions{}));
  const model::Activity& a = ev.activity;
  json e = json::object();
  e["iCalUID"] = uid;
  e["summary"] = a.subject;
  e["location"] = a.location;
  e["description"] = a.description;
  const std::string zone = a.time_zone.empty() ? "UTC" : a.time_zone;
  if (a.all_day) {
    e["start"] = {{"date", DateIso(a.start)}};
    e["end"] = {{"date", DateIso(std::max(a.end, a.start + std::chrono::days(1)))}};
  } else {
    e["start"] = {{"dateTime", FormatRfc3339(a.start)}, {"timeZone", zone}};
    e["end"] = {{"dateTime", FormatRfc3339(std::max(a.end, a.start))}, {"timeZone", zone}};
  }
  json recurrence = json::array();
  if (!a.rrule.empty()) recurrence.push_back("RRULE:" + a.rrule);
  auto dates = [&](const char* name, const std::vector<Instant>& list) {
    if (list.empty()) return;
    std::string line = a.all_day ? std::string(name) + ";VALUE=DATE:" : std::string(name) + ":";
    for (size_t i = 0; i < list.size(); ++i)
      line += (i ? "," : "") + (a.all_day ? FormatBasicDate(list[i]) : FormatBasicUtc(list[i]));
    recurrence.push_back(line);
  };
  dates("EXDATE", a.exdates);
  dates("RDATE", a.rdates);
  if (!recurrence.empty()) e["recurrence"] = recurrence;
  e["transparency"] = a.show_as == model::ShowAs::kFree ? "transparent" : "opaque";
  e["visibility"] = a.is_private ? "private" : "default";
  json priv = json::object();
  if (!ev.crm_id.empty()) priv["tandemCrmId"] = ev.crm_id;
  switch (a.show_as) {
    case model::ShowAs::kTentative: priv["tandemShowAs"] = "tentative"; break;
    case model::ShowAs::kOutOfOffice: priv["tandemShowAs"] = "out-of-office"; break;
    case model::ShowAs::kWorkingElsewhere: priv["tandemShowAs"] = "working-elsewhere"; break;
    default: break;
  }
  // Google has no "cancelled but shown": its "cancelled" means deleted.
  if (a.cancelled) priv["tandemCancelled"] = "true";
  e["extendedProperties"] = {{"private", priv}};
  json overrides = json::array();
  if (a.reminder_minutes) overrides.push_back({{"method", "popup"}, {"minutes", *a.reminder_minutes}});
  e["reminders"] = {{"useDefault", false}, {"overrides", overrides}};
  return e.dump();
}

namespace {

// A write's answer as the engine would read the event back: a single event's
// whole text (a series is read back, its instances being apart).
sync::ItemRef Written(const json& e, const std::string& href) {
  sync::ItemRef ref{href, Text(e, "etag")};
  if (!e.contains("recurrence")) {
    if (auto text = EventToIcal(e.dump()); text.ok()) ref.stored_ical = std::move(*text);
  }
  return ref;
}

}  // namespace

GoogleCalendar::GoogleCalendar(GoogleCalendarOptions options) : o_(std::move(options)) {
  http_ = std::make_unique<http::Client>(o_.http);
}
GoogleCalendar::~GoogleCalendar() = default;

std::string GoogleCalendar::EventsPath() const {
  return "/calendars/" + oauth::PercentEncode(o_.calendar_id) + "/events";
}

Result<GoogleCalendar::Answer> GoogleCalendar::Call(const std::string& method,
                                                    const std::string& path_and_query,
                                                    const std::string& body,
                                                    const std::string& if_match) {
  return CallUrl(method, o_.api_base + path_and_query, body, if_match,
                 "application/json; charset=utf-8");
}

Result<GoogleCalendar::Answer> GoogleCalendar::CallUrl(const std::string& method,
                                                       const std::string& url,
                                                       const std::string& body,
                                                       const std::string& if_match,
                                                       const std::string& content_type) {
  if (!o_.access_token) return Status::InvalidArgument("Google Calendar: no access token source");
  http::Request req;
  req.method = method;
  req.url = url;
  req.headers.Set("Accept", "application/json");
  if (!body.empty()) {
    req.headers.Set("Content-Type", content_type);
    req.body = body;
  }
  if (!if_match.empty()) req.headers.Set("If-Match", if_match);
  oauth::BearerCall call{.access_token = o_.access_token,
                         .token_rejected = o_.token_rejected,
                         .throttled = [](const http::Response& r) { return RateLimited(r.status, r.body); },
                         .attempts = o_.rate_limit_attempts,
                         .sleeper = o_.http.sleeper,
                         .random = o_.random};
  TANDEM_ASSIGN_OR_RETURN(http::Response r, oauth::SendWithBearer(*http_, std::move(req), call, &requests_));
  return Answer{r.status, std::move(r.body), std::move(r.headers)};
}

Result<std::string> GoogleCalendar::Identity() {
  TANDEM_ASSIGN_OR_RETURN(Answer a, Call("GET", "/calendars/" + oauth::PercentEncode(o_.calendar_id)));
  if (a.status != 200) return ApiError(a.status, a.body, "the calendar");
  json j = json::parse(a.body, nullptr, false);
  const std::string id = j.is_object() ? Text(j, "id") : "";
  if (id.empty()) return Status::Corruption("Google Calendar: the calendar has no id");
  return "google:" + id;
}

Result<sync::ChangeSet> GoogleCalendar::ChangesSince(const std::string& cursor,
                                                     const sync::TimeRange&) {
  sync::ChangeSet out;
  std::string base = EventsPath() + fmt::format("?maxResults={}", std::clamp(o_.page_size, 1, 2500));
  if (cursor.empty()) {
    out.complete = true;
    base += "&singleEvents=false&showDeleted=false";
  } else if (cursor.starts_with("sync:")) {
    // With syncToken Google refuses timeMin/timeMax, q, orderBy, iCalUID and the
    // extended-property filters; deleted events always come back (cancelled).
    base += "&syncToken=" + oauth::PercentEncode(cursor.substr(5));
  } else {
    return Status::ResyncRequired("Google Calendar: not a sync cursor: " + cursor);
  }
  std::map<std::string, std::vector<std::string>> instances;  // master id -> its changed instances
  std::map<std::string, std::string> masters;                 // id -> the master's JSON
  std::map<std::string, std::string> etags;                   // id -> the master's etag
  std::vector<std::string> order;                             // master ids as listed
  std::string page_token;
  for (;;) {
    TANDEM_ASSIGN_OR_RETURN(
        Answer a, Call("GET", base + (page_token.empty() ? "" : "&pageToken=" + oauth::PercentEncode(page_token))));
    if (a.status == 410) {
      return Status::ResyncRequired(
          "Google Calendar: the sync token expired (410); listing everything again");
    }
    if (a.status != 200) return ApiError(a.status, a.body, "the event listing");
    json j = json::parse(a.body, nullptr, false);
    if (!j.is_object()) return Status::Corruption("Google Calendar: the listing is not JSON");
    if (!j.contains("items") || !j["items"].is_array()) j["items"] = json::array();
    for (const auto& e : j["items"]) {  // by reference: a page holds up to 2,500 events
      if (!e.is_object()) continue;
      const std::string id = Text(e, "id");
      if (id.empty()) continue;
      if (!Text(e, "recurringEventId").empty()) {
        // An instance of a series: it travels with its master.
        instances[Text(e, "recurringEventId")].push_back(e.dump());
        continue;
      }
      if (Text(e, "status") == "cancelled") {
        if (!out.complete) out.deleted.push_back(id);
        continue;
      }
      if (!masters.contains(id)) order.push_back(id);
      masters[id] = e.dump();
      etags[id] = Text(e, "etag");
    }
    page_token = Text(j, "nextPageToken");
    if (page_token.empty()) {
      out.next_cursor = "sync:" + Text(j, "nextSyncToken");
      if (Text(j, "nextSyncToken").empty())
        return Status::Corruption("Google Calendar: the last page has no nextSyncToken");
      break;
    }
  }
  // An incremental listing names only what changed: a series with a changed
  // instance (or a changed series) is read whole, master and instances.
  if (!out.complete) {
    for (const auto& [master_id, list] : instances) {
      if (!masters.contains(master_id)) order.push_back(master_id);
      masters[master_id];  // read below
    }
  }
  std::set<std::string> deleted(out.deleted.begin(), out.deleted.end());
  for (const std::string& id : order) {
    if (deleted.contains(id)) continue;
    std::string master = std::move(masters[id]);
    std::vector<std::string> list = std::move(instances[id]);
    std::string etag = etags[id];
    if (!out.complete) {
      json m = master.empty() ? json() : json::parse(master, nullptr, false);
      const bool series = master.empty() || (m.is_object() && m.contains("recurrence"));
      if (series) {
        auto whole = Series(id, m.is_object() ? Text(m, "iCalUID") : "");
        if (!whole.ok()) return whole.status();
        if (!whole->first.has_value()) continue;  // gone meanwhile
        master = *whole->first;
        list = std::move(whole->second);
        json w = json::parse(master, nullptr, false);
        etag = w.is_object() ? Text(w, "etag") : "";
      }
    }
    auto ical = EventToIcal(master, list);
    if (!ical.ok()) {
      json m = json::parse(master, nullptr, false);
      out.warnings.push_back(fmt::format("event {} (\"{}\") cannot be read: {}", id,
                                         m.is_object() ? Text(m, "summary") : "",
                                         ical.status().message()));
      continue;
    }
    out.changed.push_back(sync::Item{id, etag, std::move(*ical)});
  }
  return out;
}

Result<std::pair<std::optional<std::string>, std::vector<std::string>>> GoogleCalendar::Series(
    const std::string& master_id, const std::string& uid) {
  std::pair<std::optional<std::string>, std::vector<std::string>> out;
  std::string ical_uid = uid;
  if (ical_uid.empty()) {
    TANDEM_ASSIGN_OR_RETURN(Answer a, Call("GET", EventsPath() + "/" + oauth::PercentEncode(master_id)));
    if (a.status == 404 || a.status == 410) return out;
    if (a.status != 200) return ApiError(a.status, a.body, "an event");
    json m = json::parse(a.body, nullptr, false);
    if (!m.is_object() || Text(m, "status") == "cancelled") return out;
    ical_uid = Text(m, "iCalUID");
  }
  // The master and every instance Google keeps apart share the iCalUID.
  std::string page;
  for (int guard = 0; guard < 100; ++guard) {
    TANDEM_ASSIGN_OR_RETURN(
        Answer a, Call("GET", EventsPath() + "?showDeleted=true&maxResults=2500&iCalUID=" +
                                  oauth::PercentEncode(ical_uid) + (page.empty() ? "" : "&pageToken=" + oauth::PercentEncode(page))));
    if (a.status != 200) return ApiError(a.status, a.body, "a series");
    json j = json::parse(a.body, nullptr, false);
    if (!j.is_object()) return Status::Corruption("Google Calendar: the series is not JSON");
    for (const auto& e : j.value("items", json::array())) {
      if (!e.is_object()) continue;
      if (Text(e, "id") == master_id) {
        if (Text(e, "status") != "cancelled") out.first = e.dump();
      } else if (Text(e, "recurringEventId") == master_id) {
        out.second.push_back(e.dump());
      }
    }
    page = Text(j, "nextPageToken");
    if (page.empty()) break;
  }
  return out;
}

Result<std::vector<sync::Item>> GoogleCalendar::GetMany(const std::vector<std::string>& hrefs) {
  std::vector<sync::Item> out;
  for (const std::string& id : hrefs) {
    TANDEM_ASSIGN_OR_RETURN(Answer a, Call("GET", EventsPath() + "/" + oauth::PercentEncode(id)));
    if (a.status == 404 || a.status == 410) continue;
    if (a.status != 200) return ApiError(a.status, a.body, "an event");
    json e = json::parse(a.body, nullptr, false);
    if (!e.is_object() || Text(e, "status") == "cancelled") continue;
    std::vector<std::string> list;
    if (e.contains("recurrence")) {
      TANDEM_ASSIGN_OR_RETURN(auto whole, Series(id, Text(e, "iCalUID")));
      list = std::move(whole.second);
    }
    TANDEM_ASSIGN_OR_RETURN(std::string ical, EventToIcal(a.body, list));
    out.push_back(sync::Item{id, Text(e, "etag"), std::move(ical)});
  }
  return out;
}

Result<sync::ItemRef> GoogleCalendar::Create(const std::string& uid, const std::string& ical) {
  TANDEM_ASSIGN_OR_RETURN(std::string body, IcalToEvent(ical, uid));
  TANDEM_ASSIGN_OR_RETURN(Answer a, Call("POST", EventsPath(), body));
  if (a.status == 409)
    return Status::AlreadyExists("Google Calendar: an event with UID " + uid + " exists");
  if (a.status != 200 && a.status != 201) return ApiError(a.status, a.body, "a new event");
  json e = json::parse(a.body, nullptr, false);
  if (!e.is_object() || Text(e, "id").empty())
    return Status::Corruption("Google Calendar: the new event has no id");
  TANDEM_RETURN_IF_ERROR(WriteInstances(Text(e, "id"), ical));
  return Written(e, Text(e, "id"));
}

Status GoogleCalendar::WriteInstances(const std::string& master_id, const std::string& ical) {
  TANDEM_ASSIGN_OR_RETURN(ical::Event ev, ical::ParseEvent(ical, ical::MapOptions{}));
  if (ev.activity.rrule.empty()) return Status::Ok();
  TANDEM_ASSIGN_OR_RETURN(std::vector<ical::SeriesOverride> wanted, ical::Overrides(ev.activity));
  if (wanted.empty()) return Status::Ok();
  const model::Activity& a = ev.activity;
  const std::string zone = a.time_zone.empty() ? "UTC" : a.time_zone;
  // What Google holds apart already, by original start.
  TANDEM_ASSIGN_OR_RETURN(auto whole, Series(master_id, ev.uid));
  std::map<int64_t, json> held;
  for (const std::string& text : whole.second) {
    json x = json::parse(text, nullptr, false);
    if (!x.is_object()) continue;
    const json o = x.value("originalStartTime", json::object());
    Result<Instant> at = o.contains("date") ? ParseRfc3339(Text(o, "date") + "T00:00:00Z")
                                            : ParseRfc3339(Text(o, "dateTime"));
    if (at.ok()) held[ToUnixSeconds(*at)] = std::move(x);
  }
  auto time = [&](Instant t) -> json {
    if (a.all_day) return {{"date", DateIso(t)}};
    return {{"dateTime", FormatRfc3339(t)}, {"timeZone", zone}};
  };
  for (const ical::SeriesOverride& o : wanted) {
    if (o.this_and_future) continue;
    const int64_t key = ToUnixSeconds(o.recurrence_id);
    auto it = held.find(key);
    json body = json::object();
    if (!o.cancelled) {
      body["start"] = time(o.start);
      body["end"] = time(a.all_day ? std::max(o.end, o.start + std::chrono::days(1)) : o.end);
      body["summary"] = o.texts.subject.empty() ? a.subject : o.texts.subject;
      body["location"] = o.texts.location.empty() ? a.location : o.texts.location;
      body["description"] = o.texts.description.empty() ? a.description : o.texts.description;
    }
    if (it != held.end()) {  // Google holds this instance apart already
      const json& x = it->second;
      if (o.cancelled && Text(x, "status") == "cancelled") continue;
      if (!o.cancelled && Text(x, "status") != "cancelled") {
        bool same = Text(x, "summary") == body["summary"].get<std::string>() &&
                    Text(x, "location") == body["location"].get<std::string>() &&
                    Text(x, "description") == body["description"].get<std::string>();
        for (const char* k : {"start", "end"}) {
          const json have = x.value(k, json::object());
          if (a.all_day) {
            same = same && Text(have, "date") == body[k]["date"].get<std::string>();
          } else {
            auto t = ParseRfc3339(Text(have, "dateTime"));
            same = same && t.ok() && FormatRfc3339(*t) == body[k]["dateTime"].get<std::string>();
          }
        }
        if (same) continue;
      }
    }
    std::string instance_id = it != held.end() ? Text(it->second, "id") : "";
    if (instance_id.empty()) {
      const std::string original = a.all_day ? DateIso(o.recurrence_id) : FormatRfc3339(o.recurrence_id);
      TANDEM_ASSIGN_OR_RETURN(
          Answer found, Call("GET", EventsPath() + "/" + oauth::PercentEncode(master_id) +
                                        "/instances?showDeleted=true&maxResults=5&originalStart=" +
                                        oauth::PercentEncode(original)));
      if (found.status != 200) return ApiError(found.status, found.body, "a series' instance");
      json j = json::parse(found.body, nullptr, false);
      if (j.is_object())
        for (const auto& x : j.value("items", json::array()))
          if (x.is_object() && !Text(x, "id").empty()) {
            instance_id = Text(x, "id");
            break;
          }
      if (instance_id.empty()) continue;  // the rule has no such occurrence (any more)
    }
    const std::string path = EventsPath() + "/" + oauth::PercentEncode(instance_id);
    TANDEM_ASSIGN_OR_RETURN(Answer w, o.cancelled ? Call("DELETE", path) : Call("PATCH", path, body.dump()));
    if (o.cancelled && (w.status == 404 || w.status == 410)) continue;
    if (w.status != 200 && w.status != 204)
      return ApiError(w.status, w.body, o.cancelled ? "a cancelled instance" : "a changed instance");
  }
  return Status::Ok();
}

namespace {

// "https://host:port/calendar/v3" -> ("https://host:port", "/calendar/v3").
std::pair<std::string, std::string> SplitOrigin(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (path == std::string::npos) return {url, ""};
  return {url.substr(0, path), url.substr(path)};
}

struct PartAnswer {
  int status = 0;
  std::string body;
};

// A multipart/mixed batch answer: each part's embedded HTTP answer, by the
// number in its Content-ID ("response-item7").
std::map<int, PartAnswer> ParseBatch(const std::string& body, const std::string& content_type) {
  std::map<int, PartAnswer> out;
  const size_t b = content_type.find("boundary=");
  if (b == std::string::npos) return out;
  std::string boundary = content_type.substr(b + 9);
  if (auto semi = boundary.find(';'); semi != std::string::npos) boundary.resize(semi);
  if (boundary.size() >= 2 && boundary.front() == '"') boundary = boundary.substr(1, boundary.size() - 2);
  const std::string marker = "--" + boundary;
  size_t at = body.find(marker);
  while (at != std::string::npos) {
    size_t start = at + marker.size();
    if (body.compare(start, 2, "--") == 0) break;
    size_t next = body.find(marker, start);
    std::string part = body.substr(start, next == std::string::npos ? std::string::npos : next - start);
    at = next;
    // Part headers, a blank line, then the embedded answer.
    size_t split = part.find("\r\n\r\n");
    if (split == std::string::npos) continue;
    std::string headers = part.substr(0, split), inner = part.substr(split + 4);
    int index = -1;
    size_t cid = headers.find("response-item");
    if (cid != std::string::npos) index = std::atoi(headers.c_str() + cid + 13);
    if (index < 0 || !inner.starts_with("HTTP/")) continue;
    PartAnswer a;
    a.status = std::atoi(inner.c_str() + inner.find(' ') + 1);
    size_t body_at = inner.find("\r\n\r\n");
    if (body_at != std::string::npos) {
      a.body = inner.substr(body_at + 4);
      while (!a.body.empty() && (a.body.back() == '\n' || a.body.back() == '\r')) a.body.pop_back();
    }
    out[index] = std::move(a);
  }
  return out;
}

}  // namespace

std::vector<Result<sync::ItemRef>> GoogleCalendar::CreateBatch(
    const std::vector<std::pair<std::string, std::string>>& items) {
  std::vector<Result<sync::ItemRef>> out(items.size(), Status::Internal("not sent"));
  auto [origin, api_path] = SplitOrigin(o_.api_base);
  const std::string boundary = "tandem_batch_boundary";
  std::string body;
  std::vector<bool> sent(items.size(), false);
  for (size_t i = 0; i < items.size(); ++i) {
    auto event = IcalToEvent(items[i].second, items[i].first);
    if (!event.ok()) {
      out[i] = event.status();
      continue;
    }
    sent[i] = true;
    body += fmt::format(
        "--{}\r\nContent-Type: application/http\r\nContent-ID: <item{}>\r\n\r\nPOST {}{} "
        "HTTP/1.1\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{}\r\n",
        boundary, i, api_path, EventsPath(), *event);
  }
  body += "--" + boundary + "--\r\n";
  auto answer = CallUrl("POST", origin + "/batch" + api_path, body, "",
                        "multipart/mixed; boundary=" + boundary);
  if (!answer.ok() || answer->status != 200) {
    Status s = answer.ok() ? ApiError(answer->status, answer->body, "a batch of new events")
                           : answer.status();
    for (size_t i = 0; i < items.size(); ++i)
      if (sent[i]) out[i] = s;
    return out;
  }
  std::map<int, PartAnswer> parts =
      ParseBatch(answer->body, answer->headers.Get("Content-Type").value_or(""));
  for (size_t i = 0; i < items.size(); ++i) {
    if (!sent[i]) continue;
    auto it = parts.find(static_cast<int>(i));
    if (it == parts.end()) {
      out[i] = Status::Unavailable("Google Calendar: the batch answer has no part for item " +
                                   std::to_string(i));
      continue;
    }
    const PartAnswer& a = it->second;
    if (a.status == 409) {
      out[i] = Status::AlreadyExists("Google Calendar: an event with UID " + items[i].first + " exists");
    } else if (a.status != 200 && a.status != 201) {
      out[i] = ApiError(a.status, a.body, "a new event (in a batch)");
    } else {
      json e = json::parse(a.body, nullptr, false);
      if (!e.is_object() || Text(e, "id").empty()) {
        out[i] = Status::Corruption("Google Calendar: a batch part holds no event");
      } else {
        out[i] = Written(e, Text(e, "id"));
        if (Status s = WriteInstances(Text(e, "id"), items[i].second); !s.ok()) out[i] = s;
      }
    }
  }
  return out;
}

Result<sync::ItemRef> GoogleCalendar::Update(const std::string& href, const std::string& etag,
                                             const std::string& ical) {
  TANDEM_ASSIGN_OR_RETURN(ical::Event ev, ical::ParseEvent(ical, ical::MapOptions{}));
  TANDEM_ASSIGN_OR_RETURN(std::string body, IcalToEvent(ical, ev.uid));
  TANDEM_ASSIGN_OR_RETURN(Answer a, Call("PUT", EventsPath() + "/" + oauth::PercentEncode(href), body, etag));
  if (a.status == 404 || a.status == 410)
    return Status::NotFound("Google Calendar: event " + href + " is gone");
  if (a.status != 200) return ApiError(a.status, a.body, "an event update");
  json e = json::parse(a.body, nullptr, false);
  TANDEM_RETURN_IF_ERROR(WriteInstances(href, ical));
  return e.is_object() ? Written(e, href) : sync::ItemRef{href, ""};
}

Status GoogleCalendar::Delete(const std::string& href, const std::string& etag) {
  TANDEM_ASSIGN_OR_RETURN(Answer a, Call("DELETE", EventsPath() + "/" + oauth::PercentEncode(href), "", etag));
  if (a.status == 200 || a.status == 204 || a.status == 404 || a.status == 410) return Status::Ok();
  return ApiError(a.status, a.body, "an event deletion");
}

Result<std::optional<sync::Item>> GoogleCalendar::FindByUid(const std::string& uid) {
  TANDEM_ASSIGN_OR_RETURN(
      Answer a, Call("GET", EventsPath() + "?showDeleted=false&iCalUID=" + oauth::PercentEncode(uid)));
  if (a.status != 200) return ApiError(a.status, a.body, "a search by UID");
  json j = json::parse(a.body, nullptr, false);
  if (!j.is_object()) return Status::Corruption("Google Calendar: the search is not JSON");
  for (const auto& e : j.value("items", json::array())) {
    if (!e.is_object() || !Text(e, "recurringEventId").empty() || Text(e, "status") == "cancelled")
      continue;
    std::vector<std::string> list;
    if (e.contains("recurrence")) {
      TANDEM_ASSIGN_OR_RETURN(auto whole, Series(Text(e, "id"), uid));
      list = std::move(whole.second);
    }
    TANDEM_ASSIGN_OR_RETURN(std::string ical, EventToIcal(e.dump(), list));
    return std::optional<sync::Item>(sync::Item{Text(e, "id"), Text(e, "etag"), std::move(ical)});
  }
  return std::optional<sync::Item>();
}

}  // namespace tandem::providers::google
