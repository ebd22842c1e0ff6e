// Internals of the iCalendar mapping shared by its .cc files: RAII for libical
// objects, time conversions, the zone resolver, the extra-data layout and the
// steps reading and writing share for every component they map (VEVENT, VTODO).
// Not part of the module's contract.
#pragma once

#include <libical/ical.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "ical/ical.h"
#include "ical/prescan.h"
#include "model/entities.h"

namespace tandem::ical::detail {

struct ComponentDeleter {
  void operator()(icalcomponent* c) const { icalcomponent_free(c); }
};
using ComponentPtr = std::unique_ptr<icalcomponent, ComponentDeleter>;

// libical's own string form of a component, owned by us.
std::string ToIcalString(icalcomponent* c);

// Children of `parent` of `kind` (ICAL_ANY_COMPONENT for all), collected first so
// callers may modify `parent` while walking them.
std::vector<icalcomponent*> Children(icalcomponent* parent, icalcomponent_kind kind);
std::vector<icalproperty*> Properties(icalcomponent* c, icalproperty_kind kind);

// X-name of an X- property or the standard name ("DTSTART").
std::string PropertyName(icalproperty* p);
std::string TzidOf(icalproperty* p);  // TZID parameter, "" when absent

// Civil helpers on UTC instants.
Instant MidnightUtc(int year, int month, int day);
Instant FromTimeT(time_t t);

// libical 3.0 keeps state inside every icaltimezone that it changes while it
// converts times (the table of offset changes grows and is reallocated on demand),
// and its built-in zones are shared by every thread of the process. Every libical
// call that loads, converts with or copies a zone holds this lock; it is taken only
// in leaf functions (never while holding it), so it cannot deadlock.
std::mutex& ZoneMutex();

// Converts between instants and libical times. `zone` null means UTC.
Instant InstantOf(const icaltimetype& t, icaltimezone* zone);
icaltimetype LocalTimeOf(Instant t, icaltimezone* zone, bool is_date);

// The built-in (system tzdata) zone for an IANA name; null when unknown. "UTC" and
// "" yield libical's UTC zone.
icaltimezone* BuiltinZone(std::string_view iana_name);

// The first VEVENT of `extra_calendar` holds the master's unmodeled properties; the
// further VEVENTs are RECURRENCE-ID overrides. A display VALARM with no TRIGGER in
// the master part is the template of the modeled reminder (its other properties).
struct Override {
  Instant recurrence_id{};
  bool this_and_future = false;
  bool cancelled = false;
  Instant start{};
  Instant end{};
  std::shared_ptr<const OverrideTexts> texts;  // never null
};

// Reads the RECURRENCE-ID overrides out of an activity's ical_extra (empty text:
// none), sorted by recurrence id. `master_duration` is used for an override without
// its own end; floating times are read in `time_zone`.
Result<std::vector<Override>> ReadOverrides(std::string_view ical_extra, std::string_view time_zone,
                                            Duration master_duration);

// Marks, inside ical_extra, the VALARM whose TRIGGER became reminder_minutes: the
// writer fills it again and removes the marker.
inline constexpr char kReminderMarker[] = "X-TANDEM-REMINDER";
// Marks, inside ical_extra, the parameter-only copy of a modeled text property
// (SUMMARY;LANGUAGE=de:...): the writer puts its parameters on what it writes.
inline constexpr char kParamsMarker[] = "X-TANDEM-PARAMS";
bool HasParamsMarker(icalproperty* p);
inline constexpr char kReminderText[] = "Reminder";  // DESCRIPTION of a new alarm
// Marks, inside ical_extra, an event whose times were floating (no zone): read in
// the user's zone, written back floating.
inline constexpr char kFloatingMarker[] = "X-TANDEM-FLOATING";
// Marks, inside ical_extra, an event the multi-day rule (S5) shortened in the CRM:
// its real length in seconds, so that the external event keeps its real end.
inline constexpr char kMultiDayMarker[] = "X-TANDEM-MULTI-DAY";
// The first X- property named `name` of `c`, null when none.
icalproperty* FirstX(icalcomponent* c, std::string_view name);
icalproperty* NewX(const char* name, const std::string& value);

// Expansion by libical's iterator only (no calendar-arithmetic fast path), so
// tests can hold both paths to the same results.
Result<std::vector<Occurrence>> ExpandWithLibicalOnly(const model::Activity& activity, Instant from,
                                                      Instant to, size_t max_count);

// Strips every trailing " (until ...)" suffix from `subject`; returns the last
// (outermost) suffix's text, if any, in `until`.
std::string StripUntilSuffix(std::string_view subject, std::optional<std::string>* until);

// --- Reading a component into an Event (parse.cc: VEVENT, todo.cc: VTODO) ---

std::string LinePrefix(int line);  // "line 12: "; "" for 0

// One resource after the line pass and libical: its VCALENDARs and what libical
// found. X-LIC-ERROR findings are taken out of the tree; a value error on a timing
// property of a `mapped` component (VEVENT: DTSTART, DTEND, DURATION, RRULE, RDATE,
// EXDATE, RECURRENCE-ID; VTODO: the same with DUE for DTEND) is fatal for that
// component (`broken`, its first such error), the others are warnings.
struct ParsedText {
  Prescanned pre;
  ComponentPtr root;
  std::vector<icalcomponent*> calendars;
  std::vector<std::string> warnings;
  std::map<icalcomponent*, Status> broken;
};
Result<ParsedText> ParseText(std::string_view ics, icalcomponent_kind mapped);

// The components of `kind` in `calendar` by UID, in file order: the master and its
// RECURRENCE-ID overrides (with only overrides, the first stands for the master).
// Components without UID cannot belong together: each is its own group.
struct ComponentGroup {
  icalcomponent* master = nullptr;
  std::vector<icalcomponent*> overrides;
};
std::vector<ComponentGroup> GroupByUid(icalcomponent* calendar, icalcomponent_kind kind);

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
  Zone For(const icaltimetype& t, const std::string& tzid);
  // Floating times: MapOptions::default_zone.
  Zone Floating();

