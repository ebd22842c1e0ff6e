#include "core/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace tandem {
namespace {

TEST(IdsTest, UuidV7IsWellFormedUniqueAndTimeOrdered) {
  FakeClock clock(FromUnixSeconds(1795000000));
  SecureRandom random;
  IdGenerator ids(clock, random);
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 1000; ++i) {
    clock.Advance(std::chrono::milliseconds(1));
    std::string id = ids.NewId();
    EXPECT_TRUE(IsUuid(id)) << id;
    EXPECT_EQ(id[14], '7');
    EXPECT_TRUE(seen.insert(id).second);
    EXPECT_LT(prev, id);
    prev = id;
  }
  EXPECT_FALSE(IsUuid("not-a-uuid"));
}

TEST(RandomTest, SeededIsDeterministic) {
  SeededRandom a(7), b(7);
  EXPECT_EQ(a.Hex(16), b.Hex(16));
  EXPECT_EQ(a.Hex(4).size(), 8u);
  for (int i = 0; i < 100; ++i) EXPECT_LT(a.Uniform(10), 10u);
}

}  // namespace
}  // namespace tandem
