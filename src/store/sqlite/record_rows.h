// How each CRM record maps to a row of its table (schema.cc). Internal to the
// SQLite store.
//
// For every record type T, RecordRow<T> names the table and the entity, lists the
// record's own columns (after the six metadata columns id, owner_id, shared,
// created, modified, version), binds them starting at a parameter index and reads
// them starting at a column index. SQL text is assembled only from these constant
// names; values always travel as bound parameters.
#pragma once

#include <limits>

#include <string>
#include <string_view>

#include "model/entities.h"
#include "store/sqlite/database.h"

namespace tandem::store::sqlite {

inline constexpr std::string_view kMetaColumns = "id, owner_id, shared, created, modified, version";
inline constexpr int kMetaColumnCount = 6;

void BindMeta(Statement& stmt, const model::RecordMeta& meta);  // parameters 1..6
void ReadMeta(const Statement& stmt, model::RecordMeta* meta);  // columns 0..5

template <typename T>
struct RecordRow;

template <>
struct RecordRow<model::Account> {
  static constexpr model::EntityType kEntity = model::EntityType::kAccount;
  static constexpr std::string_view kTable = "accounts";
  static constexpr std::string_view kColumns = "name, website, phone, address, notes";
  static constexpr int kColumnCount = 5;
  static void Bind(Statement& stmt, int first, const model::Account& r);
  static Status Read(const Statement& stmt, int first, model::Account* r);
  static bool IsPrivate(const model::Account&) { return false; }
};

template <>
struct RecordRow<model::Contact> {
  static constexpr model::EntityType kEntity = model::EntityType::kContact;
  static constexpr std::string_view kTable = "contacts";
  static constexpr std::string_view kColumns =
      "account_id, first_name, last_name, email, phone, job_title, notes, vcard_extra";
  static constexpr int kColumnCount = 8;
  static void Bind(Statement& stmt, int first, const model::Contact& r);
  static Status Read(const Statement& stmt, int first, model::Contact* r);
  static bool IsPrivate(const model::Contact&) { return false; }
};

template <>
struct RecordRow<model::Opportunity> {
  static constexpr model::EntityType kEntity = model::EntityType::kOpportunity;
  static constexpr std::string_view kTable = "opportunities";
  static constexpr std::string_view kColumns =
      "name, account_id, contact_id, stage, amount_cents, currency, close_date, notes";
  static constexpr int kColumnCount = 8;
  static void Bind(Statement& stmt, int first, const model::Opportunity& r);
  static Status Read(const Statement& stmt, int first, model::Opportunity* r);
  static bool IsPrivate(const model::Opportunity&) { return false; }
};

template <>
struct RecordRow<model::Activity> {
  static constexpr model::EntityType kEntity = model::EntityType::kActivity;
  static constexpr std::string_view kTable = "activities";
  static constexpr std::string_view kColumns =
      "kind, subject, location, description, start_at, end_at, all_day, time_zone, show_as, "
      "is_private, reminder_minutes, regarding_type, regarding_id, rrule, exdates, rdates, "
      "ical_extra, cancelled, sequence, series_end";
  static constexpr int kColumnCount = 20;
  // series_end: null for a single activity; for a series the end of its last
  // occurrence, or kEndlessSeries.
  static void Bind(Statement& stmt, int first, const model::Activity& r,
                   std::optional<int64_t> series_end_micros);
  static Status Read(const Statement& stmt, int first, model::Activity* r);
  static bool IsPrivate(const model::Activity& r) { return r.is_private; }
  static std::string InstantsText(const std::vector<Instant>& instants);
  static bool IsSeries(const model::Activity& r) { return !r.rrule.empty() || !r.rdates.empty(); }
  static constexpr int64_t kEndlessSeries = std::numeric_limits<int64_t>::max() / 4;
};

// "SELECT <meta>, <own> FROM <table>"
template <typename T>
std::string SelectRecordSql() {
  using Row = RecordRow<T>;
  return std::string("SELECT ") + std::string(kMetaColumns) + ", " + std::string(Row::kColumns) +
         " FROM " + std::string(Row::kTable);
}

// "INSERT INTO <table>(<meta>, <own>) VALUES (?1, ..., ?N)"
template <typename T>
std::string InsertRecordSql() {
  using Row = RecordRow<T>;
  std::string sql = std::string("INSERT INTO ") + std::string(Row::kTable) + "(" +
                    std::string(kMetaColumns) + ", " + std::string(Row::kColumns) + ") VALUES (";
  for (int i = 1; i <= kMetaColumnCount + Row::kColumnCount; ++i) {
    if (i > 1) sql += ", ";
    sql += "?" + std::to_string(i);
  }
  return sql + ")";
}

// "UPDATE <table> SET owner_id = ?2, ..., <own> = ?N WHERE id = ?1" (created is kept).
template <typename T>
std::string UpdateRecordSql() {
  using Row = RecordRow<T>;
  std::string sql = std::string("UPDATE ") + std::string(Row::kTable) +
                    " SET owner_id = ?2, shared = ?3, modified = ?5, version = ?6";
  std::string_view columns = Row::kColumns;
  int index = kMetaColumnCount + 1;
  while (!columns.empty()) {
    size_t comma = columns.find(',');
    std::string_view name = columns.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    sql += ", " + std::string(name) + " = ?" + std::to_string(index++);
    columns = comma == std::string_view::npos ? std::string_view() : columns.substr(comma + 1);
  }
  return sql + " WHERE id = ?1";
}

}  // namespace tandem::store::sqlite
