// The CalendarSide contract (src/sync/calendar_side_contract.h) on CalDAV against
// real Radicale and Xandikos servers on 127.0.0.1 (label "interop"). One server
// per kind for the whole suite; each test gets the calendar deleted and created
// anew. Outside changes are made with curl, an independent client.
#include <map>

#include "providers/caldav/caldav_calendar.h"
#include "sync/calendar_side_contract.h"
#include "tests/caldav/peer_server.h"

namespace tandem::providers::caldav {
namespace {

using tandem::testing::PeerKind;
using tandem::testing::PeerServer;

PeerServer& Server(PeerKind kind) {
  static std::map<PeerKind, std::unique_ptr<PeerServer>> servers;
  auto& s = servers[kind];
  if (!s) s = std::make_unique<PeerServer>(kind);
  return *s;
}

class CalDavFixture final : public sync::CalendarSideFixture {
 public:
  explicit CalDavFixture(PeerKind kind) : server_(Server(kind)) {
    if (!server_.running()) {
      ADD_FAILURE() << "could not start " << PeerName(kind) << ":\n" << server_.start_log();
      return;
    }
    EXPECT_TRUE(server_.RecreateCalendar());
    side_ = Open();
  }
  sync::CalendarSide& side() override { return *side_; }
  std::unique_ptr<sync::CalendarSide> Reopen() override { return Open(); }
  Status DeleteOutside(const std::string& href) override {
    int code = server_.Curl("DELETE", href);
    return code >= 200 && code < 300 ? Status::Ok() : Status::Internal("DELETE gave " + std::to_string(code));
  }
  Status EditOutside(const std::string& href, const std::string& ical) override {
    int code = server_.Curl("PUT", href, ical);
    return code >= 200 && code < 300 ? Status::Ok() : Status::Internal("PUT gave " + std::to_string(code));
  }

 private:
  std::unique_ptr<sync::CalendarSide> Open() {
    CalDavCalendarOptions options;
    options.calendar_url = server_.CalendarUrl();
    options.http.auth = http::Auth::Basic("test", "test");
    options.http.default_timeout = std::chrono::seconds(60);
    auto calendar = CalDavCalendar::Open(std::move(options));
    EXPECT_TRUE(calendar.ok()) << calendar.status().ToString();
    return calendar.ok() ? std::unique_ptr<sync::CalendarSide>(std::move(*calendar)) : nullptr;
  }
  PeerServer& server_;
  std::unique_ptr<sync::CalendarSide> side_;
};

using sync::CalendarSideContract;

INSTANTIATE_TEST_SUITE_P(
    CalDav, CalendarSideContract,
    ::testing::Values(
        sync::CalendarSideImpl{"Radicale",
                               [] { return std::make_unique<CalDavFixture>(PeerKind::kRadicale); }},
        sync::CalendarSideImpl{"Xandikos",
                               [] { return std::make_unique<CalDavFixture>(PeerKind::kXandikos); }}),
    sync::CalendarSideImplName);

}  // namespace
}  // namespace tandem::providers::caldav
