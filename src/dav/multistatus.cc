#include "dav/multistatus.h"

#include <libxml/uri.h>
#include <libxml/xmlmemory.h>

#include <cstdlib>

namespace tandem::dav {

const XmlElement* DavResponse::Prop(std::string_view ns, std::string_view name) const {
  for (const auto& propstat : propstats) {
    if (propstat.status < 200 || propstat.status > 299) continue;
    for (const auto& prop : propstat.props) {
      if (prop.Is(ns, name)) return &prop;
    }
  }
  return nullptr;
}

std::string DavResponse::PropText(std::string_view ns, std::string_view name) const {
  const XmlElement* prop = Prop(ns, name);
  return prop ? prop->TrimmedText() : "";
}

std::vector<std::string> DavResponse::PropHrefs(std::string_view ns, std::string_view name) const {
  std::vector<std::string> out;
  const XmlElement* prop = Prop(ns, name);
  if (prop == nullptr) return out;
  for (const XmlElement* href : prop->Children(kNsDav, "href")) {
    std::string text = href->TrimmedText();
    if (!text.empty()) out.push_back(text);
  }
  return out;
}

int ParseStatusLine(std::string_view line) {
  // "HTTP/1.1 200 OK": the second token.
  size_t space = line.find(' ');
  if (space == std::string_view::npos) return 0;
  std::string_view rest = line.substr(space + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.size() < 3) return 0;
  int code = 0;
  for (int i = 0; i < 3; ++i) {
    if (rest[i] < '0' || rest[i] > '9') return 0;
    code = code * 10 + (rest[i] - '0');
  }
  return code;
}

DavResponse ToDavResponse(XmlElement&& response) {
  DavResponse out;
  for (XmlElement& child : response.children) {
    if (child.Is(kNsDav, "href")) {
      if (out.href.empty()) out.href = child.TrimmedText();
    } else if (child.Is(kNsDav, "status")) {
      out.status = ParseStatusLine(child.TrimmedText());
    } else if (child.Is(kNsDav, "propstat")) {
      Propstat ps;
      for (XmlElement& part : child.children) {
        if (part.Is(kNsDav, "status")) ps.status = ParseStatusLine(part.TrimmedText());
        if (part.Is(kNsDav, "prop")) ps.props = std::move(part.children);
      }
      out.propstats.push_back(std::move(ps));
    } else if (child.Is(kNsDav, "error")) {
      out.error = std::move(child.children);
    }
  }
  return out;
}

MultistatusReader::MultistatusReader(ResponseSink sink)
    : sink_(std::move(sink)),
      parser_(1, [this](XmlElement&& element) { return OnElement(std::move(element)); }) {}

Status MultistatusReader::OnElement(XmlElement&& element) {
  if (element.Is(kNsDav, "response")) {
    ++responses_read_;
    return sink_(ToDavResponse(std::move(element)));
  }
  if (element.Is(kNsDav, "sync-token")) sync_token_ = element.TrimmedText();
  return Status::Ok();
}

Status MultistatusReader::Finish() {
  TANDEM_RETURN_IF_ERROR(parser_.Finish());
  if (!parser_.root().Is(kNsDav, "multistatus")) {
    return Status::Corruption("expected a DAV:multistatus, got {" + parser_.root().ns + "}" +
                              parser_.root().name);
  }
  return Status::Ok();
}

void MultistatusReader::Reset() {
  parser_.Reset();
  sync_token_.clear();
  responses_read_ = 0;
}

Result<Multistatus> ParseMultistatus(std::string_view body) {
  Multistatus out;
  MultistatusReader reader([&](DavResponse&& r) {
    out.responses.push_back(std::move(r));
    return Status::Ok();
  });
  TANDEM_RETURN_IF_ERROR(reader.Feed(body));
  TANDEM_RETURN_IF_ERROR(reader.Finish());
  out.sync_token = reader.sync_token();
  return out;
}

bool HasErrorCondition(std::string_view body, std::string_view ns, std::string_view name) {
  auto doc = ParseXml(body);
  if (!doc.ok() || !doc->Is(kNsDav, "error")) return false;
  return doc->Child(ns, name) != nullptr;
}

std::string HrefPath(std::string_view href) {
  size_t scheme = href.find("://");
  if (scheme == std::string_view::npos) return std::string(href);
  size_t path = href.find('/', scheme + 3);
  return path == std::string_view::npos ? "/" : std::string(href.substr(path));
}

std::string PercentDecode(std::string_view text) {
  std::string input(text);
  char* decoded = xmlURIUnescapeString(input.c_str(), static_cast<int>(input.size()), nullptr);
  if (decoded == nullptr) return input;
  std::string out(decoded);
  xmlFree(decoded);
  return out;
}

bool SameHref(std::string_view a, std::string_view b) {
  auto norm = [](std::string_view h) {
    std::string p = PercentDecode(HrefPath(h));
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
  };
  return norm(a) == norm(b);
}

}  // namespace tandem::dav
