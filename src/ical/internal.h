// Internals of the iCalendar mapping shared by its .cc files: RAII for libical
// objects, time conversions, the zone resolver and the extra-data layout.
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

}  // namespace tandem::ical::detail
