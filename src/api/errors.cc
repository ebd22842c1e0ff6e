#include "api/errors.h"

namespace tandem::api {

int HttpStatusOf(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 400;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
      return 409;
    case Code::kPreconditionFailed:
      return 412;
    case Code::kConflict:
      return 409;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kResyncRequired:
      return 410;
    case Code::kResourceExhausted:
      return 413;
    case Code::kUnavailable:
      return 503;
    case Code::kDeadlineExceeded:
      return 504;
    case Code::kCorruption:
      return 500;
    case Code::kInternal:
      return 500;
  }
  return 500;
}

std::string_view ErrorNameOfHttpStatus(int http_status) {
  switch (http_status) {
    case 400:
      return "InvalidArgument";
    case 401:
      return "Unauthenticated";
    case 403:
      return "PermissionDenied";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 410:
      return "ResyncRequired";
    case 412:
      return "PreconditionFailed";
    case 413:
    case 431:
      return "ResourceExhausted";
    case 503:
      return "Unavailable";
    default:
      return "Internal";
  }
}

http::ServerResponse JsonResponse(int http_status, const model::Json& body) {
  return http::ServerResponse::Json(
      http_status, body.dump(-1, ' ', false, model::Json::error_handler_t::replace));
}

http::ServerResponse ErrorResponse(const Status& status, const model::Json& extra) {
  model::Json body = extra.is_object() ? extra : model::Json::object();
  body["error"] = std::string(CodeName(status.code()));
  body["message"] = status.message();
  if (status.Is(Code::kInvalidArgument)) {
    // Messages name the field first ("rrule: ..."): given apart for programs.
    const std::string& m = status.message();
    size_t colon = m.find(": ");
    if (colon != std::string::npos && colon > 0 && colon <= 64 &&
        m.find_first_not_of("abcdefghijklmnopqrstuvwxyz_.-[]0123456789") >= colon) {
      body["field"] = m.substr(0, colon);
    }
  }
  http::ServerResponse r = JsonResponse(HttpStatusOf(status.code()), body);
  if (status.Is(Code::kUnauthenticated)) r.SetHeader("WWW-Authenticate", "Bearer realm=\"tandem\"");
  return r;
}

http::ServerResponse ErrorResponse(const Status& status) {
  return ErrorResponse(status, model::Json::object());
}

}  // namespace tandem::api
