#include "core/data_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/random.h"

namespace tandem {
namespace {
namespace fs = std::filesystem;

unsigned Mode(const fs::path& p) { return static_cast<unsigned>(fs::status(p).permissions()) & 0777u; }

TEST(DataDirTest, CreatesAPrivateFolderAndNarrowsWideModes) {
  SecureRandom random;
  fs::path root = fs::temp_directory_path() / ("tandem-datadir-" + random.Hex(6));
  fs::path dir = root / "data";
  ASSERT_TRUE(SecureDataDir(dir.string()).ok());
  EXPECT_EQ(Mode(dir), 0700u);

  // A folder made by an earlier version: 0755, database files 0644.
  fs::permissions(dir, static_cast<fs::perms>(0755), fs::perm_options::replace);
  for (const char* name : {"tandem.db", "tandem.db-wal", "secret.key"}) std::ofstream(dir / name) << "x";
  fs::permissions(dir / "tandem.db", static_cast<fs::perms>(0644), fs::perm_options::replace);
  fs::permissions(dir / "tandem.db-wal", static_cast<fs::perms>(0664), fs::perm_options::replace);
  fs::permissions(dir / "secret.key", static_cast<fs::perms>(0600), fs::perm_options::replace);

  auto wide = WideDataDirModes(dir.string());
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(wide->size(), 3u);
  EXPECT_EQ(Mode(dir / "tandem.db"), 0644u);  // reporting changes nothing

  std::vector<std::string> narrowed;
  ASSERT_TRUE(SecureDataDir(dir.string(), &narrowed).ok());
  EXPECT_EQ(Mode(dir), 0700u);
  EXPECT_EQ(Mode(dir / "tandem.db"), 0600u);
  EXPECT_EQ(Mode(dir / "tandem.db-wal"), 0600u);
  EXPECT_EQ(Mode(dir / "secret.key"), 0600u);
  ASSERT_EQ(narrowed.size(), 3u);
  EXPECT_NE(std::find(narrowed.begin(), narrowed.end(), "tandem.db: 0644 -> 0600"), narrowed.end());
  auto after = WideDataDirModes(dir.string());
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  fs::remove_all(root);
}

}  // namespace
}  // namespace tandem
