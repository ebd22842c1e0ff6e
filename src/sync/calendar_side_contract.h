// The CalendarSide contract (calendar_side.h) as one test suite that every
// implementation runs: the in-memory calendar and the CRM side
// (calendar_side_contract_test.cc), the vdir folder (providers/vdir), CalDAV on
// Radicale and on Xandikos (tests/caldav), and each later provider. What the sync
// engine relies on of a side, said once:
//   - a complete listing ("" cursor) holds every item, with the ETag a write
//     returned; an incremental one holds what changed and what was deleted since
//     its cursor, the side's own writes included; an item created after the
//     cursor and deleted by someone else before the next listing is reported
//     deleted or left out, never listed present (the engine confirms by href
//     the items it created);
//   - writes check the ETag they are given (PreconditionFailed, nothing written);
//     a create never overwrites (AlreadyExists); deleting what is gone is done;
//   - GetMany leaves out unknown hrefs; FindByUid finds an item by its UID;
//   - an unknown cursor is ResyncRequired or a complete listing;
//   - the identity is the same on every call and every instance;
//   - the streaming listing hands the same items as the plain one.
//
// Usage: INSTANTIATE_TEST_SUITE_P(Name, CalendarSideContract,
//            ::testing::Values(CalendarSideImpl{"name", [] { return ...; }}),
//            CalendarSideImplName);
// Test-only header.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sync/calendar_side.h"

namespace tandem::sync {

// One calendar, fresh and empty, and what the user (or another program) does to
// it outside Tandem.
class CalendarSideFixture {
 public:
  virtual ~CalendarSideFixture() = default;
  virtual CalendarSide& side() = 0;
  // Another instance on the same calendar (the next run opens its own).
  virtual std::unique_ptr<CalendarSide> Reopen() = 0;
  virtual Status DeleteOutside(const std::string& href) = 0;
  virtual Status EditOutside(const std::string& href, const std::string& ical) = 0;
};

// Another handle on a side that one object serves (an in-memory calendar).
class CalendarSideProxy final : public CalendarSide {
 public:
  explicit CalendarSideProxy(CalendarSide& inner) : inner_(inner) {}
  Result<std::string> Identity() override { return inner_.Identity(); }
  Result<ChangeSet> ChangesSince(const std::string& c, const TimeRange& w) override {
    return inner_.ChangesSince(c, w);
  }
  Result<ChangeSet> StreamChangesSince(const std::string& c, const TimeRange& w,
                                       const ItemSink& sink) override {
    return inner_.StreamChangesSince(c, w, sink);
  }
  Result<std::vector<Item>> GetMany(const std::vector<std::string>& hrefs) override {
    return inner_.GetMany(hrefs);
  }
  Result<ItemRef> Create(const std::string& uid, const std::string& ical) override {
    return inner_.Create(uid, ical);
  }
  Result<ItemRef> CreateMapped(const std::string& uid, const std::string& ical,
                               const model::Activity& activity,
                               const std::string& content_hash) override {
    return inner_.CreateMapped(uid, ical, activity, content_hash);
  }
  Result<ItemRef> Update(const std::string& href, const std::string& etag,
                         const std::string& ical) override {
    return inner_.Update(href, etag, ical);
  }
  Status Delete(const std::string& href, const std::string& etag) override {
    return inner_.Delete(href, etag);
  }
  Result<std::optional<Item>> FindByUid(const std::string& uid) override {
    return inner_.FindByUid(uid);
  }

