// The replicator against an in-process server: a real SqliteStore, the real
// server-side mutation code (api/mutations.h) and the real wire format, without
// HTTP. Interop tests over loopback are in tests/replica.
#include "replica/replicator.h"

#include <gtest/gtest.h>

#include "api/mutations.h"
#include "model/json.h"
#include "replica/local_records.h"
#include "replica/recording_store.h"
#include "store/sqlite/sqlite_store.h"

namespace tandem::replica {
namespace {

using model::EntityType;
using nlohmann::json;

// The server side of the protocol over a Store, speaking the wire JSON.
class InProcessServer final : public ReplicationServer {
 public:
  InProcessServer(const Clock& clock, IdGenerator& ids) {
    auto s = store::sqlite::SqliteStore::Open({.path = ":memory:", .clock = &clock, .ids = &ids});
    EXPECT_TRUE(s.ok());
    store_ = std::move(s).value();
    auto log = api::MutationLog::Open(store_->pool(), clock);
    EXPECT_TRUE(log.ok());
    log_ = std::move(log).value();
  }

  Result<FeedPage> Changes(std::string_view since, int limit, std::string_view scope) override {
    ++feed_calls;
    last_scope = std::string(scope);
    if (down) return Status::Unavailable("connection refused");
    int64_t after = 0;
    if (!since.empty()) {
      std::string s(since);
      auto dot = s.find('.');
      if (s.substr(0, dot) != store_->Epoch() || expire_cursors) {
        return Status::ResyncRequired("cursor expired");
      }
      after = std::stoll(s.substr(dot + 1));
    }
    TANDEM_ASSIGN_OR_RETURN(auto batch, store_->ChangesSince(after, limit, {}));
    json page = {{"changes", json::array()},
                 {"next", store_->Epoch() + "." + std::to_string(batch.next_seq)},
                 {"more", batch.more}};
    for (const auto& c : batch.changes) {
      json change = {{"seq", c.seq}, {"entity", model::EntityName(c.entity)}, {"id", c.id}};
      if (c.op == store::ChangeOp::kDelete) {
        change["op"] = "delete";
      } else {
        change["op"] = "upsert";
        auto record = Record(c.entity, c.id);
        if (!record.ok()) return record.status();
        change["record"] = *record;
        if (c.id == damage_record) change["record"]["first_name"] = std::string(300, 'x');
      }
      page["changes"].push_back(change);
    }
    return ParseFeedPage(json::parse(page.dump()));
  }

  Result<std::vector<PushResult>> Push(const std::vector<OutgoingMutation>& batch) override {
    ++push_calls;
    if (down) return Status::Unavailable("connection refused");
    json body = json::parse(MutationBatchToJson(batch).dump());
    TANDEM_ASSIGN_OR_RETURN(json results, api::ApplyMutationBatch(*store_, *log_, viewer, body));
    if (lose_next_answer) {  // applied, but the answer never arrives (timeout)
      lose_next_answer = false;
      return Status::DeadlineExceeded("timed out");
    }
    return ParsePushResults(json::parse(results.dump()), batch.size());
  }

  Result<ServerInfo> Info() override {
    if (down) return Status::Unavailable("connection refused");
    return ServerInfo{.server_version = "0.1.0", .api = 1, .schema = 1};
  }
  Result<Json> Me() override { return json{{"id", viewer.user_id}}; }

  Result<json> Record(EntityType e, const std::string& id) { return GetLocal(*store_, e, id); }

