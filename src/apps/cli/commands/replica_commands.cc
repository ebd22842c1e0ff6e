// tandem doctor [--fix]; tandem replica status|outbox|data-groups [set]|sync: the
// offline replica's own endpoints (SPEC C9/C10, docs/REPLICA.md). They exist only
// on a replica's local API (tandemd --replica-of); a plain server answers 404,
// which these commands report as "not an offline replica" (exit 5).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>

#include "apps/cli/api_client.h"
#include "apps/cli/context.h"
#include "apps/cli/dates.h"
#include "apps/cli/format.h"
#include "core/time.h"

namespace tandem::cli {
namespace {

constexpr std::string_view kDoctorNotReplica =
    "this server is not an offline replica; doctor checks a replica (tandemd --replica-of)";
constexpr std::string_view kReplicaNotReplica =
    "this server is not an offline replica; `tandem replica` talks to a replica (tandemd "
    "--replica-of)";

// The data groups a replica knows (replica data groups, docs/REPLICA.md).
const std::vector<std::string> kDataGroups = {"accounts", "contacts", "opportunities",
                                              "activities"};

std::string Text(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

// A count of the status answer; the replica sends -1 when it could not read it.
std::string Count(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0) return "?";
  return std::to_string(it->get<int64_t>());
}

int64_t Number(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

bool Flag(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

// An answer of a replica endpoint; 404 means the server has no such endpoint.
Result<Json> ReplicaCall(CommandContext& ctx, std::string_view not_replica, std::string_view method,
                         std::string_view path, const Json* body = nullptr) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  auto answer = api.Call(method, path, body);
  if (!answer.ok() && answer.status().Is(Code::kNotFound)) {
    return Status::NotFound(std::string(not_replica));
  }
  return answer;
}

// "2026-11-24 10:58 (+01:00, 2 min ago)".
std::string When(const std::string& rfc3339, CommandContext& ctx) {
  auto t = ParseRfc3339(rfc3339);
  if (!t.ok()) return rfc3339;
  auto age = std::chrono::duration_cast<std::chrono::seconds>(ctx.Now() - *t).count();
  std::string ago;
  if (age < 0) {
    ago = "in the future";
  } else if (age < 60) {
    ago = fmt::format("{} s ago", age);
  } else if (age < 3600) {
    ago = fmt::format("{} min ago", age / 60);
  } else if (age < 2 * 86400) {
    ago = fmt::format("{} h ago", age / 3600);
  } else {
    ago = fmt::format("{} days ago", age / 86400);
  }
  return fmt::format("{} ({}, {})", FormatLocalTime(*t, ctx.zone()),
                     FormatOffset(ctx.zone().OffsetAt(*t)), ago);
}

// --- tandem doctor

Status Doctor(CommandContext& ctx, bool fix) {
  TANDEM_ASSIGN_OR_RETURN(Json report,
                          ReplicaCall(ctx, kDoctorNotReplica, "GET",
                                      fix ? "/api/v1/replica/doctor?fix=1"
                                          : "/api/v1/replica/doctor"));
  if (!report.is_object() || !report.contains("checks") || !report["checks"].is_array()) {
    return Status::Corruption("the replica's doctor answered without a list of checks");
  }
  const Json& checks = report["checks"];
  // Each check: ok, what it found, what to do ("fix"), whether --fix repairs it
  // ("fixable") and what the repair did ("fixed"; the check then passes).
  std::vector<std::string> failed, repaired;
  bool fixable = false;
  for (const auto& c : checks) {
    if (!Text(c, "fixed").empty()) repaired.push_back(Text(c, "name"));
    if (Flag(c, "ok")) continue;
    failed.push_back(Text(c, "name"));
    fixable = fixable || Flag(c, "fixable");
  }
  // The top-level verdict counts too, should the server know of a problem no
  // check shows.
  bool all_ok = failed.empty() && (!report.contains("ok") || Flag(report, "ok"));

  if (ctx.json) {
    ctx.PrintJson(report);
  } else {
    size_t width = 0;
    for (const auto& c : checks) width = std::max(width, Text(c, "name").size());
    for (const auto& c : checks) {
      bool ok = Flag(c, "ok");
      std::string name = Text(c, "name");
      ctx.out() << fmt::format("{:<6}  {:<{}}  {}\n", ok ? "ok" : "FAILED", name, width,
                               Text(c, "detail"));
      if (std::string done = Text(c, "fixed"); !done.empty()) {
        ctx.out() << fmt::format("{:<6}  {:<{}}  fixed: {}\n", "", "", width, done);
      }
      std::string todo = Text(c, "fix");
      if (!ok && !todo.empty()) {
        ctx.out() << fmt::format("{:<6}  {:<{}}  to fix: {}\n", "", "", width, todo);
      }
    }
    if (all_ok) {
      ctx.out() << fmt::format("All {} checks passed{}.\n", checks.size(),
                               repaired.empty() ? "" : " (after the fixes above)");
    }
  }
  if (all_ok) return Status::Ok();

  std::string names;
  for (const auto& n : failed) names += (names.empty() ? "" : ", ") + n;
  std::string message =
      failed.empty() ? std::string("the doctor reports a problem")
                     : fmt::format("{} of {} checks found problems: {}", failed.size(),
                                   checks.size(), names);
  if (!repaired.empty()) {
    std::string done;
    for (const auto& n : repaired) done += (done.empty() ? "" : ", ") + n;
    message += fmt::format(" (fixed: {})", done);
  }
  if (!fix && fixable) message += " (tandem doctor --fix repairs some of them)";
  // Exit code 1 (kError): "problems found" (docs/CLI.md).
  return Status::Internal(message);
}

// --- tandem replica status

std::string StateText(const std::string& state) {
  if (state == "online") return "online";
  if (state == "offline")
    return "offline (working from the local copy; changes are queued and sent on reconnect)";
  if (state == "draining") return "reconnected, sending the queued changes";
  return state.empty() ? "?" : state;
}

std::string Pages(int64_t n) { return fmt::format("{} page{}", n, n == 1 ? "" : "s"); }

Status ShowStatus(CommandContext& ctx) {
  TANDEM_ASSIGN_OR_RETURN(Json s,
                          ReplicaCall(ctx, kReplicaNotReplica, "GET", "/api/v1/replica/status"));
  if (ctx.json) {
    ctx.PrintJson(s);
    return Status::Ok();
  }
  if (!s.is_object()) return Status::Corruption("the replica's status is not a JSON object");
  std::vector<std::pair<std::string, std::string>> lines;
  lines.emplace_back("server", Text(s, "server_url").empty() ? "?" : Text(s, "server_url"));
  lines.emplace_back("state", StateText(Text(s, "state")));
  std::string last_sync = Text(s, "last_sync");
  lines.emplace_back("last sync", last_sync.empty() ? "never" : When(last_sync, ctx));
  if (!Text(s, "last_error").empty()) lines.emplace_back("last error", Text(s, "last_error"));

  const Json fill = s.contains("fill") && s["fill"].is_object() ? s["fill"] : Json::object();
  std::string fill_text;
  if (Flag(s, "full_pull_in_progress")) {
    fill_text = fmt::format("in progress: {} records in {} so far", Number(fill, "records"),
                            Pages(Number(fill, "pages")));
  } else if (Flag(fill, "done")) {
    fill_text = fmt::format("complete ({} records in {})", Number(fill, "records"),
                            Pages(Number(fill, "pages")));
  } else {
    fill_text = "complete (no full pull running)";
  }
  lines.emplace_back("fill", fill_text);
  lines.emplace_back("records", Count(s, "tracked_records") + " kept locally");

  std::string outbox = fmt::format("{} pending, {} failed", Count(s, "pending"), Count(s, "failed"));
  if (Number(s, "pending") > 0 || Number(s, "failed") > 0) outbox += "  (see: tandem replica outbox)";
  lines.emplace_back("outbox", outbox);
  std::string conflicts = Count(s, "conflicts") + " open";
  if (Number(s, "conflicts") > 0) conflicts += "  (see: tandem conflicts)";
  lines.emplace_back("conflicts", conflicts);

  std::string client = Text(s, "client_version"), server = Text(s, "server_version");
  std::string versions =
      fmt::format("replica {}, server {}", client.empty() ? "?" : client,
                  server.empty() ? "not known yet" : server);
  if (!client.empty() && !server.empty() && client != server) versions += "  (differ: see tandem doctor)";
  lines.emplace_back("versions", versions);
  if (!Text(s, "user_id").empty()) lines.emplace_back("user", Text(s, "user_id"));

  // Anything else the replica reports (e.g. a cursor), as it comes.
  static const std::set<std::string, std::less<>> kShown = {
      "server_url",     "state",   "last_sync", "last_error", "fill",           "full_pull_in_progress",
      "tracked_records", "pending", "failed",    "conflicts",  "client_version", "server_version",
      "user_id"};
  for (auto it = s.begin(); it != s.end(); ++it) {
    if (kShown.contains(it.key())) continue;
    lines.emplace_back(it.key(), it->is_string() ? it->get<std::string>() : it->dump());
  }

  size_t width = 0;
  for (const auto& [k, v] : lines) width = std::max(width, k.size() + 1);
  for (const auto& [k, v] : lines) ctx.out() << fmt::format("{:<{}}  {}\n", k + ":", width, v);
  return Status::Ok();
}

// --- tandem replica outbox

Status ShowOutbox(CommandContext& ctx) {
  TANDEM_ASSIGN_OR_RETURN(Json page,
                          ReplicaCall(ctx, kReplicaNotReplica, "GET", "/api/v1/replica/outbox"));
  if (ctx.json) {
    ctx.PrintJson(page);
    return Status::Ok();
  }
  const Json items = page.is_object() && page.contains("items") && page["items"].is_array()
                         ? page["items"]
                         : Json::array();
  if (items.empty()) {
    ctx.out() << "The outbox is empty: every local change has been sent.\n";
    return Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  int failed = 0;
  for (const auto& m : items) {
    if (Text(m, "state") == "failed") ++failed;
    std::string queued = Text(m, "created");
    auto t = ParseRfc3339(queued);
    if (t.ok()) queued = FormatLocalTime(*t, ctx.zone());
    rows.push_back({Text(m, "state"), Text(m, "op"), Text(m, "entity"), Text(m, "record_id"),
                    Count(m, "attempts"), queued, Text(m, "error")});
  }
  ctx.out() << RenderTable({"STATE", "OP", "ENTITY", "RECORD", "ATTEMPTS", "QUEUED", "ERROR"}, rows);
  ctx.out() << fmt::format("{} queued change(s)", items.size());
  if (failed > 0) {
    ctx.out() << fmt::format(
        "; {} refused by the server (correct the cause, then: tandem doctor --fix queues them "
        "again)",
        failed);
  }
  ctx.out() << ".\n";
  return Status::Ok();
}

// --- tandem replica data-groups

std::string Days(const Json& v, const char* none) {
  return v.is_number_integer() ? std::to_string(v.get<int64_t>()) + " days" : none;
}

std::string Join(const Json& list) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& v : list) {
    out += (out.empty() ? "" : ", ") + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

// One line per group: "activities     mine; from 90 days back to any time ahead".
std::string RenderGroups(const Json& groups) {
  std::vector<std::vector<std::string>> rows;
  auto describe = [](const std::string& name, const Json& f) {
    if (!f.is_object()) return f.dump();
    if (f.contains("enabled") && f["enabled"].is_boolean() && !f["enabled"].get<bool>())
      return std::string("not kept locally");
    std::string owner = Text(f, "owner");
    std::string out = owner == "me" ? "mine" : owner == "all" ? "all I may see" : "owner " + owner;
    if (name == "opportunities") {
      std::string stages = Join(f.value("stages", Json::array()));
      out += stages.empty() ? "; every stage" : "; stages " + stages;
    }
    if (name == "activities") {
      out += fmt::format("; from {} back to {} ahead",
                         Days(f.value("days_back", Json()), "any time"),
                         Days(f.value("days_ahead", Json()), "any time"));
    }
    std::string excluded = Join(f.value("excluded_fields", Json::array()));
    if (!excluded.empty()) out += "; without " + excluded;
    return out;
  };
  if (!groups.is_object()) return groups.dump(2) + "\n";
  for (const auto& name : kDataGroups) {
    if (groups.contains(name)) rows.push_back({name, describe(name, groups[name])});
  }
  for (auto it = groups.begin(); it != groups.end(); ++it) {
    if (std::find(kDataGroups.begin(), kDataGroups.end(), it.key()) == kDataGroups.end())
      rows.push_back({it.key(), describe(it.key(), *it)});
  }
  return RenderTable({"GROUP", "KEPT LOCALLY"}, rows);
}

Status ShowGroups(CommandContext& ctx) {
  TANDEM_ASSIGN_OR_RETURN(Json groups, ReplicaCall(ctx, kReplicaNotReplica, "GET",
                                                   "/api/v1/replica/data-groups"));
  if (ctx.json) {
    ctx.PrintJson(groups);
  } else {
    ctx.out() << RenderGroups(groups);
  }
  return Status::Ok();
}

struct SetGroupsArgs {
  std::string file;
  std::string text;  // --json TEXT
};

Status SetGroups(CommandContext& ctx, const SetGroupsArgs& a) {
  if (a.file.empty() == a.text.empty()) {
    return ctx.Usage("give exactly one of --file F or --json '{...}' (the data groups)");
  }
  Json groups;
  if (!a.text.empty()) {
    groups = Json::parse(a.text, nullptr, /*allow_exceptions=*/false);
    if (!groups.is_object()) return ctx.Usage("--json: the data groups must be a JSON object");
  } else {
    std::string content;
    if (a.file == "-") {
      content.assign(std::istreambuf_iterator<char>(*ctx.runtime().in), {});
    } else {
      std::ifstream in(a.file, std::ios::binary);
      if (!in) return Status::Internal(fmt::format("cannot read {}", a.file));
      std::ostringstream buffer;
      buffer << in.rdbuf();
      if (in.bad()) return Status::Internal(fmt::format("cannot read {}", a.file));
      content = buffer.str();
    }
    groups = Json::parse(content, nullptr, /*allow_exceptions=*/false);
    if (!groups.is_object()) {
      return Status::InvalidArgument(fmt::format(
          "{}: the data groups must be a JSON object",
          a.file == "-" ? std::string("stdin") : a.file));
    }
  }
  for (auto it = groups.begin(); it != groups.end(); ++it) {
    if (std::find(kDataGroups.begin(), kDataGroups.end(), it.key()) == kDataGroups.end()) {
      ctx.err() << fmt::format(
          "warning: \"{}\" is not a data group (accounts, contacts, opportunities, activities); "
          "the replica ignores it\n",
          it.key());
    }
  }
  TANDEM_ASSIGN_OR_RETURN(Json saved, ReplicaCall(ctx, kReplicaNotReplica, "PUT",
                                                  "/api/v1/replica/data-groups", &groups));
  if (ctx.json) {
    ctx.PrintJson(saved);
  } else {
    ctx.out() << "Data groups saved. The replica refills its local copy (a full resync; unsent "
                 "changes are kept); follow it with: tandem replica status\n"
              << RenderGroups(saved);
  }
  return Status::Ok();
}

// --- tandem replica sync

Status SyncNow(CommandContext& ctx) {
  TANDEM_ASSIGN_OR_RETURN(Json r,
                          ReplicaCall(ctx, kReplicaNotReplica, "POST", "/api/v1/replica/sync"));
  if (ctx.json) {
    ctx.PrintJson(r);
  } else {
    ctx.out() << fmt::format("Synced: pulled {}, pushed {}, conflicts {}, rejected {}\n",
                             Count(r, "pulled"), Count(r, "pushed"), Count(r, "conflicts"),
                             Count(r, "rejected"));
  }
  int64_t rejected = Number(r, "rejected"), conflicts = Number(r, "conflicts");
  if (rejected > 0) {
    return Status::Internal(fmt::format(
        "the server refused {} change(s); see: tandem replica outbox", rejected));
  }
  if (conflicts > 0) {
    return Status::Conflict(fmt::format(
        "{} record(s) changed on the server meanwhile; resolve with: tandem conflicts",
        conflicts));
  }
  return Status::Ok();
}

}  // namespace

void InstallReplicaCommands(CLI::App& root, CommandContext& ctx) {
  auto fix = std::make_shared<bool>(false);
  CLI::App* doctor = root.add_subcommand(
      "doctor", "Check the offline replica for problems and say how to fix them (--fix repairs)");
  doctor->add_flag("--fix", *fix,
                   "Also repair what can be repaired safely (queues refused changes again)");
  doctor->footer(
      "Checks: server reachable, versions, credentials, clock, local database and schema,\n"
      "stuck outbox, refused changes, open conflicts. Talks to the replica's local API\n"
      "(tandem --server http://127.0.0.1:8481 ...).\n"
      "Exit codes: 0 every check passed, 1 problems found, 3 not logged in, 5 the server is\n"
      "not an offline replica, 6 the replica is unreachable.");
  doctor->callback([&ctx, fix] { ctx.Run([&ctx, fix] { return Doctor(ctx, *fix); }); });

  CLI::App* replica = root.add_subcommand(
      "replica", "The offline replica (tandemd --replica-of): status, outbox, data groups, sync");
  replica->require_subcommand(1);
  replica->footer(
      "These commands talk to the replica's local API (tandem --server http://127.0.0.1:8481 "
      "...);\na plain server answers exit code 5 (not an offline replica).");

  replica->add_subcommand("status", "Online or offline, fill progress, last sync, outbox, conflicts")
      ->callback([&ctx] { ctx.Run([&ctx] { return ShowStatus(ctx); }); });

  replica->add_subcommand("outbox", "Local changes not yet accepted by the server (queued, refused)")
      ->callback([&ctx] { ctx.Run([&ctx] { return ShowOutbox(ctx); }); });

  CLI::App* groups = replica->add_subcommand("data-groups", "Which server records the replica keeps");
  groups->callback([&ctx, groups] {
    if (groups->get_subcommands().empty()) ctx.Run([&ctx] { return ShowGroups(ctx); });
  });
  auto set_args = std::make_shared<SetGroupsArgs>();
  CLI::App* set = groups->add_subcommand(
      "set", "Replace the data groups (the replica then refills its copy; unsent changes are kept)");
  set->add_option("--file", set_args->file,
                  "Read the data groups (a JSON object) from this file; - for stdin")
      ->type_name("FILE");
  // --json takes the groups as text; given bare it is the usual "print JSON" switch
  // (the global --json is not reachable after `set`, which has its own).
  CLI::Option* text = set->add_option(
      "--json",
      "The data groups as JSON text, e.g. '{\"contacts\": {\"owner\": \"all\"}}'. A bare "
      "--json (no text) prints the answer as JSON, as elsewhere");
  text->expected(0, 1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->type_name("[JSON]");
  set->footer(
      "Groups: accounts, contacts, opportunities, activities; each an object with\n"
      "  enabled (bool), owner (\"me\" | \"all\"), excluded_fields [names],\n"
      "  stages [names] (opportunities), days_back / days_ahead (days or null; activities).\n"
      "A group or field left out gets its default (mine; activities from 90 days back).\n"
      "Example: tandem replica data-groups set --json '{\"activities\": {\"days_back\": 30}}'");
  set->callback([&ctx, set_args, text] {
    int texts = 0;
    for (const auto& value : text->results()) {
      if (value.empty()) {
        ctx.json = true;
      } else {
        set_args->text = value;
        ++texts;
      }
    }
    if (texts > 1) {
      ctx.Run([&ctx] { return ctx.Usage("--json: give the data groups once"); });
      return;
    }
    ctx.Run([&ctx, set_args] { return SetGroups(ctx, *set_args); });
  });

  replica->add_subcommand("sync", "Push queued changes and pull the server's now")
      ->footer("Exit codes: 0 synced, 1 the server refused a change (see: tandem replica outbox),\n"
               "4 new conflicts (see: tandem conflicts), 6 the server is unreachable.")
      ->callback([&ctx] { ctx.Run([&ctx] { return SyncNow(ctx); }); });
}

}  // namespace tandem::cli
