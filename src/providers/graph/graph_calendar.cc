#include "providers/graph/graph_calendar.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "ical/ical.h"
#include "oauth/oauth.h"

namespace tandem::providers::graph {
namespace {

using nlohmann::json;
using std::chrono::days;
using std::chrono::seconds;

std::string Text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}


// FNV-1a 64: a stable digest of a body's text, kept to tell an unchanged body.
std::string Digest(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

std::string Encode(std::string_view s) { return oauth::PercentEncode(s); }

// Graph's "2027-01-04T09:00:00.0000000" in `zone` (Windows or IANA name).
Result<Instant> ReadDateTime(const json& t) {
  if (!t.is_object()) return Status::InvalidArgument("event time: missing");
  std::string dt = Text(t, "dateTime");
  if (dt.size() < 19) return Status::InvalidArgument("event time: not a dateTime: " + dt);
  dt.resize(19);
  std::string zone = Text(t, "timeZone");
  if (zone.empty() || zone == "UTC" || zone == "tzone://Microsoft/Utc") return ParseRfc3339(dt + "Z");
  TANDEM_ASSIGN_OR_RETURN(std::string iana, ical::ResolveZoneName(zone));
  ical::CivilTime c;
  if (std::sscanf(dt.c_str(), "%d-%d-%dT%d:%d:%d", &c.year, &c.month, &c.day, &c.hour, &c.minute,
                  &c.second) != 6)
    return Status::InvalidArgument("event time: not a dateTime: " + dt);
  return ical::FromCivil(c, iana);
}

// "2027-01-11T09:00:00Z" (DateTimeOffset, maybe with a fraction or an offset).
Result<Instant> ReadOffset(std::string s) {
  if (auto dot = s.find('.'); dot != std::string::npos) {
    size_t end = dot + 1;
    while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
    s.erase(dot, end - dot);
  }
  return ParseRfc3339(s);
}

std::string CivilText(const ical::CivilTime& c) {
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", c.year, c.month, c.day, c.hour,
                     c.minute, c.second);
}
std::string DateText(const ical::CivilTime& c) {
  return fmt::format("{:04d}-{:02d}-{:02d}", c.year, c.month, c.day);
}

// A time Graph takes: local wall-clock time in the zone's Windows name (or UTC).
json WriteDateTime(Instant t, const std::string& zone) {
  if (!zone.empty() && zone != "UTC") {
    auto windows = ical::WindowsZoneName(zone);
    auto civil = ical::ToCivil(t, zone);
    if (windows.ok() && civil.ok()) return {{"dateTime", CivilText(*civil)}, {"timeZone", *windows}};
  }
  auto civil = ical::ToCivil(t, "UTC");
  return {{"dateTime", civil.ok() ? CivilText(*civil) : FormatRfc3339(t)}, {"timeZone", "UTC"}};
}

Status ApiError(int status, const std::string& body, std::string_view what) {
  std::string code, message;
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    code = Text(j["error"], "code");
    message = Text(j["error"], "message");
  }
  const std::string said = fmt::format("Microsoft Graph answered {} to {}{}{}", status, what,
                                       message.empty() ? "" : ": " + message,
                                       code.empty() ? "" : " (" + code + ")");
  switch (status) {
    case 400: return Status::InvalidArgument(said);
    case 401: return Status::Unauthenticated(said);
    case 403: return Status::PermissionDenied(said);
    case 404: return Status::NotFound(said);
    case 409: return Status::AlreadyExists(said);
    case 410: return Status::ResyncRequired(said);
    case 412: return Status::PreconditionFailed(said);
    case 429: return Status::ResourceExhausted(said);
    default: return status >= 500 ? Status::Unavailable(said) : Status::Internal(said);
  }
}

// --- recurrence

const char* kDays[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
const char* kRruleDays[] = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};
const char* kIndex[] = {"first", "second", "third", "fourth"};

int DayIndex(std::string_view name, bool rrule) {
  for (int i = 0; i < 7; ++i)
    if (name == (rrule ? kRruleDays[i] : kDays[i])) return i;
  return -1;
}

int Weekday(const ical::CivilTime& c) {
  using namespace std::chrono;
  sys_days d = year_month_day{year(c.year), month(static_cast<unsigned>(c.month)),
                              day(static_cast<unsigned>(c.day))};
  return static_cast<int>(weekday(d).c_encoding());
}

std::map<std::string, std::string> RruleParts(const std::string& rrule) {
  std::map<std::string, std::string> parts;
  size_t at = 0;
  while (at <= rrule.size()) {
    size_t semi = rrule.find(';', at);
    std::string part = rrule.substr(at, semi == std::string::npos ? std::string::npos : semi - at);
    if (auto eq = part.find('='); eq != std::string::npos) parts[part.substr(0, eq)] = part.substr(eq + 1);
    if (semi == std::string::npos) break;
    at = semi + 1;
  }
  return parts;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= s.size()) {
    size_t c = s.find(',', at);
    out.push_back(s.substr(at, c == std::string::npos ? std::string::npos : c - at));
    if (c == std::string::npos) break;
    at = c + 1;
  }
  return out;
}

}  // namespace

