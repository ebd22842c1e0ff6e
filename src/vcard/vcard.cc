#include "vcard/vcard.h"

#include <libebook-contacts/libebook-contacts.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

namespace tandem::vcard {

namespace {

// What EVCard warned about while this thread parsed (it skips a line it cannot
// read, with a warning): Parse refuses such a card instead of losing the line.
thread_local std::string* t_warning = nullptr;

// EVCard reports what it tolerates through GLib's log, which would write to
// stderr: to our log instead, and to the parse in progress.
void RouteLibraryLog() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_log_set_handler(
        "libebook-contacts", static_cast<GLogLevelFlags>(G_LOG_LEVEL_MASK),
        [](const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
          if (t_warning != nullptr && t_warning->empty()) *t_warning = message ? message : "?";
          spdlog::debug("[vcard] {}", message ? message : "");
        },
        nullptr);
  });
}

struct CardRef {
  EVCard* p = nullptr;
  explicit CardRef(EVCard* c) : p(c) {}
  ~CardRef() {
    if (p) g_object_unref(p);
  }
  CardRef(const CardRef&) = delete;
  CardRef& operator=(const CardRef&) = delete;
};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool Is(EVCardAttribute* a, std::string_view name) {
  const char* n = e_vcard_attribute_get_name(a);
  return n && Upper(n) == name;
}

// The attributes, copied out of the card's list (safe to remove while walking).
std::vector<EVCardAttribute*> Attributes(EVCard* c) {
  std::vector<EVCardAttribute*> out;
  for (GList* l = e_vcard_get_attributes(c); l; l = l->next) {
    out.push_back(static_cast<EVCardAttribute*>(l->data));
  }
  return out;
}

EVCardAttribute* First(EVCard* c, std::string_view name) {
  for (EVCardAttribute* a : Attributes(c)) {
    if (Is(a, name)) return a;
  }
  return nullptr;
}

std::vector<std::string> Values(EVCardAttribute* a) {
  std::vector<std::string> out;
  for (GList* v = e_vcard_attribute_get_values(a); v; v = v->next) {
    std::string value = v->data ? static_cast<const char*>(v->data) : "";
    // Line breaks as "\n" only: a CR (an escaped "\r" some writers use) is
    // written back as "\n", so the CRM keeps what a client will read.
    std::string normalized;
    normalized.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\r') {
        normalized += '\n';
        if (i + 1 < value.size() && value[i + 1] == '\n') ++i;
      } else {
        normalized += value[i];
      }
    }
    out.push_back(std::move(normalized));
  }
  return out;
}

// A text property's value (a ';' the client left unescaped split it: joined back).
std::string Text(EVCardAttribute* a) {
  std::string out;
  std::vector<std::string> v = Values(a);
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ';';
    out += v[i];
  }
  return out;
}

void SetValues(EVCardAttribute* a, const std::vector<std::string>& values) {
  e_vcard_attribute_remove_values(a);
  for (const std::string& v : values) e_vcard_attribute_add_value(a, v.c_str());
}

void RemoveAll(EVCard* c, std::string_view name) {
  for (EVCardAttribute* a : Attributes(c)) {
    if (Is(a, name)) e_vcard_remove_attribute(c, a);
  }
}

