// iCalendar -> Event/Activity (ParseCalendar, ParseEvent).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "ical/ical.h"
#include "ical/internal.h"
#include "ical/prescan.h"

namespace tandem::ical {
namespace {

using detail::ComponentPtr;
using detail::FirstX;
using detail::InstantOf;
using detail::PropertyName;
using detail::TzidOf;

// Properties whose value the mapping needs: a libical value error on one of them
// in a VEVENT makes the resource unusable.
bool IsTimingProperty(std::string_view name) {
  return name == "DTSTART" || name == "DTEND" || name == "DURATION" || name == "RRULE" ||
         name == "RDATE" || name == "EXDATE" || name == "RECURRENCE-ID";
}

std::string LinePrefix(int line) {
  return line > 0 ? "line " + std::to_string(line) + ": " : std::string();
}

// Collects and removes libical's X-LIC-ERROR properties; fatal ones become the
// returned Status, the rest warnings.
// `fatal` receives, per VEVENT, the first error that makes it unusable.
void TakeParseErrors(icalcomponent* comp, const detail::Prescanned& pre,
                     std::vector<std::string>* warnings, std::map<icalcomponent*, Status>* fatal) {
  for (icalproperty* p : detail::Properties(comp, ICAL_XLICERROR_PROPERTY)) {
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
    bool in_event = icalcomponent_isa(comp) == ICAL_VEVENT_COMPONENT;
    if (type == ICAL_XLICERRORTYPE_VALUEPARSEERROR && in_event && IsTimingProperty(prop)) {
      fatal->try_emplace(comp, Status::InvalidArgument(LinePrefix(line) + "unreadable " + prop +
                                                       " value '" + value + "'"));
      continue;
    }
    warnings->push_back(LinePrefix(line) + "dropped by the parser: " + text);
  }
  for (icalcomponent* child : detail::Children(comp, ICAL_ANY_COMPONENT)) {
    TakeParseErrors(child, pre, warnings, fatal);
  }
}

// Zone lookups for one VCALENDAR, cached by TZID.
class ZoneContext {
 public:
  struct Zone {
    icaltimezone* convert = nullptr;  // for instants; null = UTC
    std::string name;                 // IANA name for Activity.time_zone; "" = UTC
  };

  ZoneContext(icalcomponent* calendar, const MapOptions& options,
              std::vector<std::string>* warnings)
      : calendar_(calendar), options_(options), warnings_(warnings) {}

  // Zone of a time value with TZID `tzid` (may be empty).
  Zone For(const icaltimetype& t, const std::string& tzid) {
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
      for (icalproperty* x :
           vtz ? detail::Properties(vtz, ICAL_X_PROPERTY) : std::vector<icalproperty*>{}) {
        if (PropertyName(x) == "X-LIC-LOCATION" && icalproperty_get_x(x))
          name = ResolveZoneName(icalproperty_get_x(x));
      }
      if (!name.ok() && loc && icalproperty_get_location(loc))
        name = ResolveZoneName(icalproperty_get_location(loc));
    }
    // System tzdata first: definitions inside files are often stale or broken;
    // the file's own VTIMEZONE serves zones that have no IANA equivalent.
    if (name.ok()) z.convert = detail::BuiltinZone(*name);
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

  Zone Floating() {
    Zone z;
    z.convert = detail::BuiltinZone(options_.default_zone);
    z.name = (options_.default_zone == "UTC" || z.convert == nullptr) ? "" : options_.default_zone;
    return z;
  }

