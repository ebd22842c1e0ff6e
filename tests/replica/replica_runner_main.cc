// tandem-replica-runner: runs the offline client (replica/replica_main.h) as a
// process of its own, for the interop tests and benchmarks; the same thing
// `tandemd --replica-of URL` runs.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "replica/replica_main.h"

int main(int argc, char** argv) {
  CLI::App app{"the Tandem offline client (replica)", "tandem-replica-runner"};
  tandem::replica::ReplicaOptions o;
  int port = 8481;
  int poll_ms = 1000;
  std::string log_level = "info";
  app.add_option("--replica-of", o.server_url, "server URL")->required();
  app.add_option("--data-dir", o.data_dir, "local data directory")->required();
  app.add_option("--login", o.login, "login on the server (first start)");
  app.add_option("--password", o.password, "password (first start); or TANDEM_PASSWORD")
      ->envname("TANDEM_PASSWORD");
  app.add_option("--port", port, "local port");
  app.add_option("--page-size", o.page_size, "change feed page size");
  app.add_option("--push-batch", o.push_batch, "mutations per push batch");
  app.add_option("--poll-ms", poll_ms, "online pull interval in milliseconds");
  app.add_option("--log-level", log_level, "log level");
  app.add_flag("--fast-password-hash", o.fast_password_hash, "tests only");
  CLI11_PARSE(app, argc, argv);
  o.port = static_cast<uint16_t>(port);
  o.poll_interval = std::chrono::milliseconds(poll_ms);
  spdlog::set_level(spdlog::level::from_str(log_level));
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return tandem::replica::RunReplica(o, signals);
}
