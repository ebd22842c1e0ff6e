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
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import zoneinfo
from functools import lru_cache

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fake_http  # noqa: E402  (tests/fakes/fake_http.py: the HTTP plumbing)

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



def log(msg):
    fake_http.log_line("fake_graph", msg)


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


def not_found(message="No such item in this mailbox."):
    return GraphError(404, "ErrorItemNotFound", message)


def access_denied(message="Access is denied; check the credentials and "
                          "permissions."):
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
        inner={"code": "429", "message": "Retry after the delay in Retry-After",
               "status": "429"})


def injected_error(status, code=None, message=None):
    """The body for an error requested with /_fake/fail."""
    defaults = {
        400: ("BadRequest", "The request is malformed or incorrect."),
        401: ("InvalidAuthenticationToken", "The access token is not valid."),
        403: ("ErrorAccessDenied", "Access is denied; check the credentials "
                                   "and permissions."),
        404: ("ErrorItemNotFound", "No such item in this mailbox."),
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
        err.inner = {"code": "429", "message": "Retry after the delay in Retry-After",
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
            raise bad_request("microsoft.graph.recurrencePattern has no property "
                              "'%s'." % k)
    for k in rng:
        if k not in RANGE_KEYS:
            raise bad_request("microsoft.graph.recurrenceRange has no property "
                              "'%s'." % k)
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
            raise bad_request("microsoft.graph.dateTimeTimeZone has no property "
                              "'%s'." % k)
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
            raise bad_request("microsoft.graph.event has no property '%s'."
                              % k)
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
                raise bad_request("'%s' is not a value of the type "
                                  "'microsoft.graph.%s'."
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


# ---------------------------------------------------------------------------
# Microsoft Graph: the calendar API
# ---------------------------------------------------------------------------

DEFAULT = "\x00default"               # the mailbox's default calendar
ODATA_OPTIONS = ("top", "skip", "select", "expand", "filter", "orderby",
                 "skiptoken", "deltatoken", "count", "search")
EXPAND_RE = re.compile(r"^\s*singleValueExtendedProperties\s*\(\s*\$filter\s*"
                       r"=\s*(.+?)\s*\)\s*$", re.I)
ID_EQ_RE = re.compile(r"^\s*id\s+eq\s+'((?:[^']|'')*)'\s*$", re.I)
FILTER_RE = re.compile(
    r"^\s*singleValueExtendedProperties/any\s*\(\s*(\w+)\s*:\s*\1/id\s+eq\s+"
    r"'((?:[^']|'')*)'\s*(?:and\s+(?:\1/value\s+(eq|ne)\s+'((?:[^']|'')*)'"
    r"|(contains|startswith)\s*\(\s*\1/value\s*,\s*'((?:[^']|'')*)'\s*\))"
    r"\s*)?\)\s*$", re.I)
ORDERBY = {"start/datetime": "start", "end/datetime": "end",
           "createddatetime": "created", "lastmodifieddatetime": "modified",
           "subject": "subject"}
EVENT_FIELDS = {
    "@odata.type", "@odata.etag", "id", "createdDateTime",
    "lastModifiedDateTime", "changeKey", "categories", "transactionId",
    "originalStartTimeZone", "originalEndTimeZone", "iCalUId",
    "reminderMinutesBeforeStart", "isReminderOn", "hasAttachments",
    "subject", "bodyPreview", "importance", "sensitivity", "isAllDay",
    "isCancelled", "isOrganizer", "responseRequested", "seriesMasterId",
    "showAs", "type", "webLink", "onlineMeetingUrl", "isOnlineMeeting",
    "onlineMeetingProvider", "allowNewTimeProposals", "isDraft",
    "hideAttendees", "originalStart", "recurrence", "onlineMeeting",
    "responseStatus", "body", "start", "end", "location", "locations",
    "attendees", "organizer"}
EVENT_FIELDS_CI = {f.lower(): f for f in EVENT_FIELDS}
DELTA_UNSUPPORTED = ("$select", "$expand", "$filter", "$orderby", "$search",
                     "$top", "$skip", "$count")


def norm_query(raw_query):
    out = {}
    for k, v in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        lk = k.lower()
        if lk in ODATA_OPTIONS:
            lk = "$" + lk
        out[lk] = v
    return out


def unquote_odata(s):
    return s.replace("''", "'")


def route(rest):
    """Path segments after /me or /users/{id} -> (kind, args...)."""
    low = [s.lower() for s in rest]
    if not rest:
        return ("user",)
    if low[0] == "calendars":
        if len(rest) == 1:
            return ("calendars",)
        cal, tail, tlow = rest[1], rest[2:], low[2:]
        if not tail:
            return ("calendar", cal)
    elif low[0] == "calendar":
        cal, tail, tlow = DEFAULT, rest[1:], low[1:]
        if not tail:
            return ("calendar", DEFAULT)
    else:
        cal, tail, tlow = None, rest, low
    if tlow[0] == "events":
        if len(tail) == 1:
            return ("events", cal)
        if len(tail) == 2:
            return ("event", cal, tail[1])
        if len(tail) == 3 and tlow[2] == "instances":
            return ("instances", cal, tail[1])
    if tlow[0] == "calendarview":
        if len(tail) == 1:
            return ("view", cal)
        if len(tail) == 2 and tlow[1] in ("delta", "microsoft.graph.delta"):
            return ("delta", cal)
    raise bad_request("No resource matches the path segment '%s'." % tail[-1])


ROUTE_METHODS = {"user": ("GET",), "calendars": ("GET", "POST"),
                 "calendar": ("GET",), "events": ("GET", "POST"),
                 "event": ("GET", "PATCH", "DELETE"), "instances": ("GET",),
                 "view": ("GET",), "delta": ("GET",)}


def etag_matches(header, current):
    for part in header.split(","):
        p = part.strip()
        if p == "*":
            return True
        bare = p[2:] if p.startswith("W/") else p
        bare = bare.strip('"')
        if bare == current[3:-1]:
            return True
    return False


class Api:
    def __init__(self, state):
        self.S = state

    # -- authentication and mailboxes -------------------------------------------
    def authenticate(self, headers):
        value = headers.get("Authorization")
        if not value or not value.strip():
            raise auth_error("The access token is empty.")
        parts = value.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise auth_error("The Authorization header must hold a Bearer "
                             "token.")
        info = self.S.access_tokens.get(parts[1].strip())
        if info is None:
            raise auth_error("The access token is not valid.")
        if info["exp"] <= time.time():
            raise auth_error("The access token has expired or is not yet "
                             "valid.")
        return info

    def resolve(self, ctx, segs):
        """(User, relation, rest of the path); relation: self|shared|app."""
        if not segs:
            raise bad_request("The request names no resource.")
        head = segs[0].lower()
        if head == "me":
            if ctx["kind"] == "app":
                raise bad_request("/me is only valid with a delegated token "
                                  "(a signed-in user); an application token "
                                  "names the mailbox: /users/{id | "
                                  "userPrincipalName}.")
            user = self.S.users.get(ctx["user"])
            if user is None:
                raise auth_error("The user of the access token no longer "
                                 "exists.")
            return user, "self", segs[1:]
        if head != "users" or len(segs) < 2:
            raise bad_request("No resource matches the path segment '%s'."
                              % segs[0])
        user = self.S.find_user(segs[1])
        if user is None:
            raise GraphError(404, "ErrorInvalidUser",
                             "The requested user '%s' is invalid." % segs[1])
        if ctx["kind"] == "app":
            allowed = self.S.app_access.get(ctx["client_id"])
            if allowed is not None and user.id not in allowed:
                raise access_denied("An application access policy keeps "
                                    "this application out of the mailbox.")
            return user, "app", segs[2:]
        if user.id == ctx["user"]:
            return user, "self", segs[2:]
        if not any(self.S.calendars[c].shared_with.get(ctx["user"])
                   for c in user.calendars):
            raise access_denied()
        return user, "shared", segs[2:]

    def check(self, ctx, rel, cal, write):
        scopes = set(ctx["scopes"])
        if rel == "app":
            need = APP_WRITE if write else APP_READ
        elif rel == "self":
            need = WRITE_OWN if write else READ_OWN
        else:
            if cal is not None:
                role = cal.shared_with.get(ctx["user"])
                if role is None or (write and role != "write"):
                    raise access_denied()
            need = WRITE_SHARED if write else READ_SHARED
        if not scopes & need:
            raise access_denied("Access is denied: the token lacks the "
                                "permission (%s)." % " or ".join(sorted(need)))

    def calendar(self, user, spec):
        if spec is None or spec == DEFAULT:
            return self.S.default_calendar(user)
        cal = self.S.calendars.get(spec)
        if cal is None or cal.owner != user.id:
            raise not_found()
        return cal

    def visible_calendars(self, ctx, user, rel):
        cals = [self.S.calendars[c] for c in user.calendars]
        if rel == "shared":
            cals = [c for c in cals if c.shared_with.get(ctx["user"])]
        return cals

    def find_event(self, user, spec, eid):
        occ = parse_occurrence_id(eid)
        master_id, key = occ if occ else (eid, None)
        cals = [self.calendar(user, spec)] if spec is not None else \
            [self.S.calendars[c] for c in user.calendars]
        for cal in cals:
            rec = cal.events.get(master_id)
            if rec is not None:
                break
        else:
            raise not_found()
        if key is not None:
            if rec.kind != "master" or key in rec.cancelled:
                raise not_found()
            if key not in rec.exceptions and rec.occurrence_by_key(key) is None:
                raise not_found()
        return cal, rec, key

    # -- rendering ---------------------------------------------------------------
    def view_opts(self, headers, q):
        prefer = parse_prefer(headers.get("Prefer"))
        applied = []
        tzname = prefer.get("outlook.timezone")
        if tzname:
            tz_or_400(tzname, "the Prefer: outlook.timezone header")
            applied.append('outlook.timezone="%s"' % tzname)
        else:
            tzname = "UTC"
        text = False
        bct = (prefer.get("outlook.body-content-type") or "").lower()
        if bct in ("text", "html"):
            text = bct == "text"
            applied.append('outlook.body-content-type="%s"' % bct)
        opts = {"tz": tzname, "text": text, "select": None, "ext": None,
                "prefer": prefer, "applied": applied}
        if q.get("$select"):
            names = []
            for n in q["$select"].split(","):
                f = EVENT_FIELDS_CI.get(n.strip().lower())
                if f is None:
                    raise bad_request("Could not find a property named '%s' "
                                      "on type 'microsoft.graph.event'."
                                      % n.strip())
                names.append(f)
            opts["select"] = names
        if q.get("$expand"):
            m = EXPAND_RE.match(q["$expand"])
            if not m:
                raise bad_request("Only $expand=singleValueExtendedProperties"
                                  "($filter=id eq '...') is supported here; "
                                  "all extended properties of an item can "
                                  "not be read in one call.")
            keys = set()
            for part in re.split(r"\s+or\s+", m.group(1), flags=re.I):
                pm = ID_EQ_RE.match(part)
                if not pm or ext_key(unquote_odata(pm.group(1))) is None:
                    raise bad_request("The $filter of the $expand must be "
                                      "id eq '<extended property id>'.")
                keys.add(ext_key(unquote_odata(pm.group(1))))
            opts["ext"] = keys
        return opts

    def render(self, user, cal, rec, key, opts, odata_type=False):
        S = self.S
        if key is None:
            res, t, seq = rec.res, rec.times, rec.seq
            created, modified = rec.created, rec.modified
            typ = "seriesMaster" if rec.kind == "master" else "singleInstance"
            iid, ical, ext, orig = rec.id, rec.ical_uid, rec.ext, None
        else:
            exc = rec.exceptions.get(key)
            orig = times_for_key(rec, key)
            iid = occurrence_id(rec.id, key)
            ical = occurrence_ical_uid(rec.ical_uid, local_start_date(orig))
            if exc:
                res = dict(rec.res)
                res.update(exc["ov"])
                t = rec.exception_times(key, exc, orig)
                seq = max(rec.seq, exc["seq"])
                created = exc["created"]
                modified = max(rec.modified, exc["modified"])
                typ, ext = "exception", merge_ext(rec.ext, exc["ext"])
            else:
                res, t, seq = rec.res, orig, rec.seq
                created, modified = rec.created, rec.modified
                typ, ext = "occurrence", rec.ext
        start, end = render_times(t, opts["tz"])
        body = res["body"]
        if opts["text"]:
            body = {"contentType": "text",
                    "content": html_to_text(body["content"])}
        owner = S.users[cal.owner]
        ev = {}
        if odata_type:
            ev["@odata.type"] = "#microsoft.graph.event"
        ev["@odata.etag"] = S.etag(seq)
        ev["id"] = iid
        ev["createdDateTime"] = iso_z(created)
        ev["lastModifiedDateTime"] = iso_z(modified)
        ev["changeKey"] = S.change_key(seq)
        ev["categories"] = res["categories"]
        if res.get("transactionId"):
            ev["transactionId"] = res["transactionId"]
        ev.update({
            "originalStartTimeZone": t.tz_name,
            "originalEndTimeZone": t.end_tz_name,
            "iCalUId": ical,
            "reminderMinutesBeforeStart": res["reminderMinutesBeforeStart"],
            "isReminderOn": res["isReminderOn"],
            "hasAttachments": False,
            "subject": res["subject"],
            "bodyPreview": body_preview(res["body"]),
            "importance": res["importance"],
            "sensitivity": res["sensitivity"],
            "isAllDay": t.all_day,
            "isCancelled": False,
            "isOrganizer": True,
            "responseRequested": res["responseRequested"],
            "seriesMasterId": rec.id if key is not None else None,
            "showAs": res["showAs"],
            "type": typ,
            "webLink": "https://outlook.office365.com/owa/?itemid=%s&exvsurl="
                       "1&path=/calendar/item" % urllib.parse.quote(iid,
                                                                    safe=""),
            "onlineMeetingUrl": None,
            "isOnlineMeeting": res["isOnlineMeeting"],
            "onlineMeetingProvider": res["onlineMeetingProvider"],
            "allowNewTimeProposals": res["allowNewTimeProposals"],
            "isDraft": False,
            "hideAttendees": res["hideAttendees"],
        })
        if orig is not None:
            ev["originalStart"] = orig.start.strftime("%Y-%m-%dT%H:%M:%SZ")
        ev.update({
            "recurrence": res["recurrence"] if key is None else None,
            "onlineMeeting": None,
            "responseStatus": {"response": "organizer",
                               "time": "0001-01-01T00:00:00Z"},
            "body": body, "start": start, "end": end,
            "location": res.get("location") or norm_location(None),
            "locations": res.get("locations", []),
            "attendees": res["attendees"],
            "organizer": {"emailAddress": {"name": owner.name,
                                           "address": owner.upn}},
        })
        if opts.get("ext") is not None:
            hits = [p for p in ext if ext_key(p["id"]) in opts["ext"]]
            if hits:
                ev["singleValueExtendedProperties"] = hits
        if opts.get("select"):
            keep = {"@odata.type", "@odata.etag", "id",
                    "singleValueExtendedProperties"} | set(opts["select"])
            ev = {k: v for k, v in ev.items() if k in keep}
        return ev

    def calendar_res(self, ctx, rel, cal, base_url):
        owner = self.S.users[cal.owner]
        can_edit = rel in ("self", "app") or \
            cal.shared_with.get(ctx["user"]) == "write"
        return {
            "@odata.id": "%s/v1.0/users('%s@%s')/calendars('%s')" % (
                base_url, owner.id, TENANT_ID, cal.id),
            "id": cal.id, "name": cal.name, "color": cal.color,
            "hexColor": "", "isDefaultCalendar": cal.is_default,
            "changeKey": self.S.change_key(cal.seq),
            "canShare": rel in ("self", "app"),
            "canViewPrivateItems": rel in ("self", "app"),
            "isShared": bool(cal.shared_with), "isSharedWithMe":
                rel == "shared",
            "canEdit": can_edit,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": cal.is_default,
            "isRemovable": not cal.is_default,
            "owner": {"name": owner.name, "address": owner.upn}}

    # -- calendar views --------------------------------------------------------
    def view(self, cal, lo, hi):
        """Single events, occurrences and exceptions overlapping [lo, hi)."""
        out = []
        for rec in cal.events.values():
            if rec.kind == "single":
                if rec.times.overlaps(lo, hi):
                    out.append(Inst(rec.id, rec.times, rec.seq, rec, None,
                                    None))
                continue
            n = 0
            for key, ot in rec.occurrences(until=hi):
                if key in rec.cancelled or key in rec.exceptions:
                    continue
                if ot.overlaps(lo, hi):
                    n += 1
                    if n > MAX_OCCURRENCES:
                        log("series %s: more than %d occurrences in one view"
                            % (rec.id[:16], MAX_OCCURRENCES))
                        break
                    out.append(Inst(occurrence_id(rec.id, key), ot, rec.seq,
                                    rec, key, None))
            for key, exc in rec.exceptions.items():
                if key in rec.cancelled:
                    continue
                t = rec.exception_times(key, exc, times_for_key(rec, key))
                if t.overlaps(lo, hi):
                    out.append(Inst(occurrence_id(rec.id, key), t,
                                    max(rec.seq, exc["seq"]), rec, key, exc))
        out.sort(key=lambda i: (i.times.start, i.id))
        return out

    def window(self, q, required=True):
        s_txt, e_txt = q.get("startdatetime"), q.get("enddatetime")
        if not s_txt or not e_txt:
            raise GraphError(400, "ErrorInvalidParameter",
                             "This request needs a time window: the query "
                             "parameters startDateTime and endDateTime.")
        lo, hi = parse_iso(s_txt), parse_iso(e_txt)
        if lo is None or hi is None:
            raise GraphError(400, "ErrorInvalidParameter",
                             "startDateTime and endDateTime must be ISO 8601 "
                             "date-times.")
        if hi <= lo:
            raise GraphError(400, "ErrorInvalidParameter",
                             "endDateTime must be after startDateTime.")
        return lo.astimezone(UTC), hi.astimezone(UTC)

    def page_size(self, q, opts, default):
        if q.get("$top") is not None:
            try:
                n = int(q["$top"])
            except ValueError:
                n = 0
            if not 1 <= n <= MAX_PAGE_SIZE:
                raise bad_request("$top must be an integer from 1 to %d."
                                  % MAX_PAGE_SIZE)
            return n
        mp = opts["prefer"].get("odata.maxpagesize")
        if mp:
            try:
                n = int(mp)
            except ValueError:
                n = 0
            if n >= 1:
                n = min(n, MAX_PAGE_SIZE)
                opts["applied"].append("odata.maxpagesize=%d" % n)
                return n
        return default

    def paged(self, rows, q, opts, raw_query, link_base):
        size = self.page_size(q, opts, DEFAULT_PAGE_SIZE)
        try:
            skip = int(q.get("$skip") or 0)
        except ValueError:
            skip = -1
        if skip < 0:
            raise bad_request("$skip must be a non-negative integer.")
        chunk = rows[skip:skip + size]
        nxt = None
        if skip + size < len(rows):
            pairs = [(k, v) for k, v in urllib.parse.parse_qsl(
                raw_query, keep_blank_values=True)
                if k.lower() not in ("$skip", "skip")]
            pairs.append(("$skip", str(skip + size)))
            nxt = link_base + "?" + build_query(pairs)
        return chunk, nxt

    def filter_rows(self, rows, q):
        """$filter on singleValueExtendedProperties (the only one kept)."""
        f = q.get("$filter")
        if not f:
            return rows
        m = FILTER_RE.match(f)
        if not m:
            raise bad_request("The fake supports only $filter=single"
                              "ValueExtendedProperties/Any(ep: ep/id eq "
                              "'...' and ep/value eq '...').")
        key = ext_key(unquote_odata(m.group(2)))
        if key is None:
            raise bad_request("The extended property id in $filter is not "
                              "in one of the supported formats.")
        op = (m.group(3) or m.group(5) or "").lower()
        val = unquote_odata(m.group(4) if m.group(3) else (m.group(6) or ""))

        def ok(rec):
            for p in rec.ext:
                if ext_key(p["id"]) != key:
                    continue
                v, w = p["value"].lower(), val.lower()
                return (not op or (op == "eq" and v == w) or
                        (op == "ne" and v != w) or
                        (op == "contains" and w in v) or
                        (op == "startswith" and v.startswith(w)))
            return False
        return [r for r in rows if ok(r[0])]

    def order_rows(self, rows, q):
        ob = q.get("$orderby")
        if not ob:
            return rows
        parts = ob.strip().split()
        field = ORDERBY.get(parts[0].lower())
        if field is None or len(parts) > 2 or (len(parts) == 2 and parts[1]
                                               .lower() not in ("asc",
                                                                "desc")):
            raise bad_request("$orderby supports start/dateTime, "
                              "end/dateTime, createdDateTime, "
                              "lastModifiedDateTime and subject.")
        desc = len(parts) == 2 and parts[1].lower() == "desc"

        def k(r):
            rec, inst = r
            t = inst.times if inst else rec.times
            return {"start": t.start, "end": t.end, "created": rec.created,
                    "modified": rec.modified,
                    "subject": rec.res["subject"]}[field]
        return sorted(rows, key=k, reverse=desc)

    # -- dispatch ----------------------------------------------------------------
    def dispatch(self, ctx, user, rel, rest, method, raw_query, headers,
                 raw_body, base_url, path):
        """One Graph call -> (status, body object or None, headers)."""
        r = route(rest)
        kind = r[0]
        if method not in ROUTE_METHODS[kind]:
            raise GraphError(405, "BadRequest", "The HTTP method '%s' is not "
                             "allowed on this resource." % method)
        q = norm_query(raw_query)
        if kind == "delta":
            bad = [k for k in DELTA_UNSUPPORTED if k in q]
            if bad:
                raise GraphError(400, "ErrorInvalidUrlQuery",
                                 "These query options are not supported with "
                                 "change tracking over calendarView: %s."
                                 % ", ".join(bad))
        opts = self.view_opts(headers, q)
        out_headers = {}
        ctx_base = "%s/v1.0/$metadata#users('%s')" % (base_url, user.id)
        link_base = base_url + path
        body = None
        if method in ("POST", "PATCH"):
            body = self.json_body(raw_body, headers)
        status, result = 200, None
        if kind == "user":
            result = {"@odata.context": base_url + "/v1.0/$metadata#users/"
                                                   "$entity",
                      "businessPhones": [], "displayName": user.name,
                      "givenName": None, "jobTitle": None, "mail": user.upn,
                      "mobilePhone": None, "officeLocation": None,
                      "preferredLanguage": None, "surname": None,
                      "userPrincipalName": user.upn, "id": user.id}
        elif kind == "calendars" and method == "GET":
            self.check(ctx, rel, None, False)
            cals = self.visible_calendars(ctx, user, rel)
            rows, nxt = self.paged(cals, q, opts, raw_query, link_base)
            result = {"@odata.context": ctx_base + "/calendars",
                      "value": [self.calendar_res(ctx, rel, c, base_url)
                                for c in rows]}
            if nxt:
                result["@odata.nextLink"] = nxt
        elif kind == "calendars":
            if rel == "shared":
                raise access_denied()
            self.check(ctx, rel, None, True)
            status, result = 201, self.create_calendar(ctx, rel, user, body,
                                                       base_url)
            result = dict({"@odata.context": ctx_base + "/calendars/$entity"},
                          **result)
        elif kind == "calendar":
            cal = self.calendar(user, r[1])
            self.check(ctx, rel, cal, False)
            result = dict({"@odata.context": ctx_base + "/calendars/$entity"},
                          **self.calendar_res(ctx, rel, cal, base_url))
        elif kind == "events" and method == "GET":
            cal = self.calendar(user, r[1])
            self.check(ctx, rel, cal, False)
            rows = [(rec, None) for rec in cal.events.values()]
            rows = self.order_rows(self.filter_rows(rows, q), q)
            chunk, nxt = self.paged(rows, q, opts, raw_query, link_base)
            where = "/events" if r[1] is None else \
                "/calendars('%s')/events" % cal.id
            result = {"@odata.context": ctx_base + where + self.sel(opts),
                      "value": [self.render(user, cal, rec, None, opts)
                                for rec, _ in chunk]}
            if nxt:
                result["@odata.nextLink"] = nxt
        elif kind == "events":
            cal = self.calendar(user, r[1])
            self.check(ctx, rel, cal, True)
            rec = self.create_event(cal, body)
            status = 201
            result = dict({"@odata.context": ctx_base + "/events/$entity"},
                          **self.render(user, cal, rec, None, opts))
        elif kind == "event":
            cal, rec, key = self.find_event(user, r[1], r[2])
            write = method != "GET"
            self.check(ctx, rel, cal, write)
            if write:
                current = self.current_etag(rec, key)
                im = headers.get("If-Match")
                if im and not etag_matches(im, current):
                    raise GraphError(412, "ErrorIrresolvableConflict",
                                     "The update could not be made because "
                                     "the change key in the request does "
                                     "not match the item's current one.")
            if method == "GET":
                result = dict({"@odata.context": ctx_base + "/events" +
                               self.sel(opts) + "/$entity"},
                              **self.render(user, cal, rec, key, opts))
            elif method == "PATCH":
                if key is None:
                    self.patch_event(cal, rec, body)
                else:
                    self.patch_occurrence(cal, rec, key, body)
                result = dict({"@odata.context": ctx_base + "/events/$entity"},
                              **self.render(user, cal, rec, key, opts))
            else:
                self.delete_event(cal, rec, key)
                status = 204
        elif kind == "instances":
            cal, rec, key = self.find_event(user, r[1], r[2])
            self.check(ctx, rel, cal, False)
            lo, hi = self.window(q)
            insts = [] if key is not None or rec.kind != "master" else \
                [i for i in self.view(cal, lo, hi) if i.rec is rec]
            rows = self.order_rows([(i.rec, i) for i in insts], q)
            chunk, nxt = self.paged(rows, q, opts, raw_query, link_base)
            result = {"@odata.context": ctx_base + "/events('%s')/instances%s"
                      % (urllib.parse.quote(rec.id, safe=""), self.sel(opts)),
                      "value": [self.render(user, cal, i.rec, i.key, opts)
                                for _, i in chunk]}
            if nxt:
                result["@odata.nextLink"] = nxt
        elif kind == "view":
            cal = self.calendar(user, r[1])
            self.check(ctx, rel, cal, False)
            lo, hi = self.window(q)
            rows = [(i.rec, i) for i in self.view(cal, lo, hi)]
            rows = self.order_rows(self.filter_rows(rows, q), q)
            chunk, nxt = self.paged(rows, q, opts, raw_query, link_base)
            where = "/calendarView" if r[1] is None else \
                "/calendars('%s')/calendarView" % cal.id
            result = {"@odata.context": ctx_base + where + self.sel(opts),
                      "value": [self.render(user, cal, i.rec, i.key, opts)
                                for _, i in chunk]}
            if nxt:
                result["@odata.nextLink"] = nxt
        else:
            cal = self.calendar(user, r[1])
            self.check(ctx, rel, cal, False)
            result = self.delta(user, cal, q, opts, link_base, base_url)
        if opts["applied"]:
            out_headers["Preference-Applied"] = ", ".join(opts["applied"])
        return status, result, out_headers

    @staticmethod
    def sel(opts):
        return "(%s)" % ",".join(opts["select"]) if opts.get("select") else ""

    @staticmethod
    def json_body(raw, headers):
        ctype = (headers.get("Content-Type") or "").lower()
        if not raw.strip():
            return {}
        if "json" not in ctype:
            raise bad_request("Unable to read the JSON request payload: set "
                              "Content-Type: application/json and send valid "
                              "JSON.")
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise bad_request("Unable to read the JSON request payload: set "
                              "Content-Type: application/json and send valid "
                              "JSON.")

    def current_etag(self, rec, key):
        if key is not None and key in rec.exceptions:
            return self.S.etag(max(rec.seq, rec.exceptions[key]["seq"]))
        return self.S.etag(rec.seq)

    # -- writes ------------------------------------------------------------------
    def create_calendar(self, ctx, rel, user, body, base_url):
        if not isinstance(body, dict) or not isinstance(body.get("name"),
                                                        str) \
                or not body["name"].strip():
            raise invalid_request("A new calendar needs a name.")
        for cid in user.calendars:
            if self.S.calendars[cid].name.lower() == body["name"].lower():
                raise GraphError(409, "ErrorFolderExists",
                                 "A calendar with the name '%s' already "
                                 "exists." % body["name"])
        cal = self.S.add_calendar(user.id, body["name"])
        if isinstance(body.get("color"), str):
            cal.color = body["color"]
        return self.calendar_res(ctx, rel, cal, base_url)

    def create_event(self, cal, body):
        S = self.S
        props, ext = clean_event_body(body)
        tx = props.get("transactionId")
        if tx and cal.tx.get(tx) in cal.events:
            return cal.events[cal.tx[tx]]
        for need in ("start", "end"):
            if need not in props:
                raise invalid_request("An event needs a start and an end.")
        res = dict(EVENT_DEFAULTS)
        res.update({"body": store_body(None), "location": norm_location(None),
                    "locations": []})
        res.update(props)
        times = parse_times(res["start"], res["end"], res["isAllDay"])
        if res.get("recurrence"):
            res["recurrence"] = normalize_recurrence(
                res["recurrence"], local_start_date(times), times.tz_name)
        else:
            res["recurrence"] = None
        rec = EventRec()
        rec.id = new_item_id()
        rec.cal_id = cal.id
        rec.res = res
        rec.ext = ext or []
        rec.compute()
        rec.seq = S.next_seq()
        rec.created = rec.modified = S.next_ts()
        rec.ical_uid = new_ical_uid()
        cal.events[rec.id] = rec
        cal.seq = rec.seq
        if tx:
            cal.tx[tx] = rec.id
        return rec

    def patch_event(self, cal, rec, body):
        S = self.S
        props, ext = clean_event_body(body)
        if "transactionId" in props:
            if props["transactionId"] != rec.res.get("transactionId"):
                raise invalid_request("transactionId can not be changed "
                                      "after the event is created.")
            del props["transactionId"]
        res = dict(rec.res)
        res.update(props)
        times = parse_times(res["start"], res["end"], res["isAllDay"])
        if "recurrence" in props:
            res["recurrence"] = normalize_recurrence(
                props["recurrence"], local_start_date(times),
                times.tz_name) if props["recurrence"] else None
        elif res.get("recurrence") and ("start" in props or
                                        "isAllDay" in props):
            new = json.loads(json.dumps(res["recurrence"]))
            new["range"]["startDate"] = local_start_date(times).isoformat()
            res["recurrence"] = new
        timing = any(res.get(k) != rec.res.get(k)
                     for k in ("start", "end", "isAllDay", "recurrence"))
        rec.res = res
        rec.compute()
        if rec.kind != "master" or timing:
            # a changed series pattern or time drops its exceptions
            rec.exceptions, rec.cancelled = {}, {}
        if ext:
            rec.ext = merge_ext(rec.ext, ext)
        rec.seq = S.next_seq()
        rec.modified = S.next_ts()
        cal.seq = rec.seq

    def patch_occurrence(self, cal, rec, key, body):
        S = self.S
        props, ext = clean_event_body(body)
        if props.get("recurrence") is not None:
            raise invalid_request("An occurrence or exception has no "
                                  "recurrence of its own; change the series "
                                  "master instead.")
        props.pop("recurrence", None)
        props.pop("transactionId", None)
        orig = times_for_key(rec, key)
        exc = rec.exceptions.get(key)
        ov = dict(exc["ov"]) if exc else {}
        ov.update(props)
        new_t = rec.exception_times(key, {"ov": ov}, orig)
        self.check_crossing(rec, key, new_t)
        seq, ts = S.next_seq(), S.next_ts()
        if exc is None:
            exc = {"ov": {}, "ext": [], "seq": seq, "created": ts,
                   "modified": ts}
        exc["ov"] = ov
        exc["ext"] = merge_ext(exc["ext"], ext or [])
        exc["seq"], exc["modified"] = seq, ts
        rec.exceptions[key] = exc
        cal.seq = seq

    def check_crossing(self, rec, key, new_t):
        """Update event page: an occurrence can't move to or past the day of
        the previous or the next occurrence."""
        tz = rec.times.tz
        prev_t = next_t = None
        found = False
        for k, ot in rec.occurrences():
            if k != key and k in rec.cancelled:
                continue
            eff = ot
            if k != key and k in rec.exceptions:
                eff = rec.exception_times(k, rec.exceptions[k], ot)
            if k == key:
                found = True
            elif not found:
                prev_t = eff
            else:
                next_t = eff
                break

        def day(t):
            return t.start_date if t.all_day else t.start.astimezone(tz).date()
        nd = day(new_t)
        if (prev_t is not None and nd <= day(prev_t)) or \
                (next_t is not None and nd >= day(next_t)):
            raise GraphError(400, "ErrorOccurrenceCrossingBoundary",
                             "The modified occurrence would cross or overlap "
                             "an adjacent occurrence.")

    def delete_event(self, cal, rec, key):
        seq = self.S.next_seq()
        if key is None:
            del cal.events[rec.id]
            if rec.kind == "single":
                cal.tombstones[rec.id] = seq
            for tx, eid in list(cal.tx.items()):
                if eid == rec.id:
                    del cal.tx[tx]
        else:
            rec.cancelled[key] = seq
            rec.exceptions.pop(key, None)
        cal.seq = seq

    # -- delta (event: delta, and Get incremental changes to events) ------------
    def delta(self, user, cal, q, opts, link_base, base_url):
        S = self.S
        bad = [k for k in DELTA_UNSUPPORTED if k in q]
        if bad:
            raise GraphError(400, "ErrorInvalidUrlQuery",
                             "These query options are not supported with "
                             "change tracking over calendarView: %s."
                             % ", ".join(bad))
        prefer = opts["prefer"]
        size = S.opts.delta_page_size
        mp = prefer.get("odata.maxpagesize")
        if mp:
            try:
                size = max(1, min(int(mp), MAX_PAGE_SIZE))
                opts["applied"].append("odata.maxpagesize=%d" % size)
            except ValueError:
                pass
        skip, dtok = q.get("$skiptoken"), q.get("$deltatoken")
        if skip or dtok:
            extra = [k for k in q if k not in ("$skiptoken", "$deltatoken")]
            if extra:
                raise GraphError(400, "ErrorInvalidUrlQuery",
                                 "A state token already carries the query of "
                                 "the round; send the nextLink or deltaLink "
                                 "as it is (extra: %s)." % ", ".join(extra))
        if skip:
            try:
                rid, off = b64url_decode(skip).decode().rsplit(".", 1)
                off = int(off)
            except (ValueError, UnicodeDecodeError):
                raise sync_state_error()
            rnd = S.rounds.get(rid)
            if rnd is None or rnd.get("expired") or rnd["cal"] != cal.id:
                raise sync_state_error(
                    (rnd or {}).get("code", "syncStateNotFound"),
                    self.restart_link(link_base, rnd))
            return self.delta_page(user, cal, rnd, rid, off, size, opts,
                                   link_base, base_url)
        if dtok:
            tok = S.delta_tokens.get(dtok)
            if tok is None or tok.get("expired") or tok["cal"] != cal.id:
                raise sync_state_error(
                    (tok or {}).get("code", "syncStateNotFound"),
                    self.restart_link(link_base, tok))
            lo = dt.datetime.fromisoformat(tok["start"])
            hi = dt.datetime.fromisoformat(tok["end"])
            items, snap = self.delta_changes(cal, lo, hi, tok)
        else:
            extra = [k for k in q if k not in ("startdatetime", "enddatetime",
                                               "$deltatoken")]
            if extra:
                raise GraphError(400, "ErrorInvalidUrlQuery",
                                 "Unsupported query parameter(s) for "
                                 "calendarView delta: %s." % ", ".join(extra))
            lo, hi = self.window(q)
            view = self.view(cal, lo, hi)
            items = [["full", i.id] for i in view]
            snap = {i.id: i.version for i in view}
        rid = secrets.token_hex(8)
        S.rounds[rid] = {"cal": cal.id, "start": lo.isoformat(),
                         "end": hi.isoformat(), "items": items,
                         "snapshot": snap, "seq": S.seq, "delta": None,
                         "created": time.time()}
        self.trim_rounds()
        return self.delta_page(user, cal, S.rounds[rid], rid, 0, size, opts,
                               link_base, base_url)

    @staticmethod
    def restart_link(link_base, rec):
        """Delta overview, synchronization reset: 410 with a Location that
        starts the round again (an empty $deltatoken)."""
        if not rec or "start" not in rec:
            return None
        lo = dt.datetime.fromisoformat(rec["start"])
        hi = dt.datetime.fromisoformat(rec["end"])
        return link_base + "?" + build_query([
            ("startDateTime", lo.strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("endDateTime", hi.strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("$deltatoken", "")])

    def trim_rounds(self):
        S = self.S
        cap = max(1, min(S.opts.delta_token_cache, 200))
        if len(S.rounds) > cap:
            for rid in sorted(S.rounds, key=lambda r: S.rounds[r]["created"])[
                    :len(S.rounds) - cap]:
                del S.rounds[rid]

    def delta_changes(self, cal, lo, hi, tok):
        view = self.view(cal, lo, hi)
        cur = {i.id: i.version for i in view}
        snap = tok["snapshot"]
        items = [["full", i.id] for i in view if snap.get(i.id) != i.version]
        removed = [iid for iid in snap if iid not in cur]
        seen = set(removed) | set(cur) | set(snap)
        # event: delta page: events outside the range that were added,
        # updated or deleted since the last call also come as @removed.
        for rec in cal.events.values():
            if rec.kind == "single" and rec.seq > tok["seq"] and \
                    rec.id not in seen:
                removed.append(rec.id)
                seen.add(rec.id)
            for key, exc in rec.exceptions.items():
                oid = occurrence_id(rec.id, key)
                if exc["seq"] > tok["seq"] and oid not in seen:
                    removed.append(oid)
                    seen.add(oid)
        for tid, seq in cal.tombstones.items():
            if seq > tok["seq"] and tid not in seen:
                removed.append(tid)
                seen.add(tid)
        items += [["removed", iid] for iid in removed]
        return items, cur

    def delta_page(self, user, cal, rnd, rid, off, size, opts, link_base,
                   base_url):
        S = self.S
        chunk = rnd["items"][off:off + size]
        value = []
        for kind, iid in chunk:
            res = None
            if kind == "full":
                res = self.render_by_id(user, cal, iid, opts)
            if res is None:
                res = {"@odata.type": "#microsoft.graph.event", "id": iid,
                       "@removed": {"reason": "deleted"}}
            value.append(res)
        out = {"@odata.context": base_url + "/v1.0/$metadata#Collection("
                                            "event)"}
        if off + size < len(rnd["items"]):
            token = b64url(("%s.%d" % (rid, off + size)).encode(), pad=False)
            out["@odata.nextLink"] = link_base + "?$skiptoken=" + token
        else:
            if not rnd["delta"]:
                token = new_token("", 30)
                S.delta_tokens[token] = {
                    "cal": cal.id, "start": rnd["start"], "end": rnd["end"],
                    "snapshot": rnd["snapshot"], "seq": rnd["seq"],
                    "created": time.time()}
                S.delta_order.append(token)
                rnd["delta"] = token
                rnd["snapshot"] = None    # the token holds it now
                self.trim_tokens()
            out["@odata.deltaLink"] = link_base + "?$deltatoken=" + \
                rnd["delta"]
        out["value"] = value
        return out

    def trim_tokens(self):
        """Delta overview, token duration: for Outlook items older tokens
        leave a cache of fixed capacity."""
        S = self.S
        live = [t for t in S.delta_order if not S.delta_tokens.get(
            t, {}).get("expired")]
        for t in live[:max(0, len(live) - S.opts.delta_token_cache)]:
            S.delta_tokens[t]["expired"] = True
            S.delta_tokens[t]["snapshot"] = {}
        if len(S.delta_order) > 10 * S.opts.delta_token_cache:
            for t in S.delta_order[:len(S.delta_order) -
                                   10 * S.opts.delta_token_cache]:
                S.delta_tokens.pop(t, None)
            S.delta_order = S.delta_order[-10 * S.opts.delta_token_cache:]

    def render_by_id(self, user, cal, iid, opts):
        occ = parse_occurrence_id(iid)
        if occ is None:
            rec = cal.events.get(iid)
            if rec is None or rec.kind != "single":
                return None
            return self.render(user, cal, rec, None, opts, odata_type=True)
        rec = cal.events.get(occ[0])
        if rec is None or rec.kind != "master" or occ[1] in rec.cancelled:
            return None
        return self.render(user, cal, rec, occ[1], opts, odata_type=True)


# ---------------------------------------------------------------------------
# Microsoft identity platform: /{tenant}/oauth2/v2.0/{devicecode,token,
# authorize} (device authorization grant, client credentials, auth code)
# ---------------------------------------------------------------------------

def pkce_s256(verifier):
    return b64url(hashlib.sha256(verifier.encode()).digest(), pad=False)


def unsigned_jwt(claims):
    head = b64url(json.dumps({"typ": "JWT", "alg": "none"}).encode(), False)
    body = b64url(json.dumps(claims, separators=(",", ":")).encode(), False)
    return head + "." + body + "."


LOOPBACK_RE = re.compile(r"^http://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"
                         r"(/[^?#]*)?$")
NATIVE_CLIENT_URI = "https://login.microsoftonline.com/common/oauth2/" \
                    "nativeclient"


class OAuth:
    def __init__(self, state):
        self.S = state

    @staticmethod
    def tenant(tenant):
        t = tenant.lower()
        if t in TENANT_ALIASES or t in (TENANT_ID, TENANT_DOMAIN):
            return t
        raise OAuthError("invalid_request", 90002,
                         "Tenant '%s' was not found; check the tenant id or "
                         "domain in the path." % tenant)

    def parse_scopes(self, text, client):
        if not text or not text.strip():
            raise missing_param("scope")
        graph, oidc = set(), set()
        for s in text.split():
            low = s.lower()
            if low in OIDC_SCOPES:
                oidc.add(low)
                continue
            name = s
            if low.startswith(GRAPH_RESOURCE):
                name = s[len(GRAPH_RESOURCE):]
            elif low.startswith(GRAPH_APP_ID + "/"):
                name = s[len(GRAPH_APP_ID) + 1:]
            elif "/" in s:
                raise OAuthError("invalid_scope", 70011,
                                 "The scope '%s' in the 'scope' parameter "
                                 "is not valid." % s)
            if name.lower() == ".default":
                graph |= set(client.get("default_scopes", []))
                continue
            canon = GRAPH_DELEGATED_CI.get(name.lower())
            if canon is None:
                raise OAuthError("invalid_scope", 70011,
                                 "The scope '%s' in the 'scope' parameter "
                                 "is not valid." % s)
            graph.add(canon)
        return graph, oidc

    def client(self, form, headers):
        basic_id = basic_secret = None
        auth = headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                dec = base64.b64decode(auth[6:].strip()).decode()
                basic_id, _, basic_secret = dec.partition(":")
                basic_id = urllib.parse.unquote_plus(basic_id)
                basic_secret = urllib.parse.unquote_plus(basic_secret)
            except (ValueError, UnicodeDecodeError):
                raise OAuthError("invalid_client", 7000215,
                                 "The HTTP Basic credentials can not be "
                                 "read.", 401)
        cid = form.get("client_id") or basic_id
        if not cid:
            raise missing_param("client_id")
        c = self.S.clients.get(cid)
        if c is None:
            raise OAuthError("unauthorized_client", 700016,
                             "Application with identifier '%s' was not found "
                             "in the directory '%s'." % (cid, TENANT_DOMAIN))
        secret = form.get("client_secret") or basic_secret
        if c["public"]:
            if secret or form.get("client_assertion"):
                raise OAuthError("invalid_client", 700025,
                                 "The client is public: send neither "
                                 "'client_assertion' nor 'client_secret'.",
                                 401)
        else:
            if not secret:
                raise OAuthError("invalid_client", 7000218,
                                 "The request body must contain "
                                 "'client_assertion' or 'client_secret'.",
                                 401)
            if secret != c["secret"]:
                raise OAuthError("invalid_client", 7000215,
                                 "The client secret is not valid.", 401)
        return c

    def user_tokens(self, user_id, client_id, graph, oidc, tenant):
        S = self.S
        life = int(S.opts.access_token_seconds)
        out = {"token_type": "Bearer",
               "scope": " ".join(sorted(graph) + sorted(
                   oidc - {"offline_access"})),
               "expires_in": life, "ext_expires_in": life,
               "access_token": S.issue_access_token("user", user_id,
                                                    client_id, graph, tenant)}
        if "offline_access" in oidc:
            out["refresh_token"] = S.issue_refresh_token(
                user_id, client_id, sorted(graph | oidc), tenant)
        if "openid" in oidc:
            user = S.users[user_id]
            now = int(time.time())
            out["id_token"] = unsigned_jwt({
                "aud": client_id, "iss": "https://login.microsoftonline.com/"
                                         "%s/v2.0" % TENANT_ID,
                "iat": now, "nbf": now, "exp": now + life, "name": user.name,
                "oid": user.id, "preferred_username": user.upn,
                "sub": hashlib.sha256((user.id + client_id).encode())
                .hexdigest()[:43], "tid": TENANT_ID, "ver": "2.0"})
        return out

    # -- device authorization grant ---------------------------------------------
    def devicecode(self, tenant, form, headers):
        tenant = self.tenant(tenant)
        c = self.client(form, headers)
        if not c["public"]:
            raise OAuthError("unauthorized_client", 700016,
                             "The device code flow needs a public client.")
        graph, oidc = self.parse_scopes(form.get("scope"), c)
        S = self.S
        code = new_token("DAQABAAEAAAD-fake-", 48)
        user_code = new_user_code()
        interval = int(S.opts.device_interval)
        S.device_codes[code] = {
            "user_code": user_code, "client_id": c["client_id"],
            "graph": sorted(graph), "oidc": sorted(oidc), "tenant": tenant,
            "exp": time.time() + S.opts.device_code_seconds,
            "status": "pending", "user": None, "interval": interval,
            "last_poll": None, "issued": time.time()}
        uri = "https://microsoft.com/devicelogin"
        return {"user_code": user_code, "device_code": code,
                "verification_uri": uri,
                "expires_in": int(S.opts.device_code_seconds),
                "interval": interval,
                "message": "Open %s in a web browser and enter the code %s "
                           "to sign in." % (uri, user_code)}

    def grant_device(self, tenant, form, headers):
        c = self.client(form, headers)
        code = form.get("device_code")
        if not code:
            raise missing_param("device_code")
        rec = self.S.device_codes.get(code)
        if rec is None or rec["client_id"] != c["client_id"]:
            raise OAuthError("bad_verification_code", 70018,
                             "The device_code was not recognized.")
        if rec["status"] == "used":
            raise OAuthError("invalid_grant", 70000,
                             "The device_code has already been redeemed.")
        if time.time() >= rec["exp"]:
            raise OAuthError("expired_token", 70019,
                             "The device code has expired; start the "
                             "sign-in again.")
        if rec["status"] == "declined":
            raise OAuthError("authorization_declined", 65004,
                             "The user declined the sign-in.")
        if rec["status"] == "pending":
            now = time.time()
            fast = rec["interval"] > 0 and rec["last_poll"] is not None \
                and now - rec["last_poll"] < rec["interval"]
            rec["last_poll"] = now
            if fast:
                raise OAuthError("slow_down", 70016,
                                 "Polled sooner than the interval allows; "
                                 "wait longer between requests.")
            raise OAuthError("authorization_pending", 70016,
                             "The user has not yet entered the code and "
                             "signed in.")
        rec["status"] = "used"
        return self.user_tokens(rec["user"], c["client_id"],
                                set(rec["graph"]), set(rec["oidc"]),
                                rec["tenant"])

    # -- refresh tokens ----------------------------------------------------------
    def grant_refresh(self, tenant, form, headers):
        S = self.S
        c = self.client(form, headers)
        token = form.get("refresh_token")
        if not token:
            raise missing_param("refresh_token")
        rec = S.refresh_tokens.get(token)
        if rec is None:
            raise OAuthError("invalid_grant", 9002313,
                             "Invalid request: the refresh token is malformed "
                             "or not valid.")
        if rec["revoked"] or rec["user"] not in S.users:
            raise OAuthError("invalid_grant", 50173,
                             "The provided grant has expired because it was "
                             "revoked; the user must sign in again.")
        if rec["used"] and S.opts.single_use_refresh_tokens:
            raise OAuthError("invalid_grant", 70000,
                             "The refresh token was already redeemed; use "
                             "the one returned with it.")
        if rec["client_id"] != c["client_id"]:
            raise OAuthError("invalid_grant", 70000,
                             "The refresh token was issued to another "
                             "client.")
        orig = set(rec["scopes"])
        g_orig, o_orig = orig - OIDC_SCOPES, orig & OIDC_SCOPES
        if form.get("scope"):
            graph, oidc = self.parse_scopes(form["scope"], c)
            if not graph <= g_orig:
                raise OAuthError("invalid_grant", 65001,
                                 "The user has not consented to: %s."
                                 % " ".join(sorted(graph - g_orig)))
            oidc |= o_orig
        else:
            graph, oidc = g_orig, o_orig
        rec["used"] = True
        return self.user_tokens(rec["user"], c["client_id"], graph, oidc,
                                rec["tenant"])

    # -- client credentials --------------------------------------------------
    def grant_client_credentials(self, tenant, form, headers):
        S = self.S
        if tenant in TENANT_ALIASES:
            raise OAuthError("invalid_request", 9001023,
                             "The client credentials grant is not supported "
                             "over /%s; use the tenant id or domain name."
                             % tenant)
        c = self.client(form, headers)
        if c["public"]:
            raise OAuthError("invalid_client", 7000218,
                             "The request body must contain "
                             "'client_assertion' or 'client_secret'.", 401)
        scope = form.get("scope")
        if not scope:
            raise missing_param("scope")
        wanted = scope.split()
        ok = (GRAPH_DEFAULT_SCOPE.lower(), GRAPH_APP_ID + "/.default")
        if len(wanted) != 1 or wanted[0].lower() not in ok:
            raise OAuthError("invalid_scope", 70011,
                             "The scope '%s' is not valid here; this grant "
                             "takes one '<resource>/.default' scope." % scope)
        life = int(S.opts.access_token_seconds)
        return {"token_type": "Bearer", "expires_in": life,
                "ext_expires_in": life,
                "access_token": S.issue_access_token(
                    "app", None, c["client_id"], c.get("roles", []), tenant)}

    # -- authorization code + PKCE -------------------------------------------
    def redirect_ok(self, c, uri):
        if not uri:
            return False
        if c.get("redirect_uris"):
            return uri in c["redirect_uris"]
        return bool(LOOPBACK_RE.match(uri)) or uri == NATIVE_CLIENT_URI

    def authorize(self, tenant, query):
        """GET /authorize: the fake plays the signing-in user at once."""
        S = self.S

        def page(status, text):
            return status, {}, text
        try:
            self.tenant(tenant)
        except OAuthError as e:
            return page(400, "AADSTS%d: %s" % (e.aadsts, e.description))
        q = {k: v[-1] for k, v in query.items()}
        c = S.clients.get(q.get("client_id", ""))
        if c is None:
            return page(400, "AADSTS700016: Application with identifier "
                             "'%s' was not found." % q.get("client_id"))
        redirect = q.get("redirect_uri")
        if not self.redirect_ok(c, redirect):
            return page(400, "AADSTS50011: The redirect URI '%s' does not "
                             "match the redirect URIs of the application."
                        % redirect)

        def back(params):
            if q.get("state") is not None:
                params["state"] = q["state"]
            sep = "&" if "?" in redirect else "?"
            return 302, {"Location": redirect + sep +
                         urllib.parse.urlencode(params)}, ""

        def error(code, desc):
            return back({"error": code, "error_description": desc})
        if q.get("response_type") != "code":
            return error("unsupported_response_type",
                         "AADSTS70005: only response_type=code is supported.")
        if q.get("response_mode", "query") != "query":
            return error("invalid_request", "AADSTS70007: the fake answers "
                                            "with response_mode=query only.")
        try:
            graph, oidc = self.parse_scopes(q.get("scope"), c)
        except OAuthError as e:
            return error(e.error, "AADSTS%d: %s" % (e.aadsts, e.description))
        challenge = q.get("code_challenge")
        method = q.get("code_challenge_method") or ("plain" if challenge
                                                     else None)
        if method and method not in ("S256", "plain"):
            return error("invalid_request", "AADSTS501491: "
                                            "code_challenge_method must be "
                                            "S256 or plain.")
        if method and not challenge:
            return error("invalid_request", "AADSTS50147: the "
                                            "code_challenge is missing.")
        if S.opts.require_pkce and not challenge:
            return error("invalid_request", "AADSTS50147: this fake was "
                                            "started with --require-pkce.")
        if S.consent.get("deny"):
            return error("access_denied", "AADSTS65004: the user declined "
                                          "to consent.")
        user = S.find_user(q.get("login_hint")) or \
            S.find_user(S.consent.get("user")) or S.users[DEFAULT_USER_ID]
        code = new_token("M.C5_fake-", 32)
        S.auth_codes[code] = {
            "client_id": c["client_id"], "redirect_uri": redirect,
            "user": user.id, "graph": sorted(graph), "oidc": sorted(oidc),
            "challenge": challenge, "method": method,
            "exp": time.time() + AUTH_CODE_SECONDS, "used": False,
            "tenant": tenant.lower()}
        return back({"code": code})

    def grant_code(self, tenant, form, headers):
        c = self.client(form, headers)
        code = form.get("code")
        if not code:
            raise missing_param("code")
        if not form.get("redirect_uri"):
            raise missing_param("redirect_uri")
        rec = self.S.auth_codes.get(code)
        if rec is None or rec["client_id"] != c["client_id"]:
            raise OAuthError("invalid_grant", 70000,
                             "The authorization code is not valid.")
        if rec["used"]:
            raise OAuthError("invalid_grant", 54005,
                             "The authorization code was already redeemed.")
        if time.time() >= rec["exp"]:
            raise OAuthError("invalid_grant", 70008,
                             "The authorization code has expired.")
        if form["redirect_uri"] != rec["redirect_uri"]:
            raise OAuthError("invalid_grant", 50011,
                             "redirect_uri is not the one of the "
                             "authorization request.")
        if rec["challenge"]:
            verifier = form.get("code_verifier") or ""
            want = pkce_s256(verifier) if rec["method"] == "S256" else verifier
            if want != rec["challenge"]:
                raise OAuthError("invalid_grant", 501481,
                                 "The code_verifier does not match the "
                                 "code_challenge of the authorization "
                                 "request.")
        rec["used"] = True
        return self.user_tokens(rec["user"], c["client_id"],
                                set(rec["graph"]), set(rec["oidc"]),
                                rec["tenant"])

    def token(self, tenant, form, headers):
        tenant = self.tenant(tenant)
        grant = form.get("grant_type")
        if not grant:
            raise missing_param("grant_type")
        handlers = {DEVICE_GRANT: self.grant_device,
                    "refresh_token": self.grant_refresh,
                    "client_credentials": self.grant_client_credentials,
                    "authorization_code": self.grant_code}
        fn = handlers.get(grant)
        if fn is None:
            raise OAuthError("unsupported_grant_type", 70003,
                             "The grant type '%s' is not supported." % grant)
        return fn(tenant, form, headers)


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

OAUTH_PATH_RE = re.compile(r"^/([^/]+)/oauth2/v2\.0/(devicecode|token|"
                           r"authorize)/?$", re.I)


class CaseDict(dict):
    """Case-insensitive header lookup."""

    def __init__(self, d=None):
        super().__init__()
        for k, v in (d or {}).items():
            self[k.lower()] = v

    def get(self, key, default=None):
        return super().get(key.lower(), default)

    def __contains__(self, key):
        return super().__contains__(key.lower())


def json_bytes(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def parse_form(raw):
    text = raw.decode("utf-8", "replace")
    return {k: v[-1] for k, v in urllib.parse.parse_qs(
        text, keep_blank_values=True).items()}


Server = fake_http.Server


class Handler(fake_http.Handler):
    server_version = "FakeGraph/1"
    log_name = "fake_graph"

    def handle_any(self):
        t0 = time.time()
        app = self.server
        S = app.state
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        headers = {}
        for k, v in self.headers.items():
            lk = k.lower()
            headers[lk] = headers[lk] + ", " + v if lk in headers else v
        hdrs = CaseDict(headers)
        try:
            raw = self.read_body()
        except (ValueError, OSError):
            self.send(400, b"bad body\n", ctype="text/plain")
            return
        host = self.headers.get("Host") or "127.0.0.1:%d" % S.opts.bound_port
        base_url = "http://" + host
        try:
            if path.startswith("/_fake/"):
                status, payload = app.control.handle(self.command, path,
                                                     url.query, raw)
                self.send(status, json_bytes(payload),
                          ctype="application/json; charset=utf-8")
                log("%s %s -> %d" % (self.command, self.path[:160], status))
                return
            status, out_headers, out_body, ctype = self.route(
                path, url.query, hdrs, raw, base_url)
            if isinstance(out_body, (dict, list)):
                out_body = json_bytes(out_body)
        except Exception:  # pragma: no cover - a bug in the fake
            log(traceback.format_exc())
            err = injected_error(500)
            status, out_headers, out_body, ctype = \
                500, {}, json_bytes(err.body()), ODATA_JSON
        # Logged before the answer leaves: a client that reads the log right
        # after its answer finds its request there.
        with S.lock:
            S.requests.append({"method": self.command,
                               "path": urllib.parse.unquote(path),
                               "query": url.query,
                               "params": urllib.parse.parse_qs(
                                   url.query, keep_blank_values=True),
                               "status": status})
        self.send(status, out_body or b"", out_headers, ctype)
        log("%s %s -> %d (%.1f ms)" % (self.command, self.path[:160], status,
                                      (time.time() - t0) * 1000))

    def route(self, path, raw_query, headers, raw, base_url):
        app = self.server
        m = OAUTH_PATH_RE.match(path)
        if m:
            return app.oauth_call(self.command, m.group(1), m.group(2).lower(),
                                  path, raw_query, headers, raw)
        low = urllib.parse.unquote(path).lower().rstrip("/")
        if low == "/v1.0/$batch":
            fail = app.take_failure(self.command, path)
            if fail is not None:
                return fail.status, dict(fail.headers), fail.body(), ODATA_JSON
            if self.command != "POST":
                err = GraphError(405, "BadRequest", "$batch takes POST.")
                return err.status, {}, err.body(), ODATA_JSON
            status, hdrs, body = app.batch(headers, raw, base_url)
            return status, hdrs, body, ODATA_JSON
        if low.startswith("/v1.0/"):
            status, hdrs, body = app.graph_call(self.command, path, raw_query,
                                                headers, raw, base_url)
            return status, hdrs, body, ODATA_JSON if body is not None \
                else None
        err = GraphError(404, "NotFound", "This fake serves /v1.0/..., "
                         "/{tenant}/oauth2/v2.0/... and /_fake/... only.")
        return 404, {}, err.body(), ODATA_JSON


class App(Server):
    """The server plus what plain calls and batch parts share."""

    def setup_app(self, state):
        self.state = state
        self.api = Api(state)
        self.oauth = OAuth(state)
        self.control = Control(state, self)
        self.conc_lock = threading.Lock()
        self.limit = state.opts.max_concurrency
        self.retry_after = state.opts.concurrency_retry_after
        self.latency_ms = state.opts.latency_ms
        self.clear_stats()

    def clear_stats(self):
        with self.conc_lock:
            self.inflight = {}
            self.inflight_mbx = {}
            self.peak_mbx = {}
            self.peak_key = {}
            self.throttled_mbx = {}
            self.graph_calls = 0
            self.batch_calls = 0

    # -- failure injection -------------------------------------------------------
    def take_failure(self, method, path):
        S = self.state
        with S.lock:
            for rule in S.fail_rules:
                if rule["count"] <= 0:
                    continue
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if rule.get("path_contains", "/v1.0") not in path:
                    continue
                rule["count"] -= 1
                err = injected_error(rule["status"], rule.get("code"),
                                     rule.get("message"))
                ra = rule.get("retry_after")
                if ra is None and rule["status"] in (429, 503):
                    ra = 1
                if ra is not None:
                    err.headers["Retry-After"] = str(ra)
                S.fail_rules = [r for r in S.fail_rules if r["count"] > 0]
                return err
        return None

    # -- mailbox concurrency (throttling limits: Outlook service limits) ---------
    def acquire(self, key, mbx):
        with self.conc_lock:
            n = self.inflight.get(key, 0)
            if self.limit and n >= self.limit:
                self.throttled_mbx[mbx] = self.throttled_mbx.get(mbx, 0) + 1
                raise throttled(self.retry_after, "ApplicationThrottled",
                                "The application is over its "
                                "MailboxConcurrency limit: at most %d "
                                "requests at once to this mailbox."
                                % self.limit)
            self.inflight[key] = n + 1
            m = self.inflight_mbx.get(mbx, 0) + 1
            self.inflight_mbx[mbx] = m
            self.peak_mbx[mbx] = max(self.peak_mbx.get(mbx, 0), m)
            k = "%s|%s" % key
            self.peak_key[k] = max(self.peak_key.get(k, 0), n + 1)

    def release(self, key, mbx):
        with self.conc_lock:
            self.inflight[key] -= 1
            self.inflight_mbx[mbx] -= 1

    # -- one Graph call ----------------------------------------------------------
    def graph_call(self, method, path, raw_query, headers, raw, base_url):
        """-> (status, headers, body object or None)."""
        S = self.state
        request_id = str(uuid.uuid4())
        crid = headers.get("client-request-id") or request_id
        with self.conc_lock:
            self.graph_calls += 1
        fail = self.take_failure(method, path)
        if fail is not None:
            hdrs = dict(fail.headers)
            hdrs.update({"request-id": request_id, "client-request-id": crid})
            return fail.status, hdrs, fail.body(request_id, crid)
        try:
            with S.lock:
                ctx = self.api.authenticate(headers)
                segs = [urllib.parse.unquote(s) for s in
                        path[len("/v1.0"):].split("/") if s]
                user, rel, rest = self.api.resolve(ctx, segs)
                key = (ctx["client_id"], user.upn.lower())
            self.acquire(key, key[1])
            try:
                if self.latency_ms:
                    time.sleep(self.latency_ms / 1000.0)
                with S.lock:
                    status, body, hdrs = self.api.dispatch(
                        ctx, user, rel, rest, method, raw_query, headers,
                        raw, base_url, path)
            finally:
                self.release(key, key[1])
        except GraphError as e:
            status, body, hdrs = e.status, e.body(request_id, crid), \
                dict(e.headers)
        hdrs = dict(hdrs)
        hdrs.update({"request-id": request_id, "client-request-id": crid})
        if body is not None:
            hdrs.setdefault("OData-Version", "4.0")
        hdrs["Cache-Control"] = "private"
        return status, hdrs, body

    # -- identity platform -------------------------------------------------------
    def oauth_call(self, method, tenant, endpoint, path, raw_query, headers,
                   raw):
        S = self.state
        no_store = {"Cache-Control": "no-store, no-cache", "Pragma":
                    "no-cache"}
        fail = self.take_failure(method, path)
        if fail is not None:
            error = {429: "temporarily_unavailable",
                     503: "temporarily_unavailable"}.get(
                fail.status, "server_error" if fail.status >= 500 else
                "invalid_request")
            err = OAuthError(error, 90033 if fail.status >= 500 else 90100,
                             "Injected failure (%d)." % fail.status,
                             fail.status)
            hdrs = dict(no_store)
            if "Retry-After" in fail.headers:
                hdrs["Retry-After"] = fail.headers["Retry-After"]
            return fail.status, hdrs, err.body(), OAUTH_JSON
        if endpoint == "authorize":
            if method != "GET":
                return 405, {}, b"GET only\n", "text/plain"
            query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
            with S.lock:
                status, hdrs, text = self.oauth.authorize(tenant, query)
            hdrs = dict(hdrs)
            hdrs.update(no_store)
            return status, hdrs, text.encode(), "text/plain; charset=utf-8"
        try:
            if method != "POST":
                raise OAuthError("invalid_request", 900561,
                                 "The endpoint only accepts POST requests; "
                                 "it got %s." % method)
            form = parse_form(raw)
            with S.lock:
                if endpoint == "devicecode":
                    body = self.oauth.devicecode(tenant, form, headers)
                else:
                    body = self.oauth.token(tenant, form, headers)
            status = 200
        except OAuthError as e:
            status, body = e.status, e.body()
        return status, no_store, body, OAUTH_JSON

    # -- JSON batching -----------------------------------------------------------
    def batch(self, headers, raw, base_url):
        """POST /v1.0/$batch (Combine multiple HTTP requests using JSON
        batching)."""
        S = self.state
        with self.conc_lock:
            self.batch_calls += 1

        def refuse(message):
            err = bad_request(message)
            return 400, {}, err.body()
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return refuse("The batch payload is not valid JSON.")
        if not isinstance(data, dict) or not isinstance(data.get("requests"),
                                                        list):
            return refuse("A batch payload is an object with a 'requests' "
                          "array.")
        reqs = data["requests"]
        if not reqs:
            return refuse("The batch holds no requests.")
        if len(reqs) > MAX_BATCH_REQUESTS:
            return refuse("The batch holds %d requests; at most %d are "
                          "allowed." % (len(reqs), MAX_BATCH_REQUESTS))
        seen = {}
        for r in reqs:
            if not isinstance(r, dict):
                return refuse("Each batch request must be an object.")
            rid = r.get("id")
            if not isinstance(rid, str) or not rid:
                return refuse("Each batch request needs a string id.")
            if rid.lower() in seen:
                return refuse("The id '%s' is used twice in the batch." % rid)
            seen[rid.lower()] = r
            if not isinstance(r.get("method"), str) or \
                    r["method"].upper() not in ("GET", "POST", "PATCH", "PUT",
                                                "DELETE"):
                return refuse("Batch request '%s' has no valid method." % rid)
            if not isinstance(r.get("url"), str) or not r["url"]:
                return refuse("Batch request '%s' has no url." % rid)
            h = r.get("headers")
            if h is not None and not isinstance(h, dict):
                return refuse("The headers of batch request '%s' must be an "
                              "object." % rid)
            if r.get("body") is not None and not any(
                    k.lower() == "content-type" for k in (h or {})):
                return refuse("Batch request '%s' has a body but no "
                              "Content-Type header." % rid)
            deps = r.get("dependsOn")
            if deps is not None:
                if not isinstance(deps, list) or not all(
                        isinstance(d, str) and d.lower() in seen and
                        d.lower() != rid.lower() for d in deps):
                    return refuse("dependsOn of batch request '%s' must name "
                                  "earlier requests of the batch." % rid)
        outer = {"Authorization": headers.get("Authorization")} \
            if headers.get("Authorization") else {}
        results = {}
        sequential = any(r.get("dependsOn") for r in reqs) or \
            S.opts.batch_parallel <= 1
        if sequential:
            for r in reqs:
                failed = [d for d in r.get("dependsOn") or []
                          if results[d.lower()]["status"] >= 400]
                if failed:
                    err = GraphError(424, "FailedDependency",
                                     "A request this one depends on "
                                     "failed: %s." % ", ".join(failed))
                    results[r["id"].lower()] = {
                        "id": r["id"], "status": 424,
                        "headers": {"Content-Type": ODATA_JSON},
                        "body": err.body()}
                    self.log_inner(r, 424)
                    continue
                results[r["id"].lower()] = self.inner(r, outer, base_url)
        else:
            lock = threading.Lock()

            def run(r):
                res = self.inner(r, outer, base_url)
                with lock:
                    results[r["id"].lower()] = res
            width = S.opts.batch_parallel
            for i in range(0, len(reqs), width):
                threads = [threading.Thread(target=run, args=(r,))
                           for r in reqs[i:i + width]]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
        out = [results[r["id"].lower()] for r in reqs]
        order = S.opts.batch_order
        if order == "reverse":
            out.reverse()
        elif order == "shuffle":
            random.shuffle(out)
        return 200, {"OData-Version": "4.0"}, {"responses": out}

    def log_inner(self, r, status, path=None, query=""):
        S = self.state
        if path is None:
            split = urllib.parse.urlsplit(r["url"])
            path = "/v1.0/" + split.path.lstrip("/")
            query = split.query
        with S.lock:
            S.requests.append({"method": r["method"].upper(),
                               "path": urllib.parse.unquote(path),
                               "query": query,
                               "params": urllib.parse.parse_qs(
                                   query, keep_blank_values=True),
                               "status": status, "batch": True})

    def inner(self, r, outer, base_url):
        method = r["method"].upper()
        url = r["url"]
        split = urllib.parse.urlsplit(url)
        hdrs = dict(outer)
        for k, v in (r.get("headers") or {}).items():
            for ok in list(hdrs):
                if ok.lower() == k.lower():
                    del hdrs[ok]
            hdrs[k] = v if isinstance(v, str) else str(v)
        hdrs = CaseDict(hdrs)
        rel = "/" + split.path.lstrip("/")
        low = rel.lower()
        err = None
        if split.scheme or split.netloc:
            err = bad_request("The url of a batch request is relative to the "
                              "version, for example /me/events.")
        elif low.startswith("/v1.0/") or low.startswith("/beta/"):
            err = bad_request("The url of a batch request is relative to the "
                              "version: leave out /v1.0.")
        elif low.rstrip("/") in ("/$batch", "/%24batch"):
            err = bad_request("A batch can not hold another batch.")
        path = "/v1.0" + rel
        if err is not None:
            self.log_inner(r, err.status, path, split.query)
            return {"id": r["id"], "status": err.status,
                    "headers": {"Content-Type": ODATA_JSON},
                    "body": err.body()}
        body = r.get("body")
        raw = b"" if body is None else (
            json.dumps(body).encode() if not isinstance(body, str) else
            body.encode())
        status, rh, rbody = self.graph_call(method, path, split.query, hdrs,
                                            raw, base_url)
        self.log_inner(r, status, path, split.query)
        out_h = {k: v for k, v in rh.items()
                 if k in ("Retry-After", "Preference-Applied", "Location",
                          "OData-Version", "Cache-Control",
                          "WWW-Authenticate")}
        res = {"id": r["id"], "status": status, "headers": out_h}
        if rbody is not None:
            out_h["Content-Type"] = ODATA_JSON
            res["body"] = rbody
        return res


# ---------------------------------------------------------------------------
# Test control endpoints (/_fake/...; not Microsoft's, no auth)
# ---------------------------------------------------------------------------

class Control(fake_http.Control):
    bad_input = (KeyError, ValueError, TypeError, GraphError)

    def handle(self, method, path, raw_query, raw):
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(
            raw_query, keep_blank_values=True).items()}
        return super().handle(method, path, query, raw)

    @staticmethod
    def error_text(exc):
        if isinstance(exc, GraphError):
            return exc.message
        return "%s: %s" % (type(exc).__name__, exc)

    def user(self, key):
        u = self.S.find_user(key or DEFAULT_USER)
        if u is None:
            raise KeyError("no such user: %s" % key)
        return u

    def cal(self, user, cid):
        if not cid:
            return self.S.default_calendar(user)
        cal = self.S.calendars.get(cid)
        if cal is None or cal.owner != user.id:
            raise KeyError("no such calendar of %s: %s" % (user.upn, cid))
        return cal

    def post_reset(self, body, query):
        self.S.reset()
        self.app.clear_stats()
        self.app.limit = self.S.opts.max_concurrency
        self.app.retry_after = self.S.opts.concurrency_retry_after
        self.app.latency_ms = self.S.opts.latency_ms
        return 200, {"ok": True}

    def post_seed(self, body, query):
        S = self.S
        user = self.user(body.get("user"))
        cal = self.cal(user, body.get("calendarId"))
        count = int(body["count"])
        zone = body.get("timeZone") or "UTC"
        tz = get_tz(zone)
        if tz is None:
            raise ValueError("unknown timeZone %s" % zone)
        start = parse_iso(body.get("start") or "2030-01-01T09:00:00Z")
        if start is None:
            raise ValueError("start must be ISO 8601")
        step = dt.timedelta(minutes=float(body.get("intervalMinutes", 60)))
        dur = dt.timedelta(minutes=float(body.get("durationMinutes", 30)))
        prefix = body.get("subject", "Seed event")
        ids = []
        for i in range(count):
            s = (start + i * step).astimezone(UTC)
            res = dict(EVENT_DEFAULTS)
            res.update({"subject": "%s %d" % (prefix, i + 1),
                        "body": store_body(None),
                        "location": norm_location(None), "locations": [],
                        "start": {"dateTime": s.astimezone(tz).replace(
                            tzinfo=None).isoformat(), "timeZone": zone},
                        "end": {"dateTime": (s + dur).astimezone(tz).replace(
                            tzinfo=None).isoformat(), "timeZone": zone}})
            rec = EventRec()
            rec.id = new_item_id()
            rec.cal_id = cal.id
            rec.res = res
            rec.times = Times(False, s, s + dur, zone, zone, tz)
            rec.seq = S.next_seq()
            rec.created = rec.modified = S.next_ts()
            rec.ical_uid = new_ical_uid()
            cal.events[rec.id] = rec
            cal.seq = rec.seq
            ids.append(rec.id)
        out = {"created": count, "calendarId": cal.id}
        if body.get("returnIds"):
            out["ids"] = ids
        elif ids:
            out["firstId"], out["lastId"] = ids[0], ids[-1]
        return 200, out

    def post_expire_delta_tokens(self, body, query):
        code = body.get("code", "syncStateNotFound")
        n = 0
        for rec in list(self.S.delta_tokens.values()) + \
                list(self.S.rounds.values()):
            rec["expired"] = True
            rec["code"] = code
            rec["snapshot"] = {}
            n += 1
        return 200, {"expired": n, "code": code}

    def post_revoke_refresh_tokens(self, body, query):
        user = self.user(body["user"]) if body.get("user") else None
        n = 0
        for rec in self.S.refresh_tokens.values():
            if user is None or rec["user"] == user.id:
                rec["revoked"] = True
                n += 1
        return 200, {"revoked": n}

    def post_fail(self, body, query):
        rule = {"status": int(body["status"]), "code": body.get("code"),
                "message": body.get("message"),
                "count": int(body.get("count", 1)),
                "retry_after": body.get("retry_after"),
                "method": body.get("method")}
        if body.get("path_contains") is not None:
            rule["path_contains"] = body["path_contains"]
        self.S.fail_rules.append(rule)
        return 200, {"ok": True, "pending": len(self.S.fail_rules)}

    def post_token(self, body, query):
        S = self.S
        life = int(S.opts.access_token_seconds)
        if body.get("app"):
            cid = body.get("client_id", APP_CLIENT_ID)
            roles = body.get("roles") or S.clients[cid].get("roles", [])
            tok = S.issue_access_token("app", None, cid, roles, TENANT_ID)
            return 200, {"access_token": tok, "expires_in": life,
                         "token_type": "Bearer"}
        user = self.user(body.get("user"))
        cid = body.get("client_id", PUBLIC_CLIENT_ID)
        scopes = body.get("scopes") or ["User.Read", "Calendars.ReadWrite",
                                        "Calendars.ReadWrite.Shared"]
        tok = S.issue_access_token("user", user.id, cid, scopes, "common")
        return 200, {"access_token": tok, "expires_in": life,
                     "token_type": "Bearer", "scope": " ".join(scopes)}

    def post_approve_device(self, body, query):
        pending = [(k, v) for k, v in self.S.device_codes.items()
                   if v["status"] == "pending"]
        if body.get("user_code"):
            pending = [(k, v) for k, v in pending
                       if v["user_code"] == body["user_code"].upper()]
        if not pending:
            return 404, {"error": "no pending device code"}
        code, rec = max(pending, key=lambda kv: kv[1]["issued"])
        if body.get("deny"):
            rec["status"] = "declined"
        else:
            rec["status"] = "approved"
            rec["user"] = self.user(body.get("user")).id
        return 200, {"user_code": rec["user_code"], "status": rec["status"]}

    def post_expire_device_codes(self, body, query):
        for rec in self.S.device_codes.values():
            rec["exp"] = 0
        return 200, {"expired": len(self.S.device_codes)}

    def post_consent(self, body, query):
        self.S.consent = {"deny": bool(body.get("deny", False)),
                          "user": body.get("user")}
        return 200, {"ok": True}

    def get_events(self, body, query):
        user = self.user(query.get("user"))
        cal = self.cal(user, query.get("calendarId"))
        api = self.app.api
        opts = {"tz": query.get("timeZone", "UTC"), "text": False,
                "select": None, "ext": None}
        items = []
        for rec in cal.events.values():
            ev = api.render(user, cal, rec, None, opts)
            ev["singleValueExtendedProperties"] = rec.ext
            if rec.kind == "master":
                ev["exceptions"] = []
                for key in rec.exceptions:
                    x = api.render(user, cal, rec, key, opts)
                    x["singleValueExtendedProperties"] = merge_ext(
                        rec.ext, rec.exceptions[key]["ext"])
                    ev["exceptions"].append(x)
                ev["cancelledOccurrences"] = [
                    times_for_key(rec, k).start.strftime("%Y-%m-%dT%H:%M:%SZ")
                    for k in rec.cancelled]
            items.append(ev)
        out = {"calendarId": cal.id, "events": items,
               "deleted": sorted(cal.tombstones)}
        if query.get("startDateTime") and query.get("endDateTime"):
            lo = parse_iso(query["startDateTime"]).astimezone(UTC)
            hi = parse_iso(query["endDateTime"]).astimezone(UTC)
            out["instances"] = [api.render(user, cal, i.rec, i.key, opts)
                                for i in api.view(cal, lo, hi)]
        return 200, out

    def post_mailboxes(self, body, query):
        S = self.S
        upn = body["user"]
        if S.find_user(upn):
            raise ValueError("mailbox %s exists" % upn)
        user = S.add_user(body.get("id") or str(uuid.uuid4()), upn,
                          body.get("displayName") or upn.split("@")[0])
        for name in body.get("calendars") or []:
            S.add_calendar(user.id, name)
        return 200, {"id": user.id, "userPrincipalName": user.upn,
                     "calendars": [{"id": c, "name": S.calendars[c].name}
                                   for c in user.calendars]}

    def post_calendars(self, body, query):
        user = self.user(body.get("user"))
        cal = self.S.add_calendar(user.id, body["name"], body.get("id"))
        return 200, {"id": cal.id, "name": cal.name, "user": user.upn}

    def post_share(self, body, query):
        owner = self.user(body["owner"])
        delegate = self.user(body["delegate"])
        cal = self.cal(owner, body.get("calendarId"))
        role = body.get("role", "read")
        if role not in ("read", "write", "none"):
            raise ValueError("role is read, write or none")
        if role == "none":
            cal.shared_with.pop(delegate.id, None)
        else:
            cal.shared_with[delegate.id] = role
        cal.seq = self.S.next_seq()
        return 200, {"calendarId": cal.id, "owner": owner.upn,
                     "delegate": delegate.upn, "role": role}

    def post_app_access(self, body, query):
        cid = body.get("client_id", APP_CLIENT_ID)
        boxes = body.get("mailboxes")
        if boxes is None:
            self.S.app_access.pop(cid, None)
        else:
            self.S.app_access[cid] = [self.user(b).id for b in boxes]
        return 200, {"client_id": cid, "mailboxes": boxes}

    def post_clients(self, body, query):
        cid = body["client_id"]
        self.S.clients[cid] = {
            "client_id": cid, "public": bool(body.get("public", False)),
            "secret": body.get("client_secret"),
            "redirect_uris": body.get("redirect_uris"),
            "roles": body.get("roles", ["Calendars.ReadWrite"]),
            "default_scopes": body.get("default_scopes", [
                "User.Read", "Calendars.ReadWrite"])}
        return 200, {"ok": True}

    def post_concurrency(self, body, query):
        self.app.limit = int(body.get("limit", self.app.limit))
        if body.get("retry_after") is not None:
            self.app.retry_after = body["retry_after"]
        return 200, {"limit": self.app.limit,
                     "retry_after": self.app.retry_after}

    def post_latency(self, body, query):
        self.app.latency_ms = float(body.get("ms", 0))
        return 200, {"latency_ms": self.app.latency_ms}

    def get_stats(self, body, query):
        a = self.app
        with a.conc_lock:
            return 200, {
                "concurrency_limit": a.limit, "retry_after": a.retry_after,
                "latency_ms": a.latency_ms,
                "peak_concurrency": dict(a.peak_mbx),
                "peak_concurrency_per_app": dict(a.peak_key),
                "in_flight": {k: v for k, v in a.inflight_mbx.items() if v},
                "throttled": dict(a.throttled_mbx),
                "graph_calls": a.graph_calls, "batch_calls": a.batch_calls}

    def post_clear_stats(self, body, query):
        self.app.clear_stats()
        return 200, {"ok": True}

    def get_state(self, body, query):
        S = self.S
        return 200, {
            "tenant": {"id": TENANT_ID, "domain": TENANT_DOMAIN},
            "users": [{"id": u.id, "userPrincipalName": u.upn,
                       "displayName": u.name,
                       "calendars": [{"id": c, "name": S.calendars[c].name,
                                      "isDefaultCalendar":
                                          S.calendars[c].is_default,
                                      "events": len(S.calendars[c].events),
                                      "sharedWith": {
                                          S.users[d].upn: r for d, r in
                                          S.calendars[c].shared_with.items()}}
                                     for c in u.calendars]}
                      for u in S.users.values()],
            "clients": sorted(S.clients),
            "delta_tokens": len(S.delta_tokens)}

    def post_save(self, body, query):
        if not self.S.opts.state:
            return 400, {"error": "started without --state"}
        self.S.save(self.S.opts.state)
        return 200, {"ok": True, "path": self.S.opts.state}


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--state", help="JSON file: loaded at start if present, "
                                    "written on SIGTERM and /_fake/save")
    ap.add_argument("--access-token-seconds", type=float, default=3600)
    ap.add_argument("--device-interval", type=int, default=5,
                    help="polling interval of the device code flow; polling "
                         "faster gets slow_down (0: no limit)")
    ap.add_argument("--device-code-seconds", type=float,
                    default=DEVICE_CODE_SECONDS)
    ap.add_argument("--max-concurrency", type=int, default=4,
                    help="requests in flight per app and mailbox (Outlook "
                         "service limit: 4; 0: no limit)")
    ap.add_argument("--concurrency-retry-after", type=int, default=1)
    ap.add_argument("--latency-ms", type=float, default=0,
                    help="artificial latency of each Graph call")
    ap.add_argument("--delta-page-size", type=int, default=DEFAULT_PAGE_SIZE,
                    help="delta page size without Prefer: odata.maxpagesize")
    ap.add_argument("--delta-token-cache", type=int, default=1000,
                    help="delta tokens kept; older ones get 410")
    ap.add_argument("--batch-parallel", type=int, default=1,
                    help="run up to N independent batch requests at once "
                         "(1: one after the other)")
    ap.add_argument("--batch-order", choices=("request", "reverse",
                                              "shuffle"), default="reverse",
                    help="order of the batch responses (the batching page: "
                         "any order)")
    ap.add_argument("--single-use-refresh-tokens", action="store_true",
                    help="a refresh token works once (Microsoft only asks "
                         "clients to discard the old one)")
    ap.add_argument("--require-pkce", action="store_true",
                    help="refuse authorization requests without PKCE")
    opts = ap.parse_args(argv)
    opts.bound_port = 0

    return fake_http.serve(App, Handler, opts, State(opts), log)


if __name__ == "__main__":
    sys.exit(main())
