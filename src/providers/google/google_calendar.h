// GoogleCalendar: one Google calendar as a CalendarSide, over the Calendar API v3
// (events.list/get/insert/update/delete).
//
//   href    the event id
//   ETag    the event's etag (If-Match on update and delete: 412 = changed)
//   cursor  "sync:" + the nextSyncToken of the last listing page; "" = a full
//           listing (maxResults 2500 per page). An incremental listing sends the
//           syncToken and none of the parameters Google refuses with it; deleted
//           events come back with status "cancelled" = deleted; 410 (the token
//           expired) = ResyncRequired, and the engine lists everything again,
//           re-pairing by UID (iCalUID), never duplicating.
//   items   the event as a VCALENDAR (UID = iCalUID, X-TANDEM-CRM-ID from
//           extendedProperties.private.tandemCrmId): summary, location,
//           description, start/end (date = all day; dateTime + timeZone),
//           recurrence lines, transparency (free/busy; tentative and out of office
//           kept in extendedProperties.private.tandemShowAs), visibility
//           private/confidential (S9), a popup reminder override, status,
//           created/updated/sequence.
//   identity "google:" + the calendar's own id (a re-created secondary calendar
//           has a new id).
//   series a recurring event is its master plus the instances Google keeps apart
//           (recurringEventId, originalStartTime), read whole into one VCALENDAR:
//           a cancelled instance is an EXDATE, a moved or edited one an
//           overriding VEVENT with RECURRENCE-ID. An incremental listing that
//           names a changed instance reads its series by iCalUID.
//   batch   consecutive creations go out as batch requests (POST
//           /batch/calendar/v3, multipart/mixed, 50 inserts each).
//           Written back the same way: after the master (its recurrence with the
//           EXDATEs), each RECURRENCE-ID override of the CRM's series that Google
//           does not hold yet is written to its instance (found by originalStart):
//           a moved or edited one patched, a cancelled one deleted. An override
//           the CRM dropped leaves Google's exception as it is; RANGE=THISANDFUTURE
//           is not written (Google splits such a series into two).
//
// Authentication: a bearer token from `access_token` for every request; a 401
// tells `token_rejected` and the request is sent once more with a fresh token.
// Rate limits (403 rateLimitExceeded / userRateLimitExceeded, 429) back off with
// jitter, honouring Retry-After.
//
// Thread safety: one instance per run; not for concurrent use.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "http/client.h"
#include "sync/calendar_side.h"

namespace tandem::providers::google {

struct GoogleCalendarOptions {
  std::string api_base = "https://www.googleapis.com/calendar/v3";
  std::string calendar_id = "primary";
  http::ClientOptions http;  // TLS, address policy, timeouts (auth: below)
  std::function<Result<std::string>()> access_token;                    // REQUIRED
  std::function<void(const std::string& rejected)> token_rejected;     // after a 401
  int page_size = 2500;  // events.list maxResults (Google's maximum)
  int rate_limit_attempts = 5;
  int batch_size = 50;  // inserts per batch request (Google allows more; 50 stays well inside)
  Random* random = nullptr;  // jitter; null: a fixed fraction
};

class GoogleCalendar final : public sync::CalendarSide {
 public:
  explicit GoogleCalendar(GoogleCalendarOptions options);
  ~GoogleCalendar() override;

  Result<std::string> Identity() override;
  Result<sync::ChangeSet> ChangesSince(const std::string& cursor,
                                       const sync::TimeRange& window) override;
  Result<std::vector<sync::Item>> GetMany(const std::vector<std::string>& hrefs) override;
  Result<sync::ItemRef> Create(const std::string& uid, const std::string& ical) override;
  // POST /batch/calendar/v3, multipart/mixed: up to batch_size inserts at once.
  size_t CreateBatchLimit() const override { return static_cast<size_t>(std::max(1, o_.batch_size)); }
  std::vector<Result<sync::ItemRef>> CreateBatch(
      const std::vector<std::pair<std::string, std::string>>& uid_and_ical) override;
  Result<sync::ItemRef> Update(const std::string& href, const std::string& etag,
                               const std::string& ical) override;
  Status Delete(const std::string& href, const std::string& etag) override;
  Result<std::optional<sync::Item>> FindByUid(const std::string& uid) override;

  // Requests sent (list pages, gets, writes), for the benchmarks.
  int64_t requests() const { return requests_; }

 private:
  struct Answer {
    int status = 0;
    std::string body;
    http::Headers headers;
  };
  Result<Answer> Call(const std::string& method, const std::string& path_and_query,
                      const std::string& body = "", const std::string& if_match = "");
  Result<Answer> CallUrl(const std::string& method, const std::string& url,
                         const std::string& body, const std::string& if_match,
                         const std::string& content_type);
  std::string EventsPath() const;
  // A series read whole: the master (absent when gone) and its instances.
  Result<std::pair<std::optional<std::string>, std::vector<std::string>>> Series(
      const std::string& master_id, const std::string& uid);

  // Writes the series' RECURRENCE-ID overrides of `ical` to the instances of
  // master `master_id` where Google's differ.
  Status WriteInstances(const std::string& master_id, const std::string& ical);

  GoogleCalendarOptions o_;
  std::unique_ptr<http::Client> http_;
  int64_t requests_ = 0;
};

// The mapping, exposed for tests: an Events resource (JSON text) as one
// VCALENDAR, and a VCALENDAR as the JSON body of an insert or update.
// `exceptions`: the series' instances Google keeps apart (recurringEventId):
// cancelled ones become EXDATEs, changed ones overriding VEVENTs.
Result<std::string> EventToIcal(const std::string& event_json,
                                const std::vector<std::string>& exceptions = {});
Result<std::string> IcalToEvent(const std::string& ical, const std::string& uid);

}  // namespace tandem::providers::google
