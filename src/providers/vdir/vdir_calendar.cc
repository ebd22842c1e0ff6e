#include "providers/vdir/vdir_calendar.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tandem::providers::vdir {
namespace fs = std::filesystem;
using sync::ChangeSet;
using sync::Item;
using sync::ItemRef;

namespace {

constexpr std::string_view kExt = ".ics";

bool IsEventFile(std::string_view name) {
  return name.size() > kExt.size() && name.front() != '.' && name.ends_with(kExt);
}

Status Errno(std::string_view what, const std::string& path) {
  int e = errno;
  if (e == ENOENT) return Status::NotFound(fmt::format("{} {}: {}", what, path, std::strerror(e)));
  return Status::Internal(fmt::format("{} {}: {}", what, path, std::strerror(e)));
}

Result<std::string> StatEtag(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Errno("stat", path);
  if (!S_ISREG(st.st_mode)) return Status::NotFound(path + " is not a regular file");
  int64_t ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  return fmt::format("{}-{}", ns, static_cast<int64_t>(st.st_size));
}

// The value of the first UID property (folded lines joined), or "".
std::string ExtractUid(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (line.starts_with("UID:") || line.starts_with("UID;")) {
      std::string out(line.substr(line.find(':') + 1));
      if (!out.empty() && out.back() == '\r') out.pop_back();
      size_t next = eol + 1;
      while (next < text.size() && (text[next] == ' ' || text[next] == '\t')) {
        size_t e2 = text.find('\n', next);
        if (e2 == std::string_view::npos) e2 = text.size();
        std::string_view cont = text.substr(next + 1, e2 - next - 1);
        if (!cont.empty() && cont.back() == '\r') cont.remove_suffix(1);
        out += cont;
        next = e2 + 1;
      }
      return out;
    }
    pos = eol + 1;
  }
  return "";
}

bool SafeForFileName(const std::string& uid) {
  if (uid.empty() || uid.size() > 200 || uid.front() == '.') return false;
  return std::all_of(uid.begin(), uid.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '@' || c == '+';
  });
}

}  // namespace

VdirCalendar::VdirCalendar(VdirOptions options) : o_(std::move(options)) {
  if (o_.state_dir.empty()) o_.state_dir = (fs::path(o_.path) / ".tandem").string();
}

std::string VdirCalendar::FileNameFor(const std::string& uid) {
  if (SafeForFileName(uid)) return uid + std::string(kExt);
  uint64_t h = 1469598103934665603ULL;  // FNV-1a: stable across runs and machines
  for (unsigned char c : uid) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return fmt::format("tandem-{:016x}{}", h, kExt);
}

std::string VdirCalendar::PathOf(const std::string& href) const {
  return (fs::path(o_.path) / href).string();
}

Result<std::string> VdirCalendar::Identity() {
  std::error_code ec;
  fs::path canonical = fs::canonical(o_.path, ec);
  if (ec) return Status::NotFound(fmt::format("vdir folder {}: {}", o_.path, ec.message()));
  struct stat st {};
  if (::stat(canonical.c_str(), &st) != 0) return Errno("stat", canonical.string());
  return fmt::format("vdir:{}:{}:{}", canonical.string(), static_cast<uint64_t>(st.st_dev),
                     static_cast<uint64_t>(st.st_ino));
}

Result<VdirCalendar::Listing> VdirCalendar::List() {
  std::error_code ec;
  fs::directory_iterator it(o_.path, ec);
  if (ec) return Status::NotFound(fmt::format("vdir folder {}: {}", o_.path, ec.message()));
  Listing out;
  for (const fs::directory_entry& entry : it) {
    std::string name = entry.path().filename().string();
    if (!IsEventFile(name)) continue;
    Result<std::string> etag = StatEtag(entry.path().string());
    if (!etag.ok()) continue;  // vanished while listing, or not a file
    out.emplace(std::move(name), std::move(*etag));
  }
  return out;
}

Result<std::string> VdirCalendar::EtagOf(const std::string& href) {
  if (!IsEventFile(href) || href.find('/') != std::string::npos) {
    return Status::NotFound("not an event file name: " + href);
  }
  return StatEtag(PathOf(href));
}

