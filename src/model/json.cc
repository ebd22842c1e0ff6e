#include "model/json.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace tandem::model {
namespace {

Status TypeError(std::string_view field, std::string_view expected) {
  return Status::InvalidArgument(fmt::format("{}: must be {}", field, expected));
}

Status ReadString(const Json& j, const char* field, std::string* out) {
  auto it = j.find(field);
  if (it == j.end()) return Status::Ok();
  if (it->is_null()) {
    out->clear();
    return Status::Ok();
  }
  if (!it->is_string()) return TypeError(field, "a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadBool(const Json& j, const char* field, bool* out) {
  auto it = j.find(field);
  if (it == j.end()) return Status::Ok();
  if (!it->is_boolean()) return TypeError(field, "true or false");
  *out = it->get<bool>();
  return Status::Ok();
}

Status ReadInt(const Json& j, const char* field, int64_t* out) {
  auto it = j.find(field);
  if (it == j.end()) return Status::Ok();
  if (!it->is_number_integer()) return TypeError(field, "an integer");
  *out = it->get<int64_t>();
  return Status::Ok();
}

Status ReadInstant(const Json& j, const char* field, Instant* out) {
  auto it = j.find(field);
  if (it == j.end()) return Status::Ok();
  if (!it->is_string()) return TypeError(field, "an RFC 3339 date-time string");
  auto t = ParseRfc3339(it->get<std::string>());
  if (!t.ok()) return Status::InvalidArgument(fmt::format("{}: {}", field, t.status().message()));
  *out = *t;
  return Status::Ok();
}

template <typename E>
Status ReadEnum(const Json& j, const char* field, Result<E> (*parse)(std::string_view), E* out) {
  auto it = j.find(field);
  if (it == j.end()) return Status::Ok();
  if (!it->is_string()) return TypeError(field, "a string");
  auto v = parse(it->get<std::string>());
  if (!v.ok()) return Status::InvalidArgument(v.status().message());
  *out = *v;
  return Status::Ok();
}

Status ReadInstantList(const Json& j, const char* field, std::vector<Instant>* out) {
  auto it = j.find(field);
  if (it == j.end()) return Status::Ok();
  if (!it->is_array()) return TypeError(field, "an array of RFC 3339 date-times");
  std::vector<Instant> v;
  for (const auto& e : *it) {
    if (!e.is_string()) return TypeError(field, "an array of RFC 3339 date-times");
    auto t = ParseRfc3339(e.get<std::string>());
    if (!t.ok()) return Status::InvalidArgument(fmt::format("{}: {}", field, t.status().message()));
    v.push_back(*t);
  }
  *out = std::move(v);
  return Status::Ok();
}

Status RequireObject(const Json& j) {
  if (!j.is_object()) return Status::InvalidArgument("body: must be a JSON object");
  return Status::Ok();
}

void MetaToJson(const RecordMeta& m, Json& j) {
  j["id"] = m.id;
  j["owner_id"] = m.owner_id;
  j["shared"] = m.shared;
  j["created"] = FormatRfc3339(m.created);
  j["modified"] = FormatRfc3339(m.modified);
  j["version"] = m.version;
}

Status MergeMeta(const Json& j, RecordMeta* m) {
  TANDEM_RETURN_IF_ERROR(ReadString(j, "owner_id", &m->owner_id));
  return ReadBool(j, "shared", &m->shared);
}

Status ServerMeta(const Json& j, RecordMeta* m) {
  TANDEM_RETURN_IF_ERROR(ReadString(j, "id", &m->id));
  TANDEM_RETURN_IF_ERROR(ReadInstant(j, "created", &m->created));
  TANDEM_RETURN_IF_ERROR(ReadInstant(j, "modified", &m->modified));
  return ReadInt(j, "version", &m->version);
}

Json InstantList(const std::vector<Instant>& v) {
  Json a = Json::array();
  for (auto t : v) a.push_back(FormatRfc3339(t));
  return a;
}


// ------------------------------------------------------------ direct writer
//
// Writes JSON text straight from the structs. Keys are written in the order
// nlohmann's std::map keeps them (byte order), so the text equals
// ToJson(x).dump(); json_test.cc checks that for every record type.

// True when `s` is well-formed UTF-8 (Unicode table 3-7: no overlong forms, no
// surrogates, nothing above U+10FFFF). Such text is copied verbatim by dump().
bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  auto cont = [&](const unsigned char* q, unsigned char lo, unsigned char hi) {
    return q < end && *q >= lo && *q <= hi;
  };
  while (p < end) {
    unsigned char b = *p;
    if (b < 0x80) {
      ++p;
    } else if (b >= 0xC2 && b <= 0xDF) {
      if (!cont(p + 1, 0x80, 0xBF)) return false;
      p += 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      unsigned char lo = b == 0xE0 ? 0xA0 : 0x80;
      unsigned char hi = b == 0xED ? 0x9F : 0xBF;
      if (!cont(p + 1, lo, hi) || !cont(p + 2, 0x80, 0xBF)) return false;
      p += 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      unsigned char lo = b == 0xF0 ? 0x90 : 0x80;
      unsigned char hi = b == 0xF4 ? 0x8F : 0xBF;
      if (!cont(p + 1, lo, hi) || !cont(p + 2, 0x80, 0xBF) || !cont(p + 3, 0x80, 0xBF)) {
        return false;
      }
      p += 4;
    } else {
      return false;
    }
  }
  return true;
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

// FormatRfc3339(t) without its formatting and allocations, for years 0-9999;
// other years take FormatRfc3339 itself.
void AppendRfc3339(Instant t, std::string* out) {
  using namespace std::chrono;
  auto day = floor<days>(t);
  year_month_day ymd{day};
  int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {
    out->append(FormatRfc3339(t));
    return;
  }
  hh_mm_ss<microseconds> hms{t - day};
  char buf[32];
  char* p = buf;
  auto two = [&p](long v) {
    *p++ = static_cast<char>('0' + v / 10);
    *p++ = static_cast<char>('0' + v % 10);
  };
  two(year / 100);
  two(year % 100);
  *p++ = '-';
  two(static_cast<unsigned>(ymd.month()));
  *p++ = '-';
  two(static_cast<unsigned>(ymd.day()));
  *p++ = 'T';
  two(hms.hours().count());
  *p++ = ':';
  two(hms.minutes().count());
  *p++ = ':';
  two(hms.seconds().count());
  long frac = static_cast<long>(hms.subseconds().count());
  if (frac != 0) {
    *p++ = '.';
    char digits[6];
    for (int i = 5; i >= 0; --i, frac /= 10) digits[i] = static_cast<char>('0' + frac % 10);
    int n = 6;
    while (digits[n - 1] == '0') --n;
    p = std::copy(digits, digits + n, p);
  }
  *p++ = 'Z';
  out->append(buf, p);
}

// One JSON object being written; keys must be plain ASCII and come in order.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  ~ObjectWriter() { out_->push_back('}'); }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  ObjectWriter& Str(std::string_view key, std::string_view v) {
    Key(key);
    AppendJsonString(v, out_);
    return *this;
  }
  ObjectWriter& Int(std::string_view key, int64_t v) {
    Key(key);
    AppendInt(v, out_);
    return *this;
  }
  ObjectWriter& Bool(std::string_view key, bool v) {
    Key(key);
    out_->append(v ? "true" : "false");
    return *this;
  }
  ObjectWriter& OptionalInt(std::string_view key, const std::optional<int>& v) {
    Key(key);
    if (v) {
      AppendInt(*v, out_);
    } else {
      out_->append("null");
    }
    return *this;
  }
  ObjectWriter& Time(std::string_view key, Instant t) {
    Key(key);
    out_->push_back('"');
    AppendRfc3339(t, out_);  // RFC 3339 text never needs escaping
    out_->push_back('"');
    return *this;
  }
  ObjectWriter& Times(std::string_view key, const std::vector<Instant>& v) {
    Key(key);
    out_->push_back('[');
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) out_->push_back(',');
      out_->push_back('"');
      AppendRfc3339(v[i], out_);
      out_->push_back('"');
    }
    out_->push_back(']');
    return *this;
  }

 private:
  void Key(std::string_view key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    out_->push_back('"');
    out_->append(key);
    out_->append("\":");
  }

  std::string* out_;
  bool first_ = true;
};

}  // namespace

