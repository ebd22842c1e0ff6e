#include "api/mutations.h"

#include <gtest/gtest.h>

#include "model/json.h"
#include "store/sqlite/sqlite_store.h"

namespace tandem::api {
namespace {

using nlohmann::json;

class MutationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::sqlite::SqliteStore::Open({.path = ":memory:", .clock = &clock_, .ids = &ids_});
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    auto log = MutationLog::Open(store_->pool(), clock_);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }
  json Apply(json mutations, store::Viewer viewer = {.user_id = "alice"}) {
    auto r = ApplyMutationBatch(*store_, *log_, viewer, json{{"mutations", mutations}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? (*r)["results"] : json();
  }
  static json M(std::string id, std::string op, std::string record_id, json fields = json::object(),
                json base = nullptr, std::string entity = "contacts") {
    return {{"id", id}, {"entity", entity}, {"record_id", record_id}, {"op", op},
            {"base_version", base}, {"fields", fields}};
  }

  FakeClock clock_{FromUnixSeconds(1'790'000'000)};
  SeededRandom random_{1};
  IdGenerator ids_{clock_, random_};
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  std::unique_ptr<MutationLog> log_;
};

TEST_F(MutationsTest, CreateKeepsTheClientIdAndDefaultsTheOwner) {
  json r = Apply({M("m1", "create", "c-1", {{"first_name", "Ada"}})});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["outcome"], "applied");
  EXPECT_EQ(r[0]["version"], 1);
  auto c = store_->GetContact("c-1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->first_name, "Ada");
  EXPECT_EQ(c->meta.owner_id, "alice");
}

TEST_F(MutationsTest, ReplayAnswersTheRememberedResultWithoutWritingAgain) {
  Apply({M("m1", "create", "c-1", {{"first_name", "Ada"}})});
  json u = Apply({M("m2", "update", "c-1", {{"first_name", "Ada L."}}, 1)});
  EXPECT_EQ(u[0]["outcome"], "applied");
  EXPECT_EQ(u[0]["version"], 2);
  json again = Apply({M("m1", "create", "c-1", {{"first_name", "Ada"}}),
                      M("m2", "update", "c-1", {{"first_name", "Ada L."}}, 1)});
  EXPECT_EQ(again[0]["outcome"], "applied");
  EXPECT_EQ(again[1]["outcome"], "applied");
  EXPECT_EQ(again[1]["version"], 2);
  EXPECT_EQ(store_->GetContact("c-1")->meta.version, 2);
  EXPECT_EQ(store_->GetContact("c-1")->first_name, "Ada L.");
}

TEST_F(MutationsTest, ReplayIsPerUser) {
  Apply({M("m1", "create", "c-1", {{"first_name", "Ada"}})});
  // The same mutation id from another user is another mutation (a new record id here).
  json r = Apply({M("m1", "create", "c-2", {{"first_name", "Bob"}})}, {.user_id = "bob"});
  EXPECT_EQ(r[0]["outcome"], "applied");
  EXPECT_TRUE(store_->GetContact("c-2").ok());
}

TEST_F(MutationsTest, StaleBaseIsAConflictCarryingTheCurrentRecord) {
  Apply({M("m1", "create", "c-1", {{"first_name", "Ada"}})});
  Apply({M("m2", "update", "c-1", {{"first_name", "Server"}}, 1)});
  json r = Apply({M("m3", "update", "c-1", {{"first_name", "Laptop"}}, 1)});
  EXPECT_EQ(r[0]["outcome"], "conflict");
  EXPECT_EQ(r[0]["current"]["first_name"], "Server");
  EXPECT_EQ(r[0]["current"]["version"], 2);
  EXPECT_EQ(store_->GetContact("c-1")->first_name, "Server");
  json d = Apply({M("m4", "delete", "c-1", json::object(), 1)});
  EXPECT_EQ(d[0]["outcome"], "conflict");
  EXPECT_TRUE(store_->GetContact("c-1").ok());
}

TEST_F(MutationsTest, UpdateOfADeletedRecordIsAConflictWithNullCurrent) {
  Apply({M("m1", "create", "c-1", {{"first_name", "Ada"}})});
  Apply({M("m2", "delete", "c-1", json::object(), 1)});
  json r = Apply({M("m3", "update", "c-1", {{"first_name", "x"}}, 1)});
  EXPECT_EQ(r[0]["outcome"], "conflict");
  EXPECT_TRUE(r[0]["current"].is_null());
  // Deleting what is gone already is done.
  EXPECT_EQ(Apply({M("m4", "delete", "c-1")})[0]["outcome"], "applied");
}

TEST_F(MutationsTest, PermanentErrorsArePerRecord) {
  json r = Apply({M("m1", "create", "a-1", {{"name", ""}}, nullptr, "accounts"),
                  M("m2", "create", "c-1", {{"first_name", "ok"}, {"owner_id", "mallory"}}),
                  M("m3", "create", "c-2", {{"first_name", "fine"}})});
  EXPECT_EQ(r[0]["outcome"], "rejected");
  EXPECT_EQ(r[0]["error"], "InvalidArgument");
  EXPECT_EQ(r[1]["outcome"], "rejected");
  EXPECT_EQ(r[1]["error"], "PermissionDenied");
  EXPECT_EQ(r[2]["outcome"], "applied");
}

TEST_F(MutationsTest, RecordsOfOthersAreInvisible) {
  model::Contact c;
  c.meta.owner_id = "bob";
  c.meta.shared = false;
  c.first_name = "secret";
  std::string id = store_->Create(c)->meta.id;
  json r = Apply({M("m1", "update", id, {{"first_name", "mine now"}})});
  EXPECT_EQ(r[0]["outcome"], "rejected");
  EXPECT_EQ(r[0]["error"], "NotFound");
  EXPECT_EQ(store_->GetContact(id)->first_name, "secret");
}

TEST_F(MutationsTest, AnAdminCreatesOnlyForAUserWhoExists) {
  model::User bob;
  bob.login = "bob";
  bob.password_hash = "x";
  auto made = store_->CreateUser(bob);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const store::Viewer admin{.user_id = "root", .admin = true};
  json r = Apply({M("m1", "create", "c-1", {{"first_name", "Ghost"}, {"owner_id", "nobody"}}),
                  M("m2", "create", "c-2", {{"first_name", "Bob's"}, {"owner_id", made->id}})},
                 admin);
  EXPECT_EQ(r[0]["outcome"], "rejected");
  EXPECT_EQ(r[0]["error"], "InvalidArgument");
  EXPECT_NE(r[0]["message"].get<std::string>().find("owner_id"), std::string::npos) << r[0];
  EXPECT_FALSE(store_->GetContact("c-1").ok());
  EXPECT_EQ(r[1]["outcome"], "applied");
  EXPECT_EQ(store_->GetContact("c-2")->meta.owner_id, made->id);
  // Giving a record to a user who does not exist is refused the same way.
  json g = Apply({M("m3", "update", "c-2", {{"owner_id", "nobody"}})}, admin);
  EXPECT_EQ(g[0]["outcome"], "rejected");
  EXPECT_EQ(g[0]["error"], "InvalidArgument");
  EXPECT_EQ(store_->GetContact("c-2")->meta.owner_id, made->id);
}

TEST_F(MutationsTest, AnEditMayNotHideTheRecordFromItsWriter) {
  // bob's shared appointment: alice may edit it, but not make it private or
  // unshared (it would vanish from her view; only its owner may do that).
  model::Activity a;
  a.meta.owner_id = "bob";
  a.meta.shared = true;
  a.subject = "Demo at Acme";
  a.start = FromUnixSeconds(1'790'000'000);
  a.end = a.start + std::chrono::hours(1);
  std::string id = store_->Create(a)->meta.id;
  json r = Apply({M("m1", "update", id, {{"private", true}}, nullptr, "activities"),
                  M("m2", "update", id, {{"shared", false}}, nullptr, "activities"),
                  M("m3", "update", id, {{"subject", "Demo at Acme (room 2)"}}, nullptr,
                    "activities")});
  EXPECT_EQ(r[0]["outcome"], "rejected");
  EXPECT_EQ(r[0]["error"], "PermissionDenied");
  EXPECT_EQ(r[1]["outcome"], "rejected");
  EXPECT_EQ(r[1]["error"], "PermissionDenied");
  EXPECT_EQ(r[2]["outcome"], "applied");
  auto now = store_->GetActivity(id);
  EXPECT_FALSE(now->is_private);
  EXPECT_TRUE(now->meta.shared);
  EXPECT_EQ(now->subject, "Demo at Acme (room 2)");
  // Its owner may.
  json own = Apply({M("m4", "update", id, {{"private", true}}, nullptr, "activities")},
                   {.user_id = "bob"});
  EXPECT_EQ(own[0]["outcome"], "applied");
}

TEST_F(MutationsTest, UpdateWithFieldsAlreadyInPlaceIsAppliedNotAConflict) {
  // The first attempt wrote the record but the log row was lost (a crash).
  Apply({M("m1", "create", "c-1", {{"first_name", "Ada"}})});
  auto c = *store_->GetContact("c-1");
  c.first_name = "Done";
  ASSERT_TRUE(store_->Update(c, std::nullopt).ok());
  json r = Apply({M("m-lost", "update", "c-1", {{"first_name", "Done"}}, 1)});
  EXPECT_EQ(r[0]["outcome"], "applied");
}

TEST_F(MutationsTest, MalformedBatchesAreRejectedWhole) {
  auto bad = [&](json body) {
    return ApplyMutationBatch(*store_, *log_, {.user_id = "alice"}, body).status().code();
  };
  EXPECT_EQ(bad(json::object()), Code::kInvalidArgument);
  EXPECT_EQ(bad(json{{"mutations", {{{"id", "m"}}}}}), Code::kInvalidArgument);
  EXPECT_EQ(bad(json{{"mutations", {M("m", "upsert", "x")}}}), Code::kInvalidArgument);
  EXPECT_EQ(bad(json{{"mutations", {M("m", "create", "x", json::object(), nullptr, "users")}}}),
            Code::kInvalidArgument);
  json many = json::array();
  for (int i = 0; i <= kMaxMutationsPerBatch; ++i) many.push_back(M(std::to_string(i), "delete", "x"));
  EXPECT_EQ(bad(json{{"mutations", many}}), Code::kInvalidArgument);
  EXPECT_FALSE(store_->GetContact("x").ok());
}

TEST_F(MutationsTest, PruneForgetsOldResults) {
  Apply({M("m1", "create", "c-1", {{"first_name", "Ada"}})});
  clock_.Advance(std::chrono::hours(24 * 31));
  auto pruned = log_->Prune(clock_.Now() - std::chrono::hours(24 * 30));
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
  EXPECT_FALSE(log_->Find("alice", "m1")->has_value());
}

}  // namespace
}  // namespace tandem::api
