// FakeDavServer: a small in-memory CalDAV collection served over loopback by
// ScriptedServer, with switches for the behaviours real servers differ in
// (sync-collection or not, calendar-data inline in sync-collection or not, paging
// with 507, ETag on PUT or not) and a fault hook that can replace any answer or
// let a request take effect and then answer with an error ("500 after saving").
// Test-only. Thread-safe (one mutex around the collection).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dav/xml.h"
#include "tests/faulty_dav/scripted_server.h"

namespace tandem::testing {

struct FakeDavOptions {
  bool sync_collection = true;
  bool inline_data_in_sync = true;
  int sync_page_size = 0;  // > 0: answer at most this many changes, then 507
  bool etag_on_put = true;
  std::string collection = "/u/cal/";
  // A server that rewrites what it stores (adds properties, reorders...).
  std::function<std::string(const std::string&)> rewrite_on_put;
};

enum class FaultKind { kNone, kReplace, kAfterApply };
struct Fault {
  FaultKind kind = FaultKind::kNone;
  ScriptedReply reply;
};

class FakeDavServer {
 public:
  explicit FakeDavServer(FakeDavOptions options = {})
      : options_(std::move(options)),
        server_([this](const RecordedRequest& r) { return Handle(r); }) {}

  std::string CollectionUrl() const { return server_.Url(options_.collection); }
  ScriptedServer& http() { return server_; }

  void SetFault(std::function<Fault(const RecordedRequest&)> fault) {
    std::lock_guard lock(mu_);
    fault_ = std::move(fault);
  }

  // Server-side edits (as another client would make them).
  void Put(const std::string& name, const std::string& ical) {
    std::lock_guard lock(mu_);
    PutLocked(options_.collection + name, ical);
  }
  void Remove(const std::string& name) {
    std::lock_guard lock(mu_);
    RemoveLocked(options_.collection + name);
  }
  // Forgets the change history: every old token becomes invalid.
  void ForgetHistory() {
    std::lock_guard lock(mu_);
    ++epoch_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  std::vector<std::string> Hrefs() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [href, item] : items_) out.push_back(href);
    return out;
  }
  int Count(const std::string& method) const {
    int n = 0;
    for (const auto& r : server_.requests()) n += r.method == method;
    return n;
  }

  static std::string Event(const std::string& uid, const std::string& summary) {
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
           "\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z"
           "\r\nSUMMARY:" + summary + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  }

 private:
  struct StoredItem {
    std::string etag;
    std::string ical;
  };

  void PutLocked(const std::string& href, const std::string& ical) {
    items_[href] = {"\"v" + std::to_string(++etag_counter_) + "\"", ical};
    log_.push_back(href);
  }
  void RemoveLocked(const std::string& href) {
    items_.erase(href);
    log_.push_back(href);
  }
  std::string Token() const { return TokenAt(log_.size()); }
  std::string TokenAt(size_t n) const {
    return "tok-" + std::to_string(epoch_) + "-" + std::to_string(n);
  }

