// Checks a record must pass before any API path (REST, replica mutations) stores
// it, beyond model::Validate: an activity must be one the calendar sync can use
// (ical::CheckActivity: readable rrule, known zone, exdates that fit the series),
// so that the REST API refuses what the sync could never write (400 naming the
// field) instead of storing it.
#pragma once

#include "core/status.h"
#include "ical/ical.h"
#include "model/entities.h"

namespace tandem::api {

template <typename T>
Status CheckRecord(const T&) {
  return Status::Ok();
}

inline Status CheckRecord(const model::Activity& a) { return ical::CheckActivity(a); }

// A user's zone for floating calendar times: empty (the server's) or a zone the
// iCalendar layer resolves; stored as its IANA name.
inline Status CheckRecord(model::User* u) {
  if (u->time_zone.empty()) return Status::Ok();
  Result<std::string> name = ical::ResolveZoneName(u->time_zone);
  if (!name.ok()) {
    return Status::InvalidArgument("time_zone: unknown zone '" + u->time_zone +
                                   "' (an IANA name such as Europe/Berlin)");
  }
  u->time_zone = *name;
  return Status::Ok();
}

}  // namespace tandem::api
