// tandem users add|list|show|edit|disable (admin)
#include <fmt/format.h>

#include <memory>
#include <ostream>

#include "apps/cli/records.h"
#include "apps/cli/secret_input.h"

namespace tandem::cli {
namespace {

struct PasswordArgs {
  std::string password_file;
  bool set_password = false;  // edit: --password-file given or --new-password asked
};

Result<std::string> ReadNewPassword(CommandContext& ctx, const PasswordArgs& args,
                                    const std::string& login) {
  if (!args.password_file.empty()) return ReadSecretFile(args.password_file);
  const CliRuntime& rt = ctx.runtime();
  if (rt.stdin_is_tty && rt.prompt_secret) {
    TANDEM_ASSIGN_OR_RETURN(std::string first,
                            rt.prompt_secret(fmt::format("New password for {}: ", login)));
    TANDEM_ASSIGN_OR_RETURN(std::string again, rt.prompt_secret("Repeat it: "));
    if (first != again) return Status::InvalidArgument("the two passwords differ");
    return first;
  }
  return ReadSecretLine(*rt.in);
}

struct TargetArgs {
  std::string id;
};

Status Disable(CommandContext& ctx, const TargetArgs& args, bool disabled) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(FetchedRecord current, api.Get("users", args.id));
  Json fields{{"disabled", disabled}};
  TANDEM_ASSIGN_OR_RETURN(Json updated, api.Update("users", args.id, fields, current.etag));
  if (ctx.json) {
    ctx.PrintJson(updated);
  } else {
    ctx.out() << fmt::format("{} user {} ({})\n", disabled ? "Disabled" : "Enabled",
                             updated.value("login", "?"), args.id);
  }
  return Status::Ok();
}

}  // namespace

void InstallUsersCommands(CLI::App& root, CommandContext& ctx) {
  RecordType users{
      "users",
      "user",
      "User accounts of the server (admin only)",
      {{"--login", "login", FieldType::kText, "Login name (required on add)"},
       {"--display-name", "display_name", FieldType::kText, "Full name"},
       {"--email", "email", FieldType::kText, "E-mail address"},
       {"--time-zone", "time_zone", FieldType::kText,
        "Zone for floating calendar times, e.g. Europe/Berlin (default: the server's)"},
       {"--role", "role", FieldType::kChoice, "Role (default user)", {"user", "admin"}}}};
  // Passwords: on add always (file, prompt or stdin); on edit with --password-file
  // or --new-password.
  auto passwords = std::make_shared<std::map<CLI::App*, std::shared_ptr<PasswordArgs>>>();
  auto current_cmd = std::make_shared<CLI::App*>(nullptr);
  users.add_extra_options = [passwords, current_cmd](CLI::App* cmd, bool is_add) {
    auto p = std::make_shared<PasswordArgs>();
    (*passwords)[cmd] = p;
    p->set_password = is_add;
    cmd->add_option("--password-file", p->password_file,
                    "Read the password from the first line of this file (else prompt/stdin)");
    if (!is_add) {
      cmd->add_flag("--new-password", p->set_password,
                    "Set a new password (prompted, or read from stdin)");
    }
    cmd->preparse_callback([current_cmd, cmd](size_t) { *current_cmd = cmd; });
  };
  users.apply_extra = [passwords, current_cmd](CommandContext& ctx, const Json* current,
                                               Json* body) -> Status {
    auto it = passwords->find(*current_cmd);
    if (it == passwords->end()) return Status::Internal("password options not registered");
    PasswordArgs& p = *it->second;
    if (!p.set_password && p.password_file.empty()) return Status::Ok();
    std::string login = body->value("login", current ? current->value("login", "") : "");
    if (login.empty()) return ctx.Usage("--login is required");
    TANDEM_ASSIGN_OR_RETURN(std::string password, ReadNewPassword(ctx, p, login));
    (*body)["password"] = password;
    return Status::Ok();
  };
  CLI::App* group = InstallRecordCommands(root, ctx, std::move(users));
  // Users are disabled rather than deleted: their records keep an owner.
  for (bool disabled : {true, false}) {
    auto args = std::make_shared<TargetArgs>();
    CLI::App* cmd = group->add_subcommand(
        disabled ? "disable" : "enable",
        disabled ? "Stop a user from logging in (records stay)" : "Allow a user to log in again");
    cmd->add_option("id", args->id, "User id")->required();
    cmd->callback([&ctx, args, disabled] {
      ctx.Run([&ctx, args, disabled] { return Disable(ctx, *args, disabled); });
    });
  }
}

}  // namespace tandem::cli