 private:
  icalcomponent* calendar_;
  const MapOptions& options_;
  std::vector<std::string>* warnings_;
  std::map<std::string, Zone> cache_;
};

Instant TimeOfProperty(icalproperty* p, icaltimetype t, ZoneContext& zones);
// A DATE-TIME property read as UTC (DTSTAMP, CREATED, ...); nullopt when absent or unusable.
std::optional<Instant> UtcPropertyTime(icalcomponent* c, icalproperty_kind kind);
void Remove(icalcomponent* c, icalproperty* p);  // removes and frees
void RemoveAll(icalcomponent* c, icalproperty_kind kind);
std::string TextOf(icalproperty* p);
// Takes the first property of `kind` as text out of `c`; its parameters stay
// behind on a marked copy (kParamsMarker) that the writer merges back.
std::string TakeText(icalcomponent* c, icalproperty_kind kind);
std::string UidOf(icalcomponent* c);  // "" when absent

// Takes UID, X-TANDEM-CRM-ID, SEQUENCE, DTSTAMP, LAST-MODIFIED and CREATED out of
// the master's rest into `e` (the producer's CREATED stays in the rest), and drops
// the markers Tandem derives again on every read (floating, multi-day).
void TakeIdentity(icalcomponent* rest, Event* e);
// STATUS:CANCELLED: taken out, true. Any other STATUS stays in the rest.
bool TakeCancelled(icalcomponent* rest);
// CLASS: PRIVATE/CONFIDENTIAL make the activity private; CONFIDENTIAL stays in the
// rest so that writing back keeps the word.
bool PrivateOf(icalcomponent* rest);
// The first display VALARM becomes the reminder (minutes before `start`; RELATED=END
// triggers count from `end`); its TRIGGER is taken out and the rest stays behind,
// marked, as the template the writer fills again.
std::optional<int> ReminderOf(icalcomponent* rest, Instant start, Instant end);
// RRULE, and the EXDATEs/RDATEs on the series' time form, into `a` (the others stay
// in the rest). InvalidArgument for an unusable RRULE; `who` names the component.
Status TakeRecurrence(icalcomponent* rest, ZoneContext& zones, const Prescanned& pre,
                      const std::string& who, model::Activity* a);
// S5 on a read activity; the real length goes to `rest` (kMultiDayMarker).
void ApplyMultiDayRule(model::Activity* a, icalcomponent* rest);
// The ical_extra text: the calendar's own properties, the master's rest, the
// overrides, the other components and the VTIMEZONEs they refer to; "" when there
// is nothing to keep.
std::string ExtraOf(icalcomponent* calendar, icalcomponent* rest,
                    const std::vector<icalcomponent*>& overrides,
                    const std::vector<icalcomponent*>& others);

