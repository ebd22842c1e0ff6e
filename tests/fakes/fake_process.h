// FakeProcess: one of the local fakes of tests/fakes (python3) started on
// 127.0.0.1 at a free port for one test, and stopped by PID. The fake prints
// "READY <port>" once it listens. Test-only.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/client.h"

namespace tandem::testing {

class FakeProcess {
 public:
  // `script`: a path under the source tree, e.g. "tests/fakes/google/fake_google.py".
  FakeProcess(const std::string& script, const std::vector<std::string>& args) {
    int out[2];
    if (pipe(out) != 0) return;
    const std::string path = std::string(TANDEM_SOURCE_DIR) + "/" + script;
    std::vector<std::string> argv_text = {"python3", path, "--port", "0"};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (auto& a : argv_text) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("python3", argv.data());
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
  ~FakeProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  FakeProcess(const FakeProcess&) = delete;
  FakeProcess& operator=(const FakeProcess&) = delete;

  bool running() const { return port_ > 0; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // A control call (POST /_fake/...), or any call with a token.
  nlohmann::json Call(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nullptr, const std::string& token = "",
                      int* status = nullptr) const {
    http::ClientOptions o;
    o.retry.max_attempts = 1;
    http::Client client(o);
    http::Request req;
    req.method = method;
    req.url = path.starts_with("http") ? path : base() + path;
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
  // An access token for acting as `user` (POST /_fake/token).
  std::string Token(const std::string& user = "user@example.test") const {
    auto j = Call("POST", "/_fake/token", {{"user", user}});
    return j.is_object() ? j.value("access_token", "") : "";
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace tandem::testing
