#include "apps/cli/credentials.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace tandem::cli {
namespace fs = std::filesystem;

Result<fs::path> DefaultCredentialsPath(const ConfigEnvironment& env) {
  if (env.xdg_config_home && !env.xdg_config_home->empty() &&
      fs::path(*env.xdg_config_home).is_absolute()) {
    return fs::path(*env.xdg_config_home) / "tandem" / "credentials.json";
  }
  if (env.home && !env.home->empty() && fs::path(*env.home).is_absolute()) {
    return fs::path(*env.home) / ".config" / "tandem" / "credentials.json";
  }
  return Status::InvalidArgument(
      "cannot find the config directory: set HOME or XDG_CONFIG_HOME to an absolute path");
}

Result<Credentials> CredentialsFile::Load() const {
  std::ifstream in(path_);
  if (!in) return Status::NotFound("not logged in (no saved session); run: tandem login");
  std::stringstream text;
  text << in.rdbuf();
  try {
    auto j = nlohmann::json::parse(text.str());
    Credentials c;
    c.server = j.at("server").get<std::string>();
    c.token = j.at("token").get<std::string>();
    c.login = j.value("login", "");
    c.user_id = j.value("user_id", "");
    return c;
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(
        fmt::format("{} is damaged ({}); run: tandem login", path_.string(), e.what()));
  }
}

Status CredentialsFile::Save(const Credentials& c) const {
  std::error_code ec;
  fs::path dir = path_.parent_path();
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec)
      return Status::Internal(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  nlohmann::json j{
      {"server", c.server}, {"login", c.login}, {"user_id", c.user_id}, {"token", c.token}};
  std::string text = j.dump(2) + "\n";
  fs::path tmp = path_;
  tmp += ".tmp";
  // O_EXCL after unlink: never write the token into a file someone else prepared.
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Internal(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::Internal(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  ::fchmod(fd, 0600);  // in case the umask was stricter than needed or the file pre-existed
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::Internal(fmt::format("cannot write {}", tmp.string()));
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::Internal(
        fmt::format("cannot replace {}: {}", path_.string(), std::strerror(err)));
  }
  return Status::Ok();
}

Status CredentialsFile::Remove() const {
  std::error_code ec;
  fs::remove(path_, ec);
  if (ec)
    return Status::Internal(fmt::format("cannot remove {}: {}", path_.string(), ec.message()));
  return Status::Ok();
}

}  // namespace tandem::cli
