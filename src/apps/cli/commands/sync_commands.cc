// tandem sync pair add|list|remove|init, tandem sync providers|calendars|now|log|status
// (calendar sync).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <memory>
#include <ostream>
#include <thread>

#include "apps/cli/api_client.h"
#include "apps/cli/context.h"
#include "apps/cli/secret_input.h"
#include "oauth/loopback.h"

namespace tandem::cli {
namespace {

struct AddArgs {
  std::string provider, calendar;  // any provider of the server's catalog
  std::string caldav, vdir;        // shorthands: --provider caldav|vdir --calendar X
  bool google = false;             // shorthand: --provider google (an OAuth authorization)
  bool outlook = false;            // shorthand: --provider outlook (a device-code sign-in)
  std::string mailbox;             // a mailbox other than the signed-in user's (S8)
  std::string owner;               // admins: the CRM user the pair is for
  std::string user, password_file;
  int window_back = -1, window_ahead = -1, deletion_limit = -1;
  bool skip_private = false, no_init = false;
  std::string conflict, reminders, multi_day;
};

struct PairArgs {
  std::string id;
  bool dry_run = false;
  bool force = false;
  int limit = 20;
};

std::string Text(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// One item's problem, named by whatever is known of it: "read on external
// (calendar/x.ics, UID u, \"Lunch\"): cannot read ...".
std::string ItemErrorLine(const Json& e) {
  std::vector<std::string> names;
  for (const char* key : {"external_href", "crm_id"})
    if (!Text(e, key).empty()) names.push_back((key[0] == 'c' ? "activity " : "") + Text(e, key));
  if (!Text(e, "uid").empty()) names.push_back("UID " + Text(e, "uid"));
  if (!Text(e, "summary").empty()) names.push_back("\"" + Text(e, "summary") + "\"");
  return fmt::format("{}{}{} ({}): {}", Text(e, "action"), Text(e, "target").empty() ? "" : " on ",
                     Text(e, "target"), fmt::join(names, ", "), Text(e, "error"));
}

void PrintReport(CommandContext& ctx, const Json& r) {
  std::ostream& out = ctx.out();
  // A refusal is told once, in full, by the error line (ReportStatus).
  const bool refused = r.contains("refusal") && r["refusal"].is_string();
  out << fmt::format("{}{}: {}\n", r.value("dry_run", false) ? "plan (dry run) " : "",
                     r.value("initialization", false) ? "initialization" : "sync",
                     refused ? "refused, nothing was changed" : Text(r, "summary"));
  std::string plan = Text(r, "plan");
  if (!plan.empty() && (r.value("dry_run", false) || r.value("initialization", false)))
    out << plan << (plan.back() == '\n' ? "" : "\n");
  for (const auto& w : r.value("warnings", Json::array())) out << "warning: " << w.get<std::string>() << "\n";
  for (const auto& e : r.value("errors", Json::array())) out << "failed: " << ItemErrorLine(e) << "\n";
}

// The outcome of a run as the exit status: refusals and failed items are errors.
Status ReportStatus(const Json& r) {
  if (r.contains("refusal") && r["refusal"].is_string())
    return Status::Conflict("the run was refused: " + r["refusal"].get<std::string>());
  if (r.contains("unreachable") && r["unreachable"].is_string())
    return Status::Unavailable(fmt::format(
        "the calendar stopped answering during the run ({}); what was done is kept and the "
        "next run goes on from there: check the calendar server, then `tandem sync now {}`",
        r["unreachable"].get<std::string>(), Text(r, "pair_id")));
  size_t failed = r.value("errors", Json::array()).size();
  if (failed > 0)
    return Status::Internal(fmt::format("{} item(s) failed; see: tandem sync log {}", failed,
                                        Text(r, "pair_id")));
  return Status::Ok();
}

// The provider and calendar an add or a listing names: --provider P --calendar
// X, or a shorthand (--caldav URL, --vdir DIR).
Result<std::pair<std::string, std::string>> Target(CommandContext& ctx, const AddArgs& a) {
  const int given = !a.provider.empty() + !a.caldav.empty() + !a.vdir.empty() + a.google + a.outlook;
  if (given != 1)
    return ctx.Usage("give one of --provider NAME --calendar LOCATION, --caldav URL, --vdir DIR,"
                     " --google or --outlook (tandem sync providers lists the kinds this server offers)");
  // A mailbox other than one's own: "mailbox" or "mailbox/calendar id".
  const std::string located =
      a.mailbox.empty() ? a.calendar : a.mailbox + (a.calendar.empty() ? "" : "/" + a.calendar);
  if (a.google) return std::pair{std::string("google"), a.calendar};
  if (a.outlook) return std::pair{std::string("outlook"), located};
  if (!a.provider.empty()) return std::pair{a.provider, located};
  return !a.caldav.empty() ? std::pair{std::string("caldav"), a.caldav}
                           : std::pair{std::string("vdir"), a.vdir};
}

// The calendar password, from --password-file, a no-echo prompt or stdin.
Result<std::string> CalendarPassword(CommandContext& ctx, const AddArgs& a) {
  if (!a.password_file.empty()) return ReadSecretFile(a.password_file);
  if (ctx.runtime().stdin_is_tty && ctx.runtime().prompt_secret)
    return ctx.runtime().prompt_secret(fmt::format("Calendar password for {}: ", a.user));
  return ReadSecretLine(*ctx.runtime().in);
}

// A provider as the server's catalog describes it.
Result<Json> ProviderEntry(ApiClient& api, const std::string& provider) {
  TANDEM_ASSIGN_OR_RETURN(Json page, api.Call("GET", "/api/v1/sync/providers"));
  for (const auto& p : page.value("items", Json::array()))
    if (Text(p, "name") == provider) return p;
  return Status::InvalidArgument("provider: this server has no " + provider +
                                 " (tandem sync providers lists what it has)");
}

// The credential kind of a provider, as the server's catalog says.
Result<std::string> CredentialKind(ApiClient& api, const std::string& provider) {
  TANDEM_ASSIGN_OR_RETURN(Json p, ProviderEntry(api, provider));
  return Text(p, "credentials");
}

// A device-code sign-in (Microsoft): the code and the page to enter it on,
// shown while the server polls for the approval; returns the handle.
Result<std::string> AuthorizeWithDeviceCode(CommandContext& ctx, ApiClient& api,
                                            const std::string& provider) {
  Json start{{"provider", provider}};
  TANDEM_ASSIGN_OR_RETURN(Json started, api.Call("POST", "/api/v1/sync/oauth/device", &start));
  std::ostream& say = ctx.json ? *ctx.runtime().err : ctx.out();
  say << Text(started, "message") << "\n\n  page: " << Text(started, "verification_uri")
      << "\n  code: " << Text(started, "user_code") << "\n\nWaiting for the sign-in...\n";
  say.flush();
  int interval = std::max(1, started.value("interval", 5));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(started.value("expires_in", 900));
  Json poll{{"state", Text(started, "state")}};
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(interval));
    TANDEM_ASSIGN_OR_RETURN(Json answer, api.Call("POST", "/api/v1/sync/oauth/device/poll", &poll));
    if (answer.contains("authorization")) {
      say << "Signed in.\n";
      return Text(answer, "authorization");
    }
    if (answer.value("slow_down", false)) interval += 5;  // RFC 8628 3.5
  }
  return Status::DeadlineExceeded("the code expired before the sign-in; start again");
}

// An OAuth authorization as a user gives it: the page to open in a browser,
// whose answer comes back to this machine (127.0.0.1), exchanged by the server;
// returns the handle a pair names.
Result<std::string> Authorize(CommandContext& ctx, ApiClient& api, const std::string& provider) {
  TANDEM_ASSIGN_OR_RETURN(Json entry, ProviderEntry(api, provider));
  if (entry.value("device_code", false)) return AuthorizeWithDeviceCode(ctx, api, provider);
  TANDEM_ASSIGN_OR_RETURN(auto receiver, oauth::LoopbackReceiver::Start());
  Json start{{"provider", provider}, {"redirect_uri", receiver->redirect_uri()}};
  TANDEM_ASSIGN_OR_RETURN(Json started, api.Call("POST", "/api/v1/sync/oauth/start", &start));
  std::ostream& say = ctx.json ? *ctx.runtime().err : ctx.out();
  say << "Open this page in your browser to let Tandem reach your calendar:\n\n  "
      << Text(started, "authorization_url") << "\n\nWaiting for the browser (up to 5 minutes)...\n";
  say.flush();
  TANDEM_ASSIGN_OR_RETURN(oauth::Redirect redirect, receiver->Wait(std::chrono::minutes(5)));
  TANDEM_ASSIGN_OR_RETURN(std::string code, oauth::CodeFrom(redirect, Text(started, "state")));
  Json finish{{"state", Text(started, "state")}, {"code", code}};
  TANDEM_ASSIGN_OR_RETURN(Json done, api.Call("POST", "/api/v1/sync/oauth/finish", &finish));
  say << "Authorized.\n";
  return Text(done, "authorization");
}

// The body of an add or a listing: provider, calendar and the credential its
// kind takes (an OAuth authorization through the browser, or a user and password).
// Sets *oauth when it was an authorization.
Result<Json> TargetBody(CommandContext& ctx, ApiClient& session, const AddArgs& a,
                        const std::pair<std::string, std::string>& target, bool* oauth) {
  Json body{{"provider", target.first}, {"calendar", target.second}};
  if (!a.owner.empty()) body["user_id"] = a.owner;
  TANDEM_ASSIGN_OR_RETURN(std::string kind, CredentialKind(session, target.first));
  *oauth = kind == "oauth";
  if (*oauth) {
    TANDEM_ASSIGN_OR_RETURN(std::string handle, Authorize(ctx, session, target.first));
    body["authorization"] = handle;
  } else if (target.second.empty()) {
    return ctx.Usage("--provider needs --calendar LOCATION");
  }
  if (!a.user.empty()) {
    body["user"] = a.user;
    TANDEM_ASSIGN_OR_RETURN(std::string password, CalendarPassword(ctx, a));
    body["password"] = password;
  }
  return body;
}

Status AddPair(CommandContext& ctx, const AddArgs& a) {
  TANDEM_ASSIGN_OR_RETURN(auto target, Target(ctx, a));  // usage first, then the session
  TANDEM_ASSIGN_OR_RETURN(ApiClient session, ctx.SessionClient());
  bool oauth = false;
  TANDEM_ASSIGN_OR_RETURN(Json body, TargetBody(ctx, session, a, target, &oauth));
  const std::string provider = Text(body, "provider");
  if (oauth) {
    if (Text(body, "calendar").empty()) {
      // The account's calendars; its own first.
      Json ask{{"provider", provider}, {"authorization", body["authorization"]}};
      if (!a.mailbox.empty()) ask["calendar"] = a.mailbox;
      TANDEM_ASSIGN_OR_RETURN(Json found, session.Call("POST", "/api/v1/sync/discover", &ask));
      const Json items = found.value("items", Json::array());
      if (items.empty()) return Status::NotFound("calendar: the account has no calendar Tandem may write to");
      body["calendar"] = Text(items[0], "calendar");
      if (!ctx.json) {
        ctx.out() << fmt::format("Pairing with \"{}\" ({})", Text(items[0], "display_name"),
                                 Text(items[0], "calendar"));
        if (items.size() > 1)
          ctx.out() << fmt::format("; {} other calendar(s): tandem sync pair add --{} --calendar ID",
                                   items.size() - 1, provider);
        ctx.out() << "\n";
      }
    }
  }
  Json options = Json::object();
  if (a.window_back >= 0) options["window_days_back"] = a.window_back;
  if (a.window_ahead >= 0) options["window_days_ahead"] = a.window_ahead;
  if (a.deletion_limit >= 0) options["deletion_limit"] = a.deletion_limit;
  if (a.skip_private) options["skip_private"] = true;
  if (!a.conflict.empty()) options["conflict"] = a.conflict;
  if (!a.reminders.empty()) options["reminders"] = a.reminders;
  if (!a.multi_day.empty()) options["multi_day"] = a.multi_day;
  body["options"] = options;
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  if (!ctx.json && !a.no_init)
    ctx.out() << "Pairing and initializing: comparing both calendars, pairing what matches...\n";
  TANDEM_ASSIGN_OR_RETURN(Json pair, api.Call("POST", a.no_init ? "/api/v1/sync/pairs"
                                                                 : "/api/v1/sync/pairs?init=true",
                                              &body));
  if (ctx.json) {
    ctx.PrintJson(pair);
  } else {
    ctx.out() << fmt::format("Added sync pair {} with {}\n", Text(pair, "id"), Text(pair, "calendar"));
  }
  if (a.no_init || !pair.contains("initialization")) return Status::Ok();
  const Json& report = pair["initialization"];
  if (report.contains("error"))
    return Status::Unavailable("initialization: " + Text(report, "message") +
                               " (retry with: tandem sync pair init " + Text(pair, "id") + ")");
  if (!ctx.json) PrintReport(ctx, report);
  return ReportStatus(report);
}

Status ListProviders(CommandContext& ctx) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json page, api.Call("GET", "/api/v1/sync/providers"));
  if (ctx.json) {
    ctx.PrintJson(page);
    return Status::Ok();
  }
  for (const auto& p : page.value("items", Json::array())) {
    ctx.out() << fmt::format("{:<8} {}{} (credentials: {})\n", Text(p, "name"),
                             Text(p, "description"),
                             p.value("admin_only", false) ? ", admins only" : "",
                             Text(p, "credentials"));
  }
  return Status::Ok();
}

