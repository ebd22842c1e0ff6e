// Occurrences of an activity: RRULE/RDATE/EXDATE, then RECURRENCE-ID overrides
// from ical_extra. Simple rules by calendar arithmetic, the rest through libical's
// recurrence iterator (see ical.h, Series).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>

#include "ical/ical.h"
#include "ical/internal.h"

namespace tandem::ical {
namespace detail {
namespace {

icaltimezone* ZoneForUncached(icalcomponent* calendar, const std::string& tzid,
                              icaltimezone* floating) {
  // Same preference as the parser: system tzdata, then the file's definition.
  Result<std::string> name = ResolveZoneName(tzid);
  if (name.ok()) {
    if (icaltimezone* zone = BuiltinZone(*name)) return zone;
  }
  if (icaltimezone* defined = icalcomponent_get_timezone(calendar, tzid.c_str())) return defined;
  return floating;
}

// TZID -> zone, remembered for one ical_extra (libical's zone lookup is a linear scan).
using ZoneMemo = std::vector<std::pair<std::string, icaltimezone*>>;

icaltimezone* ZoneFor(icalcomponent* calendar, icalproperty* p, icaltimezone* floating,
                      ZoneMemo* memo) {
  std::string tzid = TzidOf(p);
  if (tzid.empty()) return floating;
  for (const auto& [id, zone] : *memo) {
    if (id == tzid) return zone;
  }
  icaltimezone* zone = ZoneForUncached(calendar, tzid, floating);
  memo->emplace_back(tzid, zone);
  return zone;
}

std::string Text(icalcomponent* c, icalproperty_kind kind) {
  icalproperty* p = icalcomponent_get_first_property(c, kind);
  if (p == nullptr || icalproperty_get_value(p) == nullptr) return {};
  const char* s = icalvalue_get_text(icalproperty_get_value(p));
  return s ? std::string(s) : std::string();
}

bool ContainsRecurrenceId(std::string_view text) {
  static constexpr std::string_view kName = "RECURRENCE-ID";
  for (size_t at = 0; at + kName.size() <= text.size(); ++at) {
    at = text.find_first_of("Rr", at);
    if (at == std::string_view::npos || at + kName.size() > text.size()) return false;
    size_t i = 0;
    while (i < kName.size() &&
           std::toupper(static_cast<unsigned char>(text[at + i])) == kName[i]) {
      ++i;
    }
    if (i == kName.size()) return true;
  }
  return false;
}

}  // namespace

Result<std::vector<Override>> ReadOverrides(std::string_view ical_extra, std::string_view time_zone,
                                            Duration master_duration) {
  std::vector<Override> out;
  // Overrides are the VEVENTs after the master that carry a RECURRENCE-ID
  // (property names are case-insensitive); without one there is nothing to parse.
  if (!ContainsRecurrenceId(ical_extra)) return out;
  std::string text(ical_extra);
  ComponentPtr cal(icalparser_parse_string(text.c_str()));
  if (cal == nullptr || icalcomponent_isa(cal.get()) != ICAL_VCALENDAR_COMPONENT)
    return Status::InvalidArgument("ical_extra: not one VCALENDAR");
  icaltimezone* floating = BuiltinZone(time_zone);
  ZoneMemo memo;
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
    o.recurrence_id = InstantOf(rt, ZoneFor(cal.get(), rid, floating, &memo));
    icalparameter* range = icalproperty_get_first_parameter(rid, ICAL_RANGE_PARAMETER);
    o.this_and_future = range && icalparameter_get_range(range) == ICAL_RANGE_THISANDFUTURE;
    icalproperty* status = icalcomponent_get_first_property(ev, ICAL_STATUS_PROPERTY);
    o.cancelled = status && icalproperty_get_status(status) == ICAL_STATUS_CANCELLED;
    o.start = o.recurrence_id;
    if (icalproperty* ds = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY)) {
      icaltimetype st = icalproperty_get_dtstart(ds);
      if (!icaltime_is_null_time(st))
        o.start = InstantOf(st, ZoneFor(cal.get(), ds, floating, &memo));
    }
    o.end = o.start + master_duration;
    if (icalproperty* de = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY)) {
      icaltimetype et = icalproperty_get_dtend(de);
      if (!icaltime_is_null_time(et))
        o.end = InstantOf(et, ZoneFor(cal.get(), de, floating, &memo));
    } else if (icalproperty* du = icalcomponent_get_first_property(ev, ICAL_DURATION_PROPERTY)) {
      o.end =
          o.start + std::chrono::seconds(icaldurationtype_as_int(icalproperty_get_duration(du)));
    }
    if (o.end < o.start) o.end = o.start;
    o.texts = std::make_shared<const OverrideTexts>(OverrideTexts{
        Text(ev, ICAL_SUMMARY_PROPERTY), Text(ev, ICAL_LOCATION_PROPERTY),
        Text(ev, ICAL_DESCRIPTION_PROPERTY)});
    out.push_back(std::move(o));
  }
  std::sort(out.begin(), out.end(),
            [](const Override& a, const Override& b) { return a.recurrence_id < b.recurrence_id; });
  return out;
}

}  // namespace detail

