// WebDAV multistatus (RFC 4918 13, RFC 6578 sync-collection) and DAV:error bodies,
// read with the hardened parser of xml.h. MultistatusReader takes the body in
// chunks and hands out one DavResponse at a time, so memory stays bounded by the
// largest single response, not by the whole document.
//
// Errors: Corruption for malformed XML or a document that is not a multistatus.
// Thread safety: a reader is a single-threaded object; free functions are reentrant.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "dav/xml.h"

namespace tandem::dav {

struct Propstat {
  int status = 0;  // from "HTTP/1.1 200 OK"; 0 when missing or unreadable
  std::vector<XmlElement> props;
};

struct DavResponse {
  std::string href;  // as the server wrote it (path or absolute URL), trimmed
  int status = 0;    // response-level status (RFC 6578: 404 = removed, 507 = truncated)
  std::vector<Propstat> propstats;
  std::vector<XmlElement> error;  // children of DAV:error, if any

  // The property from a 2xx propstat, or null (absent, or 404/403 for it).
  const XmlElement* Prop(std::string_view ns, std::string_view name) const;
  // Text of that property, trimmed ("" when absent).
  std::string PropText(std::string_view ns, std::string_view name) const;
  // DAV:href children of that property (for principal / home-set properties).
  std::vector<std::string> PropHrefs(std::string_view ns, std::string_view name) const;
};

class MultistatusReader {
 public:
  using ResponseSink = std::function<Status(DavResponse&& response)>;
  explicit MultistatusReader(ResponseSink sink);

  Status Feed(std::string_view chunk) { return parser_.Feed(chunk); }
  // Corruption when the document is incomplete or its root is not DAV:multistatus.
  Status Finish();
  // Forget everything read so far (the transfer is being restarted).
  void Reset();
  // The top-level DAV:sync-token (RFC 6578), "" if none. Valid after Finish().
  const std::string& sync_token() const { return sync_token_; }
  int responses_read() const { return responses_read_; }

 private:
  Status OnElement(XmlElement&& element);
  ResponseSink sink_;
  XmlStreamParser parser_;
  std::string sync_token_;
  int responses_read_ = 0;
};

struct Multistatus {
  std::vector<DavResponse> responses;
  std::string sync_token;
};

// Parses a whole multistatus body.
Result<Multistatus> ParseMultistatus(std::string_view body);

// Converts one DAV:response element (used by MultistatusReader); consumes it
// (calendar-data text is moved, not copied).
DavResponse ToDavResponse(XmlElement&& response);

// "HTTP/1.1 207 Multi-Status" -> 207; 0 when unreadable.
int ParseStatusLine(std::string_view line);

// True when `body` is a DAV:error naming the precondition {ns}name.
bool HasErrorCondition(std::string_view body, std::string_view ns, std::string_view name);

// The path of an href: "http://h/a/b%40c.ics" -> "/a/b%40c.ics"; a path stays as is.
std::string HrefPath(std::string_view href);
// Compares two hrefs by their percent-decoded paths, ignoring a trailing slash.
bool SameHref(std::string_view a, std::string_view b);
// Percent-decodes a path ("%40" -> "@").
std::string PercentDecode(std::string_view text);

}  // namespace tandem::dav
