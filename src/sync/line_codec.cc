#include "sync/line_codec.h"

#include <fmt/format.h>

#include <charconv>
#include <functional>

namespace tandem::sync {
namespace {

Result<int64_t> ToInt(std::string_view v, std::string_view key) {
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    return Status::InvalidArgument(fmt::format("{}: not a number: {}", key, v));
  }
  return out;
}

}  // namespace

std::string WriteLineEvent(const LineEvent& e) {
  std::string out = fmt::format("UID={}\n", e.uid);
  if (!e.crm_id.empty()) out += fmt::format("CRMID={}\n", e.crm_id);
  out += fmt::format("TITLE={}\nSTART={}\nEND={}\nPRIVATE={}\nMOD={}\n", e.title, e.start, e.end,
                     e.is_private ? 1 : 0, e.modified_us);
  return out;
}

Result<LineEvent> ParseLineEvent(std::string_view text) {
  LineEvent e;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      return Status::InvalidArgument(fmt::format("no '=' in line: {}", line));
    std::string_view k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "UID") {
      e.uid = v;
    } else if (k == "CRMID") {
      e.crm_id = v;
    } else if (k == "TITLE") {
      e.title = v;
    } else if (k == "START") {
      TANDEM_ASSIGN_OR_RETURN(e.start, ToInt(v, k));
    } else if (k == "END") {
      TANDEM_ASSIGN_OR_RETURN(e.end, ToInt(v, k));
    } else if (k == "PRIVATE") {
      e.is_private = v == "1";
    } else if (k == "MOD") {
      TANDEM_ASSIGN_OR_RETURN(e.modified_us, ToInt(v, k));
    } else {
      return Status::InvalidArgument(fmt::format("unknown key: {}", k));
    }
  }
  if (e.uid.empty()) return Status::InvalidArgument("UID missing");
  return e;
}

Result<Observation> LineCodec::Digest(const Item& item, const TimeRange& window) const {
  TANDEM_ASSIGN_OR_RETURN(LineEvent e, ParseLineEvent(item.ical));
  Observation o;
  o.href = item.href;
  o.etag = item.etag;
  o.uid = e.uid;
  o.crm_id = e.crm_id;
  o.content_hash =
      fmt::format("{:016x}", std::hash<std::string>{}(fmt::format("{}\x1f{}\x1f{}\x1f{}", e.title,
                                                                  e.start, e.end, e.is_private)));
  if (e.modified_us != 0) o.modified = FromUnixMicros(e.modified_us);
  o.start = FromUnixSeconds(e.start);
  o.end = FromUnixSeconds(e.end);
  o.in_window =
      o.start < window.to && (o.end > window.from || (o.end == o.start && o.start >= window.from));
  o.is_private = e.is_private;
  o.title = e.title;
  o.title_key = NormalizeTitle(e.title);
  o.ical = item.ical;
  return o;
}

Result<std::string> LineCodec::Prepare(std::string_view ical, const PrepareOptions& options) const {
  TANDEM_ASSIGN_OR_RETURN(LineEvent e, ParseLineEvent(ical));
  e.uid = options.uid;
  if (!options.crm_id.empty()) e.crm_id = options.crm_id;
  return WriteLineEvent(e);
}

}  // namespace tandem::sync
