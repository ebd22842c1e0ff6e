// The local copy of CRM records, addressed by (entity, id) and JSON, over the
// local Store: what the pull applies and what conflict resolution reads.
//
// Versions, created and modified of the local copy are the local store's own
// (the local API's ETags); the server version lives in ReplicaState.
//
// Thread safety: as the Store's.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/status.h"
#include "model/entities.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace tandem::replica {

// Writes a server record (JSON of model/json.h) into the local store: Update
// when present, else Create with the server's id. `probably_present` picks the
// first attempt.
Status PutLocal(store::Store& local, model::EntityType e, const nlohmann::json& record,
                bool probably_present);
// A server record as one write of SqliteStore::ApplyWrites (a page of the pull
// is applied in one local transaction).
Result<store::sqlite::SqliteStore::RecordWrite> ToRecordWrite(model::EntityType e,
                                                              const nlohmann::json& record,
                                                              bool probably_present);
// Removes the local copy; OK when there was none.
Status DropLocal(store::Store& local, model::EntityType e, std::string_view id);
// The local copy as JSON; NotFound when absent.
Result<nlohmann::json> GetLocal(store::Store& local, model::EntityType e, std::string_view id);

// The fields of a record a mutation carries: everything but the server-owned
// metadata (id, version, created, modified).
nlohmann::json WritableFields(nlohmann::json record);
// The writable fields whose values differ from `before` to `after`.
nlohmann::json ChangedFields(const nlohmann::json& before, const nlohmann::json& after);

}  // namespace tandem::replica