// --- Writing an activity as a component (write.cc: VEVENT, todo.cc: VTODO) ---

icaltimetype UtcTime(Instant t);

// How the activity's times are written: DATE, UTC, local time with a TZID, or
// floating (local time in the activity's zone, no TZID).
class TimeForm {
 public:
  TimeForm(bool all_day, icaltimezone* zone, std::string tzid, bool floating)
      : all_day_(all_day), zone_(zone), tzid_(std::move(tzid)), floating_(floating) {}
  icaltimetype Of(Instant t) const;
  icalproperty* Tag(icalproperty* p) const;  // TZID or VALUE=DATE as the form needs

 private:
  bool all_day_;
  icaltimezone* zone_;
  std::string tzid_;
  bool floating_;
};

// A new VTIMEZONE for `tzid` from the system tzdata, valid from the year before
// `first_use` (remembered: a pure, bounded, thread-safe cache); null when libical
// has no definition. Caller owns the result.
icalcomponent* ZoneComponent(icaltimezone* zone, const std::string& tzid, Instant first_use);

// The external form of an activity the multi-day rule (S5) shaped: the real end
// (from kMultiDayMarker, else from a well-formed suffix) and the subject without
// its " (until ...)" suffixes.
Status UndoMultiDayRule(const model::Activity& a, icaltimezone* zone, icalcomponent* extra_master,
                        std::string* subject, Instant* end);

// What a writer starts from: the parsed ical_extra and the zone of the times.
struct WriteBase {
  ComponentPtr extra;                     // null when ical_extra is empty
  icalcomponent* extra_master = nullptr;  // the first component of the written kind
  icaltimezone* zone = nullptr;           // null: UTC (or all-day)
  std::string tzid;
  bool floating = false;  // kFloatingMarker: written without zone
  TimeForm Form(bool all_day) const { return TimeForm(all_day, zone, tzid, floating); }
};
// InvalidArgument for an unreadable ical_extra or an unknown time_zone.
Result<WriteBase> PrepareWrite(const model::Activity& a, icalcomponent_kind kind);
// VCALENDAR with VERSION, PRODID, the extra's calendar properties, the VTIMEZONE of
// the activity's zone (when `with_zone` and the times are not floating) and the
// extra's other VTIMEZONEs.
ComponentPtr NewCalendar(const WriteBase& w, Instant first_use, bool with_zone);
// UID, DTSTAMP, CREATED (unless the producer's is in the extra), LAST-MODIFIED,
// SEQUENCE, STATUS:CANCELLED and X-TANDEM-CRM-ID.
void AddIdentity(icalcomponent* comp, const model::Activity& a, const WriteOptions& o,
                 icalcomponent* extra_master);
// Adds a modeled text property with the parameters its original carried.
void AddText(icalcomponent* comp, icalcomponent* extra_master, icalproperty* p);
// CLASS:PRIVATE for a private activity unless the extra keeps CONFIDENTIAL; returns
// whether the extra's CLASS is the one to write.
bool AddClass(icalcomponent* comp, const model::Activity& a, icalcomponent* extra_master);
// RRULE, RDATEs, EXDATEs. InvalidArgument for an unreadable rrule.
Status AddRecurrence(icalcomponent* comp, const model::Activity& a, const TimeForm& form);
// The extra's VALARM marked as the reminder's template; null when none.
icalcomponent* ReminderTemplate(icalcomponent* extra_master);
// The modeled reminder: a display VALARM (from the template when there is one) whose
// TRIGGER is `offset_seconds` from the start, or from the end when `related_end`.
void AddReminder(icalcomponent* comp, icalcomponent* reminder_template, int64_t offset_seconds,
                 bool related_end);
// The master's unmodeled properties and subcomponents, except what the writer wrote
// itself: CLASS (unless `class_from_extra`), STATUS of a cancelled activity, the
// parameter stubs, the X- `markers` and the reminder's template.
void AddExtraMaster(icalcomponent* comp, const model::Activity& a, icalcomponent* extra_master,
                    bool class_from_extra, icalcomponent* reminder_template,
                    const std::vector<std::string_view>& markers);
// The extra's components after its master (overrides, other components); VTIMEZONEs
// are placed by NewCalendar.
void AddOtherComponents(icalcomponent* cal, icalcomponent* extra, icalcomponent_kind master_kind);

}  // namespace tandem::ical::detail
