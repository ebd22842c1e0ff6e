#include <fmt/format.h>

#include "replica/replication_server.h"

namespace tandem::replica {

Result<FeedPage> ParseFeedPage(Json&& j) {
  if (!j.is_object() || !j.contains("changes") || !j["changes"].is_array()) {
    return Status::Corruption("change feed: no changes array");
  }
  FeedPage page;
  page.next = j.value("next", std::string());
  page.more = j.value("more", false);
  page.changes.reserve(j["changes"].size());
  for (Json& c : j["changes"]) {
    if (!c.is_object()) return Status::Corruption("change feed: change is not an object");
    FeedChange change;
    auto entity = model::ParseEntityName(c.value("entity", std::string()));
    if (!entity.ok()) return Status::Corruption("change feed: " + entity.status().message());
    change.entity = *entity;
    change.id = c.value("id", std::string());
    std::string op = c.value("op", std::string());
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
    PushResult p;
    p.mutation_id = r.value("id", std::string());
    std::string outcome = r.value("outcome", std::string());
    p.outcome = outcome == "applied"    ? PushOutcome::kApplied
                : outcome == "conflict" ? PushOutcome::kConflict
                : outcome == "rejected" ? PushOutcome::kRejected
                                        : PushOutcome::kRetry;
    p.record = r.value("record", Json(nullptr));
    if (r.contains("version") && r["version"].is_number_integer()) {
      p.version = r["version"].get<int64_t>();
    }
    p.current = r.value("current", Json(nullptr));
    p.error = r.value("error", std::string());
    p.message = r.value("message", std::string());
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace tandem::replica
