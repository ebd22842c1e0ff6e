#include "model/entities.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace tandem::model {
namespace {

template <typename E, size_t N>
Result<E> ParseName(std::string_view s, const std::array<std::string_view, N>& names,
                    std::string_view what) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<E>(i);
  std::string allowed;
  for (auto n : names) allowed += (allowed.empty() ? "" : ", ") + std::string(n);
  return Status::InvalidArgument(fmt::format("{}: '{}' is not one of {}", what, s, allowed));
}

constexpr std::array<std::string_view, 5> kEntityNames = {"users", "accounts", "contacts",
                                                          "opportunities", "activities"};
constexpr std::array<std::string_view, 2> kRoleNames = {"user", "admin"};
constexpr std::array<std::string_view, 6> kStageNames = {
    "prospecting", "qualification", "proposal", "negotiation", "won", "lost"};
constexpr std::array<std::string_view, 3> kKindNames = {"appointment", "task", "phone_call"};
constexpr std::array<std::string_view, 5> kShowAsNames = {"free", "tentative", "busy",
                                                          "out_of_office", "working_elsewhere"};
constexpr std::array<std::string_view, 4> kRegardingNames = {"none", "account", "contact",
                                                             "opportunity"};

Status Require(bool ok, std::string_view field, std::string_view why) {
  if (ok) return Status::Ok();
  return Status::InvalidArgument(fmt::format("{}: {}", field, why));
}

Status MaxLen(const std::string& v, std::string_view field, size_t max) {
  return Require(v.size() <= max, field, fmt::format("longer than {} bytes", max));
}

bool IsDate(std::string_view s) {
  if (s.size() != 10) return false;
  auto parsed = ParseRfc3339(s);
  return parsed.ok();
}

}  // namespace

std::string_view EntityName(EntityType t) { return kEntityNames[static_cast<size_t>(t)]; }
Result<EntityType> ParseEntityName(std::string_view n) {
  return ParseName<EntityType>(n, kEntityNames, "entity");
}
std::string_view RoleName(Role r) { return kRoleNames[static_cast<size_t>(r)]; }
Result<Role> ParseRole(std::string_view s) { return ParseName<Role>(s, kRoleNames, "role"); }
std::string_view StageName(OpportunityStage s) { return kStageNames[static_cast<size_t>(s)]; }
Result<OpportunityStage> ParseStage(std::string_view s) {
  return ParseName<OpportunityStage>(s, kStageNames, "stage");
}
std::string_view KindName(ActivityKind k) { return kKindNames[static_cast<size_t>(k)]; }
Result<ActivityKind> ParseKind(std::string_view s) {
  return ParseName<ActivityKind>(s, kKindNames, "kind");
}
std::string_view ShowAsName(ShowAs s) { return kShowAsNames[static_cast<size_t>(s)]; }
Result<ShowAs> ParseShowAs(std::string_view s) {
  return ParseName<ShowAs>(s, kShowAsNames, "show_as");
}
std::string_view RegardingName(RegardingType r) {
  return kRegardingNames[static_cast<size_t>(r)];
}
Result<RegardingType> ParseRegarding(std::string_view s) {
  return ParseName<RegardingType>(s, kRegardingNames, "regarding_type");
}

Status Validate(const User& u) {
  TANDEM_RETURN_IF_ERROR(Require(!u.login.empty(), "login", "must not be empty"));
  TANDEM_RETURN_IF_ERROR(MaxLen(u.login, "login", 100));
  bool login_chars = std::all_of(u.login.begin(), u.login.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == '@';
  });
  TANDEM_RETURN_IF_ERROR(
      Require(login_chars, "login", "may contain only letters, digits and . _ - @"));
  TANDEM_RETURN_IF_ERROR(MaxLen(u.display_name, "display_name", 200));
  TANDEM_RETURN_IF_ERROR(MaxLen(u.time_zone, "time_zone", 64));
  return MaxLen(u.email, "email", 320);
}

Status Validate(const Account& a) {
  TANDEM_RETURN_IF_ERROR(Require(!a.name.empty(), "name", "must not be empty"));
  TANDEM_RETURN_IF_ERROR(MaxLen(a.name, "name", 400));
  return MaxLen(a.notes, "notes", 1 << 20);
}

