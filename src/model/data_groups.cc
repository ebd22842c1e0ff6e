#include "model/data_groups.h"

#include <algorithm>
#include <chrono>

namespace tandem::model {

using nlohmann::json;

const EntityFilter& DataGroups::For(model::EntityType e) const {
  switch (e) {
    case model::EntityType::kAccount: return accounts;
    case model::EntityType::kContact: return contacts;
    case model::EntityType::kOpportunity: return opportunities;
    default: return activities;
  }
}

EntityFilter& DataGroups::For(model::EntityType e) {
  return const_cast<EntityFilter&>(static_cast<const DataGroups*>(this)->For(e));
}

DataGroups DefaultDataGroups() {
  DataGroups g;
  g.activities.days_back = 90;
  return g;
}

namespace {

constexpr model::EntityType kEntities[] = {model::EntityType::kAccount,
                                           model::EntityType::kContact,
                                           model::EntityType::kOpportunity,
                                           model::EntityType::kActivity};

json FilterToJson(const EntityFilter& f) {
  json j = {{"enabled", f.enabled},
            {"owner", f.mine_only ? "me" : "all"},
            {"stages", f.stages},
            {"excluded_fields", f.excluded_fields}};
  j["days_back"] = f.days_back ? json(*f.days_back) : json(nullptr);
  j["days_ahead"] = f.days_ahead ? json(*f.days_ahead) : json(nullptr);
  return j;
}

Status FilterFromJson(const json& j, std::string_view name, EntityFilter* f) {
  if (!j.is_object()) return Status::InvalidArgument(std::string(name) + ": must be an object");
  auto field = [&](const char* key) { return std::string(name) + "." + key; };
  if (j.contains("enabled")) {
    if (!j["enabled"].is_boolean()) return Status::InvalidArgument(field("enabled") + ": must be a boolean");
    f->enabled = j["enabled"].get<bool>();
  }
  if (j.contains("owner")) {
    if (j["owner"] == "me") f->mine_only = true;
    else if (j["owner"] == "all") f->mine_only = false;
    else return Status::InvalidArgument(field("owner") + ": must be \"me\" or \"all\"");
  }
  for (const char* key : {"stages", "excluded_fields"}) {
    if (!j.contains(key)) continue;
    const json& list = j[key];
    if (!list.is_array()) return Status::InvalidArgument(field(key) + ": must be an array of strings");
    std::vector<std::string> values;
    for (const json& v : list) {
      if (!v.is_string()) return Status::InvalidArgument(field(key) + ": must be an array of strings");
      values.push_back(v.get<std::string>());
    }
    if (std::string_view(key) == "stages") {
      for (const auto& s : values) {
        if (!model::ParseStage(s).ok()) return Status::InvalidArgument(field(key) + ": unknown stage " + s);
      }
      f->stages = std::move(values);
    } else {
      for (const auto& s : values) {
        if (s == "id" || s == "owner_id" || s == "version") {
          return Status::InvalidArgument(field(key) + ": " + s + " cannot be excluded");
        }
      }
      f->excluded_fields = std::move(values);
    }
  }
  for (auto [key, target] : {std::pair{"days_back", &f->days_back}, {"days_ahead", &f->days_ahead}}) {
    if (!j.contains(key)) continue;
    if (j[key].is_null()) { *target = std::nullopt; continue; }
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0 || j[key].get<int64_t>() > 36500) {
      return Status::InvalidArgument(field(key) + ": must be null or a number of days");
    }
    *target = j[key].get<int>();
  }
  return Status::Ok();
}

std::optional<Instant> TimeField(const json& record, const char* key) {
  auto it = record.find(key);
  if (it == record.end() || !it->is_string()) return std::nullopt;
  auto t = ParseRfc3339(it->get_ref<const std::string&>());
  if (!t.ok()) return std::nullopt;
  return *t;
}

}  // namespace

json ToJson(const DataGroups& g) {
  json j = json::object();
  for (auto e : kEntities) j[std::string(model::EntityName(e))] = FilterToJson(g.For(e));
  return j;
}

Result<DataGroups> DataGroupsFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("data groups: must be an object");
  DataGroups g = DefaultDataGroups();
  for (auto e : kEntities) {
    std::string name(model::EntityName(e));
    if (j.contains(name)) TANDEM_RETURN_IF_ERROR(FilterFromJson(j[name], name, &g.For(e)));
  }
  return g;
}

bool FactsInScope(const DataGroups& g, model::EntityType e, const ScopeFacts& facts,
             std::string_view user_id, Instant now) {
  const EntityFilter& f = g.For(e);
  if (!f.enabled) return false;
  if (f.mine_only && facts.owner_id != user_id) return false;
  if (e == model::EntityType::kOpportunity && !f.stages.empty()) {
    if (std::find(f.stages.begin(), f.stages.end(), facts.stage) == f.stages.end()) return false;
  }
  if (e == model::EntityType::kActivity) {
    using Days = std::chrono::days;
    if (f.days_back && !facts.recurring && facts.end && *facts.end < now - Days(*f.days_back)) {
      return false;
    }
    if (f.days_ahead && facts.start && *facts.start > now + Days(*f.days_ahead)) return false;
  }
  return true;
}

bool InScope(const DataGroups& g, model::EntityType e, const json& record,
             std::string_view user_id, Instant now) {
  auto text = [&](const char* key) -> std::string_view {
    auto it = record.find(key);
    if (it == record.end() || !it->is_string()) return {};
    return it->get_ref<const std::string&>();
  };
  ScopeFacts facts;
  facts.owner_id = text("owner_id");
  facts.stage = text("stage");
  if (e == model::EntityType::kActivity) {
    facts.recurring = !text("rrule").empty();
    facts.start = TimeField(record, "start");
    facts.end = TimeField(record, "end");
  }
  return FactsInScope(g, e, facts, user_id, now);
}

bool InScope(const DataGroups& g, const Account& r, std::string_view user_id, Instant now) {
  return FactsInScope(g, EntityType::kAccount, ScopeFacts{.owner_id = r.meta.owner_id}, user_id, now);
}

bool InScope(const DataGroups& g, const Contact& r, std::string_view user_id, Instant now) {
  return FactsInScope(g, EntityType::kContact, ScopeFacts{.owner_id = r.meta.owner_id}, user_id, now);
}

bool InScope(const DataGroups& g, const Opportunity& r, std::string_view user_id, Instant now) {
  return FactsInScope(g, EntityType::kOpportunity,
                 ScopeFacts{.owner_id = r.meta.owner_id, .stage = StageName(r.stage)}, user_id, now);
}

bool InScope(const DataGroups& g, const Activity& r, std::string_view user_id, Instant now) {
  return FactsInScope(g, EntityType::kActivity,
                 ScopeFacts{.owner_id = r.meta.owner_id, .recurring = !r.rrule.empty(),
                            .start = r.start, .end = r.end},
                 user_id, now);
}

json WithoutExcluded(const DataGroups& g, model::EntityType e, json record) {
  for (const auto& field : g.For(e).excluded_fields) record.erase(field);
  return record;
}

}  // namespace tandem::model
