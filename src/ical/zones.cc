// TZID -> IANA zone resolution: system tzdata through libical, Windows zone names
// through ICU (CLDR windowsZones), vendor prefixes and Outlook display names.
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <cctype>
#include <string>
#include <vector>

#include "ical/ical.h"
#include "ical/internal.h"

namespace tandem::ical {
namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (std::isspace(static_cast<unsigned char>(s[b])) || s[b] == '"')) ++b;
  while (e > b && (std::isspace(static_cast<unsigned char>(s[e - 1])) || s[e - 1] == '"')) --e;
  return std::string(s.substr(b, e - b));
}

bool IsUtcName(std::string_view s) {
  return s == "UTC" || s == "GMT" || s == "Z" || s == "Etc/UTC" || s == "Etc/GMT" ||
         s == "Coordinated Universal Time" || s == "UTC+0" || s == "Universal";
}

// Windows zone name -> IANA via ICU's copy of CLDR windowsZones (territory "001").
std::optional<std::string> FromWindowsName(const std::string& name) {
  if (name.empty() || name.size() > 120) return std::nullopt;
  UChar win[128];
  int32_t win_len = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strFromUTF8(win, 128, &win_len, name.data(), static_cast<int32_t>(name.size()), &status);
  if (U_FAILURE(status)) return std::nullopt;
  UChar id[128];
  status = U_ZERO_ERROR;
  int32_t id_len = ucal_getTimeZoneIDForWindowsID(win, win_len, nullptr, id, 128, &status);
  if (U_FAILURE(status) || id_len <= 0 || id_len >= 128) return std::nullopt;
  char out[512];
  int32_t out_len = 0;
  status = U_ZERO_ERROR;
  u_strToUTF8(out, sizeof(out), &out_len, id, id_len, &status);
  if (U_FAILURE(status)) return std::nullopt;
  std::string iana(out, static_cast<size_t>(out_len));
  if (detail::BuiltinZone(iana) == nullptr) return std::nullopt;
  return iana;
}

// "/mozilla.org/20050126_1/Europe/Berlin" -> "Europe/Berlin".
std::optional<std::string> FromPrefixed(const std::string& name) {
  std::vector<size_t> slashes;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '/') slashes.push_back(i);
  }
  // Longest suffix first: "America/Argentina/Buenos_Aires" before "Buenos_Aires".
  for (size_t i = 0; i < slashes.size(); ++i) {
    std::string suffix = name.substr(slashes[i] + 1);
    if (suffix.find('/') == std::string::npos) continue;
    if (detail::BuiltinZone(suffix) != nullptr) return suffix;
  }
  return std::nullopt;
}

// "(UTC+01:00) Amsterdam, Berlin, Bern, Rome" or "(GMT+01.00) Amsterdam / Berlin":
// the first listed city that names an IANA zone.
std::optional<std::string> FromDisplayName(const std::string& name) {
  if (name.size() < 5 || name[0] != '(') return std::nullopt;
  size_t close = name.find(')');
  if (close == std::string::npos) return std::nullopt;
  std::string cities = name.substr(close + 1);
  std::lock_guard<std::mutex> lock(detail::ZoneMutex());
  icalarray* zones = icaltimezone_get_builtin_timezones();
  if (zones == nullptr) return std::nullopt;
  std::string token;
  auto try_city = [&](std::string city) -> std::optional<std::string> {
    city = Trim(city);
    if (city.empty()) return std::nullopt;
    std::replace(city.begin(), city.end(), ' ', '_');
    for (size_t i = 0; i < zones->num_elements; ++i) {
      auto* z = static_cast<icaltimezone*>(icalarray_element_at(zones, i));
      const char* loc = icaltimezone_get_location(z);
      if (loc == nullptr) continue;
      std::string_view l(loc);
      size_t slash = l.rfind('/');
      if (slash != std::string_view::npos && l.substr(slash + 1) == city) return std::string(l);
    }
    return std::nullopt;
  };
  for (char c : cities + ",") {
    if (c == ',' || c == '/' || c == ';') {
      if (auto found = try_city(token)) return found;
      token.clear();
    } else {
      token.push_back(c);
    }
  }
  return std::nullopt;
}

}  // namespace

