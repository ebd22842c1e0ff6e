#include "apps/cli/records.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ostream>

#include "apps/cli/dates.h"
#include "apps/cli/format.h"

namespace tandem::cli {
namespace {

std::string_view Article(std::string_view noun) {
  return !noun.empty() && std::string_view("aeio").find(noun[0]) != std::string_view::npos ? "an"
                                                                                           : "a";
}

struct ListArgs {
  std::string owner;
  int limit = 0;
  bool all = false;
};

struct TargetArgs {
  std::string id;
  int64_t if_version = 0;  // 0: the version just read
};

std::string VersionNote(const Json& record) {
  if (record.is_object() && record.contains("version") && record["version"].is_number_integer()) {
    return fmt::format(" (version {})", record["version"].get<int64_t>());
  }
  return "";
}

Status DoList(CommandContext& ctx, const RecordType& type, const ListArgs& args) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  QueryParams query;
  if (!args.owner.empty()) {
    query.emplace_back("owner", args.owner);  // "me" is understood by the server
  }
  if (type.apply_list_options) TANDEM_RETURN_IF_ERROR(type.apply_list_options(ctx, &query));
  bool more = false;
  TANDEM_ASSIGN_OR_RETURN(Json items,
                          ListRecords(api, type.collection, query, args.limit, args.all, &more));
  if (ctx.json) {
    ctx.PrintJson(Json{{"items", items}, {"more", more}});
    return Status::Ok();
  }
  if (items.empty()) {
    ctx.out() << fmt::format("No {}.\n", type.collection);
  } else {
    std::vector<const Json*> shown;
    for (const Json& r : items) shown.push_back(&r);
    if (type.collection == "activities") {
      // RFC 3339 UTC text sorts chronologically.
      std::stable_sort(shown.begin(), shown.end(), [](const Json* a, const Json* b) {
        return a->value("start", "") < b->value("start", "");
      });
    }
    std::vector<std::vector<std::string>> rows;
    for (const Json* r : shown) rows.push_back(ListRow(type.collection, *r, ctx.zone()));
    ctx.out() << RenderTable(ListHeaders(type.collection), rows);
  }
  if (more) ctx.err() << "(more on the server: use --all, or a larger --limit)\n";
  return Status::Ok();
}

Status DoShow(CommandContext& ctx, const RecordType& type, const TargetArgs& args) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(FetchedRecord fetched, api.Get(type.collection, args.id));
  if (ctx.json) {
    ctx.PrintJson(fetched.record);
  } else {
    ctx.out() << RenderRecord(fetched.record, ctx.zone());
  }
  return Status::Ok();
}

Status DoAdd(CommandContext& ctx, const RecordType& type, const FieldValues& values) {
  TANDEM_ASSIGN_OR_RETURN(Json body, values.ToJson(ctx.zone(), ctx.Now()));
  if (type.apply_extra) TANDEM_RETURN_IF_ERROR(type.apply_extra(ctx, nullptr, &body));
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json created, api.Create(type.collection, body));
  if (ctx.json) {
    ctx.PrintJson(created);
  } else {
    ctx.out() << fmt::format("Created {} {}{}\n", type.singular, created.value("id", "?"),
                             VersionNote(created));
  }
  return Status::Ok();
}

Status DoEdit(CommandContext& ctx, const RecordType& type, const TargetArgs& target,
              const FieldValues& values) {
  TANDEM_ASSIGN_OR_RETURN(Json fields, values.ToJson(ctx.zone(), ctx.Now()));
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(FetchedRecord current, api.Get(type.collection, target.id));
  if (type.apply_extra) TANDEM_RETURN_IF_ERROR(type.apply_extra(ctx, &current.record, &fields));
  if (fields.empty()) return ctx.Usage("nothing to change: give at least one field flag");
  // Edit what was read: a change made by someone else in between is a 412,
  // never silently overwritten.
  std::string if_match =
      target.if_version > 0 ? fmt::format("\"{}\"", target.if_version) : current.etag;
  TANDEM_ASSIGN_OR_RETURN(Json updated, api.Update(type.collection, target.id, fields, if_match));
  if (ctx.json) {
    ctx.PrintJson(updated);
  } else {
    ctx.out() << fmt::format("Updated {} {}{}\n", type.singular, target.id, VersionNote(updated));
  }
  return Status::Ok();
}

