// libical helpers shared by the mapping, and the reading and writing steps that
// every mapped component (VEVENT, VTODO) shares (see internal.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <set>

#include "ical/internal.h"

namespace tandem::ical::detail {

std::string ToIcalString(icalcomponent* c) {
  char* text = icalcomponent_as_ical_string_r(c);
  if (text == nullptr) return {};
  std::string out(text);
  icalmemory_free_buffer(text);
  return out;
}

std::vector<icalcomponent*> Children(icalcomponent* parent, icalcomponent_kind kind) {
  std::vector<icalcomponent*> out;
  for (icalcomponent* c = icalcomponent_get_first_component(parent, kind); c != nullptr;
       c = icalcomponent_get_next_component(parent, kind)) {
    out.push_back(c);
  }
  return out;
}

std::vector<icalproperty*> Properties(icalcomponent* c, icalproperty_kind kind) {
  std::vector<icalproperty*> out;
  for (icalproperty* p = icalcomponent_get_first_property(c, kind); p != nullptr;
       p = icalcomponent_get_next_property(c, kind)) {
    out.push_back(p);
  }
  return out;
}

icalproperty* FirstX(icalcomponent* c, std::string_view name) {
  for (icalproperty* p = icalcomponent_get_first_property(c, ICAL_X_PROPERTY); p != nullptr;
       p = icalcomponent_get_next_property(c, ICAL_X_PROPERTY)) {
    if (PropertyName(p) == name) return p;
  }
  return nullptr;
}

icalproperty* NewX(const char* name, const std::string& value) {
  icalproperty* p = icalproperty_new_x(value.c_str());
  icalproperty_set_x_name(p, name);
  return p;
}

bool HasParamsMarker(icalproperty* p) {
  for (icalparameter* q = icalproperty_get_first_parameter(p, ICAL_X_PARAMETER); q != nullptr;
       q = icalproperty_get_next_parameter(p, ICAL_X_PARAMETER)) {
    const char* name = icalparameter_get_xname(q);
    if (name != nullptr && std::string_view(name) == kParamsMarker) return true;
  }
  return false;
}

std::string PropertyName(icalproperty* p) {
  const char* name = icalproperty_get_property_name(p);
  return name ? std::string(name) : std::string();
}

std::string TzidOf(icalproperty* p) {
  icalparameter* param = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
  if (param == nullptr) return {};
  const char* tzid = icalparameter_get_tzid(param);
  return tzid ? std::string(tzid) : std::string();
}

Instant MidnightUtc(int year, int month, int day) {
  using namespace std::chrono;
  sys_days d =
      year_month_day{std::chrono::year(year), std::chrono::month(month), std::chrono::day(day)};
  return Instant(d);
}

Instant FromTimeT(time_t t) { return FromUnixSeconds(static_cast<int64_t>(t)); }

std::mutex& ZoneMutex() {
  static std::mutex* mu = new std::mutex();  // never destroyed: used until exit
  return *mu;
}

Instant InstantOf(const icaltimetype& t, icaltimezone* zone) {
  if (t.is_date) return MidnightUtc(t.year, t.month, t.day);
  icaltimetype copy = t;
  copy.zone = nullptr;
  if (icaltime_is_utc(t) || zone == nullptr || zone == icaltimezone_get_utc_timezone()) {
    // Field arithmetic in UTC; independent of the process zone.
    using namespace std::chrono;
    sys_days d = year_month_day{std::chrono::year(t.year), std::chrono::month(t.month),
                                std::chrono::day(t.day)};
    return Instant(d) + hours(t.hour) + minutes(t.minute) + seconds(t.second);
  }
  std::lock_guard<std::mutex> lock(ZoneMutex());
  return FromTimeT(icaltime_as_timet_with_zone(copy, zone));
}

icaltimetype LocalTimeOf(Instant t, icaltimezone* zone, bool is_date) {
  if (is_date) {
    using namespace std::chrono;
    year_month_day ymd{floor<days>(t)};
    icaltimetype d = icaltime_null_time();
    d.year = static_cast<int>(ymd.year());
    d.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
    d.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
    d.is_date = 1;
    return d;
  }
  icaltimezone* z = zone ? zone : icaltimezone_get_utc_timezone();
  icaltimetype local;
  {
    std::lock_guard<std::mutex> lock(ZoneMutex());
    local = icaltime_from_timet_with_zone(static_cast<time_t>(ToUnixSeconds(t)), 0, z);
  }
  local.zone = z;  // libical 3.0 leaves the UTC zone on the converted fields
  return local;
}

std::string StripUntilSuffix(std::string_view subject, std::optional<std::string>* until) {
  std::string s(subject);
  if (until) until->reset();
  while (true) {
    if (s.empty() || s.back() != ')') break;
    size_t open = s.rfind(" (until ");
    if (open == std::string::npos) break;
    std::string inner = s.substr(open + 8, s.size() - open - 9);
    // "YYYY-MM-DD" or "YYYY-MM-DD HH:MM"
    bool shape = inner.size() == 10 || inner.size() == 16;
    for (size_t i = 0; shape && i < inner.size(); ++i) {
      char c = inner[i];
      if (i == 4 || i == 7)
        shape = c == '-';
      else if (i == 10)
        shape = c == ' ';
      else if (i == 13)
        shape = c == ':';
      else
        shape = c >= '0' && c <= '9';
    }
    if (!shape) break;
    if (until && !until->has_value()) *until = inner;
    s.erase(open);
  }
  return s;
}

// --- Reading

namespace {

// Properties whose value the mapping needs: a libical value error on one of them
// in a mapped component makes the resource unusable.
bool IsTimingProperty(std::string_view name, icalcomponent_kind kind) {
  if (name == "DTSTART" || name == "DURATION" || name == "RRULE" || name == "RDATE" ||
      name == "EXDATE" || name == "RECURRENCE-ID")
    return true;
  return kind == ICAL_VTODO_COMPONENT ? name == "DUE" : name == "DTEND";
}

// Collects and removes libical's X-LIC-ERROR properties; fatal ones become the
// returned Status, the rest warnings.
// `fatal` receives, per `mapped` component, the first error that makes it unusable.
void TakeParseErrors(icalcomponent* comp, const Prescanned& pre, icalcomponent_kind mapped,
                     std::vector<std::string>* warnings, std::map<icalcomponent*, Status>* fatal) {
  for (icalproperty* p : Properties(comp, ICAL_XLICERROR_PROPERTY)) {
    std::string text = icalproperty_get_xlicerror(p) ? icalproperty_get_xlicerror(p) : "";
    icalparameter* type_param = icalproperty_get_first_parameter(p, ICAL_XLICERRORTYPE_PARAMETER);
    icalparameter_xlicerrortype type =
        type_param ? icalparameter_get_xlicerrortype(type_param) : ICAL_XLICERRORTYPE_NONE;
    icalcomponent_remove_property(comp, p);
    icalproperty_free(p);
    // "Can't parse as DATE-TIME value in DTEND property. Removing entire property: x"
    std::string prop, value;
    size_t in = text.find(" value in ");
    if (in != std::string::npos) {
      size_t start = in + 10;
      size_t sp = text.find(' ', start);
      if (sp != std::string::npos) prop = text.substr(start, sp - start);
    }
    size_t colon = text.rfind(": ");
    if (colon != std::string::npos) value = text.substr(colon + 2);
    int line = prop.empty() ? 0 : pre.LineOf(prop, value);
    bool in_mapped = icalcomponent_isa(comp) == mapped;
    if (type == ICAL_XLICERRORTYPE_VALUEPARSEERROR && in_mapped && IsTimingProperty(prop, mapped)) {
      fatal->try_emplace(comp, Status::InvalidArgument(LinePrefix(line) + "unreadable " + prop +
                                                       " value '" + value + "'"));
      continue;
    }
    warnings->push_back(LinePrefix(line) + "dropped by the parser: " + text);
  }
  for (icalcomponent* child : Children(comp, ICAL_ANY_COMPONENT)) {
    TakeParseErrors(child, pre, mapped, warnings, fatal);
  }
}

void CollectTzids(icalcomponent* c, std::set<std::string>* out) {
  for (icalproperty* p : Properties(c, ICAL_ANY_PROPERTY)) {
    std::string tzid = TzidOf(p);
    if (!tzid.empty()) out->insert(tzid);
  }
  for (icalcomponent* child : Children(c, ICAL_ANY_COMPONENT)) CollectTzids(child, out);
}

std::string DateText(Instant t) {
  using namespace std::chrono;
  year_month_day ymd{floor<days>(t)};
  char buf[16];
  snprintf(buf, sizeof(buf), "%04d-%02u-%02u", static_cast<int>(ymd.year()),
           static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

}  // namespace

std::string LinePrefix(int line) {
  return line > 0 ? "line " + std::to_string(line) + ": " : std::string();
}

Result<ParsedText> ParseText(std::string_view ics, icalcomponent_kind mapped) {
  ParsedText out;
  TANDEM_ASSIGN_OR_RETURN(out.pre, Prescan(ics));
  out.root.reset(icalparser_parse_string(out.pre.text.c_str()));
  if (out.root == nullptr) return Status::InvalidArgument("no iCalendar data could be parsed");
  if (icalcomponent_isa(out.root.get()) == ICAL_VCALENDAR_COMPONENT) {
    out.calendars.push_back(out.root.get());
  } else {
    out.calendars = Children(out.root.get(), ICAL_VCALENDAR_COMPONENT);
  }
  out.warnings = out.pre.warnings;
  TakeParseErrors(out.root.get(), out.pre, mapped, &out.warnings, &out.broken);
  return out;
}

std::vector<ComponentGroup> GroupByUid(icalcomponent* calendar, icalcomponent_kind kind) {
  std::vector<std::string> order;
  std::map<std::string, ComponentGroup> by_uid;
  int anonymous = 0;
  for (icalcomponent* ev : Children(calendar, kind)) {
    std::string uid = UidOf(ev);
    // Components without UID cannot belong together: each is its own.
    std::string key = uid.empty() ? "\n" + std::to_string(anonymous++) : uid;
    auto [it, fresh] = by_uid.try_emplace(key);
    if (fresh) order.push_back(key);
    bool is_override = icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY) != nullptr;
    if (!is_override && it->second.master == nullptr) {
      it->second.master = ev;
    } else {
      it->second.overrides.push_back(ev);
    }
  }
  std::vector<ComponentGroup> out;
  for (const std::string& key : order) {
    ComponentGroup g = by_uid[key];
    if (g.master == nullptr) {  // only overrides: the first stands for the master
      g.master = g.overrides.front();
      g.overrides.erase(g.overrides.begin());
    }
    out.push_back(std::move(g));
  }
  return out;
}

ZoneContext::Zone ZoneContext::For(const icaltimetype& t, const std::string& tzid) {
  if (t.is_date) return {};
  if (icaltime_is_utc(t)) return {};
  if (tzid.empty()) return Floating();
  auto it = cache_.find(tzid);
  if (it != cache_.end()) return it->second;
  Zone z;
  icaltimezone* defined = icalcomponent_get_timezone(calendar_, tzid.c_str());
  Result<std::string> name = ResolveZoneName(tzid);
  if (!name.ok() && defined != nullptr) {
    // A custom TZID whose VTIMEZONE says where it is.
    icalcomponent* vtz = icaltimezone_get_component(defined);
    icalproperty* loc =
        vtz ? icalcomponent_get_first_property(vtz, ICAL_LOCATION_PROPERTY) : nullptr;
    for (icalproperty* x : vtz ? Properties(vtz, ICAL_X_PROPERTY) : std::vector<icalproperty*>{}) {
      if (PropertyName(x) == "X-LIC-LOCATION" && icalproperty_get_x(x))
        name = ResolveZoneName(icalproperty_get_x(x));
    }
    if (!name.ok() && loc && icalproperty_get_location(loc))
      name = ResolveZoneName(icalproperty_get_location(loc));
  }
  // System tzdata first: definitions inside files are often stale or broken;
  // the file's own VTIMEZONE serves zones that have no IANA equivalent.
  if (name.ok()) z.convert = BuiltinZone(*name);
  if (z.convert == nullptr) z.convert = defined;
  if (name.ok()) {
    z.name = *name == "UTC" ? "" : *name;
  } else if (defined != nullptr) {
    warnings_->push_back("time zone '" + tzid +
                         "' has no IANA equivalent; times are kept as UTC instants");
  } else {
    warnings_->push_back("time zone '" + tzid +
                         "' is unknown and not defined in the file; read as floating time");
    z = Floating();
  }
  cache_[tzid] = z;
  return z;
}

ZoneContext::Zone ZoneContext::Floating() {
  Zone z;
  z.convert = BuiltinZone(options_.default_zone);
  z.name = (options_.default_zone == "UTC" || z.convert == nullptr) ? "" : options_.default_zone;
  return z;
}

Instant TimeOfProperty(icalproperty* p, icaltimetype t, ZoneContext& zones) {
  ZoneContext::Zone z = zones.For(t, TzidOf(p));
  return InstantOf(t, z.convert);
}

std::optional<Instant> UtcPropertyTime(icalcomponent* c, icalproperty_kind kind) {
  icalproperty* p = icalcomponent_get_first_property(c, kind);
  if (p == nullptr) return std::nullopt;
  icalvalue* v = icalproperty_get_value(p);
  if (v == nullptr) return std::nullopt;
  icaltimetype t = icalvalue_get_datetime(v);
  if (icaltime_is_null_time(t) || !icaltime_is_valid_time(t)) return std::nullopt;
  return InstantOf(t, nullptr);
}

void RemoveAll(icalcomponent* c, icalproperty_kind kind) {
  for (icalproperty* p : Properties(c, kind)) {
    icalcomponent_remove_property(c, p);
    icalproperty_free(p);
  }
}

void Remove(icalcomponent* c, icalproperty* p) {
  icalcomponent_remove_property(c, p);
  icalproperty_free(p);
}

std::string TextOf(icalproperty* p) {
  if (p == nullptr) return {};
  icalvalue* v = icalproperty_get_value(p);
  if (v == nullptr) return {};
  const char* s = icalvalue_get_text(v);
  return s ? std::string(s) : std::string();
}

std::string TakeText(icalcomponent* c, icalproperty_kind kind) {
  icalproperty* p = icalcomponent_get_first_property(c, kind);
  if (p == nullptr) return {};
  std::string s = TextOf(p);
  if (icalproperty_count_parameters(p) > 0) {
    // Parameters (LANGUAGE, ALTREP, ...) stay behind on an empty, marked copy that
    // the writer merges into the property it writes.
    icalproperty* stub = icalproperty_new_clone(p);
    icalproperty_set_value(stub, icalvalue_new_text("-"));  // libical drops empty values
    icalparameter* mark = icalparameter_new_x("1");
    icalparameter_set_xname(mark, kParamsMarker);
    icalproperty_add_parameter(stub, mark);
    icalcomponent_add_property(c, stub);
  }
  Remove(c, p);
  return s;
}

std::string UidOf(icalcomponent* c) {
  icalproperty* p = icalcomponent_get_first_property(c, ICAL_UID_PROPERTY);
  const char* uid = p ? icalproperty_get_uid(p) : nullptr;
  return uid ? std::string(uid) : std::string();
}

void TakeIdentity(icalcomponent* r, Event* e) {
  e->uid = TakeText(r, ICAL_UID_PROPERTY);
  if (icalproperty* id = FirstX(r, "X-TANDEM-CRM-ID")) {
    e->crm_id = icalproperty_get_x(id) ? icalproperty_get_x(id) : "";
    Remove(r, id);
  }
  if (icalproperty* seq = icalcomponent_get_first_property(r, ICAL_SEQUENCE_PROPERTY)) {
    e->sequence = std::max(0, icalproperty_get_sequence(seq));
    Remove(r, seq);
  }
  e->activity.sequence = e->sequence;
  e->dtstamp = UtcPropertyTime(r, ICAL_DTSTAMP_PROPERTY);
  e->created = UtcPropertyTime(r, ICAL_CREATED_PROPERTY);
  e->last_modified = UtcPropertyTime(r, ICAL_LASTMODIFIED_PROPERTY);
  if (!e->last_modified) e->last_modified = e->dtstamp;
  RemoveAll(r, ICAL_DTSTAMP_PROPERTY);
  RemoveAll(r, ICAL_LASTMODIFIED_PROPERTY);
  // CREATED stays in the extra data: the producer's creation time is written back
  // as it was, not replaced by the time the CRM first stored the event.
  for (icalproperty* p : Properties(r, ICAL_CREATED_PROPERTY)) {
    if (p != icalcomponent_get_first_property(r, ICAL_CREATED_PROPERTY) || !e->created)
      Remove(r, p);
  }
  // Written by Tandem itself; a fresh one is derived on every read.
  for (const char* marker : {kFloatingMarker, kMultiDayMarker}) {
    while (icalproperty* m = FirstX(r, marker)) Remove(r, m);
  }
}

bool TakeCancelled(icalcomponent* r) {
  if (icalproperty* st = icalcomponent_get_first_property(r, ICAL_STATUS_PROPERTY)) {
    if (icalproperty_get_status(st) == ICAL_STATUS_CANCELLED) {
      Remove(r, st);
      return true;
    }
  }
  return false;
}

bool PrivateOf(icalcomponent* rest) {
  icalproperty* p = icalcomponent_get_first_property(rest, ICAL_CLASS_PROPERTY);
  if (p == nullptr) return false;
  icalproperty_class cls = icalproperty_get_class(p);
  if (cls == ICAL_CLASS_PRIVATE || cls == ICAL_CLASS_PUBLIC) {
    Remove(rest, p);
    return cls == ICAL_CLASS_PRIVATE;
  }
  // CONFIDENTIAL stays in the extra data so that writing back keeps the word.
  return cls == ICAL_CLASS_CONFIDENTIAL;
}

std::optional<int> ReminderOf(icalcomponent* rest, Instant start, Instant end) {
  for (icalcomponent* alarm : Children(rest, ICAL_VALARM_COMPONENT)) {
    icalproperty* action = icalcomponent_get_first_property(alarm, ICAL_ACTION_PROPERTY);
    if (action == nullptr || icalproperty_get_action(action) != ICAL_ACTION_DISPLAY) continue;
    icalproperty* trigger = icalcomponent_get_first_property(alarm, ICAL_TRIGGER_PROPERTY);
    if (trigger == nullptr) return std::nullopt;
    icaltriggertype trig = icalproperty_get_trigger(trigger);
    int64_t seconds_before = 0;
    if (!icaltime_is_null_time(trig.time)) {
      Instant at = InstantOf(trig.time, nullptr);
      seconds_before = ToUnixSeconds(start) - ToUnixSeconds(at);
    } else {
      int64_t offset = icaldurationtype_as_int(trig.duration);
      icalparameter* related = icalproperty_get_first_parameter(trigger, ICAL_RELATED_PARAMETER);
      Instant ref = start;
      if (related && icalparameter_get_related(related) == ICAL_RELATED_END) ref = end;
      seconds_before = ToUnixSeconds(start) - (ToUnixSeconds(ref) + offset);
    }
    if (seconds_before < 0 || seconds_before % 60 != 0 || seconds_before / 60 > 40320) {
      return std::nullopt;  // not expressible as "minutes before start": kept as is
    }
    Remove(alarm, trigger);
    // The writer's own default text is not worth keeping.
    for (icalproperty* p : Properties(alarm, ICAL_DESCRIPTION_PROPERTY)) {
      if (TextOf(p) == kReminderText) Remove(alarm, p);
    }
    std::vector<icalproperty*> left = Properties(alarm, ICAL_ANY_PROPERTY);
    bool plain = icalcomponent_get_first_component(alarm, ICAL_ANY_COMPONENT) == nullptr &&
                 left.size() == 1;  // ACTION only
    if (plain) {
      icalcomponent_remove_component(rest, alarm);
      icalcomponent_free(alarm);
    } else {
      icalcomponent_add_property(alarm, NewX(kReminderMarker, "TRUE"));
    }
    return static_cast<int>(seconds_before / 60);
  }
  return std::nullopt;
}

Status TakeRecurrence(icalcomponent* r, ZoneContext& zones, const Prescanned& pre,
                      const std::string& who, model::Activity* a) {
  if (icalproperty* rr = icalcomponent_get_first_property(r, ICAL_RRULE_PROPERTY)) {
    icalrecurrencetype rule = icalproperty_get_rrule(rr);
    if (rule.freq == ICAL_NO_RECURRENCE) {
      return Status::InvalidArgument(LinePrefix(pre.LineOf("RRULE", "")) + who +
                                     " has an unusable RRULE");
    }
    char* text = icalrecurrencetype_as_string_r(&rule);
    a->rrule = text ? text : "";
    icalmemory_free_buffer(text);
    Remove(r, rr);
  }
  // A date the CRM cannot hold (month 16, year 40000, ...) stays verbatim in extra.
  auto usable = [](const icaltimetype& t) {
    return !icaltime_is_null_time(t) && icaltime_is_valid_time(t) && t.year >= 1 &&
           t.year <= 9999 && t.month >= 1 && t.month <= 12 && t.day >= 1 &&
           t.day <= icaltime_days_in_month(t.month, t.year);
  };
  for (icalproperty* p : Properties(r, ICAL_EXDATE_PROPERTY)) {
    icaltimetype t = icalproperty_get_exdate(p);
    if (!usable(t) || t.is_date != a->all_day) continue;  // kept in extra
    a->exdates.push_back(TimeOfProperty(p, t, zones));
    Remove(r, p);
  }
  for (icalproperty* p : Properties(r, ICAL_RDATE_PROPERTY)) {
    icaldatetimeperiodtype v = icalproperty_get_rdate(p);
    if (!usable(v.time) || v.time.is_date != a->all_day) continue;
    a->rdates.push_back(TimeOfProperty(p, v.time, zones));
    Remove(r, p);
  }
  return Status::Ok();
}

// S5: one activity at the start with "(until <last day>)" in the subject. The real
// length goes to `rest` (the extra data), so that writing back restores the real
// end whatever the user does to the title.
void ApplyMultiDayRule(model::Activity* a, icalcomponent* rest) {
  using namespace std::chrono;
  std::string subject = StripUntilSuffix(a->subject, nullptr);
  const int64_t length = ToUnixSeconds(a->end) - ToUnixSeconds(a->start);
  auto mark = [&] {
    if (icalproperty* old = FirstX(rest, kMultiDayMarker)) Remove(rest, old);
    icalcomponent_add_property(rest, NewX(kMultiDayMarker, std::to_string(length)));
  };
  if (a->all_day) {
    if (a->end - a->start <= days(1)) return;
    a->subject = subject + " (until " + DateText(a->end - days(1)) + ")";
    a->end = a->start + days(1);
    mark();
    return;
  }
  icaltimezone* zone = BuiltinZone(a->time_zone);
  icaltimetype local_start = LocalTimeOf(a->start, zone, false);
  icaltimetype local_last = LocalTimeOf(a->end - seconds(1), zone, false);
  if (a->end <= a->start ||
      (local_last.year == local_start.year && local_last.month == local_start.month &&
       local_last.day == local_start.day)) {
    return;
  }
  icaltimetype local_end = LocalTimeOf(a->end, zone, false);
  char buf[32];
  snprintf(buf, sizeof(buf), " (until %04d-%02d-%02d %02d:%02d)", local_end.year, local_end.month,
           local_end.day, local_end.hour, local_end.minute);
  icaltimetype next_midnight = local_start;
  next_midnight.hour = next_midnight.minute = next_midnight.second = 0;
  icaltime_adjust(&next_midnight, 1, 0, 0, 0);
  a->subject = subject + buf;
  a->end = std::min(a->end, InstantOf(next_midnight, zone));
  mark();
}

std::string ExtraOf(icalcomponent* calendar, icalcomponent* r,
                    const std::vector<icalcomponent*>& overrides,
                    const std::vector<icalcomponent*>& others) {
  ComponentPtr extra(icalcomponent_new(ICAL_VCALENDAR_COMPONENT));
  bool has_extra = false;
  for (icalproperty* p : Properties(calendar, ICAL_ANY_PROPERTY)) {
    icalproperty_kind k = icalproperty_isa(p);
    if (k == ICAL_VERSION_PROPERTY || k == ICAL_PRODID_PROPERTY || k == ICAL_METHOD_PROPERTY)
      continue;
    icalcomponent_add_property(extra.get(), icalproperty_new_clone(p));
    has_extra = true;
  }
  has_extra = has_extra || icalcomponent_get_first_property(r, ICAL_ANY_PROPERTY) != nullptr ||
              icalcomponent_get_first_component(r, ICAL_ANY_COMPONENT) != nullptr ||
              !overrides.empty() || !others.empty();
  if (!has_extra) return {};
  std::set<std::string> tzids;
  CollectTzids(r, &tzids);
  std::vector<ComponentPtr> copies;
  for (icalcomponent* o : overrides) copies.emplace_back(icalcomponent_new_clone(o));
  for (icalcomponent* o : others) copies.emplace_back(icalcomponent_new_clone(o));
  for (auto& c : copies) CollectTzids(c.get(), &tzids);
  for (icalcomponent* vtz : Children(calendar, ICAL_VTIMEZONE_COMPONENT)) {
    icalproperty* id = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
    if (id && icalproperty_get_tzid(id) && tzids.count(icalproperty_get_tzid(id)))
      icalcomponent_add_component(extra.get(), icalcomponent_new_clone(vtz));
  }
  // A clone, not the parsed component itself: libical 3.0 writes a parsed
  // multi-value TEXT (CATEGORIES:a\, b) back unescaped, a clone correctly.
  icalcomponent_add_component(extra.get(), icalcomponent_new_clone(r));
  for (auto& c : copies) icalcomponent_add_component(extra.get(), c.release());
  return ToIcalString(extra.get());
}

// --- Writing

namespace {

// " (until ...)" anywhere in the subject, whatever the user made of its inside:
// the suffix belongs to the CRM side of the multi-day rule (S5), never to the
// external title.
std::string StripAnyUntil(std::string_view subject) {
  std::string s(subject);
  for (size_t at = s.find("(until"); at != std::string::npos; at = s.find("(until", at)) {
    size_t close = s.find(')', at);
    if (close == std::string::npos) break;
    size_t from = at;
    while (from > 0 && s[from - 1] == ' ') --from;
    s.erase(from, close + 1 - from);
    at = from;
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

icalcomponent* BuildZoneComponent(icaltimezone* zone, const std::string& tzid, int from_year) {
  std::lock_guard<std::mutex> lock(ZoneMutex());
  icalcomponent* source = icaltimezone_get_component(zone);
  if (source == nullptr) return nullptr;
  icalcomponent* vtz = icalcomponent_new_clone(source);
  // Drop history before the year before first use: smaller and still exact from there.
  icaltimetype from = icaltime_null_time();
  from.year = from_year;
  from.month = 1;
  from.day = 1;
  from.zone = icaltimezone_get_utc_timezone();
  icaltimezone_truncate_vtimezone(vtz, from, icaltime_null_time(), 0);
  icalproperty* id = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
  if (id != nullptr) icalproperty_set_tzid(id, tzid.c_str());
  for (icalproperty* x : Properties(vtz, ICAL_X_PROPERTY)) {
    if (PropertyName(x) == "X-LIC-LOCATION") {
      icalcomponent_remove_property(vtz, x);
      icalproperty_free(x);
    }
  }
  return vtz;
}

// Truncating a tzdata VTIMEZONE expands its rules from the 19th century on (through
// ICU, in Debian's libical) and costs ~100 us; the result depends only on the zone
// and the year, so it is remembered. A pure cache of derived, immutable data (like
// libical's own zone cache): thread-safe, bounded, never observable.
class ZoneDefinitions {
 public:
  // A new VTIMEZONE component for `tzid` valid from January 1 of the year before
  // `first_use`; null when libical has no definition. Caller owns the result.
  icalcomponent* For(icaltimezone* zone, const std::string& tzid, Instant first_use) {
    using namespace std::chrono;
    int year = static_cast<int>(year_month_day{floor<days>(first_use)}.year()) - 1;
    std::pair<std::string, int> key{tzid, year};
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      if (cache_.size() >= kMaxEntries) cache_.clear();
      it = cache_.emplace(key, ComponentPtr(BuildZoneComponent(zone, tzid, year))).first;
    }
    return it->second ? icalcomponent_new_clone(it->second.get()) : nullptr;
  }

 private:
  static constexpr size_t kMaxEntries = 512;
  std::mutex mu_;
  std::map<std::pair<std::string, int>, ComponentPtr> cache_;
};

}  // namespace

icaltimetype UtcTime(Instant t) {
  return icaltime_from_timet_with_zone(static_cast<time_t>(ToUnixSeconds(t)), 0,
                                       icaltimezone_get_utc_timezone());
}

icaltimetype TimeForm::Of(Instant t) const {
  if (all_day_) return LocalTimeOf(t, nullptr, true);
  if (floating_) {
    icaltimetype local = LocalTimeOf(t, zone_ ? zone_ : icaltimezone_get_utc_timezone(), false);
    local.zone = nullptr;
    return local;
  }
  if (zone_ == nullptr) return UtcTime(t);
  icaltimetype local = LocalTimeOf(t, zone_, false);
  local.zone = nullptr;  // written as local time; the TZID parameter names the zone
  return local;
}

icalproperty* TimeForm::Tag(icalproperty* p) const {
  if (!all_day_ && zone_ != nullptr && !floating_)
    icalproperty_add_parameter(p, icalparameter_new_tzid(tzid_.c_str()));
  if (all_day_) icalproperty_add_parameter(p, icalparameter_new_value(ICAL_VALUE_DATE));
  return p;
}

icalcomponent* ZoneComponent(icaltimezone* zone, const std::string& tzid, Instant first_use) {
  static ZoneDefinitions* definitions = new ZoneDefinitions();  // never destroyed
  return definitions->For(zone, tzid, first_use);
}

// Without the marker (activities stored before it existed), the end is read back
// from a well-formed suffix.
Status UndoMultiDayRule(const model::Activity& a, icaltimezone* zone, icalcomponent* extra_master,
                        std::string* subject, Instant* end) {
  if (icalproperty* mark = extra_master ? FirstX(extra_master, kMultiDayMarker) : nullptr) {
    const char* text = icalproperty_get_x(mark);
    char* stop = nullptr;
    long long length = text ? std::strtoll(text, &stop, 10) : -1;
    if (text != nullptr && stop != text && *stop == '\0' && length >= 0) {
      *subject = StripAnyUntil(a.subject);
      *end = a.start + std::chrono::seconds(length);
      return Status::Ok();
    }
  }
  std::optional<std::string> until;
  *subject = StripUntilSuffix(a.subject, &until);
  if (!until) return Status::Ok();
  Result<Instant> day = ParseRfc3339(until->substr(0, 10));
  if (!day.ok()) return Status::InvalidArgument("subject: unreadable end date suffix");
  if (a.all_day) {
    *end = *day + std::chrono::days(1);
  } else if (until->size() == 16) {
    icaltimetype local = LocalTimeOf(*day, nullptr, false);
    local.zone = nullptr;
    local.hour = std::stoi(until->substr(11, 2));
    local.minute = std::stoi(until->substr(14, 2));
    *end = InstantOf(local, zone ? zone : icaltimezone_get_utc_timezone());
  }
  if (*end < a.start) *end = a.start;
  return Status::Ok();
}

Result<WriteBase> PrepareWrite(const model::Activity& a, icalcomponent_kind kind) {
  WriteBase w;
  if (!a.ical_extra.empty()) {
    w.extra.reset(icalparser_parse_string(a.ical_extra.c_str()));
    if (w.extra == nullptr || icalcomponent_isa(w.extra.get()) != ICAL_VCALENDAR_COMPONENT)
      return Status::InvalidArgument("ical_extra: not one VCALENDAR");
    w.extra_master = icalcomponent_get_first_component(w.extra.get(), kind);
  }
  if (!a.all_day && !a.time_zone.empty() && a.time_zone != "UTC") {
    w.zone = BuiltinZone(a.time_zone);
    if (w.zone == nullptr)
      return Status::InvalidArgument("time_zone: unknown IANA zone '" + a.time_zone + "'");
    w.tzid = a.time_zone;
  }
  w.floating =
      !a.all_day && w.extra_master != nullptr && FirstX(w.extra_master, kFloatingMarker);
  return w;
}

ComponentPtr NewCalendar(const WriteBase& w, Instant first_use, bool with_zone) {
  ComponentPtr cal(icalcomponent_new(ICAL_VCALENDAR_COMPONENT));
  icalcomponent_add_property(cal.get(), icalproperty_new_version("2.0"));
  icalcomponent_add_property(cal.get(), icalproperty_new_prodid("-//Tandem//Tandem CRM//EN"));
  if (w.extra) {
    for (icalproperty* p : Properties(w.extra.get(), ICAL_ANY_PROPERTY)) {
      icalproperty_kind k = icalproperty_isa(p);
      if (k == ICAL_VERSION_PROPERTY || k == ICAL_PRODID_PROPERTY || k == ICAL_METHOD_PROPERTY)
        continue;
      icalcomponent_add_property(cal.get(), icalproperty_new_clone(p));
    }
  }
  if (with_zone && w.zone != nullptr && !w.floating) {
    if (icalcomponent* vtz = ZoneComponent(w.zone, w.tzid, first_use))
      icalcomponent_add_component(cal.get(), vtz);
  }
  if (w.extra) {
    for (icalcomponent* vtz : Children(w.extra.get(), ICAL_VTIMEZONE_COMPONENT)) {
      icalproperty* id = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
      if (id && icalproperty_get_tzid(id) && w.tzid == icalproperty_get_tzid(id)) continue;
      icalcomponent_add_component(cal.get(), icalcomponent_new_clone(vtz));
    }
  }
  return cal;
}

void AddIdentity(icalcomponent* comp, const model::Activity& a, const WriteOptions& o,
                 icalcomponent* extra_master) {
  icalcomponent_add_property(comp, icalproperty_new_uid(o.uid.c_str()));
  icalcomponent_add_property(comp, icalproperty_new_dtstamp(UtcTime(o.dtstamp)));
  // The producer's CREATED (kept in the extra data) wins over the CRM's own.
  const bool created_in_extra =
      extra_master != nullptr &&
      icalcomponent_get_first_property(extra_master, ICAL_CREATED_PROPERTY) != nullptr;
  if (o.created && !created_in_extra)
    icalcomponent_add_property(comp, icalproperty_new_created(UtcTime(*o.created)));
  if (o.last_modified)
    icalcomponent_add_property(comp, icalproperty_new_lastmodified(UtcTime(*o.last_modified)));
  const int64_t sequence = std::clamp<int64_t>(std::max<int64_t>(o.sequence, a.sequence), 0,
                                               std::numeric_limits<int>::max());
  icalcomponent_add_property(comp, icalproperty_new_sequence(static_cast<int>(sequence)));
  if (a.cancelled) icalcomponent_add_property(comp, icalproperty_new_status(ICAL_STATUS_CANCELLED));
  if (!o.crm_id.empty()) icalcomponent_add_property(comp, NewX("X-TANDEM-CRM-ID", o.crm_id));
}

void AddText(icalcomponent* comp, icalcomponent* extra_master, icalproperty* p) {
  if (extra_master != nullptr) {
    for (icalproperty* stub : Properties(extra_master, icalproperty_isa(p))) {
      if (!HasParamsMarker(stub)) continue;
      for (icalparameter* q = icalproperty_get_first_parameter(stub, ICAL_ANY_PARAMETER);
           q != nullptr; q = icalproperty_get_next_parameter(stub, ICAL_ANY_PARAMETER)) {
        const char* xname = icalparameter_get_xname(q);
        if (xname != nullptr && std::string_view(xname) == kParamsMarker) continue;
        icalproperty_add_parameter(p, icalparameter_new_clone(q));
      }
      break;
    }
  }
  icalcomponent_add_property(comp, p);
}

bool AddClass(icalcomponent* comp, const model::Activity& a, icalcomponent* extra_master) {
  bool class_from_extra = false;
  if (extra_master && a.is_private) {
    icalproperty* c = icalcomponent_get_first_property(extra_master, ICAL_CLASS_PROPERTY);
    class_from_extra = c != nullptr && icalproperty_get_class(c) == ICAL_CLASS_CONFIDENTIAL;
  }
  if (a.is_private && !class_from_extra)
    icalcomponent_add_property(comp, icalproperty_new_class(ICAL_CLASS_PRIVATE));
  return class_from_extra;
}

Status AddRecurrence(icalcomponent* comp, const model::Activity& a, const TimeForm& form) {
  if (!a.rrule.empty()) {
    icalrecurrencetype rule = icalrecurrencetype_from_string(a.rrule.c_str());
    if (rule.freq == ICAL_NO_RECURRENCE) {
      free(rule.rscale);
      return Status::InvalidArgument("rrule: not a recurrence rule: '" + a.rrule + "'");
    }
    icalcomponent_add_property(comp, icalproperty_new_rrule(rule));  // copies RSCALE
    free(rule.rscale);
  }
  for (Instant t : a.rdates) {
    icaldatetimeperiodtype v;
    v.time = form.Of(t);
    v.period = icalperiodtype_null_period();
    icalcomponent_add_property(comp, form.Tag(icalproperty_new_rdate(v)));
  }
  for (Instant t : a.exdates) {
    icalcomponent_add_property(comp, form.Tag(icalproperty_new_exdate(form.Of(t))));
  }
  return Status::Ok();
}

icalcomponent* ReminderTemplate(icalcomponent* extra_master) {
  if (extra_master == nullptr) return nullptr;
  for (icalcomponent* sub : Children(extra_master, ICAL_VALARM_COMPONENT)) {
    for (icalproperty* x : Properties(sub, ICAL_X_PROPERTY)) {
      if (PropertyName(x) == kReminderMarker) return sub;
    }
  }
  return nullptr;
}

void AddReminder(icalcomponent* comp, icalcomponent* reminder_template, int64_t offset_seconds,
                 bool related_end) {
  icalcomponent* alarm = nullptr;
  if (reminder_template != nullptr) {
    alarm = icalcomponent_new_clone(reminder_template);
    for (icalproperty* x : Properties(alarm, ICAL_X_PROPERTY)) {
      if (PropertyName(x) == kReminderMarker) {
        icalcomponent_remove_property(alarm, x);
        icalproperty_free(x);
      }
    }
  } else {
    alarm = icalcomponent_new(ICAL_VALARM_COMPONENT);
    icalcomponent_add_property(alarm, icalproperty_new_action(ICAL_ACTION_DISPLAY));
  }
  icaltriggertype trig;
  trig.time = icaltime_null_time();
  trig.duration = icaldurationtype_from_int(static_cast<int>(offset_seconds));
  icalproperty* trigger = icalproperty_new_trigger(trig);
  if (related_end) icalproperty_add_parameter(trigger, icalparameter_new_related(ICAL_RELATED_END));
  icalcomponent_add_property(alarm, trigger);
  if (icalcomponent_get_first_property(alarm, ICAL_DESCRIPTION_PROPERTY) == nullptr)
    icalcomponent_add_property(alarm, icalproperty_new_description(kReminderText));
  icalcomponent_add_component(comp, alarm);
}

void AddExtraMaster(icalcomponent* comp, const model::Activity& a, icalcomponent* extra_master,
                    bool class_from_extra, icalcomponent* reminder_template,
                    const std::vector<std::string_view>& markers) {
  if (extra_master == nullptr) return;
  for (icalproperty* p : Properties(extra_master, ICAL_ANY_PROPERTY)) {
    if (icalproperty_isa(p) == ICAL_CLASS_PROPERTY && !class_from_extra) continue;
    if (icalproperty_isa(p) == ICAL_STATUS_PROPERTY && a.cancelled) continue;
    if (HasParamsMarker(p)) continue;
    if (icalproperty_isa(p) == ICAL_X_PROPERTY) {
      const std::string name = PropertyName(p);
      if (std::find(markers.begin(), markers.end(), name) != markers.end()) continue;
    }
    icalcomponent_add_property(comp, icalproperty_new_clone(p));
  }
  for (icalcomponent* sub : Children(extra_master, ICAL_ANY_COMPONENT)) {
    if (sub == reminder_template) continue;
    icalcomponent_add_component(comp, icalcomponent_new_clone(sub));
  }
}

void AddOtherComponents(icalcomponent* cal, icalcomponent* extra, icalcomponent_kind master_kind) {
  if (extra == nullptr) return;
  bool first = true;
  for (icalcomponent* c : Children(extra, ICAL_ANY_COMPONENT)) {
    icalcomponent_kind k = icalcomponent_isa(c);
    if (k == ICAL_VTIMEZONE_COMPONENT) continue;
    if (k == master_kind && first) {
      first = false;
      continue;
    }
    icalcomponent_add_component(cal, icalcomponent_new_clone(c));
  }
}

}  // namespace tandem::ical::detail