namespace {

using std::chrono::days;
using std::chrono::seconds;
using std::chrono::sys_days;

constexpr size_t kMaxRuleSteps = 200000;
constexpr Duration kMaxOverrideMargin = std::chrono::days(400);
// Beyond this span an offset table would cost more than converting each instance.
constexpr int64_t kMaxOffsetTableSpan = int64_t{20} * 366 * 86400;

bool Overlaps(Instant start, Instant end, Instant from, Instant to) {
  if (start >= to) return false;
  if (end > from) return true;
  return end == start && start >= from;
}

int64_t Secs(Instant t) { return ToUnixSeconds(t); }

// UTC offsets of one zone over a span, found by sampling and bisection through
// libical, so that wall-clock -> UTC needs no libical call per occurrence.
class OffsetTable {
 public:
  OffsetTable() = default;
  OffsetTable(icaltimezone* zone, int64_t from, int64_t to) : zone_(zone), from_(from), to_(to) {
    constexpr int64_t kStep = 14 * 86400;  // no zone changes offset twice in two weeks
    int64_t at = from;
    int off = OffsetOfUtc(at);
    changes_.push_back({at, off});
    while (at < to) {
      int64_t next = std::min(at + kStep, to);
      int next_off = OffsetOfUtc(next);
      if (next_off == off) {
        at = next;
        continue;
      }
      int64_t lo = at, hi = next;  // off(lo) == off, off(hi) != off
      while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (OffsetOfUtc(mid) == off)
          lo = mid;
        else
          hi = mid;
      }
      off = OffsetOfUtc(hi);
      changes_.push_back({hi, off});
      at = hi;
    }
    for (const auto& c : changes_) {
      if (std::find(offsets_.begin(), offsets_.end(), c.second) == offsets_.end())
        offsets_.push_back(c.second);
    }
  }

  bool Covers(int64_t from, int64_t to) const {
    return zone_ != nullptr && from >= from_ && to <= to_;
  }

  // UTC seconds of a wall-clock time (seconds since the epoch as if it were UTC).
  // Gaps and overlaps are left to libical, so the result is always libical's.
  int64_t ToUtc(int64_t local, const icaltimetype& fields) const {
    int64_t found = 0;
    int valid = 0;
    for (int o : offsets_) {
      int64_t u = local - o;
      if (u >= from_ && u <= to_ && OffsetAt(u) == o) {
        found = u;
        ++valid;
      }
    }
    if (valid == 1) return found;
    icaltimetype t = fields;
    t.zone = nullptr;
    std::lock_guard<std::mutex> lock(detail::ZoneMutex());
    return static_cast<int64_t>(icaltime_as_timet_with_zone(t, zone_));
  }

 private:
  int OffsetOfUtc(int64_t u) const {
    icaltimetype t =
        icaltime_from_timet_with_zone(static_cast<time_t>(u), 0, icaltimezone_get_utc_timezone());
    int is_daylight = 0;
    std::lock_guard<std::mutex> lock(detail::ZoneMutex());
    return icaltimezone_get_utc_offset_of_utc_time(zone_, &t, &is_daylight);
  }

  int OffsetAt(int64_t u) const {
    auto it =
        std::upper_bound(changes_.begin(), changes_.end(), u,
                         [](int64_t v, const std::pair<int64_t, int>& c) { return v < c.first; });
    return it == changes_.begin() ? changes_.front().second : std::prev(it)->second;
  }

