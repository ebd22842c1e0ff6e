// `tandem`: the command-line client. The composition root: reads the process
// environment once and hands everything to RunCli as a CliRuntime.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "apps/cli/context.h"
#include "apps/cli/secret_input.h"

namespace {

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

}  // namespace

int main(int argc, char** argv) {
  tandem::SystemClock clock;
  tandem::cli::SystemZone zone;
  tandem::cli::CliRuntime rt;
  rt.config_env.xdg_config_home = Env("XDG_CONFIG_HOME");
  rt.config_env.home = Env("HOME");
  rt.server_env = Env("TANDEM_SERVER");
  rt.out = &std::cout;
  rt.err = &std::cerr;
  rt.in = &std::cin;
  rt.stdin_is_tty = ::isatty(STDIN_FILENO) != 0;
  rt.zone = &zone;
  rt.clock = &clock;
  rt.make_http = [] { return tandem::cli::MakeCurlSend(tandem::cli::MakeCliHttpClient()); };
  rt.prompt_secret = &tandem::cli::PromptSecretOnTerminal;
  rt.prompt_line = &tandem::cli::PromptLineOnTerminal;
  int code = tandem::cli::RunCli(argc, argv, std::move(rt));
  std::cout.flush();
  return code;
}
