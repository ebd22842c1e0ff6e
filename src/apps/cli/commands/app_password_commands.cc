// tandem app-password add|list|revoke: per-device passwords for calendar and
// contacts programs (CalDAV/CardDAV with HTTP Basic), revocable one by one.
#include <fmt/format.h>

#include <memory>
#include <ostream>

#include "apps/cli/api_client.h"
#include "apps/cli/context.h"

namespace tandem::cli {
namespace {

Status Add(CommandContext& ctx, const std::string& name) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  Json body{{"name", name}};
  TANDEM_ASSIGN_OR_RETURN(Json created, api.Call("POST", "/api/v1/me/app-passwords", &body));
  if (ctx.json) {
    ctx.PrintJson(created);
    return Status::Ok();
  }
  TANDEM_ASSIGN_OR_RETURN(Json me, api.Me());
  Result<std::string> server = ctx.ServerUrl();
  ctx.out() << fmt::format(
      "App password '{}' (shown only now; `tandem app-password revoke {}` ends it):\n\n    {}\n\n"
      "In the calendar or contacts program: server {}, user {}, this password.\n",
      name, name, created.value("password", ""), server.ok() ? *server : std::string("(the server)"),
      me.value("login", "?"));
  return Status::Ok();
}

Status List(CommandContext& ctx) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json page, api.Call("GET", "/api/v1/me/app-passwords"));
  if (ctx.json) {
    ctx.PrintJson(page);
    return Status::Ok();
  }
  if (page["items"].empty()) ctx.out() << "No app passwords; add one with `tandem app-password add --name phone`.\n";
  for (const auto& p : page["items"]) {
    ctx.out() << fmt::format("{}  (added {})\n", p.value("name", ""), p.value("created", ""));
  }
  return Status::Ok();
}

Status Revoke(CommandContext& ctx, const std::string& name) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json ignored, api.Call("DELETE", "/api/v1/me/app-passwords/" + name));
  (void)ignored;
  if (!ctx.json) ctx.out() << fmt::format("Revoked app password '{}'; programs using it must be given a new one.\n", name);
  return Status::Ok();
}

}  // namespace

void InstallAppPasswordCommands(CLI::App& root, CommandContext& ctx) {
  CLI::App* group = root.add_subcommand(
      "app-password", "Passwords for your phone's or laptop's calendar and contacts programs (CalDAV/CardDAV)");
  group->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  CLI::App* add = group->add_subcommand("add", "Make a new app password for one device or program");
  add->add_option("--name", *name, "What it is for, e.g. phone or thunderbird (letters, digits, . _ -)")->required();
  add->callback([&ctx, name] { ctx.Run([&ctx, name] { return Add(ctx, *name); }); });
  CLI::App* list = group->add_subcommand("list", "List your app passwords (names only)");
  list->callback([&ctx] { ctx.Run([&ctx] { return List(ctx); }); });
  auto revoke_name = std::make_shared<std::string>();
  CLI::App* revoke = group->add_subcommand("revoke", "End an app password at once");
  revoke->add_option("name", *revoke_name, "Its name")->required();
  revoke->callback([&ctx, revoke_name] { ctx.Run([&ctx, revoke_name] { return Revoke(ctx, *revoke_name); }); });
}

}  // namespace tandem::cli
