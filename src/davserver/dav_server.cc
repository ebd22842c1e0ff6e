#include "davserver/dav_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "dav/multistatus.h"
#include "dav/xml.h"
#include "ical/ical.h"
#include "sync/crm_side.h"
#include "vcard/vcard.h"

namespace tandem::davserver {

namespace {

using http::ServerRequest;
using http::ServerResponse;

constexpr std::string_view kNsCardDav = "urn:ietf:params:xml:ns:carddav";
// Our own elements in error bodies (the reason a write was refused).
constexpr std::string_view kNsTandem = "urn:tandem:dav";
constexpr std::string_view kAppointments = "appointments";
constexpr std::string_view kTasks = "tasks";
constexpr std::string_view kContacts = "contacts";
constexpr std::string_view kSyncTokenPrefix = "urn:tandem:sync:";
constexpr int kMaxSyncChanges = 10000;

// ---------------------------------------------------------------- XML output

struct PropKey {
  std::string ns;
  std::string name;
  bool operator==(const PropKey& o) const { return ns == o.ns && name == o.name; }
};

std::string_view PrefixOf(std::string_view ns) {
  if (ns == dav::kNsDav) return "d";
  if (ns == dav::kNsCalDav) return "c";
  if (ns == dav::kNsCalendarServer) return "cs";
  if (ns == dav::kNsAppleIcal) return "ic";
  if (ns == kNsCardDav) return "card";
  return {};
}

constexpr std::string_view kRootNamespaces =
    " xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\""
    " xmlns:cs=\"http://calendarserver.org/ns/\" xmlns:ic=\"http://apple.com/ns/ical/\""
    " xmlns:card=\"urn:ietf:params:xml:ns:carddav\"";

// <p:name>inner</p:name>, or with its own default namespace for one we do not prefix.
void AppendElement(std::string* out, const PropKey& k, std::string_view inner) {
  std::string_view p = PrefixOf(k.ns);
  std::string tag = p.empty() ? k.name : fmt::format("{}:{}", p, k.name);
  std::string ns_attr = p.empty() ? fmt::format(" xmlns=\"{}\"", dav::XmlEscape(k.ns)) : "";
  if (inner.empty()) {
    *out += fmt::format("<{}{}/>", tag, ns_attr);
  } else {
    *out += fmt::format("<{}{}>{}</{}>", tag, ns_attr, inner, tag);
  }
}

std::string Href(std::string_view path) { return fmt::format("<d:href>{}</d:href>", dav::XmlEscape(path)); }

ServerResponse XmlResponse(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.body = std::move(body);
  r.SetHeader("Content-Type", "application/xml; charset=utf-8");
  return r;
}

// A DAV:error body naming the precondition ({ns}name, with optional inner XML)
// and our reason in words.
ServerResponse DavError(int status, const PropKey& condition, std::string_view reason,
                        std::string_view inner = {}) {
  std::string body = fmt::format("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error{}>",
                                 kRootNamespaces);
  AppendElement(&body, condition, inner);
  if (!reason.empty()) {
    body += fmt::format("<reason xmlns=\"{}\">{}</reason>", kNsTandem, dav::XmlEscape(reason));
  }
  body += "</d:error>\n";
  return XmlResponse(status, std::move(body));
}

ServerResponse PlainError(int status, std::string_view message) {
  return ServerResponse::Text(status, std::string(message) + "\n");
}

std::string HttpDate(Instant t) {
  std::time_t secs = static_cast<std::time_t>(ToUnixMicros(t) / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// RFC 5545 DATE-TIME in UTC ("20261201T100000Z"), as CalDAV's time-range uses.
std::optional<Instant> ParseUtcDateTime(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  std::string iso = fmt::format("{}-{}-{}T{}:{}:{}Z", s.substr(0, 4), s.substr(4, 2), s.substr(6, 2),
                                s.substr(9, 2), s.substr(11, 2), s.substr(13, 2));
  auto t = ParseRfc3339(iso);
  if (!t.ok()) return std::nullopt;
  return *t;
}

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '@';
}

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool ContainsIgnoreCase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
  return it != hay.end();
}

// Account names looked up by the request this thread serves (DavServer::Impl::AccountName).
thread_local std::unordered_map<std::string, std::string> t_account_names;

}  // namespace

// ---------------------------------------------------------------- the server

struct DavServer::Impl {
  DavServerOptions o;

  enum class Kind { kRoot, kPrincipals, kPrincipal, kCalendarHome, kCalendar, kObject, kBookHome, kBook, kCard };
  // The calendar collections of a user's calendar home (kCalendar, kObject).
  enum class Cal { kAppointments, kTasks };

  // What a request names, once authorized.
  struct Target {
    Kind kind = Kind::kRoot;
    Cal cal = Cal::kAppointments;  // kCalendar, kObject: which calendar
    std::string href;
    const model::User* user = nullptr;       // the caller
    std::optional<model::Activity> activity;  // kObject, when it exists
    std::optional<model::Contact> contact;    // kCard, when it exists
    std::string name;                          // kObject, kCard: the resource name as requested
    vcard::Version version = vcard::Version::k30;  // kCard: the vCard version asked for
    std::string data;  // the item's iCalendar or vCard once rendered (rendered on demand when empty)
  };

  // One response of a multistatus being built.
  struct Entry {
    Target target;
    int status = 0;  // a status instead of properties (a removed member: 404)
  };

  // ---- paths
  std::string PrincipalHref(const model::User& u) const {
    return fmt::format("/dav/principals/{}/", PercentEncode(u.id));
  }
  std::string CalendarHomeHref(const model::User& u) const {
    return fmt::format("/dav/calendars/{}/", PercentEncode(u.id));
  }
  std::string BookHomeHref(const model::User& u) const {
    return fmt::format("/dav/addressbooks/{}/", PercentEncode(u.id));
  }
  static std::string_view SegmentOf(Cal c) { return c == Cal::kTasks ? kTasks : kAppointments; }
  static std::optional<Cal> CalNamed(std::string_view segment) {
    if (segment == kAppointments) return Cal::kAppointments;
    if (segment == kTasks) return Cal::kTasks;
    return std::nullopt;
  }
  std::string CalendarHref(const model::User& u, Cal c = Cal::kAppointments) const {
    return CalendarHomeHref(u) + std::string(SegmentOf(c)) + "/";
  }
  // The sync-state key of a calendar's UIDs and client-chosen names: the
  // appointments share the calendar sync's (u.id, so an event keeps its UID
  // whichever way it came), the tasks have their own.
  static std::string CalKey(const model::User& u, Cal c) {
    return c == Cal::kTasks ? u.id + "/tasks" : u.id;
  }

  std::string BookHref(const model::User& u) const {
    return BookHomeHref(u) + std::string(kContacts) + "/";
  }
  // The address book's UIDs and client-chosen names live in the sync state
  // under their own key, apart from the calendar's.
  static std::string BookKey(const model::User& u) { return u.id + "/contacts"; }

  static bool InBook(const model::Contact& c, const model::User& u) { return c.meta.owner_id == u.id; }

  static std::string CardETag(const model::Contact& c) { return model::ItemETagOf(c.meta); }

