// libFuzzer target for the REST API's request bodies: every input is one request
// to one route of docs/API.md, sent by a logged-in user or an admin, through the
// API's own router over an in-memory store. A client's mistake must be a 4xx; a
// 5xx or an uncaught exception (the fuzzer aborts on one) is a finding.
//
// Input layout: byte 0 picks the route, byte 1 the caller; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "api/api.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/random.h"
#include "http/server.h"
#include "ical/ical.h"
#include "model/json.h"
#include "store/store.h"

namespace {

using tandem::model::Json;

struct World {
  tandem::FakeClock clock{tandem::FromUnixSeconds(1'800'000'000)};
  tandem::SeededRandom random{42};
  tandem::IdGenerator ids{clock, random};
  std::unique_ptr<tandem::store::Store> store;
  std::unique_ptr<tandem::api::RestApi> api;
  tandem::http::Router router;
  std::vector<std::string> tokens;  // user, admin
  std::vector<std::pair<std::string, std::string>> routes;  // method, path

  World() {
    store = std::move(tandem::store::OpenSqliteStore(
                          {.path = "", .clock = &clock, .ids = &ids, .series_end = &tandem::ical::SeriesEnd}))
                .value();
    std::vector<std::string> user_ids;
    for (auto [login, role] : {std::pair{"alice", tandem::model::Role::kUser},
                               std::pair{"root", tandem::model::Role::kAdmin}}) {
      tandem::model::User u;
      u.login = login;
      u.role = role;
      u.password_hash =
          tandem::api::HashPassword(std::string("pw-") + login, tandem::api::PasswordCost::Fast()).value();
      user_ids.push_back(store->CreateUser(u).value().id);
    }
    tandem::api::ApiOptions options;
    options.store = store.get();
    options.clock = &clock;
    options.random = &random;
    options.password_cost = tandem::api::PasswordCost::Fast();
    api = std::make_unique<tandem::api::RestApi>(options);
    api->Register(&router);
    for (const char* login : {"alice", "root"}) {
      auto answer = Send("POST", "/api/v1/login", "",
                         Json{{"login", login}, {"password", std::string("pw-") + login}}.dump());
      tokens.push_back(Json::parse(answer.body).at("token").get<std::string>());
    }
    // One record of each kind, so that PATCH and DELETE reach the handlers' field checks.
    auto created = [&](const std::string& entity, const Json& body) {
      auto answer = Send("POST", "/api/v1/" + entity, tokens[0], body.dump());
      return Json::parse(answer.body).at("id").get<std::string>();
    };
    std::string account = created("accounts", Json{{"name", "Acme"}});
    std::string contact = created("contacts", Json{{"first_name", "Ann"}, {"last_name", "Lee"}});
    std::string opportunity = created("opportunities", Json{{"name", "Deal"}, {"account_id", account}});
    std::string activity = created(
        "activities", Json{{"subject", "Call"}, {"start", "2027-05-01T09:00:00Z"}, {"end", "2027-05-01T10:00:00Z"}});
    routes = {
        {"POST", "/api/v1/login"},
        {"POST", "/api/v1/accounts"},
        {"PATCH", "/api/v1/accounts/" + account},
        {"POST", "/api/v1/contacts"},
        {"PATCH", "/api/v1/contacts/" + contact},
        {"POST", "/api/v1/opportunities"},
        {"PATCH", "/api/v1/opportunities/" + opportunity},
        {"POST", "/api/v1/activities"},
        {"PATCH", "/api/v1/activities/" + activity},
        {"POST", "/api/v1/users"},
        {"PATCH", "/api/v1/users/" + user_ids[0]},
        {"PUT", "/api/v1/users/" + user_ids[0]},
        {"PUT", "/api/v1/activities/" + activity},
    };
  }

  tandem::http::ServerResponse Send(const std::string& method, const std::string& path,
                                    const std::string& token, std::string body) {
    tandem::http::ServerRequest request;
    request.method = method;
    request.target = path;
    request.path = path;
    request.remote_address = "127.0.0.1";
    request.headers.push_back({"Content-Type", "application/json"});
    if (!token.empty()) request.headers.push_back({"Authorization", "Bearer " + token});
    request.body = std::move(body);
    return router.Dispatch(&request);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();  // lives for the process, like a server
  if (size < 2) return 0;
  const auto& [method, path] = world->routes[data[0] % world->routes.size()];
  const std::string& token = world->tokens[data[1] % world->tokens.size()];
  std::string body(reinterpret_cast<const char*>(data + 2), size - 2);
  auto answer = world->Send(method, path, token, std::move(body));
  // TANDEM_FUZZ_TRACE=1: each request's answer, to see what a seed reaches.
  static const bool trace = std::getenv("TANDEM_FUZZ_TRACE") != nullptr;
  if (trace) std::fprintf(stderr, "%s %s -> %d %s\n", method.c_str(), path.c_str(), answer.status,
                          answer.body.substr(0, 120).c_str());
  if (answer.status >= 500) __builtin_trap();
  return 0;
}
