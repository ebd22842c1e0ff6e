#include "providers/caldav/caldav_calendar.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/ids.h"
#include "core/random.h"
#include "dav/multistatus.h"
#include "dav/requests.h"

namespace tandem::providers::caldav {

using dav::DavResponse;
using dav::kNsCalDav;
using dav::kNsDav;

namespace {

constexpr std::string_view kMarkerNs = "urn:x-tandem:ns";
constexpr std::string_view kMarkerName = "calendar-instance";
constexpr std::string_view kSyncCursorPrefix = "sync1:";
constexpr std::string_view kCtagCursorPrefix = "ctag1:";

dav::PropName MarkerProp() { return {std::string(kMarkerNs), std::string(kMarkerName)}; }

std::string IcalUtc(Instant t) {
  std::time_t seconds = static_cast<std::time_t>(ToUnixSeconds(t));
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

bool HasWindow(const sync::TimeRange& w) { return w.to > w.from; }

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string EncodeSegment(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

struct ReportOutcome {
  int http_status = 0;
  std::string error_body;
  std::string sync_token;
};

// Sends a request whose 207 answer is read as it arrives; each DAV:response goes
// to `on_response`. Other answers come back with their status and body.
Result<ReportOutcome> StreamMultistatus(http::Client& client, const std::string& method,
                                        const std::string& url, std::string_view depth,
                                        std::string body,
                                        const std::function<Status(DavResponse&&)>& on_response) {
  dav::MultistatusReader reader(on_response);
  Status consumer_error;
  http::Request request;
  request.method = method;
  request.url = url;
  request.headers.Add("Depth", std::string(depth));
  request.headers.Add("Content-Type", "application/xml; charset=utf-8");
  request.body = std::move(body);
  request.body_sink = [&](std::string_view chunk) {
    Status s = reader.Feed(chunk);
    if (!s.ok()) {
      consumer_error = std::move(s);
      return false;
    }
    return true;
  };
  request.body_restart = [&] {
    reader.Reset();
    consumer_error = Status::Ok();
  };
  auto response = client.Send(request);
  std::string what = method + " " + url;
  if (!consumer_error.ok()) return consumer_error.WithContext(what);
  if (!response.ok()) return response.status().WithContext(what);
  ReportOutcome outcome;
  outcome.http_status = response->status;
  if (response->status != 207) {
    outcome.error_body = std::move(response->body);
    return outcome;
  }
  Status finished = reader.Finish();
  if (!finished.ok()) return finished.WithContext(what);
  outcome.sync_token = reader.sync_token();
  return outcome;
}

http::Response AsResponse(const ReportOutcome& outcome) {
  http::Response r;
  r.status = outcome.http_status;
  r.body = outcome.error_body;
  return r;
}

}  // namespace

std::string IcalUid(std::string_view ical) {
  size_t pos = 0;
  while (pos < ical.size()) {
    size_t eol = ical.find('\n', pos);
    if (eol == std::string_view::npos) eol = ical.size();
    std::string_view line = ical.substr(pos, eol - pos);
    if (line.size() > 4 && (line.substr(0, 4) == "UID:" || line.substr(0, 4) == "UID;")) {
      std::string value;
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) value = std::string(line.substr(colon + 1));
      // Unfold continuation lines (RFC 5545 3.1).
      size_t next = eol + 1;
      while (next < ical.size() && (ical[next] == ' ' || ical[next] == '\t')) {
        size_t next_eol = ical.find('\n', next);
        if (next_eol == std::string_view::npos) next_eol = ical.size();
        if (!value.empty() && value.back() == '\r') value.pop_back();
        value += std::string(ical.substr(next + 1, next_eol - next - 1));
        next = next_eol + 1;
      }
      while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
      return value;
    }
    pos = eol + 1;
  }
  return "";
}

// Receives items of one call: keeps them (or passes them on), notes UIDs seen on
// more than one resource. Kept lean: at 100,000 items every per-item byte counts.
class CalDavCalendar::Collector {
 public:
  explicit Collector(const ItemSink* sink) : sink_(sink) {}

