// The CalendarSide contract (calendar_side_contract.h) on the in-memory calendar
// and on the CRM side over SQLite.
#include "sync/calendar_side_contract.h"

#include "core/clock.h"
#include "core/ids.h"
#include "core/random.h"
#include "ical/ical.h"
#include "store/sqlite/sqlite_store.h"
#include "sync/crm_side.h"
#include "sync/memory_calendar.h"
#include "sync/memory_sync_state.h"

namespace tandem::sync {
namespace {

class MemoryFixture final : public CalendarSideFixture {
 public:
  CalendarSide& side() override { return cal_; }
  std::unique_ptr<CalendarSide> Reopen() override {
    return std::make_unique<CalendarSideProxy>(cal_);
  }
  Status DeleteOutside(const std::string& href) override { return cal_.UserDelete(href); }
  Status EditOutside(const std::string& href, const std::string& ical) override {
    return cal_.UserEdit(href, ical);
  }

 private:
  MemoryCalendar cal_{"memory-1", "item-"};
};

// The CRM: one user's activities; outside changes are the user's own edits
// through the store (as the REST API makes them).
class CrmFixture final : public CalendarSideFixture {
 public:
  CrmFixture() {
    auto s = store::OpenSqliteStore(
        {.path = ":memory:", .clock = &clock_, .ids = &ids_, .series_end = &ical::SeriesEnd});
    if (s.ok()) store_ = std::move(*s);
    side_ = Open();
  }
  CalendarSide& side() override { return *side_; }
  std::unique_ptr<CalendarSide> Reopen() override { return Open(); }
  Status DeleteOutside(const std::string& href) override {
    clock_.Advance(std::chrono::seconds(1));
    return store_->Delete(model::EntityType::kActivity, href, std::nullopt);
  }
  Status EditOutside(const std::string& href, const std::string& ical) override {
    clock_.Advance(std::chrono::seconds(1));
    TANDEM_ASSIGN_OR_RETURN(ical::Event ev, ical::ParseEvent(ical, ical::MapOptions{}));
    TANDEM_ASSIGN_OR_RETURN(model::Activity a, store_->GetActivity(href));
    a.subject = ev.activity.subject;
    return store_->Update(a, std::nullopt).status();
  }

 private:
  std::unique_ptr<CalendarSide> Open() {
    return std::make_unique<CrmSide>(CrmSideOptions{
        .store = store_.get(), .state = &state_, .ids = &ids_, .user_id = "alice"});
  }
  FakeClock clock_{FromUnixSeconds(1'790'000'000)};
  SeededRandom random_{5};
  IdGenerator ids_{clock_, random_};
  std::unique_ptr<store::Store> store_;
  MemorySyncStateStore state_{clock_};
  std::unique_ptr<CalendarSide> side_;
};

INSTANTIATE_TEST_SUITE_P(
    Sides, CalendarSideContract,
    ::testing::Values(CalendarSideImpl{"Memory", [] { return std::make_unique<MemoryFixture>(); }},
                      CalendarSideImpl{"Crm", [] { return std::make_unique<CrmFixture>(); }}),
    CalendarSideImplName);

}  // namespace
}  // namespace tandem::sync