  Result<std::string> CardUid(const model::User& u, const std::string& contact_id) const {
    TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> uid, o.state->UidForCrmId(BookKey(u), contact_id));
    return uid.value_or(contact_id);
  }
  Result<std::string> CardNameOf(const model::User& u, const std::string& contact_id) const {
    TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> chosen, o.state->DavNameOf(BookKey(u), contact_id));
    if (chosen) return *chosen;
    TANDEM_ASSIGN_OR_RETURN(std::string uid, CardUid(u, contact_id));
    if (uid.find('/') == std::string::npos) return uid + ".vcf";
    return contact_id + ".vcf";
  }
  Result<std::string> CardHref(const model::User& u, const std::string& contact_id) const {
    TANDEM_ASSIGN_OR_RETURN(std::string name, CardNameOf(u, contact_id));
    return BookHref(u) + PercentEncode(name);
  }
  Result<std::optional<model::Contact>> ResolveCard(const model::User& u, std::string_view name) const {
    std::string id;
    TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> chosen, o.state->ActivityForDavName(BookKey(u), name));
    if (chosen) {
      id = *chosen;
    } else {
      std::string_view stem = name;
      if (stem.size() > 4 && stem.substr(stem.size() - 4) == ".vcf") stem.remove_suffix(4);
      TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> by_uid, o.state->CrmIdForUid(BookKey(u), stem));
      id = by_uid.value_or(std::string(stem));
    }
    Result<model::Contact> c = o.store->GetContact(id);
    if (!c.ok()) {
      if (c.status().Is(Code::kNotFound)) return std::optional<model::Contact>();
      return c.status();
    }
    if (!InBook(*c, u)) return std::optional<model::Contact>();
    return std::optional<model::Contact>(std::move(*c));
  }

  // The account's name for a card's ORG (nullopt: no account, the card's own ORG
  // stays). Remembered for the request (a listing names few accounts many times).
  std::optional<std::string> AccountName(const std::string& account_id) const {
    if (account_id.empty()) return std::nullopt;
    auto it = t_account_names.find(account_id);
    if (it != t_account_names.end()) return it->second;
    Result<model::Account> a = o.store->GetAccount(account_id);
    if (!a.ok()) return std::nullopt;
    t_account_names.emplace(account_id, a->name);
    return a->name;
  }

  // The account a card's ORG names, among those the user may see ("" none).
  Result<std::string> AccountForOrganization(const model::User& u, const std::string& org) const {
    if (org.empty()) return std::string();
    store::ListOptions lo;
    lo.limit = 1000;
    lo.viewer = store::Viewer{u.id, u.role == model::Role::kAdmin};
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(store::Page<model::Account> page, o.store->ListAccounts(lo));
      for (const model::Account& a : page.items) {
        if (EqualsIgnoreCase(a.name, org)) return a.meta.id;
      }
      if (page.next_page_after.empty()) return std::string();
      lo.page_after = page.next_page_after;
    }
  }

  Result<std::string> RenderCard(const model::User& u, const model::Contact& c, vcard::Version v) const {
    vcard::WriteOptions wo;
    wo.version = v;
    TANDEM_ASSIGN_OR_RETURN(wo.uid, CardUid(u, c.meta.id));
    wo.organization = AccountName(c.account_id);
    return vcard::Write(c, wo);
  }

  sync::CrmSide SideFor(const model::User& u) const {
    sync::CrmSideOptions so;
    so.store = o.store;
    so.state = o.state;
    so.ids = o.ids;
    so.user_id = u.id;
    so.map.default_zone = u.time_zone.empty() ? o.default_zone : u.time_zone;
    return sync::CrmSide(std::move(so));
  }

  // An activity belongs to the appointments calendar (the user's own, not a
  // task) or to the task list (the user's own tasks).
  static bool InCalendar(const model::Activity& a, const model::User& u, Cal c) {
    return a.meta.owner_id == u.id && (a.kind == model::ActivityKind::kTask) == (c == Cal::kTasks);
  }

  // The iCalendar of an activity as its calendar serves it: an appointment as the
  // calendar sync's CRM side writes it (VEVENT), a task as a VTODO.
  Result<std::string> Render(const model::User& u, const model::Activity& a, Cal c) const {
    if (c == Cal::kAppointments) {
      TANDEM_ASSIGN_OR_RETURN(sync::Item item, SideFor(u).ItemOf(a));
      return std::move(item.ical);
    }
    TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> uid, o.state->UidForCrmId(CalKey(u, c), a.meta.id));
    return ical::WriteTodo(a, sync::CrmSide::WriteOptionsFor(a, uid.value_or(a.meta.id)));
  }
  static std::string_view ContentTypeOf(Cal c) {
    return c == Cal::kTasks ? "text/calendar; charset=utf-8; component=vtodo"
                            : "text/calendar; charset=utf-8; component=vevent";
  }

  // The resource name of an activity: the client's choice, else "<UID>.ics"
  // (a UID with a "/" cannot be one path segment: "<activity id>.ics"). Also
  // names an activity that is gone, for sync-collection's removals.
  Result<std::string> NameOf(const model::User& u, const std::string& activity_id, Cal c) const {
    const std::string key = CalKey(u, c);
    TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> chosen, o.state->DavNameOf(key, activity_id));
    if (chosen) return *chosen;
    TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> uid, o.state->UidForCrmId(key, activity_id));
    if (uid && uid->find('/') == std::string::npos) return *uid + ".ics";
    return activity_id + ".ics";
  }
  Result<std::string> ObjectHref(const model::User& u, const std::string& activity_id, Cal c) const {
    TANDEM_ASSIGN_OR_RETURN(std::string name, NameOf(u, activity_id, c));
    return CalendarHref(u, c) + PercentEncode(name);
  }

  // The activity a resource name stands for, when it is in the user's calendar.
  Result<std::optional<model::Activity>> Resolve(const model::User& u, std::string_view name, Cal c) const {
    const std::string key = CalKey(u, c);
    std::string id;
    TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> chosen, o.state->ActivityForDavName(key, name));
    if (chosen) {
      id = *chosen;
    } else {
      std::string_view stem = name;
      if (stem.size() > 4 && stem.substr(stem.size() - 4) == ".ics") stem.remove_suffix(4);
      TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> by_uid, o.state->CrmIdForUid(key, stem));
      id = by_uid.value_or(std::string(stem));
    }
    Result<model::Activity> a = o.store->GetActivity(id);
    if (!a.ok()) {
      if (a.status().Is(Code::kNotFound)) return std::optional<model::Activity>();
      return a.status();
    }
    if (!InCalendar(*a, u, c)) return std::optional<model::Activity>();
    return std::optional<model::Activity>(std::move(*a));
  }

  std::string SyncToken() const {
    auto seq = o.store->LatestSeq();
    return fmt::format("{}{}/{}", kSyncTokenPrefix, o.store->Epoch(), seq.ok() ? *seq : 0);
  }

  // ---- authentication and routing
  Result<api::Caller> Authenticate(const ServerRequest& r) const {
    return o.authenticator->AuthenticateBasic(r.Header("Authorization"));
  }

  static ServerResponse Unauthorized(const Status& s) {
    if (s.Is(Code::kResourceExhausted)) {
      ServerResponse r = PlainError(429, s.message());
      r.SetHeader("Retry-After", "60");
      return r;
    }
    ServerResponse r = PlainError(401, s.message());
    r.SetHeader("WWW-Authenticate", "Basic realm=\"Tandem\", charset=\"UTF-8\"");
    return r;
  }

  static ServerResponse FromStatus(const Status& s) {
    switch (s.code()) {
      case Code::kNotFound:
        return PlainError(404, s.message());
      case Code::kPreconditionFailed:
        return PlainError(412, s.message());
      case Code::kPermissionDenied:
        return PlainError(403, s.message());
      case Code::kInvalidArgument:
        return DavError(403, {std::string(dav::kNsCalDav), "valid-calendar-object-resource"},
                        s.message());
      case Code::kUnavailable:
        return PlainError(503, s.message());
      default:
        spdlog::error("[dav] {}", s.ToString());
        return PlainError(500, "internal error");
    }
  }

  // Finds the target of a request for `caller`; 404 for another user's paths.
  Result<Target> Locate(const ServerRequest& r, const api::Caller& caller, Kind kind) const {
    Target t;
    t.kind = kind;
    t.user = &caller.user;
    const std::string& user = r.PathParam("user");
    if (kind != Kind::kRoot && kind != Kind::kPrincipals && user != caller.user.id) {
      return Status::NotFound("no such collection");
    }
    switch (kind) {
      case Kind::kRoot:  // "/dav/", or the server's root for clients given only the host
        t.href = r.path.starts_with("/dav") ? "/dav/" : "/";
        break;
      case Kind::kPrincipals:
        t.href = "/dav/principals/";
        break;
      case Kind::kPrincipal:
        t.href = PrincipalHref(caller.user);
        break;
      case Kind::kCalendarHome:
        t.href = CalendarHomeHref(caller.user);
        break;
      case Kind::kBookHome:
        t.href = BookHomeHref(caller.user);
        break;
      case Kind::kCalendar: {
        std::optional<Cal> cal = CalNamed(r.PathParam("collection"));
        if (!cal) return Status::NotFound("no such calendar");
        t.cal = *cal;
        t.href = CalendarHref(caller.user, t.cal);
        break;
      }
      case Kind::kBook:
        if (r.PathParam("collection") != kContacts) return Status::NotFound("no such address book");
        t.href = BookHref(caller.user);
        break;
      case Kind::kCard: {
        if (r.PathParam("collection") != kContacts) return Status::NotFound("no such address book");
        t.name = r.PathParam("name");
        TANDEM_ASSIGN_OR_RETURN(t.contact, ResolveCard(caller.user, t.name));
        t.href = BookHref(caller.user) + PercentEncode(t.name);
        auto accept = r.Header("Accept");
        t.version = vcard::VersionFromMediaType(accept ? *accept : std::string_view());
        break;
      }
      case Kind::kObject: {
        std::optional<Cal> cal = CalNamed(r.PathParam("collection"));
        if (!cal) return Status::NotFound("no such calendar");
        t.cal = *cal;
        t.name = r.PathParam("name");
        TANDEM_ASSIGN_OR_RETURN(t.activity, Resolve(caller.user, t.name, t.cal));
        t.href = CalendarHref(caller.user, t.cal) + PercentEncode(t.name);
        break;
      }
    }
    return t;
  }

  ServerResponse Handle(const ServerRequest& r, Kind kind) {
    if (r.method == "OPTIONS") return Options(kind);  // unauthenticated, as clients probe
    t_account_names.clear();
    Result<api::Caller> caller = Authenticate(r);
    if (!caller.ok()) return Unauthorized(caller.status());
    const std::string& m = r.method;
    if ((m == "MKCOL" || m == "MKCALENDAR") && r.PathParam("user") == caller->user.id) {
      return DavError(403, {std::string(dav::kNsDav), "resource-must-be-null"},
                      "the CRM's collections are fixed: appointments, tasks, contacts");
    }
    Result<Target> t = Locate(r, *caller, kind);
    if (!t.ok()) return FromStatus(t.status());
    if (m == "PROPFIND") return Propfind(r, *t);
    if (m == "REPORT") return Report(r, *t);
    if (m == "GET" || m == "HEAD") return Get(r, *t);
    if (m == "PUT") return Put(r, *t);
    if (m == "DELETE") return Delete(r, *t);
    if (m == "PROPPATCH") {
      return DavError(403, {std::string(dav::kNsDav), "cannot-modify-protected-property"},
                      "properties of this collection cannot be changed yet");
    }
    ServerResponse res = PlainError(405, "method not allowed here");
    res.SetHeader("Allow", AllowFor(kind));
    return res;
  }

  static std::string AllowFor(Kind kind) {
    switch (kind) {
      case Kind::kObject:
      case Kind::kCard:
        return "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, REPORT";
      case Kind::kCalendar:
      case Kind::kBook:
        return "OPTIONS, PROPFIND, PROPPATCH, REPORT";
      default:
        return "OPTIONS, PROPFIND, REPORT";
    }
  }

  static ServerResponse Options(Kind kind) {
    ServerResponse r = ServerResponse::Empty(200);
    r.SetHeader("DAV", "1, 3, calendar-access, addressbook");
    r.SetHeader("Allow", AllowFor(kind));
    return r;
  }

  // ---- properties
  std::vector<PropKey> AllProps(Kind kind) const {
    std::vector<PropKey> v = {{"DAV:", "resourcetype"}, {"DAV:", "displayname"}};
    const std::string d(dav::kNsDav), c(dav::kNsCalDav), cs(dav::kNsCalendarServer);
    switch (kind) {
      case Kind::kCalendar:
        v.push_back({d, "getetag"});
        v.push_back({d, "sync-token"});
        v.push_back({cs, "getctag"});
        v.push_back({c, "supported-calendar-component-set"});
        break;
      case Kind::kBook:
        v.push_back({d, "getetag"});
        v.push_back({d, "sync-token"});
        v.push_back({cs, "getctag"});
        break;
      case Kind::kObject:
      case Kind::kCard:
        v.push_back({d, "getetag"});
        v.push_back({d, "getcontenttype"});
        v.push_back({d, "getlastmodified"});
        break;
      default:
        break;
    }
    return v;
  }

  // The value (inner XML) of one property of `t`, or nullopt (404).
  std::optional<std::string> Prop(Target& t, const PropKey& k) {
    const model::User& u = *t.user;
    const bool is_dav = k.ns == dav::kNsDav;
    const bool is_cal = k.ns == dav::kNsCalDav;
    const bool is_cs = k.ns == dav::kNsCalendarServer;
    if (is_dav && k.name == "current-user-principal") return Href(PrincipalHref(u));
    if (is_dav && k.name == "principal-URL" && t.kind == Kind::kPrincipal) return Href(PrincipalHref(u));
    if (is_dav && k.name == "owner" && t.kind != Kind::kRoot && t.kind != Kind::kPrincipals) {
      return Href(PrincipalHref(u));
    }
    if (is_dav && k.name == "principal-collection-set") return Href("/dav/principals/");
    if (is_cal && k.name == "calendar-home-set") return Href(CalendarHomeHref(u));
    if (k.ns == kNsCardDav && k.name == "addressbook-home-set") return Href(BookHomeHref(u));
    if (is_cal && k.name == "calendar-user-address-set" && t.kind == Kind::kPrincipal) {
      return u.email.empty() ? Href(PrincipalHref(u))
                             : Href("mailto:" + u.email) + Href(PrincipalHref(u));
    }
    if (is_cs && k.name == "email-address-set" && t.kind == Kind::kPrincipal && !u.email.empty()) {
      return fmt::format("<cs:email-address>{}</cs:email-address>", dav::XmlEscape(u.email));
    }
    if (is_dav && k.name == "resourcetype") {
      switch (t.kind) {
        case Kind::kPrincipal:
          return "<d:collection/><d:principal/>";
        case Kind::kCalendar:
          return "<d:collection/><c:calendar/>";
        case Kind::kBook:
          return "<d:collection/><card:addressbook/>";
        case Kind::kObject:
        case Kind::kCard:
          return "";
        default:
          return "<d:collection/>";
      }
    }
    if (is_dav && k.name == "displayname") {
      switch (t.kind) {
        case Kind::kPrincipal:
          return dav::XmlEscape(u.display_name.empty() ? u.login : u.display_name);
        case Kind::kCalendar:
          return t.cal == Cal::kTasks ? "Tasks" : "Appointments";
        case Kind::kCalendarHome:
          return "Calendars";
        case Kind::kBook:
          return "Contacts";
        case Kind::kBookHome:
          return "Address books";
        case Kind::kObject:
        case Kind::kCard:
          return std::nullopt;
        default:
          return "Tandem";
      }
    }
    if (is_dav && k.name == "current-user-privilege-set") {
      std::string privs = "<d:privilege><d:read/></d:privilege>"
                          "<d:privilege><d:read-current-user-privilege-set/></d:privilege>";
      if (t.kind == Kind::kCalendar || t.kind == Kind::kObject || t.kind == Kind::kBook ||
          t.kind == Kind::kCard) {
        privs += "<d:privilege><d:write/></d:privilege><d:privilege><d:write-content/></d:privilege>"
                 "<d:privilege><d:bind/></d:privilege><d:privilege><d:unbind/></d:privilege>";
      }
      if (t.kind == Kind::kCalendar && t.cal == Cal::kAppointments) {
        privs += "<d:privilege><c:read-free-busy/></d:privilege>";
      }
      return privs;
    }
    if (is_dav && k.name == "supported-report-set") {
      std::string reports =
          "<d:supported-report><d:report><d:expand-property/></d:report></d:supported-report>";
      if (t.kind == Kind::kCalendar || t.kind == Kind::kObject) {
        reports =
            "<d:supported-report><d:report><c:calendar-multiget/></d:report></d:supported-report>"
            "<d:supported-report><d:report><c:calendar-query/></d:report></d:supported-report>";
        if (t.kind == Kind::kCalendar) {
          reports += "<d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>";
        }
      }
      if (t.kind == Kind::kBook || t.kind == Kind::kCard) {
        reports =
            "<d:supported-report><d:report><card:addressbook-multiget/></d:report></d:supported-report>"
            "<d:supported-report><d:report><card:addressbook-query/></d:report></d:supported-report>";
        if (t.kind == Kind::kBook) {
          reports += "<d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>";
        }
      }
      return reports;
    }
    if (t.kind == Kind::kCalendar) {
      if ((is_dav && k.name == "sync-token") || (is_cs && k.name == "getctag")) {
        return dav::XmlEscape(SyncToken());
      }
      if (is_dav && k.name == "getetag") return dav::XmlEscape("\"" + SyncToken() + "\"");
      if (is_cal && k.name == "supported-calendar-component-set") {
        return t.cal == Cal::kTasks ? "<c:comp name=\"VTODO\"/>" : "<c:comp name=\"VEVENT\"/>";
      }
      if (is_cal && k.name == "supported-calendar-data") {
        return "<c:calendar-data content-type=\"text/calendar\" version=\"2.0\"/>";
      }
      if (is_cal && k.name == "calendar-description") {
        return t.cal == Cal::kTasks ? "Tasks in the CRM" : "Appointments and phone calls in the CRM";
      }
      if (k.ns == dav::kNsAppleIcal && k.name == "calendar-color") {
        return t.cal == Cal::kTasks ? "#2E9F5BFF" : "#2F6FDBFF";
      }
      if (is_cal && k.name == "max-resource-size") return "1048576";
      if (is_cal && k.name == "calendar-timezone") return std::nullopt;
    }
    const bool is_card = k.ns == kNsCardDav;
    if (t.kind == Kind::kBook) {
      if ((is_dav && k.name == "sync-token") || (is_cs && k.name == "getctag")) {
        return dav::XmlEscape(SyncToken());
      }
      if (is_dav && k.name == "getetag") return dav::XmlEscape("\"" + SyncToken() + "\"");
      if (is_card && k.name == "supported-address-data") {
        return "<card:address-data-type content-type=\"text/vcard\" version=\"3.0\"/>"
               "<card:address-data-type content-type=\"text/vcard\" version=\"4.0\"/>";
      }
      if (is_card && k.name == "addressbook-description") return "Contacts in the CRM";
      if (is_card && k.name == "max-resource-size") return "1048576";
    }
    if (t.kind == Kind::kCard && t.contact) {
      const model::Contact& c = *t.contact;
      if (is_dav && k.name == "getetag") return dav::XmlEscape(CardETag(c));
      if (is_dav && k.name == "getcontenttype") return "text/vcard; charset=utf-8";
      if (is_dav && k.name == "getlastmodified") return HttpDate(c.meta.modified);
      if ((is_card && k.name == "address-data") || (is_dav && k.name == "getcontentlength")) {
        if (t.data.empty()) {
          Result<std::string> card = RenderCard(u, c, t.version);
          if (!card.ok()) return std::nullopt;
          t.data = std::move(*card);
        }
        if (k.name == "getcontentlength") return std::to_string(t.data.size());
        return dav::XmlEscape(t.data);
      }
    }
    if (t.kind == Kind::kObject && t.activity) {
      const model::Activity& a = *t.activity;
      if (is_dav && k.name == "getetag") return dav::XmlEscape(sync::CrmSide::ItemETag(a));
      if (is_dav && k.name == "getcontenttype") return std::string(ContentTypeOf(t.cal));
      if (is_dav && k.name == "getlastmodified") return HttpDate(a.meta.modified);
      if ((is_cal && k.name == "calendar-data") || (is_dav && k.name == "getcontentlength")) {
        if (t.data.empty()) {
          Result<std::string> ics = Render(u, a, t.cal);
          if (!ics.ok()) return std::nullopt;
          t.data = std::move(*ics);
        }
        if (k.name == "getcontentlength") return std::to_string(t.data.size());
        return dav::XmlEscape(t.data);
      }
    }
    return std::nullopt;
  }

  // One <d:response> for `t` with the asked properties grouped by status.
  void AppendResponse(std::string* out, Target& t, const std::vector<PropKey>& props,
                      bool names_only, bool minimal) {
    std::string found, missing;
    for (const PropKey& k : props) {
      std::optional<std::string> v = Prop(t, k);
      if (v) {
        AppendElement(&found, k, names_only ? std::string_view() : std::string_view(*v));
      } else {
        AppendElement(&missing, k, "");
      }
    }
    *out += "<d:response>" + Href(t.href);
    if (!found.empty() || missing.empty()) {
      *out += "<d:propstat><d:prop>" + found +
              "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>";
    }
    if (!missing.empty() && !minimal) {
      *out += "<d:propstat><d:prop>" + missing +
              "</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>";
    }
    *out += "</d:response>";
  }

  // The response for one activity of the calendar, at its resource name.
  Status AppendMember(std::string* out, const model::User& u, Cal cal, model::Activity&& a,
                      const std::vector<PropKey>& props, bool names_only, bool minimal) {
    Target c;
    c.kind = Kind::kObject;
    c.cal = cal;
    c.user = &u;
    TANDEM_ASSIGN_OR_RETURN(c.href, ObjectHref(u, a.meta.id, cal));
    c.activity = std::move(a);
    AppendResponse(out, c, props, names_only, minimal);
    return Status::Ok();
  }

  // The response for one contact of the address book, at its resource name.
  Status AppendCard(std::string* out, const model::User& u, model::Contact&& c,
                    const std::vector<PropKey>& props, bool names_only, bool minimal, vcard::Version v,
                    std::string rendered = {}) {
    Target t;
    t.kind = Kind::kCard;
    t.user = &u;
    t.version = v;
    t.data = std::move(rendered);
    TANDEM_ASSIGN_OR_RETURN(t.href, CardHref(u, c.meta.id));
    t.contact = std::move(c);
    AppendResponse(out, t, props, names_only, minimal);
    return Status::Ok();
  }

  // The vCard version a report asks for in its <card:address-data>.
  static vcard::Version VersionAsked(const dav::XmlElement& doc) {
    const dav::XmlElement* prop = doc.Child(dav::kNsDav, "prop");
    const dav::XmlElement* data = prop ? prop->Child(kNsCardDav, "address-data") : nullptr;
    if (data == nullptr) return vcard::Version::k30;
    return vcard::VersionFromMediaType(data->Attribute("content-type"), data->Attribute("version"));
  }

  // Every contact of the user's address book, a page at a time.
  template <typename Fn>
  Status ForEachInBook(const model::User& u, Fn&& fn) {
    store::ListOptions lo;
    lo.limit = 1000;
    lo.owner_id = u.id;
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(store::Page<model::Contact> page, o.store->ListContacts(lo));
      for (model::Contact& c : page.items) {
        if (!InBook(c, u)) continue;
        TANDEM_RETURN_IF_ERROR(fn(std::move(c)));
      }
      if (page.next_page_after.empty()) return Status::Ok();
      lo.page_after = page.next_page_after;
    }
  }

  static void AppendStatusResponse(std::string* out, std::string_view href, int status) {
    const char* reason = status == 404 ? "Not Found" : status == 507 ? "Insufficient Storage" : "OK";
    *out += fmt::format("<d:response>{}<d:status>HTTP/1.1 {} {}</d:status></d:response>", Href(href),
                        status, reason);
  }

  static std::string MultistatusOpen() {
    return fmt::format("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:multistatus{}>",
                       kRootNamespaces);
  }

  struct PropRequest {
    std::vector<PropKey> props;
    bool all = false;
    bool names = false;
  };

  // The <d:prop> children of `parent` (a propfind or a report).
  static std::vector<PropKey> PropsOf(const dav::XmlElement* parent) {
    std::vector<PropKey> out;
    if (parent == nullptr) return out;
    const dav::XmlElement* prop = parent->Child(dav::kNsDav, "prop");
    if (prop == nullptr) return out;
    for (const dav::XmlElement& c : prop->children) out.push_back({c.ns, c.name});
    return out;
  }

  static Result<dav::XmlElement> ParseBody(const ServerRequest& r) {
    Result<dav::XmlElement> doc = dav::ParseXml(r.body);
    if (!doc.ok()) return Status::InvalidArgument("the request body is not acceptable XML: " +
                                                  doc.status().message());
    return doc;
  }

  static bool Minimal(const ServerRequest& r) {
    auto brief = r.Header("Brief");
    if (brief && EqualsIgnoreCase(*brief, "t")) return true;
    auto prefer = r.Header("Prefer");
    return prefer && ContainsIgnoreCase(*prefer, "return=minimal");
  }

  // ---- PROPFIND
  ServerResponse Propfind(const ServerRequest& r, Target& t) {
    auto depth_header = r.Header("Depth");
    std::string depth = depth_header ? std::string(*depth_header) : "0";
    if (EqualsIgnoreCase(depth, "infinity")) {
      return DavError(403, {std::string(dav::kNsDav), "propfind-finite-depth"},
                      "Depth: infinity is not supported; use 0 or 1");
    }
    if (depth != "0" && depth != "1") return PlainError(400, "Depth must be 0 or 1");
    if ((t.kind == Kind::kObject && !t.activity) || (t.kind == Kind::kCard && !t.contact)) {
      return PlainError(404, "no such resource");
    }
    PropRequest req;
    if (r.body.find_first_not_of(" \t\r\n") == std::string::npos) {
      req.all = true;
    } else {
      Result<dav::XmlElement> doc = ParseBody(r);
      if (!doc.ok()) return PlainError(400, doc.status().message());
      if (!doc->Is(dav::kNsDav, "propfind")) return PlainError(400, "expected a DAV:propfind body");
      if (doc->Child(dav::kNsDav, "allprop") != nullptr) {
        req.all = true;
      } else if (doc->Child(dav::kNsDav, "propname") != nullptr) {
        req.all = true;
        req.names = true;
      } else {
        req.props = PropsOf(&*doc);
        if (doc->Child(dav::kNsDav, "prop") == nullptr) {
          return PlainError(400, "a propfind needs prop, allprop or propname");
        }
      }
    }
    const bool minimal = Minimal(r);
    std::string out = MultistatusOpen();
    auto props_for = [&](Kind k) { return req.all ? AllProps(k) : req.props; };
    AppendResponse(&out, t, props_for(t.kind), req.names, minimal);
    if (depth == "1") {
      const model::User& u = *t.user;
      auto child = [&](Kind k, std::string href, Cal cal = Cal::kAppointments) {
        Target c;
        c.kind = k;
        c.cal = cal;
        c.user = &u;
        c.href = std::move(href);
        AppendResponse(&out, c, props_for(k), req.names, minimal);
      };
      switch (t.kind) {
        case Kind::kRoot:
          child(Kind::kPrincipals, "/dav/principals/");
          break;
        case Kind::kPrincipals:
          child(Kind::kPrincipal, PrincipalHref(u));
          break;
        case Kind::kCalendarHome:
          for (Cal cal : {Cal::kAppointments, Cal::kTasks}) child(Kind::kCalendar, CalendarHref(u, cal), cal);
          break;
        case Kind::kCalendar: {
          Status s = ForEachInCalendar(u, t.cal, std::nullopt, [&](model::Activity&& a) -> Status {
            return AppendMember(&out, u, t.cal, std::move(a), props_for(Kind::kObject), req.names, minimal);
          });
          if (!s.ok()) return FromStatus(s);
          break;
        }
        case Kind::kBookHome:
          child(Kind::kBook, BookHref(u));
          break;
        case Kind::kBook: {
          Status s = ForEachInBook(u, [&](model::Contact&& c) -> Status {
            return AppendCard(&out, u, std::move(c), props_for(Kind::kCard), req.names, minimal,
                              vcard::Version::k30);
          });
          if (!s.ok()) return FromStatus(s);
          break;
        }
        default:
          break;
      }
    }
    out += "</d:multistatus>\n";
    return XmlResponse(207, std::move(out));
  }

  // Every activity of the calendar (overlapping `range` when given), a page at a time.
  template <typename Fn>
  Status ForEachInCalendar(const model::User& u, Cal cal, std::optional<sync::TimeRange> range, Fn&& fn) {
    store::ListOptions lo;
    lo.limit = 1000;
    lo.owner_id = u.id;
    if (range) {
      lo.from = range->from;
      lo.to = range->to;
    }
    for (;;) {
      TANDEM_ASSIGN_OR_RETURN(store::Page<model::Activity> page, o.store->ListActivities(lo));
      for (model::Activity& a : page.items) {
        if (!InCalendar(a, u, cal)) continue;
        if (range && !ical::OccursWithin(a, range->from, range->to)) continue;
        TANDEM_RETURN_IF_ERROR(fn(std::move(a)));
      }
      if (page.next_page_after.empty()) return Status::Ok();
      lo.page_after = page.next_page_after;
    }
  }

  // ---- REPORT
  ServerResponse Report(const ServerRequest& r, Target& t) {
    Result<dav::XmlElement> doc = ParseBody(r);
    if (!doc.ok()) return PlainError(400, doc.status().message());
    if (t.kind == Kind::kBook || t.kind == Kind::kCard) {
      if (t.kind == Kind::kCard && !t.contact) return PlainError(404, "no such resource");
      if (doc->Is(dav::kNsDav, "sync-collection") && t.kind == Kind::kBook) {
        return SyncCollection(r, *doc, t);
      }
      if (doc->Is(kNsCardDav, "addressbook-multiget")) return Multiget(r, *doc, t);
      if (doc->Is(kNsCardDav, "addressbook-query")) return BookQuery(r, *doc, t);
      return DavError(403, {std::string(dav::kNsDav), "supported-report"},
                      fmt::format("report {{{}}}{} is not supported here", doc->ns, doc->name));
    }
    if (t.kind != Kind::kCalendar && t.kind != Kind::kObject) {
      return DavError(403, {std::string(dav::kNsDav), "supported-report"},
                      "this resource has no reports");
    }
    if (t.kind == Kind::kObject && !t.activity) return PlainError(404, "no such resource");
    if (doc->Is(dav::kNsDav, "sync-collection") && t.kind == Kind::kCalendar) {
      return SyncCollection(r, *doc, t);
    }
    if (doc->Is(dav::kNsCalDav, "calendar-multiget")) return Multiget(r, *doc, t);
    if (doc->Is(dav::kNsCalDav, "calendar-query")) return Query(r, *doc, t);
    return DavError(403, {std::string(dav::kNsDav), "supported-report"},
                    fmt::format("report {{{}}}{} is not supported here", doc->ns, doc->name));
  }

  ServerResponse Multiget(const ServerRequest& r, const dav::XmlElement& doc, Target& t) {
    const model::User& u = *t.user;
    const std::vector<PropKey> props = PropsOf(&doc);
    const bool book = t.kind == Kind::kBook || t.kind == Kind::kCard;
    const std::string decoded_base = dav::PercentDecode(book ? BookHref(u) : CalendarHref(u, t.cal));
    const vcard::Version version = VersionAsked(doc);
    std::string out = MultistatusOpen();
    for (const dav::XmlElement* h : doc.Children(dav::kNsDav, "href")) {
      const std::string href = h->TrimmedText();
      const std::string path = dav::PercentDecode(dav::HrefPath(href));
      Target c;
      c.kind = book ? Kind::kCard : Kind::kObject;
      c.cal = t.cal;
      c.user = &u;
      c.href = href;
      c.version = version;
      if (path.size() > decoded_base.size() && path.compare(0, decoded_base.size(), decoded_base) == 0 &&
          path.find('/', decoded_base.size()) == std::string::npos) {
        const std::string name = path.substr(decoded_base.size());
        if (book) {
          auto found = ResolveCard(u, name);
          if (!found.ok()) return FromStatus(found.status());
          c.contact = std::move(*found);
        } else {
          auto found = Resolve(u, name, t.cal);
          if (!found.ok()) return FromStatus(found.status());
          c.activity = std::move(*found);
        }
      }
      if (!c.activity && !c.contact) {
        AppendStatusResponse(&out, href, 404);
        continue;
      }
      AppendResponse(&out, c, props, false, Minimal(r));
    }
    out += "</d:multistatus>\n";
    return XmlResponse(207, std::move(out));
  }

  // A calendar-query filter as far as it applies to the calendar's components
  // (VEVENT in the appointments, VTODO in the task list).
  struct Filter {
    bool matches_nothing = false;  // asks for components the calendar has none of
    std::optional<sync::TimeRange> range;
    struct Text {
      std::string property;  // upper case
      std::string text;
      bool negate = false;
      bool is_not_defined = false;
    };
    std::vector<Text> texts;
  };

  static Result<Filter> ReadFilter(const dav::XmlElement& doc, Cal cal) {
    const std::string_view component = cal == Cal::kTasks ? "VTODO" : "VEVENT";
    Filter f;
    const dav::XmlElement* filter = doc.Child(dav::kNsCalDav, "filter");
    if (filter == nullptr) return Status::InvalidArgument("a calendar-query needs a filter");
    const dav::XmlElement* vcal = filter->Child(dav::kNsCalDav, "comp-filter");
    if (vcal == nullptr || !EqualsIgnoreCase(vcal->Attribute("name"), "VCALENDAR")) {
      return Status::InvalidArgument("the filter must start with comp-filter name=\"VCALENDAR\"");
    }
    auto comps = vcal->Children(dav::kNsCalDav, "comp-filter");
    for (const dav::XmlElement* comp : comps) {
      if (!EqualsIgnoreCase(comp->Attribute("name"), component)) {
        if (comp->Child(dav::kNsCalDav, "is-not-defined") == nullptr) f.matches_nothing = true;
        continue;
      }
      if (comp->Child(dav::kNsCalDav, "is-not-defined") != nullptr) f.matches_nothing = true;
      if (const dav::XmlElement* tr = comp->Child(dav::kNsCalDav, "time-range")) {
        sync::TimeRange range{FromUnixSeconds(0), FromUnixSeconds(253402300799)};  // to 9999
        std::string start = tr->Attribute("start"), end = tr->Attribute("end");
        if (!start.empty()) {
          auto s = ParseUtcDateTime(start);
          if (!s) return Status::InvalidArgument("time-range start must be a UTC date-time: " + start);
          range.from = *s;
        }
        if (!end.empty()) {
          auto e = ParseUtcDateTime(end);
          if (!e) return Status::InvalidArgument("time-range end must be a UTC date-time: " + end);
          range.to = *e;
        }
        f.range = range;
      }
      for (const dav::XmlElement* pf : comp->Children(dav::kNsCalDav, "prop-filter")) {
        Filter::Text t;
        t.property = pf->Attribute("name");
        for (char& ch : t.property) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        t.is_not_defined = pf->Child(dav::kNsCalDav, "is-not-defined") != nullptr;
        if (const dav::XmlElement* tm = pf->Child(dav::kNsCalDav, "text-match")) {
          t.text = tm->text;
          t.negate = tm->Attribute("negate-condition") == "yes";
        }
        f.texts.push_back(std::move(t));
      }
    }
    return f;
  }

  // The text of a property as the CRM holds it, nullopt when absent.
  std::optional<std::string> PropertyText(const model::User& u, Cal cal, const model::Activity& a,
                                          const std::string& name) const {
    auto nonempty = [](const std::string& s) {
      return s.empty() ? std::optional<std::string>() : std::optional<std::string>(s);
    };
    if (name == "SUMMARY") return nonempty(a.subject);
    if (name == "LOCATION") return nonempty(a.location);
    if (name == "DESCRIPTION") return nonempty(a.description);
    if (name == "UID") {
      auto uid = o.state->UidForCrmId(CalKey(u, cal), a.meta.id);
      return uid.ok() && *uid ? **uid : a.meta.id;
    }
    // Anything else: as written (the whole property line's presence).
    Result<std::string> ics = Render(u, a, cal);
    if (!ics.ok()) return std::nullopt;
    for (std::string_view sep : {":", ";"}) {
      const std::string needle = "\n" + name + std::string(sep);
      size_t at = ics->find(needle);
      if (at != std::string::npos) {
        size_t colon = ics->find(':', at + 1);
        size_t eol = ics->find('\r', colon);
        return ics->substr(colon + 1, eol == std::string::npos ? std::string::npos : eol - colon - 1);
      }
    }
    return std::nullopt;
  }

  bool Matches(const model::User& u, Cal cal, const model::Activity& a, const Filter& f) const {
    for (const Filter::Text& t : f.texts) {
      std::optional<std::string> v = PropertyText(u, cal, a, t.property);
      if (t.is_not_defined) {
        if (v) return false;
        continue;
      }
      if (!v) return false;
      if (!t.text.empty() && ContainsIgnoreCase(*v, t.text) == t.negate) return false;
    }
    return true;
  }

  ServerResponse Query(const ServerRequest& r, const dav::XmlElement& doc, Target& t) {
    Result<Filter> f = ReadFilter(doc, t.cal);
    if (!f.ok()) {
      return DavError(403, {std::string(dav::kNsCalDav), "valid-filter"}, f.status().message());
    }
    const model::User& u = *t.user;
    const std::vector<PropKey> props = PropsOf(&doc);
    const bool minimal = Minimal(r);
    std::string out = MultistatusOpen();
    auto emit = [&](model::Activity&& a) -> Status {
      if (!Matches(u, t.cal, a, *f)) return Status::Ok();
      return AppendMember(&out, u, t.cal, std::move(a), props, false, minimal);
    };
    if (!f->matches_nothing) {
      if (t.kind == Kind::kObject) {
        model::Activity a = *t.activity;
        if (!f->range || ical::OccursWithin(a, f->range->from, f->range->to)) {
          if (Status s = emit(std::move(a)); !s.ok()) return FromStatus(s);
        }
      } else if (Status s = ForEachInCalendar(u, t.cal, f->range, emit); !s.ok()) {
        return FromStatus(s);
      }
    }
    out += "</d:multistatus>\n";
    return XmlResponse(207, std::move(out));
  }

  // addressbook-query (RFC 6352 8.6): prop-filters with text-match (equals,
  // contains, starts-with, ends-with; i;unicode-casemap and i;ascii-casemap both
  // compare ignoring case), test="anyof" (the default) or "allof", and a limit.
  ServerResponse BookQuery(const ServerRequest& r, const dav::XmlElement& doc, Target& t) {
    const dav::XmlElement* filter = doc.Child(kNsCardDav, "filter");
    if (filter == nullptr) {
      return DavError(403, {std::string(kNsCardDav), "valid-filter"}, "an addressbook-query needs a filter");
    }
    struct Match {
      std::string text, type;
      bool negate = false;
    };
    struct PropFilter {
      std::string name;
      bool is_not_defined = false;
      bool all = false;
      std::vector<Match> matches;
    };
    std::vector<PropFilter> filters;
    for (const dav::XmlElement* pf : filter->Children(kNsCardDav, "prop-filter")) {
      PropFilter f;
      f.name = pf->Attribute("name");
      for (char& ch : f.name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      f.is_not_defined = pf->Child(kNsCardDav, "is-not-defined") != nullptr;
      f.all = pf->Attribute("test") == "allof";
      for (const dav::XmlElement* tm : pf->Children(kNsCardDav, "text-match")) {
        Match m{tm->text, tm->Attribute("match-type"), tm->Attribute("negate-condition") == "yes"};
        if (m.type.empty()) m.type = "contains";
        if (m.type != "contains" && m.type != "equals" && m.type != "starts-with" && m.type != "ends-with") {
          return DavError(403, {std::string(kNsCardDav), "valid-filter"}, "unknown match-type " + m.type);
        }
        f.matches.push_back(std::move(m));
      }
      filters.push_back(std::move(f));
    }
    const bool all_filters = filter->Attribute("test") == "allof";
    int limit = std::numeric_limits<int>::max();
    if (const dav::XmlElement* l = doc.Child(kNsCardDav, "limit")) {
      if (const dav::XmlElement* n = l->Child(kNsCardDav, "nresults")) {
        std::string v = n->TrimmedText();
        int parsed = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), parsed);
        if (ec == std::errc() && parsed > 0) limit = parsed;
      }
    }
    auto lower = [](std::string v) {
      for (char& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return v;
    };
    auto text_matches = [&](const std::string& value, const Match& m) {
      const std::string v = lower(value), x = lower(m.text);
      bool hit = m.type == "equals"        ? v == x
                 : m.type == "starts-with" ? v.starts_with(x)
                 : m.type == "ends-with"   ? v.ends_with(x)
                                           : v.find(x) != std::string::npos;
      return hit != m.negate;
    };
    const model::User& u = *t.user;
    const std::vector<PropKey> props = PropsOf(&doc);
    const vcard::Version version = VersionAsked(doc);
    const bool minimal = Minimal(r);
    std::string out = MultistatusOpen();
    int emitted = 0;
    bool truncated = false;
    auto consider = [&](model::Contact&& c) -> Status {
      std::string card;
      if (!filters.empty()) {
        // The values of each property, from the card as the client would read it.
        TANDEM_ASSIGN_OR_RETURN(card, RenderCard(u, c, version));
        auto values_of = [&](const std::string& name) {
          std::vector<std::string> values;
          for (std::string_view sep : {":", ";"}) {
            size_t at = 0;
            while ((at = card.find("\n" + name + std::string(sep), at)) != std::string::npos) {
              size_t colon = card.find(':', at + 1);
              size_t eol = card.find("\r\n", colon);
              values.push_back(card.substr(colon + 1, eol - colon - 1));
              at = eol;
            }
          }
          return values;
        };
        auto passes = [&](const PropFilter& f) {
          std::vector<std::string> values = values_of(f.name);
          if (f.is_not_defined) return values.empty();
          if (values.empty()) return false;
          if (f.matches.empty()) return true;
          auto one = [&](const Match& m) {
            return std::any_of(values.begin(), values.end(), [&](const std::string& v) { return text_matches(v, m); });
          };
          return f.all ? std::all_of(f.matches.begin(), f.matches.end(), one)
                       : std::any_of(f.matches.begin(), f.matches.end(), one);
        };
        const bool ok = all_filters ? std::all_of(filters.begin(), filters.end(), passes)
                                    : std::any_of(filters.begin(), filters.end(), passes);
        if (!ok) return Status::Ok();
      }
      if (emitted == limit) {
        truncated = true;
        return Status::Ok();
      }
      ++emitted;
      return AppendCard(&out, u, std::move(c), props, false, minimal, version, std::move(card));
    };
    if (t.kind == Kind::kCard) {
      model::Contact c = *t.contact;
      if (Status s = consider(std::move(c)); !s.ok()) return FromStatus(s);
    } else if (Status s = ForEachInBook(u, consider); !s.ok()) {
      return FromStatus(s);
    }
    if (truncated) AppendStatusResponse(&out, t.href, 507);
    out += "</d:multistatus>\n";
    return XmlResponse(207, std::move(out));
  }

  // "urn:tandem:sync:<epoch>/<seq>" -> seq, when it is this database's and not
  // ahead of its feed.
  std::optional<int64_t> ReadSyncToken(std::string_view token) const {
    if (token.substr(0, kSyncTokenPrefix.size()) != kSyncTokenPrefix) return std::nullopt;
    token.remove_prefix(kSyncTokenPrefix.size());
    const size_t slash = token.rfind('/');
    if (slash == std::string_view::npos || token.substr(0, slash) != o.store->Epoch()) {
      return std::nullopt;
    }
    std::string_view digits = token.substr(slash + 1);
    int64_t seq = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
    if (ec != std::errc() || p != digits.data() + digits.size() || seq < 0) return std::nullopt;
    auto latest = o.store->LatestSeq();
    if (!latest.ok() || seq > *latest) return std::nullopt;
    return seq;
  }

  ServerResponse SyncCollection(const ServerRequest& r, const dav::XmlElement& doc, Target& t) {
    const model::User& u = *t.user;
    const std::vector<PropKey> props = PropsOf(&doc);
    const bool minimal = Minimal(r);
    std::string token;
    if (const dav::XmlElement* st = doc.Child(dav::kNsDav, "sync-token")) token = st->TrimmedText();
    if (const dav::XmlElement* level = doc.Child(dav::kNsDav, "sync-level")) {
      if (level->TrimmedText() != "1") {
        return DavError(403, {std::string(dav::kNsDav), "supported-sync-level"},
                        "only sync-level 1 is supported");
      }
    }
    int limit = kMaxSyncChanges;
    if (const dav::XmlElement* l = doc.Child(dav::kNsDav, "limit")) {
      if (const dav::XmlElement* n = l->Child(dav::kNsDav, "nresults")) {
        int v = 0;
        std::string s = n->TrimmedText();
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec == std::errc() && v > 0) limit = std::min(v, kMaxSyncChanges);
      }
    }
    const bool book = t.kind == Kind::kBook;
    const vcard::Version version = VersionAsked(doc);
    std::string out = MultistatusOpen();
    auto member = [&](model::Activity&& a) -> Status {
      return AppendMember(&out, u, t.cal, std::move(a), props, false, minimal);
    };
    auto card = [&](model::Contact&& c) -> Status {
      return AppendCard(&out, u, std::move(c), props, false, minimal, version);
    };
    if (token.empty()) {
      // Initial: every member, and the position taken before listing (a change
      // made meanwhile is reported again next time, never lost).
      Result<int64_t> latest = o.store->LatestSeq();
      if (!latest.ok()) return FromStatus(latest.status());
      Status s = book ? ForEachInBook(u, card) : ForEachInCalendar(u, t.cal, std::nullopt, member);
      if (!s.ok()) return FromStatus(s);
      out += fmt::format("<d:sync-token>{}{}/{}</d:sync-token></d:multistatus>\n", kSyncTokenPrefix,
                         o.store->Epoch(), *latest);
      return XmlResponse(207, std::move(out));
    }
    std::optional<int64_t> seq = ReadSyncToken(token);
    if (!seq) {
      return DavError(403, {std::string(dav::kNsDav), "valid-sync-token"},
                      "the sync token is not (or no longer) valid here; sync again from scratch");
    }
    store::ChangeFilter filter{book ? model::EntityType::kContact : model::EntityType::kActivity, u.id};
    Result<store::ChangeBatch> batch = o.store->ChangesSince(*seq, limit, filter);
    if (!batch.ok()) {
      if (batch.status().Is(Code::kResyncRequired)) {
        return DavError(403, {std::string(dav::kNsDav), "valid-sync-token"}, batch.status().message());
      }
      return FromStatus(batch.status());
    }
    // The feed keeps one row per record (its latest change), so ids are distinct.
    std::vector<std::string> upserts;
    std::vector<std::string> deletes;
    for (const store::Change& c : batch->changes) {
      (c.op == store::ChangeOp::kDelete ? deletes : upserts).push_back(c.id);
    }
    std::unordered_set<std::string> present;
    if (book) {
      for (const std::string& id : upserts) {
        Result<model::Contact> c = o.store->GetContact(id);
        if (!c.ok() && !c.status().Is(Code::kNotFound)) return FromStatus(c.status());
        if (!c.ok() || !InBook(*c, u)) continue;
        present.insert(id);
        if (Status s = card(std::move(*c)); !s.ok()) return FromStatus(s);
      }
    } else {
      Result<std::vector<model::Activity>> acts = o.store->GetActivities(upserts);
      if (!acts.ok()) return FromStatus(acts.status());
      for (model::Activity& a : *acts) {
        if (!InCalendar(a, u, t.cal)) continue;  // left the calendar (became a task, changed owner)
        present.insert(a.meta.id);
        if (Status s = member(std::move(a)); !s.ok()) return FromStatus(s);
      }
    }
    // Gone: deleted, or no longer in this collection; named as they were listed.
    auto removed = [&](const std::string& id) -> Status {
      TANDEM_ASSIGN_OR_RETURN(std::string href, book ? CardHref(u, id) : ObjectHref(u, id, t.cal));
      AppendStatusResponse(&out, href, 404);
      return Status::Ok();
    };
    for (const std::string& id : upserts) {
      if (present.contains(id)) continue;
      if (Status s = removed(id); !s.ok()) return FromStatus(s);
    }
    for (const std::string& id : deletes) {
      if (Status s = removed(id); !s.ok()) return FromStatus(s);
    }
    if (batch->more) {
      // RFC 6578 3.6: truncated; the token continues after the last change reported.
      AppendStatusResponse(&out, t.href, 507);
    }
    out += fmt::format("<d:sync-token>{}{}/{}</d:sync-token></d:multistatus>\n", kSyncTokenPrefix,
                       o.store->Epoch(), batch->next_seq);
    return XmlResponse(207, std::move(out));
  }

  // ---- GET, PUT, DELETE
  ServerResponse Get(const ServerRequest& r, Target& t) {
    if (t.kind == Kind::kCard) {
      if (!t.contact) return PlainError(404, "no such resource");
      Result<std::string> card = RenderCard(*t.user, *t.contact, t.version);
      if (!card.ok()) return FromStatus(card.status());
      ServerResponse res;
      res.status = 200;
      if (r.method != "HEAD") res.body = std::move(*card);
      res.SetHeader("Content-Type", "text/vcard; charset=utf-8");
      res.SetHeader("ETag", CardETag(*t.contact));
      res.SetHeader("Last-Modified", HttpDate(t.contact->meta.modified));
      return res;
    }
    if (t.kind != Kind::kObject) {
      ServerResponse res = PlainError(405, "GET a resource of the calendar");
      res.SetHeader("Allow", AllowFor(t.kind));
      return res;
    }
    if (!t.activity) return PlainError(404, "no such resource");
    Result<std::string> ics = Render(*t.user, *t.activity, t.cal);
    if (!ics.ok()) return FromStatus(ics.status());
    ServerResponse res;
    res.status = 200;
    if (r.method != "HEAD") res.body = std::move(*ics);
    res.SetHeader("Content-Type", std::string(ContentTypeOf(t.cal)));
    res.SetHeader("ETag", model::ItemETagOf(t.activity->meta));
    res.SetHeader("Last-Modified", HttpDate(t.activity->meta.modified));
    return res;
  }

  static bool EtagMatches(std::string_view header, const std::string& etag) {
    // A list of entity tags, or "*".
    size_t pos = 0;
    std::string_view h = header;
    while (pos < h.size()) {
      size_t comma = h.find(',', pos);
      std::string_view one = h.substr(pos, comma == std::string_view::npos ? h.size() - pos : comma - pos);
      while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
      while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
      if (one.substr(0, 2) == "W/") one.remove_prefix(2);
      if (one == "*" || one == etag) return true;
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    return false;
  }

  static ServerResponse CardError(std::string_view condition, std::string_view message) {
    return DavError(403, {std::string(kNsCardDav), std::string(condition)}, message);
  }

  // A card written by a contacts program: a CRM contact created or updated.
  ServerResponse PutCard(const ServerRequest& r, Target& t) {
    const model::User& u = *t.user;
    auto if_match = r.Header("If-Match");
    if (auto type = r.Header("Content-Type");
        type && !ContainsIgnoreCase(*type, "vcard") && !ContainsIgnoreCase(*type, "text/directory")) {
      return CardError("supported-address-data", "this address book takes text/vcard, not " + std::string(*type));
    }
    Result<vcard::Card> card = vcard::Parse(r.body);
    if (!card.ok()) return CardError("valid-address-data", card.status().message());
    if (card->uid.empty()) return CardError("valid-address-data", "the card has no UID");
    model::Contact next = std::move(card->contact);
    // ORG: the account of that name the user may see; else kept as the card's text.
    std::optional<std::string> current_org = t.contact ? AccountName(t.contact->account_id) : std::nullopt;
    if (current_org && EqualsIgnoreCase(*current_org, card->organization)) {
      next.account_id = t.contact->account_id;
    } else {
      Result<std::string> account = AccountForOrganization(u, card->organization);
      if (!account.ok()) return FromStatus(account.status());
      next.account_id = *account;
    }
    if (!next.account_id.empty()) next.vcard_extra = vcard::WithoutOrganization(next.vcard_extra);
    if (t.contact) {
      if (auto refused = ExistingPreconditions(r, CardETag(*t.contact))) return std::move(*refused);
      Result<std::string> uid = CardUid(u, t.contact->meta.id);
      if (!uid.ok()) return FromStatus(uid.status());
      if (*uid != card->uid) return CardError("no-uid-conflict", "a resource keeps its UID");
      next.meta = t.contact->meta;
      Result<model::Contact> saved = o.store->Update(std::move(next), t.contact->meta.version);
      if (!saved.ok()) return FromStatus(saved.status());
      spdlog::info("[dav] user {} updated contact {} ({})", u.login, saved->meta.id, t.name);
      return ServerResponse::Empty(204);
    }
    if (if_match) return PlainError(412, "no such resource (If-Match)");
    Result<std::optional<std::string>> existing = o.state->CrmIdForUid(BookKey(u), card->uid);
    if (!existing.ok()) return FromStatus(existing.status());
    if (*existing) {
      Result<model::Contact> other = o.store->GetContact(**existing);
      if (other.ok() && InBook(*other, u)) {
        return DavError(403, {std::string(kNsCardDav), "no-uid-conflict"},
                        "another resource of this address book has this UID",
                        Href(CardHref(u, other->meta.id).value_or("")));
      }
    }
    // The id first, its UID recorded before the contact is written (as the
    // calendar's CRM side does), so a crash in between leaves no card without it.
    next.meta.id = o.ids->NewId();
    next.meta.owner_id = u.id;
    if (Status s = o.state->PutCrmUid(BookKey(u), card->uid, next.meta.id); !s.ok()) return FromStatus(s);
    Result<model::Contact> saved = o.store->Create(std::move(next));
    if (!saved.ok()) return FromStatus(saved.status());
    const std::string default_name = card->uid + ".vcf";
    if (t.name != default_name || card->uid.find('/') != std::string::npos) {
      if (Status s = o.state->PutDavName(BookKey(u), t.name, saved->meta.id); !s.ok()) return FromStatus(s);
    }
    spdlog::info("[dav] user {} created contact {} ({})", u.login, saved->meta.id, t.name);
    return ServerResponse::Empty(201);
  }

  // What a PUT into a calendar must be: text/calendar holding the calendar's
  // component, with a UID. Returns the UID, or the 403 to answer.
  static std::variant<std::string, ServerResponse> CheckCalendarBody(const ServerRequest& r, Cal cal) {
    const bool tasks = cal == Cal::kTasks;
    if (auto type = r.Header("Content-Type"); type && !ContainsIgnoreCase(*type, "text/calendar")) {
      return DavError(403, {std::string(dav::kNsCalDav), "supported-calendar-data"},
                      "this calendar takes text/calendar, not " + std::string(*type));
    }
    const std::string& body = r.body;
    const std::string_view mine = tasks ? "BEGIN:VTODO" : "BEGIN:VEVENT";
    if (body.find(mine) == std::string::npos) {
      for (std::string_view other : {"BEGIN:VEVENT", "BEGIN:VTODO", "BEGIN:VJOURNAL"}) {
        if (other != mine && body.find(other) != std::string::npos) {
          return DavError(403, {std::string(dav::kNsCalDav), "supported-calendar-component"},
                          tasks ? "this task list holds tasks (VTODO) only"
                                : "this calendar holds events (VEVENT) only");
        }
      }
      return DavError(403, {std::string(dav::kNsCalDav), "valid-calendar-data"},
                      tasks ? "the body is not an iCalendar object with a VTODO"
                            : "the body is not an iCalendar object with a VEVENT");
    }
    std::string uid = ical::Identify(body).uid;
    if (uid.empty()) {
      return DavError(403, {std::string(dav::kNsCalDav), "valid-calendar-object-resource"},
                      tasks ? "the task has no UID" : "the event has no UID");
    }
    return uid;
  }

  // The If-Match / If-None-Match preconditions of a write to an existing
  // resource whose ETag is `etag`; nullopt when they hold.
  static std::optional<ServerResponse> ExistingPreconditions(const ServerRequest& r, const std::string& etag) {
    auto if_match = r.Header("If-Match");
    auto if_none = r.Header("If-None-Match");
    if (if_none && EtagMatches(*if_none, etag)) return PlainError(412, "the resource exists (If-None-Match)");
    if (if_match && !EtagMatches(*if_match, etag)) {
      return PlainError(412, fmt::format("the resource changed: its ETag is now {}", etag));
    }
    return std::nullopt;
  }

  // A task written by a calendar program (a VTODO, ical::ParseTodo): a CRM task
  // created or updated. What the CRM owns and iCalendar does not carry (the
  // "regarding" record, sharing) stays.
  ServerResponse PutTask(const ServerRequest& r, Target& t) {
    const model::User& u = *t.user;
    auto checked = CheckCalendarBody(r, Cal::kTasks);
    if (auto* refused = std::get_if<ServerResponse>(&checked)) return std::move(*refused);
    const std::string uid = std::get<std::string>(std::move(checked));
    const std::string key = CalKey(u, Cal::kTasks);
    ical::MapOptions map;
    map.default_zone = u.time_zone.empty() ? o.default_zone : u.time_zone;
    Result<ical::Event> parsed = ical::ParseTodo(r.body, map, o.clock->Now());
    if (!parsed.ok()) {
      return DavError(403, {std::string(dav::kNsCalDav), "valid-calendar-data"}, parsed.status().message());
    }
    if (parsed->uid != uid) {
      return DavError(403, {std::string(dav::kNsCalDav), "valid-calendar-object-resource"},
                      "one resource holds one UID");
    }
    model::Activity next = std::move(parsed->activity);
    next.kind = model::ActivityKind::kTask;
    if (t.activity) {
      const model::Activity& current = *t.activity;
      if (auto refused = ExistingPreconditions(r, model::ItemETagOf(current.meta))) return std::move(*refused);
      Result<std::optional<std::string>> current_uid = o.state->UidForCrmId(key, current.meta.id);
      if (!current_uid.ok()) return FromStatus(current_uid.status());
      if (current_uid->value_or(current.meta.id) != uid) {
        return DavError(403, {std::string(dav::kNsCalDav), "no-uid-conflict"}, "a resource keeps its UID",
                        Href(t.href));
      }
      next.meta = current.meta;
      next.meta.origin.clear();
      next.regarding_type = current.regarding_type;
      next.regarding_id = current.regarding_id;
      Result<model::Activity> saved = o.store->Update(std::move(next), current.meta.version);
      if (!saved.ok()) return FromStatus(saved.status());
      spdlog::info("[dav] user {} updated task {} ({})", u.login, saved->meta.id, t.name);
      return ServerResponse::Empty(204);
    }
    if (r.Header("If-Match")) return PlainError(412, "no such resource (If-Match)");
    Result<std::optional<std::string>> existing = o.state->CrmIdForUid(key, uid);
    if (!existing.ok()) return FromStatus(existing.status());
    if (Result<model::Activity> other = o.store->GetActivity(existing->value_or(uid));
        other.ok() && InCalendar(*other, u, Cal::kTasks)) {
      return DavError(403, {std::string(dav::kNsCalDav), "no-uid-conflict"},
                      "another resource of this task list has this UID",
                      Href(ObjectHref(u, other->meta.id, Cal::kTasks).value_or("")));
    }
    // The id first, its UID recorded before the task is written, so that a crash
    // in between leaves no task without it (as the calendar sync's CRM side does).
    next.meta.id = o.ids->NewId();
    next.meta.owner_id = u.id;
    next.meta.shared = false;
    if (Status s = o.state->PutCrmUid(key, uid, next.meta.id); !s.ok()) return FromStatus(s);
    Result<model::Activity> saved = o.store->Create(std::move(next));
    if (!saved.ok()) return FromStatus(saved.status());
    if (t.name != uid + ".ics" || uid.find('/') != std::string::npos) {
      if (Status s = o.state->PutDavName(key, t.name, saved->meta.id); !s.ok()) return FromStatus(s);
    }
    spdlog::info("[dav] user {} created task {} ({})", u.login, saved->meta.id, t.name);
    return ServerResponse::Empty(201);
  }

  ServerResponse Put(const ServerRequest& r, Target& t) {
    if (t.kind == Kind::kCard) return PutCard(r, t);
    if (t.kind != Kind::kObject) return PlainError(405, "PUT a resource into the calendar");
    if (t.cal == Cal::kTasks) return PutTask(r, t);
    const model::User& u = *t.user;
    auto if_match = r.Header("If-Match");
    // What the body is.
    auto checked = CheckCalendarBody(r, Cal::kAppointments);
    if (auto* refused = std::get_if<ServerResponse>(&checked)) return std::move(*refused);
    const std::string uid = std::get<std::string>(std::move(checked));
    const std::string& body = r.body;
    // Read it as the CRM will (the error names the line), before anything is written.
    ical::MapOptions map;
    map.default_zone = u.time_zone.empty() ? o.default_zone : u.time_zone;
    Result<ical::Event> parsed = ical::ParseEvent(body, map);
    if (!parsed.ok()) {
      return DavError(403, {std::string(dav::kNsCalDav), "valid-calendar-data"},
                      parsed.status().message());
    }
    if (parsed->uid != uid) {
      return DavError(403, {std::string(dav::kNsCalDav), "valid-calendar-object-resource"},
                      "one resource holds one UID");
    }
    sync::CrmSide side = SideFor(u);
    if (t.activity) {
      const std::string etag = sync::CrmSide::ItemETag(*t.activity);
      if (auto refused = ExistingPreconditions(r, etag)) return std::move(*refused);
      auto current_uid = o.state->UidForCrmId(u.id, t.activity->meta.id);
      if (!current_uid.ok()) return FromStatus(current_uid.status());
      if (current_uid->value_or(t.activity->meta.id) != uid) {
        return DavError(403, {std::string(dav::kNsCalDav), "no-uid-conflict"},
                        "a resource keeps its UID", Href(t.href));
      }
      // The ETag the precondition saw, so that a write in between is refused.
      Result<sync::ItemRef> ref = side.Update(t.activity->meta.id, etag, body);
      if (!ref.ok()) return FromStatus(ref.status());
      spdlog::info("[dav] user {} updated activity {} ({})", u.login, ref->href, t.name);
      // No ETag: the stored item is the CRM's rendering, not the octets sent
      // (RFC 4791 5.3.4), so the client reads it back.
      return ServerResponse::Empty(204);
    }
    if (if_match) return PlainError(412, "no such resource (If-Match)");
    // A new resource: its UID must be new in the calendar.
    Result<std::optional<sync::Item>> existing = side.FindByUid(uid);
    if (!existing.ok()) return FromStatus(existing.status());
    if (*existing) {
      auto a = o.store->GetActivity(existing->value().href);
      std::string other = a.ok() ? ObjectHref(u, a->meta.id, Cal::kAppointments).value_or("") : "";
      return DavError(403, {std::string(dav::kNsCalDav), "no-uid-conflict"},
                      "another resource of this calendar has this UID", Href(other));
    }
    Result<sync::ItemRef> ref =
        side.CreateMapped(uid, body, parsed->activity, ical::ContentHash(parsed->activity));
    if (!ref.ok()) {
      if (ref.status().Is(Code::kAlreadyExists)) {
        return DavError(403, {std::string(dav::kNsCalDav), "no-uid-conflict"}, ref.status().message());
      }
      return FromStatus(ref.status());
    }
    const std::string default_name = uid + ".ics";
    if (t.name != default_name || uid.find('/') != std::string::npos) {
      if (Status s = o.state->PutDavName(u.id, t.name, ref->href); !s.ok()) return FromStatus(s);
    }
    spdlog::info("[dav] user {} created activity {} ({})", u.login, ref->href, t.name);
    return ServerResponse::Empty(201);  // no ETag, as for an update
  }

  ServerResponse Delete(const ServerRequest& r, Target& t) {
    if (t.kind == Kind::kCard) {
      if (!t.contact) return PlainError(404, "no such resource");
      const std::string etag = CardETag(*t.contact);
      auto if_match = r.Header("If-Match");
      if (if_match && !EtagMatches(*if_match, etag)) {
        return PlainError(412, fmt::format("the resource changed: its ETag is now {}", etag));
      }
      Status s = o.store->Delete(model::EntityType::kContact, t.contact->meta.id, t.contact->meta.version);
      if (!s.ok()) return FromStatus(s);
      spdlog::info("[dav] user {} deleted contact {} ({})", t.user->login, t.contact->meta.id, t.name);
      return ServerResponse::Empty(204);
    }
    if (t.kind != Kind::kObject) {
      return DavError(403, {std::string(dav::kNsDav), "need-privileges"},
                      "the CRM's collections cannot be deleted");
    }
    if (!t.activity) return PlainError(404, "no such resource");
    const std::string etag = sync::CrmSide::ItemETag(*t.activity);
    auto if_match = r.Header("If-Match");
    if (if_match && !EtagMatches(*if_match, etag)) {
      return PlainError(412, fmt::format("the resource changed: its ETag is now {}", etag));
    }
    // A task is the same activity record; the CRM side deletes any of the
    // user's activities at the version its ETag names.
    Status s = SideFor(*t.user).Delete(t.activity->meta.id, etag);
    if (!s.ok()) return FromStatus(s);
    spdlog::info("[dav] user {} deleted {} {} ({})", t.user->login, t.cal == Cal::kTasks ? "task" : "activity",
                 t.activity->meta.id, t.name);
    return ServerResponse::Empty(204);
  }
};

