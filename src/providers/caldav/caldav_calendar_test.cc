#include "providers/caldav/caldav_calendar.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/faulty_dav/fake_dav_server.h"

namespace tandem::providers::caldav {
namespace {

using tandem::testing::FakeDavOptions;
using tandem::testing::FakeDavServer;

class NoSleep final : public http::Sleeper {
 public:
  void SleepFor(Duration) override {}
};

std::unique_ptr<CalDavCalendar> OpenCalendar(FakeDavServer& server, NoSleep* sleeper,
                                             int batch = 200) {
  CalDavCalendarOptions options;
  options.calendar_url = server.CollectionUrl();
  options.http.sleeper = sleeper;
  options.http.default_timeout = std::chrono::milliseconds(5000);
  options.multiget_batch_size = batch;
  auto calendar = CalDavCalendar::Open(std::move(options));
  EXPECT_TRUE(calendar.ok());
  return std::move(calendar).value();
}

std::vector<std::string> Hrefs(const std::vector<sync::Item>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.href);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(IcalUidTest, FindsAndUnfoldsUid) {
  EXPECT_EQ(IcalUid("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:abc-1\r\nEND:VEVENT\r\n"), "abc-1");
  EXPECT_EQ(IcalUid("BEGIN:VEVENT\nUID:long\n -folded\nEND:VEVENT\n"), "long-folded");
  EXPECT_EQ(IcalUid("BEGIN:VEVENT\r\nUID;X-A=b:with-param\r\n"), "with-param");
  EXPECT_EQ(IcalUid("BEGIN:VEVENT\r\nX-UID:no\r\n"), "");
}

TEST(CalDavCalendarTest, FirstListingThenIncrementalChangesInOneRequest) {
  FakeDavServer server;
  server.Put("a.ics", FakeDavServer::Event("a", "A"));
  server.Put("b.ics", FakeDavServer::Event("b", "B"));
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper);

  auto full = calendar->ChangesSince("", {});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_TRUE(full->complete);
  EXPECT_EQ(Hrefs(full->changed), (std::vector<std::string>{"/u/cal/a.ics", "/u/cal/b.ics"}));
  EXPECT_TRUE(full->changed[0].ical.find("BEGIN:VEVENT") != std::string::npos);
  EXPECT_FALSE(full->changed[0].etag.empty());

  server.Put("b.ics", FakeDavServer::Event("b", "B2"));
  server.Put("c.ics", FakeDavServer::Event("c", "C"));
  server.Remove("a.ics");
  int before = server.http().request_count();
  auto delta = calendar->ChangesSince(full->next_cursor, {});
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  EXPECT_EQ(server.http().request_count() - before, 1);  // one sync-collection REPORT
  EXPECT_FALSE(delta->complete);
  EXPECT_EQ(Hrefs(delta->changed), (std::vector<std::string>{"/u/cal/b.ics", "/u/cal/c.ics"}));
  EXPECT_EQ(delta->deleted, std::vector<std::string>{"/u/cal/a.ics"});

  auto none = calendar->ChangesSince(delta->next_cursor, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->changed.empty());
  EXPECT_TRUE(none->deleted.empty());
  EXPECT_EQ(none->next_cursor, delta->next_cursor);
}

TEST(CalDavCalendarTest, FollowsTruncatedSyncAnswersPageByPage) {
  FakeDavServer server(FakeDavOptions{.sync_page_size = 2});
  for (int i = 0; i < 5; ++i) {
    server.Put("e" + std::to_string(i) + ".ics", FakeDavServer::Event("e" + std::to_string(i), "x"));
  }
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper);
  auto full = calendar->ChangesSince("", {});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(full->changed.size(), 5u);
  EXPECT_EQ(server.Count("REPORT"), 3);  // pages of 2, 2, 1

  for (int i = 0; i < 3; ++i) {
    server.Put("n" + std::to_string(i) + ".ics", FakeDavServer::Event("n" + std::to_string(i), "x"));
  }
  auto delta = calendar->ChangesSince(full->next_cursor, {});
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  EXPECT_EQ(Hrefs(delta->changed),
            (std::vector<std::string>{"/u/cal/n0.ics", "/u/cal/n1.ics", "/u/cal/n2.ics"}));
}

