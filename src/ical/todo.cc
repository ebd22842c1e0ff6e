// CRM tasks <-> iCalendar VTODO (RFC 5545 3.6.2): ParseTodo, WriteTodo. The steps
// shared with events (identity, texts, CLASS, reminder, recurrence, ical_extra,
// zones) live in internal.h; this file holds what a VTODO does differently: DUE for
// the end, optional dates, the inclusive due day of an all-day task.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "ical/ical.h"
#include "ical/internal.h"

namespace tandem::ical {
namespace {

using detail::ComponentPtr;
using detail::InstantOf;
using detail::LinePrefix;
using detail::Remove;
using detail::TakeText;
using detail::TzidOf;
using detail::ZoneContext;
using std::chrono::days;

// Mark, inside ical_extra, a VTODO that had no DTSTART / no DUE (nor DURATION): the
// value is the instant (RFC 3339) the reader gave the activity in its stead, so that
// the writer leaves the property out again while the activity keeps it.
constexpr char kNoStartMarker[] = "X-TANDEM-NO-DTSTART";
constexpr char kNoDueMarker[] = "X-TANDEM-NO-DUE";

bool Usable(const icaltimetype& t) {
  return !icaltime_is_null_time(t) && icaltime_is_valid_time(t) && t.year >= 1 && t.year <= 9999;
}

// The physical line of the `index`-th BEGIN:VTODO (0 when not found).
int LineOfTodo(const detail::Prescanned& pre, size_t index) {
  size_t seen = 0;
  for (const detail::ContentLine& l : pre.lines) {
    if (l.name != "BEGIN") continue;
    std::string_view text = std::string_view(pre.text).substr(l.offset, l.length);
    size_t colon = text.find(':');
    if (colon == std::string_view::npos) continue;
    std::string value(text.substr(colon + 1));
    for (char& c : value) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (value == "VTODO" && seen++ == index) return l.line;
  }
  return 0;
}

std::optional<Instant> MarkedInstant(icalcomponent* extra_master, const char* marker) {
  icalproperty* p = extra_master ? detail::FirstX(extra_master, marker) : nullptr;
  const char* text = p ? icalproperty_get_x(p) : nullptr;
  if (text == nullptr) return std::nullopt;
  Result<Instant> t = ParseRfc3339(text);
  if (!t.ok()) return std::nullopt;
  return *t;
}

Result<Event> BuildTodo(icalcomponent* calendar, const detail::ComponentGroup& parts,
                        const std::vector<icalcomponent*>& others, const detail::Prescanned& pre,
                        const MapOptions& options, std::vector<std::string> warnings,
                        Instant now) {
  Event e;
  // As for events, the master is consumed in place; what is left is its rest.
  icalcomponent_remove_component(calendar, parts.master);
  ComponentPtr rest(parts.master);
  icalcomponent* r = rest.get();
  ZoneContext zones(calendar, options, &warnings);
  model::Activity& a = e.activity;
  a.kind = model::ActivityKind::kTask;
  a.show_as = model::ShowAs::kFree;  // a task is never busy time

  detail::TakeIdentity(r, &e);
  for (const char* marker : {kNoStartMarker, kNoDueMarker}) {
    while (icalproperty* m = detail::FirstX(r, marker)) Remove(r, m);
  }
  a.cancelled = detail::TakeCancelled(r);

  const std::string who = "VTODO " + e.uid;
  icalproperty* dtstart = icalcomponent_get_first_property(r, ICAL_DTSTART_PROPERTY);
  icalproperty* due = icalcomponent_get_first_property(r, ICAL_DUE_PROPERTY);
  icalproperty* duration = icalcomponent_get_first_property(r, ICAL_DURATION_PROPERTY);
  icaltimetype ts = icaltime_null_time(), td = icaltime_null_time();
  if (dtstart != nullptr) {
    ts = icalproperty_get_dtstart(dtstart);
    if (!Usable(ts)) {
      return Status::InvalidArgument(LinePrefix(pre.LineOf("DTSTART", "")) + who +
                                     " has an unusable DTSTART");
    }
  }
  if (due != nullptr) {
    td = icalproperty_get_due(due);
    if (!Usable(td)) {
      return Status::InvalidArgument(LinePrefix(pre.LineOf("DUE", "")) + who +
                                     " has an unusable DUE");
    }
  }

  // The form of the times (DATE or not, zone, floating) is DTSTART's, else DUE's.
  icalproperty* lead = dtstart ? dtstart : due;
  const icaltimetype tl = dtstart ? ts : td;
  ZoneContext::Zone zone;
  if (lead != nullptr) {
    zone = zones.For(tl, TzidOf(lead));
    if (!tl.is_date && !icaltime_is_utc(tl) && TzidOf(lead).empty()) {
      // Floating: read in the user's zone (MapOptions::default_zone), written back floating.
      icalcomponent_add_property(r, detail::NewX(detail::kFloatingMarker, "TRUE"));
    }
    a.all_day = tl.is_date;
  } else {
    zone = zones.Floating();  // no dates at all: the user's zone, should the CRM add some
  }
  a.time_zone = zone.name;

  if (dtstart != nullptr) a.start = InstantOf(ts, zone.convert);
  // The due time (all day: midnight UTC of the due day), when the VTODO has one.
  std::optional<Instant> due_at;
  bool negative_duration = false;
  if (due != nullptr) {
    due_at = detail::TimeOfProperty(due, td, zones);
    // A DATE due on a timed task (RFC 5545 wants one form for both): the end of that day.
    if (td.is_date && !a.all_day) *due_at += days(1);
    if (duration != nullptr) {
      warnings.push_back(LinePrefix(pre.LineOf("DURATION", "")) + who +
                         " has both DUE and DURATION; DURATION ignored");
    }
  } else if (duration != nullptr && dtstart != nullptr) {
    icaldurationtype d = icalproperty_get_duration(duration);
    negative_duration = d.is_neg != 0;
    if (a.all_day && (d.hours || d.minutes || d.seconds)) {
      due_at = a.start + std::chrono::seconds(icaldurationtype_as_int(d));
    } else {
      due_at = InstantOf(icaltime_add(ts, d), zone.convert);
    }
  } else if (duration != nullptr) {
    warnings.push_back(LinePrefix(pre.LineOf("DURATION", "")) + who +
                       " has a DURATION but no DTSTART; DURATION ignored");
  }
  if (a.all_day && due_at) *due_at = std::chrono::floor<days>(*due_at);
  if (due) Remove(r, due);
  if (duration) Remove(r, duration);
  if (dtstart) Remove(r, dtstart);

  if (dtstart == nullptr) {
    if (due_at) {
      a.start = *due_at;
    } else {
      // CREATED is stable; DTSTAMP changes with every revision of the task (the
      // start would move on every sync round); `now` when the VTODO has neither.
      a.start = e.created   ? *e.created
                : e.dtstamp ? *e.dtstamp
                            : std::chrono::floor<std::chrono::seconds>(now);
    }
    icalcomponent_add_property(r, detail::NewX(kNoStartMarker, FormatRfc3339(a.start)));
  }
  if (due_at && *due_at < a.start) {
    if (negative_duration) {
      return Status::InvalidArgument(LinePrefix(pre.LineOf("DURATION", "")) + who +
                                     " has a negative DURATION");
    }
    return Status::InvalidArgument(LinePrefix(pre.LineOf("DUE", "")) + who +
                                   " is due before it starts (DUE before DTSTART)");
  }
  // The activity's end: the due time; all day, midnight after the due day.
  const Instant due_ref = due_at ? *due_at : a.start;
  a.end = a.all_day ? due_ref + days(1) : due_ref;
  if (!due_at) icalcomponent_add_property(r, detail::NewX(kNoDueMarker, FormatRfc3339(a.end)));

  a.subject = TakeText(r, ICAL_SUMMARY_PROPERTY);
  a.location = TakeText(r, ICAL_LOCATION_PROPERTY);
  a.description = TakeText(r, ICAL_DESCRIPTION_PROPERTY);
  a.is_private = detail::PrivateOf(r);
  // RELATED=END triggers count from the due time (RFC 5545 3.8.6.3).
  a.reminder_minutes = detail::ReminderOf(r, a.start, due_ref);
  TANDEM_RETURN_IF_ERROR(detail::TakeRecurrence(r, zones, pre, who, &a));

  if (options.multi_day == MultiDayRule::kStartWithEndInTitle) detail::ApplyMultiDayRule(&a, r);

  a.ical_extra = detail::ExtraOf(calendar, r, parts.overrides, others);
  e.warnings = std::move(warnings);
  return e;
}

}  // namespace

Result<Event> ParseTodo(std::string_view ics, const MapOptions& options) {
  return ParseTodo(ics, options, SystemClock().Now());
}

Result<Event> ParseTodo(std::string_view ics, const MapOptions& options, Instant now) {
  TANDEM_ASSIGN_OR_RETURN(detail::ParsedText parsed, detail::ParseText(ics, ICAL_VTODO_COMPONENT));
  struct Found {
    icalcomponent* calendar;
    detail::ComponentGroup group;
  };
  std::vector<Found> found;
  size_t index = 0;
  for (icalcomponent* calendar : parsed.calendars) {
    for (icalcomponent* todo : detail::Children(calendar, ICAL_VTODO_COMPONENT)) {
      if (detail::UidOf(todo).empty()) {
        return Status::InvalidArgument(LinePrefix(LineOfTodo(parsed.pre, index)) +
                                       "VTODO has no UID");
      }
      ++index;
    }
    for (detail::ComponentGroup& g : detail::GroupByUid(calendar, ICAL_VTODO_COMPONENT))
      found.push_back({calendar, std::move(g)});
  }
  if (found.empty()) return Status::InvalidArgument("no VTODO in the iCalendar data");
  if (found.size() > 1) {
    const std::string first = detail::UidOf(found[0].group.master);
    const std::string second = detail::UidOf(found[1].group.master);
    if (first == second) {
      return Status::InvalidArgument("VTODO '" + first +
                                     "' is split over several VCALENDARs; expected one");
    }
    return Status::InvalidArgument("the resource holds " + std::to_string(found.size()) +
                                   " tasks with different UIDs ('" + first + "', '" + second +
                                   "', ...); expected one");
  }
  const Found& f = found.front();
  // An unreadable timing property of the master, else of an override, fails the task.
  if (auto it = parsed.broken.find(f.group.master); it != parsed.broken.end()) return it->second;
  for (icalcomponent* c : f.group.overrides) {
    if (auto it = parsed.broken.find(c); it != parsed.broken.end()) return it->second;
  }
  std::vector<icalcomponent*> others;
  for (icalcomponent* c : detail::Children(f.calendar, ICAL_ANY_COMPONENT)) {
    icalcomponent_kind k = icalcomponent_isa(c);
    if (k != ICAL_VTODO_COMPONENT && k != ICAL_VTIMEZONE_COMPONENT) others.push_back(c);
  }
  // VTODOs of other VCALENDARs cannot be there (one task); other calendars' other
  // components are not kept, as for events.
  return BuildTodo(f.calendar, f.group, others, parsed.pre, options, std::move(parsed.warnings),
                   now);
}

Result<std::string> WriteTodo(const model::Activity& a, const WriteOptions& o) {
  if (o.uid.empty()) return Status::InvalidArgument("uid: required");
  TANDEM_ASSIGN_OR_RETURN(detail::WriteBase base, detail::PrepareWrite(a, ICAL_VTODO_COMPONENT));
  icalcomponent* extra_master = base.extra_master;
  detail::TimeForm form = base.Form(a.all_day);

  std::string subject = a.subject;
  Instant end = a.end;
  if (o.multi_day == MultiDayRule::kStartWithEndInTitle) {
    TANDEM_RETURN_IF_ERROR(detail::UndoMultiDayRule(a, base.zone, extra_master, &subject, &end));
  }
  if (end < a.start) return Status::InvalidArgument("end: must not be before start");
  // The due time: all day, the last day (the model's end is the midnight after it).
  const Instant due = a.all_day ? std::max(a.start, end - days(1)) : end;

  // A date the VTODO did not have stays absent while the activity keeps what the
  // reader derived: with the other date present, the same relation to it (the
  // task may have moved); with neither, the recorded instants.
  const std::optional<Instant> no_start = MarkedInstant(extra_master, kNoStartMarker);
  const std::optional<Instant> no_due = MarkedInstant(extra_master, kNoDueMarker);
  bool omit_start = false, omit_due = false;
  if (no_start && no_due) {
    omit_start = a.start == *no_start;
    omit_due = end == *no_due;
  } else if (no_start) {
    omit_start = a.start == due;
  } else if (no_due) {
    omit_due = due == a.start;
  }

  const bool with_zone = !omit_start || !omit_due || !a.rdates.empty() || !a.exdates.empty();
  ComponentPtr cal = detail::NewCalendar(base, omit_start ? due : a.start, with_zone);
  icalcomponent* todo = icalcomponent_new(ICAL_VTODO_COMPONENT);
  icalcomponent_add_component(cal.get(), todo);
  detail::AddIdentity(todo, a, o, extra_master);
  if (omit_start && omit_due && !o.created &&
      (extra_master == nullptr ||
       icalcomponent_get_first_property(extra_master, ICAL_CREATED_PROPERTY) == nullptr)) {
    // A task without dates is read at its CREATED: written so that the next reading
    // gives the activity the same start again.
    icalcomponent_add_property(todo, icalproperty_new_created(detail::UtcTime(a.start)));
  }

  if (!omit_start)
    icalcomponent_add_property(todo, form.Tag(icalproperty_new_dtstart(form.Of(a.start))));
  if (!omit_due) icalcomponent_add_property(todo, form.Tag(icalproperty_new_due(form.Of(due))));
  if (!subject.empty())
    detail::AddText(todo, extra_master, icalproperty_new_summary(subject.c_str()));
  if (!a.location.empty())
    detail::AddText(todo, extra_master, icalproperty_new_location(a.location.c_str()));
  if (!a.description.empty())
    detail::AddText(todo, extra_master, icalproperty_new_description(a.description.c_str()));

  const bool class_from_extra = detail::AddClass(todo, a, extra_master);
  TANDEM_RETURN_IF_ERROR(detail::AddRecurrence(todo, a, form));

  // The modeled reminder first (read back as "the first display alarm"). Without
  // DTSTART a trigger must count from DUE (RFC 5545 3.8.6.3).
  icalcomponent* reminder_template = detail::ReminderTemplate(extra_master);
  if (a.reminder_minutes) {
    const int64_t before = 60 * static_cast<int64_t>(*a.reminder_minutes);
    if (omit_start && !omit_due) {
      detail::AddReminder(todo, reminder_template,
                          ToUnixSeconds(a.start) - before - ToUnixSeconds(due),
                          /*related_end=*/true);
    } else {
      detail::AddReminder(todo, reminder_template, -before, /*related_end=*/false);
    }
  }
  detail::AddExtraMaster(todo, a, extra_master, class_from_extra, reminder_template,
                         {detail::kFloatingMarker, detail::kMultiDayMarker, kNoStartMarker,
                          kNoDueMarker});
  detail::AddOtherComponents(cal.get(), base.extra.get(), ICAL_VTODO_COMPONENT);
  return detail::ToIcalString(cal.get());
}

}  // namespace tandem::ical
