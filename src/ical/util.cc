// Small libical helpers shared by the mapping (see internal.h).
#include <chrono>
#include <cstdlib>

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

}  // namespace tandem::ical::detail
