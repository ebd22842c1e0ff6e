// LoopbackReceiver: the redirect target of an authorization-code flow on the
// user's machine (RFC 8252 7.3): listens on 127.0.0.1 at a free port, takes the
// browser's one redirect to /callback, answers it with a short page, and hands
// over the code and state (or the error). Other requests (a favicon) get 404 and
// the wait goes on.
//
// Thread safety: one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "core/time.h"
#include "oauth/oauth.h"

namespace tandem::oauth {

class LoopbackReceiver {
 public:
  static Result<std::unique_ptr<LoopbackReceiver>> Start();
  ~LoopbackReceiver();
  // http://127.0.0.1:PORT/callback
  std::string redirect_uri() const;
  // DeadlineExceeded when no redirect came within `timeout`.
  Result<Redirect> Wait(Duration timeout);

 private:
  struct Impl;
  explicit LoopbackReceiver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The query of a request target ("/callback?code=x&state=y"), decoded.
Redirect ParseRedirectTarget(std::string_view target);

}  // namespace tandem::oauth