Result<std::string> RruleToRecurrence(const std::string& rrule, Instant start, bool all_day,
                                      const std::string& zone) {
  const std::string z = all_day || zone.empty() ? "UTC" : zone;
  auto unsupported = [&rrule](const std::string& why) {
    return Status::InvalidArgument("rrule: Outlook cannot hold " + rrule + " (" + why + ")");
  };
  auto parts = RruleParts(rrule);
  for (const char* k : {"BYHOUR", "BYMINUTE", "BYSECOND", "BYYEARDAY", "BYWEEKNO", "RSCALE"})
    if (parts.contains(k)) return unsupported(std::string(k) + " has no Outlook pattern");
  TANDEM_ASSIGN_OR_RETURN(ical::CivilTime begin, ical::ToCivil(start, z));
  const std::string freq = parts["FREQ"];
  int interval = parts.contains("INTERVAL") ? std::atoi(parts["INTERVAL"].c_str()) : 1;
  if (interval < 1) return unsupported("INTERVAL");
  json pattern = {{"interval", interval}};
  // BYDAY: plain days, or one ordinal day ("2TU", "-1FR").
  std::vector<std::string> by_days;
  int ordinal = 0;
  if (parts.contains("BYDAY")) {
    for (const std::string& d : SplitComma(parts["BYDAY"])) {
      size_t letters = d.find_first_not_of("+-0123456789");
      if (letters == std::string::npos || DayIndex(d.substr(letters), true) < 0)
        return unsupported("BYDAY " + d);
      if (letters > 0) {
        if (ordinal != 0) return unsupported("several ordinal days");
        ordinal = std::atoi(d.substr(0, letters).c_str());
      }
      by_days.push_back(kDays[DayIndex(d.substr(letters), true)]);
    }
  }
  if (parts.contains("BYSETPOS")) {
    if (ordinal != 0 || by_days.empty()) return unsupported("BYSETPOS without plain days");
    ordinal = std::atoi(parts["BYSETPOS"].c_str());
  }
  auto index = [&]() -> Result<std::string> {
    if (ordinal >= 1 && ordinal <= 4) return std::string(kIndex[ordinal - 1]);
    if (ordinal == -1) return std::string("last");
    return unsupported("an occurrence index other than 1-4 or last");
  };
  auto single = [&](const char* key) -> Result<int> {
    const std::string v = parts[key];
    if (v.find(',') != std::string::npos) return unsupported(std::string("several ") + key);
    return std::atoi(v.c_str());
  };
  if (freq == "DAILY") {
    if (!by_days.empty()) {
      if (interval != 1 || ordinal != 0) return unsupported("daily with days and an interval");
      pattern["type"] = "weekly";
      pattern["daysOfWeek"] = by_days;
      pattern["firstDayOfWeek"] = "sunday";
    } else {
      pattern["type"] = "daily";
    }
  } else if (freq == "WEEKLY") {
    if (ordinal != 0) return unsupported("weekly with an ordinal day");
    pattern["type"] = "weekly";
    pattern["daysOfWeek"] = by_days.empty() ? std::vector<std::string>{kDays[Weekday(begin)]} : by_days;
    const int wkst = parts.contains("WKST") ? DayIndex(parts["WKST"], true) : 1;
    pattern["firstDayOfWeek"] = kDays[wkst < 0 ? 1 : wkst];
  } else if (freq == "MONTHLY" || freq == "YEARLY") {
    const bool yearly = freq == "YEARLY";
    if (yearly) {
      TANDEM_ASSIGN_OR_RETURN(int m, parts.contains("BYMONTH") ? single("BYMONTH") : Result<int>(begin.month));
      if (m < 1 || m > 12) return unsupported("BYMONTH");
      pattern["month"] = m;
    } else if (parts.contains("BYMONTH")) {
      return unsupported("monthly with BYMONTH");
    }
    if (!by_days.empty()) {
      if (ordinal == 0) return unsupported("days without an occurrence index");
      TANDEM_ASSIGN_OR_RETURN(std::string i, index());
      pattern["type"] = yearly ? "relativeYearly" : "relativeMonthly";
      pattern["daysOfWeek"] = by_days;
      pattern["index"] = i;
    } else {
      TANDEM_ASSIGN_OR_RETURN(int d, parts.contains("BYMONTHDAY") ? single("BYMONTHDAY")
                                                                  : Result<int>(begin.day));
      if (d < 1 || d > 31) return unsupported("BYMONTHDAY");
      pattern["type"] = yearly ? "absoluteYearly" : "absoluteMonthly";
      pattern["dayOfMonth"] = d;
    }
  } else {
    return unsupported("FREQ " + freq);
  }
  json range = {{"startDate", DateText(begin)}};
  auto windows = ical::WindowsZoneName(z);
  range["recurrenceTimeZone"] = windows.ok() ? *windows : "UTC";
  if (parts.contains("COUNT")) {
    range["type"] = "numbered";
    range["numberOfOccurrences"] = std::max(1, std::atoi(parts["COUNT"].c_str()));
  } else if (parts.contains("UNTIL")) {
    std::string u = parts["UNTIL"];
    Result<Instant> until = u.size() == 8 ? ParseRfc3339(u.substr(0, 4) + "-" + u.substr(4, 2) + "-" +
                                                         u.substr(6, 2) + "T00:00:00Z")
                                          : ParseRfc3339(u.substr(0, 4) + "-" + u.substr(4, 2) + "-" +
                                                         u.substr(6, 2) + "T" + u.substr(9, 2) + ":" +
                                                         u.substr(11, 2) + ":" + u.substr(13, 2) + "Z");
    if (!until.ok()) return unsupported("UNTIL");
    TANDEM_ASSIGN_OR_RETURN(ical::CivilTime last, ical::ToCivil(*until, u.size() == 8 ? "UTC" : z));
    range["type"] = "endDate";
    range["endDate"] = DateText(last);
  } else {
    range["type"] = "noEnd";
  }
  return json{{"pattern", pattern}, {"range", range}}.dump();
}

Result<std::string> RecurrenceToRrule(const std::string& recurrence_json, bool all_day,
                                      const std::string& zone) {
  json r = json::parse(recurrence_json, nullptr, false);
  if (!r.is_object() || !r.contains("pattern") || !r["pattern"].is_object())
    return Status::InvalidArgument("recurrence: no pattern");
  const json& p = r["pattern"];
  const json range = r.value("range", json::object());
  const std::string type = Text(p, "type");
  std::string rule;
  auto days_of = [&p](std::string* out) -> Status {
    std::string list;
    for (const auto& d : p.value("daysOfWeek", json::array())) {
      int i = d.is_string() ? DayIndex(d.get<std::string>(), false) : -1;
      if (i < 0) return Status::InvalidArgument("recurrence: unknown day " + d.dump());
      list += (list.empty() ? "" : ",") + std::string(kRruleDays[i]);
    }
    if (list.empty()) return Status::InvalidArgument("recurrence: no daysOfWeek");
    *out = list;
    return Status::Ok();
  };
  auto setpos = [&p]() -> Result<int> {
    const std::string i = Text(p, "index").empty() ? "first" : Text(p, "index");
    for (int k = 0; k < 4; ++k)
      if (i == kIndex[k]) return k + 1;
    if (i == "last") return -1;
    return Status::InvalidArgument("recurrence: unknown index " + i);
  };
  if (type == "daily") {
    rule = "FREQ=DAILY";
  } else if (type == "weekly") {
    std::string d;
    TANDEM_RETURN_IF_ERROR(days_of(&d));
    rule = "FREQ=WEEKLY;BYDAY=" + d;
    const int wkst = DayIndex(Text(p, "firstDayOfWeek"), false);
    if (wkst >= 0 && wkst != 1 && p.value("interval", 1) > 1) rule += std::string(";WKST=") + kRruleDays[wkst];
  } else if (type == "absoluteMonthly") {
    rule = fmt::format("FREQ=MONTHLY;BYMONTHDAY={}", p.value("dayOfMonth", 1));
  } else if (type == "relativeMonthly" || type == "relativeYearly") {
    std::string d;
    TANDEM_RETURN_IF_ERROR(days_of(&d));
    TANDEM_ASSIGN_OR_RETURN(int pos, setpos());
    rule = type == "relativeMonthly" ? "FREQ=MONTHLY" : fmt::format("FREQ=YEARLY;BYMONTH={}", p.value("month", 1));
    if (d.find(',') == std::string::npos) {
      rule += fmt::format(";BYDAY={}{}", pos, d);
    } else {
      rule += fmt::format(";BYDAY={};BYSETPOS={}", d, pos);
    }
  } else if (type == "absoluteYearly") {
    rule = fmt::format("FREQ=YEARLY;BYMONTH={};BYMONTHDAY={}", p.value("month", 1), p.value("dayOfMonth", 1));
  } else {
    return Status::InvalidArgument("recurrence: unknown pattern type " + type);
  }
  const int interval = p.value("interval", 1);
  if (interval > 1) rule += fmt::format(";INTERVAL={}", interval);
  const std::string rtype = Text(range, "type");
  if (rtype == "numbered") {
    rule += fmt::format(";COUNT={}", std::max(1, range.value("numberOfOccurrences", 1)));
  } else if (rtype == "endDate") {
    ical::CivilTime c;
    if (std::sscanf(Text(range, "endDate").c_str(), "%d-%d-%d", &c.year, &c.month, &c.day) != 3)
      return Status::InvalidArgument("recurrence: endDate");
    if (all_day) {
      rule += fmt::format(";UNTIL={:04d}{:02d}{:02d}", c.year, c.month, c.day);
    } else {
      // The end date's last second, wherever the series keeps its times.
      c.hour = 23, c.minute = 59, c.second = 59;
      TANDEM_ASSIGN_OR_RETURN(Instant until, ical::FromCivil(c, zone.empty() ? "UTC" : zone));
      rule += ";UNTIL=" + FormatBasicUtc(until);
    }
  }
  return rule;
}

