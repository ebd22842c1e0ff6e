#include "sync/memory_calendar.h"

#include <fmt/format.h>

#include <charconv>

namespace tandem::sync {

using Lock = std::lock_guard<std::mutex>;

void MemoryCalendar::SetIdentity(std::string identity) {
  Lock l(mu_);
  identity_ = std::move(identity);
}

void MemoryCalendar::Touch(const std::string& href) {
  ++seq_;
  auto it = last_change_.find(href);
  if (it != last_change_.end()) {
    auto range = log_.equal_range(it->second);
    for (auto r = range.first; r != range.second; ++r) {
      if (r->second == href) {
        log_.erase(r);
        break;
      }
    }
  }
  last_change_[href] = seq_;
  log_.emplace(seq_, href);
}

std::string MemoryCalendar::NextEtag() { return fmt::format("\"m{}\"", next_id_++); }

std::string MemoryCalendar::UserPut(const std::string& uid, const std::string& ical) {
  Lock l(mu_);
  std::string href = fmt::format("{}{}", href_prefix_, next_id_);
  items_[href] = Stored{uid, NextEtag(), ical};
  Touch(href);
  created_at_[href] = seq_;
  return href;
}

Status MemoryCalendar::UserEdit(const std::string& href, const std::string& ical) {
  Lock l(mu_);
  auto it = items_.find(href);
  if (it == items_.end()) return Status::NotFound(href);
  it->second.ical = ical;
  it->second.etag = NextEtag();
  Touch(href);
  return Status::Ok();
}

Status MemoryCalendar::UserDelete(const std::string& href) {
  Lock l(mu_);
  if (items_.erase(href) == 0) return Status::NotFound(href);
  Touch(href);
  return Status::Ok();
}

void MemoryCalendar::UserReplace(const std::vector<std::pair<std::string, std::string>>& items) {
  Lock l(mu_);
  items_.clear();
  last_change_.clear();
  log_.clear();
  created_at_.clear();
  oldest_cursor_ = ++seq_;
  for (const auto& [uid, ical] : items) {
    std::string href = fmt::format("{}{}", href_prefix_, next_id_);
    items_[href] = Stored{uid, NextEtag(), ical};
    Touch(href);
  }
}

void MemoryCalendar::SetOmitsCreatedThenDeleted(bool omits) {
  Lock l(mu_);
  omits_created_then_deleted_ = omits;
}

void MemoryCalendar::SetUnavailable(bool gone) {
  Lock l(mu_);
  gone_ = gone;
}

int64_t MemoryCalendar::refused_calls() const {
  Lock l(mu_);
  return refused_calls_;
}

Status MemoryCalendar::Gone() {
  if (!gone_) return Status::Ok();
  ++refused_calls_;
  return Status::Unavailable("Couldn't connect to server (connection refused)");
}

std::map<std::string, MemoryCalendar::Stored> MemoryCalendar::Snapshot() const {
  Lock l(mu_);
  return items_;
}

int64_t MemoryCalendar::mutation_count() const {
  Lock l(mu_);
  return mutations_;
}

Result<std::string> MemoryCalendar::Identity() {
  Lock l(mu_);
  TANDEM_RETURN_IF_ERROR(Gone());
  return identity_;
}

Result<ChangeSet> MemoryCalendar::ChangesSince(const std::string& cursor, const TimeRange&) {
  Lock l(mu_);
  TANDEM_RETURN_IF_ERROR(Gone());
  ChangeSet out;
  out.next_cursor = std::to_string(seq_);
  if (cursor.empty()) {
    out.complete = true;
    for (auto& [href, s] : items_) out.changed.push_back(Item{href, s.etag, s.ical});
    return out;
  }
  int64_t after = 0;
  auto [p, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), after);
  if (ec != std::errc() || after > seq_ || after < oldest_cursor_)
    return Status::ResyncRequired("unknown cursor " + cursor);
  for (auto it = log_.upper_bound(after); it != log_.end(); ++it) {
    auto item = items_.find(it->second);
    if (item == items_.end()) {
      auto born = created_at_.find(it->second);
      if (omits_created_then_deleted_ && born != created_at_.end() && born->second > after)
        continue;
      out.deleted.push_back(it->second);
    } else {
      out.changed.push_back(Item{item->first, item->second.etag, item->second.ical});
    }
  }
  return out;
}

Result<std::vector<Item>> MemoryCalendar::GetMany(const std::vector<std::string>& hrefs) {
  Lock l(mu_);
  TANDEM_RETURN_IF_ERROR(Gone());
  std::vector<Item> out;
  for (const std::string& h : hrefs) {
    auto it = items_.find(h);
    if (it != items_.end()) out.push_back(Item{h, it->second.etag, it->second.ical});
  }
  return out;
}

Result<ItemRef> MemoryCalendar::Create(const std::string& uid, const std::string& ical) {
  Fire("create", Phase::kBefore, uid);
  ItemRef ref;
  {
    Lock l(mu_);
    TANDEM_RETURN_IF_ERROR(Gone());
    for (auto& [href, s] : items_) {
      if (s.uid == uid)
        return Status::AlreadyExists(fmt::format("an item with UID {} exists: {}", uid, href));
    }
    ref.href = fmt::format("{}{}", href_prefix_, next_id_);
    ref.etag = NextEtag();
    items_[ref.href] = Stored{uid, ref.etag, ical};
    Touch(ref.href);
    created_at_[ref.href] = seq_;
    ++mutations_;
  }
  Fire("create", Phase::kAfter, uid);
  return ref;
}

Result<ItemRef> MemoryCalendar::Update(const std::string& href, const std::string& etag,
                                       const std::string& ical) {
  Fire("update", Phase::kBefore, href);
  ItemRef ref;
  {
    Lock l(mu_);
    TANDEM_RETURN_IF_ERROR(Gone());
    auto it = items_.find(href);
    if (it == items_.end()) return Status::NotFound(href);
    if (!etag.empty() && it->second.etag != etag) {
      return Status::PreconditionFailed(
          fmt::format("{}: ETag is {}, not {}", href, it->second.etag, etag));
    }
    it->second.ical = ical;
    it->second.etag = NextEtag();
    Touch(href);
    ++mutations_;
    ref = ItemRef{href, it->second.etag};
  }
  Fire("update", Phase::kAfter, href);
  return ref;
}

Status MemoryCalendar::Delete(const std::string& href, const std::string& etag) {
  Fire("delete", Phase::kBefore, href);
  {
    Lock l(mu_);
    TANDEM_RETURN_IF_ERROR(Gone());
    auto it = items_.find(href);
    if (it == items_.end()) return Status::Ok();
    if (!etag.empty() && it->second.etag != etag) {
      return Status::PreconditionFailed(
          fmt::format("{}: ETag is {}, not {}", href, it->second.etag, etag));
    }
    items_.erase(it);
    Touch(href);
    ++mutations_;
  }
  Fire("delete", Phase::kAfter, href);
  return Status::Ok();
}

Result<std::optional<Item>> MemoryCalendar::FindByUid(const std::string& uid) {
  Lock l(mu_);
  TANDEM_RETURN_IF_ERROR(Gone());
  for (auto& [href, s] : items_) {
    if (s.uid == uid) return std::optional<Item>(Item{href, s.etag, s.ical});
  }
  return std::optional<Item>();
}

}  // namespace tandem::sync