  std::unique_ptr<store::sqlite::SqliteStore> store_;
  std::unique_ptr<api::MutationLog> log_;
  store::Viewer viewer{.user_id = "u-me", .admin = false};
  bool down = false;
  bool expire_cursors = false;
  bool lose_next_answer = false;
  int feed_calls = 0;
  int push_calls = 0;
  std::string last_scope;
  std::string damage_record;  // sent with a field the local store refuses
};

class ReplicatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto local = store::sqlite::SqliteStore::Open({.path = ":memory:", .clock = &clock_, .ids = &ids_});
    ASSERT_TRUE(local.ok());
    local_ = std::move(local).value();
    auto st = ReplicaState::Open(local_->pool(), clock_);
    ASSERT_TRUE(st.ok());
    state_ = std::move(st).value();
    Reopen();
  }
  // A new Replicator over the same local database (a restart of the process).
  void Reopen(int page_size = 1000) {
    replicator_.reset();
    link_ = std::make_unique<Connectivity>(clock_);
    auto r = Replicator::Open({.local = local_.get(), .state = state_.get(), .server = &server_,
                               .link = link_.get(), .clock = &clock_, .ids = &ids_,
                               .user_id = "u-me", .page_size = page_size, .push_batch = 100});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    replicator_ = std::move(r).value();
    recording_ = std::make_unique<RecordingStore>(RecordingStoreOptions{
        .inner = local_.get(), .state = state_.get(), .ids = &ids_,
        .apply_mutex = &replicator_->apply_mutex()});
  }