namespace {

// One time line (DTSTART / DTEND) of an event, all-day as a DATE.
Result<std::string> TimeLine(const char* name, const json& t, bool all_day) {
  TANDEM_ASSIGN_OR_RETURN(Instant at, ReadDateTime(t));
  if (all_day) {
    std::string dt = Text(t, "dateTime").substr(0, 10);
    dt.erase(std::remove(dt.begin(), dt.end(), '-'), dt.end());
    return fmt::format("{};VALUE=DATE:{}\r\n", name, dt);
  }
  return fmt::format("{}:{}\r\n", name, FormatBasicUtc(at));
}

std::string ExtendedProperty(const json& e, const char* id) {
  for (const auto& p : e.value("singleValueExtendedProperties", json::array()))
    if (p.is_object() && Text(p, "id") == id) return Text(p, "value");
  // Graph may answer the id in another letter case.
  for (const auto& p : e.value("singleValueExtendedProperties", json::array())) {
    std::string a = Text(p, "id"), b = id;
    std::transform(a.begin(), a.end(), a.begin(), ::tolower);
    std::transform(b.begin(), b.end(), b.begin(), ::tolower);
    if (a == b) return Text(p, "value");
  }
  return "";
}

std::string BodyText(const json& e) {
  const json body = e.value("body", json::object());
  std::string content = Text(body, "content");
  if (Text(body, "contentType") == "html") {  // a text copy; normally asked as text
    std::string out;
    bool tag = false;
    for (char c : content) {
      if (c == '<') tag = true;
      else if (c == '>') tag = false;
      else if (!tag) out += c;
    }
    content = out;
  }
  content.erase(std::remove(content.begin(), content.end(), '\r'), content.end());
  while (!content.empty() && (content.back() == '\n' || content.back() == ' ')) content.pop_back();
  return content;
}

}  // namespace

namespace {

Result<std::string> EventJsonToIcal(const json& e, const std::vector<std::string>& exceptions = {},
                                    const std::vector<Instant>& exdates = {});

}  // namespace

Result<std::string> EventToIcal(const std::string& event_json, const std::vector<std::string>& exceptions,
                                const std::vector<Instant>& exdates) {
  json e = json::parse(event_json, nullptr, false);
  if (!e.is_object()) return Status::Corruption("Graph event: not a JSON object");
  return EventJsonToIcal(e, exceptions, exdates);
}

