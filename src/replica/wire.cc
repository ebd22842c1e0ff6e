#include <type_traits>

#include <fmt/format.h>

#include "model/json_fields.h"
#include "replica/replication_server.h"

namespace tandem::replica {

Result<FeedPage> ParseFeedPage(Json&& j) {
  if (!j.is_object() || !j.contains("changes") || !j["changes"].is_array()) {
    return Status::Corruption("change feed: no changes array");
  }
  FeedPage page;
  // A wrong-typed field is a broken answer (Corruption), never an exception that
  // would end the sync thread.
  auto wire = [](auto&& field, std::string_view where) -> std::decay_t<decltype(field)> {
    if (!field.ok()) return model::Wire(field.status(), where);
    return std::move(field);
  };
  TANDEM_ASSIGN_OR_RETURN(page.next, wire(model::StringField(j, "next"), "change feed"));
  TANDEM_ASSIGN_OR_RETURN(page.more, wire(model::BoolField(j, "more"), "change feed"));
  page.changes.reserve(j["changes"].size());
  for (Json& c : j["changes"]) {
    if (!c.is_object()) return Status::Corruption("change feed: change is not an object");
    FeedChange change;
    TANDEM_ASSIGN_OR_RETURN(std::string entity_name,
                            wire(model::StringField(c, "entity"), "change feed"));
    auto entity = model::ParseEntityName(entity_name);
    if (!entity.ok()) return Status::Corruption("change feed: " + entity.status().message());
    change.entity = *entity;
    TANDEM_ASSIGN_OR_RETURN(change.id, wire(model::StringField(c, "id"), "change feed"));
    TANDEM_ASSIGN_OR_RETURN(std::string op, wire(model::StringField(c, "op"), "change feed"));
    if (op == "upsert") {
      change.op = FeedOp::kUpsert;
      if (!c.contains("record") || !c["record"].is_object()) {
        return Status::Corruption("change feed: upsert of " + change.id + " without record");
      }
      change.record = std::move(c["record"]);
    } else if (op == "delete") {
      change.op = FeedOp::kDelete;
    } else if (op == "remove") {
      change.op = FeedOp::kRemove;
    } else {
      return Status::Corruption(fmt::format("change feed: unknown op '{}'", op));
    }
    if (change.id.empty()) return Status::Corruption("change feed: change without id");
    page.changes.push_back(std::move(change));
  }
  return page;
}

Json MutationBatchToJson(const std::vector<OutgoingMutation>& batch) {
  Json list = Json::array();
  for (const auto& o : batch) {
    const Mutation& m = o.mutation;
    list.push_back({{"id", m.mutation_id},
                    {"entity", model::EntityName(m.entity)},
                    {"record_id", m.record_id},
                    {"op", MutationOpName(m.op)},
                    {"base_version", o.base_version ? Json(*o.base_version) : Json(nullptr)},
                    {"fields", m.fields}});
  }
  return Json{{"mutations", std::move(list)}};
}

Result<std::vector<PushResult>> ParsePushResults(const Json& j, size_t expected) {
  if (!j.is_object() || !j.contains("results") || !j["results"].is_array()) {
    return Status::Corruption("mutations: no results array");
  }
  if (j["results"].size() != expected) {
    return Status::Corruption(fmt::format("mutations: {} results for {} mutations",
                                          j["results"].size(), expected));
  }
  std::vector<PushResult> out;
  for (const Json& r : j["results"]) {
    if (!r.is_object()) return Status::Corruption("mutations: a result is not an object");
    PushResult p;
    auto text = [&r](std::string_view name) -> Result<std::string> {
      auto v = model::StringField(r, name);
      if (!v.ok()) return model::Wire(v.status(), "mutations");
      return v;
    };
    TANDEM_ASSIGN_OR_RETURN(p.mutation_id, text("id"));
    TANDEM_ASSIGN_OR_RETURN(std::string outcome, text("outcome"));
    p.outcome = outcome == "applied"    ? PushOutcome::kApplied
                : outcome == "conflict" ? PushOutcome::kConflict
                : outcome == "rejected" ? PushOutcome::kRejected
                                        : PushOutcome::kRetry;
    p.record = r.contains("record") ? r["record"] : Json(nullptr);
    if (r.contains("version") && r["version"].is_number_integer()) {
      p.version = r["version"].get<int64_t>();
    }
    p.current = r.contains("current") ? r["current"] : Json(nullptr);
    TANDEM_ASSIGN_OR_RETURN(p.error, text("error"));
    TANDEM_ASSIGN_OR_RETURN(p.message, text("message"));
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace tandem::replica