  model::Contact ServerContact(const std::string& owner, const std::string& name) {
    model::Contact c;
    c.meta.owner_id = owner;
    c.first_name = name;
    auto r = server_.store_->Create(c);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }
  void Sync() {
    auto r = replicator_->SyncOnce();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::string LocalName(const std::string& id) {
    auto c = local_->GetContact(id);
    return c.ok() ? c->first_name : "<" + std::string(CodeName(c.status().code())) + ">";
  }
  std::string ServerName(const std::string& id) {
    auto c = server_.store_->GetContact(id);
    return c.ok() ? c->first_name : "<" + std::string(CodeName(c.status().code())) + ">";
  }

  FakeClock clock_{FromUnixSeconds(1'790'000'000)};
  SeededRandom random_{7};
  IdGenerator ids_{clock_, random_};
  InProcessServer server_{clock_, ids_};
  std::unique_ptr<store::sqlite::SqliteStore> local_;
  std::unique_ptr<ReplicaState> state_;
  std::unique_ptr<Connectivity> link_;
  std::unique_ptr<Replicator> replicator_;
  std::unique_ptr<RecordingStore> recording_;
};

TEST_F(ReplicatorTest, FirstFillTakesMyDataOnlyAndIsResumable) {
  std::vector<std::string> mine;
  for (int i = 0; i < 25; ++i) mine.push_back(ServerContact("u-me", "c" + std::to_string(i)).meta.id);
  std::string other = ServerContact("u-other", "theirs").meta.id;
  Reopen(/*page_size=*/10);
  std::vector<FillProgress> progress;
  bool more = false;
  ASSERT_TRUE(replicator_->PullPage(&more).ok());
  EXPECT_TRUE(more);
  EXPECT_TRUE(replicator_->FullPullInProgress());
  // Interrupted after one page: a restart continues from the stored cursor.
  Reopen(10);
  int pages = 0;
  do {
    ASSERT_TRUE(replicator_->PullPage(&more).ok());
    ++pages;
  } while (more);
  EXPECT_EQ(pages, 2);  // 26 changes: 10 done before the restart, 16 after
  EXPECT_FALSE(replicator_->FullPullInProgress());
  for (const auto& id : mine) EXPECT_EQ(LocalName(id), ServerName(id));
  EXPECT_EQ(LocalName(other), "<NotFound>");
  EXPECT_EQ(*state_->TrackedCount(), 25);
}

TEST_F(ReplicatorTest, AsksTheFeedWithItsDataGroupsAndAppliesAPageWhollyOrNotAtAll) {
  std::string first = ServerContact("u-me", "First").meta.id;
  std::string bad = ServerContact("u-me", "Bad").meta.id;
  std::string third = ServerContact("u-me", "Third").meta.id;
  Sync();
  EXPECT_EQ(json::parse(server_.last_scope), model::ToJson(replicator_->data_groups()));
  auto cursor_before = *state_->GetMeta("cursor");

  // A later page holding a record the local store refuses: none of the page is
  // written, the cursor stays, and the next round tries the page again.
  for (const auto& id : {first, bad, third}) {
    auto c = *server_.store_->GetContact(id);
    c.last_name = "Changed";
    ASSERT_TRUE(server_.store_->Update(c, std::nullopt).ok());
  }
  server_.damage_record = bad;
  auto failed = replicator_->SyncOnce();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find(bad), std::string::npos) << failed.status().ToString();
  EXPECT_EQ(local_->GetContact(first)->last_name, "");
  EXPECT_EQ(local_->GetContact(third)->last_name, "");
  EXPECT_EQ(*state_->GetMeta("cursor"), cursor_before);

  server_.damage_record.clear();
  Sync();
  for (const auto& id : {first, bad, third}) EXPECT_EQ(local_->GetContact(id)->last_name, "Changed");
  EXPECT_NE(*state_->GetMeta("cursor"), cursor_before);
}

TEST_F(ReplicatorTest, ProgressIsReportedDuringAFullPull) {
  for (int i = 0; i < 5; ++i) ServerContact("u-me", "c");
  std::vector<FillProgress> seen;
  replicator_.reset();
  auto r = Replicator::Open({.local = local_.get(), .state = state_.get(), .server = &server_,
                             .link = link_.get(), .clock = &clock_, .ids = &ids_, .user_id = "u-me",
                             .page_size = 2,
                             .on_progress = [&](const FillProgress& p) { seen.push_back(p); }});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE((*r)->SyncOnce().ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].records, 2);
  EXPECT_FALSE(seen[0].done);
  EXPECT_EQ(seen[2].records, 5);
  EXPECT_TRUE(seen[2].done);
}

TEST_F(ReplicatorTest, LocalWritesArePushedAndServerChangesPulled) {
  std::string id = ServerContact("u-me", "Ada").meta.id;
  Sync();
  auto c = recording_->GetContact(id);
  ASSERT_TRUE(c.ok());
  c->first_name = "Ada L.";
  ASSERT_TRUE(recording_->Update(*c, c->meta.version).ok());
  model::Contact fresh;
  fresh.meta.owner_id = "u-me";
  fresh.first_name = "New";
  auto created = recording_->Create(fresh);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(*state_->PendingCount(), 2);
  Sync();
  EXPECT_EQ(*state_->PendingCount(), 0);
  EXPECT_EQ(ServerName(id), "Ada L.");
  EXPECT_EQ(ServerName(created->meta.id), "New");  // the client-generated id is kept

  auto on_server = *server_.store_->GetContact(id);
  on_server.job_title = "Countess";
  ASSERT_TRUE(server_.store_->Update(on_server, std::nullopt).ok());
  Sync();
  EXPECT_EQ(local_->GetContact(id)->job_title, "Countess");
  EXPECT_EQ(local_->GetContact(id)->first_name, "Ada L.");
}

TEST_F(ReplicatorTest, ReplayAfterALostAnswerAppliesOnce) {
  std::string id = ServerContact("u-me", "Ada").meta.id;
  Sync();
  int64_t version_before = server_.store_->GetContact(id)->meta.version;
  auto c = *recording_->GetContact(id);
  c.first_name = "Once";
  ASSERT_TRUE(recording_->Update(c, std::nullopt).ok());
  model::Contact fresh;
  fresh.meta.owner_id = "u-me";
  fresh.first_name = "Created once";
  ASSERT_TRUE(recording_->Create(fresh).ok());

  server_.lose_next_answer = true;
  EXPECT_TRUE(replicator_->SyncOnce().status().Is(Code::kDeadlineExceeded));
  EXPECT_EQ(link_->state(), LinkState::kOffline);
  EXPECT_EQ(*state_->PendingCount(), 2);  // not known to be applied

  clock_.Advance(std::chrono::seconds(2));
  Sync();  // probe, replay the same mutation ids
  EXPECT_EQ(*state_->PendingCount(), 0);
  EXPECT_EQ(server_.store_->GetContact(id)->meta.version, version_before + 1);
  auto all = server_.store_->ListContacts({.limit = 100});
  int created = 0;
  for (const auto& x : all->items) created += x.first_name == "Created once";
  EXPECT_EQ(created, 1);
  EXPECT_TRUE(state_->ListConflicts()->empty());
}

TEST_F(ReplicatorTest, ConcurrentEditsBecomeAConflictResolvedByTheUser) {
  std::string id = ServerContact("u-me", "Ada").meta.id;
  Sync();
  auto on_server = *server_.store_->GetContact(id);
  on_server.first_name = "Server";
  ASSERT_TRUE(server_.store_->Update(on_server, std::nullopt).ok());
  auto local = *recording_->GetContact(id);
  local.first_name = "Laptop";
  ASSERT_TRUE(recording_->Update(local, std::nullopt).ok());

  Sync();
  auto conflicts = state_->ListConflicts();
  ASSERT_EQ(conflicts->size(), 1u);
  EXPECT_EQ((*conflicts)[0].record_id, id);
  EXPECT_EQ((*conflicts)[0].theirs["first_name"], "Server");
  EXPECT_EQ((*conflicts)[0].mine["first_name"], "Laptop");
  // Never silently overwritten, on either side.
  EXPECT_EQ(ServerName(id), "Server");
  EXPECT_EQ(LocalName(id), "Laptop");
  Sync();  // the pull leaves the conflicted record alone
  EXPECT_EQ(LocalName(id), "Laptop");

  ASSERT_TRUE(replicator_->Resolve(EntityType::kContact, id, Resolution::kMine).ok());
  Sync();
  EXPECT_EQ(ServerName(id), "Laptop");
  EXPECT_TRUE(state_->ListConflicts()->empty());
}

TEST_F(ReplicatorTest, ResolveTheirsAndMerged) {
  std::string a = ServerContact("u-me", "A").meta.id;
  std::string b = ServerContact("u-me", "B").meta.id;
  Sync();
  for (const auto& id : {a, b}) {
    auto s = *server_.store_->GetContact(id);
    s.first_name = s.first_name + "-server";
    ASSERT_TRUE(server_.store_->Update(s, std::nullopt).ok());
    auto l = *recording_->GetContact(id);
    l.first_name = l.first_name + "-laptop";
    ASSERT_TRUE(recording_->Update(l, std::nullopt).ok());
  }
  Sync();
  ASSERT_EQ(state_->ListConflicts()->size(), 2u);
  ASSERT_TRUE(replicator_->Resolve(EntityType::kContact, a, Resolution::kTheirs).ok());
  EXPECT_EQ(LocalName(a), "A-server");
  ASSERT_TRUE(replicator_->Resolve(EntityType::kContact, b, Resolution::kMerged,
                                   {{"first_name", "B-both"}}).ok());
  EXPECT_EQ(LocalName(b), "B-both");
  Sync();
  EXPECT_EQ(ServerName(a), "A-server");
  EXPECT_EQ(ServerName(b), "B-both");
  EXPECT_TRUE(state_->ListConflicts()->empty());
  EXPECT_TRUE(replicator_->Resolve(EntityType::kContact, a, Resolution::kMine).Is(Code::kNotFound));
}

TEST_F(ReplicatorTest, DeletedOnServerWhileEditedLocallyIsAConflict) {
  std::string id = ServerContact("u-me", "Ada").meta.id;
  Sync();
  ASSERT_TRUE(server_.store_->Delete(EntityType::kContact, id, std::nullopt).ok());
  auto l = *recording_->GetContact(id);
  l.first_name = "Still here";
  ASSERT_TRUE(recording_->Update(l, std::nullopt).ok());
  Sync();
  auto c = state_->GetConflict(EntityType::kContact, id);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->theirs.is_null());
  ASSERT_TRUE(replicator_->Resolve(EntityType::kContact, id, Resolution::kMine).ok());
  Sync();
  EXPECT_EQ(ServerName(id), "Still here");  // brought back under the same id
}

