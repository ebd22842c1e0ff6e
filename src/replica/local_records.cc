#include "replica/local_records.h"

#include <fmt/format.h>

#include "model/json.h"

namespace tandem::replica {

using nlohmann::json;

namespace {

template <typename T>
Status PutTyped(store::Store& local, const json& record, bool probably_present) {
  T r{};
  TANDEM_RETURN_IF_ERROR(model::FromServerJson(record, &r));
  if (probably_present) {
    auto updated = local.Update(r, std::nullopt);
    if (updated.ok()) return Status::Ok();
    if (!updated.status().Is(Code::kNotFound)) return updated.status();
  }
  auto created = local.Create(r);
  if (created.ok()) return Status::Ok();
  if (!created.status().Is(Code::kAlreadyExists)) return created.status();
  return local.Update(std::move(r), std::nullopt).status();
}

}  // namespace

Status PutLocal(store::Store& local, model::EntityType e, const json& record,
                bool probably_present) {
  switch (e) {
    case model::EntityType::kAccount: return PutTyped<model::Account>(local, record, probably_present);
    case model::EntityType::kContact: return PutTyped<model::Contact>(local, record, probably_present);
    case model::EntityType::kOpportunity:
      return PutTyped<model::Opportunity>(local, record, probably_present);
    case model::EntityType::kActivity: return PutTyped<model::Activity>(local, record, probably_present);
    default: return Status::InvalidArgument("users are not replicated as records");
  }
}

namespace {
template <typename T>
Result<store::sqlite::SqliteStore::RecordWrite> TypedWrite(model::EntityType e, const json& record,
                                                           bool probably_present) {
  T r{};
  TANDEM_RETURN_IF_ERROR(model::FromServerJson(record, &r));
  store::sqlite::SqliteStore::RecordWrite w;
  w.entity = e;
  w.id = r.meta.id;
  w.record = std::move(r);
  w.likely_present = probably_present;
  return w;
}
}  // namespace

Result<store::sqlite::SqliteStore::RecordWrite> ToRecordWrite(model::EntityType e,
                                                              const json& record,
                                                              bool probably_present) {
  switch (e) {
    case model::EntityType::kAccount: return TypedWrite<model::Account>(e, record, probably_present);
    case model::EntityType::kContact: return TypedWrite<model::Contact>(e, record, probably_present);
    case model::EntityType::kOpportunity:
      return TypedWrite<model::Opportunity>(e, record, probably_present);
    case model::EntityType::kActivity: return TypedWrite<model::Activity>(e, record, probably_present);
    default: return Status::InvalidArgument("users are not replicated as records");
  }
}

Status DropLocal(store::Store& local, model::EntityType e, std::string_view id) {
  Status s = local.Delete(e, id, std::nullopt);
  if (s.Is(Code::kNotFound)) return Status::Ok();
  return s;
}

Result<json> GetLocal(store::Store& local, model::EntityType e, std::string_view id) {
  switch (e) {
    case model::EntityType::kAccount: {
      TANDEM_ASSIGN_OR_RETURN(auto r, local.GetAccount(id));
      return model::ToJson(r);
    }
    case model::EntityType::kContact: {
      TANDEM_ASSIGN_OR_RETURN(auto r, local.GetContact(id));
      return model::ToJson(r);
    }
    case model::EntityType::kOpportunity: {
      TANDEM_ASSIGN_OR_RETURN(auto r, local.GetOpportunity(id));
      return model::ToJson(r);
    }
    case model::EntityType::kActivity: {
      TANDEM_ASSIGN_OR_RETURN(auto r, local.GetActivity(id));
      return model::ToJson(r);
    }
    default: return Status::InvalidArgument("users are not replicated as records");
  }
}

json WritableFields(json record) {
  for (const char* key : {"id", "version", "created", "modified"}) record.erase(key);
  return record;
}

json ChangedFields(const json& before, const json& after) {
  json out = json::object();
  json writable = WritableFields(after);
  for (auto it = writable.begin(); it != writable.end(); ++it) {
    auto old = before.find(it.key());
    if (old == before.end() || *old != it.value()) out[it.key()] = it.value();
  }
  return out;
}

}  // namespace tandem::replica
