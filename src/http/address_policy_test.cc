#include "http/address_policy.h"

#include <gtest/gtest.h>

#include "http/client.h"
#include "tests/faulty_dav/scripted_server.h"

namespace tandem::http {
namespace {

using tandem::testing::RecordedRequest;
using tandem::testing::ScriptedReply;
using tandem::testing::ScriptedServer;

TEST(AddressPolicyTest, ClassifiesAddresses) {
  EXPECT_EQ(ClassifyAddress("127.0.0.1"), AddressClass::kLoopback);
  EXPECT_EQ(ClassifyAddress("127.9.9.9"), AddressClass::kLoopback);
  EXPECT_EQ(ClassifyAddress("::1"), AddressClass::kLoopback);
  EXPECT_EQ(ClassifyAddress("[::1]"), AddressClass::kLoopback);
  EXPECT_EQ(ClassifyAddress("::ffff:127.0.0.1"), AddressClass::kLoopback);
  EXPECT_EQ(ClassifyAddress("169.254.169.254"), AddressClass::kLinkLocal);
  EXPECT_EQ(ClassifyAddress("fe80::1%eth0"), AddressClass::kLinkLocal);
  EXPECT_EQ(ClassifyAddress("10.1.2.3"), AddressClass::kPrivate);
  EXPECT_EQ(ClassifyAddress("172.31.0.1"), AddressClass::kPrivate);
  EXPECT_EQ(ClassifyAddress("172.32.0.1"), AddressClass::kPublic);
  EXPECT_EQ(ClassifyAddress("192.168.0.10"), AddressClass::kPrivate);
  EXPECT_EQ(ClassifyAddress("fd12::1"), AddressClass::kPrivate);
  EXPECT_EQ(ClassifyAddress("0.0.0.0"), AddressClass::kUnspecified);
  EXPECT_EQ(ClassifyAddress("::"), AddressClass::kUnspecified);
  EXPECT_EQ(ClassifyAddress("not an address"), AddressClass::kUnspecified);
  EXPECT_EQ(ClassifyAddress("93.184.216.34"), AddressClass::kPublic);
  EXPECT_EQ(ClassifyAddress("2001:db8::1"), AddressClass::kPublic);
}

TEST(AddressPolicyTest, DefaultRefusesLoopbackLinkLocalAndMetadata) {
  AddressPolicy p;
  EXPECT_TRUE(p.Check("93.184.216.34").ok());
  EXPECT_TRUE(p.Check("192.168.1.5").ok());
  for (const char* ip : {"127.0.0.1", "::1", "169.254.169.254", "0.0.0.0", "::ffff:127.0.0.1"}) {
    Status s = p.Check(ip);
    EXPECT_EQ(s.code(), Code::kPermissionDenied) << ip;
    EXPECT_NE(s.message().find("calendar_addresses"), std::string::npos) << s.message();
    EXPECT_TRUE(IsAddressRefusal(s.WithContext("PROPFIND http://x/"))) << ip;
  }
  // A calendar server's own 403 is not the policy's refusal.
  EXPECT_FALSE(IsAddressRefusal(Status::PermissionDenied("PROPFIND http://x/: HTTP 403")));
  auto parsed = ParseAddressPolicy({"public", "loopback"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->Check("127.0.0.1").ok());
  EXPECT_FALSE(parsed->Check("10.0.0.1").ok());
  EXPECT_FALSE(ParseAddressPolicy({"intranet"}).ok());
}

// The check runs on the connected address: a redirect to a refused address is
// refused too, and nothing of the answer reaches the caller.
TEST(AddressPolicyTest, TheClientRefusesAConnectionAndARedirectToARefusedAddress) {
  ScriptedServer target([](const RecordedRequest&) { return ScriptedReply{.body = "secret metadata"}; });
  AddressPolicy policy;  // loopback refused
  ClientOptions options;
  options.retry.max_attempts = 3;
  options.check_address = [policy](std::string_view ip) { return policy.Check(ip); };
  Client client(options);
  auto direct = client.Send({.url = target.Url("/latest/meta-data")});
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(direct.status().message().find("secret"), std::string::npos);
  EXPECT_EQ(target.request_count(), 0);  // refused before the request was sent
  EXPECT_EQ(client.stats().retries, 0);

  // Allowed to reach the first server (a test stands in for a public one),
  // refused at the redirect's address.
  ScriptedServer redirecting([&](const RecordedRequest&) {
    return ScriptedReply{.status = 302, .headers = {{"Location", target.Url("/x")}}};
  });
  ClientOptions hop = options;
  int connections = 0;  // the first connection stands for an allowed server, the next for a refused one
  hop.check_address = [&connections](std::string_view ip) {
    return ++connections == 1 ? Status::Ok() : Status::PermissionDenied(std::string(ip) + " refused");
  };
  Client hop_client(hop);
  auto redirected = hop_client.Send({.method = "PROPFIND", .url = redirecting.Url("/")});
  ASSERT_FALSE(redirected.ok());
  EXPECT_EQ(redirected.status().code(), Code::kPermissionDenied);
  EXPECT_NE(redirected.status().message().find("127.0.0.1 refused"), std::string::npos)
      << redirected.status().message();
  EXPECT_EQ(target.request_count(), 0);
}

TEST(AddressPolicyTest, AnOpenAndAClosedPortAreRefusedAlike) {
  // Refused before a socket is opened: nothing tells a listening port from a
  // closed one (no port scan through a calendar URL).
  ScriptedServer open([](const RecordedRequest&) { return ScriptedReply{.body = "hello"}; });
  uint16_t closed = 0;
  {
    ScriptedServer gone([](const RecordedRequest&) { return ScriptedReply{}; });
    closed = gone.port();
  }
  AddressPolicy policy;  // loopback refused
  ClientOptions options;
  options.retry.max_attempts = 3;
  options.check_address = [policy](std::string_view ip) { return policy.Check(ip); };
  Client client(options);
  auto to_open = client.Send({.url = open.Url("/")});
  auto to_closed = client.Send({.url = "http://127.0.0.1:" + std::to_string(closed) + "/"});
  ASSERT_FALSE(to_open.ok());
  ASSERT_FALSE(to_closed.ok());
  EXPECT_EQ(to_open.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(to_closed.status().code(), Code::kPermissionDenied) << to_closed.status().ToString();
  auto shape = [](std::string m, uint16_t port) {
    auto at = m.find(std::to_string(port));
    if (at != std::string::npos) m.replace(at, std::to_string(port).size(), "PORT");
    return m;
  };
  EXPECT_EQ(shape(to_open.status().message(), open.port()),
            shape(to_closed.status().message(), closed));
  EXPECT_EQ(open.request_count(), 0);
  EXPECT_EQ(client.stats().retries, 0);
}

}  // namespace
}  // namespace tandem::http