TEST_F(ReplicatorTest, ARejectedMutationDoesNotBlockTheOthers) {
  std::string id = ServerContact("u-me", "Ada").meta.id;
  std::string other = ServerContact("u-me", "Bob").meta.id;
  Sync();
  // The local owner field says another user: the server refuses (403), for this
  // record only.
  auto bad = *recording_->GetContact(id);
  bad.meta.owner_id = "u-someone-else";
  ASSERT_TRUE(recording_->Update(bad, std::nullopt).ok());
  auto good = *recording_->GetContact(other);
  good.first_name = "Bob 2";
  ASSERT_TRUE(recording_->Update(good, std::nullopt).ok());
  Sync();
  EXPECT_EQ(ServerName(other), "Bob 2");
  auto failed = state_->ListOutbox(OutboxState::kFailed);
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ((*failed)[0].record_id, id);
  EXPECT_NE((*failed)[0].last_error.find("PermissionDenied"), std::string::npos);
  EXPECT_EQ(*state_->PendingCount(), 0);
}

TEST_F(ReplicatorTest, OfflineQueuesWritesAndReconnectsDrainingFirst) {
  std::string id = ServerContact("u-me", "Ada").meta.id;
  Sync();
  server_.down = true;
  EXPECT_FALSE(replicator_->SyncOnce().ok());
  EXPECT_EQ(link_->state(), LinkState::kOffline);
  auto l = *recording_->GetContact(id);
  l.first_name = "Offline edit";
  ASSERT_TRUE(recording_->Update(l, std::nullopt).ok());  // local writes go on
  EXPECT_EQ(LocalName(id), "Offline edit");
  int pushes = server_.push_calls;
  EXPECT_TRUE(replicator_->SyncOnce().status().Is(Code::kUnavailable));  // probe not due
  EXPECT_EQ(server_.push_calls, pushes);

  server_.down = false;
  clock_.Advance(std::chrono::seconds(1));
  Sync();
  EXPECT_EQ(link_->state(), LinkState::kOnline);
  EXPECT_EQ(ServerName(id), "Offline edit");
}