Status Validate(const Contact& c) {
  TANDEM_RETURN_IF_ERROR(Require(!c.first_name.empty() || !c.last_name.empty(), "last_name",
                                 "a contact needs a first or a last name"));
  TANDEM_RETURN_IF_ERROR(MaxLen(c.first_name, "first_name", 200));
  TANDEM_RETURN_IF_ERROR(MaxLen(c.last_name, "last_name", 200));
  TANDEM_RETURN_IF_ERROR(
      Require(c.email.empty() || c.email.find('@') != std::string::npos, "email",
              "must contain '@'"));
  TANDEM_RETURN_IF_ERROR(MaxLen(c.notes, "notes", 1 << 20));
  return MaxLen(c.vcard_extra, "vcard_extra", 4 << 20);
}

Status Validate(const Opportunity& o) {
  TANDEM_RETURN_IF_ERROR(Require(!o.name.empty(), "name", "must not be empty"));
  TANDEM_RETURN_IF_ERROR(Require(o.amount_cents >= 0, "amount_cents", "must not be negative"));
  TANDEM_RETURN_IF_ERROR(Require(o.currency.size() == 3, "currency", "must be an ISO 4217 code"));
  TANDEM_RETURN_IF_ERROR(
      Require(o.close_date.empty() || IsDate(o.close_date), "close_date", "must be YYYY-MM-DD"));
  return MaxLen(o.notes, "notes", 1 << 20);
}

Status Validate(const Activity& a) {
  // No subject is allowed: iCalendar events need no SUMMARY, and an untitled
  // event imported from a calendar is written back without one (docs/SYNC.md).
  TANDEM_RETURN_IF_ERROR(Require(a.sequence >= 0, "sequence", "must not be negative"));
  TANDEM_RETURN_IF_ERROR(MaxLen(a.subject, "subject", 1000));
  TANDEM_RETURN_IF_ERROR(MaxLen(a.location, "location", 1000));
  TANDEM_RETURN_IF_ERROR(MaxLen(a.description, "description", 1 << 20));
  TANDEM_RETURN_IF_ERROR(Require(a.end >= a.start, "end", "must not be before start"));
  if (a.all_day) {
    auto midnight = [](Instant t) {
      return t == std::chrono::floor<std::chrono::days>(t);
    };
    TANDEM_RETURN_IF_ERROR(
        Require(midnight(a.start), "start", "an all-day activity starts at midnight UTC"));
    TANDEM_RETURN_IF_ERROR(
        Require(midnight(a.end) && a.end > a.start, "end",
                "an all-day activity ends at midnight UTC after its start (exclusive)"));
  }
  if (a.reminder_minutes) {
    TANDEM_RETURN_IF_ERROR(Require(*a.reminder_minutes >= 0 && *a.reminder_minutes <= 40320,
                                   "reminder_minutes", "must be between 0 and 40320 (4 weeks)"));
  }
  TANDEM_RETURN_IF_ERROR(Require(
      (a.regarding_type == RegardingType::kNone) == a.regarding_id.empty(), "regarding_id",
      "is set exactly when regarding_type is not 'none'"));
  return MaxLen(a.ical_extra, "ical_extra", 4 << 20);
}

std::string ETagOf(int64_t version) { return fmt::format("\"{}\"", version); }

std::string ItemETagOf(const RecordMeta& meta) {
  return fmt::format("\"{}.{}\"", meta.version, ToUnixMicros(meta.created));
}

Result<std::optional<int64_t>> ParseIfMatch(std::string_view h) {
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  if (h == "*") return std::optional<int64_t>();
  if (h.starts_with("W/")) h.remove_prefix(2);
  if (h.size() < 3 || h.front() != '"' || h.back() != '"')
    return Status::InvalidArgument("If-Match: expected a quoted ETag such as \"3\"");
  h = h.substr(1, h.size() - 2);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(h.data(), h.data() + h.size(), v);
  if (ec != std::errc() || p != h.data() + h.size() || v < 0)
    return Status::InvalidArgument("If-Match: not an ETag of this server");
  return std::optional<int64_t>(v);
}

}  // namespace tandem::model
