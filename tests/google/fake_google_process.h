// FakeGoogle: the local fake of the Google Calendar API (tests/fakes/google,
// python3) started on 127.0.0.1 at a free port for one test, stopped by PID.
// Test-only.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "http/client.h"

namespace tandem::testing {

class FakeGoogle {
 public:
  FakeGoogle() {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      const std::string script = std::string(TANDEM_SOURCE_DIR) + "/tests/fakes/google/fake_google.py";
      execlp("python3", "python3", script.c_str(), "--port", "0", "--max-batch-calls", "50",
             static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[128] = {};
    if (f && fgets(line, sizeof line, f) && std::string(line).starts_with("READY ")) {
      port_ = std::atoi(line + 6);
    }
    if (f) fclose(f);
  }
  ~FakeGoogle() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  bool running() const { return port_ > 0; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string api() const { return base() + "/calendar/v3"; }

  // A control call (POST /_fake/...), or any call with a token.
  nlohmann::json Call(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nullptr, const std::string& token = "",
                      int* status = nullptr) const {
    http::ClientOptions o;
    o.retry.max_attempts = 1;
    http::Client client(o);
    http::Request req;
    req.method = method;
    req.url = base() + path;
    if (!body.is_null()) {
      req.body = body.dump();
      req.headers.Set("Content-Type", "application/json");
    }
    if (!token.empty()) req.headers.Set("Authorization", "Bearer " + token);
    auto r = client.Send(req);
    if (status) *status = r.ok() ? r->status : 0;
    if (!r.ok() || r->body.empty()) return nullptr;
    return nlohmann::json::parse(r->body, nullptr, false);
  }
  std::string Token(const std::string& user = "user@example.test") const {
    auto j = Call("POST", "/_fake/token", {{"user", user}});
    return j.is_object() ? j.value("access_token", "") : "";
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace tandem::testing