TEST_F(ReplicatorTest, OwnershipChangeAndFilterChangeMoveRecordsInAndOut) {
  std::string mine = ServerContact("u-me", "Mine").meta.id;
  std::string theirs = ServerContact("u-other", "Theirs").meta.id;
  Sync();
  EXPECT_EQ(LocalName(mine), "Mine");
  EXPECT_EQ(LocalName(theirs), "<NotFound>");

  auto moved = *server_.store_->GetContact(mine);
  moved.meta.owner_id = "u-other";
  ASSERT_TRUE(server_.store_->Update(moved, std::nullopt).ok());
  Sync();
  EXPECT_EQ(LocalName(mine), "<NotFound>");  // left my data

  model::DataGroups all = model::DefaultDataGroups();
  all.contacts.mine_only = false;
  ASSERT_TRUE(replicator_->SetDataGroups(all).ok());
  Sync();
  EXPECT_EQ(LocalName(mine), "Mine");
  EXPECT_EQ(LocalName(theirs), "Theirs");

  model::DataGroups none = model::DefaultDataGroups();
  none.contacts.enabled = false;
  ASSERT_TRUE(replicator_->SetDataGroups(none).ok());
  Sync();
  EXPECT_EQ(LocalName(mine), "<NotFound>");
  EXPECT_EQ(LocalName(theirs), "<NotFound>");
  EXPECT_EQ(*state_->TrackedCount(), 0);
}