EVCardAttribute* Append(EVCard* c, const char* name, const std::vector<std::string>& values) {
  EVCardAttribute* a = e_vcard_attribute_new(nullptr, name);
  for (const std::string& v : values) e_vcard_attribute_add_value(a, v.c_str());
  e_vcard_append_attribute(c, a);
  return a;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

struct Names {
  std::string first, last;
  bool operator==(const Names&) const = default;
};

// The name a card gives: N's given and family names, else FN split at its last
// space ("Jane van Doe" -> "Jane van", "Doe"; one word is a last name).
Names NamesOf(EVCard* c) {
  Names n;
  if (EVCardAttribute* a = First(c, "N")) {
    std::vector<std::string> v = Values(a);
    if (!v.empty()) n.last = Trim(v[0]);
    if (v.size() > 1) n.first = Trim(v[1]);
    if (!n.first.empty() || !n.last.empty()) return n;
  }
  if (EVCardAttribute* a = First(c, "FN")) {
    std::string fn = Trim(Text(a));
    size_t space = fn.rfind(' ');
    if (space == std::string::npos) {
      n.last = fn;
    } else {
      n.first = Trim(fn.substr(0, space));
      n.last = Trim(fn.substr(space + 1));
    }
  }
  return n;
}

std::string Compose(const model::Contact& c) {
  if (c.first_name.empty()) return c.last_name;
  if (c.last_name.empty()) return c.first_name;
  return c.first_name + " " + c.last_name;
}

// The first `name` property with a value: the one the CRM maps (an empty one
// before it stays as written).
EVCardAttribute* FirstWithText(EVCard* c, std::string_view name) {
  for (EVCardAttribute* a : Attributes(c)) {
    if (Is(a, name) && !Trim(Text(a)).empty()) return a;
  }
  return nullptr;
}
EVCardAttribute* FirstOrganization(EVCard* c) {
  for (EVCardAttribute* a : Attributes(c)) {
    if (!Is(a, "ORG")) continue;
    std::vector<std::string> v = Values(a);
    if (!v.empty() && !Trim(v[0]).empty()) return a;
  }
  return nullptr;
}

bool IsEmailWithAt(EVCardAttribute* a) { return Is(a, "EMAIL") && Text(a).find('@') != std::string::npos; }
bool IsTelWithValue(EVCardAttribute* a) { return Is(a, "TEL") && !Trim(Text(a)).empty(); }

template <typename Pred>
EVCardAttribute* FirstWhere(EVCard* c, Pred&& pred) {
  for (EVCardAttribute* a : Attributes(c)) {
    if (pred(a)) return a;
  }
  return nullptr;
}

std::string PhoneOf(EVCardAttribute* a) {
  std::string v = Trim(Text(a));
  if (v.size() > 4 && Upper(v.substr(0, 4)) == "TEL:") v = v.substr(4);
  return v;
}

bool ValidName(const char* name) {
  if (name == nullptr || *name == '\0') return false;
  for (const char* p = name; *p; ++p) {
    const unsigned char ch = static_cast<unsigned char>(*p);
    if (!std::isalnum(ch) && ch != '-') return false;
  }
  return true;
}

// Lines of the text that begin a card ("BEGIN:VCARD", any case).
int CountLinesStarting(std::string_view text, std::string_view what) {
  int n = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? text.size() - pos : eol - pos);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (Upper(line) == what) ++n;
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return n;
}

std::vector<std::string> ParamValues(EVCardAttribute* a, const char* param) {
  std::vector<std::string> out;
  for (GList* v = e_vcard_attribute_get_param(a, param); v; v = v->next) {
    out.emplace_back(static_cast<const char*>(v->data));
  }
  return out;
}

void SetParam(EVCardAttribute* a, const char* param, const std::vector<std::string>& values) {
  e_vcard_attribute_remove_param(a, param);
  if (values.empty()) return;
  EVCardAttributeParam* p = e_vcard_attribute_param_new(param);
  for (const std::string& v : values) e_vcard_attribute_param_add_value(p, v.c_str());
  e_vcard_attribute_add_param(a, p);
}

bool IsBinaryProperty(EVCardAttribute* a) {
  return Is(a, "PHOTO") || Is(a, "LOGO") || Is(a, "SOUND") || Is(a, "KEY");
}

