#include "store/store.h"

namespace tandem::store {

bool MayAccess(const Viewer& v, const model::RecordMeta& meta, bool is_private_activity) {
  if (!v.user_id.empty() && meta.owner_id == v.user_id) return true;
  if (is_private_activity) return false;  // not even for admins
  return meta.shared || v.admin;
}

}  // namespace tandem::store