DavServer::DavServer(DavServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->o = std::move(options);
}

DavServer::~DavServer() = default;

void DavServer::Register(http::Router* router) {
  static const char* kMethods[] = {"OPTIONS", "PROPFIND", "PROPPATCH", "REPORT", "GET",       "HEAD",
                                   "PUT",     "DELETE",   "MKCOL",     "MKCALENDAR", "MOVE", "COPY",
                                   "LOCK",    "UNLOCK",   "POST"};
  using Kind = Impl::Kind;
  Impl* impl = impl_.get();
  auto add = [&](std::string_view pattern, Kind kind) {
    for (const char* m : kMethods) {
      router->Add(m, pattern, [impl, kind](const ServerRequest& r) { return impl->Handle(r, kind); });
    }
  };
  for (std::string_view well_known : {"/.well-known/caldav", "/.well-known/carddav"}) {
    for (const char* m : kMethods) {
      router->Add(m, well_known, [](const ServerRequest&) {
        ServerResponse r = ServerResponse::Empty(301);
        r.SetHeader("Location", "/dav/");
        return r;
      });
    }
  }
  add("/dav", Kind::kRoot);
  // Clients given only the server's address ask its root (python-caldav, some
  // phones) before, or instead of, /.well-known.
  for (const char* m : {"PROPFIND", "OPTIONS"}) {
    router->Add(m, "/", [impl](const ServerRequest& r) { return impl->Handle(r, Kind::kRoot); });
  }
  add("/dav/principals", Kind::kPrincipals);
  add("/dav/principals/{user}", Kind::kPrincipal);
  add("/dav/calendars/{user}", Kind::kCalendarHome);
  add("/dav/calendars/{user}/{collection}", Kind::kCalendar);
  add("/dav/calendars/{user}/{collection}/{name}", Kind::kObject);
  add("/dav/addressbooks/{user}", Kind::kBookHome);
  add("/dav/addressbooks/{user}/{collection}", Kind::kBook);
  add("/dav/addressbooks/{user}/{collection}/{name}", Kind::kCard);
}

}  // namespace tandem::davserver
