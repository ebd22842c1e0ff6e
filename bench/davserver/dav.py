#!/usr/bin/env python3
"""dav.py: small helpers of bench/davserver/run.sh (standard library only).

  dav.py summary FILE            one line about a 207 body:
                                 "responses=R ok=O caldata=C removed=D token=T"
                                 (ok: responses with a 200 propstat; caldata: with
                                 a non-empty calendar-data; removed: responses
                                 without a propstat, as sync-collection lists
                                 removed members; T: the multistatus sync-token)
  dav.py hrefs FILE              the .ics member hrefs of a 207 body (paths,
                                 percent-decoded, sorted by name, once each)
  dav.py principal FILE          the current-user-principal href of a PROPFIND answer
  dav.py multiget HREFS M        a calendar-multiget body (getetag + calendar-data)
                                 for the first M hrefs of the file HREFS
  dav.py edit ORIGIN USER PASS HREFS M STAMP
                                 changes M members (spread evenly over the file
                                 HREFS): GET, prefix the first SUMMARY with
                                 "[edited STAMP] ", SEQUENCE:1, PUT with If-Match;
                                 one keep-alive connection. Prints "OK/M".
  dav.py median V...             the median of the numbers V (prints it with 4 decimals)
"""
import base64
import http.client
import statistics
import sys
import urllib.parse
import xml.etree.ElementTree as ET

D = "{DAV:}"
C = "{urn:ietf:params:xml:ns:caldav}"


def path(href):
    href = (href or "").strip()
    parts = urllib.parse.urlsplit(href)
    if parts.scheme:
        href = parts.path
    return urllib.parse.unquote(href)


def code_of(el):
    words = (el.findtext(D + "status") or "").split()
    return words[1] if len(words) > 1 else "?"


def parse(file):
    root = ET.parse(file).getroot()
    if root.tag != D + "multistatus":
        raise SystemExit(f"dav.py: {file}: root is {root.tag}, not DAV:multistatus")
    return root


def summary(file):
    root = parse(file)
    n = ok = cal = removed = 0
    for resp in root.iter(D + "response"):
        n += 1
        propstats = resp.findall(D + "propstat")
        if not propstats:
            removed += 1
        for ps in propstats:
            if code_of(ps) != "200":
                continue
            ok += 1
            cd = ps.find(f"{D}prop/{C}calendar-data")
            if cd is not None and "BEGIN:VCALENDAR" in (cd.text or ""):
                cal += 1
    token = (root.findtext(D + "sync-token") or "").strip() or "-"
    print(f"responses={n} ok={ok} caldata={cal} removed={removed} token={token}")


def hrefs(file):
    root = parse(file)
    out = {path(r.findtext(D + "href")) for r in root.iter(D + "response")}
    out = sorted((h for h in out if h.endswith(".ics")), key=lambda h: (h.rsplit("/", 1)[-1], h))
    sys.stdout.write("".join(h + "\n" for h in out))


def principal(file):
    root = parse(file)
    for el in root.iter(D + "current-user-principal"):
        h = el.findtext(D + "href")
        if h:
            print(path(h))
            return
    raise SystemExit("dav.py: no current-user-principal in the answer")


def read_hrefs(file):
    with open(file, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def multiget(file, m):
    hs = read_hrefs(file)[: int(m)]
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">',
             "<D:prop><D:getetag/><C:calendar-data/></D:prop>"]
    parts += [f"<D:href>{urllib.parse.quote(h)}</D:href>" for h in hs]
    parts.append("</C:calendar-multiget>")
    sys.stdout.write("\n".join(parts) + "\n")


def edit(origin, user, password, file, m, stamp):
    hs = read_hrefs(file)
    m = min(int(m), len(hs))
    step = len(hs) / m if m else 1
    chosen = [hs[int(i * step)] for i in range(m)]
    u = urllib.parse.urlsplit(origin)
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    conn = None
    ok = 0
    for h in chosen:
        for attempt in range(2):  # one reconnect if the server closed the connection
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
                q = urllib.parse.quote(h)
                conn.request("GET", q, headers={"Authorization": auth})
                r = conn.getresponse()
                body = r.read().decode("utf-8")
                etag = r.getheader("ETag")
                if r.status != 200 or not etag:
                    print(f"GET {h}: {r.status} etag={etag}", file=sys.stderr)
                    break
                lines = body.split("\r\n") if "\r\n" in body else body.split("\n")
                done = False
                for i, line in enumerate(lines):
                    if not done and line.startswith("SUMMARY"):
                        k = line.index(":") + 1
                        lines[i] = line[:k] + f"[edited {stamp}] " + line[k:]
                        done = True
                    elif line.startswith("SEQUENCE:"):
                        lines[i] = "SEQUENCE:1"
                new = "\r\n".join(lines).encode("utf-8")
                conn.request("PUT", q, body=new, headers={
                    "Authorization": auth, "If-Match": etag,
                    "Content-Type": "text/calendar; charset=utf-8"})
                r = conn.getresponse()
                r.read()
                if 200 <= r.status < 300:
                    ok += 1
                else:
                    print(f"PUT {h}: {r.status}", file=sys.stderr)
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
                break
            except (http.client.HTTPException, ConnectionError):
                if conn is not None:
                    conn.close()
                conn = None
                if attempt:
                    raise
    print(f"{ok}/{m}")


def median(vals):
    print(f"{statistics.median(float(v) for v in vals):.4f}")


def main(argv):
    cmds = {"summary": (summary, 1), "hrefs": (hrefs, 1), "principal": (principal, 1),
            "multiget": (multiget, 2), "edit": (edit, 6), "median": (median, None)}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    fn, nargs = cmds[argv[1]]
    if nargs is None:
        return fn(argv[2:])
    if len(argv) - 2 != nargs:
        sys.exit(__doc__)
    return fn(*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
