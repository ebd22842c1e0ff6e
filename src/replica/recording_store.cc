#include "replica/recording_store.h"

#include "model/json.h"
#include "replica/local_records.h"

namespace tandem::replica {

namespace {
model::EntityType TypeOf(const model::Account&) { return model::EntityType::kAccount; }
model::EntityType TypeOf(const model::Contact&) { return model::EntityType::kContact; }
model::EntityType TypeOf(const model::Opportunity&) { return model::EntityType::kOpportunity; }
model::EntityType TypeOf(const model::Activity&) { return model::EntityType::kActivity; }
}  // namespace

template <typename T>
Result<T> RecordingStore::CreateRecorded(T r) {
  TANDEM_RETURN_IF_ERROR(model::Validate(r));
  if (r.meta.id.empty()) r.meta.id = o_.ids->NewId();
  Mutation m;
  m.mutation_id = o_.ids->NewId();
  m.entity = TypeOf(r);
  m.record_id = r.meta.id;
  m.op = MutationOp::kCreate;
  m.fields = WritableFields(model::ToJson(r));
  Result<T> created = Status::Internal("not written");
  {
    std::lock_guard lock(*o_.apply_mutex);
    TANDEM_RETURN_IF_ERROR(o_.state->Enqueue(m));
    created = o_.inner->Create(std::move(r));
    if (!created.ok()) TANDEM_RETURN_IF_ERROR(o_.state->Remove(m.mutation_id));
  }
  if (created.ok() && o_.on_write) o_.on_write();
  return created;
}

template <typename T>
Result<T> RecordingStore::UpdateRecorded(T r, std::optional<int64_t> expected) {
  model::EntityType e = TypeOf(r);
  Result<T> updated = Status::Internal("not written");
  {
    std::lock_guard lock(*o_.apply_mutex);
    TANDEM_ASSIGN_OR_RETURN(Json before, GetLocal(*o_.inner, e, r.meta.id));
    Mutation m;
    m.mutation_id = o_.ids->NewId();
    m.entity = e;
    m.record_id = r.meta.id;
    m.op = MutationOp::kUpdate;
    m.fields = ChangedFields(before, model::ToJson(r));
    bool queued = !m.fields.empty();
    if (queued) TANDEM_RETURN_IF_ERROR(o_.state->Enqueue(m));
    updated = o_.inner->Update(std::move(r), expected);
    if (!updated.ok() && queued) TANDEM_RETURN_IF_ERROR(o_.state->Remove(m.mutation_id));
  }
  if (updated.ok() && o_.on_write) o_.on_write();
  return updated;
}

Result<model::Account> RecordingStore::Create(model::Account r) { return CreateRecorded(std::move(r)); }
Result<model::Contact> RecordingStore::Create(model::Contact r) { return CreateRecorded(std::move(r)); }
Result<model::Opportunity> RecordingStore::Create(model::Opportunity r) {
  return CreateRecorded(std::move(r));
}
Result<model::Activity> RecordingStore::Create(model::Activity r) { return CreateRecorded(std::move(r)); }

Result<model::Account> RecordingStore::Update(model::Account r, std::optional<int64_t> v) {
  return UpdateRecorded(std::move(r), v);
}
Result<model::Contact> RecordingStore::Update(model::Contact r, std::optional<int64_t> v) {
  return UpdateRecorded(std::move(r), v);
}
Result<model::Opportunity> RecordingStore::Update(model::Opportunity r, std::optional<int64_t> v) {
  return UpdateRecorded(std::move(r), v);
}
Result<model::Activity> RecordingStore::Update(model::Activity r, std::optional<int64_t> v) {
  return UpdateRecorded(std::move(r), v);
}

Status RecordingStore::Delete(model::EntityType entity, std::string_view id,
                              std::optional<int64_t> expected, std::string_view origin) {
  Status s;
  {
    std::lock_guard lock(*o_.apply_mutex);
    Mutation m;
    m.mutation_id = o_.ids->NewId();
    m.entity = entity;
    m.record_id = std::string(id);
    m.op = MutationOp::kDelete;
    TANDEM_RETURN_IF_ERROR(o_.state->Enqueue(m));
    s = o_.inner->Delete(entity, id, expected, origin);
    if (!s.ok()) TANDEM_RETURN_IF_ERROR(o_.state->Remove(m.mutation_id));
  }
  if (s.ok() && o_.on_write) o_.on_write();
  return s;
}

}  // namespace tandem::replica
