#include "sync/digest_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "core/random.h"
#include "store/sqlite/sqlite_store.h"
#include "sync/crm_side.h"
#include "sync/engine.h"
#include "sync/ical_codec.h"
#include "sync/memory_calendar.h"
#include "sync/memory_sync_state.h"

namespace tandem::sync {
namespace {

Instant At(const char* t) { return ParseRfc3339(t).value(); }

// Digests "<n>" as an observation whose uid is n; "bad" fails; items whose
// number is a multiple of 7 take longer (later items overtake them).
class SlowCodec final : public EventCodec {
 public:
  Result<Observation> Digest(const Item& item, const TimeRange&) const override {
    ++calls;
    if (item.ical == "bad") return Status::InvalidArgument("bad item");
    if (std::stoi(item.ical) % 7 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    Observation o;
    o.uid = item.ical;
    return o;
  }
  Result<std::string> Prepare(std::string_view ical, const PrepareOptions&) const override {
    return std::string(ical);
  }
  mutable std::atomic<int> calls{0};
};

struct Taken {
  std::string href;
  std::string uid;  // "" when the digest failed
};

std::vector<Taken> RunPool(int workers, size_t in_flight, const std::vector<std::string>& texts) {
  SlowCodec codec;
  std::vector<Taken> taken;
  const std::thread::id adder = std::this_thread::get_id();
  DigestPool pool(codec, {}, workers, in_flight, [&](Item&& item, Result<Observation>&& o) {
    EXPECT_EQ(std::this_thread::get_id(), adder);
    taken.push_back({item.href, o.ok() ? o->uid : ""});
    EXPECT_EQ(item.ical, o.ok() ? o->uid : "bad");
    return Status::Ok();
  });
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_TRUE(pool.Add(Item{"/" + std::to_string(i), "", texts[i]}).ok());
  }
  EXPECT_TRUE(pool.Finish().ok());
  return taken;
}

TEST(DigestPoolTest, HandsResultsBackInArrivalOrderWhateverTheWorkers) {
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) texts.push_back(i % 50 == 3 ? "bad" : std::to_string(i));
  const std::vector<Taken> serial = RunPool(0, 1, texts);
  ASSERT_EQ(serial.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(serial[i].href, "/" + std::to_string(i));
  for (int workers : {1, 2, 4}) {
    for (size_t in_flight : {size_t{1}, size_t{3}, size_t{64}}) {
      const std::vector<Taken> parallel = RunPool(workers, in_flight, texts);
      ASSERT_EQ(parallel.size(), serial.size());
      for (size_t i = 0; i < serial.size(); ++i) {
        EXPECT_EQ(parallel[i].href, serial[i].href) << workers << " workers, " << in_flight;
        EXPECT_EQ(parallel[i].uid, serial[i].uid);
      }
    }
  }
}

TEST(DigestPoolTest, AnErrorOfTheReceiverStopsThePool) {
  SlowCodec codec;
  int taken = 0;
  {
    DigestPool pool(codec, {}, 2, 4, [&](Item&&, Result<Observation>&&) {
      return ++taken == 5 ? Status::Unavailable("spill file full") : Status::Ok();
    });
    Status s;
    int added = 0;
    while (s.ok() && added < 1000) s = pool.Add(Item{"/x", "", std::to_string(added++)});
    if (s.ok()) s = pool.Finish();
    EXPECT_TRUE(s.Is(Code::kUnavailable)) << s.ToString();
    EXPECT_LT(added, 1000);
    EXPECT_TRUE(pool.Add(Item{"/y", "", "1"}).Is(Code::kUnavailable));
    EXPECT_TRUE(pool.Finish().Is(Code::kUnavailable));
  }  // the workers stop with items still queued
  EXPECT_EQ(taken, 5);
}

TEST(DigestPoolTest, DroppedUnfinishedStopsItsWorkers) {
  SlowCodec codec;
  int taken = 0;
  {
    DigestPool pool(codec, {}, 2, 64, [&](Item&&, Result<Observation>&&) {
      ++taken;
      return Status::Ok();
    });
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.Add(Item{"/x", "", std::to_string(i * 7)}).ok());
  }
  EXPECT_LE(taken, 50);
}

// The engine digests on worker threads: a first sync must plan and write the
// same whatever their number (0: every item on the listing's thread).
class ParallelDigestEngineTest : public testing::Test {
 protected:
  struct World {
    FakeClock clock{At("2026-11-24T10:00:00Z")};
    SeededRandom random{5};
    IdGenerator ids{clock, random};
    std::unique_ptr<store::sqlite::SqliteStore> crm;
    MemorySyncStateStore state{clock};
    MemoryCalendar external{"calendar-A", "ev-"};
    std::string pair_id;
  };

