#include "api/policy.h"

#include <fmt/format.h>

namespace tandem::api::policy {

namespace {

// Whether `audience` includes a viewer who does not own the record.
bool Includes(store::Audience audience, const Viewer& v) {
  switch (audience) {
    case store::Audience::kEveryone:
      return true;
    case store::Audience::kOwnerAndAdmins:
      return v.admin;
    case store::Audience::kOwner:
      return false;
  }
  return false;
}

}  // namespace

bool CanRead(const Viewer& v, const model::RecordMeta& meta, bool is_private_activity) {
  if (!v.user_id.empty() && meta.owner_id == v.user_id) return true;
  return Includes(store::AudienceOf(meta, is_private_activity), v);
}

bool CanSeeInFeed(const Viewer& v, std::string_view owner_id, store::Audience widest_audience,
                  bool owned_before) {
  if (!v.user_id.empty() && (owner_id == v.user_id || owned_before)) return true;
  return Includes(widest_audience, v);
}

Status CanManageUsers(const Viewer& v) {
  if (!v.admin) return Status::PermissionDenied("only admins manage users");
  return Status::Ok();
}

Status CanReadUser(const Viewer& v, std::string_view user_id) {
  if (!v.user_id.empty() && user_id == v.user_id) return Status::Ok();
  return CanManageUsers(v);
}

Status CanChangeUser(const Viewer& v, const model::User& current, const model::User& next) {
  TANDEM_RETURN_IF_ERROR(CanReadUser(v, current.id));
  if (!v.admin && (next.role != current.role || next.disabled != current.disabled ||
                   next.login != current.login)) {
    return Status::PermissionDenied("only admins change login, role or disabled");
  }
  return Status::Ok();
}

bool CanUsePair(const Viewer& v, std::string_view pair_user_id) {
  return v.admin || (!v.user_id.empty() && pair_user_id == v.user_id);
}

Status CanCreatePair(const Viewer& v, std::string_view for_user_id, bool provider_needs_admin,
                     std::string_view provider) {
  if (for_user_id != v.user_id && !v.admin) {
    return Status::PermissionDenied("user_id: only admins add pairs for other users");
  }
  if (provider_needs_admin && !v.admin) {
    return Status::PermissionDenied(
        fmt::format("provider: {} can only be paired by an admin", provider));
  }
  return Status::Ok();
}

bool CanSeeAllPairs(const Viewer& v) { return v.admin; }

}  // namespace tandem::api::policy