Status DoDelete(CommandContext& ctx, const RecordType& type, const TargetArgs& target) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  std::string if_match = target.if_version > 0 ? fmt::format("\"{}\"", target.if_version) : "";
  TANDEM_RETURN_IF_ERROR(api.Delete(type.collection, target.id, if_match));
  if (ctx.json) {
    ctx.PrintJson(Json{{"deleted", true}, {"id", target.id}});
  } else {
    ctx.out() << fmt::format("Deleted {} {}\n", type.singular, target.id);
  }
  return Status::Ok();
}

}  // namespace

void FieldValues::Register(CLI::App* cmd, const std::vector<FieldSpec>& specs) {
  for (const auto& spec : specs) {
    Slot& slot = slots_[spec.json];
    slot.spec = spec;
    if (spec.type == FieldType::kFlag) {
      std::string names = spec.flag;
      if (!spec.negative.empty()) names += ",!" + spec.negative;
      slot.option = cmd->add_flag(names, slot.flag, spec.help);
      continue;
    }
    slot.option = cmd->add_option(spec.flag, slot.text, spec.help);
    if (spec.type == FieldType::kChoice) {
      slot.option->check(CLI::IsMember(spec.choices));
      slot.option->type_name("");
    } else if (spec.type == FieldType::kInt) {
      slot.option->check(CLI::Number);
      slot.option->type_name("INT");
    } else if (spec.type == FieldType::kMoney) {
      slot.option->type_name("AMOUNT");
    } else if (spec.type == FieldType::kDay) {
      slot.option->type_name("DATE");
    } else {
      slot.option->type_name("TEXT");
    }
  }
}

bool FieldValues::AnyGiven() const {
  for (const auto& [name, slot] : slots_) {
    if (slot.option->count() > 0) return true;
  }
  return false;
}

Result<Json> FieldValues::ToJson(const LocalZone& zone, Instant now) const {
  Json j = Json::object();
  for (const auto& [name, slot] : slots_) {
    if (slot.option->count() == 0) continue;
    const FieldSpec& spec = slot.spec;
    switch (spec.type) {
      case FieldType::kText:
      case FieldType::kChoice:
        j[name] = slot.text;
        break;
      case FieldType::kFlag:
        j[name] = slot.flag;
        break;
      case FieldType::kInt: {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(slot.text.data(), slot.text.data() + slot.text.size(), v);
        if (ec != std::errc() || p != slot.text.data() + slot.text.size()) {
          return Status::InvalidArgument(
              fmt::format("{}: '{}' is not a whole number", spec.flag, slot.text));
        }
        j[name] = v;
        break;
      }
      case FieldType::kMoney: {
        auto cents = ParseMoney(slot.text);
        if (!cents.ok()) {
          return Status::InvalidArgument(
              fmt::format("{}: {}", spec.flag, cents.status().message()));
        }
        j[name] = *cents;
        break;
      }
      case FieldType::kDay: {
        if (slot.text.empty()) {
          j[name] = "";
          break;
        }
        auto day = ParseDay(slot.text, zone, now);
        if (!day.ok()) {
          return Status::InvalidArgument(fmt::format("{}: {}", spec.flag, day.status().message()));
        }
        j[name] = FormatDay(*day);
        break;
      }
    }
  }
  return j;
}

Result<int64_t> ParseMoney(std::string_view text) {
  std::string digits;
  int decimals = -1;
  bool negative = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '-' && i == 0) {
      negative = true;
    } else if (c == ',' && decimals < 0) {
      continue;  // thousands separator
    } else if (c == '.' && decimals < 0) {
      decimals = 0;
    } else if (c >= '0' && c <= '9') {
      if (decimals >= 0 && ++decimals > 2) {
        return Status::InvalidArgument(fmt::format("'{}' has more than two decimals", text));
      }
      digits += c;
    } else {
      return Status::InvalidArgument(fmt::format("'{}' is not an amount such as 1234.50", text));
    }
  }
  if (digits.empty() || digits.size() > 15) {
    return Status::InvalidArgument(fmt::format("'{}' is not an amount such as 1234.50", text));
  }
  int64_t v = std::stoll(digits);
  for (int i = std::max(decimals, 0); i < 2; ++i) v *= 10;
  return negative ? -v : v;
}

