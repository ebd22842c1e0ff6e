#!/usr/bin/env python3
"""Pulls the whole change feed of a Tandem server and prints records and seconds.

usage: full_pull.py HOST PORT TOKEN [PAGE]
"""
import http.client
import json
import sys
import time

host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
page = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
conn = http.client.HTTPConnection(host, port)
headers = {"Authorization": "Bearer " + token}
cursor = ""
records = 0
start = time.monotonic()
while True:
    path = f"/api/v1/changes?limit={page}" + (f"&since={cursor}" if cursor else "")
    conn.request("GET", path, headers=headers)
    res = conn.getresponse()
    body = res.read()
    if res.status != 200:
        sys.exit(f"HTTP {res.status}: {body[:200]!r}")
    data = json.loads(body)
    records += sum(1 for c in data["changes"] if c["op"] == "upsert")
    cursor = data["next"]
    if not data["more"]:
        break
print(f"{records} {time.monotonic() - start:.3f}")