// S8: the calendars at a location, to choose the one to pair with.
Status ListCalendars(CommandContext& ctx, const AddArgs& a) {
  TANDEM_ASSIGN_OR_RETURN(auto target, Target(ctx, a));  // usage first, then the session
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  bool oauth = false;
  TANDEM_ASSIGN_OR_RETURN(Json body, TargetBody(ctx, api, a, target, &oauth));
  const std::string provider = Text(body, "provider");
  TANDEM_ASSIGN_OR_RETURN(Json page, api.Call("POST", "/api/v1/sync/discover", &body));
  if (ctx.json) {
    ctx.PrintJson(page);
    return Status::Ok();
  }
  const Json items = page.value("items", Json::array());
  if (items.empty()) ctx.out() << "No calendars found at " << Text(body, "calendar") << "\n";
  for (const auto& c : items) {
    ctx.out() << fmt::format("{}  {}{}\n", Text(c, "calendar"), Text(c, "display_name"),
                             c.value("has_events", true) ? "" : " (no events: tasks only)");
  }
  if (!items.empty())
    ctx.out() << fmt::format("Pair with one: tandem sync pair add --provider {} --calendar URL{}\n",
                             provider, a.user.empty() ? "" : " --user " + a.user);
  return Status::Ok();
}

// A pair whose authorization was refused (revoked, expired): authorize again.
Status Reauthorize(CommandContext& ctx, const PairArgs& a) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json pair, api.Call("GET", "/api/v1/sync/pairs/" + a.id));
  TANDEM_ASSIGN_OR_RETURN(std::string kind, CredentialKind(api, Text(pair, "provider")));
  if (kind != "oauth")
    return Status::InvalidArgument("pair " + a.id + " (" + Text(pair, "provider") +
                                   ") takes a password, not an authorization");
  TANDEM_ASSIGN_OR_RETURN(std::string handle, Authorize(ctx, api, Text(pair, "provider")));
  Json body{{"authorization", handle}};
  TANDEM_ASSIGN_OR_RETURN(Json updated, api.Call("PATCH", "/api/v1/sync/pairs/" + a.id, &body));
  if (ctx.json) {
    ctx.PrintJson(updated);
  } else {
    ctx.out() << "Sync pair " << a.id << " is authorized again; it runs at its next turn "
              << "(or now: tandem sync now " << a.id << ")\n";
  }
  return Status::Ok();
}