  Status Add(sync::Item&& item) {
    std::string uid = IcalUid(item.ical);
    if (!uid.empty()) {
      // Keyed by a 64-bit hash of the UID: two different UIDs colliding at
      // 100,000 items has a chance of about 1e-9 and would only add a warning.
      auto [it, inserted] = href_by_uid_hash_.emplace(std::hash<std::string>{}(uid), item.href);
      if (!inserted && it->second != item.href) {
        warnings.push_back(fmt::format("two resources carry UID {}: {} and {}", uid, it->second,
                                       item.href));
      }
    }
    if (sink_ != nullptr && *sink_) return (*sink_)(std::move(item));
    // Text grown by appending may carry spare capacity.
    item.ical.shrink_to_fit();
    items.push_back(std::move(item));
    return Status::Ok();
  }

  // One item per href, the last one received winning (a transfer restarted by a
  // retry hands out its items again).
  std::vector<sync::Item> TakeItems() {
    std::vector<uint32_t> order(items.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return items[a].href < items[b].href; });
    std::vector<bool> drop(items.size(), false);
    bool any = false;
    for (size_t i = 0; i + 1 < order.size(); ++i) {
      if (items[order[i]].href == items[order[i + 1]].href) drop[order[i]] = any = true;
    }
    if (any) {
      size_t kept = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        if (!drop[i]) items[kept++] = std::move(items[i]);
      }
      items.resize(kept);
    }
    return std::move(items);
  }

  std::vector<sync::Item> items;
  std::vector<std::string> warnings;

 private:
  const ItemSink* sink_;
  std::unordered_map<size_t, std::string> href_by_uid_hash_;
};

CalDavCalendar::CalDavCalendar(CalDavCalendarOptions options)
    : options_(std::move(options)),
      url_(CollectionUrl(options_.calendar_url)),
      path_(http::UrlPath(url_)),
      client_(options_.http) {}

CalDavCalendar::~CalDavCalendar() = default;

Result<std::unique_ptr<CalDavCalendar>> CalDavCalendar::Open(CalDavCalendarOptions options) {
  if (http::UrlOrigin(options.calendar_url).empty()) {
    return Status::InvalidArgument("CalDAV calendar URL must be http(s)://host/path: " +
                                   options.calendar_url);
  }
  if (options.multiget_batch_size < 1) options.multiget_batch_size = 1;
  return std::unique_ptr<CalDavCalendar>(new CalDavCalendar(std::move(options)));
}

Result<std::unique_ptr<sync::CalendarSide>> MakeCalDavCalendar(const std::string& calendar_url,
                                                               const std::string& user,
                                                               const std::string& password,
                                                               bool prefer_basic) {
  CalDavCalendarOptions options;
  options.calendar_url = calendar_url;
  if (!user.empty()) {
    options.http.auth = prefer_basic ? http::Auth::Basic(user, password)
                                     : http::Auth::BasicOrDigest(user, password);
  }
  TANDEM_ASSIGN_OR_RETURN(auto calendar, CalDavCalendar::Open(std::move(options)));
  return std::unique_ptr<sync::CalendarSide>(std::move(calendar));
}

std::string CalDavCalendar::Absolute(const std::string& href) const {
  return http::ResolveUrl(url_, href);
}

std::string CalDavCalendar::HrefForUid(const std::string& uid) const {
  // The UID names the resource when it is made of letters, digits and - _ . ~ @
  // (the last escaped as before); any other UID ("a/b", spaces, non-ASCII) would
  // need escapes that servers treat differently (Radicale refuses %2F with 403),
  // so the name is derived from it instead: stable, so the same UID always maps
  // to the same name. The UID inside the resource stays as it is.
  bool safe = !uid.empty() && uid.size() <= 200 && uid[0] != '.';
  for (unsigned char c : uid) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@')) safe = false;
  }
  if (safe) return path_ + EncodeSegment(uid) + ".ics";
  uint64_t a = 14695981039346656037ull, b = 1099511628211ull ^ uid.size();
  for (unsigned char c : uid) {
    a = (a ^ c) * 1099511628211ull;  // FNV-1a
    b = (b + c) * 6364136223846793005ull + 1442695040888963407ull;
  }
  return path_ + fmt::format("tandem-{:016x}{:016x}.ics", a, b);
}

