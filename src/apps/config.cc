#include "apps/config.h"

#include <fmt/format.h>

#include <charconv>
#include <exception>
#include <toml.hpp>

namespace tandem::apps {

namespace {

template <typename T>
void ReadKey(const toml::value& table, const char* key, T* out) {
  if (table.contains(key)) *out = toml::find<T>(table, key);
}

}  // namespace

Status LoadConfigFile(const std::string& path, DaemonConfig* config) {
  try {
    const toml::value root = toml::parse(path);
    ReadKey(root, "listen", &config->listen);
    ReadKey(root, "data_dir", &config->data_dir);
    ReadKey(root, "log_level", &config->log_level);
    ReadKey(root, "threads", &config->threads);
    ReadKey(root, "demo", &config->demo);
    ReadKey(root, "time_zone", &config->time_zone);
    if (root.contains("auth"))
      ReadKey(toml::find(root, "auth"), "session_hours", &config->session_hours);
    if (root.contains("feed"))
      ReadKey(toml::find(root, "feed"), "tombstone_days", &config->tombstone_days);
    if (root.contains("http")) {
      ReadKey(toml::find(root, "http"), "body_limit_bytes", &config->body_limit_bytes);
    }
    if (root.contains("sync")) {
      const auto& s = toml::find(root, "sync");
      ReadKey(s, "server_job", &config->sync_server_job);
      ReadKey(s, "interval_minutes", &config->sync_interval_minutes);
      ReadKey(s, "workers", &config->sync_workers);
      ReadKey(s, "ca_file", &config->sync_ca_file);
      ReadKey(s, "calendar_addresses", &config->sync_calendar_addresses);
      ReadKey(s, "secret_key_file", &config->secret_key_file);
      ReadKey(s, "node_name", &config->sync_node_name);
      ReadKey(s, "lease_seconds", &config->sync_lease_seconds);
    }
    if (root.contains("google")) {
      const auto& g = toml::find(root, "google");
      ReadKey(g, "client_id", &config->google_client_id);
      ReadKey(g, "client_secret", &config->google_client_secret);
      ReadKey(g, "auth_url", &config->google_auth_url);
      ReadKey(g, "token_url", &config->google_token_url);
      ReadKey(g, "api_base", &config->google_api_base);
      ReadKey(g, "service_account_key_file", &config->google_service_account_key_file);
    }
    if (root.contains("microsoft")) {
      const auto& m = toml::find(root, "microsoft");
      ReadKey(m, "client_id", &config->microsoft_client_id);
      ReadKey(m, "tenant", &config->microsoft_tenant);
      ReadKey(m, "login_base", &config->microsoft_login_base);
      ReadKey(m, "api_base", &config->microsoft_api_base);
      ReadKey(m, "app_client_id", &config->microsoft_app_client_id);
      ReadKey(m, "app_secret_file", &config->microsoft_app_secret_file);
      ReadKey(m, "app_tenant", &config->microsoft_app_tenant);
    }
    if (root.contains("admin")) {
      const auto& admin = toml::find(root, "admin");
      ReadKey(admin, "login", &config->admin_login);
      ReadKey(admin, "password", &config->admin_password);
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument(fmt::format("config file {}: {}", path, e.what()));
  }
  return Status::Ok();
}

Result<ListenAddress> ParseListen(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::InvalidArgument(fmt::format("listen: '{}' is not ADDR:PORT", text));
  }
  ListenAddress out;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  out.address = std::string(host);
  std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    return Status::InvalidArgument(fmt::format("listen: '{}' is not a port", port));
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

Status Validate(const DaemonConfig& c) {
  auto listen = ParseListen(c.listen);
  if (!listen.ok()) return listen.status();
  if (c.threads < 0 || c.threads > 256) return Status::InvalidArgument("threads: must be 0..256");
  if (c.session_hours < 1) return Status::InvalidArgument("auth.session_hours: must be at least 1");
  if (c.tombstone_days < 1)
    return Status::InvalidArgument("feed.tombstone_days: must be at least 1");
  if (c.body_limit_bytes < 1024)
    return Status::InvalidArgument("http.body_limit_bytes: must be at least 1024");
  if (c.admin_login.empty()) return Status::InvalidArgument("admin.login: must not be empty");
  if (c.sync_interval_minutes < 1 || c.sync_interval_minutes > 24 * 60)
    return Status::InvalidArgument("sync.interval_minutes: must be from 1 to 1440");
  if (c.sync_workers < 1 || c.sync_workers > 64)
    return Status::InvalidArgument("sync.workers: must be from 1 to 64");
  if (c.sync_lease_seconds < 3 || c.sync_lease_seconds > 3600)
    return Status::InvalidArgument("sync.lease_seconds: must be from 3 to 3600");
  if (c.sync_node_name.find('/') != std::string::npos)
    return Status::InvalidArgument("sync.node_name: must not contain '/'");
  if (c.data_dir.empty()) return Status::InvalidArgument("data_dir: must not be empty");
  return Status::Ok();
}

}  // namespace tandem::apps