  icaltimezone* zone_ = nullptr;
  int64_t from_ = 0, to_ = 0;
  std::vector<std::pair<int64_t, int>> changes_;
  std::vector<int> offsets_;
};

}  // namespace

struct Series::Impl {
  ~Impl() { free(rule.rscale); }  // icalrecurrencetype_from_string's RSCALE copy

  Instant start{}, end{};
  Duration duration{};
  bool all_day = false;
  icaltimezone* zone = nullptr;  // null for all-day (dates) ; UTC zone for UTC
  bool recurring = false;
  bool has_rule = false;
  bool use_libical = true;
  icalrecurrencetype rule{};
  icaltimetype dtstart_local{};
  std::optional<icaltimetype> rule_for_libical_until;  // UTC UNTIL as wall-clock time

  // Calendar-arithmetic form of a simple rule.
  sys_days first_day{};
  int64_t time_of_day = 0;     // seconds after local midnight
  int64_t step_days = 1;       // DAILY: interval; WEEKLY: 7 * interval
  std::vector<int> week_days;  // WEEKLY BYDAY: offsets from the week start, sorted
  sys_days first_week{};
  int count = 0;
  enum class Until { kNone, kDate, kUtc, kLocal } until_kind = Until::kNone;
  sys_days until_day{};
  int64_t until_secs = 0;  // UTC or local seconds

  std::vector<Instant> exdates, rdates;  // sorted
  std::vector<detail::Override> overrides;
  std::map<Instant, const detail::Override*> exact;
  std::vector<const detail::Override*> future;
  Duration margin{};

  mutable std::mutex mu;
  mutable std::shared_ptr<const OffsetTable> offsets;

  std::shared_ptr<const OffsetTable> OffsetsFor(int64_t from, int64_t to) const {
    std::lock_guard<std::mutex> lock(mu);
    if (offsets && offsets->Covers(from, to)) return offsets;
    constexpr int64_t kSlack = 2 * 86400;
    offsets = std::make_shared<const OffsetTable>(zone, from - kSlack, to + kSlack);
    return offsets;
  }

  Status SimpleRuleStarts(Instant lo, Instant hi, std::vector<Instant>* out) const;
  Status LibicalRuleStarts(Instant lo, Instant hi, std::vector<Instant>* out) const;
};

namespace {

bool IsEmptyBy(const short* values) { return values[0] == ICAL_RECURRENCE_ARRAY_MAX; }

// Whether the rule is one the calendar-arithmetic path expands exactly.
bool IsSimpleRule(const icalrecurrencetype& r, const icaltimetype& dtstart) {
  if (r.freq != ICAL_DAILY_RECURRENCE && r.freq != ICAL_WEEKLY_RECURRENCE) return false;
  if (r.rscale != nullptr && std::string_view(r.rscale) != "GREGORIAN") return false;
  if (!IsEmptyBy(r.by_second) || !IsEmptyBy(r.by_minute) || !IsEmptyBy(r.by_hour) ||
      !IsEmptyBy(r.by_month_day) || !IsEmptyBy(r.by_year_day) || !IsEmptyBy(r.by_week_no) ||
      !IsEmptyBy(r.by_month) || !IsEmptyBy(r.by_set_pos)) {
    return false;
  }
  if (r.interval < 1 || r.count < 0) return false;
  if (r.freq == ICAL_DAILY_RECURRENCE) return IsEmptyBy(r.by_day);
  if (IsEmptyBy(r.by_day)) return true;
  int dow = icaltime_day_of_week(dtstart);  // 1 = Sunday
  bool start_matches = false;
  for (int i = 0; i < ICAL_BY_DAY_SIZE && r.by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; ++i) {
    if (icalrecurrencetype_day_position(r.by_day[i]) != 0) return false;
    if (static_cast<int>(icalrecurrencetype_day_day_of_week(r.by_day[i])) == dow)
      start_matches = true;
  }
  return start_matches;  // otherwise RFC 5545 leaves the set undefined: libical decides
}

}  // namespace

