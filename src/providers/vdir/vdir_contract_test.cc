// The CalendarSide contract (sync/calendar_side_contract.h) on a vdir folder;
// outside changes are files written and removed as another program would.
#include <filesystem>
#include <fstream>

#include "providers/vdir/vdir_calendar.h"
#include "sync/calendar_side_contract.h"

namespace tandem::providers::vdir {
namespace {

namespace fs = std::filesystem;

class VdirFixture final : public sync::CalendarSideFixture {
 public:
  VdirFixture() {
    std::string pattern = (fs::temp_directory_path() / "tandem-vdir-contract-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    side_ = std::make_unique<VdirCalendar>(VdirOptions{.path = dir_.string()});
  }
  ~VdirFixture() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  sync::CalendarSide& side() override { return *side_; }
  std::unique_ptr<sync::CalendarSide> Reopen() override {
    return std::make_unique<VdirCalendar>(VdirOptions{.path = dir_.string()});
  }
  Status DeleteOutside(const std::string& href) override {
    std::error_code ec;
    if (!fs::remove(dir_ / href, ec)) return Status::NotFound(href);
    return Status::Ok();
  }
  Status EditOutside(const std::string& href, const std::string& ical) override {
    std::ofstream(dir_ / href, std::ios::trunc) << ical;
    return Status::Ok();
  }

 private:
  fs::path dir_;
  std::unique_ptr<VdirCalendar> side_;
};

using sync::CalendarSideContract;

INSTANTIATE_TEST_SUITE_P(Vdir, CalendarSideContract,
                         ::testing::Values(sync::CalendarSideImpl{
                             "Vdir", [] { return std::make_unique<VdirFixture>(); }}),
                         sync::CalendarSideImplName);

}  // namespace
}  // namespace tandem::providers::vdir
