#!/usr/bin/env python3
"""A local fake of the Microsoft Graph calendar API and Microsoft identity platform OAuth 2.0.

Test tool only: it binds 127.0.0.1, keeps everything in memory (optionally in a
JSON state file) and plays the signing-in user on the device code and
authorization endpoints.  Standard library only.

    python3 fake_graph.py --port 0 [--state FILE] [--access-token-seconds S]

prints exactly one line, "READY <port>", on stdout once it listens; everything
else goes to stderr (one line per request).  SIGTERM (or SIGINT) stops it with
exit status 0.

Use http://127.0.0.1:<port> in place of both https://graph.microsoft.com
(paths under /v1.0/) and https://login.microsoftonline.com (paths
/{tenant}/oauth2/v2.0/...).  See README.md next to this file for the endpoints
and for the pages of Microsoft's documentation each behaviour follows.
"""

import argparse
import base64
import calendar as pycal
import datetime as dt
import hashlib
import html
import html.parser
import json
import os
import random
import re
import secrets
import signal
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import zoneinfo
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UTC = dt.timezone.utc

# ---------------------------------------------------------------------------
# Constants (the default state; README "Default state")
# ---------------------------------------------------------------------------

TENANT_ID = "5f0c3a6e-8b7d-4c2e-9a41-0d6f2b3c4e5a"
TENANT_DOMAIN = "example.test"
TENANT_ALIASES = ("common", "organizations", "consumers")

DEFAULT_USER = "user@example.test"
DEFAULT_USER_ID = "7d1e2c3b-4a59-4f60-8e71-92a3b4c5d601"
DEFAULT_USER_NAME = "Test User"
SHARED_USER = "shared@example.test"
SHARED_USER_ID = "7d1e2c3b-4a59-4f60-8e71-92a3b4c5d602"
SHARED_USER_NAME = "Shared Mailbox"
# Calendar ids look like Outlook's (base64 with '-' '_' and '=' padding).
USER_CALENDAR_ID = "AAMkADUser-Default_Calendar-0000000000000000000AAA="
USER_SECOND_CALENDAR_ID = "AAMkADUser-Second_Calendar-00000000000000000000AAA="
SHARED_CALENDAR_ID = "AAMkADShared-Default_Calendar-000000000000000000AAA="
SECOND_CALENDAR_NAME = "Tandem"

PUBLIC_CLIENT_ID = "tandem-test-client"
APP_CLIENT_ID = "tandem-app"
APP_CLIENT_SECRET = "tandem-app-secret"

GRAPH_RESOURCE = "https://graph.microsoft.com/"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ODATA_JSON = ("application/json;odata.metadata=minimal;odata.streaming=true;"
              "IEEE754Compatible=false;charset=utf-8")
OAUTH_JSON = "application/json; charset=utf-8"

OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
# Delegated Graph permissions the fake knows (canonical spelling).
GRAPH_DELEGATED = ["User.Read", "Calendars.Read", "Calendars.ReadWrite",
                   "Calendars.Read.Shared", "Calendars.ReadWrite.Shared",
                   "Calendars.ReadBasic"]
GRAPH_DELEGATED_CI = {s.lower(): s for s in GRAPH_DELEGATED}
READ_OWN = {"Calendars.Read", "Calendars.ReadWrite", "Calendars.Read.Shared",
            "Calendars.ReadWrite.Shared", "Calendars.ReadBasic"}
WRITE_OWN = {"Calendars.ReadWrite", "Calendars.ReadWrite.Shared"}
READ_SHARED = {"Calendars.Read.Shared", "Calendars.ReadWrite.Shared"}
WRITE_SHARED = {"Calendars.ReadWrite.Shared"}
APP_READ = {"Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic"}
APP_WRITE = {"Calendars.ReadWrite"}

MAX_BATCH_REQUESTS = 20           # JSON batching page: at most 20 requests
DEFAULT_PAGE_SIZE = 10            # list events / calendarView (observed)
MAX_PAGE_SIZE = 1000              # calendarView $top maximum
DEVICE_CODE_SECONDS = 900         # device code page: 15 minutes
AUTH_CODE_SECONDS = 600           # auth code page: about 10 minutes
MAX_OCCURRENCES = 5000            # occurrences of one series in one query
MAX_RECURRENCE_STEPS = 200000

LOG_LOCK = threading.Lock()


def log(msg):
    with LOG_LOCK:
        sys.stderr.write("[fake_graph] %s\n" % msg)
        sys.stderr.flush()


def now_utc():
    return dt.datetime.now(UTC)