Result<std::string> VdirCalendar::Read(const std::string& href) {
  std::ifstream in(PathOf(href), std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("{} cannot be read", href));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status VdirCalendar::WriteTemp(const std::string& temp, const std::string& content) {
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create", temp);
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("write", temp);
      ::close(fd);
      ::unlink(temp.c_str());
      return s;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    Status s = Errno("sync", temp);
    ::unlink(temp.c_str());
    return s;
  }
  return Status::Ok();
}

Status VdirCalendar::SaveListing(int64_t generation, const Listing& listing) {
  std::error_code ec;
  fs::create_directories(o_.state_dir, ec);
  if (ec) return Status::Internal(fmt::format("state folder {}: {}", o_.state_dir, ec.message()));
  std::string text;
  for (const auto& [name, etag] : listing) text += name + '\t' + etag + '\n';
  std::string final_path =
      (fs::path(o_.state_dir) / fmt::format("listing-{}", generation)).string();
  std::string temp = final_path + ".partial";
  TANDEM_RETURN_IF_ERROR(WriteTemp(temp, text));
  if (::rename(temp.c_str(), final_path.c_str()) != 0) return Errno("rename", temp);
  // Older generations beyond the few kept are dropped.
  for (const fs::directory_entry& e : fs::directory_iterator(o_.state_dir, ec)) {
    std::string name = e.path().filename().string();
    if (!name.starts_with("listing-") || name.ends_with(".partial")) continue;
    int64_t g = 0;
    std::string_view digits = std::string_view(name).substr(8);
    auto [p, err] = std::from_chars(digits.data(), digits.data() + digits.size(), g);
    if (err == std::errc() && g <= generation - o_.keep_generations) fs::remove(e.path(), ec);
  }
  return Status::Ok();
}

Result<std::optional<VdirCalendar::Listing>> VdirCalendar::LoadListing(int64_t generation) {
  std::ifstream in(fs::path(o_.state_dir) / fmt::format("listing-{}", generation));
  if (!in) return std::optional<Listing>();
  Listing out;
  std::string line;
  while (std::getline(in, line)) {
    size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    out.emplace(line.substr(0, tab), line.substr(tab + 1));
  }
  // Files this side created after the listing was taken (NoteCreated) count as
  // known with an unknown ETag: still there, they are reported changed (as any
  // own write is, like a CalDAV server's sync report); gone, they are reported
  // deleted (a file Tandem created that the user deleted before the next run).
  std::ifstream journal(fs::path(o_.state_dir) / fmt::format("listing-{}.created", generation));
  while (std::getline(journal, line)) {
    if (!line.empty()) out.emplace(line, std::string());
  }
  return std::optional<Listing>(std::move(out));
}

int64_t VdirCalendar::LatestGeneration() const {
  int64_t latest = 0;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(o_.state_dir, ec)) {
    std::string name = e.path().filename().string();
    if (!name.starts_with("listing-") || name.ends_with(".partial") || name.ends_with(".created"))
      continue;
    int64_t g = 0;
    std::string_view digits = std::string_view(name).substr(8);
    auto [p, err] = std::from_chars(digits.data(), digits.data() + digits.size(), g);
    if (err == std::errc() && p == digits.data() + digits.size()) latest = std::max(latest, g);
  }
  return latest;
}

void VdirCalendar::NoteCreated(const std::string& name) {
  if (journal_generation_ == 0) journal_generation_ = LatestGeneration();
  if (journal_generation_ == 0) return;  // no listing yet: the first one lists everything
  if (name.find('\n') != std::string::npos) return;
  const std::string line = name + '\n';
  const std::string path =
      (fs::path(o_.state_dir) / fmt::format("listing-{}.created", journal_generation_)).string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;  // without the note only a create-then-delete goes unseen
  ssize_t n = ::write(fd, line.data(), line.size());
  (void)n;
  ::close(fd);
}

Result<ChangeSet> VdirCalendar::ChangesSince(const std::string& cursor, const sync::TimeRange&) {
  TANDEM_ASSIGN_OR_RETURN(Listing now, List());
  std::optional<Listing> before;
  int64_t generation = 0;
  if (!cursor.empty()) {
    auto [p, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), generation);
    if (ec == std::errc()) {
      TANDEM_ASSIGN_OR_RETURN(before, LoadListing(generation));
    }
  }
  // Next generation: above every one kept (a repeated cursor never reuses a number).
  const int64_t next = std::max(generation, LatestGeneration()) + 1;
  ChangeSet out;
  out.complete = !before.has_value();
  for (const auto& [name, etag] : now) {
    if (before) {
      auto it = before->find(name);
      if (it != before->end() && it->second == etag) continue;
    }
    Result<std::string> text = Read(name);
    if (!text.ok()) continue;  // removed since the listing: the next run sees it gone
    out.changed.push_back(Item{name, etag, std::move(*text)});
  }
  if (before) {
    for (const auto& [name, etag] : *before) {
      if (!now.contains(name)) out.deleted.push_back(name);
    }
  }
  TANDEM_RETURN_IF_ERROR(SaveListing(next, now));
  journal_generation_ = next;
  out.next_cursor = std::to_string(next);
  return out;
}