TEST_F(ReplicatorTest, ExpiredCursorResyncsAndKeepsUnsentChanges) {
  std::string keep = ServerContact("u-me", "Keep").meta.id;
  std::string gone = ServerContact("u-me", "Gone").meta.id;
  Sync();
  auto l = *recording_->GetContact(keep);
  l.first_name = "Unsent";
  ASSERT_TRUE(recording_->Update(l, std::nullopt).ok());
  // The server lost its history; the deletion of `gone` is no longer in any feed.
  ASSERT_TRUE(server_.store_->Delete(EntityType::kContact, gone, std::nullopt).ok());
  ASSERT_TRUE(server_.store_->PruneTombstones(clock_.Now() + std::chrono::hours(1)).ok());
  server_.expire_cursors = true;
  bool more = true;
  int rounds = 0;
  while (more && rounds++ < 5) {
    ASSERT_TRUE(replicator_->PullPage(&more).ok());
    server_.expire_cursors = false;
  }
  EXPECT_EQ(LocalName(gone), "<NotFound>");  // swept: the full pull did not bring it
  EXPECT_EQ(LocalName(keep), "Unsent");
  EXPECT_EQ(*state_->PendingCount(), 1);
  Sync();
  EXPECT_EQ(ServerName(keep), "Unsent");
}

TEST_F(ReplicatorTest, ExcludedFieldsStayOnTheServer) {
  model::Contact c;
  c.meta.owner_id = "u-me";
  c.first_name = "Ada";
  c.notes = std::string(5000, 'n');
  std::string id = server_.store_->Create(c)->meta.id;
  model::DataGroups g = model::DefaultDataGroups();
  g.contacts.excluded_fields = {"notes"};
  ASSERT_TRUE(replicator_->SetDataGroups(g).ok());
  Sync();
  EXPECT_EQ(local_->GetContact(id)->notes, "");
  auto l = *recording_->GetContact(id);
  l.first_name = "Ada 2";
  ASSERT_TRUE(recording_->Update(l, std::nullopt).ok());
  Sync();
  EXPECT_EQ(ServerName(id), "Ada 2");
  EXPECT_EQ(server_.store_->GetContact(id)->notes.size(), 5000u);
}

// Another server's answer with a field of the wrong type is a broken answer
// (Corruption naming the field), never an exception that ends the sync thread.
TEST(WireTest, WrongTypedFieldsOfAServerAnswerAreCorruptionNamingTheField) {
  const json good_change = {{"entity", "accounts"}, {"id", "a1"}, {"op", "upsert"},
                            {"record", {{"id", "a1"}, {"version", 1}}}};
  ASSERT_TRUE(ParseFeedPage(json{{"changes", {good_change}}, {"next", "c"}, {"more", false}}).ok());
  struct Case {
    json page;
    std::string field;
  };
  std::vector<Case> cases;
  for (const char* field : {"next", "more"}) {
    json page = {{"changes", {good_change}}, {"next", "c"}, {"more", false}};
    page[field] = json::array({1});
    cases.push_back({page, field});
  }
  for (const char* field : {"entity", "id", "op"}) {
    json change = good_change;
    change[field] = 5;
    cases.push_back({json{{"changes", {change}}}, field});
  }
  for (auto& c : cases) {
    auto parsed = ParseFeedPage(json(c.page));
    ASSERT_FALSE(parsed.ok()) << c.page.dump();
    EXPECT_EQ(parsed.status().code(), Code::kCorruption) << parsed.status().ToString();
    EXPECT_NE(parsed.status().message().find(c.field), std::string::npos) << parsed.status().ToString();
  }
  for (const char* field : {"id", "outcome", "error", "message"}) {
    json r = {{"id", "m1"}, {"outcome", "applied"}};
    r[field] = json::object();
    auto parsed = ParsePushResults(json{{"results", {r}}}, 1);
    ASSERT_FALSE(parsed.ok()) << field;
    EXPECT_EQ(parsed.status().code(), Code::kCorruption);
    EXPECT_NE(parsed.status().message().find(field), std::string::npos) << parsed.status().ToString();
  }
  EXPECT_FALSE(ParsePushResults(json{{"results", {5}}}, 1).ok());
}

}  // namespace
}  // namespace tandem::replica
