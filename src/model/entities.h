// CRM entities (SPEC A1, A2) as plain value types.
//
// Times are UTC Instants. An all-day activity starts at midnight UTC of its first
// day and ends at midnight UTC of the day after its last day (exclusive end, as
// iCalendar's VALUE=DATE); `time_zone` keeps the zone the user sees and writes back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace tandem::model {

enum class EntityType { kUser, kAccount, kContact, kOpportunity, kActivity };
// "users", "accounts", "contacts", "opportunities", "activities" (URL and feed names).
std::string_view EntityName(EntityType t);
Result<EntityType> ParseEntityName(std::string_view name);

enum class Role { kUser, kAdmin };
std::string_view RoleName(Role r);
Result<Role> ParseRole(std::string_view s);

struct User {
  std::string id;
  std::string login;
  std::string display_name;
  std::string email;
  Role role = Role::kUser;
  std::string password_hash;  // argon2id, libsodium's encoded string; never serialized
  bool disabled = false;
  // IANA zone in which the user's floating calendar times (no zone given) are
  // read; "" means the server's default zone.
  std::string time_zone;
  Instant created{};
  Instant modified{};
  int64_t version = 0;
};

// Fields every CRM record has. `shared` records are readable and writable by every
// user; unshared ones only by their owner (and admins). A private activity is
// visible to its owner only, whatever `shared` says.
struct RecordMeta {
  std::string id;
  std::string owner_id;
  bool shared = true;
  Instant created{};
  Instant modified{};
  int64_t version = 0;  // bumped by the store on every write; the ETag
  // Who writes this version, carried to the change feed only (never stored
  // with the record, empty when read): "" a user or API client; "sync:<pair
  // id>" a sync run (its own writes do not trigger it again).
  std::string origin;
};

struct Account {
  RecordMeta meta;
  std::string name;
  std::string website;
  std::string phone;
  std::string address;
  std::string notes;
};

struct Contact {
  RecordMeta meta;
  std::string account_id;  // optional link
  std::string first_name;
  std::string last_name;
  std::string email;
  std::string phone;
  std::string job_title;
  std::string notes;
  // vCard the CRM does not model (addresses, further e-mails and phones,
  // photos, X- properties, ...), as the contacts program last wrote it, so that
  // a CardDAV client reads back what it wrote (src/vcard). Empty for contacts
  // made in the CRM.
  std::string vcard_extra;
};

enum class OpportunityStage { kProspecting, kQualification, kProposal, kNegotiation, kWon, kLost };
std::string_view StageName(OpportunityStage s);
Result<OpportunityStage> ParseStage(std::string_view s);

struct Opportunity {
  RecordMeta meta;
  std::string name;
  std::string account_id;
  std::string contact_id;
  OpportunityStage stage = OpportunityStage::kProspecting;
  int64_t amount_cents = 0;
  std::string currency = "EUR";
  std::string close_date;  // "YYYY-MM-DD" or empty
  std::string notes;
};

enum class ActivityKind { kAppointment, kTask, kPhoneCall };
std::string_view KindName(ActivityKind k);
Result<ActivityKind> ParseKind(std::string_view s);

enum class ShowAs { kFree, kTentative, kBusy, kOutOfOffice, kWorkingElsewhere };
std::string_view ShowAsName(ShowAs s);
Result<ShowAs> ParseShowAs(std::string_view s);

enum class RegardingType { kNone, kAccount, kContact, kOpportunity };
std::string_view RegardingName(RegardingType r);
Result<RegardingType> ParseRegarding(std::string_view s);

struct Activity {
  RecordMeta meta;
  ActivityKind kind = ActivityKind::kAppointment;
  std::string subject;
  std::string location;
  std::string description;
  Instant start{};
  Instant end{};
  bool all_day = false;
  std::string time_zone;  // IANA name the user sees ("Europe/Berlin"); empty = UTC
  ShowAs show_as = ShowAs::kBusy;
  bool is_private = false;
  std::optional<int> reminder_minutes;  // minutes before start; nullopt = no reminder
  RegardingType regarding_type = RegardingType::kNone;
  std::string regarding_id;
  // Recurrence (RFC 5545 text): RRULE value, EXDATE and RDATE instants.
  std::string rrule;
  std::vector<Instant> exdates;
  std::vector<Instant> rdates;
  // Cancelled (iCalendar STATUS:CANCELLED): still listed, marked as cancelled,
  // never busy time; synced like any other field (docs/SYNC.md).
  bool cancelled = false;
  // iCalendar SEQUENCE: never goes down; the store raises it by one when an update
  // changes start, end, all-day, zone, recurrence or cancellation and the writer
  // did not raise it itself (RFC 5545 3.8.7.4).
  int64_t sequence = 0;
  // iCalendar the CRM does not model (attendees, X- properties, overridden
  // instances, ...), preserved so a sync writes it back unchanged.
  std::string ical_extra;
};

// Field-level validation: InvalidArgument whose message starts with the field
// name ("end: must not be before start").
Status Validate(const User& u);
Status Validate(const Account& a);
Status Validate(const Contact& c);
Status Validate(const Opportunity& o);
Status Validate(const Activity& a);

// ETag of a record version: "\"<version>\"" (strong).
std::string ETagOf(int64_t version);
// ETag of a record as a calendar or contacts program holds it (CalDAV/CardDAV
// items, the calendar sync): "\"<version>.<created, us>\"". The version alone
// starts again at 1 when a deleted record's id is created anew (offline
// mutations, imports with ids), and such a client trusts an ETag it saw to mean
// unchanged content.
std::string ItemETagOf(const RecordMeta& meta);
// Parses an If-Match value made by ETagOf; "*" yields nullopt-with-ok (any version).
Result<std::optional<int64_t>> ParseIfMatch(std::string_view header);

}  // namespace tandem::model
