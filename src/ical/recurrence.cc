// Occurrences of an activity: RRULE/RDATE/EXDATE through libical's recurrence
// iterator, then RECURRENCE-ID overrides from ical_extra.
#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "ical/ical.h"
#include "ical/internal.h"

namespace tandem::ical {
namespace detail {
namespace {

icaltimezone* ZoneFor(icalcomponent* calendar, icalproperty* p, icaltimezone* floating) {
  std::string tzid = TzidOf(p);
  if (tzid.empty()) return floating;
  // Same preference as the parser: system tzdata, then the file's definition.
  Result<std::string> name = ResolveZoneName(tzid);
  if (name.ok()) {
    if (icaltimezone* zone = BuiltinZone(*name)) return zone;
  }
  if (icaltimezone* defined = icalcomponent_get_timezone(calendar, tzid.c_str())) return defined;
  return floating;
}

std::string Text(icalcomponent* c, icalproperty_kind kind) {
  icalproperty* p = icalcomponent_get_first_property(c, kind);
  if (p == nullptr || icalproperty_get_value(p) == nullptr) return {};
  const char* s = icalvalue_get_text(icalproperty_get_value(p));
  return s ? std::string(s) : std::string();
}

}  // namespace

Result<std::vector<Override>> ReadOverrides(std::string_view ical_extra,
                                            std::string_view time_zone,
                                            Duration master_duration) {
  std::vector<Override> out;
  if (ical_extra.empty()) return out;
  std::string text(ical_extra);
  ComponentPtr cal(icalparser_parse_string(text.c_str()));
  if (cal == nullptr || icalcomponent_isa(cal.get()) != ICAL_VCALENDAR_COMPONENT)
    return Status::InvalidArgument("ical_extra: not one VCALENDAR");
  icaltimezone* floating = BuiltinZone(time_zone);
  bool first = true;
  for (icalcomponent* ev : Children(cal.get(), ICAL_VEVENT_COMPONENT)) {
    if (first) {  // the master's own unmodeled properties
      first = false;
      continue;
    }
    icalproperty* rid = icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY);
    if (rid == nullptr) continue;
    Override o;
    icaltimetype rt = icalproperty_get_recurrenceid(rid);
    if (icaltime_is_null_time(rt)) continue;
    o.recurrence_id = InstantOf(rt, ZoneFor(cal.get(), rid, floating));
    icalparameter* range = icalproperty_get_first_parameter(rid, ICAL_RANGE_PARAMETER);
    o.this_and_future = range && icalparameter_get_range(range) == ICAL_RANGE_THISANDFUTURE;
    icalproperty* status = icalcomponent_get_first_property(ev, ICAL_STATUS_PROPERTY);
    o.cancelled = status && icalproperty_get_status(status) == ICAL_STATUS_CANCELLED;
    o.start = o.recurrence_id;
    icaltimetype st = icaltime_null_time();
    if (icalproperty* ds = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY)) {
      st = icalproperty_get_dtstart(ds);
      if (!icaltime_is_null_time(st)) o.start = InstantOf(st, ZoneFor(cal.get(), ds, floating));
    }
    o.end = o.start + master_duration;
    if (icalproperty* de = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY)) {
      icaltimetype et = icalproperty_get_dtend(de);
      if (!icaltime_is_null_time(et)) o.end = InstantOf(et, ZoneFor(cal.get(), de, floating));
    } else if (icalproperty* du = icalcomponent_get_first_property(ev, ICAL_DURATION_PROPERTY)) {
      o.end = o.start + std::chrono::seconds(icaldurationtype_as_int(icalproperty_get_duration(du)));
    }
    if (o.end < o.start) o.end = o.start;
    o.subject = Text(ev, ICAL_SUMMARY_PROPERTY);
    o.location = Text(ev, ICAL_LOCATION_PROPERTY);
    o.description = Text(ev, ICAL_DESCRIPTION_PROPERTY);
    out.push_back(std::move(o));
  }
  std::sort(out.begin(), out.end(), [](const Override& a, const Override& b) {
    return a.recurrence_id < b.recurrence_id;
  });
  return out;
}

}  // namespace detail

namespace {

constexpr size_t kMaxRuleSteps = 200000;

bool Overlaps(Instant start, Instant end, Instant from, Instant to) {
  if (start >= to) return false;
  if (end > from) return true;
  return end == start && start >= from;
}

}  // namespace

