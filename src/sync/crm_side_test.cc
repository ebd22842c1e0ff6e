#include "sync/crm_side.h"

#include <gtest/gtest.h>

#include "core/random.h"
#include "store/sqlite/sqlite_store.h"
#include "sync/ical_codec.h"
#include "sync/memory_sync_state.h"

namespace tandem::sync {
namespace {

Instant At(const char* t) { return ParseRfc3339(t).value(); }

class CrmSideTest : public testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(
        *store::sqlite::SqliteStore::Open({.path = ":memory:", .clock = &clock_, .ids = &ids_}));
  }
  model::Activity Add(const std::string& owner, const std::string& subject) {
    model::Activity a;
    a.meta.owner_id = owner;
    a.subject = subject;
    a.start = At("2026-12-01T10:00:00Z");
    a.end = At("2026-12-01T11:00:00Z");
    a.kind = model::ActivityKind::kPhoneCall;
    return *store_->Create(a);
  }
  FakeClock clock_{At("2026-11-24T10:00:00Z")};
  SeededRandom random_{3};
  IdGenerator ids_{clock_, random_};
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  MemorySyncStateStore state_{clock_};
  CrmSide Side(ical::MapOptions map = {}) {
    return CrmSide(CrmSideOptions{
        .store = store_.get(), .state = &state_, .ids = &ids_, .user_id = "alice", .map = map});
  }
};

TEST_F(CrmSideTest, ListsOnlyTheUsersActivitiesThenOnlyWhatChanged) {
  CrmSide side = Side();
  model::Activity mine = Add("alice", "Mine");
  Add("bob", "Not mine");
  auto all = side.ChangesSince("", {});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(all->complete);
  ASSERT_EQ(all->changed.size(), 1u);
  EXPECT_EQ(all->changed[0].href, mine.meta.id);
  EXPECT_EQ(all->changed[0].etag, CrmSide::ItemETag(mine));
  EXPECT_EQ(all->changed[0].etag.find("\"" + std::to_string(mine.meta.version) + "."), 0u);
  EXPECT_NE(all->changed[0].ical.find("X-TANDEM-CRM-ID:" + mine.meta.id), std::string::npos);
  EXPECT_NE(all->changed[0].ical.find("UID:" + mine.meta.id), std::string::npos);

  auto none = side.ChangesSince(all->next_cursor, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->changed.empty() && none->deleted.empty());

  model::Activity second = Add("alice", "Second");
  ASSERT_TRUE(store_->Delete(model::EntityType::kActivity, mine.meta.id, std::nullopt).ok());
  auto delta = side.ChangesSince(none->next_cursor, {});
  ASSERT_TRUE(delta.ok());
  EXPECT_FALSE(delta->complete);
  ASSERT_EQ(delta->changed.size(), 1u);
  EXPECT_EQ(delta->changed[0].href, second.meta.id);
  ASSERT_EQ(delta->deleted.size(), 1u);
  EXPECT_EQ(delta->deleted[0], mine.meta.id);
}

