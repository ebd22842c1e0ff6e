// VdirCalendar: a folder of .ics files, one event (or series) per file, in the
// "vdir" layout that vdirsyncer and khal use: <uid>.ics when the UID is a safe
// file name, else a name derived from the UID. Files starting with "." and files
// not ending in ".ics" are ignored.
//
//   href    the file name ("abc@example.com.ics")
//   ETag    "<mtime in ns>-<size>" of the file
//   cursor  a generation number; the listing (file name -> ETag) of each
//           generation is kept in `state_dir` (default: <folder>/.tandem), so a
//           run reads only the files whose ETag changed. An unknown cursor yields
//           a complete listing. Files this side creates after a listing are
//           noted beside it (listing-<n>.created), so a file Tandem created and
//           the user deleted before the next run is reported deleted.
//   writes  to a temporary file in the same folder, then link(2) (create: fails
//           if the name exists) or rename(2) (update): readers never see half a file.
//
// Identity (S14): the folder's canonical path plus its device and inode, so a
// folder that was deleted and re-created, or another folder, is noticed.
//
// Thread safety: one instance per folder per process; not for concurrent use.
// Errors: NotFound for a missing folder or href; PreconditionFailed on an ETag
// mismatch; AlreadyExists when a file with that UID exists; Internal for I/O errors.
#pragma once

#include <map>
#include <string>

#include "sync/calendar_side.h"

namespace tandem::providers::vdir {

struct VdirOptions {
  std::string path;       // REQUIRED: the folder (must exist)
  std::string state_dir;  // listings; default <path>/.tandem
  int keep_generations = 3;
};

class VdirCalendar final : public sync::CalendarSide {
 public:
  explicit VdirCalendar(VdirOptions options);

  Result<std::string> Identity() override;
  Result<sync::ChangeSet> ChangesSince(const std::string& cursor,
                                       const sync::TimeRange& window) override;
  Result<std::vector<sync::Item>> GetMany(const std::vector<std::string>& hrefs) override;
  Result<sync::ItemRef> Create(const std::string& uid, const std::string& ical) override;
  Result<sync::ItemRef> Update(const std::string& href, const std::string& etag,
                               const std::string& ical) override;
  Status Delete(const std::string& href, const std::string& etag) override;
  Result<std::optional<sync::Item>> FindByUid(const std::string& uid) override;

  // The file name used for `uid`.
  static std::string FileNameFor(const std::string& uid);

 private:
  using Listing = std::map<std::string, std::string>;  // file name -> ETag
  Result<Listing> List();
  Result<std::string> EtagOf(const std::string& href);  // NotFound when missing
  Result<std::string> Read(const std::string& href);
  Status WriteTemp(const std::string& temp, const std::string& content);
  Status SaveListing(int64_t generation, const Listing& listing);
  // The listing of `generation`, with the files this side created since.
  Result<std::optional<Listing>> LoadListing(int64_t generation);
  int64_t LatestGeneration() const;  // 0 when none is kept
  // Notes a file this side created against the latest listing
  // (listing-<generation>.created, one name per line), so that the next
  // ChangesSince reports it deleted when it is gone by then.
  void NoteCreated(const std::string& name);
  std::string PathOf(const std::string& href) const;

  VdirOptions o_;
  int64_t temp_counter_ = 0;
  int64_t journal_generation_ = 0;  // the listing this instance's writes are noted against
};

}  // namespace tandem::providers::vdir
