#!/usr/bin/env python3
"""multistatus.py FILE

Flattens a WebDAV 207 Multi-Status body (RFC 4918 14.16) into tab-separated lines
the test scripts can grep, one per property:
    HREF <TAB> PROP <TAB> STATUS <TAB> VALUE
PROP is prefix:name with D = DAV:, C = CalDAV, CS = calendarserver.org, A = Apple
iCal (other namespaces in {ns}name form); STATUS is the propstat's code (200,
404, ...). A response without propstat (a removed member in sync-collection)
gives "HREF - STATUS". The multistatus's own sync-token gives "- D:sync-token - TOKEN".
VALUE is the text of a property; for one with child elements, the children
space-separated: a DAV:href as its path, a CalDAV comp as C:comp[NAME], others
as their name, with their own children in parentheses ("D:privilege(D:read)").
calendar-data is printed with its line breaks as \\n. HREFs lose any
scheme://host prefix and are percent-decoded. Exit 1 if FILE is not XML or not
a multistatus.
"""
import sys
import urllib.parse
import xml.etree.ElementTree as ET

PREFIXES = {
    "DAV:": "D",
    "urn:ietf:params:xml:ns:caldav": "C",
    "http://calendarserver.org/ns/": "CS",
    "http://apple.com/ns/ical/": "A",
    "urn:ietf:params:xml:ns:carddav": "CARD",
}


def name(tag):
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return f"{PREFIXES[ns]}:{local}" if ns in PREFIXES else tag
    return tag


def path(href):
    href = (href or "").strip()
    parts = urllib.parse.urlsplit(href)
    if parts.scheme:
        href = parts.path + (("?" + parts.query) if parts.query else "")
    return urllib.parse.unquote(href)


def value(el):
    kids = list(el)
    if not kids:
        return (el.text or "").strip().replace("\r", "").replace("\n", "\\n")
    out = []
    for k in kids:
        n = name(k.tag)
        if n == "D:href":
            out.append(path(k.text))
        elif n == "C:comp":
            out.append(f"C:comp[{k.get('name', '')}]")
        elif list(k):
            out.append(f"{n}({value(k)})")
        else:
            out.append(n)
    return " ".join(out)


def status(el):
    s = el.findtext("{DAV:}status") or ""
    words = s.split()
    return words[1] if len(words) > 1 else "?"


def main():
    try:
        root = ET.parse(sys.argv[1]).getroot()
    except (ET.ParseError, OSError) as e:
        print(f"multistatus.py: {e}", file=sys.stderr)
        return 1
    if root.tag != "{DAV:}multistatus":
        print(f"multistatus.py: root is {root.tag}", file=sys.stderr)
        return 1
    for resp in root.findall("{DAV:}response"):
        href = path(resp.findtext("{DAV:}href"))
        propstats = resp.findall("{DAV:}propstat")
        if not propstats:
            print(f"{href}\t-\t{status(resp)}\t")
        for ps in propstats:
            code = status(ps)
            prop = ps.find("{DAV:}prop")
            for p in (list(prop) if prop is not None else []):
                print(f"{href}\t{name(p.tag)}\t{code}\t{value(p)}")
    token = root.find("{DAV:}sync-token")
    if token is not None:
        print(f"-\tD:sync-token\t-\t{(token.text or '').strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
