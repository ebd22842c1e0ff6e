// MemoryCalendar: an in-memory CalendarSide with a change log, for tests and
// benchmarks. Items are kept as given (any text: the engine's codec decides the
// format). The cursor is the change-log position; "" lists everything.
//
// Fault injection: a hook is called before and after every mutating call of the
// engine (Create, Update, Delete); a test makes it throw to simulate the process
// dying before the request or after the request but before the response. The
// "user" calls (UserPut, UserEdit, UserDelete) bypass the hook.
//
// Thread-safe (one mutex); the hook runs without the lock held.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sync/calendar_side.h"

namespace tandem::sync {

class MemoryCalendar final : public CalendarSide {
 public:
  // `identity` is what Identity() reports; `href_prefix` names new items.
  MemoryCalendar(std::string identity, std::string href_prefix)
      : href_prefix_(std::move(href_prefix)), identity_(std::move(identity)) {}

  enum class Phase { kBefore, kAfter };
  // `key` is the href (update, delete) or the UID (create).
  using FaultHook = std::function<void(std::string_view op, Phase phase, const std::string& key)>;
  void SetFaultHook(FaultHook hook) { hook_ = std::move(hook); }
  void SetIdentity(std::string identity);

  // --- the user's own edits (not through the engine)
  std::string UserPut(const std::string& uid, const std::string& ical);  // returns the href
  // NotFound for an unknown href.
  Status UserEdit(const std::string& href, const std::string& ical);
  Status UserDelete(const std::string& href);
  // The calendar deleted and created anew at the same address with these items
  // (uid, ical): the identity stays (a server that keeps no marker), every
  // earlier cursor becomes unknown (ResyncRequired), as a server's sync token.
  void UserReplace(const std::vector<std::pair<std::string, std::string>>& items);

  // A server that leaves out of an incremental listing an item created after
  // the cursor and deleted since (RFC 6578 allows it; Xandikos does).
  void SetOmitsCreatedThenDeleted(bool omits);
  // Takes creations in batches of up to `n` (as Google's batch endpoint).
  void SetCreateBatchLimit(size_t n) { batch_limit_ = n; }
  size_t CreateBatchLimit() const override { return batch_limit_; }

  // The server gone (true) or back: every call of the engine fails with
  // Unavailable meanwhile; `refused_calls` counts them.
  void SetUnavailable(bool gone);
  int64_t refused_calls() const;

  struct Stored {
    std::string uid;
    std::string etag;
    std::string ical;
  };
  std::map<std::string, Stored> Snapshot() const;  // href -> item
  int64_t mutation_count() const;                  // Create/Update/Delete calls that applied

  // --- CalendarSide
  Result<std::string> Identity() override;
  Result<ChangeSet> ChangesSince(const std::string& cursor, const TimeRange& window) override;
  Result<std::vector<Item>> GetMany(const std::vector<std::string>& hrefs) override;
  Result<ItemRef> Create(const std::string& uid, const std::string& ical) override;
  Result<ItemRef> Update(const std::string& href, const std::string& etag,
                         const std::string& ical) override;
  Status Delete(const std::string& href, const std::string& etag) override;
  Result<std::optional<Item>> FindByUid(const std::string& uid) override;

 private:
  void Touch(const std::string& href);  // REQUIRES: mu_ held
  Status Gone();                        // Unavailable while the server is gone; REQUIRES: mu_ held
  std::string NextEtag();               // REQUIRES: mu_ held
  void Fire(std::string_view op, Phase p, const std::string& key) {
    if (hook_) hook_(op, p, key);
  }

  const std::string href_prefix_;
  FaultHook hook_;
  mutable std::mutex mu_;
  std::string identity_;
  std::map<std::string, Stored> items_;
  std::map<std::string, int64_t> last_change_;  // href -> seq (deleted hrefs kept)
  std::multimap<int64_t, std::string> log_;     // seq -> href
  int64_t seq_ = 0;
  int64_t next_id_ = 1;
  int64_t mutations_ = 0;
  int64_t oldest_cursor_ = 0;  // cursors before this are unknown (UserReplace)
  bool gone_ = false;
  bool omits_created_then_deleted_ = false;
  size_t batch_limit_ = 1;
  std::map<std::string, int64_t> created_at_;  // href -> seq of its creation
  int64_t refused_calls_ = 0;
};

}  // namespace tandem::sync
