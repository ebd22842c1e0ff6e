#include "apps/cli/api_client.h"

#include <gtest/gtest.h>

#include "apps/cli/records.h"

namespace tandem::cli {
namespace {

http::Response Answer(int status, std::string body, http::Headers headers = {}) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

class ApiClientTest : public ::testing::Test {
 protected:
  ApiClient Client(std::function<http::Response(const http::Request&)> answer) {
    return ApiClient("http://127.0.0.1:8480/", "tok", [this, answer](const http::Request& r) {
      sent_.push_back(r);
      return Result<http::Response>(answer(r));
    });
  }
  std::vector<http::Request> sent_;
};

TEST_F(ApiClientTest, SendsBearerTokenAndReadsETag) {
  auto api = Client([](const http::Request&) {
    return Answer(200, R"({"id":"a b","name":"Acme","version":3})", {{"ETag", "\"3\""}});
  });
  auto got = api.Get("accounts", "a b");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->etag, "\"3\"");
  EXPECT_EQ(got->record["name"], "Acme");
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].method, "GET");
  EXPECT_EQ(sent_[0].url, "http://127.0.0.1:8480/api/v1/accounts/a%20b");
  EXPECT_EQ(sent_[0].headers.Get("Authorization"), "Bearer tok");
}

TEST_F(ApiClientTest, UpdateIsAConditionalPatch) {
  auto api = Client([](const http::Request&) { return Answer(200, R"({"version":4})"); });
  auto r = api.Update("activities", "x", Json{{"subject", "New"}}, "\"3\"");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(sent_[0].method, "PATCH");
  EXPECT_EQ(sent_[0].headers.Get("If-Match"), "\"3\"");
  EXPECT_EQ(sent_[0].headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(Json::parse(sent_[0].body), (Json{{"subject", "New"}}));
}

TEST_F(ApiClientTest, ServerErrorMessageIsKept) {
  auto api = Client([](const http::Request&) {
    return Answer(400, R"({"error":"InvalidArgument","message":"end: must not be before start"})");
  });
  Status s = api.Create("activities", Json::object()).status();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "end: must not be before start");
}

TEST_F(ApiClientTest, StatusCodesMapToDomainCodes) {
  struct Case {
    int http;
    Code code;
  };
  for (Case c : {Case{401, Code::kUnauthenticated}, Case{403, Code::kPermissionDenied},
                 Case{404, Code::kNotFound}, Case{409, Code::kConflict},
                 Case{412, Code::kPreconditionFailed}, Case{500, Code::kInternal},
                 Case{503, Code::kUnavailable}}) {
    auto api = Client(
        [&](const http::Request&) { return Answer(c.http, R"({"error":"X","message":"why"})"); });
    Status s = api.Delete("accounts", "1", "");
    EXPECT_EQ(s.code(), c.code) << c.http;
  }
  auto api = Client([](const http::Request&) { return Answer(412, R"({"error":"x"})"); });
  EXPECT_EQ(api.Delete("accounts", "1", "\"1\"").message(), kChangedMeanwhile);
}

TEST_F(ApiClientTest, NoAnswerIsUnavailableNamingTheServer) {
  ApiClient api("http://127.0.0.1:1", "", [](const http::Request&) -> Result<http::Response> {
    return Status::Unavailable("Couldn't connect to server");
  });
  Status s = api.ServerVersion().status();
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.message(), "cannot reach http://127.0.0.1:1: Couldn't connect to server");
}

TEST_F(ApiClientTest, ListRecordsFollowsPagesOnlyWithAll) {
  auto api = Client([](const http::Request& r) {
    if (r.url.find("page_after=b") != std::string::npos) {
      return Answer(200, R"({"items":[{"id":"c"}],"next_page_after":""})");
    }
    return Answer(200, R"({"items":[{"id":"a"},{"id":"b"}],"next_page_after":"b"})");
  });
  bool more = false;
  auto all = ListRecords(api, "contacts", {{"owner", "me"}}, 2, /*all=*/true, &more);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  EXPECT_FALSE(more);
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[0].url, "http://127.0.0.1:8480/api/v1/contacts?owner=me&limit=2");
  EXPECT_EQ(sent_[1].url, "http://127.0.0.1:8480/api/v1/contacts?owner=me&limit=2&page_after=b");
  sent_.clear();
  auto one = ListRecords(api, "contacts", {}, 2, /*all=*/false, &more);
  EXPECT_EQ(one->size(), 2u);
  EXPECT_TRUE(more);
  EXPECT_EQ(sent_.size(), 1u);
}

TEST(EncodeQueryTest, PercentEncodes) {
  EXPECT_EQ(EncodeQuery({{"from", "2026-11-24T10:00:00+01:00"}, {"q", "a b&c"}}),
            "from=2026-11-24T10%3A00%3A00%2B01%3A00&q=a%20b%26c");
}

TEST(ParseMoneyTest, AcceptsCommonFormsOnly) {
  EXPECT_EQ(*ParseMoney("1234.5"), 123450);
  EXPECT_EQ(*ParseMoney("1,234.50"), 123450);
  EXPECT_EQ(*ParseMoney("12"), 1200);
  EXPECT_EQ(*ParseMoney("-0.05"), -5);
  EXPECT_FALSE(ParseMoney("1.234").ok());
  EXPECT_FALSE(ParseMoney("12 EUR").ok());
  EXPECT_FALSE(ParseMoney("").ok());
}

}  // namespace
}  // namespace tandem::cli
