// iCalendar <-> CRM activity mapping, on libical (SPEC S2, S5, S9, S10).
//
// Contract used by src/sync and src/providers. The module may grow; these calls
// keep their meaning.
//
// Thread safety: every function may be called from several threads at once on
// distinct arguments (tested with cold caches). Shared state: libical's built-in
// time zone cache (system tzdata, guarded by libical) and WriteEvent's memo of
// truncated VTIMEZONE definitions (guarded by a mutex, bounded, pure cache).
// Errors: malformed input gives InvalidArgument naming the problem and, where known,
// the line ("line 12: ..."); nothing throws. The rules for which libical X-LIC-ERROR
// findings are fatal are listed in docs/FIDELITY.md.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "model/entities.h"

namespace tandem::ical {

// S5: how an external multi-day event becomes a CRM activity.
enum class MultiDayRule {
  kKeep,                 // keep start and end as they are
  kStartWithEndInTitle,  // one activity at the start; "(until <end date>)" appended to the subject
};

struct MapOptions {
  MultiDayRule multi_day = MultiDayRule::kKeep;
  std::string default_zone = "UTC";  // zone for floating times (IANA name)
};

// One calendar resource mapped to the CRM: a single event or a recurring series.
struct Event {
  std::string uid;
  std::string crm_id;  // X-TANDEM-CRM-ID, when the event was created by Tandem
  int sequence = 0;
  std::optional<Instant> last_modified;  // LAST-MODIFIED (else DTSTAMP)
  std::optional<Instant> created;
  model::Activity activity;  // modeled fields; ical_extra keeps everything else
  // Added: DTSTAMP as written by the producer.
  std::optional<Instant> dtstamp;
  // Added: problems libical reported that were not fatal (a dropped malformed
  // property that the CRM does not model, an unknown TZID read as floating, ...).
  std::vector<std::string> warnings;
};

// Parses one VCALENDAR holding one event (master + RECURRENCE-ID overrides).
// InvalidArgument naming the problem (and line where known) for malformed input.
Result<Event> ParseEvent(std::string_view ics, const MapOptions& options);

// Added: parses a whole iCalendar file (one or several VCALENDARs, any number of
// events) and returns one Event per UID, in file order. A file without any VEVENT
// is NotFound("no VEVENT ..."); malformed input is InvalidArgument as above.
Result<std::vector<Event>> ParseCalendar(std::string_view ics, const MapOptions& options);

// Added: the same, but an event that cannot be mapped (no DTSTART, unreadable
// DTSTART/DTEND/DURATION/RRULE/RDATE/EXDATE/RECURRENCE-ID) only drops itself: its
// error goes to `event_errors` and the other events are returned (C8: one bad record
// never blocks the others). File-level problems (UTF-8, BEGIN/END structure) still
// fail the call; so does a file whose every event failed (the first error).
Result<std::vector<Event>> ParseCalendar(std::string_view ics, const MapOptions& options,
                                         std::vector<Status>* event_errors);

struct WriteOptions {
  std::string uid;     // REQUIRED
  std::string crm_id;  // written as X-TANDEM-CRM-ID when not empty
  int sequence = 0;
  Instant dtstamp{};
  MultiDayRule multi_day = MultiDayRule::kKeep;  // strips the title suffix again
  // Added: written as CREATED / LAST-MODIFIED when set.
  std::optional<Instant> created;
  std::optional<Instant> last_modified;
};

// Writes a VCALENDAR for the activity, merging back activity.ical_extra so that
// properties the CRM does not model survive.
Result<std::string> WriteEvent(const model::Activity& activity, const WriteOptions& options);

// Hash over the synced fields (S2) in normalized form: equal hashes mean no
// change a user would see, whatever the byte form. Hex string.
std::string ContentHash(const model::Activity& activity);

// Added: the names of the synced fields that differ between `a` and `b` after the
// same normalization ContentHash uses ("start", "subject", "rrule", "overrides", ...).
// Empty means the two are the same event to a user.
std::vector<std::string> ChangedFields(const model::Activity& a, const model::Activity& b);

// Added: ChangedFields with readable values, for the sync log a user reads:
// {"subject", "Visit", "Site visit"}, {"start", "2026-12-10T10:00:00Z", ...}.
// Long texts are cut at 200 bytes; a list (exdates, overrides) shows its size.
struct FieldChange {
  std::string field;
  std::string before;
  std::string after;
};
std::vector<FieldChange> DescribeChanges(const model::Activity& before,
                                         const model::Activity& after);

// True when the activity (or, for a series, any occurrence) overlaps [from, to).
bool OccursWithin(const model::Activity& activity, Instant from, Instant to);

// Added: one occurrence of an activity (a single event has exactly one).
struct Occurrence {
  Instant start{};
  Instant end{};
  Instant recurrence_id{};  // the start the rule gave, before any override
  bool overridden = false;  // moved or changed by a RECURRENCE-ID override
  // The override's own texts, when one RECURRENCE-ID override replaces this
  // occurrence; null otherwise (the master's texts apply).
  std::shared_ptr<const struct OverrideTexts> changed;
};

// Added: what an override says of its occurrence beyond its times.
struct OverrideTexts {
  std::string subject, location, description;
};

// Added: one RECURRENCE-ID override of a series, for a provider that writes a
// series' changed occurrences one by one (Google, Microsoft Graph). Empty texts
// mean "as the series".
struct SeriesOverride {
  Instant recurrence_id{};  // the start the rule gave
  bool this_and_future = false;
  bool cancelled = false;  // STATUS:CANCELLED: the occurrence is gone
  Instant start{};
  Instant end{};
  OverrideTexts texts;
};

// Added: the overrides the activity keeps in ical_extra, by recurrence id.
// InvalidArgument when ical_extra cannot be read.
Result<std::vector<SeriesOverride>> Overrides(const model::Activity& activity);

// Added: occurrences of the activity overlapping [from, to), in start order, at
// most `max_count` of them. Applies RRULE, RDATE, EXDATE and the RECURRENCE-ID
// overrides kept in ical_extra (RANGE=THISANDFUTURE shifts later instances;
// STATUS:CANCELLED overrides remove theirs). Occurrences keep their wall-clock time
// in activity.time_zone across DST changes.
// InvalidArgument for an unusable rrule or time zone.
Result<std::vector<Occurrence>> Expand(const model::Activity& activity, Instant from, Instant to,
                                       size_t max_count);

// Added: a recurring (or single) activity prepared for repeated expansion: rule,
// overrides and zone are read once; Expand() may then be called any number of
// times, from any thread. Expand(activity, ...) above is Prepare + Expand.
//
// Simple rules (FREQ=DAILY, or FREQ=WEEKLY with plain BYDAY, with INTERVAL, COUNT,
// UNTIL) are expanded by calendar arithmetic, the rest by libical's recurrence
// iterator; tests hold the two to the same results. UTC offsets of the zone come
// from libical (system tzdata) and are remembered per series for the windows asked.
class Series {
 public:
  // InvalidArgument for an unusable rrule, time zone or ical_extra.
  static Result<Series> Prepare(const model::Activity& activity);
  Result<std::vector<Occurrence>> Expand(Instant from, Instant to, size_t max_count) const;

