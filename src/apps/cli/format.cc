#include "apps/cli/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

#include "apps/cli/dates.h"
#include "core/time.h"

namespace tandem::cli {
namespace {
using namespace std::chrono;

size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;  // count code points, not continuation bytes
  }
  return n;
}

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

bool Bool(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::optional<Instant> Time(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  auto t = ParseRfc3339(it->get<std::string>());
  if (!t.ok()) return std::nullopt;
  return *t;
}

std::string ActivityWhen(const Json& a, const LocalZone& zone) {
  auto start = Time(a, "start");
  auto end = Time(a, "end");
  if (!start) return "";
  if (Bool(a, "all_day")) {
    year_month_day first{floor<days>(*start)};
    std::string out = FormatDay(first);
    if (end && *end - *start > days{1}) {
      out += " .. " + FormatDay(year_month_day{floor<days>(*end) - days{1}});
    }
    return out + " (all day)";
  }
  std::string out = FormatLocalTime(*start, zone);
  if (end) {
    if (zone.ToLocal(*end).date == zone.ToLocal(*start).date) {
      out += "-" + FormatClock(*end, zone);
    } else {
      out += " .. " + FormatLocalTime(*end, zone);
    }
  }
  return out;
}

std::string Flags(const Json& a) {
  std::vector<std::string> flags;
  if (Bool(a, "cancelled")) flags.push_back("[cancelled]");
  // json.h names the field "private"; docs/API.md once called it "is_private".
  if (Bool(a, "private") || Bool(a, "is_private")) flags.push_back("[private]");
  std::string show_as = Str(a, "show_as");
  if (!show_as.empty() && show_as != "busy") flags.push_back("[" + show_as + "]");
  std::string kind = Str(a, "kind");
  if (!kind.empty() && kind != "appointment") flags.push_back("[" + kind + "]");
  std::string out;
  for (const auto& f : flags) out += (out.empty() ? "" : " ") + f;
  return out;
}

}  // namespace

