// The JSON form of every entity: one mapping used by the REST API, the CLI and
// the offline replica. Field names are the struct member names; times are RFC 3339
// text; record metadata fields (id, owner_id, shared, created, modified, version)
// sit at the top level next to the entity's own fields.
#pragma once

#include <nlohmann/json.hpp>

#include "model/entities.h"

namespace tandem::model {

using Json = nlohmann::json;

Json ToJson(const User& u);  // never includes password_hash
Json ToJson(const Account& a);
Json ToJson(const Contact& c);
Json ToJson(const Opportunity& o);
Json ToJson(const Activity& a);

// Append to `*out` exactly the text of ToJson(x).dump(-1, ' ', false,
// Json::error_handler_t::replace) (same keys in the same order, same escaping),
// without building a Json tree: the fast path for list and change-feed answers.
// Thread-safe (no shared state).
void AppendJson(const Account& a, std::string* out);
void AppendJson(const Contact& c, std::string* out);
void AppendJson(const Opportunity& o, std::string* out);
void AppendJson(const Activity& a, std::string* out);

// Appends `s` as a JSON string literal, escaped as Json::dump does with
// error_handler_t::replace (invalid UTF-8 becomes U+FFFD).
void AppendJsonString(std::string_view s, std::string* out);

// Applies the fields present in `j` onto `*out` (so it serves create, onto a
// default value, and partial update, onto the current record). Server-owned fields
// (id, version, created, modified, password_hash) are ignored; owner_id and shared
// are applied and left for the caller to authorize. A wrongly typed or invalid
// field gives InvalidArgument naming the field. Unknown fields are ignored.
// REQUIRES: j is an object (else InvalidArgument).
Status MergeJson(const Json& j, User* out);
Status MergeJson(const Json& j, Account* out);
Status MergeJson(const Json& j, Contact* out);
Status MergeJson(const Json& j, Opportunity* out);
Status MergeJson(const Json& j, Activity* out);

// Reads the metadata fields too (id, version, created, modified): for clients
// (CLI, replica) that receive records from a server.
Status FromServerJson(const Json& j, Account* out);
Status FromServerJson(const Json& j, Contact* out);
Status FromServerJson(const Json& j, Opportunity* out);
Status FromServerJson(const Json& j, Activity* out);
Status FromServerJson(const Json& j, User* out);

}  // namespace tandem::model
