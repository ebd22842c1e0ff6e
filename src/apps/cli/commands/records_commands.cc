// tandem accounts|contacts|opportunities|activities add|list|show|edit|delete
#include <memory>

#include "apps/cli/activity_times.h"
#include "apps/cli/dates.h"
#include "apps/cli/records.h"

namespace tandem::cli {
namespace {

std::vector<FieldSpec> SharingFields() {
  return {
      {"--owner-id", "owner_id", FieldType::kText, "Owner's user id (admins may reassign)"},
      {"--shared",
       "shared",
       FieldType::kFlag,
       "Visible to every user (default); --not-shared: owner and admins only",
       {},
       "--not-shared"},
  };
}

std::vector<FieldSpec> With(std::vector<FieldSpec> fields) {
  for (auto& f : SharingFields()) fields.push_back(std::move(f));
  return fields;
}

RecordType Accounts() {
  return {"accounts", "account", "Companies (add|list|show|edit|delete)",
          With({{"--name", "name", FieldType::kText, "Company name (required on add)"},
                {"--website", "website", FieldType::kText, "Web site"},
                {"--phone", "phone", FieldType::kText, "Phone number"},
                {"--address", "address", FieldType::kText, "Postal address"},
                {"--notes", "notes", FieldType::kText, "Free text"}})};
}

RecordType Contacts() {
  return {"contacts", "contact", "People (add|list|show|edit|delete)",
          With({{"--first-name", "first_name", FieldType::kText, "Given name"},
                {"--last-name", "last_name", FieldType::kText, "Family name"},
                {"--email", "email", FieldType::kText, "E-mail address"},
                {"--phone", "phone", FieldType::kText, "Phone number"},
                {"--job-title", "job_title", FieldType::kText, "Job title"},
                {"--account", "account_id", FieldType::kText, "Id of the contact's account"},
                {"--notes", "notes", FieldType::kText, "Free text"}})};
}

RecordType Opportunities() {
  return {"opportunities", "opportunity", "Sales opportunities (add|list|show|edit|delete)",
          With({{"--name", "name", FieldType::kText, "Name (required on add)"},
                {"--account", "account_id", FieldType::kText, "Id of the account"},
                {"--contact", "contact_id", FieldType::kText, "Id of the contact"},
                {"--stage",
                 "stage",
                 FieldType::kChoice,
                 "Sales stage",
                 {"prospecting", "qualification", "proposal", "negotiation", "won", "lost"}},
                {"--amount", "amount_cents", FieldType::kMoney, "Amount, e.g. 1234.50"},
                {"--currency", "currency", FieldType::kText, "ISO 4217 code, e.g. EUR"},
                {"--close-date", "close_date", FieldType::kDay, "Expected close date"},
                {"--notes", "notes", FieldType::kText, "Free text"}})};
}

struct ActivityExtra {
  ActivityTimeArgs times;
  bool all_day = false;
  CLI::Option* all_day_option = nullptr;
  int reminder = 0;
  CLI::Option* reminder_option = nullptr;
  bool no_reminder = false;
};

struct ActivityListExtra {
  std::string from;
  std::string to;
};

RecordType Activities() {
  RecordType t{"activities", "activity",
               "Appointments, tasks, phone calls (add|list|show|edit|delete)",
               With({{"--subject", "subject", FieldType::kText, "Title (required on add)"},
                     {"--kind",
                      "kind",
                      FieldType::kChoice,
                      "What it is (default appointment)",
                      {"appointment", "task", "phone_call"}},
                     {"--location", "location", FieldType::kText, "Where"},
                     {"--description", "description", FieldType::kText, "Body text"},
                     {"--show-as",
                      "show_as",
                      FieldType::kChoice,
                      "Show time as (default busy)",
                      {"free", "tentative", "busy", "out_of_office", "working_elsewhere"}},
                     {"--private",
                      "private",
                      FieldType::kFlag,
                      "Personal: visible to the owner only (--public to undo)",
                      {},
                      "--public"},
                     {"--regarding-type",
                      "regarding_type",
                      FieldType::kChoice,
                      "What it is about",
                      {"none", "account", "contact", "opportunity"}},
                     {"--regarding-id", "regarding_id", FieldType::kText,
                      "Id of the account/contact/opportunity it is about"},
                     {"--time-zone", "time_zone", FieldType::kText,
                      "IANA zone the event belongs to, e.g. Europe/Berlin"}})};
  // Several commands (add, edit) each get their own ActivityExtra; the hooks
  // find theirs through the command that is being run.
  auto extras = std::make_shared<std::map<CLI::App*, std::shared_ptr<ActivityExtra>>>();
  auto current_cmd = std::make_shared<CLI::App*>(nullptr);
  t.add_extra_options = [extras, current_cmd](CLI::App* cmd, bool is_add) {
    auto x = std::make_shared<ActivityExtra>();
    (*extras)[cmd] = x;
    cmd->add_option("--start", x->times.start,
                    "Start: 'YYYY-MM-DD HH:MM' local time, RFC 3339, or a day with --all-day "
                    "(required on add)")
        ->type_name("WHEN");
    cmd->add_option("--end", x->times.end,
                    "End (default: one hour after start; with --all-day the last day)")
        ->type_name("WHEN");
    x->all_day_option = cmd->add_flag("--all-day,!--timed", x->all_day,
                                      "All-day event (--timed to make it timed again)");
    x->reminder_option =
        cmd->add_option("--reminder", x->reminder, "Reminder this many minutes before start")
            ->check(CLI::Range(0, 40320))
            ->type_name("MIN");
    auto* none = cmd->add_flag("--no-reminder", x->no_reminder, "No reminder");
    none->excludes(x->reminder_option);
    cmd->preparse_callback([current_cmd, cmd](size_t) { *current_cmd = cmd; });
  };
  t.apply_extra = [extras, current_cmd](CommandContext& ctx, const Json* current,
                                        Json* body) -> Status {
    auto it = extras->find(*current_cmd);
    if (it == extras->end()) return Status::Internal("activity options not registered");
    ActivityExtra& x = *it->second;
    if (x.all_day_option->count() > 0) x.times.all_day = x.all_day;
    Status s = ApplyActivityTimes(x.times, current, ctx.zone(), ctx.Now(), body);
    if (!s.ok()) return ctx.Usage(s.message());
    if (x.reminder_option->count() > 0) (*body)["reminder_minutes"] = x.reminder;
    if (x.no_reminder) (*body)["reminder_minutes"] = nullptr;
    return Status::Ok();
  };
  auto list_extra = std::make_shared<ActivityListExtra>();
  t.add_list_options = [list_extra](CLI::App* cmd) {
    cmd->add_option("--from", list_extra->from,
                    "Only activities ending after this time/day (local)")
        ->type_name("WHEN");
    cmd->add_option("--to", list_extra->to,
                    "Only activities starting before this time, or before the end of this day")
        ->type_name("WHEN");
  };
  t.apply_list_options = [list_extra](CommandContext& ctx, QueryParams* q) -> Status {
    if (!list_extra->from.empty()) {
      auto from = ParseWhen(list_extra->from, ctx.zone(), ctx.Now());
      if (!from.ok()) return ctx.Usage("--from: " + from.status().message());
      q->emplace_back("from", FormatRfc3339(*from));
    }
    if (!list_extra->to.empty()) {
      auto to = ParseUntil(list_extra->to, ctx.zone(), ctx.Now());
      if (!to.ok()) return ctx.Usage("--to: " + to.status().message());
      q->emplace_back("to", FormatRfc3339(*to));
    }
    return Status::Ok();
  };
  return t;
}

}  // namespace

void InstallRecordsCommands(CLI::App& root, CommandContext& ctx) {
  InstallRecordCommands(root, ctx, Accounts());
  InstallRecordCommands(root, ctx, Contacts());
  InstallRecordCommands(root, ctx, Opportunities());
  InstallRecordCommands(root, ctx, Activities());
}

}  // namespace tandem::cli
