// The add / list / show / edit / delete commands shared by every record type
// (accounts, contacts, opportunities, activities) and by users. A record type is
// described by a RecordType: its collection name and one FieldSpec per flag.
// Not thread-safe (registration and parsing happen once per process).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "apps/cli/context.h"

namespace tandem::cli {

enum class FieldType {
  kText,    // string as typed
  kInt,     // integer
  kMoney,   // "1234.50" -> integer cents
  kChoice,  // one of `choices`
  kDay,     // a date, sent as "YYYY-MM-DD" (today, +7 ... accepted)
  kFlag,    // --x sets true, the `negative` flag sets false
};

struct FieldSpec {
  std::string flag;  // "--first-name"
  std::string json;  // "first_name"
  FieldType type = FieldType::kText;
  std::string help;
  std::vector<std::string> choices;  // kChoice
  std::string negative;              // kFlag: "--public"
};

// Values given on the command line for one subcommand's fields.
class FieldValues {
 public:
  // Adds one option per spec to `cmd`.
  void Register(CLI::App* cmd, const std::vector<FieldSpec>& specs);
  // The JSON fields of the options that were given. InvalidArgument naming the
  // flag for a value that does not convert.
  Result<Json> ToJson(const LocalZone& zone, Instant now) const;
  bool AnyGiven() const;

 private:
  struct Slot {
    FieldSpec spec;
    std::string text;
    bool flag = false;
    CLI::Option* option = nullptr;
  };
  std::map<std::string, Slot> slots_;  // by json name; map nodes keep bound addresses
};

// Converts "1234.5", "1,234.50", "12" to cents; InvalidArgument otherwise.
Result<int64_t> ParseMoney(std::string_view text);

struct RecordType {
  std::string collection;  // "accounts": URL segment and command name
  std::string singular;    // "account"
  std::string description;
  std::vector<FieldSpec> fields;
  // Activities: extra options (times) added to add/edit, and a hook that turns
  // them into JSON fields, given the current record on edit (null on add).
  std::function<void(CLI::App* cmd, bool is_add)> add_extra_options;
  std::function<Status(CommandContext& ctx, const Json* current, Json* body)> apply_extra;
  // List: extra query parameters (activities --from/--to).
  std::function<void(CLI::App* cmd)> add_list_options;
  std::function<Status(CommandContext& ctx, QueryParams* query)> apply_list_options;
};

// Registers `<collection> add|list|show|edit|delete` under `root`.
// Returns the group command so callers can add more subcommands.
CLI::App* InstallRecordCommands(CLI::App& root, CommandContext& ctx, RecordType type);

// Fetches every page (all=true) or one page of at most `limit` (0: server default).
// `more` is set when records were left on the server.
Result<Json> ListRecords(ApiClient& api, const std::string& collection, QueryParams query,
                         int limit, bool all, bool* more);

}  // namespace tandem::cli
