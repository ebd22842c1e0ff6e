#include "providers/vdir/vdir_calendar.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace tandem::providers::vdir {
namespace {
namespace fs = std::filesystem;

std::string Ics(const std::string& uid, const std::string& summary) {
  return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
         "\r\nDTSTART:20261201T100000Z\r\nSUMMARY:" + summary +
         "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
}

class VdirTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tandem-vdir-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  void TearDown() override { fs::remove_all(dir_); }
  void WriteFile(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  fs::path dir_;
  std::string cursor_;
};

TEST_F(VdirTest, CreateListsAndReportsOnlyChangesAfterwards) {
  VdirCalendar cal({.path = dir_.string()});
  auto ref = cal.Create("abc@example.com", Ics("abc@example.com", "One"));
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  EXPECT_EQ(ref->href, "abc@example.com.ics");
  EXPECT_TRUE(fs::exists(dir_ / "abc@example.com.ics"));
  EXPECT_TRUE(cal.Create("abc@example.com", Ics("abc@example.com", "Dup"))
                  .status()
                  .Is(Code::kAlreadyExists));

  auto first = cal.ChangesSince("", {});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->complete);
  ASSERT_EQ(first->changed.size(), 1u);
  EXPECT_EQ(first->changed[0].etag, ref->etag);

  auto quiet = cal.ChangesSince(first->next_cursor, {});
  ASSERT_TRUE(quiet.ok());
  EXPECT_FALSE(quiet->complete);
  EXPECT_TRUE(quiet->changed.empty());
  EXPECT_TRUE(quiet->deleted.empty());

  WriteFile("other-name.ics", Ics("zzz", "Written by another program"));
  WriteFile(".hidden.ics", Ics("h", "ignored"));
  WriteFile("notes.txt", "ignored");
  ASSERT_TRUE(cal.Delete(ref->href, ref->etag).ok());
  auto delta = cal.ChangesSince(quiet->next_cursor, {});
  ASSERT_TRUE(delta.ok());
  ASSERT_EQ(delta->changed.size(), 1u);
  EXPECT_EQ(delta->changed[0].href, "other-name.ics");
  ASSERT_EQ(delta->deleted.size(), 1u);
  EXPECT_EQ(delta->deleted[0], "abc@example.com.ics");

  auto found = cal.FindByUid("zzz");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->href, "other-name.ics");
  // An unknown cursor falls back to a complete listing.
  auto unknown = cal.ChangesSince("999", {});
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->complete);
}

TEST_F(VdirTest, AFileCreatedAfterTheListingAndDeletedBeforeTheNextIsReportedDeleted) {
  // A sync run lists (empty), then writes out the CRM's events; the user deletes
  // one before the next run. That run must say so, or the CRM keeps an event the
  // calendar no longer has, for good.
  {
    VdirCalendar run1({.path = dir_.string()});
    auto listing = run1.ChangesSince("", {});
    ASSERT_TRUE(listing.ok());
    ASSERT_TRUE(run1.Create("a", Ics("a", "A")).ok());
    ASSERT_TRUE(run1.Create("b", Ics("b", "B")).ok());
    cursor_ = listing->next_cursor;
  }
  fs::remove(dir_ / "a.ics");
  VdirCalendar run2({.path = dir_.string()});  // a new run, a new instance
  auto delta = run2.ChangesSince(cursor_, {});
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  EXPECT_FALSE(delta->complete);
  ASSERT_EQ(delta->deleted.size(), 1u);
  EXPECT_EQ(delta->deleted[0], "a.ics");
  ASSERT_EQ(delta->changed.size(), 1u);  // its own write, as a CalDAV sync report gives it
  EXPECT_EQ(delta->changed[0].href, "b.ics");
  // The next run is quiet: the note belonged to the listing before.
  auto quiet = run2.ChangesSince(delta->next_cursor, {});
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->changed.empty());
  EXPECT_TRUE(quiet->deleted.empty());
}

TEST_F(VdirTest, UpdateAndDeleteCheckTheEtag) {
  VdirCalendar cal({.path = dir_.string()});
  auto ref = *cal.Create("u1", Ics("u1", "One"));
  auto upd = cal.Update(ref.href, ref.etag, Ics("u1", "Two"));
  ASSERT_TRUE(upd.ok()) << upd.status().ToString();
  EXPECT_TRUE(
      cal.Update(ref.href, "1-1", Ics("u1", "Three")).status().Is(Code::kPreconditionFailed));
  EXPECT_TRUE(cal.Delete(ref.href, "1-1").Is(Code::kPreconditionFailed));
  auto items = cal.GetMany({ref.href, "missing.ics"});
  ASSERT_EQ(items->size(), 1u);
  EXPECT_NE(items->front().ical.find("SUMMARY:Two"), std::string::npos);
  ASSERT_TRUE(cal.Delete(ref.href, upd->etag).ok());
  EXPECT_TRUE(cal.Delete(ref.href, upd->etag).ok());  // already gone
  EXPECT_TRUE(cal.Update("missing.ics", "", Ics("x", "x")).status().Is(Code::kNotFound));
  // No temporary file is left behind.
  for (auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
  }
}

TEST_F(VdirTest, UnsafeUidsGetAStableFileName) {
  EXPECT_EQ(VdirCalendar::FileNameFor("a/b"), VdirCalendar::FileNameFor("a/b"));
  EXPECT_NE(VdirCalendar::FileNameFor("a/b"), VdirCalendar::FileNameFor("a/c"));
  EXPECT_EQ(VdirCalendar::FileNameFor("a/b").find('/'), std::string::npos);
  VdirCalendar cal({.path = dir_.string()});
  auto ref = cal.Create("../escape", Ics("../escape", "x"));
  ASSERT_TRUE(ref.ok());
  EXPECT_TRUE(fs::exists(dir_ / ref->href));
  EXPECT_TRUE((*cal.FindByUid("../escape")).has_value());
}

TEST_F(VdirTest, IdentityChangesWhenTheFolderIsReplaced) {
  VdirCalendar cal({.path = dir_.string()});
  auto before = cal.Identity();
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(*before, *cal.Identity());
  fs::remove_all(dir_);
  // Occupy the old inode number with something else first, then re-create.
  fs::path filler = dir_.string() + "-filler";
  fs::create_directory(filler);
  fs::create_directory(dir_);
  auto after = cal.Identity();
  fs::remove_all(filler);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*before, *after);
}

}  // namespace
}  // namespace tandem::providers::vdir