Result<CalendarInfo> CalDavCalendar::Info(CollectionState state) {
  if (!info_ || state == CollectionState::kWith) {
    TANDEM_ASSIGN_OR_RETURN(CalendarInfo info, ReadCollection(client_, url_, state));
    if (!info.is_calendar) return Status::NotFound(url_ + " is not a calendar collection");
    info_ = std::move(info);
  }
  return *info_;
}

Result<std::string> CalDavCalendar::Identity() {
  auto read = [&]() -> Result<DavResponse> {
    TANDEM_ASSIGN_OR_RETURN(dav::Multistatus ms,
                            Propfind(client_, url_, 0,
                                     {dav::DavProp("resourcetype"), dav::DavProp("resource-id"),
                                      MarkerProp()}));
    if (ms.responses.empty()) return Status::Corruption("PROPFIND " + url_ + ": empty multistatus");
    return ms.responses[0];
  };
  TANDEM_ASSIGN_OR_RETURN(DavResponse props, read());
  const dav::XmlElement* type = props.Prop(kNsDav, "resourcetype");
  if (type == nullptr || type->Child(kNsCalDav, "calendar") == nullptr) {
    return Status::NotFound(url_ + " is not a calendar collection");
  }
  if (const dav::XmlElement* rid = props.Prop(kNsDav, "resource-id")) {
    auto hrefs = rid->Children(kNsDav, "href");
    std::string value = hrefs.empty() ? rid->TrimmedText() : hrefs[0]->TrimmedText();
    if (!value.empty()) return url_ + " resource-id=" + value;
  }
  std::string marker = props.PropText(kMarkerNs, kMarkerName);
  if (marker.empty() && options_.write_identity_marker) {
    std::string fresh;
    if (options_.new_marker) {
      fresh = options_.new_marker();
    } else {
      SystemClock clock;
      SecureRandom random;
      fresh = IdGenerator(clock, random).NewId();
    }
    http::Request patch;
    patch.method = "PROPPATCH";
    patch.url = url_;
    patch.headers.Add("Content-Type", "application/xml; charset=utf-8");
    patch.body = dav::ProppatchSetBody(MarkerProp(), fresh);
    TANDEM_ASSIGN_OR_RETURN(http::Response answer, client_.Send(patch));
    bool stored = answer.status == 200 || answer.status == 204;
    if (answer.status == 207) {
      // Servers without dead properties (Xandikos) answer 207 with a 403/404
      // propstat for it: nothing was stored, so nothing to read back.
      auto ms = dav::ParseMultistatus(answer.body);
      stored = ms.ok() && !ms->responses.empty() &&
               ms->responses[0].Prop(kMarkerNs, kMarkerName) != nullptr;
    }
    if (stored) {
      // Read back: only what the server really stored counts (and a concurrent
      // writer's value wins consistently).
      TANDEM_ASSIGN_OR_RETURN(props, read());
      marker = props.PropText(kMarkerNs, kMarkerName);
    }
  }
  if (!marker.empty()) return url_ + " instance=" + marker;
  return url_;
}

Result<sync::ChangeSet> CalDavCalendar::ListInto(const std::string& cursor,
                                                 const sync::TimeRange& window, Collector& out) {
  Result<sync::ChangeSet> result = Status::Internal("unset");
  if (cursor.empty()) {
    result = FullListing(window, out);
  } else if (cursor.starts_with(kSyncCursorPrefix)) {
    result = SyncSince(cursor.substr(kSyncCursorPrefix.size()), out);
  } else if (cursor.starts_with(kCtagCursorPrefix)) {
    result = CtagSince(cursor, window, out);
  } else {
    return Status::ResyncRequired("cursor not made by the CalDAV provider");
  }
  if (!result.ok()) return result;
  for (auto& w : out.warnings) result->warnings.push_back(std::move(w));
  return result;
}

