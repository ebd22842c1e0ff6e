// Reading passwords: from a file, from a pipe, or typed at a terminal without echo.
// Passwords never come from argv (they would show in `ps` and shell history).
#pragma once

#include <filesystem>
#include <istream>
#include <string>

#include "core/status.h"

namespace tandem::cli {

// The first line of the file, without its line ending. NotFound / InvalidArgument
// (empty) / Internal (unreadable).
Result<std::string> ReadSecretFile(const std::filesystem::path& path);
// The first line of `in`; InvalidArgument when there is none or it is empty.
Result<std::string> ReadSecretLine(std::istream& in);
// Prints `prompt` to stderr, reads a line from the terminal (stdin) with echo off,
// restores the terminal. Internal when stdin is not a terminal.
Result<std::string> PromptSecretOnTerminal(const std::string& prompt);

// Prints `prompt` to stderr and reads a line from stdin with echo (a login name).
// InvalidArgument when nothing was typed.
Result<std::string> PromptLineOnTerminal(const std::string& prompt);

}  // namespace tandem::cli
