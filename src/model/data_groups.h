// Data groups (C4): which server records the replica keeps locally.
//
// One filter per entity: whose records (mine or everyone's I may see), for
// opportunities which stages, for activities a window in days around now, and
// which large fields to leave out (they stay on the server; a local edit never
// sends them, so the server copy is never blanked). The default is "my data":
// my accounts, contacts, opportunities, and my activities from 90 days back.
//
// Both ends evaluate it: the server filters its change feed with the client's data
// groups (GET /api/v1/changes?scope=...), so out-of-scope records never cross the
// wire; the replica checks again with its own clock (an activity ages out of the
// window without a change on the server).
//
// Pure functions; thread-compatible value types.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "model/entities.h"

namespace tandem::model {

struct EntityFilter {
  bool enabled = true;
  bool mine_only = true;                  // owner_id == the replica's user
  std::vector<std::string> stages;        // opportunities: empty = all stages
  std::optional<int> days_back;           // activities ending before now - days_back are out
  std::optional<int> days_ahead;          // activities starting after now + days_ahead are out
  std::vector<std::string> excluded_fields;  // e.g. "description", "notes", "ical_extra"
};

struct DataGroups {
  EntityFilter accounts;
  EntityFilter contacts;
  EntityFilter opportunities;
  EntityFilter activities;

  const EntityFilter& For(model::EntityType e) const;
  EntityFilter& For(model::EntityType e);
};

DataGroups DefaultDataGroups();

nlohmann::json ToJson(const DataGroups& g);
// Fields absent from `j` keep their default. InvalidArgument naming the field.
Result<DataGroups> DataGroupsFromJson(const nlohmann::json& j);

// What the decision needs of a record.
struct ScopeFacts {
  std::string_view owner_id;
  std::string_view stage;  // opportunities
  bool recurring = false;  // activities: a series is kept whatever its first dates
  std::optional<Instant> start;
  std::optional<Instant> end;
};
bool FactsInScope(const DataGroups& g, model::EntityType e, const ScopeFacts& facts,
             std::string_view user_id, Instant now);

// Whether a server record (JSON as in model/json.h) belongs in the replica.
bool InScope(const DataGroups& g, model::EntityType e, const nlohmann::json& record,
             std::string_view user_id, Instant now);
// The same for typed records (the server side).
bool InScope(const DataGroups& g, const Account& r, std::string_view user_id, Instant now);
bool InScope(const DataGroups& g, const Contact& r, std::string_view user_id, Instant now);
bool InScope(const DataGroups& g, const Opportunity& r, std::string_view user_id, Instant now);
bool InScope(const DataGroups& g, const Activity& r, std::string_view user_id, Instant now);

// The record without its excluded fields (they are left at their defaults locally).
nlohmann::json WithoutExcluded(const DataGroups& g, model::EntityType e, nlohmann::json record);

}  // namespace tandem::model
