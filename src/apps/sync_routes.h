// REST routes of the calendar sync (issue: sync engine item 7; S11, S12, S15):
//
//   GET    /api/v1/sync/providers              the calendar kinds this server offers
//   POST   /api/v1/sync/discover               {provider, calendar, user, password | authorization}: calendars to choose
//   POST   /api/v1/sync/oauth/start            {provider, redirect_uri}: {authorization_url, state}
//   POST   /api/v1/sync/oauth/finish           {state, code}: {authorization} (a handle for 10 minutes)
//   GET    /api/v1/sync/pairs                  the caller's pairs (admins: ?all=true)
//   POST   /api/v1/sync/pairs                  add {provider, calendar, user, password, options}
//   GET    /api/v1/sync/pairs/{id}             one pair with its schedule state
//   PATCH  /api/v1/sync/pairs/{id}             {options: {...}}
//   DELETE /api/v1/sync/pairs/{id}             forget the pair (no calendar is touched)
//   POST   /api/v1/sync/pairs/{id}/run         sync now (?dry_run=true, ?force=true)
//   POST   /api/v1/sync/pairs/{id}/init        (re-)initialize (?dry_run=true)
//   GET    /api/v1/sync/pairs/{id}/log         sync log, newest first (?limit=N)
//   GET    /api/v1/sync/pairs/{id}/runs        recent runs (?limit=N)
//   GET    /api/v1/sync/status                 every pair of the caller: last/next run, errors
//   GET    /api/v1/trash                       the caller's trash (?include_restored=true)
//   POST   /api/v1/trash/{id}/restore          restore a trashed activity
//
// A pair belongs to its user: others get 404 (admins see all). Passwords are
// sealed at once and never returned.
#pragma once

#include "api/auth.h"
#include "apps/calendar_sync.h"
#include "http/server.h"

namespace tandem::apps {

void RegisterSyncRoutes(http::Router* router, api::Authenticator* auth, CalendarSync* sync,
                        const Clock* clock);

}  // namespace tandem::apps
