// The one authorization policy: who may read, write, give away and see in the
// change feed which record, and who may manage users and sync pairs. Every entry
// point asks it: the REST records API (api.cc), the offline replica's mutation
// path (mutations.cc), the sync routes (apps/sync_routes.cc) and later the
// CalDAV/CardDAV server. The store's list and feed SQL mirror CanRead and
// CanSeeInFeed and are property-tested against them (policy_test.cc).
//
// Refusals are Status values the API maps to HTTP: NotFound where the caller
// must not learn that the record exists, PermissionDenied (403) where they see
// it but may not do this, InvalidArgument naming the field for a bad owner.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "model/entities.h"
#include "store/store.h"

namespace tandem::api::policy {

using store::Viewer;

template <typename T>
bool IsPrivate(const T&) {
  return false;
}
inline bool IsPrivate(const model::Activity& a) { return a.is_private; }

// Read: the owner always; otherwise as the record's audience says (shared:
// everyone; not shared: admins too; a private activity: its owner alone, not
// even an admin). Writing and deleting need the same; a record the caller may
// not read is "not found" to them.
bool CanRead(const Viewer& v, const model::RecordMeta& meta, bool is_private_activity);
template <typename T>
bool CanRead(const Viewer& v, const T& record) {
  return CanRead(v, record.meta, IsPrivate(record));
}

// Give a record from one owner to another: admins to anyone, others only to
// themselves (taking a shared record they may write). The new owner must exist
// (`owner_exists` is asked only when the owner changes to someone else).
template <typename OwnerExists>
Status CanTransfer(const Viewer& v, std::string_view from_owner, std::string_view to_owner,
                   OwnerExists&& owner_exists);

// Create `record` (its owner already defaulted to the caller): for someone else
// only as an admin, and only for a user who exists.
template <typename T, typename OwnerExists>
Status CanCreate(const Viewer& v, const T& record, OwnerExists&& owner_exists) {
  if (record.meta.owner_id != v.user_id && !v.admin) {
    return Status::PermissionDenied("owner_id: only admins create records for other users");
  }
  if (record.meta.owner_id != v.user_id && !owner_exists(record.meta.owner_id)) {
    return Status::InvalidArgument("owner_id: no such user");
  }
  return Status::Ok();
}

// Replace `current` (which the caller may read) by `next`: an owner change is a
// transfer, and a non-admin may not make the record invisible to themselves
// (a private activity must stay with the one who writes it).
template <typename T, typename OwnerExists>
Status CanWrite(const Viewer& v, const T& current, const T& next, OwnerExists&& owner_exists) {
  TANDEM_RETURN_IF_ERROR(CanTransfer(v, current.meta.owner_id, next.meta.owner_id, owner_exists));
  if (!v.admin && !CanRead(v, next)) {
    return Status::PermissionDenied("the change would hide the record from you");
  }
  return Status::Ok();
}

// The change feed shows a viewer a change of a record only when the viewer may
// have seen that record at some time: they own or owned it, or its widest
// audience (store::Change::widest_audience) included them. A record never
// visible to them never appears, not even as a removal; one they saw and may no
// longer read appears as a content-free removal.
bool CanSeeInFeed(const Viewer& v, std::string_view owner_id, store::Audience widest_audience,
                  bool owned_before);

// Users: only admins list, create or delete users and change login, role or
// disabled; every user reads and edits their own profile and password.
Status CanManageUsers(const Viewer& v);
Status CanReadUser(const Viewer& v, std::string_view user_id);
Status CanChangeUser(const Viewer& v, const model::User& current, const model::User& next);

// Sync pairs: a user's own, or any as an admin. A pair for another user, and a
// pair with a provider that reaches the server's own files (vdir), only as an
// admin.
bool CanUsePair(const Viewer& v, std::string_view pair_user_id);
Status CanCreatePair(const Viewer& v, std::string_view for_user_id, bool provider_needs_admin,
                     std::string_view provider);
bool CanSeeAllPairs(const Viewer& v);

template <typename OwnerExists>
Status CanTransfer(const Viewer& v, std::string_view from_owner, std::string_view to_owner,
                   OwnerExists&& owner_exists) {
  if (to_owner == from_owner) return Status::Ok();
  if (to_owner.empty()) return Status::InvalidArgument("owner_id: must not be empty");
  if (!v.admin && to_owner != v.user_id) {
    return Status::PermissionDenied("owner_id: only admins give records to other users");
  }
  if (to_owner != v.user_id && !owner_exists(std::string(to_owner))) {
    return Status::InvalidArgument("owner_id: no such user");
  }
  return Status::Ok();
}

}  // namespace tandem::api::policy
