#include "ical/prescan.h"

#include <unicode/utf8.h>

#include <cctype>
#include <cstdio>
#include <optional>

#include "ical/ical.h"

namespace tandem::ical::detail {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Column (1-based) of the first invalid UTF-8 sequence, 0 when valid (ICU's decoder).
int InvalidUtf8Column(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  int32_t length = static_cast<int32_t>(s.size());
  int32_t i = 0;
  while (i < length) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    int32_t at = i;
    UChar32 c;
    U8_NEXT(p, i, length, c);
    if (c < 0) return at + 1;
  }
  return 0;
}

// Name part of a content line and whether a ':' separates it from the value
// (outside quoted parameter values).
bool SplitName(std::string_view line, std::string_view* name, std::string_view* value) {
  size_t i = 0;
  while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '-'))
    ++i;
  if (i == 0) return false;
  *name = line.substr(0, i);
  bool quoted = false;
  for (size_t j = i; j < line.size(); ++j) {
    if (line[j] == '"') quoted = !quoted;
    if (!quoted && line[j] == ':') {
      if (j != i && line[i] != ';') return false;
      *value = line.substr(j + 1);
      return true;
    }
  }
  return false;
}

}  // namespace

int Prescanned::LineOf(std::string_view name, std::string_view fragment) const {
  for (const ContentLine& l : lines) {
    if (l.name != name) continue;
    if (std::string_view(text).substr(l.offset, l.length).find(fragment) != std::string_view::npos)
      return l.line;
  }
  return 0;
}

Result<Prescanned> Prescan(std::string_view ics) {
  if (ics.size() >= 3 && ics.substr(0, 3) == "\xEF\xBB\xBF") ics.remove_prefix(3);
  Prescanned out;
  out.text.reserve(ics.size() + ics.size() / 16);

  // Logical line being assembled.
  std::string logical;
  int logical_line = 0;
  struct Open {
    std::string component;
    int line;
  };
  std::vector<Open> stack;
  bool seen_calendar = false;

  auto error = [](int line, const std::string& what) {
    return Status::InvalidArgument("line " + std::to_string(line) + ": " + what);
  };

  auto flush = [&]() -> Status {
    if (logical_line == 0) return Status::Ok();
    std::string_view line = logical;
    int at = logical_line;
    logical_line = 0;
    // Checked after unfolding: folding may split a multi-byte character.
    if (int col = InvalidUtf8Column(line)) {
      return error(at, "invalid UTF-8 at column " + std::to_string(col) +
                           " of the unfolded line (iCalendar text must be UTF-8)");
    }
    std::string_view name, value;
    if (!SplitName(line, &name, &value)) {
      std::string shown(line.substr(0, 40));
      out.warnings.push_back("line " + std::to_string(at) + ": not a content line, ignored: '" +
                             shown + "'");
      return Status::Ok();
    }
    std::string uname = Upper(name);
    if (uname == "BEGIN") {
      std::string comp = Upper(value);
      while (!comp.empty() && (comp.back() == ' ' || comp.back() == '\t')) comp.pop_back();
      if (comp.empty()) return error(at, "BEGIN without a component name");
      if (stack.empty() && comp != "VCALENDAR")
        return error(at, "expected BEGIN:VCALENDAR, found BEGIN:" + comp);
      if (stack.size() > 32) return error(at, "components nested too deeply");
      if (comp == "VCALENDAR") seen_calendar = true;
      stack.push_back({comp, at});
    } else if (uname == "END") {
      std::string comp = Upper(value);
      while (!comp.empty() && (comp.back() == ' ' || comp.back() == '\t')) comp.pop_back();
      if (stack.empty()) return error(at, "END:" + comp + " without a matching BEGIN");
      if (stack.back().component != comp) {
        return error(at, "END:" + comp + " does not close BEGIN:" + stack.back().component +
                             " of line " + std::to_string(stack.back().line));
      }
      stack.pop_back();
    } else if (stack.empty()) {
      out.warnings.push_back("line " + std::to_string(at) + ": " + uname +
                             " outside VCALENDAR, ignored");
      return Status::Ok();
    }
    size_t start = out.text.size();
    // RFC 5545 escapes only \\ \; \, \n \N. A backslash before a non-ASCII
    // character is not an escape, and libical would split the character's bytes
    // (invalid UTF-8 in the value): the backslash is dropped, the character kept.
    size_t value_at = static_cast<size_t>(value.data() - line.data());
    out.text.append(line.substr(0, value_at));
    for (size_t i = value_at; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() &&
          static_cast<unsigned char>(line[i + 1]) >= 0x80) {
        continue;
      }
      out.text.push_back(line[i]);
      if (line[i] == '\\' && i + 1 < line.size()) out.text.push_back(line[++i]);
    }
    out.lines.push_back({at, std::move(uname), start, out.text.size() - start});
    out.text.append("\r\n");
    return Status::Ok();
  };

  int physical = 0;
  size_t pos = 0;
  while (pos < ics.size()) {
    // CRLF, LF and (old Mac exports) a lone CR all end a line.
    size_t end = ics.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = ics.size();
    std::string_view line = ics.substr(pos, end - pos);
    pos = end;
    if (pos < ics.size() && ics[pos] == '\r') ++pos;
    if (pos < ics.size() && ics[pos] == '\n' && (pos == end || ics[pos - 1] == '\r')) ++pos;
    ++physical;
    for (size_t i = 0; i < line.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      if ((c < 0x20 && c != '\t') || c == 0x7F) {
        char hex[8];
        snprintf(hex, sizeof(hex), "0x%02X", c);
        return error(physical, std::string("control character ") + hex + " at column " +
                                   std::to_string(i + 1));
      }
    }
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      if (logical_line != 0) {
        logical.append(line.substr(1));
        continue;
      }
      // A continuation with nothing to continue: blank-ish line.
      bool blank = line.find_first_not_of(" \t") == std::string_view::npos;
      if (blank) continue;
      out.warnings.push_back("line " + std::to_string(physical) +
                             ": folded continuation without a line to continue, ignored");
      continue;
    }
    TANDEM_RETURN_IF_ERROR(flush());
    if (line.empty()) continue;  // blank lines are tolerated and dropped
    logical.assign(line);
    logical_line = physical;
  }
  TANDEM_RETURN_IF_ERROR(flush());
  if (!stack.empty()) {
    return error(stack.back().line, "BEGIN:" + stack.back().component + " is never closed");
  }
  if (!seen_calendar) return Status::InvalidArgument("no BEGIN:VCALENDAR found");
  return out;
}

}  // namespace tandem::ical::detail

