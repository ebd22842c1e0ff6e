#!/usr/bin/env python3
"""dav_proxy.py LISTEN_PORT TARGET_PORT CONTROL_DIR

A loopback HTTP proxy in front of a calendar server, for end-to-end tests that
need a server that stalls or goes away in the middle of a sync run:
  - while CONTROL_DIR/stall exists, every request waits (until it is removed);
  - after CONTROL_DIR/die-after-puts holds N, the proxy exits (port closed, so
    connections are refused) once it has forwarded N PUT requests.
Each request is logged to CONTROL_DIR/requests.log ("METHOD path status"), and
"stalled METHOD path" when it starts waiting.
"""
import http.client
import http.server
import os
import sys
import threading
import time

LISTEN, TARGET, CONTROL = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
puts = 0


def log(line):
    with lock, open(os.path.join(CONTROL, "requests.log"), "a") as f:
        f.write(line + "\n")


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        global puts
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if os.path.exists(os.path.join(CONTROL, "stall")):
            log(f"stalled {self.command} {self.path}")
            while os.path.exists(os.path.join(CONTROL, "stall")):
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", TARGET, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body=body, headers=headers)
        res = conn.getresponse()
        data = res.read()
        self.send_response(res.status, res.reason)
        for k, v in res.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client went away (e.g. killed) meanwhile
            pass
        conn.close()
        log(f"{self.command} {self.path} {res.status}")
        if self.command == "PUT":
            with lock:
                puts += 1
                n = puts
            limit = os.path.join(CONTROL, "die-after-puts")
            if os.path.exists(limit) and n >= int(open(limit).read().strip() or 0):
                log("proxy going away")
                os._exit(0)

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.forward
        raise AttributeError(name)


server = http.server.ThreadingHTTPServer(("127.0.0.1", LISTEN), Proxy)
server.daemon_threads = True
server.serve_forever()