 private:
  CalendarSide& inner_;
};

struct CalendarSideImpl {
  std::string name;
  std::function<std::unique_ptr<CalendarSideFixture>()> make;
};

inline std::string CalendarSideImplName(const ::testing::TestParamInfo<CalendarSideImpl>& info) {
  return info.param.name;
}

inline std::string ContractEvent(const std::string& uid, const std::string& summary) {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Tandem contract//EN\r\nBEGIN:VEVENT\r\n"
         "UID:" + uid + "\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270115T100000Z\r\n"
         "DTEND:20270115T110000Z\r\nSUMMARY:" + summary + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
}

class CalendarSideContract : public ::testing::TestWithParam<CalendarSideImpl> {
 protected:
  // The window given to listings: wide (2000-2100); every event here is inside.
  static TimeRange Window() {
    return TimeRange{FromUnixSeconds(946'684'800), FromUnixSeconds(4'102'444'800)};
  }
  void SetUp() override {
    fixture_ = GetParam().make();
    ASSERT_NE(fixture_, nullptr) << "could not set up " << GetParam().name;
  }
  CalendarSide& side() { return fixture_->side(); }

  // A listing since `cursor`; fails the test on an error.
  ChangeSet List(CalendarSide& s, const std::string& cursor) {
    auto r = s.ChangesSince(cursor, Window());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : ChangeSet{};
  }
  ChangeSet List(const std::string& cursor) { return List(side(), cursor); }
  ItemRef Create(const std::string& uid, const std::string& summary) {
    auto r = side().Create(uid, ContractEvent(uid, summary));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ItemRef{};
  }
  // The item at `href` as the side has it now.
  std::optional<Item> Get(const std::string& href) {
    auto r = side().GetMany({href});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->empty()) return std::nullopt;
    return r->front();
  }
  static bool Says(const std::string& ical, const std::string& summary) {
    return ical.find("SUMMARY:" + summary + "\r\n") != std::string::npos ||
           ical.find("SUMMARY:" + summary + "\n") != std::string::npos;
  }
  static std::set<std::string> Hrefs(const std::vector<Item>& items) {
    std::set<std::string> out;
    for (const auto& i : items) out.insert(i.href);
    return out;
  }

  std::unique_ptr<CalendarSideFixture> fixture_;
};

TEST_P(CalendarSideContract, AnEmptyCalendarListsNothingCompletely) {
  ChangeSet all = List("");
  EXPECT_TRUE(all.complete);
  EXPECT_TRUE(all.changed.empty());
  EXPECT_TRUE(all.deleted.empty());
  EXPECT_FALSE(all.next_cursor.empty());
}

TEST_P(CalendarSideContract, ACreatedItemIsListedWithItsUidContentAndEtag) {
  ItemRef ref = Create("contract-1@example.test", "Kickoff");
  ASSERT_FALSE(ref.href.empty());
  ChangeSet all = List("");
  ASSERT_EQ(all.changed.size(), 1u);
  EXPECT_EQ(all.changed[0].href, ref.href);
  EXPECT_NE(all.changed[0].ical.find("contract-1@example.test"), std::string::npos);
  EXPECT_TRUE(Says(all.changed[0].ical, "Kickoff")) << all.changed[0].ical;
  if (!ref.etag.empty()) EXPECT_EQ(all.changed[0].etag, ref.etag);
  auto again = side().Create("contract-1@example.test", ContractEvent("contract-1@example.test", "x"));
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists) << again.status().ToString();
  ChangeSet still = List("");
  ASSERT_EQ(still.changed.size(), 1u);
  EXPECT_TRUE(Says(still.changed[0].ical, "Kickoff"));
}

TEST_P(CalendarSideContract, GetManyAndFindByUidFindWhatIsThere) {
  ItemRef a = Create("contract-a@example.test", "A");
  ItemRef b = Create("contract-b@example.test", "B");
  auto items = side().GetMany({a.href, b.href, "no-such-item.ics"});
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  EXPECT_EQ(Hrefs(*items), (std::set<std::string>{a.href, b.href}));
  auto found = side().FindByUid("contract-b@example.test");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->href, b.href);
  EXPECT_TRUE(Says((*found)->ical, "B"));
  auto missing = side().FindByUid("no-such-uid@example.test");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(CalendarSideContract, WritesCheckTheEtag) {
  ItemRef ref = Create("contract-e@example.test", "First");
  std::optional<Item> now = Get(ref.href);
  ASSERT_TRUE(now.has_value());
  const std::string stale = "\"not-the-etag\"";
  auto refused = side().Update(ref.href, stale, ContractEvent("contract-e@example.test", "Theirs"));
  EXPECT_EQ(refused.status().code(), Code::kPreconditionFailed) << refused.status().ToString();
  EXPECT_EQ(side().Delete(ref.href, stale).code(), Code::kPreconditionFailed);
  ASSERT_TRUE(Says(Get(ref.href)->ical, "First"));

  auto updated = side().Update(ref.href, now->etag, ContractEvent("contract-e@example.test", "Second"));
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  std::optional<Item> after = Get(ref.href);
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(Says(after->ical, "Second"));
  EXPECT_NE(after->etag, now->etag);
  if (!updated->etag.empty()) EXPECT_EQ(updated->etag, after->etag);
  // The etag before the update is stale now.
  EXPECT_EQ(side().Delete(ref.href, now->etag).code(), Code::kPreconditionFailed);
  ASSERT_TRUE(side().Delete(ref.href, after->etag).ok());
  EXPECT_FALSE(Get(ref.href).has_value());
  EXPECT_TRUE(side().Delete(ref.href, after->etag).ok());  // gone already: done
}

TEST_P(CalendarSideContract, AnUpdateOfAnItemThatIsGoneWritesNothing) {
  ItemRef ref = Create("contract-g@example.test", "Gone");
  ASSERT_TRUE(fixture_->DeleteOutside(ref.href).ok());
  auto r = side().Update(ref.href, ref.etag, ContractEvent("contract-g@example.test", "Back"));
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(Code::kNotFound) || r.status().Is(Code::kPreconditionFailed))
      << r.status().ToString();
  EXPECT_TRUE(List("").changed.empty());
}