namespace {

Result<std::string> EventJsonToIcal(const json& e, const std::vector<std::string>& exceptions,
                                    const std::vector<Instant>& exdates) {
  std::string uid = Text(e, "transactionId");
  if (uid.empty()) uid = ExtendedProperty(e, kUidProperty);
  if (uid.empty()) uid = Text(e, "iCalUId");
  if (uid.empty()) uid = Text(e, "id");
  if (uid.empty()) return Status::Corruption("Graph event: no id");
  const bool all_day = e.value("isAllDay", false);
  std::string zone;
  for (const char* k : {"originalStartTimeZone"}) {
    if (auto z = ical::ResolveZoneName(Text(e, k)); z.ok()) zone = *z;
  }
  if (e.contains("recurrence") && e["recurrence"].is_object() && e["recurrence"].contains("range")) {
    if (auto z = ical::ResolveZoneName(Text(e["recurrence"]["range"], "recurrenceTimeZone")); z.ok())
      zone = *z;
  }
  std::string v = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Tandem//Microsoft Graph//EN\r\n"
                  "BEGIN:VEVENT\r\nUID:" + ical::EscapeText(uid) + "\r\n";
  TANDEM_ASSIGN_OR_RETURN(std::string start, TimeLine("DTSTART", e.value("start", json()), all_day));
  v += start;
  if (e.contains("end")) {
    TANDEM_ASSIGN_OR_RETURN(std::string end, TimeLine("DTEND", e["end"], all_day));
    v += end;
  }
  if (!Text(e, "subject").empty()) v += "SUMMARY:" + ical::EscapeText(Text(e, "subject")) + "\r\n";
  const std::string where = Text(e.value("location", json::object()), "displayName");
  if (!where.empty()) v += "LOCATION:" + ical::EscapeText(where) + "\r\n";
  const std::string text = BodyText(e);
  if (!text.empty()) v += "DESCRIPTION:" + ical::EscapeText(text) + "\r\n";
  if (e.contains("body")) v += "X-TANDEM-GRAPH-BODY:" + Digest(text) + "\r\n";
  if (e.contains("recurrence") && e["recurrence"].is_object()) {
    TANDEM_ASSIGN_OR_RETURN(std::string rule, RecurrenceToRrule(e["recurrence"].dump(), all_day, zone));
    v += "RRULE:" + rule + "\r\n";
    for (Instant x : exdates)
      v += all_day ? "EXDATE;VALUE=DATE:" + FormatBasicDate(x) + "\r\n" : "EXDATE:" + FormatBasicUtc(x) + "\r\n";
  }
  const std::string show = Text(e, "showAs");
  v += show == "free" ? "TRANSP:TRANSPARENT\r\n" : "TRANSP:OPAQUE\r\n";
  if (show == "tentative") v += "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n";
  if (show == "oof") v += "X-MICROSOFT-CDO-BUSYSTATUS:OOF\r\n";
  if (show == "workingElsewhere") v += "X-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE\r\n";
  if (show == "unknown") v += "X-TANDEM-GRAPH-SHOWAS:unknown\r\n";
  const std::string sensitivity = Text(e, "sensitivity");
  if (sensitivity == "private" || sensitivity == "personal") v += "CLASS:PRIVATE\r\n";
  if (sensitivity == "confidential") v += "CLASS:CONFIDENTIAL\r\n";
  if (sensitivity == "personal") v += "X-TANDEM-GRAPH-SENSITIVITY:personal\r\n";
  if (e.value("isCancelled", false)) v += "STATUS:CANCELLED\r\n";
  if (auto c = ReadOffset(Text(e, "createdDateTime")); c.ok()) v += "CREATED:" + FormatBasicUtc(*c) + "\r\n";
  if (auto u = ReadOffset(Text(e, "lastModifiedDateTime")); u.ok())
    v += "LAST-MODIFIED:" + FormatBasicUtc(*u) + "\r\nDTSTAMP:" + FormatBasicUtc(*u) + "\r\n";
  const std::string crm = ExtendedProperty(e, kCrmIdProperty);
  if (!crm.empty()) v += "X-TANDEM-CRM-ID:" + crm + "\r\n";
  if (e.value("isReminderOn", false) && e.contains("reminderMinutesBeforeStart") &&
      e["reminderMinutesBeforeStart"].is_number_integer())
    v += fmt::format("BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT{}M\r\nEND:VALARM\r\n",
                     e["reminderMinutesBeforeStart"].get<int64_t>());
  v += "END:VEVENT\r\n";
  for (const std::string& xt : exceptions) {
    json x = json::parse(xt, nullptr, false);
    if (!x.is_object()) continue;
    auto rid = ReadOffset(Text(x, "originalStart"));
    if (!rid.ok()) continue;
    std::string o = "BEGIN:VEVENT\r\nUID:" + ical::EscapeText(uid) + "\r\n";
    o += all_day ? "RECURRENCE-ID;VALUE=DATE:" + FormatBasicDate(*rid) + "\r\n" : "RECURRENCE-ID:" + FormatBasicUtc(*rid) + "\r\n";
    auto s = TimeLine("DTSTART", x.value("start", json()), all_day);
    auto en = TimeLine("DTEND", x.value("end", json()), all_day);
    if (!s.ok() || !en.ok()) continue;
    o += *s + *en;
    if (!Text(x, "subject").empty()) o += "SUMMARY:" + ical::EscapeText(Text(x, "subject")) + "\r\n";
    const std::string xw = Text(x.value("location", json::object()), "displayName");
    if (!xw.empty()) o += "LOCATION:" + ical::EscapeText(xw) + "\r\n";
    if (x.value("isCancelled", false)) o += "STATUS:CANCELLED\r\n";
    v += o + "END:VEVENT\r\n";
  }
  v += "END:VCALENDAR\r\n";
  // Read back through the iCalendar layer and written in the event's own zone,
  // so that local times, DST and recurrence read as in Outlook.
  TANDEM_ASSIGN_OR_RETURN(ical::Event parsed, ical::ParseEvent(v, ical::MapOptions{}));
  if (!all_day && !zone.empty()) parsed.activity.time_zone = zone;
  return ical::WriteEvent(parsed.activity,
                          ical::WriteOptions{.uid = parsed.uid,
                                             .crm_id = parsed.crm_id,
                                             .sequence = parsed.sequence,
                                             .dtstamp = parsed.last_modified.value_or(Instant{}),
                                             .created = parsed.created,
                                             .last_modified = parsed.last_modified});
}


// The X- property `name` of the event's text (first VEVENT), "" when absent.
std::string XValue(const std::string& ical, const std::string& name) {
  const size_t end = ical.find("END:VEVENT");
  size_t at = ical.find("\n" + name + ":");
  if (at == std::string::npos || at > end) return "";
  at += name.size() + 2;
  size_t eol = ical.find_first_of("\r\n", at);
  return ical.substr(at, eol - at);
}

}  // namespace

Result<std::string> IcalToEvent(const std::string& ical, const std::string& uid, bool create) {
  TANDEM_ASSIGN_OR_RETURN(ical::Event ev, ical::ParseEvent(ical, ical::MapOptions{}));
  const model::Activity& a = ev.activity;
  json e = json::object();
  e["subject"] = a.subject;
  e["location"] = {{"displayName", a.location}};
  // A body the CRM did not change is left as Outlook holds it (HTML stays HTML).
  std::string description = a.description;
  description.erase(std::remove(description.begin(), description.end(), '\r'), description.end());
  while (!description.empty() && (description.back() == '\n' || description.back() == ' ')) description.pop_back();
  if (create || XValue(ical, "X-TANDEM-GRAPH-BODY") != Digest(description))
    e["body"] = {{"contentType", "text"}, {"content", a.description}};
  const std::string zone = a.all_day || a.time_zone.empty() ? "UTC" : a.time_zone;
  e["isAllDay"] = a.all_day;
  if (a.all_day) {
    auto day = [](Instant t) {
      auto c = ical::ToCivil(t, "UTC");
      return c.ok() ? DateText(*c) + "T00:00:00" : std::string();
    };
    e["start"] = {{"dateTime", day(a.start)}, {"timeZone", "UTC"}};
    e["end"] = {{"dateTime", day(std::max(a.end, a.start + days(1)))}, {"timeZone", "UTC"}};
  } else {
    e["start"] = WriteDateTime(a.start, zone);
    e["end"] = WriteDateTime(std::max(a.end, a.start), zone);
  }
  if (!a.rrule.empty()) {
    TANDEM_ASSIGN_OR_RETURN(std::string r, RruleToRecurrence(a.rrule, a.start, a.all_day, zone));
    e["recurrence"] = json::parse(r);
  } else if (!create) {
    e["recurrence"] = nullptr;
  }
  switch (a.show_as) {
    case model::ShowAs::kFree: e["showAs"] = "free"; break;
    case model::ShowAs::kTentative: e["showAs"] = "tentative"; break;
    case model::ShowAs::kOutOfOffice: e["showAs"] = "oof"; break;
    case model::ShowAs::kWorkingElsewhere: e["showAs"] = "workingElsewhere"; break;
    default:
      e["showAs"] = XValue(ical, "X-TANDEM-GRAPH-SHOWAS") == "unknown" ? "unknown" : "busy";
  }
  if (a.is_private) {
    e["sensitivity"] = XValue(ical, "X-TANDEM-GRAPH-SENSITIVITY") == "personal" ? "personal" : "private";
  } else {
    e["sensitivity"] = "normal";
  }
  e["isReminderOn"] = a.reminder_minutes.has_value();
  if (a.reminder_minutes) e["reminderMinutesBeforeStart"] = *a.reminder_minutes;
  if (create) {
    e["transactionId"] = uid;
    json props = json::array({{{"id", kUidProperty}, {"value", uid}}});
    if (!ev.crm_id.empty()) props.push_back({{"id", kCrmIdProperty}, {"value", ev.crm_id}});
    e["singleValueExtendedProperties"] = props;
  }
  return e.dump();
}