Result<std::vector<Occurrence>> Expand(const model::Activity& a, Instant from, Instant to,
                                       size_t max_count) {
  std::vector<Occurrence> out;
  const Duration duration = a.end - a.start;
  if (a.rrule.empty() && a.rdates.empty()) {
    if (max_count > 0 && Overlaps(a.start, a.end, from, to))
      out.push_back({a.start, a.end, a.start, false});
    return out;
  }
  TANDEM_ASSIGN_OR_RETURN(std::vector<detail::Override> overrides,
                          detail::ReadOverrides(a.ical_extra, a.time_zone, duration));

  // Rule instances are needed wherever an override could move one into the window.
  Duration margin = duration;
  for (const detail::Override& o : overrides) {
    Duration shift = o.start > o.recurrence_id ? o.start - o.recurrence_id
                                                : o.recurrence_id - o.start;
    margin = std::max(margin, shift + (o.end - o.start));
  }
  const Instant lo = from - margin - std::chrono::seconds(1);
  const Instant hi = to + margin;

  icaltimezone* zone = nullptr;
  if (!a.all_day) {
    zone = detail::BuiltinZone(a.time_zone);
    if (zone == nullptr)
      return Status::InvalidArgument("time_zone: unknown IANA zone '" + a.time_zone + "'");
  }
  std::vector<Instant> starts;
  if (a.start >= lo && a.start < hi) starts.push_back(a.start);  // DTSTART is always one
  if (!a.rrule.empty()) {
    icalrecurrencetype rule = icalrecurrencetype_from_string(a.rrule.c_str());
    if (rule.freq == ICAL_NO_RECURRENCE)
      return Status::InvalidArgument("rrule: not a recurrence rule: '" + a.rrule + "'");
    icaltimetype dtstart = detail::LocalTimeOf(a.start, zone, a.all_day);
    dtstart.zone = nullptr;
    icalrecur_iterator* it = icalrecur_iterator_new(rule, dtstart);
    if (it == nullptr) return Status::InvalidArgument("rrule: unusable with DTSTART: " + a.rrule);
    size_t steps = 0;
    for (icaltimetype t = icalrecur_iterator_next(it); !icaltime_is_null_time(t);
         t = icalrecur_iterator_next(it)) {
      if (++steps > kMaxRuleSteps) {
        icalrecur_iterator_free(it);
        return Status::ResourceExhausted("rrule: more than " + std::to_string(kMaxRuleSteps) +
                                         " instances before the window ends");
      }
      Instant s = detail::InstantOf(t, zone);
      if (s >= hi) break;
      if (s >= lo) starts.push_back(s);
    }
    icalrecur_iterator_free(it);
  }
  for (Instant r : a.rdates) {
    if (r >= lo && r < hi) starts.push_back(r);
  }
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  if (!a.exdates.empty()) {
    std::set<Instant> excluded(a.exdates.begin(), a.exdates.end());
    std::erase_if(starts, [&](Instant s) { return excluded.count(s) > 0; });
  }

  std::map<Instant, const detail::Override*> exact;
  std::vector<const detail::Override*> future;  // THISANDFUTURE, by recurrence id
  for (const detail::Override& o : overrides) {
    exact[o.recurrence_id] = &o;
    if (o.this_and_future) future.push_back(&o);
  }
  for (Instant rid : starts) {
    Occurrence occ{rid, rid + duration, rid, false};
    const detail::Override* shift = nullptr;
    for (const detail::Override* f : future) {
      if (f->recurrence_id <= rid) shift = f;
    }
    if (shift != nullptr) {
      occ.start = rid + (shift->start - shift->recurrence_id);
      occ.end = occ.start + (shift->end - shift->start);
      occ.overridden = true;
    }
    auto it = exact.find(rid);
    if (it != exact.end()) {
      if (it->second->cancelled) continue;
      occ.start = it->second->start;
      occ.end = it->second->end;
      occ.overridden = true;
    }
    if (Overlaps(occ.start, occ.end, from, to)) out.push_back(occ);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Occurrence& x, const Occurrence& y) { return x.start < y.start; });
  if (out.size() > max_count) out.resize(max_count);
  return out;
}

bool OccursWithin(const model::Activity& activity, Instant from, Instant to) {
  Result<std::vector<Occurrence>> occ = Expand(activity, from, to, 1);
  if (occ.ok()) return !occ->empty();
  return Overlaps(activity.start, activity.end, from, to);
}

}  // namespace tandem::ical
