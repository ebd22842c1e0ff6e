// The CLI's saved session: server URL, login and bearer token, kept in
// $XDG_CONFIG_HOME/tandem/credentials.json (or ~/.config/tandem/credentials.json)
// with file mode 0600 inside a 0700 directory. Not thread-safe; one CLI process.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/status.h"

namespace tandem::cli {

struct Credentials {
  std::string server;  // base URL, e.g. "http://127.0.0.1:8080"
  std::string login;
  std::string user_id;
  std::string token;  // bearer token; never printed
};

// The environment variables that locate the config directory. Read once in main().
struct ConfigEnvironment {
  std::optional<std::string> xdg_config_home;
  std::optional<std::string> home;
};

// $XDG_CONFIG_HOME/tandem/credentials.json when XDG_CONFIG_HOME is set and
// absolute, else $HOME/.config/tandem/credentials.json.
// InvalidArgument when neither variable gives an absolute path.
Result<std::filesystem::path> DefaultCredentialsPath(const ConfigEnvironment& env);

class CredentialsFile {
 public:
  explicit CredentialsFile(std::filesystem::path path) : path_(std::move(path)) {}

  const std::filesystem::path& path() const { return path_; }

  // NotFound when there is no file (not logged in); Corruption when it is not
  // the JSON this class writes.
  Result<Credentials> Load() const;
  // Writes atomically (temporary file + rename), mode 0600; creates the directory
  // with mode 0700 when missing.
  Status Save(const Credentials& c) const;
  // OK also when there was no file.
  Status Remove() const;

 private:
  std::filesystem::path path_;
};

}  // namespace tandem::cli