// --- the calendar side

namespace {

// A write's answer as a read would give the event: a single event's whole text
// (a series is read back with its occurrences).
sync::ItemRef Written(const json& e, const std::string& href) {
  sync::ItemRef ref{href, Text(e, "@odata.etag")};
  if (!e.contains("recurrence") || e["recurrence"].is_null()) {
    if (auto text = EventJsonToIcal(e); text.ok()) ref.stored_ical = std::move(*text);
  }
  return ref;
}

}  // namespace

GraphCalendar::GraphCalendar(GraphCalendarOptions options) : o_(std::move(options)) {
  http_ = std::make_unique<http::Client>(o_.http);
}
GraphCalendar::~GraphCalendar() = default;

std::string GraphCalendar::Root() const {
  return o_.mailbox.empty() ? "/me" : "/users/" + Encode(o_.mailbox);
}
std::string GraphCalendar::Calendar() const {
  return o_.calendar_id.empty() ? Root() + "/calendar" : Root() + "/calendars/" + Encode(o_.calendar_id);
}

namespace {
const std::string kExpand = std::string("$expand=singleValueExtendedProperties($filter=id eq '") +
                            kCrmIdProperty + "' or id eq '" + kUidProperty + "')";
std::string ExpandQuery() { return oauth::PercentEncode(kExpand.substr(8)); }
}  // namespace

Result<GraphCalendar::Answer> GraphCalendar::Call(const std::string& method, const std::string& target,
                                                  const std::string& body, const std::string& if_match,
                                                  bool paged) {
  if (!o_.access_token) return Status::InvalidArgument("Microsoft Graph: no access token source");
  http::Request req;
  req.method = method;
  req.url = target.starts_with("http") ? target : o_.api_base + target;
  req.headers.Set("Accept", "application/json");
  std::string prefer = "outlook.timezone=\"UTC\", outlook.body-content-type=\"text\"";
  if (paged) prefer += fmt::format(", odata.maxpagesize={}", std::max(1, o_.page_size));
  req.headers.Set("Prefer", prefer);
  if (!body.empty()) {
    req.headers.Set("Content-Type", "application/json");
    req.body = body;
  }
  if (!if_match.empty()) req.headers.Set("If-Match", if_match);
  oauth::BearerCall call{.access_token = o_.access_token,
                         .token_rejected = o_.token_rejected,
                         .throttled = [](const http::Response& r) { return r.status == 503; },
                         .attempts = o_.rate_limit_attempts,
                         .sleeper = o_.http.sleeper,
                         .random = o_.random};
  TANDEM_ASSIGN_OR_RETURN(http::Response r, oauth::SendWithBearer(*http_, std::move(req), call, &requests_));
  return Answer{r.status, std::move(r.body), std::move(r.headers)};
}

Result<std::string> GraphCalendar::Identity() {
  TANDEM_ASSIGN_OR_RETURN(Answer a, Call("GET", Calendar()));
  if (a.status != 200) return ApiError(a.status, a.body, "the calendar");
  json j = json::parse(a.body, nullptr, false);
  const std::string id = j.is_object() ? Text(j, "id") : "";
  if (id.empty()) return Status::Corruption("Microsoft Graph: the calendar has no id");
  return "graph:" + (o_.mailbox.empty() ? std::string() : o_.mailbox + "/") + id;
}

Result<std::optional<sync::Item>> GraphCalendar::ReadSeries(const std::string& master_json) {
  json m = json::parse(master_json, nullptr, false);
  const std::string id = Text(m, "id");
  // The instances within the window: exceptions become overrides; occurrences
  // the pattern gives that Graph no longer lists were cancelled (EXDATE).
  sync::TimeRange w = window_;
  if (w.to <= w.from) {  // read outside a listing: two years around now
    const Instant now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
    w = {now - days(365), now + days(365)};
  }
  const Instant from = w.from, to = w.to;
  std::vector<std::string> exceptions;
  std::set<int64_t> present;
  std::string next = Root() + "/events/" + Encode(id) + "/instances?startDateTime=" +
                     Encode(FormatRfc3339(from)) + "&endDateTime=" + Encode(FormatRfc3339(to)) +
                     "&$top=1000";
  for (int guard = 0; !next.empty() && guard < 1000; ++guard) {
    TANDEM_ASSIGN_OR_RETURN(Answer a, Call("GET", next, "", "", true));
    if (a.status == 404) return std::optional<sync::Item>();
    if (a.status != 200) return ApiError(a.status, a.body, "a series' occurrences");
    json j = json::parse(a.body, nullptr, false);
    if (!j.is_object()) return Status::Corruption("Microsoft Graph: the occurrences are not JSON");
    if (!j.contains("value") || !j["value"].is_array()) j["value"] = json::array();
    for (const auto& x : j["value"]) {
      if (!x.is_object()) continue;
      occ_[Text(x, "id")] = id;
      if (auto o = ReadOffset(Text(x, "originalStart")); o.ok()) present.insert(ToUnixSeconds(*o));
      if (Text(x, "type") == "exception" && !x.value("isCancelled", false)) exceptions.push_back(x.dump());
    }
    next = Text(j, "@odata.nextLink");
  }
  // What the pattern alone gives within the window.
  TANDEM_ASSIGN_OR_RETURN(std::string bare, EventToIcal(master_json, {}, {}));
  TANDEM_ASSIGN_OR_RETURN(ical::Event ev, ical::ParseEvent(bare, ical::MapOptions{}));
  std::vector<Instant> exdates;
  auto occurrences = ical::Expand(ev.activity, from, to, 20000);
  if (occurrences.ok()) {
    for (const ical::Occurrence& o : *occurrences)
      if (!present.contains(ToUnixSeconds(o.recurrence_id)) && o.recurrence_id >= from &&
          o.recurrence_id < to)
        exdates.push_back(o.recurrence_id);
  }
  TANDEM_ASSIGN_OR_RETURN(std::string text, EventToIcal(master_json, exceptions, exdates));
  return std::optional<sync::Item>(sync::Item{id, Text(m, "@odata.etag"), std::move(text)});
}