 private:
  icalcomponent* calendar_;
  const MapOptions& options_;
  std::vector<std::string>* warnings_;
  std::map<std::string, Zone> cache_;
};

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
  for (icalproperty* p : detail::Properties(c, kind)) {
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

// Takes the first property of `kind` as text and removes it from `c`.
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
    icalparameter_set_xname(mark, detail::kParamsMarker);
    icalproperty_add_parameter(stub, mark);
    icalcomponent_add_property(c, stub);
  }
  Remove(c, p);
  return s;
}

void CollectTzids(icalcomponent* c, std::set<std::string>* out) {
  for (icalproperty* p : detail::Properties(c, ICAL_ANY_PROPERTY)) {
    std::string tzid = TzidOf(p);
    if (!tzid.empty()) out->insert(tzid);
  }
  for (icalcomponent* child : detail::Children(c, ICAL_ANY_COMPONENT)) CollectTzids(child, out);
}

model::ShowAs ShowAsOf(icalcomponent* rest) {
  model::ShowAs show = model::ShowAs::kBusy;
  bool from_busystatus = false;
  if (icalproperty* b = FirstX(rest, "X-MICROSOFT-CDO-BUSYSTATUS")) {
    std::string v = icalproperty_get_x(b) ? icalproperty_get_x(b) : "";
    static const std::pair<const char*, model::ShowAs> kStates[] = {
        {"FREE", model::ShowAs::kFree},
        {"TENTATIVE", model::ShowAs::kTentative},
        {"BUSY", model::ShowAs::kBusy},
        {"OOF", model::ShowAs::kOutOfOffice},
        {"WORKINGELSEWHERE", model::ShowAs::kWorkingElsewhere}};
    for (const auto& [text, state] : kStates) {
      if (v == text) {
        show = state;
        from_busystatus = true;
        Remove(rest, b);
        break;
      }
    }
  }
  if (icalproperty* t = icalcomponent_get_first_property(rest, ICAL_TRANSP_PROPERTY)) {
    icalproperty_transp transp = icalproperty_get_transp(t);
    if (!from_busystatus) {
      show = (transp == ICAL_TRANSP_TRANSPARENT || transp == ICAL_TRANSP_TRANSPARENTNOCONFLICT)
                 ? model::ShowAs::kFree
                 : model::ShowAs::kBusy;
    }
    Remove(rest, t);
  }
  return show;
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

// The first display VALARM becomes the reminder; its TRIGGER is taken out and the
// rest stays behind as the template the writer fills again.
std::optional<int> ReminderOf(icalcomponent* rest, Instant start, Instant end) {
  for (icalcomponent* alarm : detail::Children(rest, ICAL_VALARM_COMPONENT)) {
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
    for (icalproperty* p : detail::Properties(alarm, ICAL_DESCRIPTION_PROPERTY)) {
      if (TextOf(p) == detail::kReminderText) Remove(alarm, p);
    }
    std::vector<icalproperty*> left = detail::Properties(alarm, ICAL_ANY_PROPERTY);
    bool plain = icalcomponent_get_first_component(alarm, ICAL_ANY_COMPONENT) == nullptr &&
                 left.size() == 1;  // ACTION only
    if (plain) {
      icalcomponent_remove_component(rest, alarm);
      icalcomponent_free(alarm);
    } else {
      icalcomponent_add_property(alarm, detail::NewX(detail::kReminderMarker, "TRUE"));
    }
    return static_cast<int>(seconds_before / 60);
  }
  return std::nullopt;
}

std::string DateText(Instant t) {
  using namespace std::chrono;
  year_month_day ymd{floor<days>(t)};
  char buf[16];
  snprintf(buf, sizeof(buf), "%04d-%02u-%02u", static_cast<int>(ymd.year()),
           static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

// S5: one activity at the start with "(until <last day>)" in the subject. The real
// length goes to `rest` (the extra data), so that writing back restores the real
// end whatever the user does to the title.
void ApplyMultiDayRule(model::Activity* a, icalcomponent* rest) {
  using namespace std::chrono;
  std::string subject = detail::StripUntilSuffix(a->subject, nullptr);
  const int64_t length = ToUnixSeconds(a->end) - ToUnixSeconds(a->start);
  auto mark = [&] {
    if (icalproperty* old = FirstX(rest, detail::kMultiDayMarker)) Remove(rest, old);
    icalcomponent_add_property(rest, detail::NewX(detail::kMultiDayMarker, std::to_string(length)));
  };
  if (a->all_day) {
    if (a->end - a->start <= days(1)) return;
    a->subject = subject + " (until " + DateText(a->end - days(1)) + ")";
    a->end = a->start + days(1);
    mark();
    return;
  }
  icaltimezone* zone = detail::BuiltinZone(a->time_zone);
  icaltimetype local_start = detail::LocalTimeOf(a->start, zone, false);
  icaltimetype local_last = detail::LocalTimeOf(a->end - seconds(1), zone, false);
  if (a->end <= a->start ||
      (local_last.year == local_start.year && local_last.month == local_start.month &&
       local_last.day == local_start.day)) {
    return;
  }
  icaltimetype local_end = detail::LocalTimeOf(a->end, zone, false);
  char buf[32];
  snprintf(buf, sizeof(buf), " (until %04d-%02d-%02d %02d:%02d)", local_end.year, local_end.month,
           local_end.day, local_end.hour, local_end.minute);
  icaltimetype next_midnight = local_start;
  next_midnight.hour = next_midnight.minute = next_midnight.second = 0;
  icaltime_adjust(&next_midnight, 1, 0, 0, 0);
  a->subject = subject + buf;
  a->end = std::min(a->end, detail::InstantOf(next_midnight, zone));
  mark();
}

struct EventParts {
  icalcomponent* master = nullptr;  // may be an orphan override
  std::vector<icalcomponent*> overrides;
};

Result<Event> BuildEvent(icalcomponent* calendar, const EventParts& parts,
                         const std::vector<icalcomponent*>& others, const detail::Prescanned& pre,
                         const MapOptions& options, std::vector<std::string> warnings) {
  Event e;
  // The master is consumed in place (the parsed tree is ours): what is left of it
  // after the modeled properties are taken out is its unmodeled rest.
  icalcomponent_remove_component(calendar, parts.master);
  ComponentPtr rest(parts.master);
  icalcomponent* r = rest.get();
  ZoneContext zones(calendar, options, &warnings);
  model::Activity& a = e.activity;

  e.uid = TakeText(r, ICAL_UID_PROPERTY);
  if (icalproperty* id = FirstX(r, "X-TANDEM-CRM-ID")) {
    e.crm_id = icalproperty_get_x(id) ? icalproperty_get_x(id) : "";
    Remove(r, id);
  }
  if (icalproperty* seq = icalcomponent_get_first_property(r, ICAL_SEQUENCE_PROPERTY)) {
    e.sequence = std::max(0, icalproperty_get_sequence(seq));
    Remove(r, seq);
  }
  a.sequence = e.sequence;
  e.dtstamp = UtcPropertyTime(r, ICAL_DTSTAMP_PROPERTY);
  e.created = UtcPropertyTime(r, ICAL_CREATED_PROPERTY);
  e.last_modified = UtcPropertyTime(r, ICAL_LASTMODIFIED_PROPERTY);
  if (!e.last_modified) e.last_modified = e.dtstamp;
  RemoveAll(r, ICAL_DTSTAMP_PROPERTY);
  RemoveAll(r, ICAL_LASTMODIFIED_PROPERTY);
  // CREATED stays in the extra data: the producer's creation time is written back
  // as it was, not replaced by the time the CRM first stored the event.
  for (icalproperty* p : detail::Properties(r, ICAL_CREATED_PROPERTY)) {
    if (p != icalcomponent_get_first_property(r, ICAL_CREATED_PROPERTY) || !e.created) Remove(r, p);
  }
  // Written by Tandem itself; a fresh one is derived on every read.
  for (const char* marker : {detail::kFloatingMarker, detail::kMultiDayMarker}) {
    while (icalproperty* m = FirstX(r, marker)) Remove(r, m);
  }
  if (icalproperty* st = icalcomponent_get_first_property(r, ICAL_STATUS_PROPERTY)) {
    if (icalproperty_get_status(st) == ICAL_STATUS_CANCELLED) {
      a.cancelled = true;
      Remove(r, st);
    }
  }

  std::string who = e.uid.empty() ? "VEVENT" : "VEVENT " + e.uid;
  icalproperty* dtstart = icalcomponent_get_first_property(r, ICAL_DTSTART_PROPERTY);
  if (dtstart == nullptr) {
    return Status::InvalidArgument(LinePrefix(pre.LineOf("UID", e.uid)) + who + " has no DTSTART");
  }
  icaltimetype ts = icalproperty_get_dtstart(dtstart);
  if (icaltime_is_null_time(ts) || !icaltime_is_valid_time(ts) || ts.year < 1 || ts.year > 9999) {
    return Status::InvalidArgument(LinePrefix(pre.LineOf("DTSTART", "")) + who +
                                   " has an unusable DTSTART");
  }
  ZoneContext::Zone zone = zones.For(ts, TzidOf(dtstart));
  if (!ts.is_date && !icaltime_is_utc(ts) && TzidOf(dtstart).empty()) {
    // Floating: read in the user's zone (MapOptions::default_zone), written back floating.
    icalcomponent_add_property(r, detail::NewX(detail::kFloatingMarker, "TRUE"));
  }
  a.all_day = ts.is_date;
  a.time_zone = zone.name;
  a.start = InstantOf(ts, zone.convert);
  Remove(r, dtstart);

  if (icalproperty* dtend = icalcomponent_get_first_property(r, ICAL_DTEND_PROPERTY)) {
    icaltimetype te = icalproperty_get_dtend(dtend);
    if (icaltime_is_null_time(te) || !icaltime_is_valid_time(te) || te.year > 9999) {
      return Status::InvalidArgument(LinePrefix(pre.LineOf("DTEND", "")) + who +
                                     " has an unusable DTEND");
    }
    a.end = TimeOfProperty(dtend, te, zones);
    Remove(r, dtend);
  } else if (icalproperty* dur = icalcomponent_get_first_property(r, ICAL_DURATION_PROPERTY)) {
    icaldurationtype d = icalproperty_get_duration(dur);
    icaltimetype te = icaltime_add(ts, d);
    a.end = InstantOf(te, zone.convert);
    if (a.all_day && d.is_neg == 0 && (d.hours || d.minutes || d.seconds)) {
      a.end = a.start + std::chrono::seconds(icaldurationtype_as_int(d));
    }
    Remove(r, dur);
  } else {
    a.end = a.all_day ? a.start + std::chrono::days(1) : a.start;
  }
  if (a.all_day) {
    // DATE start with a DATE-TIME end: the day containing the end is the last day.
    auto day_end = std::chrono::ceil<std::chrono::days>(a.end);
    a.end = std::max(Instant(day_end), a.start + std::chrono::days(1));
  }
  if (a.end < a.start) {
    // Seen in real exports; one bad event must not block the calendar (C8).
    warnings.push_back(LinePrefix(pre.LineOf("DTEND", "")) + who +
                       " ends before it starts; read as zero length");
    a.end = a.start;
  }

  a.subject = TakeText(r, ICAL_SUMMARY_PROPERTY);
  a.location = TakeText(r, ICAL_LOCATION_PROPERTY);
  a.description = TakeText(r, ICAL_DESCRIPTION_PROPERTY);
  a.show_as = ShowAsOf(r);
  a.is_private = PrivateOf(r);
  a.reminder_minutes = ReminderOf(r, a.start, a.end);

  if (icalproperty* rr = icalcomponent_get_first_property(r, ICAL_RRULE_PROPERTY)) {
    icalrecurrencetype rule = icalproperty_get_rrule(rr);
    if (rule.freq == ICAL_NO_RECURRENCE) {
      return Status::InvalidArgument(LinePrefix(pre.LineOf("RRULE", "")) + who +
                                     " has an unusable RRULE");
    }
    char* text = icalrecurrencetype_as_string_r(&rule);
    a.rrule = text ? text : "";
    icalmemory_free_buffer(text);
    Remove(r, rr);
  }
  // A date the CRM cannot hold (month 16, year 40000, ...) stays verbatim in extra.
  auto usable = [](const icaltimetype& t) {
    return !icaltime_is_null_time(t) && icaltime_is_valid_time(t) && t.year >= 1 &&
           t.year <= 9999 && t.month >= 1 && t.month <= 12 && t.day >= 1 &&
           t.day <= icaltime_days_in_month(t.month, t.year);
  };
  for (icalproperty* p : detail::Properties(r, ICAL_EXDATE_PROPERTY)) {
    icaltimetype t = icalproperty_get_exdate(p);
    if (!usable(t) || t.is_date != a.all_day) continue;  // kept in extra
    a.exdates.push_back(TimeOfProperty(p, t, zones));
    Remove(r, p);
  }
  for (icalproperty* p : detail::Properties(r, ICAL_RDATE_PROPERTY)) {
    icaldatetimeperiodtype v = icalproperty_get_rdate(p);
    if (!usable(v.time) || v.time.is_date != a.all_day) continue;
    a.rdates.push_back(TimeOfProperty(p, v.time, zones));
    Remove(r, p);
  }

  if (options.multi_day == MultiDayRule::kStartWithEndInTitle) ApplyMultiDayRule(&a, r);

  // ical_extra: calendar properties, the master's rest, overrides, other
  // components, and the VTIMEZONEs they refer to.
  ComponentPtr extra(icalcomponent_new(ICAL_VCALENDAR_COMPONENT));
  bool has_extra = false;
  for (icalproperty* p : detail::Properties(calendar, ICAL_ANY_PROPERTY)) {
    icalproperty_kind k = icalproperty_isa(p);
    if (k == ICAL_VERSION_PROPERTY || k == ICAL_PRODID_PROPERTY || k == ICAL_METHOD_PROPERTY)
      continue;
    icalcomponent_add_property(extra.get(), icalproperty_new_clone(p));
    has_extra = true;
  }
  has_extra = has_extra || icalcomponent_get_first_property(r, ICAL_ANY_PROPERTY) != nullptr ||
              icalcomponent_get_first_component(r, ICAL_ANY_COMPONENT) != nullptr ||
              !parts.overrides.empty() || !others.empty();
  if (has_extra) {
    std::set<std::string> tzids;
    CollectTzids(r, &tzids);
    std::vector<ComponentPtr> copies;
    for (icalcomponent* o : parts.overrides) copies.emplace_back(icalcomponent_new_clone(o));
    for (icalcomponent* o : others) copies.emplace_back(icalcomponent_new_clone(o));
    for (auto& c : copies) CollectTzids(c.get(), &tzids);
    for (icalcomponent* vtz : detail::Children(calendar, ICAL_VTIMEZONE_COMPONENT)) {
      icalproperty* id = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
      if (id && icalproperty_get_tzid(id) && tzids.count(icalproperty_get_tzid(id)))
        icalcomponent_add_component(extra.get(), icalcomponent_new_clone(vtz));
    }
    // A clone, not the parsed component itself: libical 3.0 writes a parsed
    // multi-value TEXT (CATEGORIES:a\, b) back unescaped, a clone correctly.
    icalcomponent_add_component(extra.get(), icalcomponent_new_clone(r));
    for (auto& c : copies) icalcomponent_add_component(extra.get(), c.release());
    a.ical_extra = detail::ToIcalString(extra.get());
  }

  e.warnings = std::move(warnings);
  return e;
}

std::string UidOf(icalcomponent* c) {
  icalproperty* p = icalcomponent_get_first_property(c, ICAL_UID_PROPERTY);
  const char* uid = p ? icalproperty_get_uid(p) : nullptr;
  return uid ? std::string(uid) : std::string();
}

}  // namespace

Result<std::vector<Event>> ParseCalendar(std::string_view ics, const MapOptions& options) {
  return ParseCalendar(ics, options, nullptr);
}

Result<std::vector<Event>> ParseCalendar(std::string_view ics, const MapOptions& options,
                                         std::vector<Status>* event_errors) {
  TANDEM_ASSIGN_OR_RETURN(detail::Prescanned pre, detail::Prescan(ics));
  ComponentPtr root(icalparser_parse_string(pre.text.c_str()));
  if (root == nullptr) return Status::InvalidArgument("no iCalendar data could be parsed");
  std::vector<icalcomponent*> calendars;
  if (icalcomponent_isa(root.get()) == ICAL_VCALENDAR_COMPONENT) {
    calendars.push_back(root.get());
  } else {
    calendars = detail::Children(root.get(), ICAL_VCALENDAR_COMPONENT);
  }
  std::vector<std::string> warnings = pre.warnings;
  std::map<icalcomponent*, Status> broken;
  TakeParseErrors(root.get(), pre, &warnings, &broken);
  // A broken event fails the whole call, or only itself when the caller collects.
  auto failed = [&](const Status& s) -> bool {
    if (event_errors == nullptr) return true;
    event_errors->push_back(s);
    return false;
  };

  std::vector<Event> events;
  for (icalcomponent* calendar : calendars) {
    std::vector<std::string> order;
    std::map<std::string, EventParts> by_uid;
    int anonymous = 0;
    for (icalcomponent* ev : detail::Children(calendar, ICAL_VEVENT_COMPONENT)) {
      std::string uid = UidOf(ev);
      // Events without UID cannot belong together: each is its own.
      std::string key = uid.empty() ? "\n" + std::to_string(anonymous++) : uid;
      auto [it, fresh] = by_uid.try_emplace(key);
      if (fresh) order.push_back(key);
      bool is_override =
          icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY) != nullptr;
      if (!is_override && it->second.master == nullptr) {
        it->second.master = ev;
      } else {
        it->second.overrides.push_back(ev);
      }
    }
    std::vector<icalcomponent*> others;
    for (icalcomponent* c : detail::Children(calendar, ICAL_ANY_COMPONENT)) {
      icalcomponent_kind k = icalcomponent_isa(c);
      if (k != ICAL_VEVENT_COMPONENT && k != ICAL_VTIMEZONE_COMPONENT) others.push_back(c);
    }
    bool first = true;
    for (const std::string& key : order) {
      EventParts parts = by_uid[key];
      if (parts.master == nullptr) {  // only overrides: the first stands for the event
        parts.master = parts.overrides.front();
        parts.overrides.erase(parts.overrides.begin());
      }
      Status unusable;
      for (icalcomponent* c : parts.overrides) {
        auto it = broken.find(c);
        if (it != broken.end() && unusable.ok()) unusable = it->second;
      }
      if (auto it = broken.find(parts.master); it != broken.end()) unusable = it->second;
      if (!unusable.ok()) {
        if (failed(unusable)) return unusable;
        continue;
      }
      Result<Event> e = BuildEvent(calendar, parts, first ? others : std::vector<icalcomponent*>{},
                                   pre, options, first ? warnings : std::vector<std::string>{});
      if (!e.ok()) {
        if (failed(e.status())) return e.status();
        continue;
      }
      first = false;
      events.push_back(std::move(*e));
    }
  }
  if (events.empty()) {
    if (event_errors != nullptr && !event_errors->empty()) return event_errors->front();
    return Status::NotFound("no VEVENT in the iCalendar data");
  }
  return events;
}

Result<Event> ParseEvent(std::string_view ics, const MapOptions& options) {
  Result<std::vector<Event>> events = ParseCalendar(ics, options);
  if (!events.ok()) {
    if (events.status().Is(Code::kNotFound))
      return Status::InvalidArgument(events.status().message());
    return events.status();
  }
  if (events->size() != 1) {
    return Status::InvalidArgument("the resource holds " + std::to_string(events->size()) +
                                   " events with different UIDs ('" + (*events)[0].uid + "', '" +
                                   (*events)[1].uid + "', ...); expected one");
  }
  return std::move((*events)[0]);
}

}  // namespace tandem::ical