Result<sync::ChangeSet> CalDavCalendar::ChangesSince(const std::string& cursor,
                                                     const sync::TimeRange& window) {
  Collector out(nullptr);
  auto result = ListInto(cursor, window, out);
  if (result.ok()) result->changed = out.TakeItems();
  return result;
}

Result<sync::ChangeSet> CalDavCalendar::StreamChangesSince(const std::string& cursor,
                                                           const sync::TimeRange& window,
                                                           const ItemSink& sink) {
  Collector out(&sink);
  return ListInto(cursor, window, out);
}

Result<sync::ChangeSet> CalDavCalendar::FullListing(const sync::TimeRange& window, Collector& out) {
  // Try sync-collection straight away: asking first whether the server has it
  // costs a PROPFIND that some servers answer slowly (Radicale computes its
  // sync-token over every item: 3 s at 10,000 items on the bench machine).
  if (!info_ || info_->SupportsReport("sync-collection")) {
    auto listed = SyncSince("", out);
    if (listed.ok() || listed.status().Is(Code::kUnauthenticated) ||
        listed.status().Is(Code::kCorruption) || listed.status().Is(Code::kDeadlineExceeded)) {
      return listed;
    }
    info_.reset();
    auto info = Info();
    if (!info.ok() || info->SupportsReport("sync-collection")) return listed;
  }
  TANDEM_ASSIGN_OR_RETURN(CalendarInfo info, Info(CollectionState::kWith));
  // No sync-collection: ctag + ETag listing of the window, data in the same REPORT.
  std::vector<std::pair<std::string, std::string>> listing;
  TANDEM_RETURN_IF_ERROR(
      CalendarQuery(HasWindow(window) ? &window : nullptr, std::nullopt, true, out, &listing));
  sync::ChangeSet changes;
  changes.complete = true;
  changes.next_cursor = std::string(kCtagCursorPrefix) + info.ctag + "\n";
  for (const auto& [href, etag] : listing) changes.next_cursor += etag + "\t" + href + "\n";
  return changes;
}

Result<sync::ChangeSet> CalDavCalendar::SyncSince(const std::string& token, Collector& out) {
  const bool initial = token.empty();
  std::string current = token;
  std::vector<std::string> need_data;  // changed, but no calendar-data came inline
  std::set<std::string> deleted;
  std::vector<std::string> warnings;
  constexpr int kMaxPages = 100000;
  for (int page = 0;; ++page) {
    if (page >= kMaxPages) return Status::Internal("sync-collection: too many pages");
    bool truncated = false;
    auto on_response = [&](DavResponse&& r) -> Status {
      std::string href = dav::HrefPath(r.href);
      if (dav::SameHref(href, path_)) {
        if (r.status == 507) truncated = true;
        return Status::Ok();
      }
      if (r.status == 404 || r.status == 410) {
        if (!initial) deleted.insert(href);
        return Status::Ok();
      }
      if (r.status >= 300) {
        warnings.push_back(fmt::format("{}: HTTP {} in sync-collection answer", href, r.status));
        return Status::Ok();
      }
      deleted.erase(href);
      const dav::XmlElement* data = r.Prop(kNsCalDav, "calendar-data");
      if (data != nullptr && !data->text.empty()) {
        return out.Add({href, r.PropText(kNsDav, "getetag"), data->text});
      }
      need_data.push_back(href);
      return Status::Ok();
    };
    TANDEM_ASSIGN_OR_RETURN(
        ReportOutcome outcome,
        StreamMultistatus(client_, "REPORT", url_, "0",
                          dav::SyncCollectionBody(current,
                                                  {dav::DavProp("getetag"),
                                                   dav::CalDavProp("calendar-data")},
                                                  options_.sync_page_size),
                          on_response));
    if (outcome.http_status != 207) {
      http::Response answer = AsResponse(outcome);
      if (!current.empty()) {
        if (dav::HasErrorCondition(answer.body, kNsDav, "valid-sync-token")) {
          return Status::ResyncRequired("server no longer accepts the sync token (HTTP " +
                                        std::to_string(answer.status) + ")");
        }
        int s = answer.status;
        if (s == 400 || s == 403 || s == 409 || s == 410 || s == 412 || s >= 500) {
          // Some servers (Xandikos) answer an unknown token with a plain error.
          // If the collection itself answers, the token is what they refused.
          auto health = ReadCollection(client_, url_);
          if (health.ok() && health->is_calendar) {
            return Status::ResyncRequired("server refused the sync token: " +
                                          http::StatusForHttpError(answer, "sync-collection").message());
          }
        }
      }
      return http::StatusForHttpError(answer, "REPORT sync-collection " + url_);
    }
    if (outcome.sync_token.empty()) {
      return Status::Corruption("REPORT sync-collection " + url_ + ": answer without a sync-token");
    }
    current = outcome.sync_token;
    if (!truncated) break;
  }
  for (auto& w : warnings) out.warnings.push_back(std::move(w));

  if (!need_data.empty()) {
    if (initial && static_cast<int>(need_data.size()) > options_.multiget_batch_size) {
      // Whole-collection read, once (a multiget of every href is quadratic on some servers).
      std::vector<std::string>().swap(need_data);
      TANDEM_RETURN_IF_ERROR(CalendarQuery(nullptr, std::nullopt, true, out, nullptr));
    } else {
      std::vector<std::string> missing;
      TANDEM_RETURN_IF_ERROR(FetchByMultiget(need_data, out, &missing));
      // Changed, then gone before we could read it.
      if (!initial) deleted.insert(missing.begin(), missing.end());
    }
  }
  sync::ChangeSet changes;
  changes.complete = initial;
  changes.next_cursor = std::string(kSyncCursorPrefix) + current;
  changes.deleted.assign(deleted.begin(), deleted.end());
  return changes;
}

