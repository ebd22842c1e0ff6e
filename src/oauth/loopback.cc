#include "oauth/loopback.h"

#include <fmt/format.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <map>

#include "http/server.h"

namespace tandem::oauth {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

}  // namespace

Redirect ParseRedirectTarget(std::string_view target) {
  Redirect r;
  auto q = target.find('?');
  if (q == std::string_view::npos) return r;
  std::string_view rest = target.substr(q + 1);
  std::map<std::string, std::string> fields;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    auto eq = kv.find('=');
    fields[http::PercentDecode(kv.substr(0, eq), true)] =
        eq == std::string_view::npos ? "" : http::PercentDecode(kv.substr(eq + 1), true);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  r.code = fields["code"];
  r.state = fields["state"];
  r.error = fields["error"];
  r.error_description = fields["error_description"];
  return r;
}

struct LoopbackReceiver::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  uint16_t port = 0;
};

LoopbackReceiver::LoopbackReceiver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LoopbackReceiver::~LoopbackReceiver() = default;

Result<std::unique_ptr<LoopbackReceiver>> LoopbackReceiver::Start() {
  auto impl = std::make_unique<Impl>();
  boost::system::error_code ec;
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(4, ec);
  if (ec) return Status::Unavailable("cannot listen on 127.0.0.1 for the authorization: " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  return std::unique_ptr<LoopbackReceiver>(new LoopbackReceiver(std::move(impl)));
}

std::string LoopbackReceiver::redirect_uri() const {
  return fmt::format("http://127.0.0.1:{}/callback", impl_->port);
}

Result<Redirect> LoopbackReceiver::Wait(Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  for (;;) {
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::DeadlineExceeded("no answer from the browser; run the command again");
    beast::tcp_stream stream(impl_->io);
    bool accepted = false;
    boost::system::error_code ec;
    impl_->acceptor.async_accept(stream.socket(), [&](boost::system::error_code e) {
      ec = e;
      accepted = true;
    });
    impl_->io.restart();
    impl_->io.run_until(deadline);
    if (!accepted) {
      impl_->acceptor.cancel();
      impl_->io.restart();
      impl_->io.run();
      return Status::DeadlineExceeded("no answer from the browser; run the command again");
    }
    if (ec) continue;
    beast::flat_buffer buffer;
    beast::http::request<beast::http::string_body> req;
    stream.expires_after(std::chrono::seconds(10));
    beast::http::read(stream, buffer, req, ec);
    if (ec) continue;
    const std::string target(req.target());
    beast::http::response<beast::http::string_body> res;
    res.version(11);
    res.set(beast::http::field::content_type, "text/html; charset=utf-8");
    res.set(beast::http::field::connection, "close");
    if (!target.starts_with("/callback")) {
      res.result(beast::http::status::not_found);
      res.body() = "not found";
      res.prepare_payload();
      beast::http::write(stream, res, ec);
      continue;
    }
    Redirect r = ParseRedirectTarget(target);
    res.result(beast::http::status::ok);
    res.body() = r.error.empty()
                     ? "<!doctype html><title>Tandem</title><p>Tandem is authorized. You can close "
                       "this window and return to the terminal.</p>"
                     : "<!doctype html><title>Tandem</title><p>The authorization did not go "
                       "through. Return to the terminal.</p>";
    res.prepare_payload();
    beast::http::write(stream, res, ec);
    return r;
  }
}

}  // namespace tandem::oauth