Json ToJson(const User& u) {
  return Json{{"id", u.id},
              {"login", u.login},
              {"display_name", u.display_name},
              {"email", u.email},
              {"role", RoleName(u.role)},
              {"disabled", u.disabled},
              {"time_zone", u.time_zone},
              {"created", FormatRfc3339(u.created)},
              {"modified", FormatRfc3339(u.modified)},
              {"version", u.version}};
}

Json ToJson(const Account& a) {
  Json j{{"name", a.name}, {"website", a.website}, {"phone", a.phone},
         {"address", a.address}, {"notes", a.notes}};
  MetaToJson(a.meta, j);
  return j;
}

Json ToJson(const Contact& c) {
  Json j{{"account_id", c.account_id}, {"first_name", c.first_name}, {"last_name", c.last_name},
         {"email", c.email},           {"phone", c.phone},           {"job_title", c.job_title},
         {"notes", c.notes},           {"vcard_extra", c.vcard_extra}};
  MetaToJson(c.meta, j);
  return j;
}

Json ToJson(const Opportunity& o) {
  Json j{{"name", o.name},
         {"account_id", o.account_id},
         {"contact_id", o.contact_id},
         {"stage", StageName(o.stage)},
         {"amount_cents", o.amount_cents},
         {"currency", o.currency},
         {"close_date", o.close_date},
         {"notes", o.notes}};
  MetaToJson(o.meta, j);
  return j;
}