namespace tandem::ical {
namespace {

// The value of a content line named `name` ("UID", "UID;X=1"), or nullopt.
std::optional<std::string> ValueOf(std::string_view line, std::string_view name) {
  if (line.size() <= name.size()) return std::nullopt;
  for (size_t i = 0; i < name.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(line[i])) != name[i]) return std::nullopt;
  if (line[name.size()] != ':' && line[name.size()] != ';') return std::nullopt;
  // The value starts after the first colon outside a quoted parameter value.
  bool quoted = false;
  for (size_t i = name.size(); i < line.size(); ++i) {
    if (line[i] == '"') quoted = !quoted;
    if (line[i] == ':' && !quoted) return std::string(line.substr(i + 1));
  }
  return std::nullopt;
}

std::string Unescape(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) {
      char n = v[++i];
      out += (n == 'n' || n == 'N') ? ' ' : n;
    } else {
      out += v[i];
    }
  }
  return out;
}

std::string CutUtf8(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s + "...";
}

}  // namespace

ItemLabel Identify(std::string_view text) {
  ItemLabel label;
  std::string line;
  auto take = [&] {
    if (label.uid.empty())
      if (auto v = ValueOf(line, "UID")) label.uid = CutUtf8(*v, 255);
    if (label.summary.empty())
      if (auto v = ValueOf(line, "SUMMARY")) label.summary = CutUtf8(Unescape(*v), 120);
  };
  size_t at = 0;
  while (at < text.size() && (label.uid.empty() || label.summary.empty())) {
    size_t end = text.find('\n', at);
    std::string_view physical = text.substr(at, end == std::string_view::npos ? text.npos : end - at);
    at = end == std::string_view::npos ? text.size() : end + 1;
    if (!physical.empty() && physical.back() == '\r') physical.remove_suffix(1);
    if (!physical.empty() && (physical[0] == ' ' || physical[0] == '\t')) {
      line.append(physical.substr(1));  // a folded continuation
      continue;
    }
    take();
    line.assign(physical);
  }
  take();
  return label;
}

}  // namespace tandem::ical