  static std::string Event(int i) {
    const int day = (i * 37) % 900 - 200;  // some far outside the window
    Instant start = At("2026-11-24T09:00:00Z") + std::chrono::days(day) + std::chrono::minutes(i);
    std::string dt = FormatRfc3339(start);
    std::string ics;
    for (char c : dt) {
      if (c != '-' && c != ':') ics += c;
    }
    std::string uid = "u-" + std::to_string(i % 97 == 5 ? 5 : i);  // a few share a UID
    std::string body = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//EN\r\nBEGIN:VEVENT\r\nUID:" +
                       uid + "\r\nDTSTART:" + ics + "\r\nDURATION:PT1H\r\nSUMMARY:Event " +
                       std::to_string(i) + "\r\n";
    if (i % 5 == 0) body += "RRULE:FREQ=WEEKLY;COUNT=" + std::to_string(2 + i % 9) + "\r\n";
    if (i % 11 == 0) body += "CLASS:PRIVATE\r\n";
    if (i % 13 == 0) body += "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n";
    body += "END:VEVENT\r\nEND:VCALENDAR\r\n";
    if (i % 41 == 0) body = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:broken-" + std::to_string(i) +
                            "\r\nSUMMARY:No start\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    return body;
  }

  static void Fill(World& w) {
    w.crm = std::move(
        *store::sqlite::SqliteStore::Open({.path = ":memory:", .clock = &w.clock, .ids = &w.ids}));
    for (int i = 0; i < 400; ++i) w.external.UserPut("u-" + std::to_string(i), Event(i));
    store::SyncPair p;
    p.user_id = "alice";
    p.provider = "memory";
    w.pair_id = w.state.CreatePair(p)->id;
  }

  static RunReport Init(World& w, int workers, bool dry_run) {
    IcalCodec codec;
    CrmSide crm(CrmSideOptions{
        .store = w.crm.get(), .state = &w.state, .ids = &w.ids, .user_id = "alice"});
    SyncEngine engine(EngineDeps{&w.state, &codec, &w.clock, workers});
    auto r = engine.Run(w.pair_id, crm, w.external, RunOptions{.dry_run = dry_run, .initialize = true});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RunReport{};
  }
};

TEST_F(ParallelDigestEngineTest, SamePlanAndResultsAsTheSerialDigest) {
  World serial, parallel;
  Fill(serial);
  Fill(parallel);
  RunReport dry_serial = Init(serial, 0, true);
  RunReport dry_parallel = Init(parallel, 2, true);
  EXPECT_EQ(dry_parallel.plan, dry_serial.plan);
  EXPECT_EQ(dry_parallel.planned, dry_serial.planned);
  EXPECT_GT(dry_serial.planned["create"], 100);

  RunReport a = Init(serial, 0, false);
  RunReport b = Init(parallel, 2, false);
  EXPECT_EQ(b.plan, a.plan);
  EXPECT_EQ(b.applied, a.applied);
  EXPECT_EQ(b.warnings, a.warnings);
  ASSERT_EQ(b.errors.size(), a.errors.size());
  EXPECT_FALSE(a.errors.empty());
  for (size_t i = 0; i < a.errors.size(); ++i) EXPECT_EQ(b.errors[i].error, a.errors[i].error);
  auto rows_a = *serial.state.ListStatus(serial.pair_id);
  auto rows_b = *parallel.state.ListStatus(parallel.pair_id);
  ASSERT_EQ(rows_a.size(), rows_b.size());
  auto by_uid = [](const store::ItemStatus& x, const store::ItemStatus& y) { return x.uid < y.uid; };
  std::sort(rows_a.begin(), rows_a.end(), by_uid);
  std::sort(rows_b.begin(), rows_b.end(), by_uid);
  for (size_t i = 0; i < rows_a.size(); ++i) {
    EXPECT_EQ(rows_b[i].uid, rows_a[i].uid);
    EXPECT_EQ(rows_b[i].crm_id, rows_a[i].crm_id);  // same seeded ids, same order of creation
    EXPECT_EQ(rows_b[i].crm_etag, rows_a[i].crm_etag);
    EXPECT_EQ(rows_b[i].crm_hash, rows_a[i].crm_hash);
    EXPECT_EQ(rows_b[i].external_href, rows_a[i].external_href);
    EXPECT_EQ(rows_b[i].external_etag, rows_a[i].external_etag);
    EXPECT_EQ(rows_b[i].external_hash, rows_a[i].external_hash);
  }
}

}  // namespace
}  // namespace tandem::sync
