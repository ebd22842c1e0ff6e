#include "store/store.h"

namespace tandem::store {

Audience AudienceOf(const model::RecordMeta& meta, bool is_private_activity) {
  if (is_private_activity) return Audience::kOwner;
  return meta.shared ? Audience::kEveryone : Audience::kOwnerAndAdmins;
}

}  // namespace tandem::store
