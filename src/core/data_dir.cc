#include "core/data_dir.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace tandem {
namespace fs = std::filesystem;

namespace {

constexpr fs::perms kGroupOther = fs::perms::group_all | fs::perms::others_all;

std::string Octal(fs::perms p) { return fmt::format("{:04o}", static_cast<unsigned>(p) & 07777u); }

// Walks the folder and its regular files; `fix` narrows what is too wide.
Result<std::vector<std::string>> Walk(const std::string& dir, bool fix) {
  std::vector<std::string> lines;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (!fix) return lines;
    fs::create_directories(dir, ec);
    if (ec) return Status::Unavailable(fmt::format("cannot create {}: {}", dir, ec.message()));
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return Status::Unavailable(fmt::format("cannot set the mode of {}: {}", dir, ec.message()));
    return lines;
  }
  auto narrow = [&](const fs::path& p, fs::perms want, const std::string& name) -> Status {
    fs::perms have = fs::status(p, ec).permissions();
    if (ec) return Status::Unavailable(fmt::format("cannot read the mode of {}: {}", p.string(), ec.message()));
    if ((have & kGroupOther) == fs::perms::none) return Status::Ok();
    fs::perms narrowed = have & ~kGroupOther;
    if (want == fs::perms::owner_all) narrowed = fs::perms::owner_all;
    lines.push_back(fmt::format("{}: {} -> {}", name, Octal(have), Octal(narrowed)));
    if (!fix) return Status::Ok();
    fs::permissions(p, narrowed, fs::perm_options::replace, ec);
    if (ec) return Status::Unavailable(fmt::format("cannot set the mode of {}: {}", p.string(), ec.message()));
    return Status::Ok();
  };
  TANDEM_RETURN_IF_ERROR(narrow(dir, fs::perms::owner_all, fs::path(dir).filename().string() + "/"));
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec) || entry.is_symlink(ec)) continue;
    TANDEM_RETURN_IF_ERROR(narrow(entry.path(), fs::perms::owner_read | fs::perms::owner_write,
                                  entry.path().filename().string()));
  }
  if (ec) return Status::Unavailable(fmt::format("cannot list {}: {}", dir, ec.message()));
  return lines;
}

}  // namespace

Status SecureDataDir(const std::string& dir, std::vector<std::string>* narrowed) {
  TANDEM_ASSIGN_OR_RETURN(std::vector<std::string> lines, Walk(dir, true));
  if (narrowed != nullptr) *narrowed = std::move(lines);
  return Status::Ok();
}

Result<std::vector<std::string>> WideDataDirModes(const std::string& dir) { return Walk(dir, false); }

}  // namespace tandem
