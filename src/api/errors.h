// The one mapping from Status codes to HTTP answers of the REST API, and the
// error body shape: {"error": "<code name>", "message": "..."}.
#pragma once

#include <string_view>

#include "core/status.h"
#include "http/server.h"
#include "model/json.h"

namespace tandem::api {

int HttpStatusOf(Code code);
// The code name used in error bodies for an HTTP status the HTTP layer answers
// itself (400 -> InvalidArgument, 413/431 -> ResourceExhausted, ...).
std::string_view ErrorNameOfHttpStatus(int http_status);

http::ServerResponse ErrorResponse(const Status& status);
// An error answer with extra fields merged into the body (e.g. "current").
http::ServerResponse ErrorResponse(const Status& status, const model::Json& extra);
http::ServerResponse JsonResponse(int http_status, const model::Json& body);

}  // namespace tandem::api
