// The CRM as a CalDAV server (RFC 4791, RFC 6578, RFC 4918; SPEC C11), served by
// tandemd beside the REST API on the same address.
//
// Layout (a user gives a client the server's root URL; discovery does the rest):
//   /.well-known/caldav, /.well-known/carddav   301 -> /dav/
//   /dav/                                        current-user-principal
//   /dav/principals/<user id>/                   calendar-home-set, addressbook-home-set
//   /dav/calendars/<user id>/                    the calendar home
//   /dav/calendars/<user id>/appointments/       the user's appointments and phone calls (VEVENT)
//   /dav/calendars/<user id>/appointments/<name> one activity (a single event or a series)
//   /dav/calendars/<user id>/tasks/              the user's tasks (VTODO, ical::ParseTodo/WriteTodo;
//                                                UIDs and names kept under "<user id>/tasks")
//   /dav/addressbooks/<user id>/                 the address-book home
//   /dav/addressbooks/<user id>/contacts/        the user's own contacts (vCard, src/vcard)
//   /dav/addressbooks/<user id>/contacts/<name>  one contact ("<UID>.vcf" or the client's name;
//                                                UIDs and names kept under "<user id>/contacts")
//
// A resource's name is "<UID>.ics", or the name the client chose when it created
// it (kept in the sync state, store::SyncStateStore::PutDavName). Items are what
// the calendar sync's CRM side writes and reads (sync::CrmSide): the same
// iCalendar mapping, UIDs, ETags and preconditions; a write through CalDAV is a
// CRM write (validated by the model, in the change feed, pushed to the user's
// external calendars by the calendar sync, unmodeled properties preserved).
// sync-token and getctag are change-feed positions; a stale token answers 403
// DAV:valid-sync-token (RFC 6578 3.2).
//
// Authentication: Basic with the CRM login and password or an app password, or a Bearer token
// (api::Authenticator::AuthenticateBasic: cached briefly, throttled after failed
// attempts). Authorization through api/policy.h: another user's collections
// answer 404 like unknown ones.
//
// Not yet: read-only shared collections, PROPPATCH (displayname and color answer 403), free-busy-query,
// calendar-data subsetting and expansion (the whole item is returned),
// sync-collection paging of an initial listing (a limit applies to later ones).
//
// Thread safety: safe for concurrent requests once registered.
#pragma once

#include <memory>
#include <string>

#include "api/auth.h"
#include "core/clock.h"
#include "core/ids.h"
#include "http/server.h"
#include "store/store.h"
#include "store/sync_state.h"

namespace tandem::davserver {

struct DavServerOptions {
  store::Store* store = nullptr;              // REQUIRED
  store::SyncStateStore* state = nullptr;     // REQUIRED (UIDs and resource names)
  api::Authenticator* authenticator = nullptr;  // REQUIRED
  IdGenerator* ids = nullptr;                 // REQUIRED (activities created by clients)
  const Clock* clock = nullptr;               // REQUIRED
  // Zone for floating times in what clients write, when the user has none.
  std::string default_zone = "UTC";
};

class DavServer {
 public:
  explicit DavServer(DavServerOptions options);
  ~DavServer();
  DavServer(const DavServer&) = delete;
  DavServer& operator=(const DavServer&) = delete;

  // Adds the routes above to `router` (every DAV method on each).
  void Register(http::Router* router);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::davserver
