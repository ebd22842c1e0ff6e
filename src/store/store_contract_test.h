// The Store contract suite: one set of tests every Store implementation must pass
// (SQLite file, SQLite :memory:, PostgreSQL, ...).
//
// To run it against an implementation, compile store_contract_test.cc into the
// implementation's test binary and instantiate the suite with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContractTest,
//                            ::testing::Values(SqliteFileFactory(), SqliteMemoryFactory()),
//                            [](const auto& info) { return info.param.name; });
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "store/store.h"

namespace tandem::store::contract {

// One database location for one test; removes what it created when destroyed.
class StoreLocation {
 public:
  virtual ~StoreLocation() = default;
  // Opens the store at this location. Called again after the previous store was
  // destroyed, it must reopen the same data when CanReopen().
  virtual Result<std::unique_ptr<Store>> Open(const Clock& clock, IdGenerator& ids) = 0;
  virtual bool CanReopen() const = 0;
};

struct StoreFactory {
  std::string name;  // a gtest name: letters, digits, underscores
  std::function<std::unique_ptr<StoreLocation>()> make_location;
};

inline void PrintTo(const StoreFactory& factory, std::ostream* os) { *os << factory.name; }

class StoreContractTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Destroys the store and opens it again at the same location.
  void Reopen();

  FakeClock clock_{FromUnixSeconds(1'790'000'000)};  // 2026-09-21
  SeededRandom random_{42};
  IdGenerator ids_{clock_, random_};
  std::unique_ptr<StoreLocation> location_;
  std::unique_ptr<Store> store_;
};

}  // namespace tandem::store::contract
