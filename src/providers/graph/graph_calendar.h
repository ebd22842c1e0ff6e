// GraphCalendar: one Outlook / Exchange calendar as a CalendarSide, over
// Microsoft Graph v1.0 (events, calendarView/delta, $batch).
//
//   href    the event id (a series: its seriesMaster's id)
//   ETag    the event's @odata.etag (If-Match on PATCH and DELETE: 412 = changed)
//   cursor  "graph1:" + JSON {link: the round's @odata.deltaLink as given, from,
//           to: the window the round was opened with, occ: occurrence id ->
//           series master id}; "" = a new round (a full listing of the window,
//           complete within it: ChangeSet::windowed). startDateTime/endDateTime
//           are sent on a round's first request only; every later page follows
//           @odata.nextLink until @odata.deltaLink. A delta link Graph refuses
//           (410, syncStateNotFound / resyncRequired) = ResyncRequired: a new
//           round, re-paired by UID, never a duplicate. A window that moved by
//           more than a week opens a new round too.
//   removed @removed items are read again: one Graph still has (it left the
//           window) is a change, the engine's window rule applies; one that is
//           gone a deletion; a removed occurrence re-reads its series.
//   items   the event as a VCALENDAR: UID = transactionId (set by Tandem on
//           creation, returned in every read, delta pages included) or
//           iCalUId; subject, body (as text: `Prefer: outlook.body-content-type`;
//           a hash of the text read is kept, and a body the CRM did not change is
//           never written back, so HTML written by others stays HTML), location,
//           start/end (read in UTC, `Prefer: outlook.timezone`; the event's zone
//           from originalStartTimeZone, Windows or IANA), isAllDay, showAs (free
//           = TRANSP:TRANSPARENT; tentative / oof / workingElsewhere as
//           X-MICROSOFT-CDO-BUSYSTATUS; unknown kept), sensitivity (private,
//           personal, confidential -> CLASS, S9), isReminderOn +
//           reminderMinutesBeforeStart, isCancelled, the CRM id in a
//           singleValueExtendedProperty (read where Graph can $expand it).
//   series  a seriesMaster's recurrence pattern <-> RRULE (daily, weekly with
//           days, absolute and relative monthly and yearly; end date, count, no
//           end); its exceptions <-> RECURRENCE-ID overrides; occurrences the
//           pattern gives but Graph no longer lists within the window <->
//           EXDATE. Written back the same way: the master, then each changed
//           or cancelled occurrence (PATCH / DELETE of the instance).
//   batch   consecutive creations go out as JSON $batch requests of 20; an
//           inner 429 is sent again after its Retry-After.
//
// Authentication: a bearer token from `access_token`; a 401 tells
// `token_rejected` and the request goes once more with a fresh token. 429 and
// 503 back off with jitter, honouring Retry-After. One request in flight at a
// time (Exchange allows 4 per mailbox).
//
// Thread safety: one instance per run; not for concurrent use.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/random.h"
#include "http/client.h"
#include "sync/calendar_side.h"

namespace tandem::providers::graph {

struct GraphCalendarOptions {
  std::string api_base = "https://graph.microsoft.com/v1.0";
  std::string mailbox;      // "" = the signed-in user (/me); else /users/{mailbox}
  std::string calendar_id;  // "" = the mailbox's default calendar
  http::ClientOptions http;
  std::function<Result<std::string>()> access_token;                 // REQUIRED
  std::function<void(const std::string& rejected)> token_rejected;  // after a 401
  int page_size = 500;  // Prefer: odata.maxpagesize for delta pages
  int rate_limit_attempts = 6;
  int batch_size = 20;  // requests per $batch (Graph's limit)
  Random* random = nullptr;  // jitter; null: a fixed fraction
};

class GraphCalendar final : public sync::CalendarSide {
 public:
  explicit GraphCalendar(GraphCalendarOptions options);
  ~GraphCalendar() override;

  Result<std::string> Identity() override;
  Result<sync::ChangeSet> ChangesSince(const std::string& cursor,
                                       const sync::TimeRange& window) override;
  Result<std::vector<sync::Item>> GetMany(const std::vector<std::string>& hrefs) override;
  Result<sync::ItemRef> Create(const std::string& uid, const std::string& ical) override;
  size_t CreateBatchLimit() const override { return static_cast<size_t>(std::clamp(o_.batch_size, 1, 20)); }
  std::vector<Result<sync::ItemRef>> CreateBatch(
      const std::vector<std::pair<std::string, std::string>>& uid_and_ical) override;
  Result<sync::ItemRef> Update(const std::string& href, const std::string& etag,
                               const std::string& ical) override;
  Status Delete(const std::string& href, const std::string& etag) override;
  Result<std::optional<sync::Item>> FindByUid(const std::string& uid) override;

  int64_t requests() const { return requests_; }

 private:
  struct Answer {
    int status = 0;
    std::string body;
    http::Headers headers;
  };
  // `target`: a path under api_base, or a whole URL (a next or delta link).
  Result<Answer> Call(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& if_match = "",
                      bool paged = false);
  std::string Root() const;      // /me or /users/{mailbox}
  std::string Calendar() const;  // Root() + /calendar or /calendars/{id}
  // An event (a series read whole) as an Item; nullopt when gone.
  Result<std::optional<sync::Item>> Read(const std::string& id);
  Result<std::optional<sync::Item>> ReadSeries(const std::string& master_json);
  // The series' changed and cancelled occurrences of `ical` written to Graph.
  Status WriteOccurrences(const std::string& master_id, const std::string& ical);

  GraphCalendarOptions o_;
  std::unique_ptr<http::Client> http_;
  sync::TimeRange window_{};                // of the last listing (series reads)
  std::map<std::string, std::string> occ_;  // occurrence id -> master id
  int64_t requests_ = 0;
};

// The mapping, exposed for tests.
// An event resource (JSON) as one VCALENDAR; `exceptions` are the series'
// exception instances, `exdates` the occurrences Graph no longer has.
Result<std::string> EventToIcal(const std::string& event_json,
                                const std::vector<std::string>& exceptions = {},
                                const std::vector<Instant>& exdates = {});
// A VCALENDAR as the JSON body of a POST (`create`: transactionId and the
// extended properties) or a PATCH.
Result<std::string> IcalToEvent(const std::string& ical, const std::string& uid, bool create);
// RRULE <-> patternedRecurrence (JSON text). `zone` is the series' IANA zone.
Result<std::string> RruleToRecurrence(const std::string& rrule, Instant start, bool all_day,
                                      const std::string& zone);
Result<std::string> RecurrenceToRrule(const std::string& recurrence_json, bool all_day,
                                      const std::string& zone);

// The extended properties Tandem writes (MAPI named properties of its own GUID).
inline constexpr char kUidProperty[] = "String {8a1f4c2e-6b3d-4e59-9c07-2d5e8f1a7b34} Name TandemUid";
inline constexpr char kCrmIdProperty[] = "String {8a1f4c2e-6b3d-4e59-9c07-2d5e8f1a7b34} Name TandemCrmId";

}  // namespace tandem::providers::graph