Status Series::Impl::SimpleRuleStarts(Instant lo, Instant hi, std::vector<Instant>* out) const {
  const sys_days lo_day = std::chrono::floor<days>(lo) - days(2);
  const sys_days hi_day = std::chrono::floor<days>(hi) + days(2);
  std::shared_ptr<const OffsetTable> table;
  icaltimezone* utc = icaltimezone_get_utc_timezone();
  const bool zoned = !all_day && zone != utc;
  if (zoned && Secs(hi) - Secs(lo) <= kMaxOffsetTableSpan)
    table = OffsetsFor(Secs(lo) - 86400, Secs(hi) + 86400);
  size_t steps = 0;
  bool exhausted = false;
  auto done = [&]() -> Status {
    if (!exhausted) return Status::Ok();
    return Status::ResourceExhausted("rrule: more than " + std::to_string(kMaxRuleSteps) +
                                     " instances before the window ends");
  };

  // Emits the instance on `day`; false once UNTIL is passed.
  auto emit = [&](sys_days day) -> bool {
    int64_t local =
        std::chrono::duration_cast<seconds>(day.time_since_epoch()).count() + time_of_day;
    if (until_kind == Until::kDate && day > until_day) return false;
    if (until_kind == Until::kLocal && local > until_secs) return false;
    int64_t utc_secs = local;
    if (++steps > kMaxRuleSteps) {
      exhausted = true;
      return false;
    }
    if (zoned) {
      std::chrono::year_month_day ymd{day};
      icaltimetype fields = icaltime_null_time();
      fields.year = static_cast<int>(ymd.year());
      fields.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
      fields.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
      fields.hour = static_cast<int>(time_of_day / 3600);
      fields.minute = static_cast<int>(time_of_day / 60 % 60);
      fields.second = static_cast<int>(time_of_day % 60);
      // libical's iterator carries DTSTART's DST flag into every instance, and its
      // conversion uses it for a wall-clock time that occurs twice: do the same.
      fields.is_daylight = dtstart_local.is_daylight;
      if (table) {
        utc_secs = table->ToUtc(local, fields);
      } else {
        std::lock_guard<std::mutex> lock(detail::ZoneMutex());
        utc_secs = static_cast<int64_t>(icaltime_as_timet_with_zone(fields, zone));
      }
    }
    if (until_kind == Until::kUtc && utc_secs > until_secs) return false;
    Instant s = FromUnixSeconds(utc_secs);
    if (s >= lo && s < hi) out->push_back(s);
    return true;
  };

  if (week_days.empty()) {
    int64_t k = std::max<int64_t>(0, (lo_day - first_day).count() / step_days);
    for (;; ++k) {
      if (count > 0 && k >= count) return done();
      sys_days day = first_day + days(k * step_days);
      if (day > hi_day) return done();
      if (!emit(day)) return done();
    }
  }
  const int64_t per_week = static_cast<int64_t>(week_days.size());
  int64_t in_first_week = 0;
  for (int off : week_days) in_first_week += (first_week + days(off) >= first_day) ? 1 : 0;
  int64_t w = std::max<int64_t>(0, (lo_day - first_week).count() / step_days);
  int64_t index = w == 0 ? 0 : in_first_week + (w - 1) * per_week;  // instances before week w
  for (;; ++w) {
    sys_days base = first_week + days(w * step_days);
    if (base > hi_day) return done();
    for (int off : week_days) {
      sys_days day = base + days(off);
      if (day < first_day) continue;
      if (count > 0 && index >= count) return done();
      ++index;
      if (!emit(day)) return done();
    }
  }
}

Status Series::Impl::LibicalRuleStarts(Instant lo, Instant hi, std::vector<Instant>* out) const {
  icalrecurrencetype r = rule;
  if (rule_for_libical_until) {
    r.until = *rule_for_libical_until;
    r.until.zone = nullptr;
  }
  icalrecur_iterator* it = icalrecur_iterator_new(r, dtstart_local);
  if (it == nullptr) return Status::InvalidArgument("rrule: unusable with this DTSTART");
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
    if (s >= lo) out->push_back(s);
  }
  icalrecur_iterator_free(it);
  return Status::Ok();
}