def iso_z(ts):
    """A DateTimeOffset as Graph writes it (UTC, 7 fractional digits)."""
    d = dt.datetime.fromtimestamp(ts, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%07d" % (d.microsecond * 10) + "Z"


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class GraphError(Exception):
    """An error in Graph's JSON shape: {"error": {code, message, innerError}}."""

    def __init__(self, status, code, message, headers=None, inner=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.inner = dict(inner or {})

    def body(self, request_id=None, client_request_id=None):
        inner = dict(self.inner)
        inner["date"] = now_utc().strftime("%Y-%m-%dT%H:%M:%S")
        inner["request-id"] = request_id or str(uuid.uuid4())
        inner["client-request-id"] = client_request_id or inner["request-id"]
        return {"error": {"code": self.code, "message": self.message,
                          "innerError": inner}}


def bad_request(message, code="BadRequest"):
    return GraphError(400, code, message)


def invalid_request(message):
    return GraphError(400, "ErrorInvalidRequest", message)


def not_found(message="The specified object was not found in the store."):
    return GraphError(404, "ErrorItemNotFound", message)


def access_denied(message="Access is denied. Check credentials and try "
                          "again."):
    return GraphError(403, "ErrorAccessDenied", message)


WWW_AUTH = ('Bearer realm="", authorization_uri="https://login.'
            'microsoftonline.com/common/oauth2/authorize", client_id="%s"'
            % GRAPH_APP_ID)


def auth_error(message):
    return GraphError(401, "InvalidAuthenticationToken", message,
                      headers={"WWW-Authenticate": WWW_AUTH})


def sync_state_error(code="syncStateNotFound", location=None):
    messages = {
        "syncStateNotFound": "The sync state is not found: the delta token "
                             "has expired, synchronize again from the "
                             "start.",
        "resyncRequired": "The delta token is no longer valid; reset the "
                          "sync state and synchronize again.",
    }
    headers = {"Location": location} if location else {}
    return GraphError(410, code, messages.get(code, messages[
        "syncStateNotFound"]), headers=headers)


def throttled(retry_after, code="TooManyRequests", message=None):
    """429 in the shape of the throttling page's sample response."""
    return GraphError(
        429, code, message or "Too many requests; retry after the time "
                              "given in Retry-After.",
        headers={"Retry-After": str(retry_after)},
        inner={"code": "429", "message": "Please retry after",
               "status": "429"})


def injected_error(status, code=None, message=None):
    """The body for an error requested with /_fake/fail."""
    defaults = {
        400: ("BadRequest", "The request is malformed or incorrect."),
        401: ("InvalidAuthenticationToken", "The access token is not valid."),
        403: ("ErrorAccessDenied", "Access is denied. Check credentials and "
                                   "try again."),
        404: ("ErrorItemNotFound", "The specified object was not found in "
                                   "the store."),
        409: ("ErrorIrresolvableConflict", "The item was changed by another "
                                           "request."),
        410: ("syncStateNotFound", "The sync state is not found: the delta "
                                   "token has expired."),
        412: ("ErrorIrresolvableConflict", "The change key passed in the "
                                           "request does not match the item."),
        423: ("ErrorItemLocked", "The item is locked."),
        429: ("TooManyRequests", "Too many requests; retry after the time "
                                 "given in Retry-After."),
        500: ("generalException", "An unspecified error has occurred."),
        502: ("BadGateway", "The gateway could not reach the service."),
        503: ("serviceNotAvailable", "The service is not available. Try the "
                                     "request again after a delay."),
        504: ("GatewayTimeout", "The gateway timed out waiting for the "
                                "service."),
    }
    dcode, dmsg = defaults.get(status, ("UnknownError", "Injected failure."))
    err = GraphError(status, code or dcode, message or dmsg)
    if status == 429:
        err.inner = {"code": "429", "message": "Please retry after",
                     "status": "429"}
    if status == 401:
        err.headers["WWW-Authenticate"] = WWW_AUTH
    return err


class OAuthError(Exception):
    """An error of the token or device code endpoint (AADSTS body)."""

    def __init__(self, error, aadsts, description, status=400):
        super().__init__(description)
        self.error = error
        self.aadsts = aadsts
        self.description = description
        self.status = status

    def body(self):
        trace_id = str(uuid.uuid4())
        correlation_id = str(uuid.uuid4())
        stamp = now_utc().strftime("%Y-%m-%d %H:%M:%SZ")
        desc = ("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\n"
                "Timestamp: %s" % (self.aadsts, self.description, trace_id,
                                   correlation_id, stamp))
        return {"error": self.error, "error_description": desc,
                "error_codes": [self.aadsts], "timestamp": stamp,
                "trace_id": trace_id, "correlation_id": correlation_id,
                "error_uri": "https://login.microsoftonline.com/error?code=%d"
                             % self.aadsts}


def missing_param(name):
    return OAuthError("invalid_request", 900144,
                      "The request body must contain the following "
                      "parameter: '%s'." % name)


# ---------------------------------------------------------------------------
# Time zones (dateTimeTimeZone page: Windows names and the listed IANA names)
# ---------------------------------------------------------------------------

# Windows time zone ids and the IANA zone each stands for (the CLDR mapping,
# "001" territory).  Graph accepts either kind of name.
WINDOWS_ZONES = {
    "Dateline Standard Time": "Etc/GMT+12",
    "UTC-11": "Etc/GMT+11",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time (Mexico)": "America/Tijuana",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time (Mexico)": "America/Mazatlan",
    "Mountain Standard Time": "America/Denver",
    "Central America Standard Time": "America/Guatemala",
    "Central Standard Time": "America/Chicago",
    "Central Standard Time (Mexico)": "America/Mexico_City",
    "Canada Central Standard Time": "America/Regina",
    "SA Pacific Standard Time": "America/Bogota",
    "Eastern Standard Time": "America/New_York",
    "US Eastern Standard Time": "America/Indiana/Indianapolis",
    "Venezuela Standard Time": "America/Caracas",
    "Paraguay Standard Time": "America/Asuncion",
    "Atlantic Standard Time": "America/Halifax",
    "Central Brazilian Standard Time": "America/Cuiaba",
    "SA Western Standard Time": "America/La_Paz",
    "Pacific SA Standard Time": "America/Santiago",
    "Newfoundland Standard Time": "America/St_Johns",
    "E. South America Standard Time": "America/Sao_Paulo",
    "Argentina Standard Time": "America/Argentina/Buenos_Aires",
    "SA Eastern Standard Time": "America/Cayenne",
    "Greenland Standard Time": "America/Nuuk",
    "Montevideo Standard Time": "America/Montevideo",
    "Bahia Standard Time": "America/Bahia",
    "UTC-02": "Etc/GMT+2",
    "Azores Standard Time": "Atlantic/Azores",
    "Cape Verde Standard Time": "Atlantic/Cape_Verde",
    "Morocco Standard Time": "Africa/Casablanca",
    "UTC": "Etc/UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris",
    "Central European Standard Time": "Europe/Warsaw",
    "W. Central Africa Standard Time": "Africa/Lagos",
    "Namibia Standard Time": "Africa/Windhoek",
    "Jordan Standard Time": "Asia/Amman",
    "GTB Standard Time": "Europe/Bucharest",
    "Middle East Standard Time": "Asia/Beirut",
    "Egypt Standard Time": "Africa/Cairo",
    "E. Europe Standard Time": "Europe/Chisinau",
    "Syria Standard Time": "Asia/Damascus",
    "South Africa Standard Time": "Africa/Johannesburg",
    "FLE Standard Time": "Europe/Kyiv",
    "Turkey Standard Time": "Europe/Istanbul",
    "Israel Standard Time": "Asia/Jerusalem",
    "Kaliningrad Standard Time": "Europe/Kaliningrad",
    "Arabic Standard Time": "Asia/Baghdad",
    "Arab Standard Time": "Asia/Riyadh",
    "Russian Standard Time": "Europe/Moscow",
    "E. Africa Standard Time": "Africa/Nairobi",
    "Iran Standard Time": "Asia/Tehran",
    "Arabian Standard Time": "Asia/Dubai",
    "Azerbaijan Standard Time": "Asia/Baku",
    "Mauritius Standard Time": "Indian/Mauritius",
    "Georgian Standard Time": "Asia/Tbilisi",
    "Caucasus Standard Time": "Asia/Yerevan",
    "Afghanistan Standard Time": "Asia/Kabul",
    "Ekaterinburg Standard Time": "Asia/Yekaterinburg",
    "Pakistan Standard Time": "Asia/Karachi",
    "West Asia Standard Time": "Asia/Tashkent",
    "India Standard Time": "Asia/Kolkata",
    "Sri Lanka Standard Time": "Asia/Colombo",
    "Nepal Standard Time": "Asia/Kathmandu",
    "Central Asia Standard Time": "Asia/Almaty",
    "Bangladesh Standard Time": "Asia/Dhaka",
    "Myanmar Standard Time": "Asia/Yangon",
    "SE Asia Standard Time": "Asia/Bangkok",
    "N. Central Asia Standard Time": "Asia/Novosibirsk",
    "China Standard Time": "Asia/Shanghai",
    "North Asia Standard Time": "Asia/Krasnoyarsk",
    "Singapore Standard Time": "Asia/Singapore",
    "W. Australia Standard Time": "Australia/Perth",
    "Taipei Standard Time": "Asia/Taipei",
    "Ulaanbaatar Standard Time": "Asia/Ulaanbaatar",
    "North Asia East Standard Time": "Asia/Irkutsk",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "AUS Central Standard Time": "Australia/Darwin",
    "E. Australia Standard Time": "Australia/Brisbane",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "West Pacific Standard Time": "Pacific/Port_Moresby",
    "Tasmania Standard Time": "Australia/Hobart",
    "Yakutsk Standard Time": "Asia/Yakutsk",
    "Central Pacific Standard Time": "Pacific/Guadalcanal",
    "Vladivostok Standard Time": "Asia/Vladivostok",
    "New Zealand Standard Time": "Pacific/Auckland",
    "UTC+12": "Etc/GMT-12",
    "Fiji Standard Time": "Pacific/Fiji",
    "Magadan Standard Time": "Asia/Magadan",
    "Tonga Standard Time": "Pacific/Tongatapu",
    "Samoa Standard Time": "Pacific/Apia",
    "Line Islands Standard Time": "Pacific/Kiritimati",
}
# Names Exchange itself writes for UTC.
UTC_ALIASES = {"utc", "etc/utc", "etc/gmt", "gmt", "z", "tzone://microsoft/utc",
               "coordinated universal time"}
WINDOWS_ZONES_CI = {k.lower(): v for k, v in WINDOWS_ZONES.items()}


@lru_cache(maxsize=512)
def get_tz(name):
    """A tzinfo for a Windows or IANA zone name, or None when unknown."""
    if not isinstance(name, str) or not name.strip():
        return None
    key = name.strip()
    if key.lower() in UTC_ALIASES:
        return UTC
    iana = WINDOWS_ZONES_CI.get(key.lower(), key)
    try:
        return zoneinfo.ZoneInfo(iana)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def tz_or_400(name, where):
    tz = get_tz(name)
    if tz is None:
        raise GraphError(400, "TimeZoneNotSupportedException",
                         "The time zone '%s' given in %s is not supported."
                         % (name, where))
    return tz


LOCAL_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$")


def parse_iso(text, default_tz=UTC):
    """ISO 8601 local or offset date-time -> aware datetime (None if bad).

    A value without an offset is read in default_tz (UTC for the
    startDateTime/endDateTime parameters, per List calendarView)."""
    if not isinstance(text, str):
        return None
    m = LOCAL_RE.match(text.strip())
    if not m:
        return None
    y, mo, d, hh, mm, ss, frac, off = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        naive = dt.datetime(int(y), int(mo), int(d), int(hh or 0),
                            int(mm or 0), int(ss or 0), micro)
    except ValueError:
        return None
    if off:
        if off == "Z":
            return naive.replace(tzinfo=UTC)
        sign = 1 if off[0] == "+" else -1
        digits = off[1:].replace(":", "")
        delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return naive.replace(tzinfo=dt.timezone(sign * delta))
    return naive.replace(tzinfo=default_tz)


def local_naive(text):
    """The wall-clock part of a dateTimeTimeZone.dateTime, plus any offset."""
    if not isinstance(text, str):
        return None, None
    m = LOCAL_RE.match(text.strip())
    if not m or m.group(4) is None:
        return None, None
    y, mo, d, hh, mm, ss, frac, off = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        naive = dt.datetime(int(y), int(mo), int(d), int(hh), int(mm),
                            int(ss or 0), micro)
    except ValueError:
        return None, None
    return naive, off


def fmt_local(d):
    """dateTimeTimeZone.dateTime as Graph writes it (7 fractional digits)."""
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%07d" % (d.microsecond * 10)


def render_time(utc_dt, zone_name):
    tz = get_tz(zone_name) or UTC
    return {"dateTime": fmt_local(utc_dt.astimezone(tz).replace(tzinfo=None)),
            "timeZone": zone_name}


def at_local(day, clock, tz):
    """Aware datetime for a wall-clock time on a date in tz (DST aware)."""
    return dt.datetime.combine(day, clock).replace(tzinfo=tz)


# ---------------------------------------------------------------------------
# Ids, tokens, bodies
# ---------------------------------------------------------------------------

def b64url(raw, pad=True):
    text = base64.urlsafe_b64encode(raw).decode()
    return text if pad else text.rstrip("=")


def b64url_decode(text):
    text = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text.encode())


def new_item_id():
    """An Outlook-looking REST id: URL-safe base64 with '=' padding."""
    return "AAMkA" + b64url(secrets.token_bytes(32))


def occurrence_id(master_id, key):
    """The id of an occurrence (and of the exception that replaces it).

    Opaque to clients; the fake can read the series and the original start
    back out of it."""
    return "AAMkAO" + b64url(("%s|%s" % (master_id, key)).encode())


def parse_occurrence_id(eid):
    if not eid.startswith("AAMkAO"):
        return None
    try:
        text = b64url_decode(eid[6:]).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if "|" not in text:
        return None
    master, key = text.rsplit("|", 1)
    return master, key


def new_token(prefix, nbytes=24):
    return prefix + b64url(secrets.token_bytes(nbytes), pad=False)


def new_user_code():
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(9))


