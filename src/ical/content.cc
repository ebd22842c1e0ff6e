// Normalized view of the synced fields (S2): ContentHash and ChangedFields.
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "ical/ical.h"
#include "ical/internal.h"

namespace tandem::ical {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

// Line endings unified, trailing blanks of each line and surrounding blank lines
// removed: what servers commonly change without a user changing anything.
std::string NormalizeText(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\r') {
      if (i + 1 < in.size() && in[i + 1] == '\n') continue;
      c = '\n';
    }
    if (c == '\n') {
      while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
    }
    out.push_back(c);
  }
  size_t b = out.find_first_not_of(" \t\n");
  if (b == std::string::npos) return {};
  size_t e = out.find_last_not_of(" \t\n");
  return out.substr(b, e - b + 1);
}

std::string Seconds(Instant t) { return std::to_string(ToUnixSeconds(t)); }

std::string InstantList(std::vector<Instant> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  std::string out;
  for (Instant t : v) out += Seconds(t) + ",";
  return out;
}

std::string NormalizeRule(const std::string& rrule) {
  if (rrule.empty()) return {};
  icalrecurrencetype rule = icalrecurrencetype_from_string(rrule.c_str());
  if (rule.freq == ICAL_NO_RECURRENCE) {
    free(rule.rscale);
    return rrule;
  }
  char* text = icalrecurrencetype_as_string_r(&rule);
  std::string out = text ? text : rrule;
  icalmemory_free_buffer(text);
  free(rule.rscale);  // from_string hands over an RSCALE copy
  return out;
}

std::string NormalizeZone(const std::string& zone) {
  if (zone.empty()) return "UTC";
  Result<std::string> name = ResolveZoneName(zone);
  return name.ok() ? *name : zone;
}

Fields Normalized(const model::Activity& a) {
  Fields f;
  f.reserve(16);
  f.emplace_back("start", Seconds(a.start));
  f.emplace_back("end", Seconds(a.end));
  f.emplace_back("all_day", a.all_day ? "1" : "0");
  bool recurring = !a.rrule.empty() || !a.rdates.empty();
  // A single event is its instant; a series also depends on the zone that keeps
  // its wall-clock time across DST changes.
  f.emplace_back("time_zone", recurring && !a.all_day ? NormalizeZone(a.time_zone) : "");
  f.emplace_back("subject", NormalizeText(a.subject));
  f.emplace_back("location", NormalizeText(a.location));
  f.emplace_back("description", NormalizeText(a.description));
  f.emplace_back("show_as", std::string(model::ShowAsName(a.show_as)));
  f.emplace_back("is_private", a.is_private ? "1" : "0");
  f.emplace_back("reminder_minutes",
                 a.reminder_minutes ? std::to_string(*a.reminder_minutes) : "none");
  f.emplace_back("rrule", NormalizeRule(a.rrule));
  f.emplace_back("exdates", InstantList(a.exdates));
  f.emplace_back("rdates", InstantList(a.rdates));
  std::string overrides;
  if (recurring) {
    Result<std::vector<detail::Override>> list =
        detail::ReadOverrides(a.ical_extra, a.time_zone, a.end - a.start);
    if (list.ok()) {
      for (const detail::Override& o : *list) {
        for (const std::string& part :
             {Seconds(o.recurrence_id), std::string(o.this_and_future ? "F" : "-"),
              std::string(o.cancelled ? "X" : "-"), Seconds(o.start), Seconds(o.end),
              NormalizeText(o.texts->subject), NormalizeText(o.texts->location),
              NormalizeText(o.texts->description)}) {
          overrides += std::to_string(part.size()) + ":" + part;
        }
        overrides += ";";
      }
    } else {
      overrides = "unreadable:" + a.ical_extra;
    }
  }
  f.emplace_back("overrides", overrides);
  // Fields added later take part only when set, so that the hashes recorded for
  // every other event stay the same across the upgrade.
  if (a.cancelled) f.emplace_back("cancelled", "1");
  return f;
}

}  // namespace

std::string ContentHash(const model::Activity& activity) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  for (const auto& [name, value] : Normalized(activity)) {
    // Length-prefixed so that no two field lists share a byte form.
    std::string item = name + "=" + std::to_string(value.size()) + ":" + value + "\n";
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(item.data()),
                              item.size());
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
  return hex;
}

std::vector<std::string> ChangedFields(const model::Activity& a, const model::Activity& b) {
  Fields fa = Normalized(a);
  Fields fb = Normalized(b);
  std::vector<std::string> changed;
  for (size_t i = 0; i < fa.size() && i < fb.size(); ++i) {
    if (fa[i].second != fb[i].second) changed.push_back(fa[i].first);
  }
  if (a.cancelled != b.cancelled) changed.push_back("cancelled");
  return changed;
}

namespace {

std::string Cut(std::string s) {
  static constexpr size_t kMax = 200;
  if (s.size() <= kMax) return s;
  size_t n = kMax;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s + "...";
}

std::string Readable(const model::Activity& a, const std::string& field) {
  auto yes_no = [](bool b) { return std::string(b ? "yes" : "no"); };
  auto count = [](size_t n, const char* what) {
    return n == 0 ? std::string("none") : std::to_string(n) + " " + what;
  };
  if (field == "start") return FormatRfc3339(a.start);
  if (field == "end") return FormatRfc3339(a.end);
  if (field == "all_day") return yes_no(a.all_day);
  if (field == "time_zone") return a.time_zone.empty() ? "UTC" : a.time_zone;
  if (field == "subject") return Cut(a.subject);
  if (field == "location") return Cut(a.location);
  if (field == "description") return Cut(a.description);
  if (field == "show_as") return std::string(model::ShowAsName(a.show_as));
  if (field == "is_private") return yes_no(a.is_private);
  if (field == "reminder_minutes")
    return a.reminder_minutes ? std::to_string(*a.reminder_minutes) + " min" : "none";
  if (field == "rrule") return a.rrule.empty() ? "none" : a.rrule;
  if (field == "exdates") return count(a.exdates.size(), "excluded");
  if (field == "rdates") return count(a.rdates.size(), "added");
  if (field == "overrides") {
    auto list = detail::ReadOverrides(a.ical_extra, a.time_zone, a.end - a.start);
    return list.ok() ? count(list->size(), "changed occurrence(s)") : "unreadable";
  }
  if (field == "cancelled") return yes_no(a.cancelled);
  return "?";
}

}  // namespace

std::vector<FieldChange> DescribeChanges(const model::Activity& before,
                                         const model::Activity& after) {
  std::vector<FieldChange> out;
  for (const std::string& f : ChangedFields(before, after))
    out.push_back({f, Readable(before, f), Readable(after, f)});
  return out;
}

}  // namespace tandem::ical
