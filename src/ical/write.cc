// Activity -> iCalendar (WriteEvent).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <algorithm>
#include <map>
#include <mutex>

#include "ical/ical.h"
#include "ical/internal.h"

namespace tandem::ical {
namespace {

using detail::ComponentPtr;
using detail::NewX;

const char* BusyStatusName(model::ShowAs s) {
  switch (s) {
    case model::ShowAs::kFree:
      return "FREE";
    case model::ShowAs::kTentative:
      return "TENTATIVE";
    case model::ShowAs::kBusy:
      return "BUSY";
    case model::ShowAs::kOutOfOffice:
      return "OOF";
    case model::ShowAs::kWorkingElsewhere:
      return "WORKINGELSEWHERE";
  }
  return "BUSY";
}

icaltimetype UtcTime(Instant t) {
  return icaltime_from_timet_with_zone(static_cast<time_t>(ToUnixSeconds(t)), 0,
                                       icaltimezone_get_utc_timezone());
}

// How the activity's times are written: DATE, UTC, local time with a TZID, or
// floating (local time in the activity's zone, no TZID).
class TimeForm {
 public:
  TimeForm(bool all_day, icaltimezone* zone, std::string tzid, bool floating)
      : all_day_(all_day), zone_(zone), tzid_(std::move(tzid)), floating_(floating) {}

  icaltimetype Of(Instant t) const {
    if (all_day_) return detail::LocalTimeOf(t, nullptr, true);
    if (floating_) {
      icaltimetype local =
          detail::LocalTimeOf(t, zone_ ? zone_ : icaltimezone_get_utc_timezone(), false);
      local.zone = nullptr;
      return local;
    }
    if (zone_ == nullptr) return UtcTime(t);
    icaltimetype local = detail::LocalTimeOf(t, zone_, false);
    local.zone = nullptr;  // written as local time; the TZID parameter names the zone
    return local;
  }

  icalproperty* Tag(icalproperty* p) const {
    if (!all_day_ && zone_ != nullptr && !floating_)
      icalproperty_add_parameter(p, icalparameter_new_tzid(tzid_.c_str()));
    if (all_day_) icalproperty_add_parameter(p, icalparameter_new_value(ICAL_VALUE_DATE));
    return p;
  }