// The parameters that differ between 3.0 and 4.0, converted for `v`.
void ConvertFor(EVCardAttribute* a, Version v) {
  std::vector<std::string> types = ParamValues(a, "TYPE");
  auto pref = std::find_if(types.begin(), types.end(), [](const std::string& t) { return Upper(t) == "PREF"; });
  if (v == Version::k40) {
    if (pref != types.end()) {
      types.erase(pref);
      SetParam(a, "TYPE", types);
      SetParam(a, "PREF", {"1"});
    }
    if (Is(a, "EMAIL")) {
      std::erase_if(types, [](const std::string& t) { return Upper(t) == "INTERNET"; });
      SetParam(a, "TYPE", types);
    }
    if (IsBinaryProperty(a) && !ParamValues(a, "ENCODING").empty()) {
      std::string sub = types.empty() ? "octet-stream" : types.front();
      for (char& ch : sub) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const char* major = Is(a, "SOUND") ? "audio" : Is(a, "KEY") ? "application" : "image";
      const std::string data = fmt::format("data:{}/{};base64,{}", major, sub, Text(a));
      e_vcard_attribute_remove_param(a, "ENCODING");
      e_vcard_attribute_remove_param(a, "TYPE");
      SetValues(a, {data});
    }
    return;
  }
  if (!ParamValues(a, "PREF").empty()) {
    e_vcard_attribute_remove_param(a, "PREF");
    if (pref == types.end()) types.push_back("pref");
    SetParam(a, "TYPE", types);
  }
  if (IsBinaryProperty(a)) {
    const std::string value = Text(a);
    const size_t comma = value.find(',');
    if (value.starts_with("data:") && comma != std::string::npos &&
        value.substr(0, comma).ends_with(";base64")) {
      std::string mime = value.substr(5, comma - 5 - 7);
      const size_t slash = mime.find('/');
      std::string sub = Upper(slash == std::string::npos ? mime : mime.substr(slash + 1));
      SetValues(a, {value.substr(comma + 1)});
      SetParam(a, "ENCODING", {"b"});
      SetParam(a, "TYPE", {sub});
    }
  }
}

// Splits folded output into logical lines, and folds them again at 75 octets
// (never inside a UTF-8 sequence).
std::vector<std::string> Unfold(std::string_view text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find("\r\n", pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? text.size() - pos : eol - pos);
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t') && !lines.empty()) {
      lines.back() += line.substr(1);
    } else if (!line.empty()) {
      lines.emplace_back(line);
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 2;
  }
  return lines;
}

void AppendFolded(std::string* out, std::string_view line) {
  size_t limit = 75;
  while (line.size() > limit) {
    size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    *out += line.substr(0, cut);
    *out += "\r\n ";
    line.remove_prefix(cut);
    limit = 74;
  }
  *out += line;
  *out += "\r\n";
}

// In 4.0 an inline photo is a data: URI, which EVCard (a 3.0 writer) escapes as text.
std::string UnescapeDataUri(std::string line) {
  const size_t colon = line.find(":data:");
  if (colon == std::string::npos) return line;
  std::string head = Upper(line.substr(0, colon));
  const size_t dot = head.find('.');
  std::string name = head.substr(dot == std::string::npos ? 0 : dot + 1);
  name = name.substr(0, name.find(';'));
  if (name != "PHOTO" && name != "LOGO" && name != "SOUND" && name != "KEY") return line;
  std::string out = line.substr(0, colon + 1);
  for (size_t i = colon + 1; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && (line[i + 1] == ',' || line[i + 1] == ';')) continue;
    out += line[i];
  }
  return out;
}

}  // namespace

