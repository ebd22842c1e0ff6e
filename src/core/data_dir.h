// The data folder holds the CRM's data, its sealed credentials and their key:
// only the server's own user may read it. The folder is 0700 and the files in it
// 0600 (SQLite gives its -wal and -shm files the database file's mode).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace tandem {

// Creates `dir` (0700) if it is missing; narrows the folder to 0700 and every
// regular file directly in it to 0600 where group or others had any access.
// `narrowed` (optional) gets one line per change ("tandem.db: 0644 -> 0600").
// Errors name the path.
Status SecureDataDir(const std::string& dir, std::vector<std::string>* narrowed = nullptr);

// The lines SecureDataDir would write, changing nothing (for `tandem doctor`).
Result<std::vector<std::string>> WideDataDirModes(const std::string& dir);

}  // namespace tandem