Json ToJson(const Activity& a) {
  Json j{{"kind", KindName(a.kind)},
         {"subject", a.subject},
         {"location", a.location},
         {"description", a.description},
         {"start", FormatRfc3339(a.start)},
         {"end", FormatRfc3339(a.end)},
         {"all_day", a.all_day},
         {"time_zone", a.time_zone},
         {"show_as", ShowAsName(a.show_as)},
         {"private", a.is_private},
         {"reminder_minutes", a.reminder_minutes ? Json(*a.reminder_minutes) : Json(nullptr)},
         {"regarding_type", RegardingName(a.regarding_type)},
         {"regarding_id", a.regarding_id},
         {"rrule", a.rrule},
         {"exdates", InstantList(a.exdates)},
         {"rdates", InstantList(a.rdates)},
         {"ical_extra", a.ical_extra},
         {"cancelled", a.cancelled},
         {"sequence", a.sequence}};
  MetaToJson(a.meta, j);
  return j;
}

void AppendJsonString(std::string_view s, std::string* out) {
  bool ascii = true;
  for (char ch : s) {
    if (static_cast<unsigned char>(ch) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (!ascii && !IsValidUtf8(s)) {
    // Rare: let the library apply its own replacement of broken sequences.
    out->append(Json(s).dump(-1, ' ', false, Json::error_handler_t::replace));
    return;
  }
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t plain_from = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b != '"' && b != '\\') continue;
    out->append(s.data() + plain_from, i - plain_from);
    plain_from = i + 1;
    switch (b) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        char esc[6] = {'\\', 'u', '0', '0', kHex[b >> 4], kHex[b & 0xF]};
        out->append(esc, sizeof esc);
      }
    }
  }
  out->append(s.data() + plain_from, s.size() - plain_from);
  out->push_back('"');
}

void AppendJson(const Account& a, std::string* out) {
  ObjectWriter w(out);
  w.Str("address", a.address)
      .Time("created", a.meta.created)
      .Str("id", a.meta.id)
      .Time("modified", a.meta.modified)
      .Str("name", a.name)
      .Str("notes", a.notes)
      .Str("owner_id", a.meta.owner_id)
      .Str("phone", a.phone)
      .Bool("shared", a.meta.shared)
      .Int("version", a.meta.version)
      .Str("website", a.website);
}

