// Hardened, namespace-aware XML for WebDAV/CalDAV, on libxml2's SAX2 push parser.
//
// Outside input is parsed with no network access (XML_PARSE_NONET), no entity
// substitution and no DTD loading; any DOCTYPE is rejected outright, so entity
// bombs ("billion laughs") and external entities (XXE) never get a chance.
// Documents can be fed in chunks as they arrive (XmlStreamParser), and elements
// at a chosen depth handed out and forgotten one by one, so a multistatus of
// 100,000 responses never sits in memory as a whole.
//
// Errors: Corruption for malformed or forbidden XML (message says what and where).
// Thread safety: parsers are single-threaded objects; free functions are reentrant.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace tandem::dav {

inline constexpr std::string_view kNsDav = "DAV:";
inline constexpr std::string_view kNsCalDav = "urn:ietf:params:xml:ns:caldav";
inline constexpr std::string_view kNsCalendarServer = "http://calendarserver.org/ns/";
inline constexpr std::string_view kNsAppleIcal = "http://apple.com/ns/ical/";

// One element with its namespace URI, local name, text and children.
struct XmlElement {
  std::string ns;
  std::string name;
  std::string text;  // concatenated character data directly inside this element
  std::vector<std::pair<std::string, std::string>> attributes;  // local name -> value
  std::vector<XmlElement> children;

  bool Is(std::string_view want_ns, std::string_view want_name) const {
    return ns == want_ns && name == want_name;
  }
  // First child with that name, or null.
  const XmlElement* Child(std::string_view want_ns, std::string_view want_name) const;
  std::vector<const XmlElement*> Children(std::string_view want_ns,
                                          std::string_view want_name) const;
  // Attribute value by local name ("" if absent).
  std::string Attribute(std::string_view local_name) const;
  // Text with surrounding white space removed.
  std::string TrimmedText() const;
};

// Incremental parser. Elements at `emit_depth` (root = 0) are passed to `sink`
// when they end and are not kept in the tree; a negative emit_depth keeps all.
// A non-OK Status from the sink stops parsing and is returned by Feed/Finish.
class XmlStreamParser {
 public:
  using ElementSink = std::function<Status(XmlElement&& element)>;
  XmlStreamParser(int emit_depth, ElementSink sink);
  ~XmlStreamParser();
  XmlStreamParser(const XmlStreamParser&) = delete;
  XmlStreamParser& operator=(const XmlStreamParser&) = delete;

  Status Feed(std::string_view chunk);
  // Ends the document; Corruption when it is incomplete.
  Status Finish();
  // The root element with its non-emitted children. REQUIRES: Finish() was OK.
  const XmlElement& root() const;
  // Discards all state so the parser can take a new document (e.g. after a retry).
  void Reset();

  struct State;  // libxml2 callbacks reach it; not part of the API

 private:
  std::unique_ptr<State> state_;
};

// Parses a whole document into a tree (for small bodies: DAV:error, propfind).
Result<XmlElement> ParseXml(std::string_view document);

// Escapes &, <, >, " and ' for use in element text or attribute values.
std::string XmlEscape(std::string_view text);

}  // namespace tandem::dav
