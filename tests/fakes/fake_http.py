"""HTTP plumbing shared by the local fakes of tests/fakes (Google Calendar,
Microsoft Graph): a threading server on loopback and a request handler base that
reads bodies (Content-Length or chunked) and sends answers with a length. What
each service answers is its fake's own; nothing here knows a service.

TCP_NODELAY is on for every accepted connection: http.server sends the status line
and headers in one write and the body in another, and with Nagle's algorithm a
small body waits for the client's delayed acknowledgement of the headers (~40 ms
on Linux), so every small answer would take ~44 ms for any client. The services'
own front ends do not behave like that.
"""
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REASONS = {200: "OK", 201: "Created", 204: "No Content", 302: "Found",
           304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 410: "Gone", 412: "Precondition Failed",
           415: "Unsupported Media Type", 423: "Locked",
           424: "Failed Dependency", 429: "Too Many Requests",
           500: "Internal Server Error", 501: "Not Implemented",
           502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}

_LOG_LOCK = threading.Lock()


def log_line(name, msg):
    """One line on stderr, "[NAME] MSG"."""
    with _LOG_LOCK:
        sys.stderr.write("[%s] %s\n" % (name, msg))
        sys.stderr.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Handler(BaseHTTPRequestHandler):
    """Subclasses set server_version and log_name and define handle_any()."""
    protocol_version = "HTTP/1.1"
    sys_version = ""
    disable_nagle_algorithm = True
    log_name = "fake"

    def log_message(self, fmt, *args):
        log_line(self.log_name, "%s %s" % (self.address_string(), fmt % args))

    def log_request(self, code="-", size="-"):
        pass   # handle_any logs one line per request

    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body=b"", headers=None, ctype=None):
        self.send_response(status, REASONS.get(status))
        hdrs = dict(headers or {})
        if ctype and status not in (204, 304):
            hdrs["Content-Type"] = ctype
        for k, v in hdrs.items():
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status not in (204, 304) and body:
            self.wfile.write(body)

    def handle_any(self):
        raise NotImplementedError


def serve(server_class, handler_class, opts, state, log):
    """Runs a fake until SIGTERM or SIGINT: its state loaded from opts.state when
    that file exists (and saved there on the way out), the server bound to
    127.0.0.1:opts.port, "READY PORT" as the one line on stdout."""
    if opts.state and os.path.exists(opts.state):
        with open(opts.state) as f:
            state.load_json(json.load(f))
        log("loaded state from %s" % opts.state)
    server = server_class(("127.0.0.1", opts.port), handler_class)
    server.setup_app(state)
    opts.bound_port = server.server_address[1]
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    sys.stdout.write("READY %d\n" % opts.bound_port)
    sys.stdout.flush()
    sys.stdout = sys.stderr          # keep stdout quiet from here on
    log("listening on 127.0.0.1:%d" % opts.bound_port)
    while not stop.is_set():
        stop.wait(0.5)
    server.shutdown()
    server.server_close()
    if opts.state:
        try:
            state.save(opts.state)
            log("saved state to %s" % opts.state)
        except OSError as exc:
            log("could not save state: %s" % exc)
    log("stopped")
    return 0


class Control:
    """The /_fake/NAME control endpoints of a fake: METHOD NAME runs the method
    `method_name(body, query)` under the state's lock. Subclasses add their own
    endpoints and name, in `bad_input`, the exceptions that are the caller's
    mistake (a 400 with the exception's text)."""
    bad_input = (KeyError, ValueError, TypeError)

    def __init__(self, state, app):
        self.S = state
        self.app = app

    def handle(self, method, path, query, raw):
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return 400, {"error": "body must be JSON"}
        if not isinstance(body, dict):
            return 400, {"error": "body must be a JSON object"}
        name = path[len("/_fake/"):].strip("/")
        fn = getattr(self, "%s_%s" % (method.lower(), name), None)
        if fn is None:
            return 404, {"error": "no such control endpoint: %s %s"
                                  % (method, path)}
        with self.S.lock:
            try:
                return fn(body, query)
            except self.bad_input as exc:
                return 400, {"error": self.error_text(exc)}

    @staticmethod
    def error_text(exc):
        return str(exc)

    # the requests seen and the failures to inject, alike in every fake
    def get_fail(self, body, query):
        return 200, {"rules": self.S.fail_rules}

    def post_clear_fail(self, body, query):
        self.S.fail_rules = []
        return 200, {"ok": True}

    def get_requests(self, body, query):
        return 200, list(self.S.requests)

    def post_clear_requests(self, body, query):
        self.S.requests = []
        return 200, {"ok": True}

    def post_expire_access_tokens(self, body, query):
        for info in self.S.access_tokens.values():
            info["exp"] = 0
        return 200, {"expired": len(self.S.access_tokens)}