Result<Series> Series::Prepare(const model::Activity& a) {
  auto impl = std::make_shared<Impl>();
  impl->start = a.start;
  impl->end = a.end;
  impl->duration = a.end - a.start;
  impl->all_day = a.all_day;
  impl->recurring = !a.rrule.empty() || !a.rdates.empty();
  if (!impl->recurring) return Series(impl);
  if (!a.all_day) {
    impl->zone = detail::BuiltinZone(a.time_zone);
    if (impl->zone == nullptr)
      return Status::InvalidArgument("time_zone: unknown IANA zone '" + a.time_zone + "'");
  }
  impl->dtstart_local = detail::LocalTimeOf(a.start, impl->zone, a.all_day);
  impl->dtstart_local.zone = nullptr;
  if (!a.rrule.empty()) {
    impl->has_rule = true;
    impl->rule = icalrecurrencetype_from_string(a.rrule.c_str());
    if (impl->rule.freq == ICAL_NO_RECURRENCE)
      return Status::InvalidArgument("rrule: not a recurrence rule: '" + a.rrule + "'");
    if (!a.all_day && !icaltime_is_null_time(impl->rule.until) && !impl->rule.until.is_date &&
        icaltime_is_utc(impl->rule.until) && impl->zone != icaltimezone_get_utc_timezone()) {
      // libical 3.0 compares a UTC UNTIL with the local instance times as if both were
      // local; hand it the wall-clock time of that instant (RFC 5545: UNTIL is inclusive).
      Instant until = detail::InstantOf(impl->rule.until, nullptr);
      icaltimetype local_until = detail::LocalTimeOf(until, impl->zone, false);
      impl->rule_for_libical_until = local_until;
    }
    const icalrecurrencetype& r = impl->rule;
    impl->use_libical = !IsSimpleRule(r, impl->dtstart_local);
    if (!impl->use_libical) {
      const icaltimetype& d = impl->dtstart_local;
      impl->first_day = std::chrono::year_month_day{
          std::chrono::year(d.year), std::chrono::month(d.month), std::chrono::day(d.day)};
      impl->time_of_day = d.is_date ? 0 : d.hour * 3600 + d.minute * 60 + d.second;
      impl->step_days = (r.freq == ICAL_WEEKLY_RECURRENCE ? 7 : 1) * int64_t{r.interval};
      impl->count = r.count;
      if (r.freq == ICAL_WEEKLY_RECURRENCE && !IsEmptyBy(r.by_day)) {
        // Weeks start on WKST (default Monday); offsets 0..6 from that day.
        int wkst = r.week_start == ICAL_NO_WEEKDAY ? ICAL_MONDAY_WEEKDAY : r.week_start;
        for (int i = 0; i < ICAL_BY_DAY_SIZE && r.by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; ++i) {
          int dow = static_cast<int>(icalrecurrencetype_day_day_of_week(r.by_day[i]));
          impl->week_days.push_back((dow - wkst + 7) % 7);
        }
        std::sort(impl->week_days.begin(), impl->week_days.end());
        impl->week_days.erase(std::unique(impl->week_days.begin(), impl->week_days.end()),
                              impl->week_days.end());
        int start_dow = icaltime_day_of_week(impl->dtstart_local);
        impl->first_week = impl->first_day - days((start_dow - wkst + 7) % 7);
      }
      if (!icaltime_is_null_time(r.until)) {
        const icaltimetype& u = r.until;
        sys_days uday = std::chrono::year_month_day{
            std::chrono::year(u.year), std::chrono::month(u.month), std::chrono::day(u.day)};
        int64_t secs = std::chrono::duration_cast<seconds>(uday.time_since_epoch()).count() +
                       (u.is_date ? 0 : u.hour * 3600 + u.minute * 60 + u.second);
        if (u.is_date || a.all_day) {
          impl->until_kind = Impl::Until::kDate;
          impl->until_day = uday;
        } else if (icaltime_is_utc(u)) {
          impl->until_kind = Impl::Until::kUtc;
          impl->until_secs = secs;
        } else {
          impl->until_kind = Impl::Until::kLocal;
          impl->until_secs = secs;
        }
      }
    }
  }
  impl->exdates = a.exdates;
  std::sort(impl->exdates.begin(), impl->exdates.end());
  impl->rdates = a.rdates;
  TANDEM_ASSIGN_OR_RETURN(impl->overrides,
                          detail::ReadOverrides(a.ical_extra, a.time_zone, impl->duration));
  impl->margin = impl->duration;
  for (const detail::Override& o : impl->overrides) {
    impl->exact[o.recurrence_id] = &o;
    if (o.this_and_future) impl->future.push_back(&o);
    Duration shift =
        o.start > o.recurrence_id ? o.start - o.recurrence_id : o.recurrence_id - o.start;
    // A far move does not widen the window (bounded work on hostile input); such
    // overrides are looked at one by one in ExpandImpl.
    if (shift + (o.end - o.start) <= kMaxOverrideMargin)
      impl->margin = std::max(impl->margin, shift + (o.end - o.start));
  }
  return Series(impl);
}