Result<Card> Parse(std::string_view text) {
  RouteLibraryLog();
  std::string_view body = text;
  if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.front()))) body.remove_prefix(1);
  if (Upper(body.substr(0, 11)) != "BEGIN:VCARD") {
    return Status::InvalidArgument("not a vCard: it must begin with BEGIN:VCARD");
  }
  const int begins = CountLinesStarting(body, "BEGIN:VCARD");
  if (begins != 1) return Status::InvalidArgument("one vCard per resource, this holds " + std::to_string(begins));
  if (CountLinesStarting(body, "END:VCARD") != 1) {
    return Status::InvalidArgument("the vCard does not end with END:VCARD");
  }
  if (body.find('\0') != std::string_view::npos) return Status::InvalidArgument("the vCard holds a NUL byte");
  const std::string owned(body);
  std::string warning;
  t_warning = &warning;
  CardRef card(e_vcard_new_from_string(owned.c_str()));
  if (card.p != nullptr) e_vcard_get_attributes(card.p);  // parses now (EVCard parses lazily)
  t_warning = nullptr;
  if (card.p == nullptr) return Status::InvalidArgument("not a readable vCard");
  if (!warning.empty()) return Status::InvalidArgument("the vCard has a line that cannot be read: " + warning);
  for (EVCardAttribute* a : Attributes(card.p)) {
    const char* name = e_vcard_attribute_get_name(a);
    if (!ValidName(name)) {
      return Status::InvalidArgument(fmt::format("not a vCard property line: \"{}\"", name ? name : ""));
    }
    if (Is(a, "BEGIN") || Is(a, "END")) {
      return Status::InvalidArgument("one vCard per resource: this one holds another BEGIN/END");
    }
    // Text that is not UTF-8 (raw, or once quoted-printable is decoded) is
    // refused: EVCard 3.46 overruns its buffer writing such a value back.
    for (GList* v = e_vcard_attribute_get_values(a); v; v = v->next) {
      if (v->data && !g_utf8_validate(static_cast<const char*>(v->data), -1, nullptr)) {
        return Status::InvalidArgument(fmt::format("{}: the value is not UTF-8 text", name));
      }
    }
  }
  Card out;
  model::Contact& c = out.contact;
  Names names = NamesOf(card.p);
  c.first_name = names.first;
  c.last_name = names.last;
  if (c.first_name.empty() && c.last_name.empty()) {
    if (EVCardAttribute* org = FirstOrganization(card.p)) {
      std::vector<std::string> v = Values(org);
      if (!v.empty()) c.last_name = Trim(v[0]);  // a company's card
    }
  }
  if (c.first_name.empty() && c.last_name.empty()) {
    return Status::InvalidArgument("the vCard has no name (FN or N)");
  }
  if (EVCardAttribute* a = FirstWhere(card.p, IsEmailWithAt)) c.email = Trim(Text(a));
  if (EVCardAttribute* a = FirstWhere(card.p, IsTelWithValue)) c.phone = PhoneOf(a);
  if (EVCardAttribute* a = FirstWithText(card.p, "TITLE")) c.job_title = Trim(Text(a));
  if (EVCardAttribute* a = FirstWithText(card.p, "NOTE")) c.notes = Text(a);
  if (EVCardAttribute* a = FirstOrganization(card.p)) {
    std::vector<std::string> v = Values(a);
    if (!v.empty()) out.organization = Trim(v[0]);
  }
  if (EVCardAttribute* a = First(card.p, "UID")) out.uid = Trim(Text(a));
  for (const char* gone : {"VERSION", "UID", "REV", "PRODID"}) RemoveAll(card.p, gone);
  gchar* extra = e_vcard_to_string(card.p, EVC_FORMAT_VCARD_30);
  c.vcard_extra = extra ? extra : "";
  g_free(extra);
  return out;
}

std::string WithoutOrganization(std::string_view vcard_extra) {
  RouteLibraryLog();
  if (vcard_extra.empty()) return std::string();
  const std::string owned(vcard_extra);
  CardRef card(e_vcard_new_from_string(owned.c_str()));
  RemoveAll(card.p, "ORG");
  gchar* s = e_vcard_to_string(card.p, EVC_FORMAT_VCARD_30);
  std::string out = s ? s : "";
  g_free(s);
  return out;
}

