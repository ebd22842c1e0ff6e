#!/usr/bin/python3
# replay_server.py PORT ICS_DIR LOG
#
# A minimal CalDAV collection for the memory benchmark: serves every *.ics file of
# ICS_DIR (as written by seed-events.sh) at /test/calendar/ on 127.0.0.1:PORT.
# PROPFIND answers the collection properties (sync-collection supported);
# REPORT sync-collection with an empty token streams all items with getetag and
# calendar-data (chunked, Radicale-shaped XML), with a token: no changes.
# Used so that 100,000 events can be served without a server-side build-up time
# that the 2-core bench machine cannot afford; one line per request goes to LOG
# ("METHOD request for PATH", like Radicale's log).
import hashlib
import html
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, ICS_DIR, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
COLLECTION = "/test/calendar/"
TOKEN = "http://replay.test/ns/sync/1"
NAMES = sorted(n for n in os.listdir(ICS_DIR) if n.endswith(".ics"))
HEAD = ('<?xml version="1.0" encoding="utf-8"?>\n<multistatus xmlns="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">')


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _log(self):
        with open(LOG, "a") as f:
            f.write(f"[replay] {self.command} request for {self.path!r}\n")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def do_PROPFIND(self):
        self._log()
        self._body()
        props = ("<resourcetype><collection/><C:calendar/></resourcetype><displayname>replay</displayname>"
                 f"<sync-token>{TOKEN}</sync-token><CS:getctag>\"1\"</CS:getctag><supported-report-set>"
                 "<supported-report><report><sync-collection/></report></supported-report>"
                 "<supported-report><report><C:calendar-multiget/></report></supported-report>"
                 "<supported-report><report><C:calendar-query/></report></supported-report>"
                 "</supported-report-set>")
        self._send(207, f"{HEAD}<response><href>{COLLECTION}</href><propstat><prop>{props}</prop>"
                        "<status>HTTP/1.1 200 OK</status></propstat></response></multistatus>")

    def do_REPORT(self):
        self._log()
        body = self._body()
        if b"sync-collection" not in body:
            self._send(501, "only sync-collection")
            return
        incremental = b"<D:sync-token>" in body and b"<D:sync-token/>" not in body
        self.send_response(207)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunk(f"{HEAD}<sync-token>{TOKEN}</sync-token>")
        if not incremental:
            for name in NAMES:
                with open(os.path.join(ICS_DIR, name), encoding="utf-8") as f:
                    ical = f.read()
                etag = hashlib.sha1(ical.encode()).hexdigest()
                self._chunk(f"<response><href>{COLLECTION}{name}</href><propstat><prop>"
                            f"<getetag>\"{etag}\"</getetag><C:calendar-data>{html.escape(ical, quote=False)}"
                            "</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response>")
        self._chunk("</multistatus>")
        self.wfile.write(b"0\r\n\r\n")


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
