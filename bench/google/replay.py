#!/usr/bin/env python3
"""replay.py: turn the requests Tandem sent to the Google fake into one curl config.

    replay.py --base http://127.0.0.1:PORT --requests REQS.json --dir OUT [--events EVENTS.json]

REQS.json is the fake's GET /_fake/requests after Tandem's run. The fake named by
--base must be a fresh one started from the same --state file as Tandem's fake, so
every listing, page token and sync token in REQS.json means the same there.

Writes OUT/curl.cfg (for `curl -s -K OUT/curl.cfg`: one process, sequential, one
kept-alive connection), OUT/expected.txt (the status the fake gave Tandem for each
replayed request, one a line) and OUT/summary.json (counts). Untimed preparation,
done here against --base: a bearer from POST /_fake/token for the Calendar calls,
and for each token request of the log an authorization code (or a refresh token)
of our own, since the log has no bodies and codes are single use.

  * GET (Calendar API): replayed exactly, path and raw query, with the bearer.
  * GET /o/oauth2/v2/auth (the browser's consent request): replayed exactly,
    without following the redirect.
  * POST /token: the first one after a consent request as an authorization_code
    grant with our own code and PKCE verifier, any other as a refresh_token grant.
  * POST /batch/calendar/v3: a multipart/mixed body with one insert per inner call
    the log lists for that batch (batch: true), each insert built from the event
    Tandem's run left on its fake (--events, in creation order), with the fields
    Tandem writes (iCalUID, summary, location, description, start, end,
    transparency, visibility, extendedProperties, reminders), plus the event's id
    as a client-chosen id, so that Tandem's later reads of those events by id
    (GET .../events/ID) replay exactly. Equivalent to Tandem's bodies, not
    byte-identical: the log holds no bodies.
  * anything else (PATCH, PUT, DELETE, a single POST insert): not replayed,
    counted in summary.json as "skipped".
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replay_out import CurlReplay  # noqa: E402

CLIENT_ID = "tandem-test-client"
CLIENT_SECRET = "tandem-test-secret"
PREP_REDIRECT = "http://127.0.0.1:9/bench-replay"
BOUNDARY = "bench_replay_boundary"
INSERT_FIELDS = ("id", "iCalUID", "summary", "location", "description", "start", "end",
                 "recurrence", "transparency", "visibility", "extendedProperties",
                 "reminders")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def call(base, method, path, body=None, form=None):
    data, headers = None, {}
    if body is not None:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def pkce():
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=")
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def own_code(base):
    """An authorization code of the fake at base, for our own redirect and verifier."""
    verifier, challenge = pkce()
    q = urllib.parse.urlencode({
        "client_id": CLIENT_ID, "redirect_uri": PREP_REDIRECT, "response_type": "code",
        "scope": "https://www.googleapis.com/auth/calendar", "state": "bench",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(base + "/o/oauth2/v2/auth?" + q)
        raise SystemExit("replay: the consent request did not redirect")
    except urllib.error.HTTPError as e:
        if e.code != 302:
            raise SystemExit("replay: the consent request answered %d" % e.code)
        loc = e.headers["Location"]
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    return params["code"][0], verifier


def code_grant(base):
    code, verifier = own_code(base)
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": PREP_REDIRECT,
            "code_verifier": verifier, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def insert_body(event):
    e = {k: event[k] for k in INSERT_FIELDS if k in event}
    # The fake leaves out the defaults Tandem sends; put them back.
    e.setdefault("transparency", "opaque")
    e.setdefault("visibility", "default")
    e.setdefault("location", "")
    e.setdefault("description", "")
    return json.dumps(e, separators=(",", ":"), ensure_ascii=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--requests", required=True)
    ap.add_argument("--events", help="the fake's GET /_fake/events after Tandem's push")
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    with open(a.requests) as f:
        log = json.load(f)
    events = []
    if a.events:
        with open(a.events) as f:
            events = [e for e in json.load(f)["items"] if not e.get("recurringEventId")]
    os.makedirs(a.dir, exist_ok=True)
    bearer = call(a.base, "POST", "/_fake/token", body={})["access_token"]
    replay = CurlReplay(len(log))
    counts, block = replay.counts, replay.block
    pending_inner = []   # inner calls of the batch whose outer entry comes next
    next_event = 0
    consent_seen = False
    refresh_token = None
    nbatch = 0


    for r in log:
        method, path, query = r["method"], r["path"], r.get("query") or ""
        target = path + ("?" + query if query else "")
        if r.get("batch"):
            pending_inner.append(r)
            counts["inner_batch_calls"] += 1
            continue
        if method == "GET" and path in ("/o/oauth2/v2/auth", "/o/oauth2/auth"):
            consent_seen = True
            block(["url = " + q(a.base + target)], r["status"])
        elif method == "GET":
            block(["url = " + q(a.base + target),
                   "header = " + q("Authorization: Bearer " + bearer),
                   'header = "Accept: application/json"', "compressed"], r["status"])
        elif method == "POST" and path in ("/token", "/o/oauth2/token"):
            if consent_seen:
                form = code_grant(a.base)
                consent_seen = False
            else:
                if refresh_token is None:
                    refresh_token = call(a.base, "POST", "/token",
                                         form=code_grant(a.base))["refresh_token"]
                form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
            block(["url = " + q(a.base + target),
                   "data = " + q(urllib.parse.urlencode(form)), "compressed"], r["status"])
        elif method == "POST" and path.rstrip("/") == "/batch/calendar/v3":
            parts = []
            for i, inner in enumerate(pending_inner):
                if inner["method"] != "POST" or next_event >= len(events):
                    raise SystemExit("replay: batch part %d is not an insert I can rebuild" % i)
                parts.append(
                    "--%s\r\nContent-Type: application/http\r\nContent-ID: <item%d>\r\n\r\n"
                    "POST %s HTTP/1.1\r\nContent-Type: application/json; charset=utf-8\r\n\r\n"
                    "%s\r\n" % (BOUNDARY, i, inner["path"], insert_body(events[next_event])))
                next_event += 1
            body = "".join(parts) + "--%s--\r\n" % BOUNDARY
            nbatch += 1
            file = os.path.join(a.dir, "batch-%03d.txt" % nbatch)
            with open(file, "w") as f:
                f.write(body)
            block(["url = " + q(a.base + target),
                   "header = " + q("Authorization: Bearer " + bearer),
                   'header = "Accept: application/json"',
                   "header = " + q("Content-Type: multipart/mixed; boundary=" + BOUNDARY),
                   "data-binary = " + q("@" + file), "compressed"], r["status"])
            pending_inner = []
        else:
            counts["skipped"].append("%s %s" % (method, path))
    replay.write(a.dir, nbatch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