Result<std::vector<Item>> VdirCalendar::GetMany(const std::vector<std::string>& hrefs) {
  std::vector<Item> out;
  for (const std::string& href : hrefs) {
    Result<std::string> etag = EtagOf(href);
    if (!etag.ok()) {
      if (etag.status().Is(Code::kNotFound)) continue;
      return etag.status();
    }
    Result<std::string> text = Read(href);
    if (!text.ok()) continue;
    out.push_back(Item{href, std::move(*etag), std::move(*text)});
  }
  return out;
}

Result<ItemRef> VdirCalendar::Create(const std::string& uid, const std::string& ical) {
  const std::string name = FileNameFor(uid);
  const std::string final_path = PathOf(name);
  const std::string temp = PathOf(fmt::format(".{}.{}.partial", name, ++temp_counter_));
  TANDEM_RETURN_IF_ERROR(WriteTemp(temp, ical));
  // link(2) fails when the name exists: a create never overwrites.
  if (::link(temp.c_str(), final_path.c_str()) != 0) {
    int e = errno;
    ::unlink(temp.c_str());
    if (e == EEXIST)
      return Status::AlreadyExists(fmt::format("{} already exists (UID {})", name, uid));
    errno = e;
    return Errno("link", final_path);
  }
  ::unlink(temp.c_str());
  TANDEM_ASSIGN_OR_RETURN(std::string etag, StatEtag(final_path));
  NoteCreated(name);
  return ItemRef{name, etag};
}

Result<ItemRef> VdirCalendar::Update(const std::string& href, const std::string& etag,
                                     const std::string& ical) {
  TANDEM_ASSIGN_OR_RETURN(std::string current, EtagOf(href));
  if (!etag.empty() && current != etag) {
    return Status::PreconditionFailed(
        fmt::format("{} changed: ETag {} is now {}", href, etag, current));
  }
  const std::string temp = PathOf(fmt::format(".{}.{}.partial", href, ++temp_counter_));
  TANDEM_RETURN_IF_ERROR(WriteTemp(temp, ical));
  if (::rename(temp.c_str(), PathOf(href).c_str()) != 0) {
    Status s = Errno("rename", temp);
    ::unlink(temp.c_str());
    return s;
  }
  TANDEM_ASSIGN_OR_RETURN(std::string fresh, StatEtag(PathOf(href)));
  return ItemRef{href, fresh};
}

Status VdirCalendar::Delete(const std::string& href, const std::string& etag) {
  Result<std::string> current = EtagOf(href);
  if (!current.ok()) return current.status().Is(Code::kNotFound) ? Status::Ok() : current.status();
  if (!etag.empty() && *current != etag) {
    return Status::PreconditionFailed(
        fmt::format("{} changed: ETag {} is now {}", href, etag, *current));
  }
  if (::unlink(PathOf(href).c_str()) != 0 && errno != ENOENT) return Errno("unlink", href);
  return Status::Ok();
}

Result<std::optional<Item>> VdirCalendar::FindByUid(const std::string& uid) {
  // The file named after the UID first; else every file (a file written by
  // another program may have any name).
  const std::string name = FileNameFor(uid);
  if (Result<std::string> text = Read(name); text.ok() && ExtractUid(*text) == uid) {
    TANDEM_ASSIGN_OR_RETURN(std::string etag, EtagOf(name));
    return std::optional<Item>(Item{name, etag, std::move(*text)});
  }
  TANDEM_ASSIGN_OR_RETURN(Listing all, List());
  for (const auto& [href, etag] : all) {
    Result<std::string> text = Read(href);
    if (text.ok() && ExtractUid(*text) == uid)
      return std::optional<Item>(Item{href, etag, std::move(*text)});
  }
  return std::optional<Item>();
}

}  // namespace tandem::providers::vdir
