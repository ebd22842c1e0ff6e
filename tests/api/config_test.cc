// tandemd's configuration: TOML keys, listen addresses, validation.
#include "apps/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace tandem::apps {
namespace {

namespace fs = std::filesystem;

fs::path WriteFile(const std::string& name, const std::string& text) {
  fs::path p = fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(p) << text;
  return p;
}

TEST(ConfigTest, ReadsEveryKeyAndKeepsDefaultsForMissingOnes) {
  fs::path p = WriteFile("tandemd-full",
                         "listen = \"0.0.0.0:9000\"\n"
                         "data_dir = \"/var/lib/tandem\"\n"
                         "threads = 4\n"
                         "[auth]\nsession_hours = 8\n"
                         "[feed]\ntombstone_days = 7\n"
                         "[admin]\nlogin = \"boss\"\npassword = \"pw\"\n");
  DaemonConfig c;
  ASSERT_TRUE(LoadConfigFile(p.string(), &c).ok());
  EXPECT_EQ(c.listen, "0.0.0.0:9000");
  EXPECT_EQ(c.data_dir, "/var/lib/tandem");
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.session_hours, 8);
  EXPECT_EQ(c.tombstone_days, 7);
  EXPECT_EQ(c.admin_login, "boss");
  EXPECT_EQ(c.admin_password, "pw");
  EXPECT_EQ(c.log_level, "info");  // default kept
  EXPECT_FALSE(c.demo);
  EXPECT_TRUE(Validate(c).ok());
  fs::remove(p);
}

TEST(ConfigTest, WrongTypesAndSyntaxAreInvalidArgument) {
  fs::path typed = WriteFile("tandemd-typed", "threads = \"many\"\n");
  DaemonConfig c;
  Status s = LoadConfigFile(typed.string(), &c);
  EXPECT_TRUE(s.Is(Code::kInvalidArgument)) << s.ToString();
  fs::path broken = WriteFile("tandemd-broken", "[auth\nsession_hours = 1\n");
  EXPECT_TRUE(LoadConfigFile(broken.string(), &c).Is(Code::kInvalidArgument));
  EXPECT_TRUE(LoadConfigFile("/nonexistent/tandemd.toml", &c).Is(Code::kInvalidArgument));
  fs::remove(typed);
  fs::remove(broken);
}

TEST(ConfigTest, ParsesListenAddresses) {
  auto v4 = ParseListen("127.0.0.1:8480");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->address, "127.0.0.1");
  EXPECT_EQ(v4->port, 8480);
  auto v6 = ParseListen("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->address, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_FALSE(ParseListen("8480").ok());
  EXPECT_FALSE(ParseListen("host:").ok());
  EXPECT_FALSE(ParseListen("host:70000").ok());
  EXPECT_FALSE(ParseListen("host:80x").ok());
}

TEST(ConfigTest, ValidateRejectsOutOfRangeValues) {
  DaemonConfig c;
  EXPECT_TRUE(Validate(c).ok());
  c.threads = -1;
  EXPECT_FALSE(Validate(c).ok());
  c = DaemonConfig{};
  c.session_hours = 0;
  EXPECT_EQ(Validate(c).message().rfind("auth.session_hours", 0), 0u);
  c = DaemonConfig{};
  c.tombstone_days = 0;
  EXPECT_FALSE(Validate(c).ok());
  c = DaemonConfig{};
  c.admin_login = "";
  EXPECT_FALSE(Validate(c).ok());
}

}  // namespace
}  // namespace tandem::apps
