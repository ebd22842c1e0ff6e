#include <fmt/format.h>

#include <exception>
#include <ostream>

#include "apps/cli/context.h"

namespace tandem::cli {

Result<CredentialsFile> CommandContext::Credentials() const {
  TANDEM_ASSIGN_OR_RETURN(auto path, DefaultCredentialsPath(rt_.config_env));
  return CredentialsFile(std::move(path));
}

Result<cli::Credentials> CommandContext::Session() const {
  TANDEM_ASSIGN_OR_RETURN(CredentialsFile file, Credentials());
  auto session = file.Load();
  if (!session.ok() && session.status().Is(Code::kNotFound)) {
    return Status::Unauthenticated("not logged in; run: tandem login");
  }
  return session;
}

Result<std::string> CommandContext::ServerUrl() {
  if (!server_override.empty()) return server_override;
  if (rt_.server_env && !rt_.server_env->empty()) return *rt_.server_env;
  auto session = Session();
  if (session.ok()) return session->server;
  return Usage("no server known: pass --server URL (or set TANDEM_SERVER)");
}

Result<ApiClient> CommandContext::SessionClient() {
  TANDEM_ASSIGN_OR_RETURN(cli::Credentials session, Session());
  std::string server = session.server;
  if (!server_override.empty()) {
    server = server_override;
  } else if (rt_.server_env && !rt_.server_env->empty()) {
    server = *rt_.server_env;
  }
  auto trimmed = [](std::string s) {
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
  };
  // The token belongs to the server that issued it; never send it anywhere else.
  if (trimmed(server) != trimmed(session.server)) {
    return Status::Unauthenticated(
        fmt::format("not logged in to {} (the saved session is for {}); run: tandem login "
                    "--server {}",
                    server, session.server, server));
  }
  return ApiClient(session.server, session.token, rt_.make_http());
}

Result<ApiClient> CommandContext::AnonymousClient() {
  TANDEM_ASSIGN_OR_RETURN(std::string server, ServerUrl());
  return ApiClient(server, "", rt_.make_http());
}

Status CommandContext::Usage(std::string message) {
  usage_error_ = true;
  return Status::InvalidArgument(std::move(message));
}

void CommandContext::PrintJson(const Json& j) { out() << j.dump(2) << "\n"; }

int RunCli(int argc, const char* const* argv, CliRuntime runtime) {
  CommandContext ctx(std::move(runtime));
  CLI::App app{"tandem: command-line client of the Tandem CRM server", "tandem"};
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too
  app.set_version_flag("-V,--client-version", TANDEM_VERSION);
  app.add_flag("--json", ctx.json, "Print the server's JSON instead of text (for scripts)");
  app.add_option("--server", ctx.server_override,
                 "Server base URL, e.g. http://127.0.0.1:8080 (default: TANDEM_SERVER, then "
                 "the server of the saved session)");
  app.footer(
      "Every command also takes --json (print JSON for scripts) and --server URL.\n"
      "Exit codes: 0 ok, 1 error, 2 usage, 3 not logged in / auth failure, 4 conflict, "
      "5 not found, 6 server unreachable.");
  InstallRegisteredCommands(app, ctx);

  std::ostream& out = ctx.out();
  std::ostream& err = ctx.err();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      app.exit(e, out, err);  // --help, --client-version
      return static_cast<int>(ExitCode::kOk);
    }
    err << "error: " << e.what() << "\n";
    err << "Run with --help for more information.\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  if (!ctx.action()) {
    err << "error: nothing to do; run with --help\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  Status status;
  try {
    status = ctx.action()();
  } catch (const std::exception& e) {
    status = Status::Internal(e.what());
  }
  if (status.ok()) return static_cast<int>(ExitCode::kOk);
  err << "error: " << status.message() << "\n";
  if (ctx.usage_error()) return static_cast<int>(ExitCode::kUsage);
  return static_cast<int>(ExitCodeFor(status));
}

}  // namespace tandem::cli
