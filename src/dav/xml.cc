#include "dav/xml.h"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <cstring>

#include <fmt/format.h>

namespace tandem::dav {

const XmlElement* XmlElement::Child(std::string_view want_ns, std::string_view want_name) const {
  for (const auto& c : children) {
    if (c.Is(want_ns, want_name)) return &c;
  }
  return nullptr;
}

std::vector<const XmlElement*> XmlElement::Children(std::string_view want_ns,
                                                    std::string_view want_name) const {
  std::vector<const XmlElement*> out;
  for (const auto& c : children) {
    if (c.Is(want_ns, want_name)) out.push_back(&c);
  }
  return out;
}

std::string XmlElement::Attribute(std::string_view local_name) const {
  for (const auto& [k, v] : attributes) {
    if (k == local_name) return v;
  }
  return "";
}

std::string XmlElement::TrimmedText() const {
  size_t b = text.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = text.find_last_not_of(" \t\r\n");
  return text.substr(b, e - b + 1);
}

struct XmlStreamParser::State {
  int emit_depth;
  ElementSink sink;
  xmlParserCtxtPtr ctxt = nullptr;
  std::vector<XmlElement> stack;
  XmlElement root;
  bool have_root = false;
  Status failure;  // first error: forbidden construct, sink error or parse error

