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
using detail::LinePrefix;
using detail::Remove;
using detail::TakeText;
using detail::TzidOf;
using detail::ZoneContext;

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

Result<Event> BuildEvent(icalcomponent* calendar, const detail::ComponentGroup& parts,
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

  detail::TakeIdentity(r, &e);
  a.cancelled = detail::TakeCancelled(r);

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
    a.end = detail::TimeOfProperty(dtend, te, zones);
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
  a.is_private = detail::PrivateOf(r);
  a.reminder_minutes = detail::ReminderOf(r, a.start, a.end);
  TANDEM_RETURN_IF_ERROR(detail::TakeRecurrence(r, zones, pre, who, &a));

  if (options.multi_day == MultiDayRule::kStartWithEndInTitle) detail::ApplyMultiDayRule(&a, r);

  // ical_extra: calendar properties, the master's rest, overrides, other
  // components, and the VTIMEZONEs they refer to.
  a.ical_extra = detail::ExtraOf(calendar, r, parts.overrides, others);

  e.warnings = std::move(warnings);
  return e;
}

}  // namespace

Result<std::vector<Event>> ParseCalendar(std::string_view ics, const MapOptions& options) {
  return ParseCalendar(ics, options, nullptr);
}

Result<std::vector<Event>> ParseCalendar(std::string_view ics, const MapOptions& options,
                                         std::vector<Status>* event_errors) {
  TANDEM_ASSIGN_OR_RETURN(detail::ParsedText parsed, detail::ParseText(ics, ICAL_VEVENT_COMPONENT));
  const detail::Prescanned& pre = parsed.pre;
  const std::vector<std::string>& warnings = parsed.warnings;
  const std::map<icalcomponent*, Status>& broken = parsed.broken;
  // A broken event fails the whole call, or only itself when the caller collects.
  auto failed = [&](const Status& s) -> bool {
    if (event_errors == nullptr) return true;
    event_errors->push_back(s);
    return false;
  };

  std::vector<Event> events;
  for (icalcomponent* calendar : parsed.calendars) {
    std::vector<detail::ComponentGroup> groups =
        detail::GroupByUid(calendar, ICAL_VEVENT_COMPONENT);
    std::vector<icalcomponent*> others;
    for (icalcomponent* c : detail::Children(calendar, ICAL_ANY_COMPONENT)) {
      icalcomponent_kind k = icalcomponent_isa(c);
      if (k != ICAL_VEVENT_COMPONENT && k != ICAL_VTIMEZONE_COMPONENT) others.push_back(c);
    }
    bool first = true;
    for (const detail::ComponentGroup& parts : groups) {
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
