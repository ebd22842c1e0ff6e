#include "apps/cli/activity_times.h"

#include <chrono>

#include "apps/cli/dates.h"
#include "core/time.h"

namespace tandem::cli {
namespace {
using namespace std::chrono;

std::optional<Instant> TimeField(const nlohmann::json* record, const char* key) {
  if (record == nullptr) return std::nullopt;
  auto it = record->find(key);
  if (it == record->end() || !it->is_string()) return std::nullopt;
  auto t = ParseRfc3339(it->get<std::string>());
  if (!t.ok()) return std::nullopt;
  return *t;
}

Status Flagged(std::string_view flag, const Status& s) {
  return Status::InvalidArgument(std::string(flag) + ": " + s.message());
}

}  // namespace

Status ApplyActivityTimes(const ActivityTimeArgs& args, const nlohmann::json* current,
                          const LocalZone& zone, Instant now, nlohmann::json* body) {
  bool is_add = current == nullptr;
  if (is_add && args.start.empty()) return Status::InvalidArgument("--start is required");
  if (!is_add && args.start.empty() && args.end.empty() && !args.all_day) return Status::Ok();

  bool was_all_day = current != nullptr && current->value("all_day", false);
  bool all_day = args.all_day.value_or(was_all_day);
  auto cur_start = TimeField(current, "start");
  auto cur_end = TimeField(current, "end");

  Instant start, end;
  if (all_day) {
    year_month_day first;
    if (!args.start.empty()) {
      auto d = ParseDay(args.start, zone, now);
      if (!d.ok()) return Flagged("--start", d.status());
      first = *d;
    } else if (cur_start) {
      // Timed -> all-day keeps the local day it was on; all-day keeps its date.
      first = was_all_day ? year_month_day{floor<days>(*cur_start)} : zone.ToLocal(*cur_start).date;
    } else {
      return Status::InvalidArgument("--start is required");
    }
    start = Instant(sys_days{first});
    if (!args.end.empty()) {
      auto d = ParseDay(args.end, zone, now);
      if (!d.ok()) return Flagged("--end", d.status());
      end = Instant(sys_days{*d} + days{1});
    } else if (was_all_day && cur_start && cur_end && *cur_end > *cur_start) {
      end = start + (floor<days>(*cur_end) - floor<days>(*cur_start));
    } else {
      end = start + days{1};
    }
  } else {
    if (!args.start.empty()) {
      auto t = ParseWhen(args.start, zone, now);
      if (!t.ok()) return Flagged("--start", t.status());
      start = *t;
    } else if (cur_start && !was_all_day) {
      start = *cur_start;
    } else {
      return Status::InvalidArgument("--start is required to make an all-day activity timed");
    }
    if (!args.end.empty()) {
      auto t = ParseWhen(args.end, zone, now);
      if (!t.ok()) return Flagged("--end", t.status());
      end = *t;
    } else if (!was_all_day && cur_start && cur_end) {
      end = start + (*cur_end - *cur_start);
    } else {
      end = start + hours{1};
    }
  }
  (*body)["start"] = FormatRfc3339(start);
  (*body)["end"] = FormatRfc3339(end);
  if (args.all_day || is_add) (*body)["all_day"] = all_day;
  return Status::Ok();
}

}  // namespace tandem::cli
