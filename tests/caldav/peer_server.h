// PeerServer: starts a real CalDAV server (Radicale or Xandikos, Debian packages)
// on 127.0.0.1 with a temporary folder through the peer scripts in
// the project's scripts/peers (TANDEM_PEERS_DIR overrides), and stops it by PID when
// destroyed (also when a test failed). Server-side edits go through the curl
// command line, so they are made by an independent client, not by our code.
// Test-only.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace tandem::testing {

enum class PeerKind { kRadicale, kXandikos };

inline std::string PeerName(PeerKind kind) {
  return kind == PeerKind::kRadicale ? "Radicale" : "Xandikos";
}

// Runs a shell command, returns its stdout (trailing newline removed).
inline std::string RunCommand(const std::string& command, int* exit_code = nullptr) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  if (exit_code != nullptr) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

inline int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

class PeerServer {
 public:
  explicit PeerServer(PeerKind kind) : kind_(kind) {
    const char* peers = std::getenv("TANDEM_PEERS_DIR");
    std::string dir = peers ? peers : TANDEM_PEERS_DIR_DEFAULT;
    char tmpl[] = "/tmp/tandem-caldav-interop.XXXXXX";
    data_dir_ = mkdtemp(tmpl);
    port_ = FreeLoopbackPort();
    std::string script = dir + (kind == PeerKind::kRadicale ? "/start-radicale.sh" : "/start-xandikos.sh");
    std::string args = kind == PeerKind::kRadicale ? " test test calendar" : " test calendar";
    int code = 0;
    std::string pid_text = RunCommand(script + " " + std::to_string(port_) + " " +
                                          ShellQuote(data_dir_ + "/server") + args + " 2>" +
                                          ShellQuote(data_dir_ + "/start.log"),
                                      &code);
    if (code == 0 && !pid_text.empty()) pid_ = std::atoi(pid_text.c_str());
  }

  ~PeerServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      for (int i = 0; i < 100 && kill(pid_, 0) == 0; ++i) usleep(50'000);
      if (kill(pid_, 0) == 0) kill(pid_, SIGKILL);
    }
    std::error_code ignored;
    if (std::getenv("TANDEM_KEEP_INTEROP_DIR") == nullptr) {
      std::filesystem::remove_all(data_dir_, ignored);
    }
  }

  bool running() const { return pid_ > 0; }
  std::string start_log() const { return RunCommand("cat " + ShellQuote(data_dir_ + "/start.log")); }
  PeerKind kind() const { return kind_; }
  std::string Origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string CalendarPath() const {
    return kind_ == PeerKind::kRadicale ? "/test/calendar/" : "/test/calendars/calendar/";
  }
  std::string CalendarUrl() const { return Origin() + CalendarPath(); }
  std::string LogFile() const {
    return data_dir_ + "/server/" + (kind_ == PeerKind::kRadicale ? "radicale.log" : "xandikos.log");
  }
  const std::string& data_dir() const { return data_dir_; }

  // curl against the server; returns the HTTP status code.
  int Curl(const std::string& method, const std::string& path, const std::string& body = "",
           const std::string& extra_headers = "") const {
    std::string body_file = data_dir_ + "/curl-body";
    std::string cmd = "curl -s -o /dev/null -w '%{http_code}' -u test:test -X " + method + " " +
                      extra_headers;
    if (!body.empty()) {
      FILE* f = fopen(body_file.c_str(), "wb");
      fwrite(body.data(), 1, body.size(), f);
      fclose(f);
      cmd += " -H 'Content-Type: text/calendar; charset=utf-8' --data-binary @" + ShellQuote(body_file);
    }
    cmd += " " + ShellQuote(Origin() + path);
    return std::atoi(RunCommand(cmd).c_str());
  }
  // curl GET; returns the ETag header value.
  std::string CurlEtag(const std::string& path) const {
    return RunCommand("curl -s -u test:test -D - -o /dev/null " + ShellQuote(Origin() + path) +
                      " | tr -d '\\r' | sed -nE 's/^[Ee][Tt][Aa][Gg]: *//p'");
  }
  // Deletes and re-creates the calendar collection (a "different calendar" at the same URL).
  bool RecreateCalendar() const {
    int del = Curl("DELETE", CalendarPath());
    std::string body_file = data_dir_ + "/mkcal";
    FILE* f = fopen(body_file.c_str(), "wb");
    std::string xml = R"(<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>calendar</D:displayname></D:prop></D:set></C:mkcalendar>)";
    fwrite(xml.data(), 1, xml.size(), f);
    fclose(f);
    std::string code = RunCommand(
        "curl -s -o /dev/null -w '%{http_code}' -u test:test -X MKCALENDAR -H 'Content-Type: "
        "application/xml' --data-binary @" + ShellQuote(body_file) + " " + ShellQuote(CalendarUrl()));
    return del >= 200 && del < 300 && code == "201";
  }

 private:
  PeerKind kind_;
  std::string data_dir_;
  int port_ = 0;
  int pid_ = 0;
};

}  // namespace tandem::testing