Status ListPairs(CommandContext& ctx) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json page, api.Call("GET", "/api/v1/sync/pairs"));
  if (ctx.json) {
    ctx.PrintJson(page);
    return Status::Ok();
  }
  const Json& items = page["items"];
  if (items.empty()) ctx.out() << "No sync pairs. Add one: tandem sync pair add --caldav URL --user NAME\n";
  for (const auto& p : items) {
    const Json& s = p.contains("schedule") && p["schedule"].is_object() ? p["schedule"] : Json::object();
    ctx.out() << fmt::format("{}  {} {}\n    initialized: {}  last run: {}  next run: {}{}\n",
                             Text(p, "id"), Text(p, "provider"), Text(p, "calendar"),
                             Text(p, "initialized").empty() ? "no" : Text(p, "initialized"),
                             Text(s, "last_run").empty() ? "never" : Text(s, "last_run"),
                             Text(s, "next_run").empty() ? "-" : Text(s, "next_run"),
                             Text(s, "last_error").empty() ? "" : "\n    last error: " + Text(s, "last_error"));
  }
  return Status::Ok();
}

Status RemovePair(CommandContext& ctx, const PairArgs& a) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json ignored, api.Call("DELETE", "/api/v1/sync/pairs/" + a.id));
  if (!ctx.json) ctx.out() << "Removed sync pair " << a.id << " (no event was deleted on either side)\n";
  return Status::Ok();
}