def new_ical_uid():
    """An iCalUId in the shape of an Exchange GlobalObjectId (hex)."""
    return ("040000008200E00074C5B7101A82E008" + "00000000" +
            secrets.token_hex(8).upper() + "0000000000000000" + "10000000" +
            secrets.token_hex(16).upper())


def occurrence_ical_uid(master_uid, day):
    """Graph's iCalUId differs per occurrence; the GlobalObjectId holds the
    instance date in bytes 16-19 (year high, year low, month, day)."""
    if len(master_uid) < 40:
        return master_uid + "-" + day.strftime("%Y%m%d")
    date_hex = "%04X%02X%02X" % (day.year, day.month, day.day)
    return master_uid[:32] + date_hex + master_uid[40:]


class _TextExtractor(html.parser.HTMLParser):
    BLOCK = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
             "table", "ul", "ol"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("head", "style", "script", "title"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("head", "style", "script", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data.replace("\r", "").replace("\n", " "))


def html_to_text(content):
    """The text form of an HTML body (Prefer: outlook.body-content-type)."""
    if not content:
        return ""
    p = _TextExtractor()
    try:
        p.feed(content)
        p.close()
    except Exception:  # pragma: no cover - malformed HTML is kept as is
        return content
    text = "".join(p.parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in text.split("\n")]
    out, blank = [], False
    for ln in lines:
        if not ln:
            blank = bool(out)
            continue
        if blank:
            out.append("")
        out.append(ln)
        blank = False
    return "\r\n".join(out)


def text_to_html(text):
    escaped = html.escape(text, quote=False)
    return escaped.replace("\r\n", "\n").replace("\n", "<br>\r\n")


def wrap_html(inner):
    """Exchange keeps bodies as whole HTML documents (see the Create Event
    examples: the content comes back inside <html>...<body>)."""
    return ("<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" "
            "content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n"
            + inner + "\r\n</body>\r\n</html>\r\n")


def store_body(body):
    """itemBody as sent -> {"contentType": "html", "content": stored HTML}."""
    if body is None:
        return {"contentType": "html", "content": ""}
    if not isinstance(body, dict):
        raise bad_request("The property 'body' must be an itemBody object.")
    ctype = str(body.get("contentType") or "text").lower()
    content = body.get("content")
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise bad_request("The property 'body.content' must be a string.")
    if ctype not in ("text", "html"):
        raise bad_request("The value '%s' is not a valid bodyType."
                          % body.get("contentType"))
    if content == "":
        return {"contentType": "html", "content": ""}
    if ctype == "text":
        return {"contentType": "html", "content": wrap_html(
            text_to_html(content))}
    if "<html" in content.lower():
        return {"contentType": "html", "content": content}
    return {"contentType": "html", "content": wrap_html(content)}


def body_preview(stored):
    text = re.sub(r"\s+", " ", html_to_text(stored.get("content", ""))).strip()
    return text[:255]


# ---------------------------------------------------------------------------
# Recurrence (patternedRecurrence, recurrencePattern, recurrenceRange pages)
# ---------------------------------------------------------------------------

DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday",
             "friday", "saturday"]