Result<Json> ListRecords(ApiClient& api, const std::string& collection, QueryParams query,
                         int limit, bool all, bool* more) {
  Json items = Json::array();
  *more = false;
  if (limit > 0) query.emplace_back("limit", std::to_string(limit));
  std::string after;
  for (;;) {
    QueryParams q = query;
    if (!after.empty()) q.emplace_back("page_after", after);
    TANDEM_ASSIGN_OR_RETURN(RecordPage page, api.List(collection, q));
    for (auto& r : page.items) items.push_back(std::move(r));
    if (page.next_page_after.empty()) break;
    if (!all) {
      *more = true;
      break;
    }
    if (page.next_page_after == after) {
      return Status::Corruption("the server repeated a page cursor; stopping");
    }
    after = page.next_page_after;
  }
  return items;
}

CLI::App* InstallRecordCommands(CLI::App& root, CommandContext& ctx, RecordType type_in) {
  auto type = std::make_shared<RecordType>(std::move(type_in));
  CLI::App* group = root.add_subcommand(type->collection, type->description);
  group->require_subcommand(1);

  {
    auto values = std::make_shared<FieldValues>();
    CLI::App* add = group->add_subcommand(
        "add", fmt::format("Create {} {}", Article(type->singular), type->singular));
    values->Register(add, type->fields);
    if (type->add_extra_options) type->add_extra_options(add, /*is_add=*/true);
    add->callback([&ctx, type, values] {
      ctx.Run([&ctx, type, values] { return DoAdd(ctx, *type, *values); });
    });
  }
  {
    auto args = std::make_shared<ListArgs>();
    CLI::App* list = group->add_subcommand("list", fmt::format("List {}", type->collection));
    list->add_option("--owner", args->owner, "Only records of this owner: a user id, or 'me'");
    list->add_option("--limit", args->limit, "At most this many records (one page)")
        ->check(CLI::Range(1, 1000));
    list->add_flag("--all", args->all, "Fetch every page");
    if (type->add_list_options) type->add_list_options(list);
    list->callback(
        [&ctx, type, args] { ctx.Run([&ctx, type, args] { return DoList(ctx, *type, *args); }); });
  }
  {
    auto args = std::make_shared<TargetArgs>();
    CLI::App* show = group->add_subcommand(
        "show", fmt::format("Show {} {}", Article(type->singular), type->singular));
    show->add_option("id", args->id, "Record id")->required();
    show->callback(
        [&ctx, type, args] { ctx.Run([&ctx, type, args] { return DoShow(ctx, *type, *args); }); });
  }
  {
    auto args = std::make_shared<TargetArgs>();
    auto values = std::make_shared<FieldValues>();
    CLI::App* edit = group->add_subcommand(
        "edit", fmt::format("Change fields of {} {} (only if nobody changed it since it was read)",
                            Article(type->singular), type->singular));
    edit->add_option("id", args->id, "Record id")->required();
    edit->add_option("--if-version", args->if_version,
                     "Change only if the record is still at this version (exit 4 otherwise)")
        ->check(CLI::PositiveNumber);
    values->Register(edit, type->fields);
    if (type->add_extra_options) type->add_extra_options(edit, /*is_add=*/false);
    edit->callback([&ctx, type, args, values] {
      ctx.Run([&ctx, type, args, values] { return DoEdit(ctx, *type, *args, *values); });
    });
  }
  {
    auto args = std::make_shared<TargetArgs>();
    CLI::App* del = group->add_subcommand(
        "delete", fmt::format("Delete {} {}", Article(type->singular), type->singular));
    del->add_option("id", args->id, "Record id")->required();
    del->add_option("--if-version", args->if_version,
                    "Delete only if the record is still at this version (exit 4 otherwise)")
        ->check(CLI::PositiveNumber);
    del->callback([&ctx, type, args] {
      ctx.Run([&ctx, type, args] { return DoDelete(ctx, *type, *args); });
    });
  }
  return group;
}

}  // namespace tandem::cli