TEST_F(CrmSideTest, CreateWithUidThenFindUpdateDeleteWithPreconditions) {
  CrmSide side = Side();
  const std::string ics =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\nBEGIN:VEVENT\r\nUID:ext-1\r\n"
      "DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\nSUMMARY:From outside\r\n"
      "ATTENDEE:mailto:a@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  auto ref = side.Create("ext-1", ics);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  EXPECT_TRUE(side.Create("ext-1", ics).status().Is(Code::kAlreadyExists));
  auto found = side.FindByUid("ext-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->href, ref->href);
  EXPECT_NE((*found)->ical.find("UID:ext-1"), std::string::npos);  // keeps the external UID
  EXPECT_EQ(store_->GetActivity(ref->href)->meta.owner_id, "alice");

  // Update keeps what the CRM owns (kind) and takes the event's fields.
  model::Activity a = *store_->GetActivity(ref->href);
  a.kind = model::ActivityKind::kPhoneCall;
  a = *store_->Update(a, std::nullopt);
  std::string edited = ics;
  edited.replace(edited.find("From outside"), 12, "Edited");
  EXPECT_TRUE(side.Update(ref->href, ref->etag, edited).status().Is(Code::kPreconditionFailed));
  auto upd = side.Update(ref->href, CrmSide::ItemETag(a), edited);
  ASSERT_TRUE(upd.ok()) << upd.status().ToString();
  model::Activity after = *store_->GetActivity(ref->href);
  EXPECT_EQ(after.subject, "Edited");
  EXPECT_EQ(after.kind, model::ActivityKind::kPhoneCall);
  EXPECT_NE(after.ical_extra.find("a@example.com"), std::string::npos);

  EXPECT_TRUE(side.Delete(ref->href, ref->etag).Is(Code::kPreconditionFailed));
  ASSERT_TRUE(side.Delete(ref->href, upd->etag).ok());
  EXPECT_TRUE(side.Delete(ref->href, upd->etag).ok());  // already gone
  EXPECT_FALSE(*side.FindByUid("ext-1"));
}

// The engine records the hash a write returns instead of reading the item back
// (docs/SYNC.md): it must be what the digest of the listed item says, or the next
// run would see a change nobody made.
TEST_F(CrmSideTest, WriteReturnsTheHashTheListingWillDigest) {
  const std::string head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\n";
  const std::string tail = "END:VCALENDAR\r\n";
  const std::vector<std::string> events = {
      // a weekly series with an exception and a moved instance, in a named zone
      head +
          "BEGIN:VEVENT\r\nUID:s-1\r\nDTSTART;TZID=Europe/Berlin:20261202T090000\r\n"
          "DTEND;TZID=Europe/Berlin:20261202T100000\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\n"
          "EXDATE;TZID=Europe/Berlin:20261209T090000\r\nSUMMARY:Jour fixe\r\n"
          "ATTENDEE;CN=Ana:mailto:ana@example.com\r\nEND:VEVENT\r\n"
          "BEGIN:VEVENT\r\nUID:s-1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261216T090000\r\n"
          "DTSTART;TZID=Europe/Berlin:20261216T140000\r\n"
          "DTEND;TZID=Europe/Berlin:20261216T150000\r\nSUMMARY:Jour fixe (moved)\r\n"
          "END:VEVENT\r\n" + tail,
      // all day, private, with a reminder
      head +
          "BEGIN:VEVENT\r\nUID:d-1\r\nDTSTART;VALUE=DATE:20261224\r\n"
          "DTEND;VALUE=DATE:20261227\r\nSUMMARY:Away\r\nCLASS:PRIVATE\r\n"
          "TRANSP:TRANSPARENT\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\n"
          "DESCRIPTION:x\r\nEND:VALARM\r\nEND:VEVENT\r\n" + tail,
      // floating time, folded long description, escaped text
      head +
          "BEGIN:VEVENT\r\nUID:f-1\r\nDTSTART:20261203T080000\r\nDURATION:PT45M\r\n"
          "SUMMARY:Call\\, then notes\r\nLOCATION:Room 4\\; east\r\nDESCRIPTION:"
          + std::string(120, 'x') + "\r\n x\r\nEND:VEVENT\r\n" + tail,
  };
  CrmSide side = Side();
  IcalCodec codec;
  auto digest_of = [&](const std::string& href) {
    auto items = side.GetMany({href});
    EXPECT_TRUE(items.ok() && items->size() == 1u);
    auto o = codec.Digest(items->front(), {});
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    return o.ok() ? o->content_hash : std::string("unreadable");
  };
  for (const std::string& ics : events) {
    const std::string uid = ics.substr(ics.find("UID:") + 4, 3);
    auto ref = side.Create(uid, ics);
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    ASSERT_FALSE(ref->content_hash.empty());
    EXPECT_EQ(ref->content_hash, digest_of(ref->href)) << ics;

    std::string edited = ics;
    edited.replace(edited.find("SUMMARY:"), 8, "SUMMARY:Edited ");
    auto upd = side.Update(ref->href, ref->etag, edited);
    ASSERT_TRUE(upd.ok()) << upd.status().ToString();
    EXPECT_NE(upd->content_hash, ref->content_hash);
    EXPECT_EQ(upd->content_hash, digest_of(ref->href)) << edited;
  }

  // A pair that maps differently (multi-day rule) gets no hash: the engine reads back.
  CrmSide multi_day = Side(ical::MapOptions{.multi_day = ical::MultiDayRule::kStartWithEndInTitle});
  auto ref = multi_day.Create("m-1", events[1]);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  EXPECT_TRUE(ref->content_hash.empty());
}

// The engine hands the digest's activity over for a creation (CreateMapped): the
// stored activity and the reported hash must be those of the text path.
TEST_F(CrmSideTest, CreateFromTheDigestsActivityStoresWhatTheTextGives) {
  const std::string head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\n";
  const std::string tail = "END:VCALENDAR\r\n";
  const std::vector<std::string> events = {
      head +
          "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\n"
          "DTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
          "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\n"
          "DTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
          "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
          "BEGIN:VEVENT\r\nUID:s-1\r\nDTSTAMP:20261101T000000Z\r\nSEQUENCE:3\r\n"
          "DTSTART;TZID=W. Europe Standard Time:20261202T090000\r\n"
          "DTEND;TZID=W. Europe Standard Time:20261202T100000\r\n"
          "RRULE:FREQ=WEEKLY;COUNT=10\r\nEXDATE;TZID=W. Europe Standard Time:20261209T090000\r\n"
          "RDATE:20261231T120000Z\r\nSUMMARY:Jour fixe\r\nATTENDEE;CN=Ana:mailto:ana@example.com\r\n"
          "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nDESCRIPTION:x\r\nEND:VALARM\r\n"
          "END:VEVENT\r\n"
          "BEGIN:VEVENT\r\nUID:s-1\r\nRECURRENCE-ID;TZID=W. Europe Standard Time:20261216T090000\r\n"
          "DTSTART;TZID=W. Europe Standard Time:20261216T140000\r\n"
          "DTEND;TZID=W. Europe Standard Time:20261216T150000\r\nSUMMARY:Jour fixe (moved)\r\n"
          "END:VEVENT\r\n"
          "BEGIN:VEVENT\r\nUID:s-1\r\nRECURRENCE-ID;RANGE=THISANDFUTURE;"
          "TZID=W. Europe Standard Time:20261223T090000\r\n"
          "DTSTART;TZID=W. Europe Standard Time:20261223T110000\r\n"
          "DTEND;TZID=W. Europe Standard Time:20261223T120000\r\nEND:VEVENT\r\n" + tail,
      head +
          "BEGIN:VEVENT\r\nUID:d-1\r\nDTSTART;VALUE=DATE:20261224\r\n"
          "DTEND;VALUE=DATE:20261227\r\nSUMMARY:Away\r\nCLASS:PRIVATE\r\nSTATUS:CANCELLED\r\n"
          "TRANSP:TRANSPARENT\r\nX-CUSTOM;P=1:kept\r\nEND:VEVENT\r\n" + tail,
      head +
          "BEGIN:VEVENT\r\nUID:f-1\r\nDTSTART:20261203T080000\r\nDURATION:PT45M\r\n"
          "LAST-MODIFIED:20261120T101010Z\r\nCREATED:20261001T000000Z\r\n"
          "SUMMARY:Call\\, then notes\r\nLOCATION:Room 4\\; east\r\nDESCRIPTION:" +
          std::string(120, 'x') + "\r\n x\r\nEND:VEVENT\r\n" + tail,
  };
  auto modeled = [](model::Activity a) {
    a.meta = model::RecordMeta();
    return a;
  };
  auto same = [&](const model::Activity& x, const model::Activity& y) {
    model::Activity a = modeled(x), b = modeled(y);
    EXPECT_EQ(a.subject, b.subject);
    EXPECT_EQ(a.location, b.location);
    EXPECT_EQ(a.description, b.description);
    EXPECT_EQ(a.start, b.start);
    EXPECT_EQ(a.end, b.end);
    EXPECT_EQ(a.all_day, b.all_day);
    EXPECT_EQ(a.time_zone, b.time_zone);
    EXPECT_EQ(a.show_as, b.show_as);
    EXPECT_EQ(a.is_private, b.is_private);
    EXPECT_EQ(a.reminder_minutes, b.reminder_minutes);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.regarding_type, b.regarding_type);
    EXPECT_EQ(a.rrule, b.rrule);
    EXPECT_EQ(a.exdates, b.exdates);
    EXPECT_EQ(a.rdates, b.rdates);
    EXPECT_EQ(a.cancelled, b.cancelled);
    EXPECT_EQ(a.sequence, b.sequence);
    EXPECT_EQ(a.ical_extra, b.ical_extra);
    EXPECT_EQ(x.meta.owner_id, y.meta.owner_id);
    EXPECT_EQ(x.meta.shared, y.meta.shared);
  };
  CrmSide side = Side();
  IcalCodec codec;
  for (const std::string& ics : events) {
    const std::string uid = ics.substr(ics.find("UID:") + 4, 3);
    auto text = side.Create(uid, ics);
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    auto o = codec.Digest(Item{"/x.ics", "\"1\"", ics}, {});
    ASSERT_TRUE(o.ok() && o->parsed != nullptr);
    auto handed = side.CreateMapped("h" + uid, ics, *o->parsed, o->content_hash);
    ASSERT_TRUE(handed.ok()) << handed.status().ToString();
    EXPECT_EQ(handed->content_hash, text->content_hash) << ics;
    auto a = store_->GetActivity(text->href);
    auto b = store_->GetActivity(handed->href);
    ASSERT_TRUE(a.ok() && b.ok());
    same(*a, *b);
    EXPECT_EQ(ical::ContentHash(*b), handed->content_hash);
    // The same UID again is refused on either path.
    EXPECT_TRUE(side.CreateMapped("h" + uid, ics, *o->parsed, o->content_hash)
                    .status()
                    .Is(Code::kAlreadyExists));
    EXPECT_EQ(*state_.CrmIdForUid("alice", "h" + uid), handed->href);
  }

  // A side mapping with other options reads the text itself.
  CrmSide multi_day = Side(ical::MapOptions{.multi_day = ical::MultiDayRule::kStartWithEndInTitle});
  auto o = codec.Digest(Item{"/d.ics", "\"1\"", events[1]}, {});
  ASSERT_TRUE(o.ok());
  model::Activity wrong = *o->parsed;
  wrong.subject = "not from the text";
  auto ref = multi_day.CreateMapped("m-1", events[1], wrong, o->content_hash);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  EXPECT_TRUE(ref->content_hash.empty());
  auto stored = store_->GetActivity(ref->href);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->subject.find("Away"), 0u) << stored->subject;
}