PY_WEEKDAY = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3,
              "friday": 4, "saturday": 5, "sunday": 6}
WEEK_INDEX = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1}
PATTERN_TYPES = {t.lower(): t for t in (
    "daily", "weekly", "absoluteMonthly", "relativeMonthly",
    "absoluteYearly", "relativeYearly")}
RANGE_TYPES = {t.lower(): t for t in ("endDate", "noEnd", "numbered")}
PATTERN_KEYS = {"type", "interval", "month", "dayOfMonth", "daysOfWeek",
                "firstDayOfWeek", "index", "@odata.type"}
RANGE_KEYS = {"type", "startDate", "endDate", "recurrenceTimeZone",
              "numberOfOccurrences", "@odata.type"}
# The properties each pattern type needs (recurrencePattern page table).
PATTERN_REQUIRED = {
    "daily": (),
    "weekly": ("daysOfWeek",),
    "absoluteMonthly": ("dayOfMonth",),
    "relativeMonthly": ("daysOfWeek",),
    "absoluteYearly": ("dayOfMonth", "month"),
    "relativeYearly": ("daysOfWeek", "month"),
}
NO_DATE = "0001-01-01"


def _parse_date(text):
    if not isinstance(text, str):
        return None
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})$", text.strip())
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _int_prop(obj, name, lo, hi, where):
    v = obj.get(name)
    if v is None or v == 0:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise invalid_request("%s.%s must be an integer from %d to %d."
                              % (where, name, lo, hi))
    return v


def _day_name(v, where):
    if not isinstance(v, str) or v.lower() not in PY_WEEKDAY:
        raise bad_request("'%s' is not a valid dayOfWeek in %s." % (v, where))
    return v.lower()


def normalize_recurrence(rec, start_date, start_tz_name):
    """Validates a patternedRecurrence; returns it as Graph writes it back."""
    if not isinstance(rec, dict) or not isinstance(rec.get("pattern"), dict) \
            or not isinstance(rec.get("range"), dict):
        raise invalid_request("recurrence needs a pattern and a range.")
    pat, rng = rec["pattern"], rec["range"]
    for k in pat:
        if k not in PATTERN_KEYS:
            raise bad_request("The property '%s' does not exist on type "
                              "'microsoft.graph.recurrencePattern'." % k)
    for k in rng:
        if k not in RANGE_KEYS:
            raise bad_request("The property '%s' does not exist on type "
                              "'microsoft.graph.recurrenceRange'." % k)
    ptype = PATTERN_TYPES.get(str(pat.get("type") or "").lower())
    if ptype is None:
        raise invalid_request("recurrence.pattern.type must be one of daily, "
                              "weekly, absoluteMonthly, relativeMonthly, "
                              "absoluteYearly, relativeYearly.")
    interval = pat.get("interval")
    if isinstance(interval, bool) or not isinstance(interval, int) or \
            not 1 <= interval <= 999:
        raise invalid_request("recurrence.pattern.interval is required and "
                              "must be a positive integer.")
    days = pat.get("daysOfWeek") or []
    if not isinstance(days, list):
        raise bad_request("recurrence.pattern.daysOfWeek must be a list.")
    days = [_day_name(d, "recurrence.pattern.daysOfWeek") for d in days]
    days = [d for d in DAY_NAMES if d in set(days)]
    fdw = pat.get("firstDayOfWeek")
    fdw = _day_name(fdw, "recurrence.pattern.firstDayOfWeek") if fdw else \
        "sunday"
    index = pat.get("index")
    if index is None:
        index = "first"
    if not isinstance(index, str) or index.lower() not in WEEK_INDEX:
        raise bad_request("'%s' is not a valid weekIndex." % index)
    index = index.lower()
    dom = _int_prop(pat, "dayOfMonth", 1, 31, "recurrence.pattern")
    month = _int_prop(pat, "month", 1, 12, "recurrence.pattern")
    have = {"daysOfWeek": bool(days), "dayOfMonth": dom is not None,
            "month": month is not None}
    for need in PATTERN_REQUIRED[ptype]:
        if not have[need]:
            raise invalid_request("recurrence.pattern.%s is required when the "
                                  "pattern type is %s." % (need, ptype))
    rtype = RANGE_TYPES.get(str(rng.get("type") or "").lower())
    if rtype is None:
        raise invalid_request("recurrence.range.type must be one of endDate, "
                              "noEnd, numbered.")
    sdate = _parse_date(rng.get("startDate"))
    if sdate is None:
        raise invalid_request("recurrence.range.startDate is required "
                              "(YYYY-MM-DD).")
    if start_date is not None and sdate != start_date:
        raise invalid_request("recurrence.range.startDate (%s) must be the "
                              "date of the event's start (%s)."
                              % (sdate.isoformat(), start_date.isoformat()))
    edate = None
    count = 0
    if rtype == "endDate":
        edate = _parse_date(rng.get("endDate"))
        if edate is None:
            raise invalid_request("recurrence.range.endDate is required when "
                                  "the range type is endDate.")
        if edate < sdate:
            raise invalid_request("recurrence.range.endDate is before its "
                                  "startDate.")
    elif rtype == "numbered":
        count = rng.get("numberOfOccurrences")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise invalid_request("recurrence.range.numberOfOccurrences must "
                                  "be positive when the range type is "
                                  "numbered.")
    rtz = rng.get("recurrenceTimeZone") or start_tz_name
    if rng.get("recurrenceTimeZone"):
        tz_or_400(rtz, "recurrence.range.recurrenceTimeZone")
    return {
        "pattern": {"type": ptype, "interval": interval, "month": month or 0,
                    "dayOfMonth": dom or 0, "daysOfWeek": days,
                    "firstDayOfWeek": fdw, "index": index},
        "range": {"type": rtype, "startDate": sdate.isoformat(),
                  "endDate": edate.isoformat() if edate else NO_DATE,
                  "recurrenceTimeZone": rtz,
                  "numberOfOccurrences": count},
    }


