// Human-readable output of the CLI: tables for lists, "field: value" blocks for
// single records, and the day-by-day agenda. Pure functions of their input;
// thread-safe. Times are shown in the user's zone.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "apps/cli/local_zone.h"

namespace tandem::cli {

using Json = nlohmann::json;

// Columns separated by two spaces, padded to the widest cell (by UTF-8 code
// points); the last column is not padded. Ends with a newline.
std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

// The list columns of a collection ("accounts", "contacts", "opportunities",
// "activities", "users") and one record's row. Unknown collections: id only.
std::vector<std::string> ListHeaders(std::string_view collection);
std::vector<std::string> ListRow(std::string_view collection, const Json& record,
                                 const LocalZone& zone);

// One "field: value" line per field of `record`, in the server's order; RFC 3339
// fields are followed by the local time ("2026-11-24T10:00:00Z (11:00 +01:00)").
std::string RenderRecord(const Json& record, const LocalZone& zone);

// Activities grouped by local day from `first` to `last` (inclusive), days
// without activities left out; all-day ones first and marked "all day", private
// ones marked [private]. Says so when there is nothing.
std::string RenderAgenda(const Json& activities, std::chrono::year_month_day first,
                         std::chrono::year_month_day last, const LocalZone& zone);

// "1,234.50 EUR" from amount_cents and currency.
std::string FormatMoney(int64_t cents, std::string_view currency);

}  // namespace tandem::cli