std::string RunQuery(const PairArgs& a) {
  std::string q;
  if (a.dry_run) q += "dry_run=true";
  if (a.force) q += std::string(q.empty() ? "" : "&") + "force=true";
  return q.empty() ? "" : "?" + q;
}

Status RunPairs(CommandContext& ctx, const PairArgs& a, bool init) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  std::vector<std::string> ids;
  if (!a.id.empty()) {
    ids.push_back(a.id);
  } else {
    TANDEM_ASSIGN_OR_RETURN(Json page, api.Call("GET", "/api/v1/sync/pairs"));
    for (const auto& p : page["items"]) ids.push_back(Text(p, "id"));
    if (ids.empty()) return Status::NotFound("no sync pairs; add one with: tandem sync pair add");
  }
  Status first;
  Json all = Json::array();
  for (const auto& id : ids) {
    if (!ctx.json && ids.size() > 1) ctx.out() << "pair " << id << ":\n";
    auto report = api.Call("POST", fmt::format("/api/v1/sync/pairs/{}/{}{}", id,
                                               init ? "init" : "run", RunQuery(a)));
    if (!report.ok()) {
      if (ids.size() == 1) return report.status();  // printed once, by the caller
      if (first.ok()) first = report.status();
      if (!ctx.json) ctx.err() << "error: " << report.status().message() << "\n";
      continue;
    }
    if (ctx.json) {
      all.push_back(*report);
    } else {
      PrintReport(ctx, *report);
    }
    if (Status s = ReportStatus(*report); !s.ok() && first.ok()) first = s;
  }
  if (ctx.json) ctx.PrintJson(ids.size() == 1 && !all.empty() ? all[0] : all);
  return first;
}

