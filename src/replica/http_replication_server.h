// ReplicationServer over the REST API of a tandemd server (tandem::http::Client).
//
// Logs in with the stored login and password when it has no token and again
// when the server answers 401 (an expired session after a long sleep): the user
// never logs in twice (C6). Requests are tried once with short timeouts: a dead
// server must be noticed within seconds, and the replicator retries by itself.
//
// Thread safety: safe for concurrent use (calls are serialized; one connection).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "http/client.h"
#include "replica/replication_server.h"

namespace tandem::replica {

struct HttpServerOptions {
  std::string base_url;  // "http://127.0.0.1:8480"
  std::string login;
  std::string password;
  std::string token;  // a token from an earlier login; may be empty
  const Clock* clock = nullptr;  // REQUIRED
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds timeout{15000};
  // Called with every new token (the replica keeps it for its next start).
  std::function<void(const std::string&)> on_token;
};

class HttpReplicationServer final : public ReplicationServer {
 public:
  explicit HttpReplicationServer(HttpServerOptions options);
  ~HttpReplicationServer() override;

  Result<FeedPage> Changes(std::string_view since, int limit, std::string_view scope) override;
  Result<std::vector<PushResult>> Push(const std::vector<OutgoingMutation>& batch) override;
  Result<ServerInfo> Info() override;
  Result<Json> Me() override;

  // POST /api/v1/login: the whole answer ({"token", "expires", "user"}).
  Result<Json> Login();

 private:
  // REQUIRES: mu_ held.
  Result<http::Response> SendAuthorized(std::string method, std::string path_and_query,
                                        const Json* body);
  Result<Json> LoginLocked();
  Result<http::Response> SendLocked(std::string method, std::string path_and_query,
                                    const Json* body, bool with_token);

  HttpServerOptions options_;
  std::mutex mu_;
  std::unique_ptr<http::Client> client_;
};

// Parses an HTTP date ("Tue, 24 Nov 2026 10:41:21 GMT").
std::optional<Instant> ParseHttpDate(std::string_view text);

// The Status of an unwanted answer: the API's {"error","message"} body when it
// has one, else http::StatusForHttpError.
Status StatusOfAnswer(const http::Response& response, std::string_view what);

}  // namespace tandem::replica