Result<std::optional<sync::Item>> GraphCalendar::Read(const std::string& id) {
  TANDEM_ASSIGN_OR_RETURN(Answer a, Call("GET", Root() + "/events/" + Encode(id) + "?$expand=" + ExpandQuery()));
  if (a.status == 404 || a.status == 410) return std::optional<sync::Item>();
  if (a.status != 200) return ApiError(a.status, a.body, "an event");
  json e = json::parse(a.body, nullptr, false);
  if (!e.is_object()) return Status::Corruption("Microsoft Graph: the event is not JSON");
  const std::string type = Text(e, "type");
  if (type == "occurrence" || type == "exception") {
    // An instance stands for its series.
    const std::string master = Text(e, "seriesMasterId");
    if (master.empty() || master == id) return std::optional<sync::Item>();
    return Read(master);
  }
  if (type == "seriesMaster") return ReadSeries(a.body);
  TANDEM_ASSIGN_OR_RETURN(std::string text, EventToIcal(a.body));
  return std::optional<sync::Item>(sync::Item{Text(e, "id"), Text(e, "@odata.etag"), std::move(text)});
}

Result<sync::ChangeSet> GraphCalendar::ChangesSince(const std::string& cursor,
                                                    const sync::TimeRange& window) {
  sync::ChangeSet out;
  sync::TimeRange w = window;
  if (w.to <= w.from) {  // no window given: two years around now
    const Instant now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
    w = {now - days(365), now + days(365)};
  }
  std::string next;
  if (!cursor.empty()) {
    json c = cursor.starts_with("graph1:") ? json::parse(cursor.substr(7), nullptr, false) : json();
    if (!c.is_object() || Text(c, "link").empty())
      return Status::ResyncRequired("Microsoft Graph: not a delta cursor; a new round");
    const Instant from = FromUnixSeconds(c.value("from", int64_t{0}));
    const Instant to = FromUnixSeconds(c.value("to", int64_t{0}));
    if (w.to > to + days(7) || w.from < from - days(7))
      return Status::ResyncRequired("Microsoft Graph: the sync window moved; a new round over the new window");
    window_ = {from, to};
    occ_.clear();
    const json occ = c.value("occ", json::object());  // held: items() refers to it
    for (const auto& [k, v] : occ.items())
      if (v.is_string()) occ_[k] = v.get<std::string>();
    next = Text(c, "link");
  } else {
    window_ = w;
    occ_.clear();
    out.complete = true;
    out.windowed = true;
    next = Calendar() + "/calendarView/delta?startDateTime=" + Encode(FormatRfc3339(w.from)) +
           "&endDateTime=" + Encode(FormatRfc3339(w.to));
  }
  std::vector<std::string> order;             // singles and masters as met
  std::map<std::string, json> singles;         // id -> the event
  std::set<std::string> series;                // master ids to read whole
  std::vector<std::string> removed;
  std::string delta_link;
  for (int guard = 0; guard < 100000; ++guard) {
    TANDEM_ASSIGN_OR_RETURN(Answer a, Call("GET", next, "", "", true));
    if (a.status == 410 || (a.status == 400 && a.body.find("syncStateNotFound") != std::string::npos))
      return Status::ResyncRequired("Microsoft Graph: the delta link is no longer accepted (" +
                                    std::to_string(a.status) + "); a new round");
    if (a.status != 200) return ApiError(a.status, a.body, "the calendar's changes (delta)");
    json j = json::parse(a.body, nullptr, false);
    if (!j.is_object()) return Status::Corruption("Microsoft Graph: the delta page is not JSON");
    if (!j.contains("value") || !j["value"].is_array()) j["value"] = json::array();
    for (auto& e : j["value"]) {  // taken over, not copied: a page holds 500 events
      if (!e.is_object()) continue;
      const std::string id = Text(e, "id");
      if (id.empty()) continue;
      if (e.contains("@removed")) {
        removed.push_back(id);
        continue;
      }
      const std::string type = Text(e, "type");
      if (type == "occurrence" || type == "exception" || type == "seriesMaster") {
        const std::string master = type == "seriesMaster" ? id : Text(e, "seriesMasterId");
        if (master.empty()) continue;
        if (type != "seriesMaster") occ_[id] = master;
        if (series.insert(master).second) order.push_back(master);
        continue;
      }
      if (!singles.contains(id)) order.push_back(id);
      singles[id] = std::move(e);
    }
    if (!Text(j, "@odata.nextLink").empty()) {
      next = Text(j, "@odata.nextLink");
      continue;
    }
    delta_link = Text(j, "@odata.deltaLink");
    if (delta_link.empty()) return Status::Corruption("Microsoft Graph: the last delta page has no deltaLink");
    break;
  }
  // Removed: an occurrence re-reads its series; anything else is read again, and
  // only what Graph no longer has is a deletion (an event moved out of the
  // window is a change the engine's window rule takes).
  for (const std::string& id : removed) {
    if (auto it = occ_.find(id); it != occ_.end()) {
      if (series.insert(it->second).second) order.push_back(it->second);
      occ_.erase(it);
      continue;
    }
    if (singles.contains(id) || series.contains(id)) continue;
    TANDEM_ASSIGN_OR_RETURN(std::optional<sync::Item> still, Read(id));
    if (!still) {
      out.deleted.push_back(id);
    } else if (still->href != id) {
      if (series.insert(still->href).second) order.push_back(still->href);
    } else {
      out.changed.push_back(std::move(*still));
    }
  }
  // The whole events of the round converted on two threads (10,000 of a first
  // round take ~0.6 s on one), in the order met.
  std::map<std::string, Result<std::string>> converted;
  {
    std::vector<std::pair<const json*, Result<std::string>*>> work;
    for (const auto& [id, e] : singles)
      if (e.contains("start") && e.contains("end"))
        work.emplace_back(&e, &converted.emplace(id, Status::Internal("not converted")).first->second);
    std::atomic<size_t> next_item{0};
    auto convert = [&work, &next_item] {
      for (size_t i = next_item++; i < work.size(); i = next_item++) *work[i].second = EventJsonToIcal(*work[i].first);
    };
    std::thread helper;
    if (work.size() >= 64) helper = std::thread(convert);
    convert();
    if (helper.joinable()) helper.join();
  }
  for (const std::string& id : order) {
    if (auto s = singles.find(id); s != singles.end()) {
      const json& e = s->second;
      // A delta row may carry only what changed: read the event whole then.
      auto c = converted.find(id);
      const bool whole = c != converted.end();
      Result<std::string> text = whole ? std::move(c->second) : Result<std::string>(Status::NotFound(""));
      if (!whole) {
        TANDEM_ASSIGN_OR_RETURN(std::optional<sync::Item> item, Read(id));
        if (item) out.changed.push_back(std::move(*item));
        continue;
      }
      if (!text.ok()) {
        out.warnings.push_back(fmt::format("event {} (\"{}\") cannot be read: {}", id, Text(e, "subject"),
                                           text.status().message()));
        continue;
      }
      out.changed.push_back(sync::Item{id, Text(e, "@odata.etag"), std::move(*text)});
      continue;
    }
    TANDEM_ASSIGN_OR_RETURN(std::optional<sync::Item> item, Read(id));
    if (!item) {
      if (!out.complete) out.deleted.push_back(id);
      std::erase_if(occ_, [&id](const auto& kv) { return kv.second == id; });
      continue;
    }
    out.changed.push_back(std::move(*item));
  }
  json c = {{"link", delta_link},
            {"from", ToUnixSeconds(window_.from)},
            {"to", ToUnixSeconds(window_.to)},
            {"occ", occ_}};
  out.next_cursor = "graph1:" + c.dump();
  return out;
}