Status ShowLog(CommandContext& ctx, const PairArgs& a) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json page, api.Call("GET", fmt::format("/api/v1/sync/pairs/{}/log?limit={}",
                                                                  a.id, a.limit)));
  if (ctx.json) {
    ctx.PrintJson(page);
    return Status::Ok();
  }
  if (page["items"].empty()) ctx.out() << "The sync log of this pair is empty.\n";
  for (const auto& e : page["items"]) {
    std::string what = Text(e, "crm_id").empty() ? Text(e, "uid") : "activity " + Text(e, "crm_id");
    if (!Text(e, "title").empty())
      what += fmt::format(" \"{}\" {}", Text(e, "title"), Text(e, "start"));
    ctx.out() << fmt::format("{}  run {}  {} {} {}{}{}\n", Text(e, "at"), e.value("run_id", 0),
                             Text(e, "action"), Text(e, "target").empty() ? "" : "on " + Text(e, "target"),
                             what, Text(e, "reason").empty() ? "" : "  (" + Text(e, "reason") + ")",
                             Text(e, "error").empty() ? "" : "  FAILED: " + Text(e, "error"));
    // S11: what the change did, field by field (--json has both versions whole).
    auto changes = e.find("changes");
    if (changes != e.end() && changes->is_array())
      for (const auto& c : *changes)
        ctx.out() << fmt::format("    {}: {} -> {}\n", Text(c, "field"), Text(c, "before"),
                                 Text(c, "after"));
  }
  return Status::Ok();
}

