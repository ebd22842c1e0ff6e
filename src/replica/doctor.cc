#include "replica/doctor.h"

#include <fmt/ranges.h>

#include "core/data_dir.h"

#include <fmt/format.h>

#include <cstdlib>

#include "store/sqlite/database.h"

namespace tandem::replica {

namespace {

DoctorCheck Check(std::string name, bool ok, std::string detail, std::string fix = {}) {
  return {std::move(name), ok, std::move(detail), ok ? std::string() : std::move(fix)};
}

std::string MajorMinor(std::string_view v) {
  auto first = v.find('.');
  if (first == std::string_view::npos) return std::string(v);
  auto second = v.find('.', first + 1);
  return std::string(v.substr(0, second));
}

}  // namespace

std::vector<DoctorCheck> RunDoctor(const DoctorOptions& o) {
  std::vector<DoctorCheck> out;
  Instant now = o.clock->Now();

  auto info = o.server->Info();
  if (!info.ok()) {
    out.push_back(Check("reachability", false, info.status().ToString(),
                        "check the network and the server URL; the replica keeps working "
                        "offline and reconnects by itself"));
  } else {
    out.push_back(Check("reachability", true, "server answered"));
    bool same = MajorMinor(info->server_version) == MajorMinor(o.client_version);
    out.push_back(Check("version", same,
                        fmt::format("client {}, server {} (api {})", o.client_version,
                                    info->server_version, info->api),
                        "install the same major.minor version on both sides"));
    if (info->date) {
      auto skew = std::chrono::duration_cast<std::chrono::seconds>(now - *info->date);
      bool ok = std::chrono::abs(skew) <= o.max_clock_skew;
      out.push_back(Check("clock", ok, fmt::format("local clock is {} s off the server's", skew.count()),
                          "synchronize the clock (NTP); times of offline edits depend on it"));
    }
    auto me = o.server->Me();
    out.push_back(Check("credentials", me.ok(),
                        me.ok() ? "logged in as " + me->value("login", std::string("?"))
                                : me.status().ToString(),
                        "the password changed or the user was disabled: restart the replica "
                        "with the new credentials"));
  }

  {
    auto lease = o.pool->Read();
    if (!lease.ok()) {
      out.push_back(Check("database", false, lease.status().ToString(), "check the data directory"));
    } else {
      std::string result;
      auto stmt = (*lease)->Prepare("PRAGMA integrity_check");
      if (stmt.ok()) {
        while (true) {
          auto row = stmt->Step();
          if (!row.ok()) { result = row.status().ToString(); break; }
          if (!*row) break;
          if (!result.empty()) result += "; ";
          result += stmt->Text(0);
        }
      } else {
        result = stmt.status().ToString();
      }
      out.push_back(Check("database", result == "ok", "integrity_check: " + result,
                          "stop the replica, move the database file away and start again: the "
                          "first fill rebuilds it (unsent changes in the old file are listed "
                          "by its outbox table)"));
      auto version = store::sqlite::AppliedSchemaVersion(**lease, "replica");
      bool ok = version.ok() && *version == ReplicaState::kSchemaVersion;
      out.push_back(Check("schema",  ok,
                          version.ok() ? fmt::format("replica schema {} (expected {})", *version,
                                                     ReplicaState::kSchemaVersion)
                                       : version.status().ToString(),
                          "a newer program wrote this database: use that version"));
    }
  }

  auto pending = o.state->ListOutbox(OutboxState::kPending);
  if (pending.ok()) {
    int stuck = 0;
    std::string first;
    for (const auto& m : *pending) {
      if (m.attempts >= o.stuck_attempts || now - m.created > o.stuck_age) {
        if (stuck++ == 0) {
          first = fmt::format("{} {} ({} attempts: {})", model::EntityName(m.entity), m.record_id,
                              m.attempts, m.last_error);
        }
      }
    }
    out.push_back(Check("outbox", stuck == 0,
                        stuck == 0 ? fmt::format("{} pending", pending->size())
                                   : fmt::format("{} stuck of {} pending; first: {}", stuck,
                                                 pending->size(), first),
                        "the server is unreachable or refuses the batch: see reachability and "
                        "credentials; items are retried automatically"));
  }
  auto failed = o.state->ListOutbox(OutboxState::kFailed);
  if (failed.ok()) {
    std::string detail = fmt::format("{} failed", failed->size());
    for (size_t i = 0; i < failed->size() && i < 5; ++i) {
      const auto& m = (*failed)[i];
      detail += fmt::format("; {} {} {}: {}", MutationOpName(m.op), model::EntityName(m.entity),
                            m.record_id, m.last_error);
    }
    DoctorCheck check = Check("failed_mutations", failed->empty(), detail,
                              "correct the cause, then fix queues them again");
    check.fixable = !failed->empty();
    if (o.fix && !failed->empty()) {
      size_t requeued = 0;
      for (const auto& m : *failed) {
        if (o.state->Requeue(m.mutation_id).ok()) ++requeued;
      }
      check.fixed = fmt::format("queued {} again", requeued);
      if (requeued == failed->size()) {
        check.ok = true;
        check.fix.clear();
        check.fixable = false;
      }
    }
    out.push_back(std::move(check));
  }
  if (!o.data_dir.empty()) {
    // The replica's data and sealed password are its user's alone.
    auto wide = WideDataDirModes(o.data_dir);
    if (wide.ok()) {
      DoctorCheck check = Check("file_modes", wide->empty(),
                                wide->empty() ? o.data_dir + " and its files are private (0700/0600)"
                                              : fmt::format("other users can read: {}", fmt::join(*wide, "; ")),
                                "fix narrows them to 0700 (folder) and 0600 (files)");
      check.fixable = !wide->empty();
      if (o.fix && !wide->empty()) {
        std::vector<std::string> narrowed;
        if (SecureDataDir(o.data_dir, &narrowed).ok()) {
          check.fixed = fmt::format("narrowed {}", fmt::join(narrowed, "; "));
          check.ok = true;
          check.fix.clear();
          check.fixable = false;
        }
      }
      out.push_back(std::move(check));
    }
  }
  auto conflicts = o.state->ListConflicts();
  if (conflicts.ok()) {
    out.push_back(Check("conflicts", conflicts->empty(), fmt::format("{} open", conflicts->size()),
                        "run `tandem conflicts` and resolve each (mine / theirs / merged)"));
  }
  return out;
}

nlohmann::json ToJson(const std::vector<DoctorCheck>& checks) {
  nlohmann::json list = nlohmann::json::array();
  bool all = true;
  for (const auto& c : checks) {
    all = all && c.ok;
    list.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}, {"fix", c.fix},
                    {"fixable", c.fixable}, {"fixed", c.fixed}});
  }
  return {{"ok", all}, {"checks", list}};
}

}  // namespace tandem::replica