Result<sync::ChangeSet> CalDavCalendar::CtagSince(const std::string& cursor,
                                                  const sync::TimeRange& window, Collector& out) {
  std::string_view rest = std::string_view(cursor).substr(kCtagCursorPrefix.size());
  size_t eol = rest.find('\n');
  std::string old_ctag(rest.substr(0, eol));
  std::unordered_map<std::string, std::string> old_listing;  // href -> etag
  if (eol != std::string_view::npos) {
    std::string_view lines = rest.substr(eol + 1);
    while (!lines.empty()) {
      size_t end = lines.find('\n');
      std::string_view line = lines.substr(0, end);
      size_t tab = line.find('\t');
      if (tab != std::string_view::npos) {
        old_listing.emplace(std::string(line.substr(tab + 1)), std::string(line.substr(0, tab)));
      }
      if (end == std::string_view::npos) break;
      lines.remove_prefix(end + 1);
    }
  }
  TANDEM_ASSIGN_OR_RETURN(CalendarInfo info, Info(CollectionState::kWith));
  sync::ChangeSet changes;
  if (!old_ctag.empty() && info.ctag == old_ctag) {
    changes.next_cursor = cursor;
    return changes;
  }
  std::vector<std::pair<std::string, std::string>> listing;
  Collector ignore(nullptr);
  TANDEM_RETURN_IF_ERROR(
      CalendarQuery(HasWindow(window) ? &window : nullptr, std::nullopt, false, ignore, &listing));
  std::vector<std::string> to_fetch;
  std::unordered_set<std::string> listed;
  for (const auto& [href, etag] : listing) {
    listed.insert(href);
    auto it = old_listing.find(href);
    if (it == old_listing.end() || it->second != etag || etag.empty()) to_fetch.push_back(href);
  }
  // Gone from the listing: deleted, or moved out of the window. A multiget tells.
  std::vector<std::string> vanished;
  for (const auto& [href, etag] : old_listing) {
    if (!listed.count(href)) vanished.push_back(href);
  }
  std::sort(vanished.begin(), vanished.end());
  to_fetch.insert(to_fetch.end(), vanished.begin(), vanished.end());
  std::vector<std::string> missing;
  if (!to_fetch.empty()) TANDEM_RETURN_IF_ERROR(FetchByMultiget(to_fetch, out, &missing));
  changes.deleted = std::move(missing);
  changes.next_cursor = std::string(kCtagCursorPrefix) + info.ctag + "\n";
  for (const auto& [href, etag] : listing) changes.next_cursor += etag + "\t" + href + "\n";
  return changes;
}