Status ShowStatus(CommandContext& ctx) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json page, api.Call("GET", "/api/v1/sync/status"));
  if (ctx.json) {
    ctx.PrintJson(page);
    return Status::Ok();
  }
  if (page["items"].empty()) ctx.out() << "No sync pairs.\n";
  for (const auto& p : page["items"]) {
    const Json& s = p["schedule"].is_object() ? p["schedule"] : Json::object();
    ctx.out() << fmt::format("{}  {} {}\n", Text(p, "id"), Text(p, "provider"), Text(p, "calendar"));
    ctx.out() << fmt::format("  last run: {} ({})\n  next run: {}\n",
                             Text(s, "last_run").empty() ? "never" : Text(s, "last_run"),
                             Text(p, "last_outcome").empty() ? "-" : Text(p, "last_outcome"),
                             Text(s, "next_run").empty() ? "at next login or change" : Text(s, "next_run"));
    if (s.value("failing", false))
      ctx.out() << fmt::format("  FAILING after {} attempts; retried slowly\n", s.value("consecutive_failures", 0));
    if (!Text(s, "last_error").empty()) ctx.out() << "  last error: " << Text(s, "last_error") << "\n";
    if (Text(s, "last_error").find("needs re-authorization") != std::string::npos)
      ctx.out() << "  NEEDS RE-AUTHORIZATION: tandem sync pair reauth " << Text(p, "id") << "\n";
    for (const auto& e : p.value("item_errors", Json::array()))
      ctx.out() << "  item error: " << ItemErrorLine(e) << "\n";
  }
  return Status::Ok();
}

}  // namespace

