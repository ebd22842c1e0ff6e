// IcalCodec: the engine's view of iCalendar items, through src/ical: digest
// (UID, CRM-id stamp, content hash of the synced fields, LAST-MODIFIED, window
// membership of any occurrence, privacy) and prepare (rewrite UID and stamp,
// apply the reminder rule S10) while keeping everything the CRM does not model.
//
// Thread-safe (stateless).
#pragma once

#include "ical/ical.h"
#include "sync/event_codec.h"

namespace tandem::sync {

class IcalCodec final : public EventCodec {
 public:
  Result<Observation> Digest(const Item& item, const TimeRange& window) const override;
  ItemName Name(std::string_view text) const override;
  Result<std::string> Prepare(std::string_view ical, const PrepareOptions& options) const override;
};

}  // namespace tandem::sync
