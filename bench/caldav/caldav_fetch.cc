// caldav_fetch: times one CalDavCalendar::ChangesSince against a live server and
// prints what it cost (for bench/caldav/run-bench.sh).
//
//   caldav_fetch URL USER PASS [--cursor-in FILE] [--cursor-out FILE] [--stream]
//                [--batch N] [--window-days-back N --window-days-ahead N] [--identity]
//
// Output, one "key: value" per line: items, deleted, warnings, seconds, requests
// (HTTP requests our client sent), vmhwm_kib (peak resident memory of this
// process), bytes. --stream uses StreamChangesSince (items are hashed and
// dropped as they arrive) instead of collecting the ChangeSet. --identity first
// calls Identity(), as the sync engine does on every run (counted and timed too).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>

#include "core/clock.h"
#include "providers/caldav/caldav_calendar.h"

namespace {

long VmHwmKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tandem;
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s URL USER PASS [--cursor-in F] [--cursor-out F] [--stream] [--batch N]\n",
                 argv[0]);
    return 2;
  }
  providers::caldav::CalDavCalendarOptions options;
  options.calendar_url = argv[1];
  options.http.auth = http::Auth::Basic(argv[2], argv[3]);
  options.http.default_timeout = std::chrono::minutes(30);
  std::string cursor_in, cursor_out;
  bool stream = false;
  bool identity = false;
  int back_days = 0, ahead_days = 0;
  for (int i = 4; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--cursor-in") cursor_in = next();
    else if (a == "--cursor-out") cursor_out = next();
    else if (a == "--stream") stream = true;
    else if (a == "--identity") identity = true;
    else if (a == "--batch") options.multiget_batch_size = std::stoi(next());
    else if (a == "--window-days-back") back_days = std::stoi(next());
    else if (a == "--window-days-ahead") ahead_days = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  auto calendar = providers::caldav::CalDavCalendar::Open(std::move(options));
  if (!calendar.ok()) {
    std::fprintf(stderr, "%s\n", calendar.status().ToString().c_str());
    return 1;
  }
  std::string cursor = cursor_in.empty() ? "" : ReadFile(cursor_in);
  sync::TimeRange window;
  if (back_days > 0 || ahead_days > 0) {
    Instant now = SystemClock().Now();
    window.from = now - std::chrono::hours(24 * back_days);
    window.to = now + std::chrono::hours(24 * ahead_days);
  }

  auto t0 = std::chrono::steady_clock::now();
  if (identity) {  // what the engine asks first on every run (S14)
    auto id = (*calendar)->Identity();
    if (!id.ok()) {
      std::fprintf(stderr, "Identity failed: %s\n", id.status().ToString().c_str());
      return 1;
    }
    std::printf("identity: %s\n", id->c_str());
  }
  size_t items = 0;
  size_t bytes = 0;
  size_t checksum = 0;
  Result<sync::ChangeSet> result = Status::Internal("not run");
  if (stream) {
    result = (*calendar)->StreamChangesSince(cursor, window, [&](sync::Item&& item) {
      ++items;
      bytes += item.ical.size();
      checksum ^= std::hash<std::string>{}(item.ical);
      return Status::Ok();
    });
  } else {
    result = (*calendar)->ChangesSince(cursor, window);
    if (result.ok()) {
      items = result->changed.size();
      for (const auto& item : result->changed) bytes += item.ical.size();
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!result.ok()) {
    std::fprintf(stderr, "ChangesSince failed: %s\n", result.status().ToString().c_str());
    return 1;
  }
  if (!cursor_out.empty()) {
    std::ofstream out(cursor_out, std::ios::binary);
    out << result->next_cursor;
  }
  std::printf("items: %zu\ndeleted: %zu\nwarnings: %zu\ncomplete: %d\nseconds: %.3f\n"
              "requests: %lld\nvmhwm_kib: %ld\nical_bytes: %zu\nchecksum: %zx\n",
              items, result->deleted.size(), result->warnings.size(), result->complete ? 1 : 0,
              seconds, static_cast<long long>((*calendar)->http_stats().requests_sent), VmHwmKib(),
              bytes, checksum);
  return 0;
}