namespace detail {

icaltimezone* BuiltinZone(std::string_view iana_name) {
  if (iana_name.empty() || IsUtcName(iana_name)) return icaltimezone_get_utc_timezone();
  // libical's lookup wants a NUL-terminated name and reads tzdata files: keep the
  // accepted alphabet small so odd TZIDs never reach the file system.
  if (iana_name.size() > 64) return nullptr;
  for (char c : iana_name) {
    bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' || c == '+';
    if (!ok) return nullptr;
  }
  if (iana_name.find("..") != std::string_view::npos || iana_name[0] == '/') return nullptr;
  std::string name(iana_name);
  std::lock_guard<std::mutex> lock(ZoneMutex());
  return icaltimezone_get_builtin_timezone(name.c_str());
}

}  // namespace detail

Result<std::string> ResolveZoneName(std::string_view tzid) {
  std::string name = Trim(tzid);
  if (name.empty()) return Status::NotFound("empty TZID");
  if (IsUtcName(name)) return std::string("UTC");
  if (detail::BuiltinZone(name) != nullptr) return name;
  if (auto w = FromWindowsName(name)) return *w;
  if (auto p = FromPrefixed(name)) return *p;
  if (auto d = FromDisplayName(name)) return *d;
  return Status::NotFound("time zone '" + name + "' is neither IANA nor a known Windows name");
}

std::string EscapeText(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case ';': out += "\\;"; break;
      case ',': out += "\\,"; break;
      case '\n': out += "\\n"; break;
      case '\r': break;
      default: out += c;
    }
  }
  return out;
}

namespace {

Result<std::string> WindowsZoneNameUncached(std::string_view iana_zone) {
  UChar id[128];
  int32_t id_len = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strFromUTF8(id, 128, &id_len, iana_zone.data(), static_cast<int32_t>(iana_zone.size()), &status);
  if (U_FAILURE(status)) return Status::NotFound("time zone name is not UTF-8");
  UChar win[128];
  status = U_ZERO_ERROR;
  int32_t win_len = ucal_getWindowsTimeZoneID(id, id_len, win, 128, &status);
  if (U_FAILURE(status) || win_len <= 0 || win_len >= 128)
    return Status::NotFound(fmt::format("time zone {} has no Windows name", iana_zone));
  char out[512];
  int32_t out_len = 0;
  status = U_ZERO_ERROR;
  u_strToUTF8(out, sizeof(out), &out_len, win, win_len, &status);
  if (U_FAILURE(status)) return Status::NotFound("time zone name");
  return std::string(out, static_cast<size_t>(out_len));
}

}  // namespace

Result<std::string> WindowsZoneName(std::string_view iana_zone) {
  if (iana_zone.empty() || IsUtcName(iana_zone)) return std::string("UTC");
  if (iana_zone.size() > 120) return Status::NotFound("time zone name too long");
  // ICU walks its resource tables for every lookup (~0.3 ms); a push of 10,000
  // events asks for the same few zones 20,000 times.
  static std::mutex mu;
  static std::map<std::string, Result<std::string>, std::less<>> cache;
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(iana_zone); it != cache.end()) return it->second;
  }
  Result<std::string> name = WindowsZoneNameUncached(iana_zone);
  std::lock_guard lock(mu);
  if (cache.size() < 1024) cache.emplace(std::string(iana_zone), name);
  return name;
}

Result<CivilTime> ToCivil(Instant t, std::string_view iana_zone) {
  icaltimezone* zone = detail::BuiltinZone(iana_zone);
  if (zone == nullptr) return Status::NotFound(fmt::format("time zone {} is unknown", iana_zone));
  icaltimetype l = detail::LocalTimeOf(t, zone, false);
  return CivilTime{l.year, l.month, l.day, l.hour, l.minute, l.second};
}

Result<Instant> FromCivil(const CivilTime& c, std::string_view iana_zone) {
  icaltimezone* zone = detail::BuiltinZone(iana_zone);
  if (zone == nullptr) return Status::NotFound(fmt::format("time zone {} is unknown", iana_zone));
  icaltimetype l = icaltime_null_time();
  l.year = c.year;
  l.month = c.month;
  l.day = c.day;
  l.hour = c.hour;
  l.minute = c.minute;
  l.second = c.second;
  return detail::InstantOf(l, zone);
}

}  // namespace tandem::ical
