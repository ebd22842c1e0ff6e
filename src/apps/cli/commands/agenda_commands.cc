// tandem agenda [--from DAY] [--to DAY] [--days N]
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <ostream>

#include "apps/cli/context.h"
#include "apps/cli/dates.h"
#include "apps/cli/format.h"
#include "apps/cli/records.h"

namespace tandem::cli {
namespace {
using namespace std::chrono;

struct AgendaArgs {
  std::string from;
  std::string to;
  int days = 0;
};

Status Agenda(CommandContext& ctx, const AgendaArgs& args) {
  Instant now = ctx.Now();
  year_month_day first = ctx.zone().ToLocal(now).date;
  if (!args.from.empty()) {
    auto d = ParseDay(args.from, ctx.zone(), now);
    if (!d.ok()) return ctx.Usage("--from: " + d.status().message());
    first = *d;
  }
  year_month_day last{sys_days{first} + days{(args.days > 0 ? args.days : 7) - 1}};
  if (!args.to.empty()) {
    if (args.days > 0) return ctx.Usage("give --to or --days, not both");
    auto d = ParseDay(args.to, ctx.zone(), now);
    if (!d.ok()) return ctx.Usage("--to: " + d.status().message());
    last = *d;
  }
  if (sys_days{last} < sys_days{first}) return ctx.Usage("--to is before --from");
  Instant from = StartOfDay(ctx.zone(), first);
  Instant to = StartOfDay(ctx.zone(), year_month_day{sys_days{last} + days{1}});

  TANDEM_ASSIGN_OR_RETURN(ApiClient api, ctx.SessionClient());
  QueryParams query{{"owner", "me"}, {"from", FormatRfc3339(from)}, {"to", FormatRfc3339(to)}};
  bool more = false;
  TANDEM_ASSIGN_OR_RETURN(Json items,
                          ListRecords(api, "activities", query, 1000, /*all=*/true, &more));
  if (ctx.json) {
    ctx.PrintJson(Json{{"from", FormatRfc3339(from)}, {"to", FormatRfc3339(to)}, {"items", items}});
    return Status::Ok();
  }
  ctx.out() << RenderAgenda(items, first, last, ctx.zone());
  return Status::Ok();
}

}  // namespace

void InstallAgendaCommands(CLI::App& root, CommandContext& ctx) {
  auto args = std::make_shared<AgendaArgs>();
  CLI::App* agenda = root.add_subcommand(
      "agenda", "Your activities day by day in local time (default: today and the next 6 days)");
  agenda->add_option("--from", args->from, "First day (default today)")->type_name("DAY");
  agenda->add_option("--to", args->to, "Last day, included")->type_name("DAY");
  agenda->add_option("--days", args->days, "Number of days (default 7)")->check(CLI::Range(1, 366));
  agenda->callback([&ctx, args] { ctx.Run([&ctx, args] { return Agenda(ctx, *args); }); });
}

}  // namespace tandem::cli