TEST(CalDavCalendarTest, FetchesDataWithMultigetInBatchesWhenNotInline) {
  FakeDavServer server(FakeDavOptions{.inline_data_in_sync = false});
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper, /*batch=*/2);
  auto full = calendar->ChangesSince("", {});
  ASSERT_TRUE(full.ok());
  for (int i = 0; i < 5; ++i) {
    server.Put("e" + std::to_string(i) + ".ics", FakeDavServer::Event("e" + std::to_string(i), "x"));
  }
  int before = server.Count("REPORT");
  auto delta = calendar->ChangesSince(full->next_cursor, {});
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  EXPECT_EQ(delta->changed.size(), 5u);
  EXPECT_EQ(server.Count("REPORT") - before, 1 + 3);  // sync + ceil(5 / 2) multigets
  for (const auto& item : delta->changed) EXPECT_NE(item.ical.find("SUMMARY:x"), std::string::npos);
}

TEST(CalDavCalendarTest, FirstListingWithoutInlineDataReadsTheCollectionOnce) {
  FakeDavServer server(FakeDavOptions{.inline_data_in_sync = false});
  for (int i = 0; i < 7; ++i) {
    server.Put("e" + std::to_string(i) + ".ics", FakeDavServer::Event("e" + std::to_string(i), "x"));
  }
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper, /*batch=*/2);
  auto full = calendar->ChangesSince("", {});
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->changed.size(), 7u);
  EXPECT_EQ(server.Count("REPORT"), 2);  // sync-collection + one calendar-query
}

TEST(CalDavCalendarTest, RejectedTokenMeansResyncRequired) {
  FakeDavServer server;
  server.Put("a.ics", FakeDavServer::Event("a", "A"));
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper);
  auto full = calendar->ChangesSince("", {});
  ASSERT_TRUE(full.ok());
  server.ForgetHistory();
  auto delta = calendar->ChangesSince(full->next_cursor, {});
  ASSERT_FALSE(delta.ok());
  EXPECT_EQ(delta.status().code(), Code::kResyncRequired);
  auto foreign = calendar->ChangesSince("something else", {});
  EXPECT_EQ(foreign.status().code(), Code::kResyncRequired);
}

TEST(CalDavCalendarTest, WithoutSyncCollectionUsesCtagAndEtagListing) {
  FakeDavServer server(FakeDavOptions{.sync_collection = false});
  server.Put("a.ics", FakeDavServer::Event("a", "A"));
  server.Put("b.ics", FakeDavServer::Event("b", "B"));
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper);
  auto full = calendar->ChangesSince("", {});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_TRUE(full->complete);
  EXPECT_EQ(full->changed.size(), 2u);

  int before = server.http().request_count();
  auto same = calendar->ChangesSince(full->next_cursor, {});
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->changed.empty());
  EXPECT_EQ(server.http().request_count() - before, 1);  // the ctag said it all

  server.Put("a.ics", FakeDavServer::Event("a", "A2"));
  server.Remove("b.ics");
  auto delta = calendar->ChangesSince(same->next_cursor, {});
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  EXPECT_EQ(Hrefs(delta->changed), std::vector<std::string>{"/u/cal/a.ics"});
  EXPECT_NE(delta->changed[0].ical.find("SUMMARY:A2"), std::string::npos);
  EXPECT_EQ(delta->deleted, std::vector<std::string>{"/u/cal/b.ics"});
}