  struct Impl;
  const Impl* impl() const { return impl_.get(); }

 private:
  explicit Series(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// Added: the latest instant at which an occurrence of the series can end: the end
// of the last rule instance (COUNT or UNTIL), of the last RDATE and of any
// override, whichever is latest; nullopt for an endless series or one whose end
// cannot be computed within the expansion bounds (callers take it as endless). For
// a single activity: its end. An upper bound, never earlier than the true last end
// (EXDATEs are ignored), so a range query on it never misses an occurrence.
std::optional<Instant> SeriesEnd(const model::Activity& activity);

// Added: the checks the sync layer applies before it writes an activity, for
// every other writer (REST, CLI): a readable rrule, a known IANA time_zone for a
// timed activity, exdates and rdates on the series' time form, and overrides in
// ical_extra that parse. InvalidArgument whose message starts with the field name
// ("rrule: ...", "time_zone: ...", "exdates: ...").
Status CheckActivity(const model::Activity& activity);

// Added: resolves a TZID as producers write it to an IANA zone name: IANA names,
// Windows names ("W. Europe Standard Time", via ICU's CLDR windowsZones data),
// vendor-prefixed IANA names ("/mozilla.org/20050126_1/Europe/Berlin") and Outlook
// display names ("(UTC+01:00) Amsterdam, Berlin, ..."). NotFound when none fits.
Result<std::string> ResolveZoneName(std::string_view tzid);

// Added: RFC 5545 3.3.11 TEXT escaping (backslash, semicolon, comma, newline;
// CR dropped), for providers that write iCalendar lines from other formats.
std::string EscapeText(std::string_view s);

// Added: the Windows name of an IANA zone ("Europe/Berlin" -> "W. Europe
// Standard Time", ICU's CLDR windowsZones); NotFound when it has none.
Result<std::string> WindowsZoneName(std::string_view iana_zone);

// Added: wall-clock time in a zone, for providers whose APIs speak local time
// (Microsoft Graph's dateTimeTimeZone, recurrence start and end dates).
struct CivilTime {
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
};
// NotFound for a zone the system tzdata does not know (IANA names; "UTC").
Result<CivilTime> ToCivil(Instant t, std::string_view iana_zone);
// The instant a wall-clock time names in the zone (a time in a DST gap or
// overlap as libical resolves it).
Result<Instant> FromCivil(const CivilTime& c, std::string_view iana_zone);

// Added: what names an item that cannot be read, for the user's error report
// (C8): the first UID and SUMMARY lines, unfolded and unescaped, found by a
// line scan that never fails (the text may be anything). Empty when absent;
// the summary is cut at 120 bytes on a UTF-8 boundary.
struct ItemLabel {
  std::string uid;
  std::string summary;
};
ItemLabel Identify(std::string_view text);

// --- Tasks as VTODO (RFC 5545 3.6.2) ---
//
// Added: a CRM task (ActivityKind::kTask) is one VTODO, read and written like an
// event (same Event, MapOptions, WriteOptions, zones, texts, CLASS, reminder,
// recurrence, multi-day rule, ical_extra and errors), with these differences:
// - DUE is the end. An all-day task (DTSTART/DUE;VALUE=DATE) is due on the DUE day:
//   the activity ends at midnight UTC after it (the model's exclusive end), and is
//   written back as that day. DURATION counts from DTSTART and is written as DUE.
// - DTSTART and DUE are optional. Without DTSTART the start is the due time (all
//   day: the due day), else CREATED, else DTSTAMP, else `now` (CREATED first: DTSTAMP
//   changes with every revision); without DUE (and DURATION) the end
//   is the start (all day: the day after). ical_extra records what was absent
//   (X-TANDEM-NO-DTSTART / X-TANDEM-NO-DUE), and WriteTodo leaves it out again as
//   long as the activity keeps the derived time (the other date moved along with it,
//   or the recorded instant when the VTODO had neither; such a task is written
//   with a CREATED, when it has none, so that it reads back at the same start).
// - Completion is not modeled: STATUS (but CANCELLED, which is Activity::cancelled),
//   COMPLETED, PERCENT-COMPLETE, PRIORITY, CATEGORIES, RELATED-TO, X- properties,
//   other alarms and components stay in ical_extra and are written back as read.
// - A task is never busy time: show_as is kFree on reading; WriteTodo writes neither
//   TRANSP nor X-MICROSOFT-CDO-BUSYSTATUS (a TRANSP a producer put on a VTODO stays
//   in ical_extra).
// - A reminder (minutes before the start) of a task written without DTSTART is
//   written relative to DUE (TRIGGER;RELATED=END), as RFC 5545 3.8.6.3 requires.

// Parses one VCALENDAR holding one task (a VTODO master and its RECURRENCE-ID
// overrides, which stay in ical_extra). activity.kind is kTask. InvalidArgument for
// no VTODO, VTODOs with different UIDs, a VTODO without UID, a DUE before the
// DTSTART (or a negative DURATION), and unreadable input (as ParseEvent: "line N: ...").
Result<Event> ParseTodo(std::string_view ics, const MapOptions& options);
// The same with the time standing in for a VTODO that has neither dates nor DTSTAMP.
Result<Event> ParseTodo(std::string_view ics, const MapOptions& options, Instant now);

// Writes the task as a VCALENDAR holding one VTODO (options.uid REQUIRED), merging
// back activity.ical_extra as WriteEvent does. InvalidArgument as WriteEvent.
Result<std::string> WriteTodo(const model::Activity& activity, const WriteOptions& options);

}  // namespace tandem::ical