TEST_F(CrmSideTest, StreamsChangesAPageAtATimeAndReportsWhatWentMeanwhile) {
  CrmSide side(CrmSideOptions{
      .store = store_.get(), .state = &state_, .ids = &ids_, .user_id = "alice", .page_size = 2});
  auto start = side.ChangesSince("", {});
  ASSERT_TRUE(start.ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Add("alice", "A" + std::to_string(i)).meta.id);
  Add("bob", "Not mine");
  ASSERT_TRUE(store_->Delete(model::EntityType::kActivity, ids[4], std::nullopt).ok());

  std::vector<std::string> handed;
  auto cs = side.StreamChangesSince(start->next_cursor, {}, [&](Item&& item) {
    handed.push_back(item.href);
    return Status::Ok();
  });
  ASSERT_TRUE(cs.ok()) << cs.status().ToString();
  EXPECT_FALSE(cs->complete);
  EXPECT_TRUE(cs->changed.empty());  // handed to the sink, not held
  EXPECT_EQ(handed, std::vector<std::string>(ids.begin(), ids.begin() + 4));
  EXPECT_EQ(cs->deleted, std::vector<std::string>{ids[4]});

  // A sink's error stops the listing and is the listing's error.
  int calls = 0;
  auto stopped = side.StreamChangesSince(start->next_cursor, {}, [&](Item&&) {
    return ++calls == 3 ? Status::Unavailable("disk full") : Status::Ok();
  });
  EXPECT_TRUE(stopped.status().Is(Code::kUnavailable));
  EXPECT_EQ(calls, 3);
}

