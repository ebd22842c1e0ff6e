#include "apps/demo_data.h"

#include <fmt/format.h>

#include <chrono>

namespace tandem::apps {

namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

Instant Midnight(Instant t) { return std::chrono::floor<days>(t); }

}  // namespace

Result<bool> StoreHasNoRecords(store::Store& store) {
  store::ListOptions one;
  one.limit = 1;
  TANDEM_ASSIGN_OR_RETURN(auto accounts, store.ListAccounts(one));
  TANDEM_ASSIGN_OR_RETURN(auto contacts, store.ListContacts(one));
  TANDEM_ASSIGN_OR_RETURN(auto opportunities, store.ListOpportunities(one));
  TANDEM_ASSIGN_OR_RETURN(auto activities, store.ListActivities(one));
  return accounts.items.empty() && contacts.items.empty() && opportunities.items.empty() &&
         activities.items.empty();
}

Result<std::string> CreateDemoData(store::Store& store, const Clock& clock,
                                   const api::PasswordCost& cost) {
  model::User demo;
  auto existing = store.GetUserByLogin("demo");
  if (existing.ok()) {
    demo = *existing;
  } else {
    demo.login = "demo";
    demo.display_name = "Demo User";
    demo.email = "demo@example.com";
    TANDEM_ASSIGN_OR_RETURN(demo.password_hash, api::HashPassword("demo", cost));
    TANDEM_ASSIGN_OR_RETURN(demo, store.CreateUser(demo));
  }
  auto meta = [&] {
    model::RecordMeta m;
    m.owner_id = demo.id;
    return m;
  };

  struct AccountSeed {
    const char* name;
    const char* website;
    const char* phone;
    const char* address;
  };
  const AccountSeed account_seeds[] = {
      {"Northwind Traders", "https://northwind.example", "+1 206 555 0100", "Seattle, WA"},
      {"Contoso Pharmaceuticals", "https://contoso.example", "+44 20 7946 0958", "London"},
      {"Fabrikam Logistics", "https://fabrikam.example", "+49 30 901820", "Berlin"},
  };
  std::vector<model::Account> accounts;
  for (const auto& s : account_seeds) {
    model::Account a;
    a.meta = meta();
    a.name = s.name;
    a.website = s.website;
    a.phone = s.phone;
    a.address = s.address;
    TANDEM_ASSIGN_OR_RETURN(auto created, store.Create(a));
    accounts.push_back(created);
  }

  struct ContactSeed {
    int account;
    const char* first;
    const char* last;
    const char* email;
    const char* title;
  };
  const ContactSeed contact_seeds[] = {
      {0, "Nancy", "Davolio", "nancy@northwind.example", "Purchasing Manager"},
      {0, "Andrew", "Fuller", "andrew@northwind.example", "VP Sales"},
      {1, "Janet", "Leverling", "janet@contoso.example", "Head of Procurement"},
      {2, "Steven", "Buchanan", "steven@fabrikam.example", "Operations Director"},
  };
  std::vector<model::Contact> contacts;
  for (const auto& s : contact_seeds) {
    model::Contact c;
    c.meta = meta();
    c.account_id = accounts[s.account].meta.id;
    c.first_name = s.first;
    c.last_name = s.last;
    c.email = s.email;
    c.job_title = s.title;
    TANDEM_ASSIGN_OR_RETURN(auto created, store.Create(c));
    contacts.push_back(created);
  }

  Instant now = clock.Now();
  auto date_in = [&](int d) {
    auto day = std::chrono::floor<days>(now + days(d));
    std::chrono::year_month_day ymd(std::chrono::sys_days{day});
    return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  };
  struct OpportunitySeed {
    int account;
    int contact;
    const char* name;
    model::OpportunityStage stage;
    int64_t cents;
    int close_in_days;
  };
  const OpportunitySeed opportunity_seeds[] = {
      {0, 0, "Northwind: 500 seats renewal", model::OpportunityStage::kNegotiation, 4'200'000, 21},
      {1, 2, "Contoso: cold-chain pilot", model::OpportunityStage::kProposal, 1'850'000, 45},
      {2, 3, "Fabrikam: fleet tracking", model::OpportunityStage::kQualification, 760'000, 60},
  };
  std::vector<model::Opportunity> opportunities;
  for (const auto& s : opportunity_seeds) {
    model::Opportunity o;
    o.meta = meta();
    o.name = s.name;
    o.account_id = accounts[s.account].meta.id;
    o.contact_id = contacts[s.contact].meta.id;
    o.stage = s.stage;
    o.amount_cents = s.cents;
    o.close_date = date_in(s.close_in_days);
    TANDEM_ASSIGN_OR_RETURN(auto created, store.Create(o));
    opportunities.push_back(created);
  }

  // Activities at office hours (UTC) over the next weeks.
  Instant today = Midnight(now);
  auto at = [&](int day, int hour, int minute = 0) {
    return today + days(day) + hours(hour) + minutes(minute);
  };
  auto activity = [&](const char* subject, Instant start, Duration length) {
    model::Activity a;
    a.meta = meta();
    a.subject = subject;
    a.start = start;
    a.end = start + length;
    a.time_zone = "Europe/Berlin";
    return a;
  };
  std::vector<model::Activity> items;
  {
    auto a = activity("Renewal negotiation with Northwind", at(1, 9), hours(1));
    a.location = "Northwind HQ, Seattle";
    a.regarding_type = model::RegardingType::kOpportunity;
    a.regarding_id = opportunities[0].meta.id;
    a.reminder_minutes = 15;
    a.description = "Bring the updated price sheet.";
    items.push_back(a);
  }
  {
    auto a = activity("Call Janet about the pilot scope", at(2, 14), minutes(30));
    a.kind = model::ActivityKind::kPhoneCall;
    a.regarding_type = model::RegardingType::kContact;
    a.regarding_id = contacts[2].meta.id;
    items.push_back(a);
  }
  {
    auto a = activity("Trade fair: LogiMAT", at(7, 0), days(2));
    a.all_day = true;
    a.show_as = model::ShowAs::kOutOfOffice;
    a.location = "Stuttgart";
    items.push_back(a);
  }
  {
    auto a = activity("Dentist", at(3, 16), hours(1));
    a.is_private = true;
    a.meta.shared = false;
    items.push_back(a);
  }
  {
    auto a = activity("Send Contoso proposal", at(4, 10), minutes(0));
    a.kind = model::ActivityKind::kTask;
    a.show_as = model::ShowAs::kFree;
    a.regarding_type = model::RegardingType::kOpportunity;
    a.regarding_id = opportunities[1].meta.id;
    items.push_back(a);
  }
  {
    auto a = activity("Fabrikam discovery workshop", at(10, 13), hours(3));
    a.location = "Fabrikam, Berlin";
    a.regarding_type = model::RegardingType::kAccount;
    a.regarding_id = accounts[2].meta.id;
    a.show_as = model::ShowAs::kTentative;
    items.push_back(a);
  }
  {
    auto a = activity("Weekly pipeline review", at(1, 8), minutes(45));
    a.rrule = "FREQ=WEEKLY;COUNT=8";
    a.location = "Room 2.14";
    items.push_back(a);
  }
  {
    auto a = activity("Quarterly business review with Andrew", at(17, 11), hours(2));
    a.regarding_type = model::RegardingType::kContact;
    a.regarding_id = contacts[1].meta.id;
    a.reminder_minutes = 60 * 24;
    items.push_back(a);
  }
  for (auto& a : items) {
    TANDEM_RETURN_IF_ERROR(store.Create(std::move(a)).status());
  }
  return demo.id;
}

}  // namespace tandem::apps