void AppendJson(const Contact& c, std::string* out) {
  ObjectWriter w(out);
  w.Str("account_id", c.account_id)
      .Time("created", c.meta.created)
      .Str("email", c.email)
      .Str("first_name", c.first_name)
      .Str("id", c.meta.id)
      .Str("job_title", c.job_title)
      .Str("last_name", c.last_name)
      .Time("modified", c.meta.modified)
      .Str("notes", c.notes)
      .Str("owner_id", c.meta.owner_id)
      .Str("phone", c.phone)
      .Bool("shared", c.meta.shared)
      .Str("vcard_extra", c.vcard_extra)
      .Int("version", c.meta.version);
}

void AppendJson(const Opportunity& o, std::string* out) {
  ObjectWriter w(out);
  w.Str("account_id", o.account_id)
      .Int("amount_cents", o.amount_cents)
      .Str("close_date", o.close_date)
      .Str("contact_id", o.contact_id)
      .Time("created", o.meta.created)
      .Str("currency", o.currency)
      .Str("id", o.meta.id)
      .Time("modified", o.meta.modified)
      .Str("name", o.name)
      .Str("notes", o.notes)
      .Str("owner_id", o.meta.owner_id)
      .Bool("shared", o.meta.shared)
      .Str("stage", StageName(o.stage))
      .Int("version", o.meta.version);
}

void AppendJson(const Activity& a, std::string* out) {
  ObjectWriter w(out);
  w.Bool("all_day", a.all_day)
      .Bool("cancelled", a.cancelled)
      .Time("created", a.meta.created)
      .Str("description", a.description)
      .Time("end", a.end)
      .Times("exdates", a.exdates)
      .Str("ical_extra", a.ical_extra)
      .Str("id", a.meta.id)
      .Str("kind", KindName(a.kind))
      .Str("location", a.location)
      .Time("modified", a.meta.modified)
      .Str("owner_id", a.meta.owner_id)
      .Bool("private", a.is_private)
      .Times("rdates", a.rdates)
      .Str("regarding_id", a.regarding_id)
      .Str("regarding_type", RegardingName(a.regarding_type))
      .OptionalInt("reminder_minutes", a.reminder_minutes)
      .Str("rrule", a.rrule)
      .Int("sequence", a.sequence)
      .Bool("shared", a.meta.shared)
      .Str("show_as", ShowAsName(a.show_as))
      .Time("start", a.start)
      .Str("subject", a.subject)
      .Str("time_zone", a.time_zone)
      .Int("version", a.meta.version);
}

Status MergeJson(const Json& j, User* u) {
  TANDEM_RETURN_IF_ERROR(RequireObject(j));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "login", &u->login));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "display_name", &u->display_name));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "email", &u->email));
  TANDEM_RETURN_IF_ERROR(ReadEnum(j, "role", &ParseRole, &u->role));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "time_zone", &u->time_zone));
  return ReadBool(j, "disabled", &u->disabled);
}

Status MergeJson(const Json& j, Account* a) {
  TANDEM_RETURN_IF_ERROR(RequireObject(j));
  TANDEM_RETURN_IF_ERROR(MergeMeta(j, &a->meta));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "name", &a->name));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "website", &a->website));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "phone", &a->phone));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "address", &a->address));
  return ReadString(j, "notes", &a->notes);
}

Status MergeJson(const Json& j, Contact* c) {
  TANDEM_RETURN_IF_ERROR(RequireObject(j));
  TANDEM_RETURN_IF_ERROR(MergeMeta(j, &c->meta));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "account_id", &c->account_id));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "first_name", &c->first_name));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "last_name", &c->last_name));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "email", &c->email));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "phone", &c->phone));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "job_title", &c->job_title));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "notes", &c->notes));
  return ReadString(j, "vcard_extra", &c->vcard_extra);
}