// The version starts again at 1 when a deleted activity's id is created anew
// (offline mutations and imports keep given ids): the ETag must still differ, or
// the engine would take the new activity for the one it recorded.
TEST_F(CrmSideTest, AnIdCreatedAgainGetsAnotherETagAndOldETagsAreRefused) {
  CrmSide side = Side();
  model::Activity first = Add("alice", "First life");
  ASSERT_EQ(first.meta.version, 1);
  const std::string old_etag = CrmSide::ItemETag(first);
  ASSERT_TRUE(store_->Delete(model::EntityType::kActivity, first.meta.id, std::nullopt).ok());
  clock_.Advance(std::chrono::seconds(1));
  model::Activity again;
  again.meta.id = first.meta.id;
  again.meta.owner_id = "alice";
  again.subject = "Second life";
  again.start = At("2026-12-02T10:00:00Z");
  again.end = At("2026-12-02T11:00:00Z");
  auto second = store_->Create(again);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ(second->meta.version, 1);
  auto items = side.GetMany({first.meta.id});
  ASSERT_TRUE(items.ok() && items->size() == 1u);
  EXPECT_NE((*items)[0].etag, old_etag);

  const std::string ics = (*items)[0].ical;
  EXPECT_TRUE(side.Update(first.meta.id, old_etag, ics).status().Is(Code::kPreconditionFailed));
  EXPECT_TRUE(side.Delete(first.meta.id, old_etag).Is(Code::kPreconditionFailed));
  // A plain version (a status row written before ETags carried the creation time).
  EXPECT_TRUE(side.Update(first.meta.id, model::ETagOf(1), ics).ok());
  // Anything else cannot name the current version: someone else's, refused.
  EXPECT_TRUE(side.Update(first.meta.id, "\"x.y\"", ics).status().Is(Code::kPreconditionFailed));
}