Status CalDavCalendar::FetchByMultiget(const std::vector<std::string>& hrefs, Collector& out,
                                       std::vector<std::string>* missing) {
  const size_t batch = static_cast<size_t>(options_.multiget_batch_size);
  for (size_t start = 0; start < hrefs.size(); start += batch) {
    std::vector<std::string> chunk(hrefs.begin() + static_cast<ptrdiff_t>(start),
                                   hrefs.begin() + static_cast<ptrdiff_t>(std::min(hrefs.size(), start + batch)));
    std::unordered_set<std::string> answered;
    auto on_response = [&](DavResponse&& r) -> Status {
      std::string href = dav::HrefPath(r.href);
      const dav::XmlElement* data = r.Prop(kNsCalDav, "calendar-data");
      if (r.status == 404 || data == nullptr || data->text.empty()) return Status::Ok();
      answered.insert(dav::PercentDecode(href));
      return out.Add({href, r.PropText(kNsDav, "getetag"), data->text});
    };
    TANDEM_ASSIGN_OR_RETURN(
        ReportOutcome outcome,
        StreamMultistatus(client_, "REPORT", url_, "1",
                          dav::CalendarMultigetBody(chunk, {dav::DavProp("getetag"),
                                                            dav::CalDavProp("calendar-data")}),
                          on_response));
    if (outcome.http_status != 207) {
      return http::StatusForHttpError(AsResponse(outcome), "REPORT calendar-multiget " + url_);
    }
    if (missing != nullptr) {
      for (const auto& href : chunk) {
        if (!answered.count(dav::PercentDecode(dav::HrefPath(href)))) missing->push_back(href);
      }
    }
  }
  return Status::Ok();
}

Status CalDavCalendar::CalendarQuery(const sync::TimeRange* window, std::optional<std::string> uid,
                                     bool with_data, Collector& out,
                                     std::vector<std::pair<std::string, std::string>>* etags) {
  dav::CalendarQuery query;
  if (window != nullptr) {
    query.time_from = IcalUtc(window->from);
    query.time_to = IcalUtc(window->to);
  }
  query.uid = std::move(uid);
  std::vector<dav::PropName> props{dav::DavProp("getetag")};
  if (with_data) props.push_back(dav::CalDavProp("calendar-data"));
  auto on_response = [&](DavResponse&& r) -> Status {
    std::string href = dav::HrefPath(r.href);
    if (r.status >= 300 || dav::SameHref(href, path_)) return Status::Ok();
    std::string etag = r.PropText(kNsDav, "getetag");
    if (etags != nullptr) etags->emplace_back(href, etag);
    if (!with_data) return Status::Ok();
    const dav::XmlElement* data = r.Prop(kNsCalDav, "calendar-data");
    if (data == nullptr || data->text.empty()) {
      out.warnings.push_back(href + ": calendar-query answer without calendar-data");
      return Status::Ok();
    }
    return out.Add({href, etag, data->text});
  };
  TANDEM_ASSIGN_OR_RETURN(ReportOutcome outcome,
                          StreamMultistatus(client_, "REPORT", url_, "1",
                                            dav::CalendarQueryBody(query, props), on_response));
  if (outcome.http_status != 207) {
    return http::StatusForHttpError(AsResponse(outcome), "REPORT calendar-query " + url_);
  }
  return Status::Ok();
}

Result<std::vector<sync::Item>> CalDavCalendar::GetMany(const std::vector<std::string>& hrefs) {
  Collector out(nullptr);
  if (!hrefs.empty()) TANDEM_RETURN_IF_ERROR(FetchByMultiget(hrefs, out, nullptr));
  return out.TakeItems();
}