std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(headers.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(headers);
  for (const auto& r : rows) measure(r);
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string cell = i < row.size() ? row[i] : "";
      line += cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - DisplayWidth(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  emit(headers);
  for (const auto& r : rows) emit(r);
  return out;
}

std::vector<std::string> ListHeaders(std::string_view collection) {
  if (collection == "accounts") return {"ID", "NAME", "PHONE", "WEBSITE"};
  if (collection == "contacts") return {"ID", "NAME", "EMAIL", "PHONE"};
  if (collection == "opportunities") return {"ID", "NAME", "STAGE", "AMOUNT", "CLOSE"};
  if (collection == "activities") return {"ID", "WHEN", "SUBJECT", "FLAGS"};
  if (collection == "users") return {"ID", "LOGIN", "NAME", "ROLE", "STATUS"};
  return {"ID"};
}

std::vector<std::string> ListRow(std::string_view collection, const Json& r,
                                 const LocalZone& zone) {
  std::string id = Str(r, "id");
  if (collection == "accounts") return {id, Str(r, "name"), Str(r, "phone"), Str(r, "website")};
  if (collection == "contacts") {
    std::string name = Str(r, "first_name");
    std::string last = Str(r, "last_name");
    if (!last.empty()) name += (name.empty() ? "" : " ") + last;
    return {id, name, Str(r, "email"), Str(r, "phone")};
  }
  if (collection == "opportunities") {
    int64_t cents = r.value("amount_cents", int64_t{0});
    return {id, Str(r, "name"), Str(r, "stage"), FormatMoney(cents, Str(r, "currency")),
            Str(r, "close_date")};
  }
  if (collection == "activities") {
    return {id, ActivityWhen(r, zone), Str(r, "subject"), Flags(r)};
  }
  if (collection == "users") {
    return {id, Str(r, "login"), Str(r, "display_name"), Str(r, "role"),
            Bool(r, "disabled") ? "disabled" : "active"};
  }
  return {id};
}

std::string RenderRecord(const Json& record, const LocalZone& zone) {
  if (!record.is_object()) return record.dump(2) + "\n";
  // What a person looks for first, then the rest alphabetically; empty text and
  // empty lists are left out.
  static const std::vector<std::string> kFirst = {
      "id",         "name",         "subject",  "login",      "display_name",
      "first_name", "last_name",    "kind",     "start",      "end",
      "all_day",    "location",     "show_as",  "private",    "reminder_minutes",
      "stage",      "amount_cents", "currency", "close_date", "email",
      "phone",      "role",         "disabled"};
  std::vector<std::string> keys;
  for (const auto& k : kFirst) {
    if (record.contains(k)) keys.push_back(k);
  }
  for (auto it = record.begin(); it != record.end(); ++it) {
    if (std::find(kFirst.begin(), kFirst.end(), it.key()) == kFirst.end()) keys.push_back(it.key());
  }
  std::erase_if(keys, [&](const std::string& k) {
    const Json& v = record[k];
    return (v.is_string() && v.get<std::string>().empty()) || (v.is_array() && v.empty());
  });
  bool all_day = Bool(record, "all_day");
  size_t width = 0;
  for (const auto& k : keys) width = std::max(width, k.size());
  std::string out;
  for (const auto& key : keys) {
    std::string value;
    const Json& v = record[key];
    if (v.is_string()) {
      value = v.get<std::string>();
      // Date-times get the local reading next to them; all-day dates are dates.
      if (all_day && (key == "start" || key == "end")) {
        auto t = ParseRfc3339(value);
        if (t.ok()) {
          year_month_day d{floor<days>(*t)};
          if (key == "end") d = year_month_day{floor<days>(*t) - days{1}};
          value += fmt::format(" ({}{})", key == "end" ? "last day " : "", FormatDay(d));
        }
      } else if (value.size() >= 20 && value[10] == 'T') {
        auto t = ParseRfc3339(value);
        if (t.ok()) {
          value +=
              fmt::format(" ({} {})", FormatLocalTime(*t, zone), FormatOffset(zone.OffsetAt(*t)));
        }
      }
    } else if (v.is_null()) {
      value = "-";
    } else if (v.is_array() && v.empty()) {
      value = "";
    } else {
      value = v.dump();
    }
    out += fmt::format("{:<{}}  {}\n", key + ":", width + 1, value);
  }
  return out;
}

std::string RenderAgenda(const Json& activities, year_month_day first, year_month_day last,
                         const LocalZone& zone) {
  struct Entry {
    bool all_day;
    Instant start;
    std::string line;
  };
  std::map<sys_days, std::vector<Entry>> by_day;
  sys_days first_day{first};
  sys_days last_day{last};
  for (const Json& a : activities) {
    auto start = Time(a, "start");
    if (!start) continue;
    auto end = Time(a, "end").value_or(*start);
    std::string subject = Str(a, "subject");
    std::string location = Str(a, "location");
    std::string flags = Flags(a);
    auto describe = [&](std::string when) {
      std::string line =
          fmt::format("  {:<12} {}", when, subject.empty() ? "(untitled)" : subject);
      if (!location.empty()) line += "  @ " + location;
      if (!flags.empty()) line += "  " + flags;
      return line;
    };
    if (Bool(a, "all_day")) {
      // All-day dates are calendar dates, stored as UTC midnights (exclusive end).
      sys_days d = floor<days>(*start);
      sys_days stop = std::max(floor<days>(end), d + days{1});
      for (; d < stop; d += days{1}) {
        if (d < first_day || d > last_day) continue;
        by_day[d].push_back({true, *start, describe("all day")});
      }
      continue;
    }
    sys_days d{zone.ToLocal(*start).date};
    std::string when = FormatClock(*start, zone) + "-";
    if (zone.ToLocal(end).date == zone.ToLocal(*start).date) {
      when += FormatClock(end, zone);
    } else {
      when = FormatClock(*start, zone) + " .. " + FormatDay(zone.ToLocal(end).date) + " " +
             FormatClock(end, zone);
    }
    if (d < first_day) {
      // Began before the range: shown on the first day if it still runs then.
      if (end <= StartOfDay(zone, first)) continue;
      d = first_day;
      when = "... -" + FormatClock(end, zone);
    }
    if (d > last_day) continue;
    by_day[d].push_back({false, *start, describe(when)});
  }
  if (by_day.empty()) {
    return fmt::format("No activities from {} to {}.\n", FormatDay(first), FormatDay(last));
  }
  std::string out;
  for (auto& [day, entries] : by_day) {
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      if (a.all_day != b.all_day) return a.all_day;
      return a.start < b.start;
    });
    if (!out.empty()) out += "\n";
    out += FormatDayHeading(year_month_day{day}) + "\n";
    for (const auto& e : entries) out += e.line + "\n";
  }
  return out;
}

std::string FormatMoney(int64_t cents, std::string_view currency) {
  bool negative = cents < 0;
  uint64_t abs_cents = negative ? static_cast<uint64_t>(-(cents + 1)) + 1 : cents;
  std::string whole = std::to_string(abs_cents / 100);
  std::string grouped;
  for (size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) grouped += ',';
    grouped += whole[i];
  }
  std::string out = fmt::format("{}{}.{:02}", negative ? "-" : "", grouped, abs_cents % 100);
  if (!currency.empty()) out += " " + std::string(currency);
  return out;
}

}  // namespace tandem::cli