TEST(CalDavCalendarTest, WritesCarryPreconditions) {
  FakeDavServer server(FakeDavOptions{.etag_on_put = false});
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper);
  auto created = calendar->Create("uid@1", FakeDavServer::Event("uid@1", "new"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->href, "/u/cal/uid%401.ics");
  EXPECT_EQ(created->etag, "");  // none returned: the engine re-reads
  auto again = calendar->Create("uid@1", FakeDavServer::Event("uid@1", "new"));
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);

  auto items = calendar->GetMany({created->href, "/u/cal/missing.ics"});
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  std::string etag = (*items)[0].etag;
  auto stale = calendar->Update(created->href, "\"not-it\"", FakeDavServer::Event("uid@1", "x"));
  EXPECT_EQ(stale.status().code(), Code::kPreconditionFailed);
  auto updated = calendar->Update(created->href, etag, FakeDavServer::Event("uid@1", "changed"));
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(calendar->Delete(created->href, etag).code(), Code::kPreconditionFailed);
  auto fresh = calendar->GetMany({created->href});
  ASSERT_TRUE(fresh.ok());
  ASSERT_EQ(fresh->size(), 1u);
  EXPECT_TRUE(calendar->Delete(created->href, (*fresh)[0].etag).ok());
  EXPECT_TRUE(calendar->Delete(created->href, (*fresh)[0].etag).ok());  // already gone
  EXPECT_EQ(server.size(), 0u);
  auto requests = server.http().requests();
  EXPECT_EQ(requests[0].Header("if-none-match"), "*");
}

TEST(CalDavCalendarTest, UidsWithReservedCharactersGetASafeStableName) {
  FakeDavServer server(FakeDavOptions{});
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper);
  const std::string uid = "crm/2026/a b\u00e9";
  auto created = calendar->Create(uid, FakeDavServer::Event(uid, "slashes"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->href.rfind("/u/cal/tandem-", 0), 0u) << created->href;
  EXPECT_EQ(created->href.find('%'), std::string::npos) << created->href;
  EXPECT_EQ(created->href.find("crm"), std::string::npos) << created->href;
  // The UID inside stays; the same UID always maps to the same name.
  auto found = calendar->FindByUid(uid);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->href, created->href);
  EXPECT_EQ(calendar->Create(uid, FakeDavServer::Event(uid, "again")).status().code(),
            Code::kAlreadyExists);
  // Plain UIDs keep naming their resource.
  auto plain = calendar->Create("plain-uid_1.x", FakeDavServer::Event("plain-uid_1.x", "p"));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->href, "/u/cal/plain-uid_1.x.ics");
}

TEST(CalDavCalendarTest, FindByUidMatchesExactly) {
  FakeDavServer server;
  server.Put("x.ics", FakeDavServer::Event("abc-10", "X"));
  server.Put("y.ics", FakeDavServer::Event("abc-1", "Y"));
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper);
  auto found = calendar->FindByUid("abc-1");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->href, "/u/cal/y.ics");
  auto none = calendar->FindByUid("zzz");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(CalDavCalendarTest, TwoResourcesWithOneUidAreAWarningNotAFailure) {
  FakeDavServer server;
  server.Put("one.ics", FakeDavServer::Event("same", "1"));
  server.Put("two.ics", FakeDavServer::Event("same", "2"));
  server.Put("other.ics", FakeDavServer::Event("other", "3"));
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper);
  auto full = calendar->ChangesSince("", {});
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->changed.size(), 3u);
  ASSERT_EQ(full->warnings.size(), 1u);
  EXPECT_NE(full->warnings[0].find("UID same"), std::string::npos);
}

TEST(CalDavCalendarTest, StreamingListingHandsOutItemsWithoutKeepingThem) {
  FakeDavServer server;
  for (int i = 0; i < 4; ++i) {
    server.Put("e" + std::to_string(i) + ".ics", FakeDavServer::Event("e" + std::to_string(i), "x"));
  }
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper);
  int seen = 0;
  auto full = calendar->StreamChangesSince("", {}, [&](sync::Item&& item) {
    ++seen;
    EXPECT_FALSE(item.ical.empty());
    return Status::Ok();
  });
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(seen, 4);
  EXPECT_TRUE(full->changed.empty());
  EXPECT_FALSE(full->next_cursor.empty());
}

TEST(CalDavCalendarTest, IdentityIsTheUrlWhenTheServerKeepsNoMarker) {
  FakeDavServer server;  // refuses PROPPATCH, offers no resource-id
  NoSleep sleeper;
  auto calendar = OpenCalendar(server, &sleeper);
  auto id = calendar->Identity();
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, server.CollectionUrl());
}

}  // namespace
}  // namespace tandem::providers::caldav