def _nth_day(year, month, days, index):
    dim = pycal.monthrange(year, month)[1]
    wanted = {PY_WEEKDAY[d] for d in days}
    hits = [dt.date(year, month, d) for d in range(1, dim + 1)
            if dt.date(year, month, d).weekday() in wanted]
    i = WEEK_INDEX[index]
    if i == -1:
        return hits[-1] if hits else None
    return hits[i] if len(hits) > i else None


def _month_add(year, month, n):
    m = month - 1 + n
    return year + m // 12, m % 12 + 1


def recurrence_dates(norm):
    """The dates of a series in order (endless for noEnd)."""
    pat, rng = norm["pattern"], norm["range"]
    ptype, step = pat["type"], pat["interval"]
    start = dt.date.fromisoformat(rng["startDate"])
    end = dt.date.fromisoformat(rng["endDate"]) \
        if rng["type"] == "endDate" else None
    left = rng["numberOfOccurrences"] if rng["type"] == "numbered" else None

    def candidates():
        if ptype == "daily":
            d = start
            while True:
                yield d
                d += dt.timedelta(days=step)
        elif ptype == "weekly":
            fdw = PY_WEEKDAY[pat["firstDayOfWeek"]]
            week0 = start - dt.timedelta(days=(start.weekday() - fdw) % 7)
            offsets = sorted((PY_WEEKDAY[d] - fdw) % 7
                             for d in pat["daysOfWeek"])
            k = 0
            while True:
                base = week0 + dt.timedelta(days=7 * step * k)
                for off in offsets:
                    d = base + dt.timedelta(days=off)
                    if d >= start:
                        yield d
                k += 1
        elif ptype in ("absoluteMonthly", "relativeMonthly"):
            y, m = start.year, start.month
            while True:
                if ptype == "absoluteMonthly":
                    dim = pycal.monthrange(y, m)[1]
                    d = dt.date(y, m, min(pat["dayOfMonth"], dim))
                else:
                    d = _nth_day(y, m, pat["daysOfWeek"], pat["index"])
                if d is not None and d >= start:
                    yield d
                y, m = _month_add(y, m, step)
                if y > 9998:
                    return
        else:
            y, mo = start.year, pat["month"]
            while True:
                if ptype == "absoluteYearly":
                    dim = pycal.monthrange(y, mo)[1]
                    d = dt.date(y, mo, min(pat["dayOfMonth"], dim))
                else:
                    d = _nth_day(y, mo, pat["daysOfWeek"], pat["index"])
                if d is not None and d >= start:
                    yield d
                y += step
                if y > 9998:
                    return

    steps = 0
    for d in candidates():
        steps += 1
        if steps > MAX_RECURRENCE_STEPS:
            return
        if end is not None and d > end:
            return
        if left is not None:
            if left <= 0:
                return
            left -= 1
        yield d


# ---------------------------------------------------------------------------
# Event times (event resource: start/end dateTimeTimeZone, isAllDay)
# ---------------------------------------------------------------------------

class Times:
    """When an event (or one instance) happens."""

    __slots__ = ("all_day", "start", "end", "tz_name", "end_tz_name", "tz",
                 "start_date", "end_date")

    def __init__(self, all_day, start, end, tz_name, end_tz_name, tz,
                 start_date=None, end_date=None):
        self.all_day = all_day
        self.start = start            # aware, UTC
        self.end = end
        self.tz_name = tz_name        # the start time zone as sent
        self.end_tz_name = end_tz_name
        self.tz = tz
        self.start_date = start_date  # all-day only: the local dates
        self.end_date = end_date

    def overlaps(self, lo, hi):
        if self.start == self.end:
            return lo <= self.start < hi
        return self.start < hi and self.end > lo


def _dttz(obj, which):
    if not isinstance(obj, dict):
        raise bad_request("The property '%s' must be a dateTimeTimeZone "
                          "object." % which)
    for k in obj:
        if k not in ("dateTime", "timeZone", "@odata.type"):
            raise bad_request("The property '%s' does not exist on type "
                              "'microsoft.graph.dateTimeTimeZone'." % k)
    text = obj.get("dateTime")
    naive, off = local_naive(text)
    if naive is None:
        raise bad_request("%s.dateTime '%s' is not an ISO 8601 date and time."
                          % (which, text))
    zone = obj.get("timeZone") or "UTC"
    tz = tz_or_400(zone, which + ".timeZone")
    if off:
        aware = parse_iso(text).astimezone(tz)
        naive = aware.replace(tzinfo=None)
    return naive, zone, tz


def parse_times(start_obj, end_obj, is_all_day):
    s_naive, s_zone, s_tz = _dttz(start_obj, "start")
    e_naive, e_zone, e_tz = _dttz(end_obj, "end")
    if is_all_day:
        midnight = dt.time(0, 0)
        if s_naive.time() != midnight or e_naive.time() != midnight:
            raise invalid_request("An all-day event must start and end at "
                                  "midnight.")
        if get_tz(s_zone) != get_tz(e_zone):
            raise invalid_request("An all-day event must start and end in "
                                  "the same time zone.")
        sd, ed = s_naive.date(), e_naive.date()
        if ed <= sd:
            raise invalid_request("An all-day event must end at least one "
                                  "day after it starts.")
        return Times(True, at_local(sd, midnight, s_tz).astimezone(UTC),
                     at_local(ed, midnight, s_tz).astimezone(UTC),
                     s_zone, e_zone, s_tz, sd, ed)
    start = s_naive.replace(tzinfo=s_tz).astimezone(UTC)
    end = e_naive.replace(tzinfo=e_tz).astimezone(UTC)
    if end < start:
        raise invalid_request("The end of the event is before its start.")
    return Times(False, start, end, s_zone, e_zone, s_tz)


def render_times(times, zone_name):
    if times.all_day:
        return ({"dateTime": times.start_date.isoformat() + "T00:00:00.0000000",
                 "timeZone": zone_name},
                {"dateTime": times.end_date.isoformat() + "T00:00:00.0000000",
                 "timeZone": zone_name})
    return render_time(times.start, zone_name), render_time(times.end,
                                                            zone_name)


def times_to_objs(times):
    """dateTimeTimeZone objects that parse back to the same times."""
    if times.all_day:
        return ({"dateTime": times.start_date.isoformat() + "T00:00:00",
                 "timeZone": times.tz_name},
                {"dateTime": times.end_date.isoformat() + "T00:00:00",
                 "timeZone": times.end_tz_name})
    s = times.start.astimezone(times.tz).replace(tzinfo=None)
    etz = get_tz(times.end_tz_name) or UTC
    e = times.end.astimezone(etz).replace(tzinfo=None)
    return ({"dateTime": s.isoformat(), "timeZone": times.tz_name},
            {"dateTime": e.isoformat(), "timeZone": times.end_tz_name})


