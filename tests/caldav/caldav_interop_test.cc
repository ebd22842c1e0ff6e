// Interop: the CalDAV provider against real Radicale and Xandikos servers on
// 127.0.0.1 (label "interop"). Server-side changes are made with curl.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "providers/caldav/caldav_calendar.h"
#include "providers/caldav/discovery.h"
#include "tests/caldav/peer_server.h"

namespace tandem::providers::caldav {
namespace {

using tandem::testing::PeerKind;
using tandem::testing::PeerServer;

std::string Event(const std::string& uid, const std::string& summary) {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tandem interop//EN\r\nBEGIN:VEVENT\r\nUID:" +
         uid +
         "\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261215T100000Z\r\nDTEND:20261215T110000Z"
         "\r\nSUMMARY:" + summary + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
}

bool Is2xx(int code) { return code >= 200 && code <= 299; }

std::set<std::string> Hrefs(const std::vector<sync::Item>& items) {
  std::set<std::string> out;
  for (const auto& i : items) out.insert(i.href);
  return out;
}

class CalDavInteropTest : public ::testing::TestWithParam<PeerKind> {
 protected:
  void SetUp() override {
    server_ = std::make_unique<PeerServer>(GetParam());
    ASSERT_TRUE(server_->running()) << "could not start " << PeerName(GetParam()) << ":\n"
                                    << server_->start_log();
  }

  std::unique_ptr<CalDavCalendar> Open() {
    CalDavCalendarOptions options;
    options.calendar_url = server_->CalendarUrl();
    options.http.auth = http::Auth::Basic("test", "test");
    options.http.default_timeout = std::chrono::seconds(60);
    auto calendar = CalDavCalendar::Open(std::move(options));
    EXPECT_TRUE(calendar.ok());
    return std::move(calendar).value();
  }