  void Fail(Status status) {
    if (failure.ok()) failure = std::move(status);
    if (ctxt != nullptr) xmlStopParser(ctxt);
  }
};

namespace {

using State = XmlStreamParser::State;

std::string Str(const xmlChar* s) { return s ? reinterpret_cast<const char*>(s) : ""; }

void OnStartElement(void* ctx, const xmlChar* localname, const xmlChar* /*prefix*/,
                    const xmlChar* uri, int /*nb_namespaces*/, const xmlChar** /*namespaces*/,
                    int nb_attributes, int /*nb_defaulted*/, const xmlChar** attributes) {
  auto* state = static_cast<State*>(ctx);
  if (!state->failure.ok()) return;
  XmlElement element;
  element.ns = Str(uri);
  element.name = Str(localname);
  // attributes: (localname, prefix, URI, value, end) per attribute
  for (int i = 0; i < nb_attributes; ++i) {
    const xmlChar** a = attributes + i * 5;
    element.attributes.emplace_back(Str(a[0]), std::string(reinterpret_cast<const char*>(a[3]),
                                                           reinterpret_cast<const char*>(a[4])));
  }
  state->stack.push_back(std::move(element));
}

void OnEndElement(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
  auto* state = static_cast<State*>(ctx);
  if (!state->failure.ok() || state->stack.empty()) return;
  int depth = static_cast<int>(state->stack.size()) - 1;
  XmlElement element = std::move(state->stack.back());
  state->stack.pop_back();
  if (depth == 0) {
    state->root = std::move(element);
    state->have_root = true;
  } else if (depth == state->emit_depth) {
    Status s = state->sink(std::move(element));
    if (!s.ok()) state->Fail(std::move(s));
  } else {
    state->stack.back().children.push_back(std::move(element));
  }
}

void OnCharacters(void* ctx, const xmlChar* ch, int len) {
  auto* state = static_cast<State*>(ctx);
  if (!state->failure.ok() || state->stack.empty()) return;
  state->stack.back().text.append(reinterpret_cast<const char*>(ch), static_cast<size_t>(len));
}

void OnDoctype(void* ctx, const xmlChar* name, const xmlChar*, const xmlChar*) {
  static_cast<State*>(ctx)->Fail(
      Status::Corruption(fmt::format("XML: DOCTYPE ({}) is not allowed", Str(name))));
}

void OnEntityDecl(void* ctx, const xmlChar* name, int, const xmlChar*, const xmlChar*, xmlChar*) {
  static_cast<State*>(ctx)->Fail(
      Status::Corruption(fmt::format("XML: entity declaration ({}) is not allowed", Str(name))));
}

xmlEntityPtr OnGetEntity(void* /*ctx*/, const xmlChar* name) {
  // Only the five predefined entities exist; libxml2 resolves those itself.
  return xmlGetPredefinedEntity(name);
}

// libxml2 passes the SAX user data (our State) to a SAX2 handler's serror.
void OnStructuredError(void* ctx, xmlErrorPtr error) {
  if (error == nullptr || error->level < XML_ERR_ERROR) return;
  auto* state = static_cast<State*>(ctx);
  std::string message = error->message ? error->message : "unknown error";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  state->Fail(Status::Corruption(
      fmt::format("XML: {} (line {}, column {})", message, error->line, error->int2)));
}

xmlSAXHandler MakeHandler() {
  xmlSAXHandler h;
  std::memset(&h, 0, sizeof(h));
  h.initialized = XML_SAX2_MAGIC;
  h.startElementNs = &OnStartElement;
  h.endElementNs = &OnEndElement;
  h.characters = &OnCharacters;
  h.cdataBlock = &OnCharacters;
  h.internalSubset = &OnDoctype;
  h.entityDecl = &OnEntityDecl;
  h.getEntity = &OnGetEntity;
  h.serror = &OnStructuredError;
  return h;
}

}  // namespace

XmlStreamParser::XmlStreamParser(int emit_depth, ElementSink sink) : state_(new State) {
  state_->emit_depth = emit_depth;
  state_->sink = std::move(sink);
  Reset();
}

XmlStreamParser::~XmlStreamParser() {
  if (state_->ctxt != nullptr) {
    xmlFreeParserCtxt(state_->ctxt);
  }
}

void XmlStreamParser::Reset() {
  if (state_->ctxt != nullptr) xmlFreeParserCtxt(state_->ctxt);
  state_->stack.clear();
  state_->root = XmlElement();
  state_->have_root = false;
  state_->failure = Status::Ok();
  static xmlSAXHandler handler = MakeHandler();
  state_->ctxt = xmlCreatePushParserCtxt(&handler, state_.get(), nullptr, 0, nullptr);
  if (state_->ctxt == nullptr) {
    state_->failure = Status::Internal("XML: cannot create parser");
    return;
  }
  xmlCtxtUseOptions(state_->ctxt, XML_PARSE_NONET);
  // Never substitute entities nor load any DTD, whatever the library defaults are.
  state_->ctxt->replaceEntities = 0;
  state_->ctxt->loadsubset = 0;
  state_->ctxt->validate = 0;
}

Status XmlStreamParser::Feed(std::string_view chunk) {
  if (!state_->failure.ok()) return state_->failure;
  size_t offset = 0;
  // xmlParseChunk takes an int size.
  constexpr size_t kMaxChunk = 1 << 24;
  while (offset < chunk.size()) {
    size_t n = std::min(kMaxChunk, chunk.size() - offset);
    int rc = xmlParseChunk(state_->ctxt, chunk.data() + offset, static_cast<int>(n), 0);
    if (!state_->failure.ok()) return state_->failure;
    if (rc != 0) {
      state_->Fail(Status::Corruption(fmt::format("XML: parse error {}", rc)));
      return state_->failure;
    }
    offset += n;
  }
  return Status::Ok();
}

Status XmlStreamParser::Finish() {
  if (!state_->failure.ok()) return state_->failure;
  int rc = xmlParseChunk(state_->ctxt, nullptr, 0, 1);
  if (!state_->failure.ok()) return state_->failure;
  if (rc != 0 || !state_->have_root) {
    state_->Fail(Status::Corruption(
        state_->have_root ? fmt::format("XML: parse error {}", rc) : "XML: document is incomplete"));
    return state_->failure;
  }
  return Status::Ok();
}

const XmlElement& XmlStreamParser::root() const { return state_->root; }

Result<XmlElement> ParseXml(std::string_view document) {
  XmlStreamParser parser(-1, [](XmlElement&&) { return Status::Ok(); });
  TANDEM_RETURN_IF_ERROR(parser.Feed(document));
  TANDEM_RETURN_IF_ERROR(parser.Finish());
  return parser.root();
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace tandem::dav