def occurrence_key(times):
    if times.all_day:
        return times.start_date.strftime("%Y%m%d")
    return times.start.strftime("%Y%m%dT%H%M%SZ")


# ---------------------------------------------------------------------------
# Data model
# ---------------------------------------------------------------------------

class EventRec:
    """A stored event: a single instance or a series master (with its
    exceptions and cancelled occurrences)."""

    def __init__(self):
        self.id = None
        self.cal_id = None
        self.kind = "single"          # single | master
        self.res = {}                 # the writable properties, normalized
        self.ext = []                 # singleValueExtendedProperties
        self.seq = 0
        self.created = 0.0
        self.modified = 0.0
        self.ical_uid = None
        self.exceptions = {}          # key -> {"ov", "ext", "seq", ...}
        self.cancelled = {}           # key -> seq
        self.times = None             # Times (recomputed, not saved)
        self.norm_rec = None

    def compute(self):
        self.times = parse_times(self.res["start"], self.res["end"],
                                 self.res.get("isAllDay", False))
        self.norm_rec = self.res.get("recurrence")
        self.kind = "master" if self.norm_rec else "single"

    def to_json(self):
        return {"id": self.id, "cal_id": self.cal_id, "res": self.res,
                "ext": self.ext, "seq": self.seq, "created": self.created,
                "modified": self.modified, "ical_uid": self.ical_uid,
                "exceptions": self.exceptions, "cancelled": self.cancelled}

    @classmethod
    def from_json(cls, d):
        rec = cls()
        for k in ("id", "cal_id", "res", "ext", "seq", "created", "modified",
                  "ical_uid", "exceptions", "cancelled"):
            setattr(rec, k, d[k])
        rec.compute()
        return rec

    # -- series -------------------------------------------------------------
    def occurrence_times(self, day):
        t = self.times
        if t.all_day:
            span = t.end_date - t.start_date
            sd, ed = day, day + span
            mid = dt.time(0, 0)
            return Times(True, at_local(sd, mid, t.tz).astimezone(UTC),
                         at_local(ed, mid, t.tz).astimezone(UTC),
                         t.tz_name, t.end_tz_name, t.tz, sd, ed)
        rtz = get_tz(self.norm_rec["range"]["recurrenceTimeZone"]) or t.tz
        clock = t.start.astimezone(rtz).time().replace(tzinfo=None)
        start = at_local(day, clock, rtz).astimezone(UTC)
        return Times(False, start, start + (t.end - t.start), t.tz_name,
                     t.end_tz_name, t.tz)

    def occurrences(self, until=None):
        """(key, Times) of the series in order, up to `until` (UTC)."""
        n = 0
        for day in recurrence_dates(self.norm_rec):
            ot = self.occurrence_times(day)
            if until is not None and ot.start >= until:
                return
            n += 1
            if n > MAX_OCCURRENCES * 20:
                return
            yield occurrence_key(ot), ot

    def occurrence_by_key(self, key):
        """Times of the occurrence with that original start, or None."""
        try:
            if "T" in key:
                target = dt.datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(
                    tzinfo=UTC)
            else:
                d = dt.datetime.strptime(key, "%Y%m%d").date()
                target = at_local(d, dt.time(0, 0), self.times.tz).astimezone(
                    UTC)
        except ValueError:
            return None
        for k, ot in self.occurrences(until=target + dt.timedelta(seconds=1)):
            if k == key:
                return ot
        return None

    def exception_times(self, key, exc, orig):
        ov = exc["ov"]
        if "start" in ov or "end" in ov or "isAllDay" in ov:
            s_obj, e_obj = times_to_objs(orig)
            return parse_times(ov.get("start", s_obj), ov.get("end", e_obj),
                               ov.get("isAllDay", self.res.get("isAllDay",
                                                               False)))
        return orig


class Calendar:
    def __init__(self, cid, owner, name, is_default=False, color="auto"):
        self.id = cid
        self.owner = owner            # user id
        self.name = name
        self.is_default = is_default
        self.color = color
        self.events = {}              # id -> EventRec
        self.tombstones = {}          # deleted event id -> seq
        self.tx = {}                  # transactionId -> event id
        self.shared_with = {}         # user id -> "read" | "write"
        self.seq = 0                  # last change in this calendar

    def to_json(self):
        return {"id": self.id, "owner": self.owner, "name": self.name,
                "is_default": self.is_default, "color": self.color,
                "events": [e.to_json() for e in self.events.values()],
                "tombstones": self.tombstones, "tx": self.tx,
                "shared_with": self.shared_with, "seq": self.seq}

    @classmethod
    def from_json(cls, d):
        cal = cls(d["id"], d["owner"], d["name"], d["is_default"], d["color"])
        for e in d["events"]:
            rec = EventRec.from_json(e)
            cal.events[rec.id] = rec
        cal.tombstones = d["tombstones"]
        cal.tx = d["tx"]
        cal.shared_with = d["shared_with"]
        cal.seq = d["seq"]
        return cal


class User:
    def __init__(self, uid, upn, name):
        self.id = uid
        self.upn = upn
        self.name = name
        self.calendars = []           # calendar ids, default first

    def to_json(self):
        return {"id": self.id, "upn": self.upn, "name": self.name,
                "calendars": self.calendars}