namespace {

Result<std::vector<Occurrence>> ExpandImpl(const Series::Impl& s, Instant from, Instant to,
                                           size_t max_count, bool libical_only) {
  std::vector<Occurrence> out;
  if (!s.recurring) {
    if (max_count > 0 && Overlaps(s.start, s.end, from, to))
      out.push_back({s.start, s.end, s.start, false});
    return out;
  }
  // Rule instances are needed wherever an override could move one into the window.
  const Instant lo = from - s.margin - seconds(1);
  const Instant hi = to + s.margin;
  std::vector<Instant> starts;
  starts.reserve(64);
  if (s.start >= lo && s.start < hi) starts.push_back(s.start);  // DTSTART is always one
  if (s.has_rule) {
    if (s.use_libical || libical_only) {
      TANDEM_RETURN_IF_ERROR(s.LibicalRuleStarts(lo, hi, &starts));
    } else {
      TANDEM_RETURN_IF_ERROR(s.SimpleRuleStarts(lo, hi, &starts));
    }
  }
  for (Instant r : s.rdates) {
    if (r >= lo && r < hi) starts.push_back(r);
  }
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  if (!s.exdates.empty()) {
    std::erase_if(starts, [&](Instant t) {
      return std::binary_search(s.exdates.begin(), s.exdates.end(), t);
    });
  }
  out.reserve(starts.size());
  for (Instant rid : starts) {
    Occurrence occ{rid, rid + s.duration, rid, false};
    if (!s.future.empty()) {
      const detail::Override* shift = nullptr;
      for (const detail::Override* f : s.future) {
        if (f->recurrence_id <= rid) shift = f;
      }
      if (shift != nullptr) {
        occ.start = rid + (shift->start - shift->recurrence_id);
        occ.end = occ.start + (shift->end - shift->start);
        occ.overridden = true;
      }
    }
    if (!s.exact.empty()) {
      auto it = s.exact.find(rid);
      if (it != s.exact.end()) {
        if (it->second->cancelled) continue;
        occ.start = it->second->start;
        occ.end = it->second->end;
        occ.overridden = true;
        occ.changed = it->second->texts;
      }
    }
    if (Overlaps(occ.start, occ.end, from, to)) out.push_back(occ);
  }
  for (const auto& [rid, o] : s.exact) {
    // Overrides moved from outside the scanned span into the window.
    if (rid >= lo && rid < hi) continue;
    if (o->cancelled || !Overlaps(o->start, o->end, from, to)) continue;
    if (std::binary_search(s.exdates.begin(), s.exdates.end(), rid)) continue;
    out.push_back({o->start, o->end, rid, true, o->texts});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Occurrence& x, const Occurrence& y) { return x.start < y.start; });
  if (out.size() > max_count) out.resize(max_count);
  return out;
}

}  // namespace

Result<std::vector<Occurrence>> Series::Expand(Instant from, Instant to, size_t max_count) const {
  return ExpandImpl(*impl_, from, to, max_count, false);
}

Result<std::vector<Occurrence>> Expand(const model::Activity& a, Instant from, Instant to,
                                       size_t max_count) {
  TANDEM_ASSIGN_OR_RETURN(Series series, Series::Prepare(a));
  return series.Expand(from, to, max_count);
}

namespace detail {
Result<std::vector<Occurrence>> ExpandWithLibicalOnly(const model::Activity& a, Instant from,
                                                      Instant to, size_t max_count) {
  TANDEM_ASSIGN_OR_RETURN(Series series, Series::Prepare(a));
  return ExpandImpl(*series.impl(), from, to, max_count, true);
}
}  // namespace detail

Result<std::vector<SeriesOverride>> Overrides(const model::Activity& a) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<detail::Override> list,
                          detail::ReadOverrides(a.ical_extra, a.time_zone, a.end - a.start));
  std::vector<SeriesOverride> out;
  out.reserve(list.size());
  for (const detail::Override& o : list)
    out.push_back(SeriesOverride{o.recurrence_id, o.this_and_future, o.cancelled, o.start, o.end,
                                 *o.texts});
  return out;
}

