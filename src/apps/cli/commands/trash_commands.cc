// tandem trash list|restore: CRM activities removed because their external event
// was deleted (S12).
#include <fmt/format.h>

#include <memory>
#include <ostream>

#include "apps/cli/api_client.h"
#include "apps/cli/context.h"

namespace tandem::cli {
namespace {

Status ListTrash(CommandContext& ctx, bool all) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json page, api.Call("GET", all ? "/api/v1/trash?include_restored=true"
                                                        : "/api/v1/trash"));
  if (ctx.json) {
    ctx.PrintJson(page);
    return Status::Ok();
  }
  if (page["items"].empty()) ctx.out() << "The trash is empty.\n";
  for (const auto& t : page["items"]) {
    std::string restored = t.value("restored_at", "");
    ctx.out() << fmt::format("{}  {}  {}  (deleted {}{})\n", t.value("id", 0), t.value("start", ""),
                             t.value("subject", ""), t.value("deleted_at", ""),
                             restored.empty() ? "" : ", restored " + restored);
  }
  return Status::Ok();
}

Status Restore(CommandContext& ctx, int64_t id) {
  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  TANDEM_ASSIGN_OR_RETURN(Json r, api.Call("POST", fmt::format("/api/v1/trash/{}/restore", id)));
  if (ctx.json) {
    ctx.PrintJson(r);
  } else {
    ctx.out() << fmt::format("Restored as activity {}; the next sync puts it back on the calendar.\n",
                             r.value("activity_id", ""));
  }
  return Status::Ok();
}

}  // namespace

void InstallTrashCommands(CLI::App& root, CommandContext& ctx) {
  CLI::App* trash = root.add_subcommand(
      "trash", "Activities removed because their calendar event was deleted elsewhere");
  trash->require_subcommand(1);
  auto all = std::make_shared<bool>(false);
  CLI::App* list = trash->add_subcommand("list", "List the trash, newest first");
  list->add_flag("--all", *all, "Include entries restored already");
  list->callback([&ctx, all] { ctx.Run([&ctx, all] { return ListTrash(ctx, *all); }); });
  auto id = std::make_shared<int64_t>(0);
  CLI::App* restore = trash->add_subcommand("restore", "Bring an activity back (and to the calendar)");
  restore->add_option("id", *id, "Trash entry id")->required();
  restore->callback([&ctx, id] { ctx.Run([&ctx, id] { return Restore(ctx, *id); }); });
}

}  // namespace tandem::cli
