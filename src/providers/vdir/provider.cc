#include "providers/vdir/provider.h"

#include <filesystem>

#include "providers/vdir/vdir_calendar.h"

namespace tandem::providers::vdir {
namespace {

class VdirProvider final : public sync::Provider {
 public:
  std::string_view name() const override { return "vdir"; }
  std::string_view description() const override {
    return "a folder of .ics files on the server (vdirsyncer, khal)";
  }
  sync::CredentialKind credential_kind() const override { return sync::CredentialKind::kNone; }
  bool admin_only() const override { return true; }

  Result<std::vector<sync::CalendarChoice>> Discover(const std::string& location,
                                                     const sync::Credential&,
                                                     const sync::ProviderContext&) override {
    std::error_code ec;
    if (!std::filesystem::is_directory(location, ec))
      return Status::NotFound("calendar: no folder " + location + " on the server");
    return std::vector<sync::CalendarChoice>{
        {location, std::filesystem::path(location).filename().string(), true}};
  }

  Result<std::unique_ptr<sync::CalendarSide>> Open(const std::string& location,
                                                   const sync::Credential&,
                                                   const sync::ProviderContext&) override {
    return std::unique_ptr<sync::CalendarSide>(new VdirCalendar(VdirOptions{.path = location}));
  }
};

}  // namespace

std::unique_ptr<sync::Provider> MakeProvider() { return std::make_unique<VdirProvider>(); }

}  // namespace tandem::providers::vdir
