#include "apps/cli/dates.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tandem::cli {
namespace {
using namespace std::chrono;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Status Unreadable(std::string_view text) {
  return Status::InvalidArgument(fmt::format(
      "'{}' is not a date: use YYYY-MM-DD, 'YYYY-MM-DD HH:MM', today, tomorrow, +N days "
      "or RFC 3339",
      text));
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  auto [p, ec] = std::from_chars(s.data() + pos, s.data() + pos + n, *out);
  return ec == std::errc() && p == s.data() + pos + n;
}

// Local date and optional time of day; `exact` is set for text carrying a zone.
struct Parsed {
  bool exact = false;
  Instant instant{};
  CivilTime civil;
  bool has_time = false;
};

Result<Parsed> Parse(std::string_view raw, const LocalZone& zone, Instant now, bool allow_now) {
  std::string text = Lower(raw);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(0, 1);
  Parsed p;
  year_month_day today = zone.ToLocal(now).date;
  auto relative = [&](int days_from_today) {
    p.civil.date = year_month_day{sys_days{today} + days{days_from_today}};
    return p;
  };
  if (text == "now" && allow_now) {
    p.exact = true;
    p.instant = now;
    return p;
  }
  if (text == "today") return relative(0);
  if (text == "tomorrow") return relative(1);
  if (text == "yesterday") return relative(-1);
  if (!text.empty() && (text[0] == '+' || text[0] == '-') && text.size() <= 6) {
    int n = 0;
    std::string_view digits(text);
    digits.remove_prefix(1);
    if (!digits.empty() && digits.back() == 'd') digits.remove_suffix(1);
    if (!digits.empty() && Digits(digits, 0, digits.size(), &n)) {
      return relative(text[0] == '+' ? n : -n);
    }
    return Unreadable(raw);
  }
  int y, mo, d;
  if (text.size() < 10 || !Digits(text, 0, 4, &y) || text[4] != '-' || !Digits(text, 5, 2, &mo) ||
      text[7] != '-' || !Digits(text, 8, 2, &d)) {
    return Unreadable(raw);
  }
  p.civil.date =
      year_month_day{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!p.civil.date.ok()) return Unreadable(raw);
  if (text.size() == 10) return p;
  if (text[10] != 't' && text[10] != ' ') return Unreadable(raw);
  // A zone designator makes it an exact instant: let the RFC 3339 parser decide.
  std::string_view rest = std::string_view(text).substr(11);
  if (rest.find_first_of("z+-") != std::string_view::npos) {
    std::string upper(text);
    upper[10] = 'T';
    if (upper.back() == 'z') upper.back() = 'Z';
    auto t = ParseRfc3339(upper);
    if (!t.ok()) return Unreadable(raw);
    p.exact = true;
    p.instant = *t;
    return p;
  }
  int h, mi, s = 0;
  if (!Digits(rest, 0, 2, &h) || rest.size() < 5 || rest[2] != ':' || !Digits(rest, 3, 2, &mi)) {
    return Unreadable(raw);
  }
  if (rest.size() == 8) {
    if (rest[5] != ':' || !Digits(rest, 6, 2, &s)) return Unreadable(raw);
  } else if (rest.size() != 5) {
    return Unreadable(raw);
  }
  if (h > 23 || mi > 59 || s > 59) return Unreadable(raw);
  p.civil.hour = h;
  p.civil.minute = mi;
  p.civil.second = s;
  p.has_time = true;
  return p;
}

}  // namespace

Result<year_month_day> ParseDay(std::string_view text, const LocalZone& zone, Instant now) {
  TANDEM_ASSIGN_OR_RETURN(Parsed p, Parse(text, zone, now, /*allow_now=*/true));
  if (p.exact) return zone.ToLocal(p.instant).date;
  return p.civil.date;
}

Result<Instant> ParseWhen(std::string_view text, const LocalZone& zone, Instant now) {
  TANDEM_ASSIGN_OR_RETURN(Parsed p, Parse(text, zone, now, /*allow_now=*/true));
  if (p.exact) return p.instant;
  return zone.FromLocal(p.civil);
}

Result<Instant> ParseUntil(std::string_view text, const LocalZone& zone, Instant now) {
  TANDEM_ASSIGN_OR_RETURN(Parsed p, Parse(text, zone, now, /*allow_now=*/true));
  if (p.exact) return p.instant;
  if (!p.has_time) return StartOfDay(zone, year_month_day{sys_days{p.civil.date} + days{1}});
  return zone.FromLocal(p.civil);
}

std::string FormatDay(year_month_day day) {
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(day.year()),
                     static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()));
}

std::string FormatDayHeading(year_month_day day) {
  static constexpr const char* kNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  weekday wd{sys_days{day}};
  return fmt::format("{} {}", kNames[wd.c_encoding()], FormatDay(day));
}

std::string FormatLocalTime(Instant t, const LocalZone& zone) {
  CivilTime c = zone.ToLocal(t);
  return fmt::format("{} {:02}:{:02}", FormatDay(c.date), c.hour, c.minute);
}

std::string FormatClock(Instant t, const LocalZone& zone) {
  CivilTime c = zone.ToLocal(t);
  return fmt::format("{:02}:{:02}", c.hour, c.minute);
}

std::string FormatOffset(seconds offset) {
  char sign = offset.count() < 0 ? '-' : '+';
  int64_t total = std::abs(offset.count()) / 60;
  return fmt::format("{}{:02}:{:02}", sign, total / 60, total % 60);
}

}  // namespace tandem::cli