Status MergeJson(const Json& j, Opportunity* o) {
  TANDEM_RETURN_IF_ERROR(RequireObject(j));
  TANDEM_RETURN_IF_ERROR(MergeMeta(j, &o->meta));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "name", &o->name));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "account_id", &o->account_id));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "contact_id", &o->contact_id));
  TANDEM_RETURN_IF_ERROR(ReadEnum(j, "stage", &ParseStage, &o->stage));
  TANDEM_RETURN_IF_ERROR(ReadInt(j, "amount_cents", &o->amount_cents));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "currency", &o->currency));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "close_date", &o->close_date));
  return ReadString(j, "notes", &o->notes);
}

Status MergeJson(const Json& j, Activity* a) {
  TANDEM_RETURN_IF_ERROR(RequireObject(j));
  TANDEM_RETURN_IF_ERROR(MergeMeta(j, &a->meta));
  TANDEM_RETURN_IF_ERROR(ReadEnum(j, "kind", &ParseKind, &a->kind));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "subject", &a->subject));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "location", &a->location));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "description", &a->description));
  TANDEM_RETURN_IF_ERROR(ReadInstant(j, "start", &a->start));
  TANDEM_RETURN_IF_ERROR(ReadInstant(j, "end", &a->end));
  TANDEM_RETURN_IF_ERROR(ReadBool(j, "all_day", &a->all_day));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "time_zone", &a->time_zone));
  TANDEM_RETURN_IF_ERROR(ReadEnum(j, "show_as", &ParseShowAs, &a->show_as));
  TANDEM_RETURN_IF_ERROR(ReadBool(j, "private", &a->is_private));
  if (auto it = j.find("reminder_minutes"); it != j.end()) {
    if (it->is_null()) {
      a->reminder_minutes.reset();
    } else if (it->is_number_integer()) {
      a->reminder_minutes = it->get<int>();
    } else {
      return TypeError("reminder_minutes", "an integer or null");
    }
  }
  TANDEM_RETURN_IF_ERROR(ReadEnum(j, "regarding_type", &ParseRegarding, &a->regarding_type));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "regarding_id", &a->regarding_id));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "rrule", &a->rrule));
  TANDEM_RETURN_IF_ERROR(ReadInstantList(j, "exdates", &a->exdates));
  TANDEM_RETURN_IF_ERROR(ReadInstantList(j, "rdates", &a->rdates));
  TANDEM_RETURN_IF_ERROR(ReadBool(j, "cancelled", &a->cancelled));
  TANDEM_RETURN_IF_ERROR(ReadInt(j, "sequence", &a->sequence));
  return ReadString(j, "ical_extra", &a->ical_extra);
}

Status FromServerJson(const Json& j, Account* a) {
  TANDEM_RETURN_IF_ERROR(MergeJson(j, a));
  return ServerMeta(j, &a->meta);
}
Status FromServerJson(const Json& j, Contact* c) {
  TANDEM_RETURN_IF_ERROR(MergeJson(j, c));
  return ServerMeta(j, &c->meta);
}
Status FromServerJson(const Json& j, Opportunity* o) {
  TANDEM_RETURN_IF_ERROR(MergeJson(j, o));
  return ServerMeta(j, &o->meta);
}
Status FromServerJson(const Json& j, Activity* a) {
  TANDEM_RETURN_IF_ERROR(MergeJson(j, a));
  return ServerMeta(j, &a->meta);
}
Status FromServerJson(const Json& j, User* u) {
  TANDEM_RETURN_IF_ERROR(MergeJson(j, u));
  TANDEM_RETURN_IF_ERROR(ReadString(j, "id", &u->id));
  TANDEM_RETURN_IF_ERROR(ReadInstant(j, "created", &u->created));
  TANDEM_RETURN_IF_ERROR(ReadInstant(j, "modified", &u->modified));
  return ReadInt(j, "version", &u->version);
}

}  // namespace tandem::model
