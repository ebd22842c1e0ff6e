#include "core/status.h"

#include <gtest/gtest.h>

namespace tandem {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  TANDEM_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

Status CheckEven(int x) {
  TANDEM_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status().ok());
  Status s = Status::NotFound("activity x");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.Is(Code::kNotFound));
  EXPECT_EQ(s.ToString(), "NotFound: activity x");
  EXPECT_EQ(s.WithContext("sync").message(), "sync: activity x");
}

TEST(StatusTest, ResultPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_FALSE(CheckEven(3).ok());
  EXPECT_EQ(Half(3).value_or(-1), -1);
}

}  // namespace
}  // namespace tandem
