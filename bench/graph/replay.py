#!/usr/bin/env python3
"""replay.py: turn the requests Tandem sent to the Graph fake into one curl config.

    replay.py --base http://127.0.0.1:PORT --requests REQS.json --dir OUT
              [--events EVENTS.json] [--tenant TENANT]

REQS.json is the fake's GET /_fake/requests after Tandem's run. The fake named by
--base must hold the state Tandem's fake had when Tandem's requests were answered,
so every delta and skip token in REQS.json means the same there: for a pull, a
fresh fake loaded from the state Tandem's fake saved after the run (its delta
rounds and tokens are part of the state, and the run changed no event); for a
push, a fresh fake from the same empty state Tandem's fake started from.

Writes OUT/curl.cfg (for `curl -s -K OUT/curl.cfg`: one process, sequential, one
kept-alive connection), OUT/expected.txt (the status the fake gave Tandem for each
replayed request) and OUT/summary.json (counts). Untimed preparation, done here
against --base: an application bearer from POST /_fake/token.

  * GET (Graph API): replayed exactly, path and raw query, with the bearer.
  * POST /{tenant}/oauth2/v2.0/token: a client credentials grant of the same
    application (client id and secret of the fake's registered application).
  * POST /v1.0/$batch: a JSON batch with one create per inner call the log lists
    for that batch (batch: true), each built from the event Tandem's run left on
    its fake (--events, in creation order) with the fields Tandem writes.
    Equivalent to Tandem's bodies, not byte-identical: the log holds no bodies.
  * anything else: not replayed, counted in summary.json as "skipped".
"""
import argparse
import json
import os
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from replay_out import CurlReplay  # noqa: E402

APP_CLIENT_ID = "tandem-app"
APP_CLIENT_SECRET = "tandem-app-secret"
CREATE_FIELDS = ("subject", "body", "start", "end", "location", "isAllDay", "showAs",
                 "sensitivity", "isReminderOn", "reminderMinutesBeforeStart",
                 "recurrence", "categories", "transactionId",
                 "singleValueExtendedProperties")


def call(base, method, path, body=None):
    data, headers = None, {}
    if body is not None:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def create_body(event):
    e = {k: event[k] for k in CREATE_FIELDS if k in event}
    if "location" in e and isinstance(e["location"], dict):
        e["location"] = {"displayName": e["location"].get("displayName", "")}
    return e


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
            data = json.load(f)
        events = data.get("events", [])
        events = [e for e in events if e.get("type", "singleInstance") in
                  ("singleInstance", "seriesMaster")]
    os.makedirs(a.dir, exist_ok=True)
    bearer = call(a.base, "POST", "/_fake/token", body={"app": True})["access_token"]
    replay = CurlReplay(len(log))
    counts, block = replay.counts, replay.block
    pending_inner = []  # inner calls of the batch whose outer entry comes next
    next_event = 0
    nbatch = 0


    for r in log:
        method, path, query = r["method"], r["path"], r.get("query") or ""
        target = urllib.parse.quote(path, safe="/$=@-_.~") + ("?" + query if query else "")
        if r.get("batch"):
            pending_inner.append(r)
            counts["inner_batch_calls"] += 1
            continue
        if path.startswith("/_fake/"):
            continue
        if method == "GET":
            block(["url = " + q(a.base + target),
                   "header = " + q("Authorization: Bearer " + bearer),
                   'header = "Accept: application/json"',
                   'header = "Prefer: odata.maxpagesize=500"'], r["status"])
        elif method == "POST" and path.endswith("/oauth2/v2.0/token"):
            form = {"grant_type": "client_credentials", "client_id": APP_CLIENT_ID,
                    "client_secret": APP_CLIENT_SECRET,
                    "scope": "https://graph.microsoft.com/.default"}
            block(["url = " + q(a.base + target),
                   "data = " + q(urllib.parse.urlencode(form))], r["status"])
        elif method == "POST" and path.rstrip("/") == "/v1.0/$batch":
            reqs = []
            for i, inner in enumerate(pending_inner):
                if inner["method"] != "POST" or next_event >= len(events):
                    raise SystemExit("replay: batch part %d is not a create I can rebuild" % i)
                url = inner["path"][len("/v1.0"):] if inner["path"].startswith("/v1.0") \
                    else inner["path"]
                reqs.append({"id": str(i + 1), "method": "POST", "url": url,
                             "headers": {"Content-Type": "application/json"},
                             "body": create_body(events[next_event])})
                next_event += 1
            nbatch += 1
            file = os.path.join(a.dir, "batch-%04d.json" % nbatch)
            with open(file, "w") as f:
                json.dump({"requests": reqs}, f, separators=(",", ":"))
            block(["url = " + q(a.base + target),
                   "header = " + q("Authorization: Bearer " + bearer),
                   'header = "Accept: application/json"',
                   'header = "Content-Type: application/json"',
                   "data-binary = " + q("@" + file)], r["status"])
            pending_inner = []
        else:
            counts["skipped"].append("%s %s" % (method, path))
    replay.write(a.dir, nbatch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
