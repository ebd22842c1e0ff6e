#include "apps/cli/secret_input.h"

#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

namespace tandem::cli {
namespace {

void StripLineEnd(std::string* s) {
  while (!s->empty() && (s->back() == '\n' || s->back() == '\r')) s->pop_back();
}

}  // namespace

Result<std::string> ReadSecretFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound(fmt::format("password file {} does not exist", path.string()));
  }
  std::ifstream in(path);
  if (!in) return Status::Internal(fmt::format("cannot read password file {}", path.string()));
  auto line = ReadSecretLine(in);
  if (!line.ok()) {
    return Status::InvalidArgument(fmt::format("password file {} is empty", path.string()));
  }
  return line;
}

Result<std::string> ReadSecretLine(std::istream& in) {
  std::string line;
  if (!std::getline(in, line)) return Status::InvalidArgument("no password given on stdin");
  StripLineEnd(&line);
  if (line.empty()) return Status::InvalidArgument("the password is empty");
  return line;
}

Result<std::string> PromptSecretOnTerminal(const std::string& prompt) {
  if (!::isatty(STDIN_FILENO)) return Status::Internal("stdin is not a terminal");
  std::fputs(prompt.c_str(), stderr);
  std::fflush(stderr);
  termios old_mode{};
  bool restore = ::tcgetattr(STDIN_FILENO, &old_mode) == 0;
  if (restore) {
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  bool got = static_cast<bool>(std::getline(std::cin, line));
  if (restore) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old_mode);
  if (!got) return Status::InvalidArgument("no password typed");
  StripLineEnd(&line);
  if (line.empty()) return Status::InvalidArgument("the password is empty");
  return line;
}

Result<std::string> PromptLineOnTerminal(const std::string& prompt) {
  std::fputs(prompt.c_str(), stderr);
  std::fflush(stderr);
  std::string line;
  if (!std::getline(std::cin, line)) return Status::InvalidArgument("nothing typed");
  StripLineEnd(&line);
  if (line.empty()) return Status::InvalidArgument("nothing typed");
  return line;
}

}  // namespace tandem::cli