class State:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.RLock()
        self.reset()

    # -- setup --------------------------------------------------------------
    def reset(self):
        self.ck_prefix = secrets.token_bytes(16)
        self.seq = 0
        self.last_ts = 0.0
        self.users = {}               # id -> User
        self.calendars = {}           # id -> Calendar
        self.clients = {
            PUBLIC_CLIENT_ID: {"client_id": PUBLIC_CLIENT_ID, "public": True,
                               "secret": None, "redirect_uris": None,
                               "default_scopes": [
                                   "User.Read", "Calendars.ReadWrite",
                                   "Calendars.ReadWrite.Shared"]},
            APP_CLIENT_ID: {"client_id": APP_CLIENT_ID, "public": False,
                            "secret": APP_CLIENT_SECRET,
                            "redirect_uris": None,
                            "roles": ["Calendars.ReadWrite"],
                            "default_scopes": ["User.Read",
                                               "Calendars.ReadWrite"]},
        }
        self.app_access = {}          # client id -> list of user ids (policy)
        self.access_tokens = {}
        self.refresh_tokens = {}
        self.device_codes = {}
        self.auth_codes = {}
        self.delta_tokens = {}        # token -> window, snapshot
        self.delta_order = []         # the token cache, oldest first
        self.rounds = {}              # round id -> the pages of one round
        self.fail_rules = []
        self.requests = []
        self.consent = {"deny": False, "user": None}
        self.add_user(DEFAULT_USER_ID, DEFAULT_USER, DEFAULT_USER_NAME,
                      USER_CALENDAR_ID)
        self.add_calendar(DEFAULT_USER_ID, SECOND_CALENDAR_NAME,
                          USER_SECOND_CALENDAR_ID)
        self.add_user(SHARED_USER_ID, SHARED_USER, SHARED_USER_NAME,
                      SHARED_CALENDAR_ID)

    def next_seq(self):
        self.seq += 1
        return self.seq

    def next_ts(self):
        ts = max(time.time(), self.last_ts + 0.0001)
        self.last_ts = ts
        return ts

    def change_key(self, seq):
        return base64.b64encode(self.ck_prefix + seq.to_bytes(6, "big")
                                ).decode()

    def etag(self, seq):
        return 'W/"%s"' % self.change_key(seq)

    def add_user(self, uid, upn, name, default_cal_id=None):
        user = User(uid, upn, name)
        self.users[uid] = user
        self.add_calendar(uid, "Calendar", default_cal_id or new_item_id(),
                          is_default=True)
        return user

    def add_calendar(self, uid, name, cid=None, is_default=False):
        cal = Calendar(cid or new_item_id(), uid, name, is_default)
        cal.seq = self.next_seq()
        self.calendars[cal.id] = cal
        if is_default:
            self.users[uid].calendars.insert(0, cal.id)
        else:
            self.users[uid].calendars.append(cal.id)
        return cal

    def find_user(self, key):
        """By id (GUID) or userPrincipalName, both case-insensitive."""
        if key is None:
            return None
        k = key.strip().lower()
        for u in self.users.values():
            if u.id.lower() == k or u.upn.lower() == k:
                return u
        return None

    def default_calendar(self, user):
        return self.calendars[user.calendars[0]]

    # -- tokens --------------------------------------------------------------
    def issue_access_token(self, kind, user_id, client_id, scopes, tenant):
        token = new_token("EwB.fake-", 36)
        self.access_tokens[token] = {
            "kind": kind, "user": user_id, "client_id": client_id,
            "scopes": sorted(scopes), "tenant": tenant,
            "exp": time.time() + self.opts.access_token_seconds}
        return token

    def issue_refresh_token(self, user_id, client_id, scopes, tenant):
        token = new_token("M.R3_fake-", 48)
        self.refresh_tokens[token] = {
            "user": user_id, "client_id": client_id, "scopes": sorted(scopes),
            "tenant": tenant, "revoked": False, "used": False,
            "issued": time.time()}
        return token

    # -- persistence -----------------------------------------------------------
    def to_json(self):
        return {
            "version": 1, "ck_prefix": self.ck_prefix.hex(), "seq": self.seq,
            "last_ts": self.last_ts,
            "users": [u.to_json() for u in self.users.values()],
            "calendars": [c.to_json() for c in self.calendars.values()],
            "clients": self.clients, "app_access": self.app_access,
            "access_tokens": self.access_tokens,
            "refresh_tokens": self.refresh_tokens,
            "delta_tokens": self.delta_tokens, "delta_order": self.delta_order,
            "rounds": self.rounds}

    def load_json(self, data):
        self.ck_prefix = bytes.fromhex(data["ck_prefix"])
        self.seq = data["seq"]
        self.last_ts = data.get("last_ts", 0.0)
        self.users = {}
        for u in data["users"]:
            user = User(u["id"], u["upn"], u["name"])
            user.calendars = u["calendars"]
            self.users[user.id] = user
        self.calendars = {}
        for c in data["calendars"]:
            cal = Calendar.from_json(c)
            self.calendars[cal.id] = cal
        self.clients = data["clients"]
        self.app_access = data["app_access"]
        self.access_tokens = data["access_tokens"]
        self.refresh_tokens = data["refresh_tokens"]
        self.delta_tokens = data["delta_tokens"]
        self.delta_order = data["delta_order"]
        self.rounds = data["rounds"]

    def save(self, path):
        with self.lock:
            data = self.to_json()
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)


# ---------------------------------------------------------------------------
# Event bodies: validation and normalization (event resource page)
# ---------------------------------------------------------------------------

EVENT_READONLY = {
    "id", "iCalUId", "changeKey", "createdDateTime", "lastModifiedDateTime",
    "type", "seriesMasterId", "originalStart", "bodyPreview", "webLink",
    "isOrganizer", "isCancelled", "isDraft", "hasAttachments",
    "onlineMeeting", "onlineMeetingUrl", "originalStartTimeZone",
    "originalEndTimeZone", "responseStatus", "organizer", "attachments",
    "calendar", "extensions", "instances", "occurrenceId",
    "cancelledOccurrences", "exceptionOccurrences"}
EVENT_WRITABLE = {
    "allowNewTimeProposals", "attendees", "body", "categories", "end",
    "hideAttendees", "importance", "isAllDay", "isOnlineMeeting",
    "isReminderOn", "location", "locations", "onlineMeetingProvider",
    "recurrence", "reminderMinutesBeforeStart", "responseRequested",
    "sensitivity", "showAs", "start", "subject", "transactionId",
    "singleValueExtendedProperties", "multiValueExtendedProperties"}
EVENT_BOOLS = {"allowNewTimeProposals", "hideAttendees", "isAllDay",
               "isOnlineMeeting", "isReminderOn", "responseRequested"}
EVENT_ENUMS = {
    "showAs": ("freeBusyStatus", ["free", "tentative", "busy", "oof",
                                  "workingElsewhere", "unknown"]),
    "sensitivity": ("sensitivity", ["normal", "personal", "private",
                                    "confidential"]),
    "importance": ("importance", ["low", "normal", "high"]),
    "onlineMeetingProvider": ("onlineMeetingProviderType", [
        "unknown", "teamsForBusiness", "skypeForBusiness",
        "skypeForConsumer"]),
}
EVENT_DEFAULTS = {
    "subject": "", "isAllDay": False, "showAs": "busy",
    "sensitivity": "normal", "importance": "normal", "isReminderOn": True,
    "reminderMinutesBeforeStart": 15, "categories": [], "attendees": [],
    "recurrence": None, "responseRequested": True,
    "allowNewTimeProposals": True, "hideAttendees": False,
    "isOnlineMeeting": False, "onlineMeetingProvider": "unknown",
    "transactionId": None}
EXT_TYPES = {"binary", "boolean", "clsid", "currency", "double", "float",
             "integer", "long", "object", "short", "string", "systemtime"}
EXT_ID_RE = re.compile(
    r"^\s*([A-Za-z]+)\s+(?:\{([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}\s+(Name|Id)\s+(\S.*?)|"
    r"(0x[0-9a-fA-F]{1,8}))\s*$", re.I)


def ext_key(pid):
    """Extended property id -> a comparable key (None if malformed).

    The type and GUID compare case-insensitively, the Name part exactly
    (Get singleValueLegacyExtendedProperty: the Name is case-sensitive)."""
    if not isinstance(pid, str):
        return None
    m = EXT_ID_RE.match(pid)
    if not m or m.group(1).lower() not in EXT_TYPES:
        return None
    typ = m.group(1).lower()
    if m.group(5):
        return (typ, "tag", int(m.group(5), 16))
    kind = m.group(3).lower()
    name = m.group(4)
    if kind == "id":
        try:
            name = int(name, 0)
        except ValueError:
            return None
    return (typ, m.group(2).lower(), kind, name)