Result<sync::ItemRef> CalDavCalendar::Create(const std::string& uid, const std::string& ical) {
  if (uid.empty()) return Status::InvalidArgument("Create: empty UID");
  std::string href = HrefForUid(uid);
  http::Request put;
  put.method = "PUT";
  put.url = Absolute(href);
  put.headers.Add("Content-Type", "text/calendar; charset=utf-8");
  put.headers.Add("If-None-Match", "*");
  put.body = ical;
  TANDEM_ASSIGN_OR_RETURN(http::Response answer, client_.Send(put));
  if (answer.status >= 200 && answer.status <= 299) {
    sync::ItemRef ref{href, answer.headers.Get("ETag").value_or("")};
    if (auto location = answer.headers.Get("Location"); location && !location->empty()) {
      ref.href = dav::HrefPath(Absolute(*location));
    }
    return ref;
  }
  if (answer.status == 412) {
    return Status::AlreadyExists("an item already exists at " + href + " (UID " + uid + ")");
  }
  if ((answer.status == 403 || answer.status == 409) &&
      dav::HasErrorCondition(answer.body, kNsCalDav, "no-uid-conflict")) {
    return Status::AlreadyExists("the calendar already holds UID " + uid);
  }
  return http::StatusForHttpError(answer, "PUT " + put.url);
}

Result<sync::ItemRef> CalDavCalendar::Update(const std::string& href, const std::string& etag,
                                             const std::string& ical) {
  http::Request put;
  put.method = "PUT";
  put.url = Absolute(href);
  put.headers.Add("Content-Type", "text/calendar; charset=utf-8");
  if (!etag.empty()) put.headers.Add("If-Match", etag);
  put.body = ical;
  TANDEM_ASSIGN_OR_RETURN(http::Response answer, client_.Send(put));
  if (answer.status >= 200 && answer.status <= 299) {
    return sync::ItemRef{dav::HrefPath(put.url), answer.headers.Get("ETag").value_or("")};
  }
  return http::StatusForHttpError(answer, "PUT " + put.url);
}

Status CalDavCalendar::Delete(const std::string& href, const std::string& etag) {
  http::Request del;
  del.method = "DELETE";
  del.url = Absolute(href);
  if (!etag.empty()) del.headers.Add("If-Match", etag);
  TANDEM_ASSIGN_OR_RETURN(http::Response answer, client_.Send(del));
  if ((answer.status >= 200 && answer.status <= 299) || answer.status == 404 ||
      answer.status == 410) {
    return Status::Ok();
  }
  return http::StatusForHttpError(answer, "DELETE " + del.url);
}

Result<std::optional<sync::Item>> CalDavCalendar::FindByUid(const std::string& uid) {
  Collector out(nullptr);
  Status queried = CalendarQuery(nullptr, uid, true, out, nullptr);
  if (queried.ok()) {
    std::vector<sync::Item*> matches;
    for (auto& item : out.items) {
      if (IcalUid(item.ical) == uid) matches.push_back(&item);
    }
    if (matches.empty()) return std::optional<sync::Item>();
    std::sort(matches.begin(), matches.end(),
              [](const sync::Item* a, const sync::Item* b) { return a->href < b->href; });
    return std::optional<sync::Item>(std::move(*matches[0]));
  }
  if (!queried.Is(Code::kInvalidArgument) && !queried.Is(Code::kPermissionDenied)) return queried;
  // The server cannot filter by UID: look where Create would have put it.
  http::Request get;
  get.url = Absolute(HrefForUid(uid));
  TANDEM_ASSIGN_OR_RETURN(http::Response answer, client_.Send(get));
  if (answer.status == 404 || answer.status == 410) return std::optional<sync::Item>();
  if (answer.status != 200) return http::StatusForHttpError(answer, "GET " + get.url);
  if (IcalUid(answer.body) != uid) return std::optional<sync::Item>();
  return std::optional<sync::Item>(
      sync::Item{HrefForUid(uid), answer.headers.Get("ETag").value_or(""), answer.body});
}

}  // namespace tandem::providers::caldav
