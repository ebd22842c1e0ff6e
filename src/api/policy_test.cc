// The authorization policy (policy.h), and the store's SQL held to it.
//
// The plain tests pin each rule. The property test (RapidCheck) applies a random
// history of creations, edits (owner, shared, private) and deletions of accounts
// and activities to an in-memory SQLite store, then asks the store as every
// viewer and compares with the policy evaluated over a model of that history:
//   - a list with a viewer (with and without a time range) returns exactly the
//     live records the policy lets that viewer read;
//   - the change feed with a viewer holds exactly the records some version of
//     which the viewer could read (never-visible records never appear, not even
//     as a removal), and agrees with CanSeeInFeed row by row;
//   - each change carries the widest audience of all the record's versions;
//   - an owner's own feed holds every record they ever owned.
//
// Cases: 300 by default; TANDEM_POLICY_RC_CASES=N for a longer run.
#include "api/policy.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/random.h"
#include "store/store.h"

namespace tandem::api::policy {
namespace {

using store::Audience;
using store::Viewer;

auto Exists(std::set<std::string> users) {
  return [users = std::move(users)](const std::string& id) { return users.count(id) > 0; };
}

model::Activity Act(std::string owner, bool shared, bool priv) {
  model::Activity a;
  a.meta.owner_id = std::move(owner);
  a.meta.shared = shared;
  a.is_private = priv;
  return a;
}

TEST(PolicyTest, ReadFollowsTheAudience) {
  const Viewer alice{"alice", false}, bob{"bob", false}, admin{"root", true};
  EXPECT_TRUE(CanRead(alice, Act("alice", false, true)));  // the owner reads even a private one
  EXPECT_TRUE(CanRead(bob, Act("alice", true, false)));
  EXPECT_FALSE(CanRead(bob, Act("alice", false, false)));
  EXPECT_TRUE(CanRead(admin, Act("alice", false, false)));
  EXPECT_FALSE(CanRead(admin, Act("alice", true, true)));  // private: not even an admin
  EXPECT_FALSE(CanRead(bob, Act("alice", true, true)));
  EXPECT_FALSE(CanRead(Viewer{"", false}, Act("", false, true)));  // no user owns nothing
}

TEST(PolicyTest, CreateForOthersOnlyAsAdminAndOnlyForAUserWhoExists) {
  const Viewer alice{"alice", false}, admin{"root", true};
  auto users = Exists({"alice", "bob", "root"});
  EXPECT_TRUE(CanCreate(alice, Act("alice", false, false), users).ok());
  EXPECT_EQ(CanCreate(alice, Act("bob", false, false), users).code(), Code::kPermissionDenied);
  EXPECT_TRUE(CanCreate(admin, Act("bob", false, false), users).ok());
  Status ghost = CanCreate(admin, Act("ghost", false, false), users);
  EXPECT_EQ(ghost.code(), Code::kInvalidArgument);
  EXPECT_NE(ghost.message().find("owner_id"), std::string::npos);
}

TEST(PolicyTest, WriteRefusesGivingAwayAndHidingFromYourself) {
  const Viewer alice{"alice", false}, bob{"bob", false}, admin{"root", true};
  auto users = Exists({"alice", "bob", "root"});
  const auto shared = Act("alice", true, false);
  // bob may edit alice's shared record, and take it, but not give it to a third user.
  EXPECT_TRUE(CanWrite(bob, shared, Act("alice", true, false), users).ok());
  EXPECT_TRUE(CanWrite(bob, shared, Act("bob", true, false), users).ok());
  EXPECT_EQ(CanWrite(alice, shared, Act("bob", true, false), users).code(),
            Code::kPermissionDenied);
  // Unsharing or making private someone else's record would hide it from bob.
  Status hide = CanWrite(bob, shared, Act("alice", false, false), users);
  EXPECT_EQ(hide.code(), Code::kPermissionDenied);
  EXPECT_NE(hide.message().find("hide"), std::string::npos);
  EXPECT_EQ(CanWrite(bob, shared, Act("alice", true, true), users).code(),
            Code::kPermissionDenied);
  // The owner may make their own record private; an admin may give it to anyone
  // who exists, and may hide it from themselves.
  EXPECT_TRUE(CanWrite(alice, shared, Act("alice", false, true), users).ok());
  EXPECT_TRUE(CanWrite(admin, shared, Act("bob", false, false), users).ok());
  EXPECT_TRUE(CanWrite(admin, shared, Act("alice", true, true), users).ok());
  EXPECT_EQ(CanWrite(admin, shared, Act("ghost", true, false), users).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(CanWrite(admin, shared, Act("", true, false), users).code(), Code::kInvalidArgument);
}

TEST(PolicyTest, FeedShowsWhatTheViewerCouldEverSee) {
  const Viewer bob{"bob", false}, admin{"root", true};
  EXPECT_TRUE(CanSeeInFeed(bob, "alice", Audience::kEveryone, false));
  EXPECT_FALSE(CanSeeInFeed(bob, "alice", Audience::kOwnerAndAdmins, false));
  EXPECT_TRUE(CanSeeInFeed(bob, "alice", Audience::kOwner, /*owned_before=*/true));
  EXPECT_TRUE(CanSeeInFeed(bob, "bob", Audience::kOwner, false));
  EXPECT_TRUE(CanSeeInFeed(admin, "alice", Audience::kOwnerAndAdmins, false));
  EXPECT_FALSE(CanSeeInFeed(admin, "alice", Audience::kOwner, false));
}

TEST(PolicyTest, UsersAndPairs) {
  const Viewer alice{"alice", false}, admin{"root", true};
  model::User a;
  a.id = "alice";
  a.login = "alice";
  model::User renamed = a;
  renamed.login = "queen";
  model::User promoted = a;
  promoted.role = model::Role::kAdmin;
  model::User b = a;
  b.id = "bob";
  EXPECT_EQ(CanManageUsers(alice).code(), Code::kPermissionDenied);
  EXPECT_TRUE(CanManageUsers(admin).ok());
  EXPECT_TRUE(CanReadUser(alice, "alice").ok());
  EXPECT_EQ(CanReadUser(alice, "bob").code(), Code::kPermissionDenied);
  EXPECT_TRUE(CanChangeUser(alice, a, a).ok());
  EXPECT_EQ(CanChangeUser(alice, a, renamed).code(), Code::kPermissionDenied);
  EXPECT_EQ(CanChangeUser(alice, a, promoted).code(), Code::kPermissionDenied);
  EXPECT_EQ(CanChangeUser(alice, b, b).code(), Code::kPermissionDenied);
  EXPECT_TRUE(CanChangeUser(admin, a, promoted).ok());

  EXPECT_TRUE(CanUsePair(alice, "alice"));
  EXPECT_FALSE(CanUsePair(alice, "bob"));
  EXPECT_FALSE(CanUsePair(Viewer{"", false}, ""));
  EXPECT_TRUE(CanUsePair(admin, "bob"));
  EXPECT_FALSE(CanSeeAllPairs(alice));
  EXPECT_TRUE(CanSeeAllPairs(admin));
  EXPECT_TRUE(CanCreatePair(alice, "alice", false, "caldav").ok());
  Status other = CanCreatePair(alice, "bob", false, "caldav");
  EXPECT_EQ(other.code(), Code::kPermissionDenied);
  EXPECT_NE(other.message().find("user_id"), std::string::npos);
  Status vdir = CanCreatePair(alice, "alice", true, "vdir");
  EXPECT_EQ(vdir.code(), Code::kPermissionDenied);
  EXPECT_NE(vdir.message().find("vdir"), std::string::npos);
  EXPECT_TRUE(CanCreatePair(admin, "bob", true, "vdir").ok());
}

// ------------------------------------------------- the store held to the policy

const char* const kOwners[] = {"u0", "u1", "u2"};
const Viewer kViewers[] = {{"u0", false}, {"u1", false}, {"u2", false},
                           {"u2", true},  {"root", true}};
const Instant kBase = FromUnixSeconds(1'790'000'000);

struct Version {
  std::string owner;
  bool shared = false;
  bool priv = false;  // activities only
};

struct Rec {
  model::EntityType entity;
  std::string id;
  std::vector<Version> versions;  // every version written, the last is current
  bool deleted = false;
};

bool Readable(const Viewer& v, const Rec& r, const Version& ver) {
  model::RecordMeta meta;
  meta.owner_id = ver.owner;
  meta.shared = ver.shared;
  return CanRead(v, meta, r.entity == model::EntityType::kActivity && ver.priv);
}

Audience Widest(const Rec& r) {
  Audience w = Audience::kOwner;
  for (const auto& ver : r.versions) {
    model::RecordMeta meta;
    meta.owner_id = ver.owner;
    meta.shared = ver.shared;
    w = std::max(w, store::AudienceOf(meta, r.entity == model::EntityType::kActivity && ver.priv));
  }
  return w;
}

// op: 0 create, 1 update, 2 delete; entity: 0 account, 1 activity; target picks
// an existing record (modulo their number).
using Op = std::tuple<int, int, int, int, bool, bool>;

int CasesFromEnv(int fallback) {
  const char* v = std::getenv("TANDEM_POLICY_RC_CASES");
  return v != nullptr ? std::max(1, std::atoi(v)) : fallback;
}

template <typename T>
void Apply(T& record, const Version& ver) {
  record.meta.owner_id = ver.owner;
  record.meta.shared = ver.shared;
  if constexpr (std::is_same_v<T, model::Activity>) record.is_private = ver.priv;
}

TEST(PolicyTest, StoreListsAndFeedFollowThePolicy) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = CasesFromEnv(300);
  params.maxSize = 40;
  rc::detail::TestMetadata metadata{"PolicyTest", "store lists and feed follow the policy"};
  auto result = rc::detail::checkTestable(
      [] {
        FakeClock clock(kBase);
        SeededRandom random(7);
        IdGenerator ids(clock, random);
        auto opened = store::OpenSqliteStore({.path = ":memory:", .clock = &clock, .ids = &ids});
        RC_ASSERT(opened.ok());
        store::Store& st = **opened;

        const auto ops = *rc::gen::container<std::vector<Op>>(rc::gen::tuple(
            rc::gen::inRange(0, 3), rc::gen::inRange(0, 2), rc::gen::inRange(0, 64),
            rc::gen::inRange(0, 3), rc::gen::arbitrary<bool>(), rc::gen::arbitrary<bool>()));
        std::vector<Rec> recs;
        for (const auto& [kind, entity, target, owner, shared, priv] : ops) {
          clock.Advance(std::chrono::seconds(1));
          Version ver{kOwners[owner], shared, priv};
          std::vector<Rec*> live;
          for (auto& r : recs) {
            if (!r.deleted) live.push_back(&r);
          }
          if (kind == 0 || live.empty()) {
            Rec r;
            if (entity == 0) {
              model::Account a;
              a.name = "account " + std::to_string(recs.size());
              Apply(a, ver);
              auto made = st.Create(a);
              RC_ASSERT(made.ok());
              r = Rec{model::EntityType::kAccount, made->meta.id, {ver}};
            } else {
              model::Activity a;
              a.subject = "activity " + std::to_string(recs.size());
              a.start = kBase + std::chrono::hours(static_cast<int>(recs.size()));
              a.end = a.start + std::chrono::minutes(30);
              Apply(a, ver);
              auto made = st.Create(a);
              RC_ASSERT(made.ok());
              r = Rec{model::EntityType::kActivity, made->meta.id, {ver}};
            }
            recs.push_back(std::move(r));
            continue;
          }
          Rec& r = *live[target % live.size()];
          if (kind == 2) {
            RC_ASSERT(st.Delete(r.entity, r.id, std::nullopt).ok());
            r.deleted = true;
          } else if (r.entity == model::EntityType::kAccount) {
            auto cur = st.GetAccount(r.id);
            RC_ASSERT(cur.ok());
            Apply(*cur, ver);
            RC_ASSERT(st.Update(*cur, std::nullopt).ok());
            r.versions.push_back(ver);
          } else {
            auto cur = st.GetActivity(r.id);
            RC_ASSERT(cur.ok());
            Apply(*cur, ver);
            RC_ASSERT(st.Update(*cur, std::nullopt).ok());
            r.versions.push_back(ver);
          }
        }

        // Every change of the unfiltered feed, by id, to compare the viewers' feeds with.
        auto all = st.ChangesSince(0, 10000, {});
        RC_ASSERT(all.ok());
        std::map<std::string, store::Change> by_id;
        for (const auto& c : all->changes) by_id[c.id] = c;
        RC_ASSERT(by_id.size() == recs.size());
        for (const auto& r : recs) {
          RC_ASSERT(by_id.count(r.id) == 1u);
          const store::Change& c = by_id[r.id];
          RC_ASSERT(c.op == (r.deleted ? store::ChangeOp::kDelete : store::ChangeOp::kUpsert));
          RC_ASSERT(c.widest_audience == Widest(r));
        }

        for (const Viewer& v : kViewers) {
          // Lists: exactly the live records the viewer may read.
          std::set<std::string> want_accounts, want_activities, want_feed, want_owned;
          for (const auto& r : recs) {
            bool ever = false, owned = false;
            for (const auto& ver : r.versions) {
              ever = ever || Readable(v, r, ver);
              owned = owned || ver.owner == v.user_id;
            }
            if (ever) want_feed.insert(r.id);
            if (owned) want_owned.insert(r.id);
            if (r.deleted || !Readable(v, r, r.versions.back())) continue;
            (r.entity == model::EntityType::kAccount ? want_accounts : want_activities)
                .insert(r.id);
          }
          store::ListOptions o;
          o.limit = 1000;
          o.viewer = v;
          auto accounts = st.ListAccounts(o);
          RC_ASSERT(accounts.ok());
          std::set<std::string> got;
          for (const auto& a : accounts->items) got.insert(a.meta.id);
          RC_ASSERT(got == want_accounts);
          for (bool ranged : {false, true}) {
            store::ListOptions ao = o;
            if (ranged) {
              ao.from = kBase - std::chrono::hours(1);
              ao.to = kBase + std::chrono::hours(1000);
            }
            auto acts = st.ListActivities(ao);
            RC_ASSERT(acts.ok());
            got.clear();
            for (const auto& a : acts->items) got.insert(a.meta.id);
            RC_ASSERT(got == want_activities);
          }

          // The feed: the records some version of which the viewer could read.
          auto feed = st.ChangesSince(0, 10000, store::ChangeFilter{.viewer = v});
          RC_ASSERT(feed.ok());
          got.clear();
          for (const auto& c : feed->changes) got.insert(c.id);
          RC_ASSERT(got == want_feed);
          for (const auto& [id, c] : by_id) {
            RC_ASSERT(CanSeeInFeed(v, c.owner_id, c.widest_audience, want_owned.count(id) > 0) ==
                      (want_feed.count(id) > 0));
          }
          // The owner's own feed (the replica's): every record they ever owned.
          auto own = st.ChangesSince(0, 10000,
                                     store::ChangeFilter{.owner_id = v.user_id, .viewer = v});
          RC_ASSERT(own.ok());
          got.clear();
          for (const auto& c : own->changes) got.insert(c.id);
          RC_ASSERT(got == want_owned);
        }
      },
      metadata, params);
  std::ostringstream out;
  rc::detail::printResultMessage(result, out);
  if (!result.is<rc::detail::SuccessResult>()) FAIL() << out.str();
  std::cout << out.str() << "\n";
}

}  // namespace
}  // namespace tandem::api::policy
