// tandem conflicts [resolve]: records edited both on the offline replica and on the
// server (C8). Talks to the replica's local API (docs/REPLICA.md).
#include <fmt/format.h>

#include <memory>
#include <ostream>

#include "apps/cli/api_client.h"
#include "apps/cli/context.h"

namespace tandem::cli {
namespace {

std::string Summary(const Json& record) {
  if (!record.is_object()) return "(deleted)";
  for (const char* key : {"subject", "name", "last_name", "first_name"}) {
    if (record.contains(key) && record[key].is_string() &&
        !record[key].get<std::string>().empty()) {
      return fmt::format("{} (version {})", record[key].get<std::string>(),
                         record.value("version", 0));
    }
  }
  return fmt::format("version {}", record.value("version", 0));
}

// A server that is not a replica has no conflicts routes ("no route for ...").
Result<Json> ConflictsCall(CommandContext& ctx, std::string_view method, const std::string& path,
                           const Json* body = nullptr) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  auto answer = api.Call(method, path, body);
  if (!answer.ok() && answer.status().Is(Code::kNotFound) &&
      answer.status().message().starts_with("no route for")) {
    return Status::NotFound(
        "this server is not an offline replica: `tandem conflicts` lists records changed both "
        "offline and on the server, on a replica (tandemd --replica-of). On the server, "
        "calendar-sync conflicts are settled by each pair's conflict policy and the losing "
        "version is kept in the sync log: tandem sync log PAIR (conflict-loser)");
  }
  return answer;
}

Status ListConflicts(CommandContext& ctx) {
  TANDEM_ASSIGN_OR_RETURN(Json page, ConflictsCall(ctx, "GET", "/api/v1/conflicts"));
  if (ctx.json) {
    ctx.PrintJson(page);
    return Status::Ok();
  }
  if (page["items"].empty()) ctx.out() << "No conflicts.\n";
  for (const auto& c : page["items"]) {
    ctx.out() << fmt::format("{} {}  detected {}\n  mine:   {}\n  theirs: {}\n",
                             c.value("entity", ""), c.value("id", ""), c.value("detected", ""),
                             Summary(c["mine"]), Summary(c["theirs"]));
  }
  return Status::Ok();
}

Status Resolve(CommandContext& ctx, const std::string& collection, const std::string& id,
               const std::string& how, const std::string& fields) {
  Json body = {{"resolution", how}};
  if (!fields.empty()) {
    Json f = Json::parse(fields, nullptr, false);
    if (!f.is_object()) return ctx.Usage("--fields must be a JSON object");
    body["fields"] = f;
  }
  TANDEM_ASSIGN_OR_RETURN(
      Json r, ConflictsCall(ctx, "POST", fmt::format("/api/v1/conflicts/{}/{}", collection, id), &body));
  if (ctx.json) {
    ctx.PrintJson(r);
  } else {
    ctx.out() << fmt::format("Resolved {} {} ({}); the next sync sends it.\n", collection, id, how);
  }
  return Status::Ok();
}

}  // namespace

void InstallConflictsCommands(CLI::App& root, CommandContext& ctx) {
  CLI::App* conflicts = root.add_subcommand(
      "conflicts", "Records changed both offline and on the server (offline replica only)");
  conflicts->callback([&ctx, conflicts] {
    if (conflicts->get_subcommands().empty()) ctx.Run([&ctx] { return ListConflicts(ctx); });
  });
  auto collection = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  auto how = std::make_shared<std::string>();
  auto fields = std::make_shared<std::string>();
  CLI::App* resolve = conflicts->add_subcommand("resolve", "Keep mine, theirs, or merged fields");
  resolve->add_option("collection", *collection, "accounts, contacts, opportunities, activities")
      ->required();
  resolve->add_option("id", *id, "Record id")->required();
  resolve->add_option("resolution", *how, "mine, theirs or merged")
      ->required()
      ->check(CLI::IsMember({"mine", "theirs", "merged"}));
  resolve->add_option("--fields", *fields, "merged: the fields to keep, as a JSON object");
  resolve->callback([&ctx, collection, id, how, fields] {
    ctx.Run([&ctx, collection, id, how, fields] {
      return Resolve(ctx, *collection, *id, *how, *fields);
    });
  });
}

}  // namespace tandem::cli