// Serving a pair, an incremental listing leaves out activities at the version the
// pair's status recorded (what the pair itself wrote), and lists them again once
// they change.
TEST_F(CrmSideTest, ServingAPairItLeavesOutWhatThePairRecorded) {
  CrmSide plain = Side();
  CrmSide paired(CrmSideOptions{
      .store = store_.get(), .state = &state_, .ids = &ids_, .user_id = "alice", .pair_id = "p1"});
  auto start = plain.ChangesSince("", {});
  ASSERT_TRUE(start.ok());
  model::Activity recorded = Add("alice", "Recorded");
  model::Activity other = Add("alice", "Not recorded");
  ASSERT_TRUE(state_
                  .PutStatus(store::ItemStatus{.pair_id = "p1",
                                               .uid = "u1",
                                               .crm_id = recorded.meta.id,
                                               .crm_etag = CrmSide::ItemETag(recorded)})
                  .ok());
  auto hrefs = [](const ChangeSet& cs) {
    std::vector<std::string> out;
    for (const Item& i : cs.changed) out.push_back(i.href);
    return out;
  };
  auto listed = paired.ChangesSince(start->next_cursor, {});
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(hrefs(*listed), std::vector<std::string>{other.meta.id});
  EXPECT_TRUE(listed->deleted.empty());  // left out, not gone
  EXPECT_EQ(hrefs(*plain.ChangesSince(start->next_cursor, {})),
            (std::vector<std::string>{recorded.meta.id, other.meta.id}));
  // Another pair's status does not count; a complete listing keeps everything.
  CrmSide other_pair(CrmSideOptions{
      .store = store_.get(), .state = &state_, .ids = &ids_, .user_id = "alice", .pair_id = "p2"});
  EXPECT_EQ(hrefs(*other_pair.ChangesSince(start->next_cursor, {})).size(), 2u);
  EXPECT_EQ(hrefs(*paired.ChangesSince("", {})).size(), 2u);

  recorded.subject = "Changed since";
  ASSERT_TRUE(store_->Update(recorded, std::nullopt).ok());
  EXPECT_EQ(hrefs(*paired.ChangesSince(start->next_cursor, {})),  // in change-feed order
            (std::vector<std::string>{other.meta.id, recorded.meta.id}));
}

TEST_F(CrmSideTest, IdentityNamesStoreAndUser) {
  auto id = Side().Identity();
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "crm:" + store_->Epoch() + ":alice");
}

}  // namespace
}  // namespace tandem::sync