std::string Write(const model::Contact& c, const WriteOptions& o) {
  RouteLibraryLog();
  CardRef card(c.vcard_extra.empty() ? e_vcard_new() : e_vcard_new_from_string(c.vcard_extra.c_str()));
  for (const char* gone : {"VERSION", "UID", "REV", "PRODID"}) RemoveAll(card.p, gone);

  // The name: the client's FN while the CRM's name is the one the card gives.
  const Names crm{c.first_name, c.last_name};
  const bool name_unchanged = First(card.p, "FN") != nullptr && NamesOf(card.p) == crm;
  EVCardAttribute* n = First(card.p, "N");
  if (n == nullptr) {
    n = e_vcard_attribute_new(nullptr, "N");
    e_vcard_add_attribute(card.p, n);  // first
  }
  std::vector<std::string> parts = Values(n);
  parts.resize(std::max<size_t>(parts.size(), 5));
  parts[0] = c.last_name;
  parts[1] = c.first_name;
  SetValues(n, parts);
  if (!name_unchanged) {
    RemoveAll(card.p, "FN");
    EVCardAttribute* fn = e_vcard_attribute_new(nullptr, "FN");
    e_vcard_attribute_add_value(fn, Compose(c).c_str());
    e_vcard_add_attribute(card.p, fn);
  }

  auto set_single = [&](EVCardAttribute* existing, const char* name, const std::string& value) {
    if (value.empty()) {
      if (existing) e_vcard_remove_attribute(card.p, existing);
    } else if (existing) {
      SetValues(existing, {value});
    } else {
      EVCardAttribute* a = Append(card.p, name, {value});
      if (std::string_view(name) == "EMAIL" && o.version == Version::k30) SetParam(a, "TYPE", {"INTERNET"});
    }
  };
  set_single(FirstWhere(card.p, IsEmailWithAt), "EMAIL", c.email);
  EVCardAttribute* tel = FirstWhere(card.p, IsTelWithValue);
  std::string phone = c.phone;
  if (tel && !phone.empty() && Upper(Trim(Text(tel))).starts_with("TEL:")) phone = "tel:" + phone;
  set_single(tel, "TEL", phone);
  set_single(FirstWithText(card.p, "TITLE"), "TITLE", c.job_title);
  set_single(FirstWithText(card.p, "NOTE"), "NOTE", c.notes);
  if (o.organization) {
    EVCardAttribute* org = FirstOrganization(card.p);
    if (o.organization->empty()) {
      RemoveAll(card.p, "ORG");
    } else if (org) {
      std::vector<std::string> v = Values(org);
      if (v.empty()) v.resize(1);
      v[0] = *o.organization;
      SetValues(org, v);
    } else {
      Append(card.p, "ORG", {*o.organization});
    }
  }
  for (EVCardAttribute* a : Attributes(card.p)) ConvertFor(a, o.version);
  EVCardAttribute* uid = e_vcard_attribute_new(nullptr, "UID");
  e_vcard_attribute_add_value(uid, o.uid.c_str());
  e_vcard_add_attribute(card.p, uid);
  if (c.meta.modified != Instant{}) Append(card.p, "REV", {FormatBasicUtc(c.meta.modified)});

  gchar* s = e_vcard_to_string(card.p, EVC_FORMAT_VCARD_30);
  std::string written = s ? s : "";
  g_free(s);
  std::string out;
  out.reserve(written.size() + 64);
  for (std::string& line : Unfold(written)) {
    if (o.version == Version::k40) {
      if (Upper(line) == "VERSION:3.0") line = "VERSION:4.0";
      line = UnescapeDataUri(std::move(line));
    }
    AppendFolded(&out, line);
  }
  return out;
}

Version VersionFromMediaType(std::string_view media_type, std::string_view version_attribute) {
  if (Trim(version_attribute) == "4.0") return Version::k40;
  std::string m = Upper(media_type);
  m.erase(std::remove(m.begin(), m.end(), ' '), m.end());
  if (m.find("VERSION=4.0") != std::string::npos || m.find("VERSION=\"4.0\"") != std::string::npos) {
    return Version::k40;
  }
  return Version::k30;
}

}  // namespace tandem::vcard
