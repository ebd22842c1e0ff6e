#include "store/sqlite/record_rows.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace tandem::store::sqlite {
namespace {

std::string InstantsToJson(const std::vector<Instant>& instants) {
  nlohmann::json array = nlohmann::json::array();
  for (Instant t : instants) array.push_back(ToUnixMicros(t));
  return array.dump();
}

Status InstantsFromJson(std::string_view text, std::string_view field, std::vector<Instant>* out) {
  out->clear();
  if (text == "[]") return Status::Ok();  // the common case; skips the parser
  nlohmann::json array = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!array.is_array()) {
    return Status::Corruption(fmt::format("activity {}: not a JSON array", field));
  }
  for (const auto& v : array) {
    if (!v.is_number_integer()) {
      return Status::Corruption(fmt::format("activity {}: not an integer instant", field));
    }
    out->push_back(FromUnixMicros(v.get<int64_t>()));
  }
  return Status::Ok();
}

template <typename E>
Status ParseColumn(Result<E> parsed, std::string_view field, E* out) {
  if (!parsed.ok()) {
    return Status::Corruption(fmt::format("stored {}: {}", field, parsed.status().message()));
  }
  *out = *parsed;
  return Status::Ok();
}

}  // namespace

void BindMeta(Statement& stmt, const model::RecordMeta& meta) {
  stmt.BindText(1, meta.id)
      .BindText(2, meta.owner_id)
      .BindBool(3, meta.shared)
      .BindInt64(4, ToUnixMicros(meta.created))
      .BindInt64(5, ToUnixMicros(meta.modified))
      .BindInt64(6, meta.version);
}

void ReadMeta(const Statement& stmt, model::RecordMeta* meta) {
  meta->id = stmt.Text(0);
  meta->owner_id = stmt.Text(1);
  meta->shared = stmt.Bool(2);
  meta->created = FromUnixMicros(stmt.Int64(3));
  meta->modified = FromUnixMicros(stmt.Int64(4));
  meta->version = stmt.Int64(5);
}

void RecordRow<model::Account>::Bind(Statement& stmt, int first, const model::Account& r) {
  stmt.BindText(first, r.name)
      .BindText(first + 1, r.website)
      .BindText(first + 2, r.phone)
      .BindText(first + 3, r.address)
      .BindText(first + 4, r.notes);
}

Status RecordRow<model::Account>::Read(const Statement& stmt, int first, model::Account* r) {
  r->name = stmt.Text(first);
  r->website = stmt.Text(first + 1);
  r->phone = stmt.Text(first + 2);
  r->address = stmt.Text(first + 3);
  r->notes = stmt.Text(first + 4);
  return Status::Ok();
}

void RecordRow<model::Contact>::Bind(Statement& stmt, int first, const model::Contact& r) {
  stmt.BindText(first, r.account_id)
      .BindText(first + 1, r.first_name)
      .BindText(first + 2, r.last_name)
      .BindText(first + 3, r.email)
      .BindText(first + 4, r.phone)
      .BindText(first + 5, r.job_title)
      .BindText(first + 6, r.notes)
      .BindBlob(first + 7, std::string_view(r.vcard_extra));
}

Status RecordRow<model::Contact>::Read(const Statement& stmt, int first, model::Contact* r) {
  r->account_id = stmt.Text(first);
  r->first_name = stmt.Text(first + 1);
  r->last_name = stmt.Text(first + 2);
  r->email = stmt.Text(first + 3);
  r->phone = stmt.Text(first + 4);
  r->job_title = stmt.Text(first + 5);
  r->notes = stmt.Text(first + 6);
  r->vcard_extra = stmt.Blob(first + 7);
  return Status::Ok();
}

void RecordRow<model::Opportunity>::Bind(Statement& stmt, int first, const model::Opportunity& r) {
  stmt.BindText(first, r.name)
      .BindText(first + 1, r.account_id)
      .BindText(first + 2, r.contact_id)
      .BindText(first + 3, model::StageName(r.stage))
      .BindInt64(first + 4, r.amount_cents)
      .BindText(first + 5, r.currency)
      .BindText(first + 6, r.close_date)
      .BindText(first + 7, r.notes);
}