  static std::string Ms(const std::string& inner) {
    return R"(<?xml version="1.0"?><D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">)" +
           inner + "</D:multistatus>";
  }
  static std::string Escape(const std::string& s) { return dav::XmlEscape(s); }
  std::string ItemResponse(const std::string& href, bool with_data) const {
    auto it = items_.find(href);
    if (it == items_.end()) {
      return "<D:response><D:href>" + href + "</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>";
    }
    std::string props = "<D:getetag>" + Escape(it->second.etag) + "</D:getetag>";
    std::string missing;
    if (with_data) props += "<C:calendar-data>" + Escape(it->second.ical) + "</C:calendar-data>";
    return "<D:response><D:href>" + href + "</D:href><D:propstat><D:prop>" + props +
           "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>";
  }

  ScriptedReply Xml(int status, std::string body) {
    return ScriptedReply{.status = status,
                         .headers = {{"Content-Type", "application/xml; charset=utf-8"}},
                         .body = std::move(body)};
  }

  ScriptedReply Handle(const RecordedRequest& r) {
    std::lock_guard lock(mu_);
    Fault fault = fault_ ? fault_(r) : Fault{};
    if (fault.kind == FaultKind::kReplace) return fault.reply;
    ScriptedReply reply = Serve(r);
    if (fault.kind == FaultKind::kAfterApply) return fault.reply;
    return reply;
  }

  ScriptedReply Serve(const RecordedRequest& r) {
    const std::string& target = r.target;
    if (r.method == "PROPFIND") {
      std::string reports = "<D:supported-report><D:report><C:calendar-multiget/></D:report></D:supported-report>"
                            "<D:supported-report><D:report><C:calendar-query/></D:report></D:supported-report>";
      if (options_.sync_collection) {
        reports += "<D:supported-report><D:report><D:sync-collection/></D:report></D:supported-report>";
      }
      std::string props = "<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>"
                          "<D:displayname>Work</D:displayname><CS:getctag>ctag-" +
                          std::to_string(log_.size()) + "</CS:getctag><D:supported-report-set>" +
                          reports + "</D:supported-report-set>";
      if (options_.sync_collection) props += "<D:sync-token>" + Token() + "</D:sync-token>";
      return Xml(207, Ms("<D:response><D:href>" + options_.collection +
                         "</D:href><D:propstat><D:prop>" + props +
                         "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"));
    }
    if (r.method == "PROPPATCH") return Xml(403, "");
    if (r.method == "REPORT") {
      auto doc = dav::ParseXml(r.body);
      if (!doc.ok()) return Xml(400, "bad request body");
      if (doc->Is(dav::kNsDav, "sync-collection")) return SyncCollection(*doc);
      bool with_data = false;
      if (const auto* prop = doc->Child(dav::kNsDav, "prop")) {
        with_data = prop->Child(dav::kNsCalDav, "calendar-data") != nullptr;
      }
      std::string inner;
      if (doc->Is(dav::kNsCalDav, "calendar-multiget")) {
        for (const auto* href : doc->Children(dav::kNsDav, "href")) {
          inner += ItemResponse(href->TrimmedText(), with_data);
        }
      } else {  // calendar-query: UID filter honoured, time-range ignored (all match)
        std::string uid;
        if (const auto* f = doc->Child(dav::kNsCalDav, "filter")) {
          if (const auto* c1 = f->Child(dav::kNsCalDav, "comp-filter")) {
            if (const auto* c2 = c1->Child(dav::kNsCalDav, "comp-filter")) {
              if (const auto* p = c2->Child(dav::kNsCalDav, "prop-filter")) {
                uid = p->Child(dav::kNsCalDav, "text-match")->text;
              }
            }
          }
        }
        for (const auto& [href, item] : items_) {
          if (uid.empty() || item.ical.find("UID:" + uid) != std::string::npos) {
            inner += ItemResponse(href, with_data);
          }
        }
      }
      return Xml(207, Ms(inner));
    }
    if (r.method == "PUT") {
      auto it = items_.find(target);
      std::string if_match = r.Header("if-match");
      if (r.Header("if-none-match") == "*" && it != items_.end()) return {.status = 412};
      if (!if_match.empty() && (it == items_.end() || it->second.etag != if_match)) {
        return {.status = 412};
      }
      bool created = it == items_.end();
      PutLocked(target, options_.rewrite_on_put ? options_.rewrite_on_put(r.body) : r.body);
      ScriptedReply reply{.status = created ? 201 : 204};
      if (options_.etag_on_put) reply.headers.push_back({"ETag", items_[target].etag});
      return reply;
    }
    if (r.method == "DELETE") {
      auto it = items_.find(target);
      if (it == items_.end()) return {.status = 404};
      std::string if_match = r.Header("if-match");
      if (!if_match.empty() && it->second.etag != if_match) return {.status = 412};
      RemoveLocked(target);
      return {.status = 204};
    }
    if (r.method == "GET") {
      auto it = items_.find(target);
      if (it == items_.end()) return {.status = 404};
      return {.status = 200, .headers = {{"ETag", it->second.etag}}, .body = it->second.ical};
    }
    return {.status = 405};
  }

  ScriptedReply SyncCollection(const dav::XmlElement& doc) {
    if (!options_.sync_collection) return Xml(403, "");
    std::string token = doc.Child(dav::kNsDav, "sync-token")->TrimmedText();
    const size_t page = static_cast<size_t>(std::max(options_.sync_page_size, 0));
    std::vector<std::string> changed;
    std::string inner;
    std::string next = Token();
    bool truncated = false;
    if (token.empty() || token.starts_with("init-")) {
      // Initial listing, in pages of `page` items ("init-N" continues at N).
      size_t offset = token.empty() ? 0 : std::stoul(token.substr(5));
      size_t i = 0;
      for (const auto& [href, item] : items_) {
        if (i++ >= offset) changed.push_back(href);
      }
      if (page > 0 && changed.size() > page) {
        changed.resize(page);
        truncated = true;
        next = "init-" + std::to_string(offset + page);
      }
    } else {
      if (!token.starts_with("tok-")) {
        return Xml(403, R"(<D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>)");
      }
      std::string prefix = "tok-" + std::to_string(epoch_) + "-";
      if (!token.starts_with(prefix)) {
        return Xml(403, R"(<D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>)");
      }
      int from = std::stoi(token.substr(prefix.size()));
      if (from < 0 || from > static_cast<int>(log_.size())) {
        return Xml(403, R"(<D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>)");
      }
      size_t upto = static_cast<size_t>(from);
      std::map<std::string, bool> seen;
      for (; upto < log_.size(); ++upto) {
        if (seen.count(log_[upto])) continue;
        if (page > 0 && seen.size() == page) {
          truncated = true;
          break;
        }
        seen[log_[upto]] = true;
        changed.push_back(log_[upto]);
      }
      next = TokenAt(upto);
    }
    for (const auto& href : changed) {
      inner += ItemResponse(href, options_.inline_data_in_sync);
    }
    if (truncated) {
      inner += "<D:response><D:href>" + options_.collection +
               "</D:href><D:status>HTTP/1.1 507 Insufficient Storage</D:status></D:response>";
    }
    inner += "<D:sync-token>" + next + "</D:sync-token>";
    return Xml(207, Ms(inner));
  }

  FakeDavOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, StoredItem> items_;
  std::vector<std::string> log_;  // href touched by each change, in order
  int epoch_ = 0;
  int etag_counter_ = 0;
  std::function<Fault(const RecordedRequest&)> fault_;
  ScriptedServer server_;  // last: stops before the state above is destroyed
};

}  // namespace tandem::testing
