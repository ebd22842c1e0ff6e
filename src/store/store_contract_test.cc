#include "store/store_contract_test.h"

#include <rapidcheck.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

namespace tandem::store::contract {
namespace {

using model::EntityType;
using std::chrono::hours;
using std::chrono::minutes;

#define CT_OK(expr)                                        \
  do {                                                     \
    ::tandem::Status ct_status_ = (expr);                  \
    ASSERT_TRUE(ct_status_.ok()) << ct_status_.ToString(); \
  } while (0)

#define CT_ASSIGN_IMPL_(tmp, lhs, expr)                              \
  auto tmp = (expr);                                                 \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.status().ToString(); \
  lhs = std::move(tmp).value()
#define CT_ASSIGN(lhs, expr) CT_ASSIGN_IMPL_(TANDEM_CONCAT_(ct_result_, __LINE__), lhs, expr)

Instant At(int64_t unix_seconds) { return FromUnixSeconds(unix_seconds); }
// 2026-09-21T10:00:00Z and friends.
constexpr int64_t kTen = 1'790'157'600;
constexpr int64_t kHour = 3600;

model::User NewUser(std::string login, model::Role role = model::Role::kUser) {
  model::User u;
  u.login = std::move(login);
  u.display_name = "Display " + u.login;
  u.email = u.login + "@example.test";
  u.role = role;
  u.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
  return u;
}

model::Account NewAccount(std::string owner, std::string name, bool shared = true) {
  model::Account a;
  a.meta.owner_id = std::move(owner);
  a.meta.shared = shared;
  a.name = std::move(name);
  return a;
}

model::Activity NewActivity(std::string owner, std::string subject, Instant start, Instant end) {
  model::Activity a;
  a.meta.owner_id = std::move(owner);
  a.subject = std::move(subject);
  a.start = start;
  a.end = end;
  return a;
}

template <typename T>
std::vector<std::string> Ids(const std::vector<T>& items) {
  std::vector<std::string> ids;
  for (const auto& i : items) ids.push_back(i.meta.id);
  return ids;
}

std::vector<std::string> Ids(const std::vector<Change>& changes) {
  std::vector<std::string> ids;
  for (const auto& c : changes) ids.push_back(c.id);
  return ids;
}

}  // namespace

void StoreContractTest::SetUp() {
  location_ = GetParam().make_location();
  auto opened = location_->Open(clock_, ids_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  store_ = std::move(opened).value();
}

void StoreContractTest::TearDown() {
  store_.reset();
  location_.reset();
}

void StoreContractTest::Reopen() {
  store_.reset();
  auto opened = location_->Open(clock_, ids_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  store_ = std::move(opened).value();
}

// ------------------------------------------------------------------ CRUD

TEST_P(StoreContractTest, CreatesAndReadsBackEveryEntityWithAllFields) {
  Instant now = clock_.Now();

  model::Account account = NewAccount("owner-1", "Acme");
  account.website = "https://acme.test";
  account.phone = "+420 123";
  account.address = "Main St 1\nPrague";
  account.notes = "notes with 'quotes' and \"double\" and ; DROP TABLE";
  CT_ASSIGN(model::Account a, store_->Create(account));
  EXPECT_TRUE(IsUuid(a.meta.id));
  EXPECT_EQ(a.meta.version, 1);
  EXPECT_EQ(a.meta.created, now);
  EXPECT_EQ(a.meta.modified, now);
  CT_ASSIGN(model::Account a2, store_->GetAccount(a.meta.id));
  EXPECT_EQ(a2.name, account.name);
  EXPECT_EQ(a2.website, account.website);
  EXPECT_EQ(a2.phone, account.phone);
  EXPECT_EQ(a2.address, account.address);
  EXPECT_EQ(a2.notes, account.notes);
  EXPECT_EQ(a2.meta.owner_id, "owner-1");
  EXPECT_TRUE(a2.meta.shared);
  EXPECT_EQ(a2.meta.version, 1);
  EXPECT_EQ(a2.meta.created, now);

  model::Contact contact;
  contact.meta.owner_id = "owner-1";
  contact.meta.shared = false;
  contact.account_id = a.meta.id;
  contact.first_name = "Jana";
  contact.last_name = "Nováková";
  contact.email = "jana@acme.test";
  contact.phone = "+420 555";
  contact.job_title = "Buyer";
  contact.notes = "met at fair";
  CT_ASSIGN(model::Contact c, store_->Create(contact));
  CT_ASSIGN(model::Contact c2, store_->GetContact(c.meta.id));
  EXPECT_EQ(c2.account_id, a.meta.id);
  EXPECT_EQ(c2.first_name, "Jana");
  EXPECT_EQ(c2.last_name, "Nováková");
  EXPECT_EQ(c2.email, contact.email);
  EXPECT_EQ(c2.phone, contact.phone);
  EXPECT_EQ(c2.job_title, contact.job_title);
  EXPECT_EQ(c2.notes, contact.notes);
  EXPECT_FALSE(c2.meta.shared);

  model::Opportunity opp;
  opp.meta.owner_id = "owner-2";
  opp.name = "Big deal";
  opp.account_id = a.meta.id;
  opp.contact_id = c.meta.id;
  opp.stage = model::OpportunityStage::kNegotiation;
  opp.amount_cents = 12'345'678'901;
  opp.currency = "CZK";
  opp.close_date = "2026-12-31";
  opp.notes = "n";
  CT_ASSIGN(model::Opportunity o, store_->Create(opp));
  CT_ASSIGN(model::Opportunity o2, store_->GetOpportunity(o.meta.id));
  EXPECT_EQ(o2.name, opp.name);
  EXPECT_EQ(o2.account_id, opp.account_id);
  EXPECT_EQ(o2.contact_id, opp.contact_id);
  EXPECT_EQ(o2.stage, model::OpportunityStage::kNegotiation);
  EXPECT_EQ(o2.amount_cents, opp.amount_cents);
  EXPECT_EQ(o2.currency, "CZK");
  EXPECT_EQ(o2.close_date, "2026-12-31");
  EXPECT_EQ(o2.notes, "n");

  model::Activity act = NewActivity("owner-2", "Weekly review", At(kTen), At(kTen + kHour));
  act.kind = model::ActivityKind::kPhoneCall;
  act.location = "Room 4";
  act.description = "line 1\nline 2";
  act.time_zone = "Europe/Prague";
  act.show_as = model::ShowAs::kTentative;
  act.is_private = true;
  act.reminder_minutes = 15;
  act.regarding_type = model::RegardingType::kOpportunity;
  act.regarding_id = o.meta.id;
  act.rrule = "FREQ=WEEKLY;BYDAY=MO;COUNT=10";
  act.exdates = {At(kTen + 7 * 24 * kHour), FromUnixMicros(ToUnixMicros(At(kTen)) + 250'000)};
  act.rdates = {At(kTen + 3 * 24 * kHour)};
  static constexpr char kExtra[] = "ATTENDEE;CN=X:mailto:x@example.test\r\n\0binary\xff";
  act.ical_extra = std::string(kExtra, sizeof(kExtra) - 1);
  CT_ASSIGN(model::Activity v, store_->Create(act));
  CT_ASSIGN(model::Activity v2, store_->GetActivity(v.meta.id));
  EXPECT_EQ(v2.kind, model::ActivityKind::kPhoneCall);
  EXPECT_EQ(v2.subject, act.subject);
  EXPECT_EQ(v2.location, act.location);
  EXPECT_EQ(v2.description, act.description);
  EXPECT_EQ(v2.start, act.start);
  EXPECT_EQ(v2.end, act.end);
  EXPECT_FALSE(v2.all_day);
  EXPECT_EQ(v2.time_zone, "Europe/Prague");
  EXPECT_EQ(v2.show_as, model::ShowAs::kTentative);
  EXPECT_TRUE(v2.is_private);
  EXPECT_EQ(v2.reminder_minutes, std::optional<int>(15));
  EXPECT_EQ(v2.regarding_type, model::RegardingType::kOpportunity);
  EXPECT_EQ(v2.regarding_id, o.meta.id);
  EXPECT_EQ(v2.rrule, act.rrule);
  EXPECT_EQ(v2.exdates, act.exdates);
  EXPECT_EQ(v2.rdates, act.rdates);
  EXPECT_EQ(v2.ical_extra, act.ical_extra);

  // An all-day activity without reminder.
  model::Activity day = NewActivity("owner-2", "Holiday", At(1'790'121'600), At(1'790'208'000));
  day.all_day = true;
  day.kind = model::ActivityKind::kTask;
  CT_ASSIGN(model::Activity d, store_->Create(day));
  CT_ASSIGN(model::Activity d2, store_->GetActivity(d.meta.id));
  EXPECT_TRUE(d2.all_day);
  EXPECT_EQ(d2.reminder_minutes, std::nullopt);
  EXPECT_TRUE(d2.exdates.empty());
  EXPECT_EQ(d2.kind, model::ActivityKind::kTask);
}

TEST_P(StoreContractTest, KeepsAGivenIdAndRefusesADuplicate) {
  model::Account a = NewAccount("o", "Given");
  a.meta.id = "0190aaaa-0000-7000-8000-000000000001";
  CT_ASSIGN(model::Account created, store_->Create(a));
  EXPECT_EQ(created.meta.id, a.meta.id);
  auto again = store_->Create(a);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
}

TEST_P(StoreContractTest, UnknownIdsAreNotFound) {
  EXPECT_EQ(store_->GetAccount("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetContact("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetOpportunity("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetActivity("nope").status().code(), Code::kNotFound);
  model::Account a = NewAccount("o", "Ghost");
  a.meta.id = "nope";
  EXPECT_EQ(store_->Update(a, std::nullopt).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Delete(EntityType::kAccount, "nope", std::nullopt).code(), Code::kNotFound);
  EXPECT_EQ(store_->Delete(EntityType::kUser, "nope", std::nullopt).code(), Code::kInvalidArgument);
}

TEST_P(StoreContractTest, InvalidRecordsAreRejectedAndNothingIsWritten) {
  CT_ASSIGN(int64_t before, store_->LatestSeq());
  auto no_name = store_->Create(NewAccount("o", ""));
  ASSERT_FALSE(no_name.ok());
  EXPECT_EQ(no_name.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(no_name.status().message().rfind("name", 0), 0u) << no_name.status().message();

  auto no_owner = store_->Create(NewAccount("", "Acme"));
  ASSERT_FALSE(no_owner.ok());
  EXPECT_EQ(no_owner.status().code(), Code::kInvalidArgument);

  auto backwards = store_->Create(NewActivity("o", "x", At(kTen), At(kTen - 1)));
  ASSERT_FALSE(backwards.ok());
  EXPECT_EQ(backwards.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(backwards.status().message().rfind("end", 0), 0u);

  model::Opportunity bad;
  bad.meta.owner_id = "o";
  bad.name = "x";
  bad.amount_cents = -1;
  EXPECT_EQ(store_->Create(bad).status().code(), Code::kInvalidArgument);

  model::Contact nameless;
  nameless.meta.owner_id = "o";
  EXPECT_EQ(store_->Create(nameless).status().code(), Code::kInvalidArgument);

  // An invalid update leaves the record as it was.
  CT_ASSIGN(model::Account ok, store_->Create(NewAccount("o", "Valid")));
  model::Account broken = ok;
  broken.name.clear();
  EXPECT_EQ(store_->Update(broken, std::nullopt).status().code(), Code::kInvalidArgument);
  CT_ASSIGN(model::Account still, store_->GetAccount(ok.meta.id));
  EXPECT_EQ(still.name, "Valid");
  EXPECT_EQ(still.meta.version, 1);

  CT_ASSIGN(int64_t after, store_->LatestSeq());
  EXPECT_EQ(after, before + 1);  // only the one valid create
}

// ------------------------------------------------------------------ versions

TEST_P(StoreContractTest, UpdateBumpsVersionKeepsCreatedAndSetsModified) {
  Instant t0 = clock_.Now();
  CT_ASSIGN(model::Account a, store_->Create(NewAccount("o", "Before")));
  clock_.Advance(minutes(5));
  a.name = "After";
  a.meta.created = At(0);  // ignored: the store keeps the original
  a.meta.version = 99;     // ignored: the store bumps
  CT_ASSIGN(model::Account b, store_->Update(a, int64_t{1}));
  EXPECT_EQ(b.meta.version, 2);
  EXPECT_EQ(b.meta.created, t0);
  EXPECT_EQ(b.meta.modified, t0 + minutes(5));
  CT_ASSIGN(model::Account c, store_->GetAccount(a.meta.id));
  EXPECT_EQ(c.name, "After");
  EXPECT_EQ(c.meta.version, 2);
  EXPECT_EQ(c.meta.created, t0);
  EXPECT_EQ(c.meta.modified, t0 + minutes(5));
}

TEST_P(StoreContractTest, StaleExpectedVersionIsPreconditionFailedNamingTheCurrentOne) {
  CT_ASSIGN(model::Activity a, store_->Create(NewActivity("o", "v1", At(kTen), At(kTen + 60))));
  a.subject = "v2";
  CT_ASSIGN(model::Activity b, store_->Update(a, int64_t{1}));
  EXPECT_EQ(b.meta.version, 2);

  a.subject = "lost update";
  auto stale = store_->Update(a, int64_t{1});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), Code::kPreconditionFailed);
  EXPECT_NE(stale.status().message().find("version 2"), std::string::npos)
      << stale.status().message();
  CT_ASSIGN(model::Activity current, store_->GetActivity(a.meta.id));
  EXPECT_EQ(current.subject, "v2");
  EXPECT_EQ(current.meta.version, 2);

  // No expectation: unconditional.
  a.subject = "v3";
  CT_ASSIGN(model::Activity c, store_->Update(a, std::nullopt));
  EXPECT_EQ(c.meta.version, 3);

  // Deletes check versions too.
  EXPECT_EQ(store_->Delete(EntityType::kActivity, a.meta.id, int64_t{2}).code(),
            Code::kPreconditionFailed);
  CT_OK(store_->Delete(EntityType::kActivity, a.meta.id, int64_t{3}));
  EXPECT_EQ(store_->GetActivity(a.meta.id).status().code(), Code::kNotFound);
}

TEST_P(StoreContractTest, DeletesEveryEntityType) {
  CT_ASSIGN(model::Account a, store_->Create(NewAccount("o", "A")));
  model::Contact c;
  c.meta.owner_id = "o";
  c.last_name = "L";
  CT_ASSIGN(c, store_->Create(c));
  model::Opportunity o;
  o.meta.owner_id = "o";
  o.name = "O";
  CT_ASSIGN(o, store_->Create(o));
  CT_ASSIGN(model::Activity v, store_->Create(NewActivity("o", "V", At(kTen), At(kTen))));
  CT_OK(store_->Delete(EntityType::kAccount, a.meta.id, std::nullopt));
  CT_OK(store_->Delete(EntityType::kContact, c.meta.id, std::nullopt));
  CT_OK(store_->Delete(EntityType::kOpportunity, o.meta.id, std::nullopt));
  CT_OK(store_->Delete(EntityType::kActivity, v.meta.id, std::nullopt));
  EXPECT_EQ(store_->GetAccount(a.meta.id).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetContact(c.meta.id).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetOpportunity(o.meta.id).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetActivity(v.meta.id).status().code(), Code::kNotFound);
  // Deleting again: already gone.
  EXPECT_EQ(store_->Delete(EntityType::kAccount, a.meta.id, std::nullopt).code(), Code::kNotFound);
}

// ------------------------------------------------------------------ users and sessions

TEST_P(StoreContractTest, UsersCrudWithUniqueLogins) {
  CT_ASSIGN(model::User alice, store_->CreateUser(NewUser("alice", model::Role::kAdmin)));
  EXPECT_TRUE(IsUuid(alice.id));
  EXPECT_EQ(alice.version, 1);
  CT_ASSIGN(model::User bob, store_->CreateUser(NewUser("bob")));
  CT_ASSIGN(model::User got, store_->GetUser(alice.id));
  EXPECT_EQ(got.login, "alice");
  EXPECT_EQ(got.role, model::Role::kAdmin);
  EXPECT_EQ(got.password_hash, alice.password_hash);
  EXPECT_EQ(got.email, "alice@example.test");
  CT_ASSIGN(model::User by_login, store_->GetUserByLogin("bob"));
  EXPECT_EQ(by_login.id, bob.id);
  // Logins are case-insensitive.
  CT_ASSIGN(model::User by_upper, store_->GetUserByLogin("BOB"));
  EXPECT_EQ(by_upper.id, bob.id);
  EXPECT_EQ(store_->CreateUser(NewUser("Alice")).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(store_->GetUserByLogin("carol").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->CreateUser(NewUser("has space")).status().code(), Code::kInvalidArgument);

  CT_ASSIGN(int64_t count, store_->CountUsers());
  EXPECT_EQ(count, 2);
  CT_ASSIGN(std::vector<model::User> all, store_->ListUsers());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].login, "alice");
  EXPECT_EQ(all[1].login, "bob");

  clock_.Advance(minutes(1));
  bob.display_name = "Robert";
  bob.disabled = true;
  CT_ASSIGN(model::User bob2, store_->UpdateUser(bob, int64_t{1}));
  EXPECT_EQ(bob2.version, 2);
  EXPECT_EQ(bob2.created, bob.created);
  EXPECT_EQ(bob2.modified, clock_.Now());
  EXPECT_EQ(store_->UpdateUser(bob, int64_t{1}).status().code(), Code::kPreconditionFailed);
  bob2.login = "alice";  // taken
  EXPECT_EQ(store_->UpdateUser(bob2, std::nullopt).status().code(), Code::kAlreadyExists);
  CT_ASSIGN(model::User bob3, store_->GetUser(bob.id));
  EXPECT_EQ(bob3.display_name, "Robert");
  EXPECT_TRUE(bob3.disabled);
  EXPECT_EQ(bob3.login, "bob");
}

TEST_P(StoreContractTest, DeletingAUserIsRefusedWhileTheyOwnRecords) {
  CT_ASSIGN(model::User u, store_->CreateUser(NewUser("owner")));
  CT_ASSIGN(model::Activity a, store_->Create(NewActivity(u.id, "mine", At(kTen), At(kTen))));
  Status refused = store_->DeleteUser(u.id);
  EXPECT_EQ(refused.code(), Code::kConflict) << refused.ToString();
  CT_ASSIGN(model::User still, store_->GetUser(u.id));
  EXPECT_EQ(still.login, "owner");

  CT_OK(store_->CreateSession({.token_hash = "h1",
                               .user_id = u.id,
                               .created = clock_.Now(),
                               .expires = clock_.Now() + hours(1)}));
  CT_OK(store_->Delete(EntityType::kActivity, a.meta.id, std::nullopt));
  CT_OK(store_->DeleteUser(u.id));
  EXPECT_EQ(store_->GetUser(u.id).status().code(), Code::kNotFound);
  // The user's sessions went with them.
  EXPECT_EQ(store_->GetSession("h1").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->DeleteUser(u.id).code(), Code::kNotFound);
}

TEST_P(StoreContractTest, SessionsLifecycle) {
  CT_ASSIGN(model::User u, store_->CreateUser(NewUser("s")));
  Instant now = clock_.Now();
  CT_OK(store_->CreateSession(
      {.token_hash = "aa", .user_id = u.id, .created = now, .expires = now + hours(1)}));
  CT_OK(store_->CreateSession(
      {.token_hash = "bb", .user_id = u.id, .created = now, .expires = now + hours(3)}));
  EXPECT_EQ(
      store_
          ->CreateSession(
              {.token_hash = "aa", .user_id = u.id, .created = now, .expires = now + hours(1)})
          .code(),
      Code::kAlreadyExists);
  EXPECT_EQ(store_
                ->CreateSession({.token_hash = "cc",
                                 .user_id = "no-such-user",
                                 .created = now,
                                 .expires = now + hours(1)})
                .code(),
            Code::kNotFound);
  CT_ASSIGN(Session s, store_->GetSession("aa"));
  EXPECT_EQ(s.user_id, u.id);
  EXPECT_EQ(s.created, now);
  EXPECT_EQ(s.expires, now + hours(1));

  CT_ASSIGN(int expired, store_->DeleteExpiredSessions(now + hours(2)));
  EXPECT_EQ(expired, 1);
  EXPECT_EQ(store_->GetSession("aa").status().code(), Code::kNotFound);
  CT_OK(store_->DeleteSession("bb"));
  EXPECT_EQ(store_->GetSession("bb").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->DeleteSession("bb").code(), Code::kNotFound);
}

TEST_P(StoreContractTest, AppPasswordsPerUserByName) {
  CT_ASSIGN(model::User u, store_->CreateUser(NewUser("ap")));
  CT_ASSIGN(model::User other, store_->CreateUser(NewUser("ap2")));
  Instant now = clock_.Now();
  CT_OK(store_->CreateAppPassword({.user_id = u.id, .name = "phone", .hash = "h1", .created = now}));
  CT_OK(store_->CreateAppPassword({.user_id = u.id, .name = "laptop", .hash = "h2", .created = now}));
  CT_OK(store_->CreateAppPassword({.user_id = other.id, .name = "phone", .hash = "h3", .created = now}));
  EXPECT_EQ(store_->CreateAppPassword({.user_id = u.id, .name = "phone", .hash = "h4", .created = now}).code(),
            Code::kAlreadyExists);
  EXPECT_EQ(store_->CreateAppPassword({.user_id = "nobody", .name = "x", .hash = "h", .created = now}).code(),
            Code::kNotFound);
  EXPECT_EQ(store_->CreateAppPassword({.user_id = u.id, .name = "", .hash = "h", .created = now}).code(),
            Code::kInvalidArgument);
  CT_ASSIGN(std::vector<AppPassword> mine, store_->ListAppPasswords(u.id));
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].name, "laptop");
  EXPECT_EQ(mine[1].name, "phone");
  EXPECT_EQ(mine[1].hash, "h1");
  EXPECT_EQ(mine[1].created, now);
  CT_OK(store_->DeleteAppPassword(u.id, "phone"));
  EXPECT_EQ(store_->DeleteAppPassword(u.id, "phone").code(), Code::kNotFound);
  CT_ASSIGN(mine, store_->ListAppPasswords(u.id));
  ASSERT_EQ(mine.size(), 1u);
  CT_ASSIGN(std::vector<AppPassword> theirs, store_->ListAppPasswords(other.id));
  ASSERT_EQ(theirs.size(), 1u);  // another user's of the same name untouched
  CT_OK(store_->DeleteUser(u.id));
  CT_ASSIGN(mine, store_->ListAppPasswords(u.id));
  EXPECT_TRUE(mine.empty());
}

// ------------------------------------------------------------------ lists

TEST_P(StoreContractTest, KeysetPaginationVisitsEveryRecordOnce) {
  std::set<std::string> created;
  for (int i = 0; i < 25; ++i) {
    CT_ASSIGN(model::Account a, store_->Create(NewAccount("o", "A" + std::to_string(i))));
    created.insert(a.meta.id);
  }
  std::vector<std::string> seen;
  std::vector<size_t> page_sizes;
  ListOptions o;
  o.limit = 10;
  while (true) {
    CT_ASSIGN(Page<model::Account> page, store_->ListAccounts(o));
    page_sizes.push_back(page.items.size());
    for (const auto& a : page.items) seen.push_back(a.meta.id);
    if (page.next_page_after.empty()) break;
    EXPECT_EQ(page.next_page_after, page.items.back().meta.id);
    o.page_after = page.next_page_after;
    ASSERT_LT(page_sizes.size(), 10u);
  }
  EXPECT_EQ(page_sizes, (std::vector<size_t>{10, 10, 5}));
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), created);
  EXPECT_EQ(seen.size(), created.size());

  // A page that ends exactly at the last record says so.
  ListOptions exact;
  exact.limit = 25;
  CT_ASSIGN(Page<model::Account> all, store_->ListAccounts(exact));
  EXPECT_EQ(all.items.size(), 25u);
  EXPECT_TRUE(all.next_page_after.empty());

  ListOptions bad;
  bad.limit = 0;
  EXPECT_EQ(store_->ListAccounts(bad).status().code(), Code::kInvalidArgument);
  bad.limit = 1001;
  EXPECT_EQ(store_->ListAccounts(bad).status().code(), Code::kInvalidArgument);
}

TEST_P(StoreContractTest, OwnerFilterListsOnlyThatOwnersRecords) {
  for (int i = 0; i < 3; ++i) {
    CT_ASSIGN(model::Contact c, store_->Create([&] {
      model::Contact c;
      c.meta.owner_id = i == 1 ? "bob" : "alice";
      c.last_name = "C" + std::to_string(i);
      return c;
    }()));
    (void)c;
  }
  ListOptions o;
  o.owner_id = "alice";
  CT_ASSIGN(Page<model::Contact> page, store_->ListContacts(o));
  ASSERT_EQ(page.items.size(), 2u);
  for (const auto& c : page.items) EXPECT_EQ(c.meta.owner_id, "alice");
  o.owner_id = "nobody";
  CT_ASSIGN(Page<model::Contact> none, store_->ListContacts(o));
  EXPECT_TRUE(none.items.empty());
}

TEST_P(StoreContractTest, ViewerSeesOnlyRecordsAddressedToThem) {
  // alice's records in every visibility; bob and an admin look at them.
  CT_ASSIGN(model::Account shared_acc, store_->Create(NewAccount("alice", "shared", true)));
  CT_ASSIGN(model::Account hidden_acc, store_->Create(NewAccount("alice", "unshared", false)));
  model::Activity shared_act = NewActivity("alice", "shared", At(kTen), At(kTen + kHour));
  model::Activity unshared_act = shared_act;
  unshared_act.subject = "unshared";
  unshared_act.meta.shared = false;
  model::Activity private_act = shared_act;
  private_act.subject = "private";
  private_act.is_private = true;  // shared = true, yet private wins
  CT_ASSIGN(shared_act, store_->Create(shared_act));
  CT_ASSIGN(unshared_act, store_->Create(unshared_act));
  CT_ASSIGN(private_act, store_->Create(private_act));

  auto subjects = [&](const Viewer& v, bool with_range) {
    ListOptions o;
    o.viewer = v;
    if (with_range) {
      o.from = At(kTen - kHour);
      o.to = At(kTen + 2 * kHour);
    }
    std::set<std::string> out;
    auto page = store_->ListActivities(o);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (!page.ok()) return out;
    for (const auto& a : page->items) out.insert(a.subject);
    return out;
  };
  auto accounts = [&](const Viewer& v) {
    ListOptions o;
    o.viewer = v;
    std::set<std::string> out;
    auto page = store_->ListAccounts(o);
    EXPECT_TRUE(page.ok());
    if (page.ok()) {
      for (const auto& a : page->items) out.insert(a.name);
    }
    return out;
  };
  Viewer alice{"alice", false};
  Viewer bob{"bob", false};
  Viewer admin{"root", true};
  using Set = std::set<std::string>;
  for (bool with_range : {false, true}) {
    EXPECT_EQ(subjects(alice, with_range), (Set{"shared", "unshared", "private"}));
    EXPECT_EQ(subjects(bob, with_range), (Set{"shared"}));
    EXPECT_EQ(subjects(admin, with_range), (Set{"shared", "unshared"}));
  }
  EXPECT_EQ(accounts(alice), (Set{"shared", "unshared"}));
  EXPECT_EQ(accounts(bob), (Set{"shared"}));
  EXPECT_EQ(accounts(admin), (Set{"shared", "unshared"}));

  // The audience each record is addressed to (the policy's input, api/policy.h).
  EXPECT_EQ(AudienceOf(shared_acc.meta, false), Audience::kEveryone);
  EXPECT_EQ(AudienceOf(hidden_acc.meta, false), Audience::kOwnerAndAdmins);
  EXPECT_EQ(AudienceOf(unshared_act.meta, unshared_act.is_private), Audience::kOwnerAndAdmins);
  EXPECT_EQ(AudienceOf(private_act.meta, private_act.is_private), Audience::kOwner);
}

TEST_P(StoreContractTest, TimeRangeOverlapEdges) {
  // Window [10:00, 11:00).
  const Instant from = At(kTen);
  const Instant to = At(kTen + kHour);
  struct Case {
    std::string subject;
    Instant start, end;
    bool expected;
  };
  std::vector<Case> cases = {
      {"ends at from", At(kTen - kHour), At(kTen), false},
      {"starts at to", At(kTen + kHour), At(kTen + 2 * kHour), false},
      {"zero length at from", At(kTen), At(kTen), true},
      {"zero length at to", At(kTen + kHour), At(kTen + kHour), false},
      {"zero length inside", At(kTen + 60), At(kTen + 60), true},
      {"covers window", At(kTen - 2 * kHour), At(kTen + 3 * kHour), true},
      {"inside", At(kTen + 600), At(kTen + 1200), true},
      {"straddles from", At(kTen - 60), At(kTen + 60), true},
      {"straddles to", At(kTen + kHour - 60), At(kTen + kHour + 60), true},
      {"long ago, many days", At(kTen - 30 * 24 * kHour), At(kTen + 1), true},
      {"before", At(kTen - 3 * kHour), At(kTen - 2 * kHour), false},
      {"after", At(kTen + 3 * kHour), At(kTen + 4 * kHour), false},
  };
  for (const auto& c : cases) {
    CT_ASSIGN(model::Activity a, store_->Create(NewActivity("o", c.subject, c.start, c.end)));
    (void)a;
  }
  // A recurring series that started a month ago may have an instance in the window.
  model::Activity series = NewActivity("o", "weekly since last month", At(kTen - 28 * 24 * kHour),
                                       At(kTen - 28 * 24 * kHour + 1800));
  series.rrule = "FREQ=WEEKLY";
  CT_ASSIGN(series, store_->Create(series));
  // One that starts after the window cannot.
  model::Activity later_series = series;
  later_series.meta.id.clear();
  later_series.subject = "weekly from next week";
  later_series.start = At(kTen + 7 * 24 * kHour);
  later_series.end = later_series.start + minutes(30);
  CT_ASSIGN(later_series, store_->Create(later_series));

  ListOptions o;
  o.from = from;
  o.to = to;
  CT_ASSIGN(Page<model::Activity> page, store_->ListActivities(o));
  std::set<std::string> got;
  for (const auto& a : page.items) got.insert(a.subject);
  std::set<std::string> want = {"weekly since last month"};
  for (const auto& c : cases) {
    if (c.expected) want.insert(c.subject);
  }
  EXPECT_EQ(got, want);

  // Open-ended ranges.
  ListOptions only_to;
  only_to.to = At(kTen - 2 * kHour);
  CT_ASSIGN(Page<model::Activity> early, store_->ListActivities(only_to));
  std::set<std::string> early_got;
  for (const auto& a : early.items) early_got.insert(a.subject);
  EXPECT_EQ(early_got,
            (std::set<std::string>{"long ago, many days", "before", "weekly since last month"}));
  ListOptions only_from;
  only_from.from = At(kTen + 3 * kHour);
  CT_ASSIGN(Page<model::Activity> late, store_->ListActivities(only_from));
  std::set<std::string> late_got;
  for (const auto& a : late.items) late_got.insert(a.subject);
  EXPECT_EQ(late_got,
            (std::set<std::string>{"after", "weekly since last month", "weekly from next week"}));

  ListOptions backwards;
  backwards.from = to;
  backwards.to = from;
  EXPECT_EQ(store_->ListActivities(backwards).status().code(), Code::kInvalidArgument);
  ListOptions not_activities;
  not_activities.from = from;
  EXPECT_EQ(store_->ListAccounts(not_activities).status().code(), Code::kInvalidArgument);
}

TEST_P(StoreContractTest, SequenceGrowsWithReschedulingAndNeverGoesDown) {
  // RFC 5545 3.8.7.4: SEQUENCE grows when start, end, recurrence or status change.
  CT_ASSIGN(model::Activity a, store_->Create(NewActivity("o", "Call", At(kTen), At(kTen + 60))));
  EXPECT_EQ(a.sequence, 0);
  a.subject = "Call, renamed";
  CT_ASSIGN(a, store_->Update(a, std::nullopt));
  EXPECT_EQ(a.sequence, 0) << "a new title is not a reschedule";
  a.start = At(kTen + kHour);
  a.end = At(kTen + kHour + 60);
  CT_ASSIGN(a, store_->Update(a, std::nullopt));
  EXPECT_EQ(a.sequence, 1);
  a.sequence = 5;  // a calendar's own, higher SEQUENCE arriving through the sync
  a.location = "Room 1";
  CT_ASSIGN(a, store_->Update(a, std::nullopt));
  EXPECT_EQ(a.sequence, 5);
  a.sequence = 0;  // a writer that knows nothing of it (a REST client)
  a.location = "Room 2";
  CT_ASSIGN(a, store_->Update(a, std::nullopt));
  EXPECT_EQ(a.sequence, 5) << "SEQUENCE never goes down";
  a.sequence = 2;
  a.cancelled = true;
  CT_ASSIGN(a, store_->Update(a, std::nullopt));
  EXPECT_EQ(a.sequence, 6);
  EXPECT_TRUE(a.cancelled);
  a.rrule = "FREQ=WEEKLY";
  CT_ASSIGN(a, store_->Update(a, std::nullopt));
  EXPECT_EQ(a.sequence, 7);
  CT_ASSIGN(model::Activity read, store_->GetActivity(a.meta.id));
  EXPECT_EQ(read.sequence, 7);
  EXPECT_TRUE(read.cancelled);
}

TEST_P(StoreContractTest, GetActivitiesFetchesManyInRequestOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    CT_ASSIGN(model::Activity a, store_->Create(NewActivity("o", "A" + std::to_string(i),
                                                            At(kTen + i), At(kTen + i))));
    ids.push_back(a.meta.id);
  }
  std::vector<std::string> ask = {ids[3], "missing", ids[0], ids[4], ids[0]};
  CT_ASSIGN(std::vector<model::Activity> got, store_->GetActivities(ask));
  EXPECT_EQ(Ids(got), (std::vector<std::string>{ids[3], ids[0], ids[4]}));
  EXPECT_EQ(got[0].subject, "A3");
  CT_ASSIGN(std::vector<model::Activity> none, store_->GetActivities({}));
  EXPECT_TRUE(none.empty());
}

// ------------------------------------------------------------------ change feed

TEST_P(StoreContractTest, ChangeFeedCarriesTheOriginOfEachWrite) {
  CT_ASSIGN(int64_t start, store_->LatestSeq());
  model::Activity made = NewActivity("o", "from a calendar", At(kTen), At(kTen));
  made.meta.origin = "sync:pair-1";
  CT_ASSIGN(model::Activity a, store_->Create(made));
  EXPECT_EQ(a.meta.origin, "") << "the origin is not part of the record";
  CT_ASSIGN(model::Activity b, store_->Create(NewActivity("o", "typed in", At(kTen), At(kTen))));
  CT_ASSIGN(ChangeBatch first, store_->ChangesSince(start, 100, {}));
  ASSERT_EQ(first.changes.size(), 2u);
  EXPECT_EQ(first.changes[0].origin, "sync:pair-1");
  EXPECT_EQ(first.changes[1].origin, "");
  // A user's update of the synced one, then a run's deletion of the other.
  a.subject = "edited";
  CT_ASSIGN(a, store_->Update(a, std::nullopt));
  ASSERT_TRUE(store_->Delete(EntityType::kActivity, b.meta.id, std::nullopt, "sync:pair-2").ok());
  CT_ASSIGN(ChangeBatch second, store_->ChangesSince(first.next_seq, 100, {}));
  ASSERT_EQ(second.changes.size(), 2u);
  EXPECT_EQ(second.changes[0].id, a.meta.id);
  EXPECT_EQ(second.changes[0].origin, "");
  EXPECT_EQ(second.changes[1].op, ChangeOp::kDelete);
  EXPECT_EQ(second.changes[1].origin, "sync:pair-2");
}

TEST_P(StoreContractTest, ChangeFeedHoldsEachRecordOnceAtItsLatestWrite) {
  CT_ASSIGN(int64_t start, store_->LatestSeq());
  CT_ASSIGN(model::Account a, store_->Create(NewAccount("o", "a")));
  CT_ASSIGN(model::Account b, store_->Create(NewAccount("o", "b")));
  CT_ASSIGN(model::Activity c, store_->Create(NewActivity("o", "c", At(kTen), At(kTen))));
  clock_.Advance(minutes(1));
  a.name = "a2";
  CT_ASSIGN(a, store_->Update(a, std::nullopt));

  CT_ASSIGN(ChangeBatch all, store_->ChangesSince(start, 100, {}));
  EXPECT_EQ(Ids(all.changes), (std::vector<std::string>{b.meta.id, c.meta.id, a.meta.id}));
  EXPECT_FALSE(all.more);
  for (size_t i = 1; i < all.changes.size(); ++i) {
    EXPECT_LT(all.changes[i - 1].seq, all.changes[i].seq);
  }
  CT_ASSIGN(int64_t latest, store_->LatestSeq());
  EXPECT_EQ(all.changes.back().seq, latest);
  EXPECT_EQ(all.next_seq, latest);
  EXPECT_EQ(all.changes[0].entity, EntityType::kAccount);
  EXPECT_EQ(all.changes[1].entity, EntityType::kActivity);
  EXPECT_EQ(all.changes[2].op, ChangeOp::kUpsert);
  EXPECT_EQ(all.changes[2].owner_id, "o");
  EXPECT_EQ(all.changes[2].at, clock_.Now());

  // Paging: limit 2 cuts the batch; continuing from next_seq gives the rest.
  CT_ASSIGN(ChangeBatch first, store_->ChangesSince(start, 2, {}));
  EXPECT_EQ(first.changes.size(), 2u);
  EXPECT_TRUE(first.more);
  CT_ASSIGN(ChangeBatch second, store_->ChangesSince(first.next_seq, 2, {}));
  EXPECT_EQ(Ids(second.changes), (std::vector<std::string>{a.meta.id}));
  EXPECT_FALSE(second.more);

  // Nothing new: an empty batch that keeps the cursor.
  CT_ASSIGN(ChangeBatch empty, store_->ChangesSince(latest, 100, {}));
  EXPECT_TRUE(empty.changes.empty());
  EXPECT_EQ(empty.next_seq, latest);

  EXPECT_EQ(store_->ChangesSince(0, 0, {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->ChangesSince(0, 10001, {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->ChangesSince(-1, 10, {}).status().code(), Code::kInvalidArgument);
}

TEST_P(StoreContractTest, DeletionsLeaveTombstones) {
  CT_ASSIGN(model::Contact c, store_->Create([] {
    model::Contact c;
    c.meta.owner_id = "o";
    c.last_name = "Gone";
    return c;
  }()));
  CT_ASSIGN(int64_t cursor, store_->LatestSeq());
  CT_OK(store_->Delete(EntityType::kContact, c.meta.id, std::nullopt));
  CT_ASSIGN(ChangeBatch batch, store_->ChangesSince(cursor, 100, {}));
  ASSERT_EQ(batch.changes.size(), 1u);
  EXPECT_EQ(batch.changes[0].id, c.meta.id);
  EXPECT_EQ(batch.changes[0].op, ChangeOp::kDelete);
  EXPECT_EQ(batch.changes[0].entity, EntityType::kContact);
  EXPECT_EQ(batch.changes[0].owner_id, "o");
  // From the beginning, the record appears once, as a tombstone.
  CT_ASSIGN(ChangeBatch from_start, store_->ChangesSince(0, 100, {}));
  ASSERT_EQ(from_start.changes.size(), 1u);
  EXPECT_EQ(from_start.changes[0].op, ChangeOp::kDelete);
}

TEST_P(StoreContractTest, PrunedTombstonesMakeOldCursorsResync) {
  CT_ASSIGN(model::Account keep, store_->Create(NewAccount("o", "keep")));
  CT_ASSIGN(model::Account gone, store_->Create(NewAccount("o", "gone")));
  CT_ASSIGN(int64_t old_cursor, store_->LatestSeq());
  CT_OK(store_->Delete(EntityType::kAccount, gone.meta.id, std::nullopt));
  CT_ASSIGN(int64_t after_delete, store_->LatestSeq());

  // Nothing old enough yet.
  CT_ASSIGN(int none, store_->PruneTombstones(clock_.Now() - hours(1)));
  EXPECT_EQ(none, 0);
  CT_ASSIGN(ChangeBatch fine, store_->ChangesSince(0, 100, {}));
  EXPECT_EQ(fine.changes.size(), 2u);

  clock_.Advance(hours(48));
  CT_ASSIGN(model::Account fresh, store_->Create(NewAccount("o", "fresh")));
  CT_OK(store_->Delete(EntityType::kAccount, fresh.meta.id, std::nullopt));  // a recent tombstone
  CT_ASSIGN(int pruned, store_->PruneTombstones(clock_.Now() - hours(24)));
  EXPECT_EQ(pruned, 1);

  auto stale = store_->ChangesSince(old_cursor, 100, {});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), Code::kResyncRequired);
  // A reader that holds nothing (cursor 0) needs no tombstones: it gets every
  // live record, and the tombstone still retained.
  CT_ASSIGN(ChangeBatch fill, store_->ChangesSince(0, 100, {}));
  EXPECT_EQ(Ids(fill.changes), (std::vector<std::string>{keep.meta.id, fresh.meta.id}));
  EXPECT_EQ(fill.changes[0].op, ChangeOp::kUpsert);
  // Pruning again with nothing old enough keeps the answer.
  CT_ASSIGN(int again, store_->PruneTombstones(clock_.Now() - hours(24)));
  EXPECT_EQ(again, 0);
  EXPECT_EQ(store_->ChangesSince(old_cursor, 100, {}).status().code(), Code::kResyncRequired);
  // A cursor that had already seen the pruned tombstone continues.
  CT_ASSIGN(ChangeBatch rest, store_->ChangesSince(after_delete, 100, {}));
  ASSERT_EQ(rest.changes.size(), 1u);
  EXPECT_EQ(rest.changes[0].id, fresh.meta.id);
  EXPECT_EQ(rest.changes[0].op, ChangeOp::kDelete);
  // The live record is untouched by pruning.
  CT_ASSIGN(model::Account still, store_->GetAccount(keep.meta.id));
  EXPECT_EQ(still.name, "keep");
}

TEST_P(StoreContractTest, FeedFiltersByEntityAndOwner) {
  CT_ASSIGN(model::Account a1, store_->Create(NewAccount("alice", "a1")));
  CT_ASSIGN(model::Activity v1, store_->Create(NewActivity("alice", "v1", At(kTen), At(kTen))));
  CT_ASSIGN(model::Activity v2, store_->Create(NewActivity("bob", "v2", At(kTen), At(kTen))));
  CT_ASSIGN(model::Account a2, store_->Create(NewAccount("bob", "a2")));

  CT_ASSIGN(ChangeBatch activities,
            store_->ChangesSince(0, 100, {.entity = EntityType::kActivity, .owner_id = {}}));
  EXPECT_EQ(Ids(activities.changes), (std::vector<std::string>{v1.meta.id, v2.meta.id}));
  CT_ASSIGN(ChangeBatch alice, store_->ChangesSince(0, 100, {.entity = {}, .owner_id = "alice"}));
  EXPECT_EQ(Ids(alice.changes), (std::vector<std::string>{a1.meta.id, v1.meta.id}));
  CT_ASSIGN(ChangeBatch bob_accounts,
            store_->ChangesSince(0, 100, {.entity = EntityType::kAccount, .owner_id = "bob"}));
  EXPECT_EQ(Ids(bob_accounts.changes), (std::vector<std::string>{a2.meta.id}));
  // A filtered reader's cursor still advances past the rows it did not match.
  CT_ASSIGN(int64_t latest, store_->LatestSeq());
  EXPECT_EQ(bob_accounts.next_seq, latest);
}

TEST_P(StoreContractTest, RecordMovedToAnotherOwnerLeavesTheOldOwnersFeed) {
  CT_ASSIGN(model::Activity v, store_->Create(NewActivity("alice", "v", At(kTen), At(kTen))));
  CT_ASSIGN(int64_t cursor, store_->LatestSeq());
  v.meta.owner_id = "bob";
  CT_ASSIGN(v, store_->Update(v, std::nullopt));

  CT_ASSIGN(ChangeBatch alice,
            store_->ChangesSince(cursor, 100, {.entity = {}, .owner_id = "alice"}));
  ASSERT_EQ(alice.changes.size(), 1u);
  EXPECT_EQ(alice.changes[0].id, v.meta.id);
  EXPECT_EQ(alice.changes[0].op, ChangeOp::kDelete);
  CT_ASSIGN(ChangeBatch bob, store_->ChangesSince(cursor, 100, {.entity = {}, .owner_id = "bob"}));
  ASSERT_EQ(bob.changes.size(), 1u);
  EXPECT_EQ(bob.changes[0].op, ChangeOp::kUpsert);
  // Unfiltered readers see just the record's latest state.
  CT_ASSIGN(ChangeBatch all, store_->ChangesSince(cursor, 100, {}));
  ASSERT_EQ(all.changes.size(), 1u);
  EXPECT_EQ(all.changes[0].op, ChangeOp::kUpsert);
  EXPECT_EQ(all.changes[0].owner_id, "bob");
}

// ------------------------------------------------------------------ persistence

TEST_P(StoreContractTest, EpochAndDataSurviveReopenAndMigrationsAreIdempotent) {
  std::string epoch = store_->Epoch();
  EXPECT_FALSE(epoch.empty());
  int schema = store_->SchemaVersion();
  EXPECT_GE(schema, 1);
  if (!location_->CanReopen()) GTEST_SKIP() << "this store cannot be reopened";
  CT_ASSIGN(model::Account a, store_->Create(NewAccount("o", "persisted")));
  CT_ASSIGN(int64_t seq, store_->LatestSeq());
  Reopen();
  Reopen();
  EXPECT_EQ(store_->Epoch(), epoch);
  EXPECT_EQ(store_->SchemaVersion(), schema);
  CT_ASSIGN(model::Account back, store_->GetAccount(a.meta.id));
  EXPECT_EQ(back.name, "persisted");
  CT_ASSIGN(int64_t seq_after, store_->LatestSeq());
  EXPECT_EQ(seq_after, seq);
  // New writes continue the sequence.
  CT_ASSIGN(model::Account b, store_->Create(NewAccount("o", "next")));
  (void)b;
  CT_ASSIGN(int64_t seq_next, store_->LatestSeq());
  EXPECT_GT(seq_next, seq);
}

TEST_P(StoreContractTest, EveryDatabaseHasItsOwnEpoch) {
  auto other_location = GetParam().make_location();
  auto other = other_location->Open(clock_, ids_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_NE((*other)->Epoch(), store_->Epoch());
}

// ------------------------------------------------------------------ concurrency

TEST_P(StoreContractTest, ConcurrentConditionalUpdatesLoseNothing) {
  constexpr int kRecords = 3;
  constexpr int kThreads = 6;
  constexpr int kAttempts = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < kRecords; ++i) {
    CT_ASSIGN(model::Activity a,
              store_->Create(NewActivity("o", "r" + std::to_string(i), At(kTen), At(kTen + 60))));
    ids.push_back(a.meta.id);
  }
  CT_ASSIGN(int64_t cursor, store_->LatestSeq());
  std::vector<std::atomic<int>> successes(kRecords);
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAttempts; ++i) {
        int which = (t + i) % kRecords;
        auto current = store_->GetActivity(ids[which]);
        if (!current.ok()) {
          ++unexpected;
          continue;
        }
        model::Activity next = *current;
        next.description += "t" + std::to_string(t) + ".";
        auto updated = store_->Update(next, current->meta.version);
        if (updated.ok()) {
          if (updated->meta.version != current->meta.version + 1) ++unexpected;
          ++successes[which];
        } else if (updated.status().code() != Code::kPreconditionFailed) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(unexpected.load(), 0);
  for (int i = 0; i < kRecords; ++i) {
    CT_ASSIGN(model::Activity a, store_->GetActivity(ids[i]));
    EXPECT_EQ(a.meta.version, successes[i].load() + 1);
    // Each applied update appended exactly one marker: none was overwritten.
    EXPECT_EQ(static_cast<int>(std::count(a.description.begin(), a.description.end(), '.')),
              successes[i].load());
  }
  // The log holds each record once, at its latest write, in ascending order.
  CT_ASSIGN(ChangeBatch batch, store_->ChangesSince(cursor, 100, {}));
  EXPECT_EQ(batch.changes.size(), static_cast<size_t>(kRecords));
  std::set<std::string> logged;
  for (const auto& c : batch.changes) logged.insert(c.id);
  EXPECT_EQ(logged, std::set<std::string>(ids.begin(), ids.end()));
  CT_ASSIGN(int64_t latest, store_->LatestSeq());
  ASSERT_FALSE(batch.changes.empty());
  EXPECT_EQ(batch.changes.back().seq, latest);
}

TEST_P(StoreContractTest, AReaderFollowingTheFeedDuringConcurrentWritesMissesNothing) {
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 40;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::set<std::string> seen;
  int64_t cursor = 0;
  std::thread reader([&] {
    while (true) {
      bool finished = done.load();
      auto batch = store_->ChangesSince(cursor, 7, {});
      if (!batch.ok()) {
        ++failures;
        return;
      }
      for (const auto& c : batch->changes) {
        if (c.seq <= cursor) ++failures;  // must move forward
        cursor = c.seq;
        seen.insert(c.id);
      }
      cursor = batch->next_seq;
      if (finished && !batch->more) return;
    }
  });
  std::vector<std::thread> writers;
  std::vector<std::vector<std::string>> created(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        auto a = store_->Create(NewAccount("w" + std::to_string(w), "n"));
        if (!a.ok()) {
          ++failures;
          continue;
        }
        created[w].push_back(a->meta.id);
      }
    });
  }
  for (auto& th : writers) th.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> all;
  for (const auto& ids : created) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kWriters * kPerWriter));
  EXPECT_EQ(seen, all);
}