std::optional<Instant> SeriesEnd(const model::Activity& a) {
  Result<Series> prepared = Series::Prepare(a);
  if (!prepared.ok()) return std::nullopt;  // unusable: callers take it as endless
  const Series::Impl& s = *prepared->impl();
  Instant last = s.end;
  if (!s.recurring) return last;
  for (Instant r : s.rdates) last = std::max(last, r + s.duration);
  for (const detail::Override& o : s.overrides) last = std::max(last, o.end);
  if (!s.has_rule) return last;
  const icalrecurrencetype& r = s.rule;
  if (!icaltime_is_null_time(r.until)) {
    // The UNTIL fields read as UTC are within a day of the true instant whatever
    // the zone; a DATE UNTIL admits instances during that whole local day.
    Instant until = detail::MidnightUtc(r.until.year, r.until.month, r.until.day);
    if (!r.until.is_date)
      until += std::chrono::hours(r.until.hour) + std::chrono::minutes(r.until.minute) +
               std::chrono::seconds(r.until.second);
    Duration slack = (icaltime_is_utc(r.until) && !r.until.is_date) ? Duration::zero()
                                                                    : Duration(days(2));
    return std::max(last, until + slack + s.duration);
  }
  if (r.count <= 0) return std::nullopt;  // endless
  // COUNT: the last instance by expansion up to the end of year 9999.
  const Instant far = FromUnixSeconds(int64_t{253402300799});
  const size_t most = static_cast<size_t>(r.count) + s.rdates.size() + s.overrides.size() + 1;
  Result<std::vector<Occurrence>> all = ExpandImpl(s, s.start, far, most, false);
  if (!all.ok()) return std::nullopt;
  for (const Occurrence& o : *all) last = std::max(last, o.end);
  return last;
}

Status CheckActivity(const model::Activity& a) {
  if (!a.all_day && detail::BuiltinZone(a.time_zone) == nullptr)
    return Status::InvalidArgument("time_zone: unknown IANA zone '" + a.time_zone + "'");
  if (a.rrule.empty() && a.rdates.empty() && !a.exdates.empty())
    return Status::InvalidArgument("exdates: only a recurring activity (rrule) has exceptions");
  if (a.all_day) {
    auto midnight = [](Instant t) { return std::chrono::floor<days>(t) == t; };
    for (Instant t : a.exdates) {
      if (!midnight(t))
        return Status::InvalidArgument("exdates: " + FormatRfc3339(t) +
                                       " is not a date (all-day series take dates)");
    }
    for (Instant t : a.rdates) {
      if (!midnight(t))
        return Status::InvalidArgument("rdates: " + FormatRfc3339(t) +
                                       " is not a date (all-day series take dates)");
    }
  }
  Result<Series> prepared = Series::Prepare(a);
  if (!prepared.ok()) return prepared.status();
  if (!a.rrule.empty()) {
    // What the sync writes must read back as the same rule (libical drops what it
    // does not understand without a word).
    const icalrecurrencetype& r = prepared->impl()->rule;
    if (r.interval < 1) return Status::InvalidArgument("rrule: INTERVAL must be at least 1");
    if (r.count < 0) return Status::InvalidArgument("rrule: COUNT must be positive");
    if (r.count > 0 && !icaltime_is_null_time(r.until))
      return Status::InvalidArgument("rrule: COUNT and UNTIL must not both be set");
    // One occurrence at least, within a bounded number of steps from the start.
    Result<std::vector<Occurrence>> first =
        prepared->Expand(a.start, FromUnixSeconds(int64_t{253402300799}), 1);
    if (!first.ok())
      return Status::InvalidArgument("rrule: " + std::string(first.status().message()));
  }
  return Status::Ok();
}

bool OccursWithin(const model::Activity& activity, Instant from, Instant to) {
  if (activity.rrule.empty() && activity.rdates.empty())
    return Overlaps(activity.start, activity.end, from, to);
  Result<std::vector<Occurrence>> occ = Expand(activity, from, to, 1);
  if (occ.ok()) return !occ->empty();
  return Overlaps(activity.start, activity.end, from, to);
}

}  // namespace tandem::ical