Result<std::vector<sync::Item>> GraphCalendar::GetMany(const std::vector<std::string>& hrefs) {
  std::vector<sync::Item> out;
  for (const std::string& id : hrefs) {
    TANDEM_ASSIGN_OR_RETURN(std::optional<sync::Item> item, Read(id));
    if (item && item->href == id) out.push_back(std::move(*item));
  }
  return out;
}

Result<sync::ItemRef> GraphCalendar::Create(const std::string& uid, const std::string& ical) {
  TANDEM_ASSIGN_OR_RETURN(std::optional<sync::Item> existing, FindByUid(uid));
  if (existing) return Status::AlreadyExists("Microsoft Graph: an event with UID " + uid + " exists");
  TANDEM_ASSIGN_OR_RETURN(std::string body, IcalToEvent(ical, uid, true));
  TANDEM_ASSIGN_OR_RETURN(Answer a, Call("POST", Calendar() + "/events", body));
  if (a.status != 201 && a.status != 200) return ApiError(a.status, a.body, "a new event");
  json e = json::parse(a.body, nullptr, false);
  if (!e.is_object() || Text(e, "id").empty())
    return Status::Corruption("Microsoft Graph: the new event has no id");
  TANDEM_RETURN_IF_ERROR(WriteOccurrences(Text(e, "id"), ical));
  return Written(e, Text(e, "id"));
}

std::vector<Result<sync::ItemRef>> GraphCalendar::CreateBatch(
    const std::vector<std::pair<std::string, std::string>>& items) {
  std::vector<Result<sync::ItemRef>> out(items.size(), Status::Internal("not sent"));
  std::vector<size_t> todo;
  std::map<size_t, std::string> bodies;
  for (size_t i = 0; i < items.size(); ++i) {
    auto body = IcalToEvent(items[i].second, items[i].first, true);
    if (!body.ok()) {
      out[i] = body.status();
      continue;
    }
    bodies[i] = std::move(*body);
    todo.push_back(i);
  }
  Duration backoff = seconds(1);
  for (int round = 0; !todo.empty() && round < o_.rate_limit_attempts; ++round) {
    json requests = json::array();
    for (size_t i : todo)
      requests.push_back({{"id", std::to_string(i)},
                          {"method", "POST"},
                          {"url", Calendar() + "/events"},
                          {"headers", {{"Content-Type", "application/json"}}},
                          {"body", json::parse(bodies[i])}});
    auto answer = Call("POST", "/$batch", json{{"requests", requests}}.dump());
    if (!answer.ok() || answer->status != 200) {
      Status s = answer.ok() ? ApiError(answer->status, answer->body, "a batch of new events") : answer.status();
      for (size_t i : todo) out[i] = s;
      return out;
    }
    json j = json::parse(answer->body, nullptr, false);
    std::vector<size_t> again;
    Duration wait = backoff;
    std::map<size_t, json> by_id;
    for (const auto& r : j.value("responses", json::array()))
      if (r.is_object()) by_id[static_cast<size_t>(std::atoll(Text(r, "id").c_str()))] = r;
    for (size_t i : todo) {
      auto it = by_id.find(i);
      if (it == by_id.end()) {
        out[i] = Status::Unavailable("Microsoft Graph: the batch answer has no response for item " + std::to_string(i));
        continue;
      }
      const json& r = it->second;
      const int status = r.value("status", 0);
      const json body = r.value("body", json::object());
      if (status == 429 || status == 503) {
        again.push_back(i);
        const json h = r.value("headers", json::object());
        const long long s = std::atoll(Text(h, "Retry-After").c_str());
        if (s > 0) wait = std::max<Duration>(wait, seconds(std::min(s, 120LL)));
        out[i] = ApiError(status, body.dump(), "a new event (in a batch)");
        continue;
      }
      if (status != 201 && status != 200) {
        out[i] = ApiError(status, body.dump(), "a new event (in a batch)");
        continue;
      }
      if (Text(body, "id").empty()) {
        out[i] = Status::Corruption("Microsoft Graph: a batch response holds no event");
        continue;
      }
      out[i] = Written(body, Text(body, "id"));
      if (Status s = WriteOccurrences(Text(body, "id"), items[i].second); !s.ok()) out[i] = s;
    }
    todo = std::move(again);
    if (!todo.empty()) {
      http::Pause(o_.http.sleeper, wait);
      backoff *= 2;
    }
  }
  return out;
}