// ------------------------------------------------------------------ random histories

// Random histories of creates, conditional updates (some moving records to
// another owner) and deletes, some with stale versions. Afterwards every record
// reads back as the model says, and readers that replay the feed from a cursor
// taken in the middle (unfiltered, and one per owner) end with exactly the live
// records they should hold: nothing is lost, nothing extra, moves included.
TEST_P(StoreContractTest, RandomHistoriesReplayThroughTheFeed) {
  // All runs share one store (opening a database per run is slow on files); each
  // run has its own owners and looks only at the records it created.
  int run = 0;
  bool passed = rc::check("feed replay matches the model", [&] {
    Store& store = *store_;
    const std::string tag = std::to_string(++run);
    struct Record {
      std::string owner;
      int64_t version = 0;
      bool live = true;
      std::string subject;
    };
    const std::vector<std::string> owners = {"ann" + tag, "ben" + tag, "cid" + tag};
    std::map<std::string, Record> model;
    std::vector<std::string> order;
    auto live_of = [&](std::optional<std::string> owner) {
      std::set<std::string> out;
      for (const auto& [id, r] : model) {
        if (r.live && (!owner || r.owner == *owner)) out.insert(id);
      }
      return out;
    };

    const int steps = *rc::gen::inRange(1, 40);
    const int snapshot_at = *rc::gen::inRange(0, steps + 1);
    int64_t cursor = 0;
    std::set<std::string> held_all;
    std::map<std::string, std::set<std::string>> held_by_owner;
    for (int i = 0; i <= steps; ++i) {
      if (i == snapshot_at) {
        auto latest = store.LatestSeq();
        RC_ASSERT(latest.ok());
        cursor = *latest;
        held_all = live_of(std::nullopt);
        for (const auto& o : owners) held_by_owner[o] = live_of(o);
      }
      if (i == steps) break;
      const int op = order.empty() ? 0 : *rc::gen::inRange(0, 3);
      const std::string owner = owners[*rc::gen::inRange<size_t>(0, owners.size())];
      const std::string subject = "s" + std::to_string(i);
      if (op == 0) {
        auto created = store.Create(NewActivity(owner, subject, At(kTen + i), At(kTen + i + 60)));
        RC_ASSERT(created.ok());
        model[created->meta.id] = Record{owner, 1, true, subject};
        order.push_back(created->meta.id);
        continue;
      }
      const std::string id = order[*rc::gen::inRange<size_t>(0, order.size())];
      Record& r = model[id];
      const bool stale = *rc::gen::inRange(0, 4) == 0;
      const int64_t expected = stale ? r.version + 1 : r.version;
      if (op == 1) {
        model::Activity next = NewActivity(owner, subject, At(kTen + i), At(kTen + i + 60));
        next.meta.id = id;
        auto updated = store.Update(next, expected);
        if (!r.live) {
          RC_ASSERT(updated.status().code() == Code::kNotFound);
        } else if (stale) {
          RC_ASSERT(updated.status().code() == Code::kPreconditionFailed);
        } else {
          RC_ASSERT(updated.ok());
          RC_ASSERT(updated->meta.version == r.version + 1);
          r = Record{owner, r.version + 1, true, subject};
        }
      } else {
        Status deleted = store.Delete(EntityType::kActivity, id, expected);
        if (!r.live) {
          RC_ASSERT(deleted.code() == Code::kNotFound);
        } else if (stale) {
          RC_ASSERT(deleted.code() == Code::kPreconditionFailed);
        } else {
          RC_ASSERT(deleted.ok());
          r.live = false;
        }
      }
    }

    for (const auto& [id, r] : model) {
      auto got = store.GetActivity(id);
      if (!r.live) {
        RC_ASSERT(got.status().code() == Code::kNotFound);
        continue;
      }
      RC_ASSERT(got.ok());
      RC_ASSERT(got->meta.version == r.version);
      RC_ASSERT(got->meta.owner_id == r.owner);
      RC_ASSERT(got->subject == r.subject);
    }

    auto replay = [&](std::set<std::string> held, const ChangeFilter& filter) {
      int64_t at = cursor;
      int64_t last_seq = cursor;
      while (true) {
        auto batch = store.ChangesSince(at, 3, filter);
        RC_ASSERT(batch.ok());
        for (const auto& c : batch->changes) {
          RC_ASSERT(c.seq > last_seq);
          last_seq = c.seq;
          if (filter.owner_id) RC_ASSERT(c.owner_id == *filter.owner_id);
          if (model.count(c.id) == 0) continue;  // another run's record
          if (c.op == ChangeOp::kUpsert) {
            held.insert(c.id);
          } else {
            held.erase(c.id);
          }
        }
        at = batch->next_seq;
        if (!batch->more) break;
      }
      return held;
    };
    RC_ASSERT(replay(held_all, {}) == live_of(std::nullopt));
    for (const auto& o : owners) {
      RC_ASSERT(replay(held_by_owner[o], {.entity = {}, .owner_id = o}) == live_of(o));
    }
    // From 0, the unfiltered feed names every live record once, as an upsert.
    std::set<std::string> from_zero;
    for (int64_t at = 0;;) {
      auto all = store.ChangesSince(at, 10000, {});
      RC_ASSERT(all.ok());
      for (const auto& c : all->changes) {
        if (c.op == ChangeOp::kUpsert && model.count(c.id) != 0) {
          RC_ASSERT(from_zero.insert(c.id).second);
        }
      }
      at = all->next_seq;
      if (!all->more) break;
    }
    RC_ASSERT(from_zero == live_of(std::nullopt));
  });
  EXPECT_TRUE(passed);
}

}  // namespace tandem::store::contract