void InstallSyncCommands(CLI::App& root, CommandContext& ctx) {
  CLI::App* sync = root.add_subcommand("sync", "Calendar sync between the CRM and external calendars");
  sync->require_subcommand(1);
  CLI::App* pair = sync->add_subcommand("pair", "Manage sync pairs (your CRM calendar <-> one external calendar)");
  pair->require_subcommand(1);

  auto add = std::make_shared<AddArgs>();
  CLI::App* add_cmd = pair->add_subcommand("add", "Pair your CRM calendar with an external calendar and initialize");
  auto target_options = [](CLI::App* cmd, AddArgs& args) {
    cmd->add_option("--provider", args.provider,
                    "Kind of calendar (tandem sync providers lists them: caldav, vdir, ...)");
    cmd->add_option("--calendar", args.calendar, "Where it is: a server, account or calendar URL, a folder");
    cmd->add_option("--caldav", args.caldav, "Shorthand: --provider caldav --calendar URL");
    cmd->add_option("--vdir", args.vdir, "Shorthand: --provider vdir --calendar DIR (admin only)");
    cmd->add_flag("--google", args.google,
                  "Shorthand: --provider google (opens Google's consent page; --calendar ID picks one)");
    cmd->add_flag("--outlook", args.outlook,
                  "Shorthand: --provider outlook (Microsoft 365 / Outlook.com: sign in with a code "
                  "on Microsoft's page; --calendar ID picks one)");
    cmd->add_option("--mailbox", args.mailbox,
                    "Another mailbox's calendar (user@domain), shared with you or reached by the "
                    "server's application access (--provider outlook-app)");
    cmd->add_option("--user", args.user, "Login at the calendar server");
    cmd->add_option("--owner", args.owner, "Admins: the CRM user (id) whose calendar this pair syncs");
    cmd->add_option("--password-file", args.password_file,
                    "Read the calendar password from this file (else prompt or stdin; never an argument)");
  };
  target_options(add_cmd, *add);
  add_cmd->add_option("--window-back", add->window_back, "Days back to sync (default 92)");
  add_cmd->add_option("--window-ahead", add->window_ahead, "Days ahead to sync (default 366)");
  add_cmd->add_flag("--skip-private", add->skip_private, "Do not sync private events either way");
  add_cmd->add_option("--conflict", add->conflict, "later-wins (default), crm-wins or external-wins")
      ->check(CLI::IsMember({"later-wins", "crm-wins", "external-wins"}));
  add_cmd->add_option("--reminders", add->reminders, "sync (default), crm-only or external-only")
      ->check(CLI::IsMember({"sync", "crm-only", "external-only"}));
  add_cmd->add_option("--multi-day", add->multi_day, "keep (default) or start-with-end-in-title")
      ->check(CLI::IsMember({"keep", "start-with-end-in-title"}));
  add_cmd->add_option("--deletion-limit", add->deletion_limit,
                      "Stop a run that would delete more than this many events (default 100)");
  add_cmd->add_flag("--no-init", add->no_init, "Only add; initialize at the first run");
  add_cmd->callback([&ctx, add] { ctx.Run([&ctx, add] { return AddPair(ctx, *add); }); });

  sync->add_subcommand("providers", "The kinds of calendar this server can pair with")
      ->callback([&ctx] { ctx.Run([&ctx] { return ListProviders(ctx); }); });
  auto calendars = std::make_shared<AddArgs>();
  CLI::App* calendars_cmd =
      sync->add_subcommand("calendars", "List the calendars at a server or account, to choose one");
  target_options(calendars_cmd, *calendars);
  calendars_cmd->callback(
      [&ctx, calendars] { ctx.Run([&ctx, calendars] { return ListCalendars(ctx, *calendars); }); });

  pair->add_subcommand("list", "List your sync pairs")->callback([&ctx] {
    ctx.Run([&ctx] { return ListPairs(ctx); });
  });

  auto remove = std::make_shared<PairArgs>();
  CLI::App* remove_cmd = pair->add_subcommand("remove", "Forget a sync pair (deletes no event)");
  remove_cmd->add_option("id", remove->id, "Pair id")->required();
  remove_cmd->callback([&ctx, remove] { ctx.Run([&ctx, remove] { return RemovePair(ctx, *remove); }); });

  auto reauth = std::make_shared<PairArgs>();
  CLI::App* reauth_cmd = pair->add_subcommand(
      "reauth", "Authorize a pair again (its calendar's authorization was revoked or expired)");
  reauth_cmd->add_option("id", reauth->id, "Pair id")->required();
  reauth_cmd->callback([&ctx, reauth] { ctx.Run([&ctx, reauth] { return Reauthorize(ctx, *reauth); }); });

  auto init = std::make_shared<PairArgs>();
  CLI::App* init_cmd = pair->add_subcommand(
      "init", "(Re-)initialize: pair matching events, create only what is missing");
  init_cmd->add_option("id", init->id, "Pair id")->required();
  init_cmd->add_flag("--dry-run", init->dry_run, "Show what would be paired and created; change nothing");
  init_cmd->callback([&ctx, init] { ctx.Run([&ctx, init] { return RunPairs(ctx, *init, true); }); });

  auto now = std::make_shared<PairArgs>();
  CLI::App* now_cmd = sync->add_subcommand("now", "Sync now (all your pairs, or one)");
  now_cmd->add_option("id", now->id, "Pair id (default: all your pairs)");
  now_cmd->add_flag("--dry-run", now->dry_run, "Print the plan; change nothing");
  now_cmd->add_flag("--force", now->force, "Go past the mass-deletion guard");
  now_cmd->callback([&ctx, now] { ctx.Run([&ctx, now] { return RunPairs(ctx, *now, false); }); });

  auto log = std::make_shared<PairArgs>();
  CLI::App* log_cmd = sync->add_subcommand("log", "What the sync did to which record, newest first");
  log_cmd->add_option("id", log->id, "Pair id")->required();
  log_cmd->add_option("--limit", log->limit, "How many entries (default 20)")->check(CLI::Range(1, 1000));
  log_cmd->callback([&ctx, log] { ctx.Run([&ctx, log] { return ShowLog(ctx, *log); }); });

  sync->add_subcommand("status", "Last and next run, outcome and errors of every pair")->callback([&ctx] {
    ctx.Run([&ctx] { return ShowStatus(ctx); });
  });
}

}  // namespace tandem::cli