TEST_P(CalendarSideContract, AnIncrementalListingHoldsChangesAndDeletionsSinceItsCursor) {
  const std::string c0 = List("").next_cursor;
  ItemRef a = Create("contract-i1@example.test", "One");
  ItemRef b = Create("contract-i2@example.test", "Two");
  ChangeSet d1 = List(c0);
  EXPECT_FALSE(d1.complete);
  EXPECT_EQ(Hrefs(d1.changed), (std::set<std::string>{a.href, b.href}));
  EXPECT_TRUE(d1.deleted.empty());

  ChangeSet quiet = List(d1.next_cursor);
  EXPECT_TRUE(quiet.changed.empty());
  EXPECT_TRUE(quiet.deleted.empty());

  std::optional<Item> cur = Get(a.href);
  ASSERT_TRUE(cur.has_value());
  ASSERT_TRUE(side().Update(a.href, cur->etag, ContractEvent("contract-i1@example.test", "One+")).ok());
  ASSERT_TRUE(side().Delete(b.href, "").ok());
  ChangeSet d2 = List(quiet.next_cursor);
  ASSERT_EQ(Hrefs(d2.changed), std::set<std::string>{a.href});
  EXPECT_TRUE(Says(d2.changed[0].ical, "One+"));
  EXPECT_EQ(d2.deleted, std::vector<std::string>{b.href});
}

TEST_P(CalendarSideContract, ChangesMadeOutsideAreListedByTheNextInstance) {
  ItemRef a = Create("contract-o1@example.test", "Mine");
  ItemRef b = Create("contract-o2@example.test", "Also mine");
  const std::string cursor = List("").next_cursor;
  ASSERT_TRUE(fixture_->EditOutside(a.href, ContractEvent("contract-o1@example.test", "Edited")).ok());
  ASSERT_TRUE(fixture_->DeleteOutside(b.href).ok());
  std::unique_ptr<CalendarSide> next = fixture_->Reopen();
  ChangeSet d = List(*next, cursor);
  ASSERT_EQ(Hrefs(d.changed), std::set<std::string>{a.href});
  EXPECT_TRUE(Says(d.changed[0].ical, "Edited"));
  EXPECT_EQ(d.deleted, std::vector<std::string>{b.href});
}

TEST_P(CalendarSideContract, AnItemCreatedAfterTheCursorAndDeletedOutsideIsNeverListedPresent) {
  // A run lists, then writes an event out; the user deletes it before the next
  // run. The next listing reports it deleted, or leaves it out (RFC 6578 allows a
  // server that: Xandikos does); the engine reads the items it created by href
  // unless the listing names them, and so hears of the deletion either way.
  const std::string cursor = List("").next_cursor;
  ItemRef a = Create("contract-late@example.test", "Late");
  ASSERT_TRUE(fixture_->DeleteOutside(a.href).ok());
  std::unique_ptr<CalendarSide> next = fixture_->Reopen();
  ChangeSet d = List(*next, cursor);
  EXPECT_TRUE(d.changed.empty());
  EXPECT_TRUE(d.deleted.empty() || d.deleted == std::vector<std::string>{a.href});
  auto read = next->GetMany({a.href});
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(read->empty());
}

TEST_P(CalendarSideContract, AnUnknownCursorIsResyncRequiredOrACompleteListing) {
  ItemRef a = Create("contract-u@example.test", "U");
  for (const std::string cursor : {std::string("999999999"), std::string("not-a-cursor")}) {
    auto r = side().ChangesSince(cursor, Window());
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kResyncRequired) << r.status().ToString();
      continue;
    }
    EXPECT_TRUE(r->complete) << cursor;
    EXPECT_EQ(Hrefs(r->changed), std::set<std::string>{a.href});
  }
}

TEST_P(CalendarSideContract, TheIdentityIsStable) {
  auto first = side().Identity();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->empty());
  Create("contract-id@example.test", "Id");
  auto second = side().Identity();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  auto other = fixture_->Reopen()->Identity();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*first, *other);
}

TEST_P(CalendarSideContract, TheStreamingListingHandsTheSameItems) {
  Create("contract-s1@example.test", "S1");
  Create("contract-s2@example.test", "S2");
  ChangeSet plain = List("");
  std::vector<Item> streamed;
  auto r = side().StreamChangesSince("", Window(), [&](Item&& item) {
    streamed.push_back(std::move(item));
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->changed.empty());
  EXPECT_EQ(r->complete, plain.complete);
  EXPECT_EQ(Hrefs(streamed), Hrefs(plain.changed));
}

}  // namespace tandem::sync