Status RecordRow<model::Opportunity>::Read(const Statement& stmt, int first,
                                           model::Opportunity* r) {
  r->name = stmt.Text(first);
  r->account_id = stmt.Text(first + 1);
  r->contact_id = stmt.Text(first + 2);
  TANDEM_RETURN_IF_ERROR(
      ParseColumn(model::ParseStage(stmt.TextView(first + 3)), "stage", &r->stage));
  r->amount_cents = stmt.Int64(first + 4);
  r->currency = stmt.Text(first + 5);
  r->close_date = stmt.Text(first + 6);
  r->notes = stmt.Text(first + 7);
  return Status::Ok();
}

std::string RecordRow<model::Activity>::InstantsText(const std::vector<Instant>& instants) {
  return InstantsToJson(instants);
}

void RecordRow<model::Activity>::Bind(Statement& stmt, int first, const model::Activity& r,
                                      std::optional<int64_t> series_end_micros) {
  stmt.BindText(first, model::KindName(r.kind))
      .BindText(first + 1, r.subject)
      .BindText(first + 2, r.location)
      .BindText(first + 3, r.description)
      .BindInt64(first + 4, ToUnixMicros(r.start))
      .BindInt64(first + 5, ToUnixMicros(r.end))
      .BindBool(first + 6, r.all_day)
      .BindText(first + 7, r.time_zone)
      .BindText(first + 8, model::ShowAsName(r.show_as))
      .BindBool(first + 9, r.is_private)
      .BindOptionalInt64(first + 10, r.reminder_minutes
                                         ? std::optional<int64_t>(*r.reminder_minutes)
                                         : std::nullopt)
      .BindText(first + 11, model::RegardingName(r.regarding_type))
      .BindText(first + 12, r.regarding_id)
      .BindText(first + 13, r.rrule)
      .BindText(first + 14, InstantsToJson(r.exdates))
      .BindText(first + 15, InstantsToJson(r.rdates))
      .BindBlob(first + 16, std::string_view(r.ical_extra))
      .BindBool(first + 17, r.cancelled)
      .BindInt64(first + 18, r.sequence)
      .BindOptionalInt64(first + 19, series_end_micros);
}

Status RecordRow<model::Activity>::Read(const Statement& stmt, int first, model::Activity* r) {
  TANDEM_RETURN_IF_ERROR(ParseColumn(model::ParseKind(stmt.TextView(first)), "kind", &r->kind));
  r->subject = stmt.Text(first + 1);
  r->location = stmt.Text(first + 2);
  r->description = stmt.Text(first + 3);
  r->start = FromUnixMicros(stmt.Int64(first + 4));
  r->end = FromUnixMicros(stmt.Int64(first + 5));
  r->all_day = stmt.Bool(first + 6);
  r->time_zone = stmt.Text(first + 7);
  TANDEM_RETURN_IF_ERROR(
      ParseColumn(model::ParseShowAs(stmt.TextView(first + 8)), "show_as", &r->show_as));
  r->is_private = stmt.Bool(first + 9);
  std::optional<int64_t> reminder = stmt.OptionalInt64(first + 10);
  r->reminder_minutes = reminder ? std::optional<int>(static_cast<int>(*reminder)) : std::nullopt;
  TANDEM_RETURN_IF_ERROR(ParseColumn(model::ParseRegarding(stmt.TextView(first + 11)),
                                     "regarding_type", &r->regarding_type));
  r->regarding_id = stmt.Text(first + 12);
  r->rrule = stmt.Text(first + 13);
  TANDEM_RETURN_IF_ERROR(InstantsFromJson(stmt.TextView(first + 14), "exdates", &r->exdates));
  TANDEM_RETURN_IF_ERROR(InstantsFromJson(stmt.TextView(first + 15), "rdates", &r->rdates));
  r->ical_extra = stmt.Blob(first + 16);
  r->cancelled = stmt.Bool(first + 17);
  r->sequence = stmt.Int64(first + 18);
  return Status::Ok();
}

}  // namespace tandem::store::sqlite