 private:
  bool all_day_;
  icaltimezone* zone_;
  std::string tzid_;
  bool floating_;
};

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

// The external form of an activity the multi-day rule (S5) shaped: the real end is
// the start plus the real length the parser recorded (kMultiDayMarker in the extra
// data); the title loses its suffix. Without the marker (activities stored before
// it existed), the end is read back from a well-formed suffix.
Status UndoMultiDayRule(const model::Activity& a, icaltimezone* zone, icalcomponent* extra_master,
                        std::string* subject, Instant* end) {
  if (icalproperty* mark =
          extra_master ? detail::FirstX(extra_master, detail::kMultiDayMarker) : nullptr) {
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
  *subject = detail::StripUntilSuffix(a.subject, &until);
  if (!until) return Status::Ok();
  Result<Instant> day = ParseRfc3339(until->substr(0, 10));
  if (!day.ok()) return Status::InvalidArgument("subject: unreadable end date suffix");
  if (a.all_day) {
    *end = *day + std::chrono::days(1);
  } else if (until->size() == 16) {
    icaltimetype local = detail::LocalTimeOf(*day, nullptr, false);
    local.zone = nullptr;
    local.hour = std::stoi(until->substr(11, 2));
    local.minute = std::stoi(until->substr(14, 2));
    *end = detail::InstantOf(local, zone ? zone : icaltimezone_get_utc_timezone());
  }
  if (*end < a.start) *end = a.start;
  return Status::Ok();
}

icalcomponent* BuildZoneComponent(icaltimezone* zone, const std::string& tzid, int from_year) {
  std::lock_guard<std::mutex> lock(detail::ZoneMutex());
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
  for (icalproperty* x : detail::Properties(vtz, ICAL_X_PROPERTY)) {
    if (detail::PropertyName(x) == "X-LIC-LOCATION") {
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

icalcomponent* ZoneComponent(icaltimezone* zone, const std::string& tzid, Instant first_use) {
  static ZoneDefinitions* definitions = new ZoneDefinitions();  // never destroyed
  return definitions->For(zone, tzid, first_use);
}

}  // namespace

Result<std::string> WriteEvent(const model::Activity& a, const WriteOptions& o) {
  if (o.uid.empty()) return Status::InvalidArgument("uid: required");
  ComponentPtr extra;
  icalcomponent* extra_master = nullptr;
  if (!a.ical_extra.empty()) {
    extra.reset(icalparser_parse_string(a.ical_extra.c_str()));
    if (extra == nullptr || icalcomponent_isa(extra.get()) != ICAL_VCALENDAR_COMPONENT)
      return Status::InvalidArgument("ical_extra: not one VCALENDAR");
    extra_master = icalcomponent_get_first_component(extra.get(), ICAL_VEVENT_COMPONENT);
  }

  icaltimezone* zone = nullptr;
  std::string tzid;
  if (!a.all_day && !a.time_zone.empty() && a.time_zone != "UTC") {
    zone = detail::BuiltinZone(a.time_zone);
    if (zone == nullptr)
      return Status::InvalidArgument("time_zone: unknown IANA zone '" + a.time_zone + "'");
    tzid = a.time_zone;
  }
  const bool floating =
      !a.all_day && extra_master != nullptr && detail::FirstX(extra_master, detail::kFloatingMarker);
  TimeForm form(a.all_day, zone, tzid, floating);

  std::string subject = a.subject;
  Instant end = a.end;
  if (o.multi_day == MultiDayRule::kStartWithEndInTitle) {
    TANDEM_RETURN_IF_ERROR(UndoMultiDayRule(a, zone, extra_master, &subject, &end));
  }
  if (end < a.start) return Status::InvalidArgument("end: must not be before start");

  ComponentPtr cal(icalcomponent_new(ICAL_VCALENDAR_COMPONENT));
  icalcomponent_add_property(cal.get(), icalproperty_new_version("2.0"));
  icalcomponent_add_property(cal.get(), icalproperty_new_prodid("-//Tandem//Tandem CRM//EN"));
  if (extra) {
    for (icalproperty* p : detail::Properties(extra.get(), ICAL_ANY_PROPERTY)) {
      icalproperty_kind k = icalproperty_isa(p);
      if (k == ICAL_VERSION_PROPERTY || k == ICAL_PRODID_PROPERTY || k == ICAL_METHOD_PROPERTY)
        continue;
      icalcomponent_add_property(cal.get(), icalproperty_new_clone(p));
    }
  }
  if (zone != nullptr && !floating) {
    if (icalcomponent* vtz = ZoneComponent(zone, tzid, a.start))
      icalcomponent_add_component(cal.get(), vtz);
  }
  if (extra) {
    for (icalcomponent* vtz : detail::Children(extra.get(), ICAL_VTIMEZONE_COMPONENT)) {
      icalproperty* id = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
      if (id && icalproperty_get_tzid(id) && tzid == icalproperty_get_tzid(id)) continue;
      icalcomponent_add_component(cal.get(), icalcomponent_new_clone(vtz));
    }
  }

  icalcomponent* ev = icalcomponent_new(ICAL_VEVENT_COMPONENT);
  icalcomponent_add_component(cal.get(), ev);
  icalcomponent_add_property(ev, icalproperty_new_uid(o.uid.c_str()));
  icalcomponent_add_property(ev, icalproperty_new_dtstamp(UtcTime(o.dtstamp)));
  // The producer's CREATED (kept in the extra data) wins over the CRM's own.
  const bool created_in_extra =
      extra_master != nullptr &&
      icalcomponent_get_first_property(extra_master, ICAL_CREATED_PROPERTY) != nullptr;
  if (o.created && !created_in_extra)
    icalcomponent_add_property(ev, icalproperty_new_created(UtcTime(*o.created)));
  if (o.last_modified)
    icalcomponent_add_property(ev, icalproperty_new_lastmodified(UtcTime(*o.last_modified)));
  const int64_t sequence = std::clamp<int64_t>(std::max<int64_t>(o.sequence, a.sequence), 0,
                                               std::numeric_limits<int>::max());
  icalcomponent_add_property(ev, icalproperty_new_sequence(static_cast<int>(sequence)));
  if (a.cancelled) icalcomponent_add_property(ev, icalproperty_new_status(ICAL_STATUS_CANCELLED));
  if (!o.crm_id.empty()) icalcomponent_add_property(ev, NewX("X-TANDEM-CRM-ID", o.crm_id));

  icalcomponent_add_property(ev, form.Tag(icalproperty_new_dtstart(form.Of(a.start))));
  icalcomponent_add_property(ev, form.Tag(icalproperty_new_dtend(form.Of(end))));
  // A modeled text property gets back the parameters its original carried.
  auto add_text = [&](icalproperty* p) {
    if (extra_master != nullptr) {
      for (icalproperty* stub : detail::Properties(extra_master, icalproperty_isa(p))) {
        if (!detail::HasParamsMarker(stub)) continue;
        for (icalparameter* q = icalproperty_get_first_parameter(stub, ICAL_ANY_PARAMETER);
             q != nullptr; q = icalproperty_get_next_parameter(stub, ICAL_ANY_PARAMETER)) {
          const char* xname = icalparameter_get_xname(q);
          if (xname != nullptr && std::string_view(xname) == detail::kParamsMarker) continue;
          icalproperty_add_parameter(p, icalparameter_new_clone(q));
        }
        break;
      }
    }
    icalcomponent_add_property(ev, p);
  };
  if (!subject.empty()) add_text(icalproperty_new_summary(subject.c_str()));
  if (!a.location.empty()) add_text(icalproperty_new_location(a.location.c_str()));
  if (!a.description.empty()) add_text(icalproperty_new_description(a.description.c_str()));
  icalcomponent_add_property(
      ev, icalproperty_new_transp(a.show_as == model::ShowAs::kFree ? ICAL_TRANSP_TRANSPARENT
                                                                    : ICAL_TRANSP_OPAQUE));
  icalcomponent_add_property(ev, NewX("X-MICROSOFT-CDO-BUSYSTATUS", BusyStatusName(a.show_as)));

  bool class_from_extra = false;
  if (extra_master && a.is_private) {
    icalproperty* c = icalcomponent_get_first_property(extra_master, ICAL_CLASS_PROPERTY);
    class_from_extra = c != nullptr && icalproperty_get_class(c) == ICAL_CLASS_CONFIDENTIAL;
  }
  if (a.is_private && !class_from_extra)
    icalcomponent_add_property(ev, icalproperty_new_class(ICAL_CLASS_PRIVATE));

  if (!a.rrule.empty()) {
    icalrecurrencetype rule = icalrecurrencetype_from_string(a.rrule.c_str());
    if (rule.freq == ICAL_NO_RECURRENCE) {
      free(rule.rscale);
      return Status::InvalidArgument("rrule: not a recurrence rule: '" + a.rrule + "'");
    }
    icalcomponent_add_property(ev, icalproperty_new_rrule(rule));  // copies RSCALE
    free(rule.rscale);
  }
  for (Instant t : a.rdates) {
    icaldatetimeperiodtype v;
    v.time = form.Of(t);
    v.period = icalperiodtype_null_period();
    icalcomponent_add_property(ev, form.Tag(icalproperty_new_rdate(v)));
  }
  for (Instant t : a.exdates) {
    icalcomponent_add_property(ev, form.Tag(icalproperty_new_exdate(form.Of(t))));
  }

  // The modeled reminder goes first so that it is read back as "the first display
  // alarm"; its template (the original alarm's other properties) is reused.
  icalcomponent* reminder_template = nullptr;
  if (extra_master) {
    for (icalcomponent* sub : detail::Children(extra_master, ICAL_VALARM_COMPONENT)) {
      for (icalproperty* x : detail::Properties(sub, ICAL_X_PROPERTY)) {
        if (detail::PropertyName(x) == detail::kReminderMarker) reminder_template = sub;
      }
      if (reminder_template != nullptr) break;
    }
  }
  if (a.reminder_minutes) {
    icalcomponent* alarm = nullptr;
    if (reminder_template != nullptr) {
      alarm = icalcomponent_new_clone(reminder_template);
      for (icalproperty* x : detail::Properties(alarm, ICAL_X_PROPERTY)) {
        if (detail::PropertyName(x) == detail::kReminderMarker) {
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
    trig.duration = icaldurationtype_from_int(-60 * *a.reminder_minutes);
    icalcomponent_add_property(alarm, icalproperty_new_trigger(trig));
    if (icalcomponent_get_first_property(alarm, ICAL_DESCRIPTION_PROPERTY) == nullptr)
      icalcomponent_add_property(alarm, icalproperty_new_description(detail::kReminderText));
    icalcomponent_add_component(ev, alarm);
  }
  if (extra_master) {
    for (icalproperty* p : detail::Properties(extra_master, ICAL_ANY_PROPERTY)) {
      if (icalproperty_isa(p) == ICAL_CLASS_PROPERTY && !class_from_extra) continue;
      if (icalproperty_isa(p) == ICAL_STATUS_PROPERTY && a.cancelled) continue;
      if (detail::HasParamsMarker(p)) continue;
      if (icalproperty_isa(p) == ICAL_X_PROPERTY) {
        const std::string name = detail::PropertyName(p);
        if (name == detail::kFloatingMarker || name == detail::kMultiDayMarker) continue;
      }
      icalcomponent_add_property(ev, icalproperty_new_clone(p));
    }
    for (icalcomponent* sub : detail::Children(extra_master, ICAL_ANY_COMPONENT)) {
      if (sub == reminder_template) continue;
      icalcomponent_add_component(ev, icalcomponent_new_clone(sub));
    }
  }

  if (extra) {
    bool first_event = true;
    for (icalcomponent* c : detail::Children(extra.get(), ICAL_ANY_COMPONENT)) {
      icalcomponent_kind k = icalcomponent_isa(c);
      if (k == ICAL_VTIMEZONE_COMPONENT) continue;
      if (k == ICAL_VEVENT_COMPONENT && first_event) {
        first_event = false;
        continue;
      }
      icalcomponent_add_component(cal.get(), icalcomponent_new_clone(c));
    }
  }
  return detail::ToIcalString(cal.get());
}

}  // namespace tandem::ical
