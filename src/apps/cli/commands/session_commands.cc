// tandem login | logout | whoami | version
#include <fmt/format.h>

#include <ostream>

#include "apps/cli/context.h"
#include "apps/cli/secret_input.h"

namespace tandem::cli {
namespace {

struct LoginArgs {
  std::string user;
  std::string password_file;
};

Result<std::string> ReadPassword(CommandContext& ctx, const LoginArgs& args,
                                 const std::string& server) {
  if (!args.password_file.empty()) return ReadSecretFile(args.password_file);
  const CliRuntime& rt = ctx.runtime();
  if (rt.stdin_is_tty && rt.prompt_secret) {
    return rt.prompt_secret(fmt::format("Password for {} at {}: ", args.user, server));
  }
  return ReadSecretLine(*rt.in);
}

Status Login(CommandContext& ctx, LoginArgs args) {
  TANDEM_ASSIGN_OR_RETURN(std::string server, ctx.ServerUrl());
  if (args.user.empty()) {
    auto saved = ctx.Session();
    if (saved.ok()) args.user = saved->login;
  }
  const CliRuntime& rt = ctx.runtime();
  if (args.user.empty() && rt.stdin_is_tty && rt.prompt_line) {
    TANDEM_ASSIGN_OR_RETURN(args.user, rt.prompt_line(fmt::format("Login at {}: ", server)));
  }
  if (args.user.empty()) return ctx.Usage("--user LOGIN is required");
  TANDEM_ASSIGN_OR_RETURN(std::string password, ReadPassword(ctx, args, server));
  TANDEM_ASSIGN_OR_RETURN(CredentialsFile file, ctx.Credentials());
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.AnonymousClient());
  TANDEM_ASSIGN_OR_RETURN(Json answer, api.Login(args.user, password));
  Credentials saved;
  saved.server = api.server();
  saved.login = args.user;
  saved.token = answer["token"].get<std::string>();
  if (answer.contains("user") && answer["user"].is_object()) {
    saved.user_id = answer["user"].value("id", "");
    saved.login = answer["user"].value("login", args.user);
  }
  TANDEM_RETURN_IF_ERROR(file.Save(saved));
  if (ctx.json) {
    Json shown = answer;
    shown.erase("token");  // the token stays in the credentials file
    ctx.PrintJson(shown);
  } else {
    ctx.out() << fmt::format("Logged in to {} as {}.\n", saved.server, saved.login);
  }
  return Status::Ok();
}

Status Logout(CommandContext& ctx) {
  TANDEM_ASSIGN_OR_RETURN(CredentialsFile file, ctx.Credentials());
  auto session = ctx.Session();
  if (!session.ok()) {
    if (ctx.json)
      ctx.PrintJson(Json{{"logged_out", false}});
    else
      ctx.out() << "Not logged in.\n";
    return Status::Ok();
  }
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  Status server_side = api.Logout();
  // The local session goes whatever the server said: the user asked to log out.
  TANDEM_RETURN_IF_ERROR(file.Remove());
  if (!server_side.ok() && !server_side.Is(Code::kUnauthenticated)) {
    ctx.err() << "warning: the server did not end the session: " << server_side.message() << "\n";
  }
  if (ctx.json) {
    ctx.PrintJson(Json{{"logged_out", true}, {"server", session->server}});
  } else {
    ctx.out() << fmt::format("Logged out of {}.\n", session->server);
  }
  return Status::Ok();
}

Status WhoAmI(CommandContext& ctx) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json me, api.Me());
  if (ctx.json) {
    ctx.PrintJson(me);
    return Status::Ok();
  }
  std::string name = me.value("display_name", "");
  ctx.out() << fmt::format("{}{} ({}) at {}\n", me.value("login", "?"),
                           name.empty() ? "" : " - " + name, me.value("role", "user"),
                           api.server());
  return Status::Ok();
}

Status Version(CommandContext& ctx) {
  const std::string client = TANDEM_VERSION;
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.AnonymousClient());
  auto server = api.ServerVersion();
  if (!server.ok()) {
    // Still tell the client's version: it is what a bug report needs first.
    if (!ctx.json) ctx.out() << "client: " << client << "\n";
    return server.status();
  }
  std::string server_version = server->value("server_version", server->value("version", ""));
  bool match = server_version == client;
  if (ctx.json) {
    ctx.PrintJson(Json{{"client", client}, {"server", *server}, {"match", match}});
  } else {
    ctx.out() << "client: " << client << "\n";
    ctx.out() << "server: " << (server_version.empty() ? "unknown" : server_version) << " ("
              << api.server() << ")\n";
  }
  if (!match) {
    ctx.err() << fmt::format(
        "warning: client version {} differs from server version {}; update the client\n", client,
        server_version.empty() ? "unknown" : server_version);
  }
  return Status::Ok();
}

}  // namespace

void InstallSessionCommands(CLI::App& root, CommandContext& ctx) {
  auto args = std::make_shared<LoginArgs>();
  CLI::App* login = root.add_subcommand(
      "login",
      "Log in and save the session (password from --password-file, a no-echo prompt, or stdin)");
  login->add_option("--user,-u", args->user, "Login name");
  login->add_option("--password-file", args->password_file,
                    "Read the password from the first line of this file");
  login->callback([&ctx, args] { ctx.Run([&ctx, args] { return Login(ctx, *args); }); });

  root.add_subcommand("logout", "End the session and forget the saved token")->callback([&ctx] {
    ctx.Run([&ctx] { return Logout(ctx); });
  });
  root.add_subcommand("whoami", "Show who the saved session belongs to")->callback([&ctx] {
    ctx.Run([&ctx] { return WhoAmI(ctx); });
  });
  root.add_subcommand("version", "Show the client's and the server's version (warns on mismatch)")
      ->callback([&ctx] { ctx.Run([&ctx] { return Version(ctx); }); });
}

}  // namespace tandem::cli
