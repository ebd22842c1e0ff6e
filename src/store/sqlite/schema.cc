#include "store/sqlite/schema.h"

namespace tandem::store::sqlite {
namespace {

constexpr std::string_view kV1Tables = R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  login TEXT NOT NULL COLLATE NOCASE UNIQUE,
  display_name TEXT NOT NULL,
  email TEXT NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL,
  created INTEGER NOT NULL,
  modified INTEGER NOT NULL,
  version INTEGER NOT NULL
);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created INTEGER NOT NULL,
  expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires);

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  shared INTEGER NOT NULL,
  created INTEGER NOT NULL,
  modified INTEGER NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  website TEXT NOT NULL,
  phone TEXT NOT NULL,
  address TEXT NOT NULL,
  notes TEXT NOT NULL
);
CREATE INDEX accounts_owner ON accounts(owner_id, id);

CREATE TABLE contacts (
  id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  shared INTEGER NOT NULL,
  created INTEGER NOT NULL,
  modified INTEGER NOT NULL,
  version INTEGER NOT NULL,
  account_id TEXT NOT NULL,
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  email TEXT NOT NULL,
  phone TEXT NOT NULL,
  job_title TEXT NOT NULL,
  notes TEXT NOT NULL
);
CREATE INDEX contacts_owner ON contacts(owner_id, id);
CREATE INDEX contacts_account ON contacts(account_id) WHERE account_id <> '';

CREATE TABLE opportunities (
  id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  shared INTEGER NOT NULL,
  created INTEGER NOT NULL,
  modified INTEGER NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  account_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  amount_cents INTEGER NOT NULL,
  currency TEXT NOT NULL,
  close_date TEXT NOT NULL,
  notes TEXT NOT NULL
);
CREATE INDEX opportunities_owner ON opportunities(owner_id, id);
CREATE INDEX opportunities_account ON opportunities(account_id) WHERE account_id <> '';

CREATE TABLE activities (
  id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  shared INTEGER NOT NULL,
  created INTEGER NOT NULL,
  modified INTEGER NOT NULL,
  version INTEGER NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  location TEXT NOT NULL,
  description TEXT NOT NULL,
  start_at INTEGER NOT NULL,
  end_at INTEGER NOT NULL,
  all_day INTEGER NOT NULL,
  time_zone TEXT NOT NULL,
  show_as TEXT NOT NULL,
  is_private INTEGER NOT NULL,
  reminder_minutes INTEGER,
  regarding_type TEXT NOT NULL,
  regarding_id TEXT NOT NULL,
  rrule TEXT NOT NULL,
  exdates TEXT NOT NULL,  -- JSON array of microseconds since the epoch
  rdates TEXT NOT NULL,   -- JSON array of microseconds since the epoch
  ical_extra BLOB NOT NULL,
  CHECK (end_at >= start_at)
);
CREATE INDEX activities_owner_start ON activities(owner_id, start_at);
CREATE INDEX activities_start_end ON activities(start_at, end_at);
CREATE INDEX activities_recurring ON activities(start_at) WHERE rrule <> '';
CREATE INDEX activities_regarding ON activities(regarding_id) WHERE regarding_id <> '';

CREATE TABLE changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  entity TEXT NOT NULL,
  id TEXT NOT NULL,
  op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
  owner_id TEXT NOT NULL,
  departure INTEGER NOT NULL DEFAULT 0,
  at INTEGER NOT NULL
);
CREATE UNIQUE INDEX changes_record_owner ON changes(entity, id, owner_id);
CREATE INDEX changes_entity_seq ON changes(entity, seq);
CREATE INDEX changes_owner_seq ON changes(owner_id, seq);
CREATE INDEX changes_owner_entity_seq ON changes(owner_id, entity, seq);
CREATE INDEX changes_tombstones ON changes(at) WHERE op = 'delete';

INSERT INTO meta(key, value) VALUES ('pruned_through', 0), ('max_activity_span_us', 0);
)sql";

// One owner's recurring series, for owner-filtered time-range lists.
constexpr std::string_view kV2OwnerRecurringIndex = R"sql(
CREATE INDEX activities_owner_recurring ON activities(owner_id, start_at) WHERE rrule <> '';
)sql";

// Cancellation and SEQUENCE of activities (iCalendar STATUS:CANCELLED, SEQUENCE),
// and the end of each series, so that time-range lists select series by index.
// Series stored before this version are taken as endless until written again.
// Each user's zone for floating calendar times ('' = the server's default).
constexpr std::string_view kV3SeriesAndStatus = R"sql(
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE activities ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE activities ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE activities ADD COLUMN series_end INTEGER;
UPDATE activities SET series_end = 9223372036854775807 / 4 WHERE rrule <> '' OR rdates <> '[]';
DROP INDEX activities_recurring;
DROP INDEX activities_owner_recurring;
CREATE INDEX activities_series ON activities(series_end) WHERE series_end IS NOT NULL;
CREATE INDEX activities_owner_series ON activities(owner_id, series_end)
  WHERE series_end IS NOT NULL;
)sql";

// Who wrote each change ('' a user; 'sync:<pair id>' a sync run).
constexpr std::string_view kV4ChangeOrigin = R"sql(
ALTER TABLE changes ADD COLUMN origin TEXT NOT NULL DEFAULT '';
)sql";

// The widest audience each record has had (store::Audience: 0 its owner, 1 the
// owner and admins, 2 everyone), kept in its change rows so that a feed shows a
// reader only records they may have seen. Rows logged before this version may
// have been seen by anyone: 2, so such a reader still gets their removal.
constexpr std::string_view kV5ChangeAudience = R"sql(
ALTER TABLE changes ADD COLUMN audience INTEGER NOT NULL DEFAULT 2;
)sql";

// Each contact's unmodeled vCard (model::Contact::vcard_extra).
constexpr std::string_view kV6ContactVcard = R"sql(
ALTER TABLE contacts ADD COLUMN vcard_extra BLOB NOT NULL DEFAULT '';
)sql";

// Per-device passwords for the CalDAV/CardDAV server (store::AppPassword).
constexpr std::string_view kV7AppPasswords = R"sql(
CREATE TABLE app_passwords (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY (user_id, name)
) WITHOUT ROWID;
)sql";

}  // namespace

const std::vector<Migration>& CrmMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "users, sessions, CRM records, change log", kV1Tables},
      {2, "index of each owner's recurring activities", kV2OwnerRecurringIndex},
      {3, "activity cancellation, sequence and series end; user time zone", kV3SeriesAndStatus},
      {4, "the origin of each change (a user or a sync run)", kV4ChangeOrigin},
      {5, "the widest audience of each record in its change rows", kV5ChangeAudience},
      {6, "each contact's unmodeled vCard", kV6ContactVcard},
      {7, "per-device app passwords", kV7AppPasswords},
  };
  return kMigrations;
}

}  // namespace tandem::store::sqlite