def clean_ext(value):
    if not isinstance(value, list):
        raise bad_request("singleValueExtendedProperties must be a list.")
    out = []
    for p in value:
        if not isinstance(p, dict) or set(p) - {"id", "value", "@odata.type"}:
            raise bad_request("Each single-value extended property has an id "
                              "and a value.")
        if ext_key(p.get("id")) is None:
            raise bad_request("The extended property id '%s' is not in one "
                              "of the supported formats." % p.get("id"))
        if not isinstance(p.get("value"), str):
            raise bad_request("The value of extended property '%s' must be a "
                              "string." % p.get("id"))
        out.append({"id": p["id"], "value": p["value"]})
    return out


def merge_ext(old, new):
    out = list(old)
    for p in new:
        k = ext_key(p["id"])
        out = [q for q in out if ext_key(q["id"]) != k]
        out.append(p)
    return out


def norm_location(loc):
    if loc is None:
        return {"displayName": "", "locationType": "default",
                "uniqueIdType": "unknown", "address": {}, "coordinates": {}}
    if not isinstance(loc, dict):
        raise bad_request("location must be an object.")
    name = loc.get("displayName") or ""
    if not isinstance(name, str):
        raise bad_request("location.displayName must be a string.")
    out = {"displayName": name,
           "locationType": str(loc.get("locationType") or "default")}
    out["locationType"] = out["locationType"][:1].lower() + \
        out["locationType"][1:]
    if name:
        out["uniqueId"] = loc.get("uniqueId") or name
        out["uniqueIdType"] = "private"
    else:
        out["uniqueIdType"] = "unknown"
    for k in ("address", "coordinates", "locationEmailAddress", "locationUri"):
        if loc.get(k) is not None:
            out[k] = loc[k]
    return out


def norm_attendees(value):
    if not isinstance(value, list):
        raise bad_request("attendees must be a list.")
    out = []
    for a in value:
        if not isinstance(a, dict) or not isinstance(a.get("emailAddress"),
                                                       dict):
            raise bad_request("Each attendee needs an emailAddress.")
        typ = str(a.get("type") or "required").lower()
        if typ not in ("required", "optional", "resource"):
            raise bad_request("'%s' is not a valid attendeeType." %
                              a.get("type"))
        email = a["emailAddress"]
        out.append({"type": typ,
                    "status": {"response": "none",
                               "time": "0001-01-01T00:00:00Z"},
                    "emailAddress": {"name": email.get("name") or
                                     email.get("address") or "",
                                     "address": email.get("address") or ""}})
    return out


def clean_event_body(body):
    """A create/update body -> (normalized properties, extended props)."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object (an "
                          "event).")
    props, ext = {}, None
    for k, v in body.items():
        if k.startswith("@odata.") or k in EVENT_READONLY:
            continue
        if k not in EVENT_WRITABLE:
            raise bad_request("The property '%s' does not exist on type "
                              "'microsoft.graph.event'. Use only property "
                              "names the type defines." % k)
        if k == "singleValueExtendedProperties":
            ext = clean_ext(v)
        elif k == "multiValueExtendedProperties":
            log("multiValueExtendedProperties accepted and ignored")
        elif k in EVENT_BOOLS:
            if not isinstance(v, bool):
                raise bad_request("The property '%s' must be true or false."
                                  % k)
            props[k] = v
        elif k in EVENT_ENUMS:
            tname, values = EVENT_ENUMS[k]
            hit = {x.lower(): x for x in values}.get(str(v).lower()) \
                if isinstance(v, str) else None
            if hit is None:
                raise bad_request("Cannot convert the literal '%s' to the "
                                  "expected type 'microsoft.graph.%s'."
                                  % (v, tname))
            props[k] = hit
        elif k == "subject":
            if v is not None and not isinstance(v, str):
                raise bad_request("The property 'subject' must be a string.")
            props[k] = v or ""
        elif k == "reminderMinutesBeforeStart":
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise bad_request("reminderMinutesBeforeStart must be a "
                                  "non-negative integer.")
            props[k] = v
        elif k == "categories":
            if not isinstance(v, list) or not all(isinstance(c, str)
                                                  for c in v):
                raise bad_request("categories must be a list of strings.")
            props[k] = list(v)
        elif k == "body":
            props[k] = store_body(v)
        elif k == "location":
            props[k] = norm_location(v)
        elif k == "locations":
            if not isinstance(v, list):
                raise bad_request("locations must be a list.")
            props[k] = [norm_location(x) for x in v]
        elif k == "attendees":
            props[k] = norm_attendees(v)
        elif k == "transactionId":
            if v is not None and not isinstance(v, str):
                raise bad_request("transactionId must be a string.")
            props[k] = v
        else:                          # start, end, recurrence: checked later
            props[k] = v
    if "location" in props and "locations" not in props:
        loc = props["location"]
        props["locations"] = [{"displayName": loc["displayName"],
                               "locationType": loc["locationType"],
                               "uniqueIdType": "unknown"}] \
            if loc["displayName"] else []
    elif "locations" in props and "location" not in props:
        names = [x["displayName"] for x in props["locations"]
                 if x["displayName"]]
        props["location"] = norm_location(
            {"displayName": "; ".join(names)} if names else None)
    return props, ext


def local_start_date(times):
    if times.all_day:
        return times.start_date
    return times.start.astimezone(times.tz).date()


class Inst:
    """One entry of a calendar view: a single event, an occurrence or an
    exception."""

    __slots__ = ("id", "times", "version", "rec", "key", "exc")

    def __init__(self, iid, times, version, rec, key, exc):
        self.id = iid
        self.times = times
        self.version = version
        self.rec = rec
        self.key = key
        self.exc = exc


def times_for_key(rec, key):
    """The original times of the occurrence with that key (no check)."""
    if "T" in key:
        start = dt.datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=UTC)
        t = rec.times
        return Times(False, start, start + (t.end - t.start), t.tz_name,
                     t.end_tz_name, t.tz)
    return rec.occurrence_times(dt.datetime.strptime(key, "%Y%m%d").date())


def parse_prefer(value):
    """Prefer header(s) -> {preference (lower case): value}."""
    out = {}
    if not value:
        return out
    for m in re.finditer(r'\s*([A-Za-z0-9_.\-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|'
                         r'[^,;]*))?[^,]*,?', value):
        name, val = m.group(1), m.group(2)
        if val and val.startswith('"'):
            val = val[1:-1]
        out[name.lower()] = (val or "").strip()
    return out


def odata_quote(s):
    return urllib.parse.quote(s, safe="-_.~:()'$,!*@")


def build_query(pairs):
    return "&".join("%s=%s" % (odata_quote(k), odata_quote(v))
                    for k, v in pairs)
