// Reading one field of a JSON object as the type it must have, without
// exceptions: nlohmann's `value()` and `get<T>()` throw on a field of another
// type, which turned a client's `{"provider": 5}` into a 500 and a server's
// wrong-typed answer into the end of the replica's sync thread.
//
// A missing or null field gives the fallback; a field of another type is
// InvalidArgument naming the field ("provider: must be a string, not a number").
// Callers reading another server's answer turn that into Corruption (Wire()).
//
// Example:
//   TANDEM_ASSIGN_OR_RETURN(std::string login, model::StringField(body, "login"));
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace tandem::model {

inline std::string JsonTypeName(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "true/false";
    case nlohmann::json::value_t::number_float: return "a decimal number";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "a number";
    default: return "an unusable value";
  }
}

namespace detail {
inline const nlohmann::json* Field(const nlohmann::json& j, std::string_view name) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}
inline Status WrongType(std::string_view name, std::string_view want, const nlohmann::json& got) {
  return Status::InvalidArgument(
      std::string(name) + ": must be " + std::string(want) + ", not " + JsonTypeName(got));
}
}  // namespace detail

inline Result<std::string> StringField(const nlohmann::json& j, std::string_view name,
                                       std::string fallback = {}) {
  const nlohmann::json* v = detail::Field(j, name);
  if (v == nullptr) return fallback;
  if (!v->is_string()) return detail::WrongType(name, "a string", *v);
  return v->get<std::string>();
}

inline Result<bool> BoolField(const nlohmann::json& j, std::string_view name, bool fallback = false) {
  const nlohmann::json* v = detail::Field(j, name);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) return detail::WrongType(name, "true or false", *v);
  return v->get<bool>();
}

inline Result<int64_t> IntField(const nlohmann::json& j, std::string_view name, int64_t fallback = 0) {
  const nlohmann::json* v = detail::Field(j, name);
  if (v == nullptr) return fallback;
  if (!v->is_number_integer() ||
      (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)))
    return detail::WrongType(name, "a whole number", *v);
  return v->get<int64_t>();
}

// An object field (a copy); null or missing gives `fallback` (an empty object
// unless said otherwise).
inline Result<nlohmann::json> ObjectField(const nlohmann::json& j, std::string_view name,
                                          nlohmann::json fallback = nlohmann::json::object()) {
  const nlohmann::json* v = detail::Field(j, name);
  if (v == nullptr) return fallback;
  if (!v->is_object()) return detail::WrongType(name, "an object", *v);
  return *v;
}

// Another server's answer with a wrong-typed field: Corruption, with context.
inline Status Wire(const Status& s, std::string_view context) {
  if (s.ok()) return s;
  return Status::Corruption(std::string(context) + ": " + s.message());
}

}  // namespace tandem::model