  std::unique_ptr<PeerServer> server_;
};

TEST_P(CalDavInteropTest, DiscoversTheCalendarFromTheBareServerUrl) {
  http::ClientOptions options;
  options.auth = http::Auth::Basic("test", "test");
  http::Client client(options);
  auto found = Discover(client, server_->Origin() + "/");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(http::UrlPath(found->principal_url), "/test/");
  auto it = std::find_if(found->calendars.begin(), found->calendars.end(),
                         [&](const CalendarInfo& c) { return c.url == server_->CalendarUrl(); });
  std::string listed;
  for (const auto& c : found->calendars) listed += c.url + " ";
  ASSERT_NE(it, found->calendars.end()) << "calendar not listed; got: " << listed;
  EXPECT_EQ(it->display_name, "calendar");
  EXPECT_TRUE(it->SupportsReport("sync-collection"));
  EXPECT_TRUE(it->SupportsReport("calendar-multiget"));
  EXPECT_TRUE(it->SupportsComponent("VEVENT"));
  // Discovery leaves out the collection's state (some servers compute it over
  // every item); a read that asks for it gets both.
  EXPECT_TRUE(it->sync_token.empty());
  auto state = ReadCollection(client, it->url, CollectionState::kWith);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_FALSE(state->sync_token.empty());
  EXPECT_FALSE(state->ctag.empty());

  // A login-style start at the principal finds the same calendar.
  auto from_principal = Discover(client, found->principal_url);
  ASSERT_TRUE(from_principal.ok()) << from_principal.status().ToString();
  EXPECT_FALSE(from_principal->calendars.empty());
}

TEST_P(CalDavInteropTest, CreateUpdateDeleteWithPreconditions) {
  auto calendar = Open();
  auto created = calendar->Create("interop-1", Event("interop-1", "first"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->href, server_->CalendarPath() + "interop-1.ics");
  auto twice = calendar->Create("interop-1", Event("interop-1", "again"));
  EXPECT_EQ(twice.status().code(), Code::kAlreadyExists) << twice.status().ToString();

  auto items = calendar->GetMany({created->href, server_->CalendarPath() + "nope.ics"});
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 1u);
  const std::string etag = (*items)[0].etag;
  ASSERT_FALSE(etag.empty());
  EXPECT_NE((*items)[0].ical.find("SUMMARY:first"), std::string::npos);

  EXPECT_EQ(calendar->Update(created->href, "\"stale\"", Event("interop-1", "x")).status().code(),
            Code::kPreconditionFailed);
  auto updated = calendar->Update(created->href, etag, Event("interop-1", "second"));
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(calendar->Delete(created->href, etag).code(), Code::kPreconditionFailed);
  auto now = calendar->GetMany({created->href});
  ASSERT_TRUE(now.ok());
  ASSERT_EQ(now->size(), 1u);
  EXPECT_NE((*now)[0].ical.find("SUMMARY:second"), std::string::npos);
  ASSERT_TRUE(calendar->Delete(created->href, (*now)[0].etag).ok());
  EXPECT_TRUE(calendar->Delete(created->href, (*now)[0].etag).ok());  // already gone: OK
  EXPECT_EQ(server_->Curl("GET", created->href), 404);
}

TEST_P(CalDavInteropTest, AUidWithASlashIsCreatedAtASafeName) {
  // Radicale refuses a resource name holding %2F (403): the name is derived from
  // the UID instead, and the event keeps its UID.
  auto calendar = Open();
  const std::string uid = "crm/2026/activity 7";
  auto created = calendar->Create(uid, Event(uid, "slash"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->href.find('%'), std::string::npos) << created->href;
  auto found = calendar->FindByUid(uid);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->href, created->href);
  EXPECT_NE((*found)->ical.find("UID:" + uid), std::string::npos) << (*found)->ical;
}

TEST_P(CalDavInteropTest, IncrementalSyncSeesChangesMadeWithCurl) {
  const std::string path = server_->CalendarPath();
  ASSERT_EQ(server_->Curl("PUT", path + "keep.ics", Event("keep", "keep"), "-H 'If-None-Match: *'"), 201);
  ASSERT_EQ(server_->Curl("PUT", path + "edit.ics", Event("edit", "before"), "-H 'If-None-Match: *'"), 201);
  ASSERT_EQ(server_->Curl("PUT", path + "drop.ics", Event("drop", "drop"), "-H 'If-None-Match: *'"), 201);

  auto calendar = Open();
  auto full = calendar->ChangesSince("", {});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_TRUE(full->complete);
  EXPECT_EQ(Hrefs(full->changed),
            (std::set<std::string>{path + "keep.ics", path + "edit.ics", path + "drop.ics"}));
  ASSERT_TRUE(full->next_cursor.starts_with("sync1:"));

  auto quiet = calendar->ChangesSince(full->next_cursor, {});
  ASSERT_TRUE(quiet.ok()) << quiet.status().ToString();
  EXPECT_TRUE(quiet->changed.empty());
  EXPECT_TRUE(quiet->deleted.empty());

  ASSERT_TRUE(Is2xx(server_->Curl(
      "PUT", path + "edit.ics", Event("edit", "after"),
      "-H " + tandem::testing::ShellQuote("If-Match: " + server_->CurlEtag(path + "edit.ics")))));
  ASSERT_TRUE(Is2xx(server_->Curl("DELETE", path + "drop.ics")));
  ASSERT_EQ(server_->Curl("PUT", path + "new.ics", Event("new", "new"), "-H 'If-None-Match: *'"), 201);

  auto delta = calendar->ChangesSince(quiet->next_cursor, {});
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  EXPECT_FALSE(delta->complete);
  EXPECT_EQ(Hrefs(delta->changed), (std::set<std::string>{path + "edit.ics", path + "new.ics"}));
  for (const auto& item : delta->changed) {
    if (item.href == path + "edit.ics") {
      EXPECT_NE(item.ical.find("SUMMARY:after"), std::string::npos);
    }
    EXPECT_FALSE(item.etag.empty());
  }
  EXPECT_EQ(delta->deleted, std::vector<std::string>{path + "drop.ics"});
}

TEST_P(CalDavInteropTest, UnknownTokenMeansResyncRequired) {
  auto calendar = Open();
  std::string bogus = GetParam() == PeerKind::kRadicale
                          ? "sync1:http://radicale.org/ns/sync/0000000000000000000000000000000000000000000000000000000000000000"
                          : "sync1:0000000000000000000000000000000000000000";
  auto delta = calendar->ChangesSince(bogus, {});
  ASSERT_FALSE(delta.ok());
  EXPECT_EQ(delta.status().code(), Code::kResyncRequired) << delta.status().ToString();
  // The full listing the engine then asks for works.
  auto full = calendar->ChangesSince("", {});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_TRUE(full->complete);
}

TEST_P(CalDavInteropTest, IdentityIsStableAndChangesWhenTheCalendarIsRecreated) {
  auto first = Open()->Identity();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->starts_with(server_->CalendarUrl()));
  auto second = Open()->Identity();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  if (GetParam() == PeerKind::kRadicale) {
    EXPECT_NE(first->find(" instance="), std::string::npos) << *first;
  }