Status GraphCalendar::WriteOccurrences(const std::string& master_id, const std::string& ical) {
  // Only a series has occurrences to write: a single event is not parsed again.
  // (A VTIMEZONE's RRULE lines do not count.)
  std::string low(ical.size(), '\0');
  std::transform(ical.begin(), ical.end(), low.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  bool series = false;
  for (size_t at = low.find("begin:vevent"); at != std::string::npos && !series;
       at = low.find("begin:vevent", at + 1)) {
    const size_t end = low.find("end:vevent", at);
    const size_t rule = low.find("\nrrule", at);
    series = rule != std::string::npos && (end == std::string::npos || rule < end);
  }
  if (!series) return Status::Ok();
  TANDEM_ASSIGN_OR_RETURN(ical::Event ev, ical::ParseEvent(ical, ical::MapOptions{}));
  const model::Activity& a = ev.activity;
  if (a.rrule.empty()) return Status::Ok();
  TANDEM_ASSIGN_OR_RETURN(std::vector<ical::SeriesOverride> wanted, ical::Overrides(a));
  if (wanted.empty() && a.exdates.empty()) return Status::Ok();
  // Graph has no EXDATE: each excluded occurrence is deleted, each changed one patched.
  std::map<int64_t, const ical::SeriesOverride*> changes;
  std::set<int64_t> cancelled;
  for (Instant x : a.exdates) cancelled.insert(ToUnixSeconds(x));
  for (const auto& o : wanted) {
    if (o.this_and_future) continue;
    if (o.cancelled) {
      cancelled.insert(ToUnixSeconds(o.recurrence_id));
    } else {
      changes[ToUnixSeconds(o.recurrence_id)] = &o;
    }
  }
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (int64_t k : cancelled) lo = std::min(lo, k), hi = std::max(hi, k);
  for (const auto& [k, o] : changes) lo = std::min(lo, k), hi = std::max(hi, k);
  if (lo > hi) return Status::Ok();
  const Duration length = a.end - a.start;
  std::string next = Root() + "/events/" + Encode(master_id) + "/instances?startDateTime=" +
                     Encode(FormatRfc3339(FromUnixSeconds(lo) - days(1))) + "&endDateTime=" +
                     Encode(FormatRfc3339(FromUnixSeconds(hi) + length + days(1))) + "&$top=1000";
  std::map<int64_t, json> instances;
  for (int guard = 0; !next.empty() && guard < 1000; ++guard) {
    TANDEM_ASSIGN_OR_RETURN(Answer r, Call("GET", next, "", "", true));
    if (r.status != 200) return ApiError(r.status, r.body, "a series' occurrences");
    json j = json::parse(r.body, nullptr, false);
    for (const auto& x : j.value("value", json::array()))
      if (auto o = ReadOffset(Text(x, "originalStart")); o.ok()) instances[ToUnixSeconds(*o)] = x;
    next = j.is_object() ? Text(j, "@odata.nextLink") : "";
  }
  const std::string zone = a.all_day || a.time_zone.empty() ? "UTC" : a.time_zone;
  for (int64_t k : cancelled) {
    auto it = instances.find(k);
    if (it == instances.end()) continue;  // already gone
    TANDEM_ASSIGN_OR_RETURN(Answer d, Call("DELETE", Root() + "/events/" + Encode(Text(it->second, "id"))));
    if (d.status != 204 && d.status != 200 && d.status != 404)
      return ApiError(d.status, d.body, "a cancelled occurrence");
  }
  for (const auto& [k, o] : changes) {
    auto it = instances.find(k);
    if (it == instances.end()) continue;  // the pattern has no such occurrence
    const json& x = it->second;
    const std::string subject = o->texts.subject.empty() ? a.subject : o->texts.subject;
    const std::string location = o->texts.location.empty() ? a.location : o->texts.location;
    auto s = ReadDateTime(x.value("start", json()));
    auto e = ReadDateTime(x.value("end", json()));
    const bool same = s.ok() && e.ok() && *s == o->start && *e == o->end && Text(x, "subject") == subject &&
                      Text(x.value("location", json::object()), "displayName") == location;
    if (same) continue;
    json body = {{"subject", subject},
                 {"location", {{"displayName", location}}},
                 {"start", WriteDateTime(o->start, zone)},
                 {"end", WriteDateTime(o->end, zone)}};
    TANDEM_ASSIGN_OR_RETURN(Answer p, Call("PATCH", Root() + "/events/" + Encode(Text(x, "id")), body.dump()));
    if (p.status != 200) return ApiError(p.status, p.body, "a changed occurrence");
  }
  return Status::Ok();
}

Result<sync::ItemRef> GraphCalendar::Update(const std::string& href, const std::string& etag,
                                            const std::string& ical) {
  TANDEM_ASSIGN_OR_RETURN(ical::Event ev, ical::ParseEvent(ical, ical::MapOptions{}));
  TANDEM_ASSIGN_OR_RETURN(std::string body, IcalToEvent(ical, ev.uid, false));
  TANDEM_ASSIGN_OR_RETURN(Answer a, Call("PATCH", Root() + "/events/" + Encode(href), body, etag));
  if (a.status == 404 || a.status == 410) return Status::NotFound("Microsoft Graph: event " + href + " is gone");
  if (a.status != 200) return ApiError(a.status, a.body, "an event update");
  json e = json::parse(a.body, nullptr, false);
  TANDEM_RETURN_IF_ERROR(WriteOccurrences(href, ical));
  return e.is_object() ? Written(e, href) : sync::ItemRef{href, ""};
}

Status GraphCalendar::Delete(const std::string& href, const std::string& etag) {
  TANDEM_ASSIGN_OR_RETURN(Answer a, Call("DELETE", Root() + "/events/" + Encode(href), "", etag));
  if (a.status == 200 || a.status == 204 || a.status == 404 || a.status == 410) return Status::Ok();
  return ApiError(a.status, a.body, "an event deletion");
}

Result<std::optional<sync::Item>> GraphCalendar::FindByUid(const std::string& uid) {
  std::string quoted;
  for (char c : uid) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  // Tandem's own creations carry the UID in an extended property; others are
  // found by their iCalUId.
  const std::string filters[] = {
      std::string("singleValueExtendedProperties/Any(ep: ep/id eq '") + kUidProperty +
          "' and ep/value eq '" + quoted + "')",
      "iCalUId eq '" + quoted + "'"};
  for (const std::string& filter : filters) {
    TANDEM_ASSIGN_OR_RETURN(Answer a, Call("GET", Calendar() + "/events?$filter=" + Encode(filter) +
                                                      "&$select=id&$top=5"));
    if (a.status == 400 && &filter == &filters[1]) continue;  // a service that cannot filter so
    if (a.status != 200) return ApiError(a.status, a.body, "a search by UID");
    json j = json::parse(a.body, nullptr, false);
    for (const auto& e : j.is_object() ? j.value("value", json::array()) : json::array()) {
      if (Text(e, "id").empty()) continue;
      TANDEM_ASSIGN_OR_RETURN(std::optional<sync::Item> item, Read(Text(e, "id")));
      if (item) return item;
    }
  }
  return std::optional<sync::Item>();
}

}  // namespace tandem::providers::graph