  auto calendar = Open();
  ASSERT_TRUE(calendar->Create("before-recreate", Event("before-recreate", "x")).ok());
  auto listing = calendar->ChangesSince("", {});
  ASSERT_TRUE(listing.ok());
  ASSERT_TRUE(server_->RecreateCalendar());
  ASSERT_EQ(server_->Curl("PUT", server_->CalendarPath() + "other.ics", Event("other", "o"),
                          "-H 'If-None-Match: *'"),
            201);

  auto after = Open()->Identity();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  if (GetParam() == PeerKind::kRadicale) {
    EXPECT_NE(*after, *first) << "a re-created Radicale calendar must get a new identity";
  }
  // Whatever the identity, the old cursor is not silently accepted as a gap-free history.
  auto delta = Open()->ChangesSince(listing->next_cursor, {});
  if (delta.ok()) {
    // Only acceptable if it reports the removal of the old item.
    EXPECT_NE(std::find(delta->deleted.begin(), delta->deleted.end(),
                        server_->CalendarPath() + "before-recreate.ics"),
              delta->deleted.end());
  } else {
    EXPECT_EQ(delta.status().code(), Code::kResyncRequired) << delta.status().ToString();
  }
}

TEST_P(CalDavInteropTest, ConcurrentEditLosesTheRaceWith412) {
  auto calendar = Open();
  auto created = calendar->Create("race", Event("race", "ours"));
  ASSERT_TRUE(created.ok());
  auto items = calendar->GetMany({created->href});
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  std::string etag = (*items)[0].etag;
  // Someone else edits it in between.
  ASSERT_TRUE(Is2xx(server_->Curl("PUT", created->href, Event("race", "theirs"))));
  EXPECT_EQ(calendar->Update(created->href, etag, Event("race", "ours-2")).status().code(),
            Code::kPreconditionFailed);
  EXPECT_EQ(calendar->Delete(created->href, etag).code(), Code::kPreconditionFailed);
  auto now = calendar->GetMany({created->href});
  ASSERT_TRUE(now.ok());
  ASSERT_EQ(now->size(), 1u);
  EXPECT_NE((*now)[0].ical.find("SUMMARY:theirs"), std::string::npos);
}

// CalendarSide contract points beyond the above.
TEST_P(CalDavInteropTest, CalendarSideContract) {
  auto calendar = Open();
  auto start = calendar->ChangesSince("", {});
  ASSERT_TRUE(start.ok());
  EXPECT_TRUE(start->changed.empty());

  auto created = calendar->Create("contract@example.test", Event("contract@example.test", "c"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto found = calendar->FindByUid("contract@example.test");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->href, created->href);
  auto missing = calendar->FindByUid("no-such-uid");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  // Our own write shows up as a change too (the engine compares content hashes).
  auto delta = calendar->ChangesSince(start->next_cursor, {});
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  EXPECT_EQ(Hrefs(delta->changed), std::set<std::string>{created->href});
  // Unconditional update and delete.
  ASSERT_TRUE(calendar->Update(created->href, "", Event("contract@example.test", "d")).ok());
  EXPECT_TRUE(calendar->Delete(created->href, "").ok());
  auto gone = calendar->ChangesSince(delta->next_cursor, {});
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->deleted, std::vector<std::string>{created->href});
  EXPECT_TRUE(gone->changed.empty());
}

INSTANTIATE_TEST_SUITE_P(Peers, CalDavInteropTest,
                         ::testing::Values(PeerKind::kRadicale, PeerKind::kXandikos),
                         [](const auto& info) { return PeerName(info.param); });

}  // namespace
}  // namespace tandem::providers::caldav
