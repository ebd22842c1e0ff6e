#!/usr/bin/env python3
"""A local fake of the Google Calendar API v3 and Google's OAuth 2.0 endpoints.

Test tool only: it binds 127.0.0.1, keeps everything in memory (optionally in a
JSON state file) and plays the consenting user on the authorization endpoint.
Standard library only (plus the `openssl` binary for RS256 verification).

    python3 fake_google.py --port 0 [--state FILE]

prints exactly one line, "READY <port>", on stdout once it listens; everything
else goes to stderr.  SIGTERM (or SIGINT) stops it with exit status 0.

See README.md next to this file for the endpoints and for the pages of
Google's documentation each behaviour follows.
"""

import argparse
import base64
import calendar as pycal
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import zoneinfo
from functools import lru_cache

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fake_http  # noqa: E402  (tests/fakes/fake_http.py: the HTTP plumbing)
from fake_http import REASONS  # noqa: E402

UTC = dt.timezone.utc

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

DEFAULT_USER = "user@example.test"
TEAM_CALENDAR = "team@group.calendar.example.test"
DEFAULT_CLIENT_ID = "tandem-test-client"
DEFAULT_CLIENT_SECRET = "tandem-test-secret"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
S_CAL = SCOPE_PREFIX + "calendar"
S_CAL_RO = SCOPE_PREFIX + "calendar.readonly"
S_EV = SCOPE_PREFIX + "calendar.events"
S_EV_RO = SCOPE_PREFIX + "calendar.events.readonly"
S_EV_OWNED = SCOPE_PREFIX + "calendar.events.owned"
S_EV_OWNED_RO = SCOPE_PREFIX + "calendar.events.owned.readonly"
S_CL = SCOPE_PREFIX + "calendar.calendarlist"
S_CL_RO = SCOPE_PREFIX + "calendar.calendarlist.readonly"
S_CALS = SCOPE_PREFIX + "calendar.calendars"
S_CALS_RO = SCOPE_PREFIX + "calendar.calendars.readonly"
S_SETTINGS_RO = SCOPE_PREFIX + "calendar.settings.readonly"

# Scopes the authorization endpoint knows (anything else: invalid_scope).
KNOWN_SCOPES = {
    S_CAL, S_CAL_RO, S_EV, S_EV_RO, S_EV_OWNED, S_EV_OWNED_RO, S_CL, S_CL_RO,
    S_CALS, S_CALS_RO, S_SETTINGS_RO,
    "openid", "email", "profile",
    SCOPE_PREFIX + "userinfo.email", SCOPE_PREFIX + "userinfo.profile",
}
# Per-method scopes, as listed in the Calendar v3 discovery document.
SCOPES_EVENTS_READ = {S_CAL, S_CAL_RO, S_EV, S_EV_RO, S_EV_OWNED, S_EV_OWNED_RO}
SCOPES_EVENTS_WRITE = {S_CAL, S_EV, S_EV_OWNED}
SCOPES_CALENDARLIST_READ = {S_CAL, S_CAL_RO, S_CL, S_CL_RO}
SCOPES_CALENDARS_READ = {S_CAL, S_CAL_RO, S_CALS, S_CALS_RO}

EVENTS_MAX_RESULTS_DEFAULT = 250
EVENTS_MAX_RESULTS_MAX = 2500
CALLIST_MAX_RESULTS_DEFAULT = 100
CALLIST_MAX_RESULTS_MAX = 250
MAX_INSTANCES = 1000          # instances expanded per recurring series
AUTH_CODE_SECONDS = 600
# The events.list parameters that cannot be combined with syncToken
# (events.list reference, syncToken parameter).
SYNC_FORBIDDEN = ("iCalUID", "orderBy", "privateExtendedProperty", "q",
                  "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin")
# Parameters that do not change what a listing returns (left out of the page
# token fingerprint).
PAGING_NEUTRAL = {"pageToken", "maxResults", "prettyPrint", "fields", "key",
                  "alt", "quotaUser", "userIp", "oauth_token", "access_token",
                  "alwaysIncludeEmail", "maxAttendees"}

# Writable Event fields (Event resource in the discovery document); anything
# else a client sends is dropped, read-only fields are set by the server.
EVENT_WRITABLE = {
    "anyoneCanAddSelf", "attachments", "attendees", "attendeesOmitted",
    "colorId", "conferenceData", "description", "end", "endTimeUnspecified",
    "eventType", "extendedProperties", "focusTimeProperties", "gadget",
    "guestsCanInviteOthers", "guestsCanModify", "guestsCanSeeOtherGuests",
    "location", "locked", "outOfOfficeProperties", "privateCopy", "recurrence",
    "reminders", "sequence", "source", "start", "status", "summary",
    "transparency", "visibility", "workingLocationProperties",
    "birthdayProperties",
}



def log(msg):
    fake_http.log_line("fake_google", msg)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class ApiError(Exception):
    """An error in the Calendar API's documented JSON shape."""

    def __init__(self, status, reason, message, domain="global",
                 location=None, location_type=None, headers=None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}

    def body(self):
        item = {"domain": self.domain, "reason": self.reason,
                "message": self.message}
        if self.location_type:
            item["locationType"] = self.location_type
        if self.location:
            item["location"] = self.location
        return {"error": {"errors": [item], "code": self.status,
                          "message": self.message}}


class RawError(Exception):
    """An error with a body that is not the Calendar shape (403 scopes)."""

    def __init__(self, status, body, headers=None):
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def bad_request(message, reason="invalid", location=None, domain="global",
                location_type="parameter"):
    return ApiError(400, reason, message, domain=domain, location=location,
                    location_type=location_type if location else None)


def not_found():
    return ApiError(404, "notFound", "Not Found")


def auth_error():
    return ApiError(401, "authError", "Invalid Credentials",
                    location="Authorization", location_type="header",
                    headers={"WWW-Authenticate":
                             'Bearer realm="https://accounts.google.com/", '
                             'error="invalid_token"'})


def full_sync_required():
    return ApiError(410, "fullSyncRequired",
                    "Sync token is no longer valid, a full sync is required.",
                    domain="calendar", location="syncToken",
                    location_type="parameter")


def injected_error(status, reason=None, message=None):
    """The body for an error requested with /_fake/fail."""
    defaults = {
        400: ("badRequest", "Bad Request", "global"),
        401: ("authError", "Invalid Credentials", "global"),
        403: ("rateLimitExceeded", "Rate Limit Exceeded", "usageLimits"),
        404: ("notFound", "Not Found", "global"),
        409: ("conflict", "Conflict", "global"),
        410: ("fullSyncRequired",
              "Sync token is no longer valid, a full sync is required.",
              "calendar"),
        412: ("conditionNotMet", "Precondition Failed", "global"),
        429: ("rateLimitExceeded", "Rate Limit Exceeded", "usageLimits"),
        500: ("backendError", "Backend Error", "global"),
        502: ("backendError", "Bad Gateway", "global"),
        503: ("backendError", "Service Unavailable", "global"),
    }
    known = {
        "rateLimitExceeded": ("Rate Limit Exceeded", "usageLimits"),
        "userRateLimitExceeded": ("User Rate Limit Exceeded", "usageLimits"),
        "quotaExceeded": ("Calendar usage limits exceeded.", "usageLimits"),
        "dailyLimitExceeded": ("Daily Limit Exceeded", "usageLimits"),
        "backendError": ("Backend Error", "global"),
        "authError": ("Invalid Credentials", "global"),
        "forbiddenForNonOrganizer":
            ("Shared properties can only be changed by the organizer of the "
             "event.", "calendar"),
    }
    d_reason, d_message, d_domain = defaults.get(
        status, ("backendError", "Error", "global"))
    reason = reason or d_reason
    if reason in known and message is None:
        message, domain = known[reason]
        if status == 503 and reason == "backendError":
            message = "Service Unavailable"
    else:
        domain = known.get(reason, (None, d_domain))[1]
        message = message or d_message
    err = ApiError(status, reason, message, domain=domain)
    if reason == "authError":
        err.location, err.location_type = "Authorization", "header"
    return err


class OAuthError(Exception):
    """A token-endpoint error: RFC 6749 section 5.2 JSON."""

    def __init__(self, error, description, status=400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


# ---------------------------------------------------------------------------
# Time helpers
# ---------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"([Zz]|[+-]\d{2}:\d{2})?$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@lru_cache(maxsize=256)
def get_tz(name):
    if name in ("UTC", "Etc/UTC", "GMT", "Z"):
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def parse_rfc3339(text, require_offset=True, tz=None):
    """Returns an aware datetime, or None when the text is not RFC 3339."""
    if not isinstance(text, str):
        return None
    m = _RFC3339.match(text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7)
    us = int((frac[1:] + "000000")[:6]) if frac else 0
    off = m.group(8)
    try:
        if off is None:
            if require_offset or tz is None:
                return None
            return dt.datetime(y, mo, d, h, mi, s, us).replace(tzinfo=tz)
        if off in ("Z", "z"):
            tzinfo = UTC
        else:
            sign = 1 if off[0] == "+" else -1
            tzinfo = dt.timezone(sign * dt.timedelta(
                hours=int(off[1:3]), minutes=int(off[4:6])))
        return dt.datetime(y, mo, d, h, mi, s, us, tzinfo=tzinfo)
    except ValueError:
        return None


def parse_date(text):
    if not isinstance(text, str):
        return None
    m = _DATE.match(text)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def rfc3339_ms(ts):
    """Timestamps like "updated": 2011-06-03T10:00:00.000Z."""
    d = dt.datetime.fromtimestamp(ts, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def render_dt(ts, tzname):
    """An event dateTime in the given time zone, with its offset."""
    tz = get_tz(tzname) or UTC
    d = dt.datetime.fromtimestamp(ts, tz)
    if d.microsecond:
        d = d.replace(microsecond=0)
    s = d.isoformat()
    if s.endswith("+00:00"):
        s = s[:-6] + "Z"
    return s


def day_start_ts(date, tzname):
    tz = get_tz(tzname) or UTC
    return dt.datetime(date.year, date.month, date.day, tzinfo=tz).timestamp()


# ---------------------------------------------------------------------------
# Identifiers and opaque tokens
# ---------------------------------------------------------------------------

_B32HEX = re.compile(r"^[a-v0-9]{5,1024}$")


def new_event_id():
    return base64.b32hexencode(secrets.token_bytes(15)).decode().lower()


def new_secret_token(prefix, nbytes=24):
    return prefix + base64.urlsafe_b64encode(
        secrets.token_bytes(nbytes)).decode().rstrip("=")


def b64url_decode(text):
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---------------------------------------------------------------------------
# Recurrence (RFC 5545 subset: FREQ DAILY..YEARLY, INTERVAL, COUNT, UNTIL,
# BYDAY, BYMONTHDAY, BYMONTH; RDATE, EXDATE, EXRULE)
# ---------------------------------------------------------------------------

WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_ICAL_DT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$")


class RRule:
    __slots__ = ("freq", "interval", "count", "until", "byday", "bymonthday",
                 "bymonth", "ignored")

    def __init__(self, text):
        parts = {}
        for item in text.split(";"):
            item = item.strip()
            if not item:
                continue
            if "=" not in item:
                raise ValueError("bad rule part " + item)
            k, v = item.split("=", 1)
            parts[k.strip().upper()] = v.strip()
        self.freq = parts.pop("FREQ", "").upper()
        if self.freq not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
            raise ValueError("unsupported FREQ")
        self.interval = int(parts.pop("INTERVAL", "1"))
        if self.interval < 1:
            raise ValueError("INTERVAL")
        self.count = int(parts.pop("COUNT")) if "COUNT" in parts else None
        if self.count is not None and self.count < 1:
            raise ValueError("COUNT")
        self.until = None
        if "UNTIL" in parts:
            self.until = parse_ical_dt(parts.pop("UNTIL"))
            if self.until is None:
                raise ValueError("UNTIL")
        if self.count is not None and self.until is not None:
            raise ValueError("COUNT and UNTIL")
        self.byday = []
        if "BYDAY" in parts:
            for tok in parts.pop("BYDAY").split(","):
                m = _BYDAY.match(tok.strip().upper())
                if not m:
                    raise ValueError("BYDAY")
                self.byday.append((int(m.group(1) or 0), WEEKDAYS[m.group(2)]))
        self.bymonthday = [int(x) for x in parts.pop("BYMONTHDAY").split(",")] \
            if "BYMONTHDAY" in parts else []
        if any(x == 0 or abs(x) > 31 for x in self.bymonthday):
            raise ValueError("BYMONTHDAY")
        self.bymonth = [int(x) for x in parts.pop("BYMONTH").split(",")] \
            if "BYMONTH" in parts else []
        if any(not 1 <= x <= 12 for x in self.bymonth):
            raise ValueError("BYMONTH")
        parts.pop("WKST", None)
        self.ignored = sorted(parts)


def parse_ical_dt(value):
    """("date", date) | ("utc", aware dt) | ("local", naive dt)."""
    m = _ICAL_DT.match(value.strip())
    if not m:
        return None
    try:
        if m.group(4) is None:
            return ("date", dt.date(int(m.group(1)), int(m.group(2)),
                                    int(m.group(3))))
        d = dt.datetime(*(int(m.group(i)) for i in range(1, 7)))
    except ValueError:
        return None
    if m.group(7):
        return ("utc", d.replace(tzinfo=UTC))
    return ("local", d)


def _month_days(y, m, rule, default_day):
    ndays = pycal.monthrange(y, m)[1]
    days = set()
    if rule.bymonthday:
        for md in rule.bymonthday:
            d = md if md > 0 else ndays + md + 1
            if 1 <= d <= ndays:
                days.add(d)
    if rule.byday:
        first_wd = dt.date(y, m, 1).weekday()
        chosen = set()
        for n, wd in rule.byday:
            matching = [d for d in range(1, ndays + 1)
                        if (first_wd + d - 1) % 7 == wd]
            if n == 0:
                chosen.update(matching)
            elif n > 0 and n <= len(matching):
                chosen.add(matching[n - 1])
            elif n < 0 and -n <= len(matching):
                chosen.add(matching[n])
        days = (days & chosen) if rule.bymonthday else chosen
    if not rule.bymonthday and not rule.byday and default_day <= ndays:
        days.add(default_day)
    return [dt.date(y, m, d) for d in sorted(days)]


def _rule_days(rule, start_day):
    """Candidate days of a rule, ascending, never before start_day."""
    wds = {wd for _, wd in rule.byday}
    periods = 0
    if rule.freq == "DAILY":
        day = start_day
        while periods < 200000:
            periods += 1
            if ((not rule.bymonth or day.month in rule.bymonth) and
                    (not wds or day.weekday() in wds) and
                    (not rule.bymonthday or day.day in rule.bymonthday or
                     day.day - pycal.monthrange(day.year, day.month)[1] - 1
                     in rule.bymonthday)):
                yield day
            day += dt.timedelta(days=rule.interval)
    elif rule.freq == "WEEKLY":
        week = start_day - dt.timedelta(days=start_day.weekday())
        days = sorted(wds) if wds else [start_day.weekday()]
        while periods < 50000:
            periods += 1
            for wd in days:
                day = week + dt.timedelta(days=wd)
                if day >= start_day and (not rule.bymonth or
                                         day.month in rule.bymonth):
                    yield day
            week += dt.timedelta(weeks=rule.interval)
    elif rule.freq == "MONTHLY":
        y, m = start_day.year, start_day.month
        while periods < 20000:
            periods += 1
            if not rule.bymonth or m in rule.bymonth:
                for day in _month_days(y, m, rule, start_day.day):
                    if day >= start_day:
                        yield day
            m += rule.interval
            y += (m - 1) // 12
            m = (m - 1) % 12 + 1
    else:  # YEARLY
        y = start_day.year
        while periods < 2000:
            periods += 1
            for m in (sorted(rule.bymonth) or [start_day.month]):
                if rule.bymonthday or rule.byday:
                    days = _month_days(y, m, rule, start_day.day)
                else:
                    days = _month_days(y, m, rule, start_day.day) \
                        if start_day.day <= pycal.monthrange(y, m)[1] else []
                for day in days:
                    if day >= start_day:
                        yield day
            y += rule.interval
            if y > 9000:
                return


class Recurrence:
    """The recurrence of a master event, expanded to instance keys.

    A key is the instance's original start: an int UTC timestamp for timed
    events, a date for all-day events."""

    def __init__(self, lines, all_day, start_local, tz):
        self.all_day = all_day
        self.tz = tz
        self.start_local = start_local     # date, or naive wall time in tz
        self.rules, self.exrules = [], []
        self.rdates, self.exdates = set(), set()
        if not isinstance(lines, list) or not lines:
            raise ValueError("recurrence must be a non-empty list")
        for line in lines:
            if not isinstance(line, str):
                raise ValueError("recurrence lines are strings")
            head, sep, value = line.strip().partition(":")
            if not sep:
                raise ValueError("no ':' in " + line)
            name, *params = head.split(";")
            name = name.strip().upper()
            pmap = {}
            for p in params:
                k, _, v = p.partition("=")
                pmap[k.strip().upper()] = v.strip()
            if name == "RRULE":
                self.rules.append(RRule(value))
            elif name == "EXRULE":
                self.exrules.append(RRule(value))
            elif name in ("RDATE", "EXDATE"):
                target = self.rdates if name == "RDATE" else self.exdates
                for v in value.split(","):
                    if "/" in v:
                        raise ValueError("PERIOD values are not supported")
                    target.add(self._value_key(v, pmap))
            elif name in ("DTSTART", "DTEND"):
                raise ValueError("DTSTART and DTEND lines are not allowed")
            else:
                raise ValueError("unknown recurrence line " + name)
        if not self.rules and not self.rdates:
            raise ValueError("no RRULE or RDATE")

    def _value_key(self, value, params):
        parsed = parse_ical_dt(value)
        if parsed is None:
            raise ValueError("bad date value " + value)
        kind, v = parsed
        if self.all_day:
            if kind == "date":
                return v
            if kind == "utc":
                return v.date()
            return v.date()
        if kind == "date":
            v = dt.datetime.combine(v, self.start_local.time())
            kind = "local"
        if kind == "utc":
            return int(v.timestamp())
        tz = get_tz(params["TZID"]) if "TZID" in params else self.tz
        if tz is None:
            raise ValueError("bad TZID")
        return int(v.replace(tzinfo=tz).timestamp())

    def key_of_local(self, local):
        if self.all_day:
            return local
        return int(local.replace(tzinfo=self.tz).timestamp())

    def _until_ok(self, rule, local, key):
        if rule.until is None:
            return True
        kind, u = rule.until
        if self.all_day:
            return local <= (u if kind == "date" else u.date())
        if kind == "utc":
            return key <= u.timestamp()
        if kind == "date":
            return local.date() <= u
        return local <= u

    def _gen(self, rule):
        start_day = self.start_local if self.all_day else self.start_local.date()
        t = None if self.all_day else self.start_local.time()
        start_key = self.key_of_local(self.start_local)
        emitted, first = 0, True
        for day in _rule_days(rule, start_day):
            local = day if self.all_day else dt.datetime.combine(day, t)
            key = self.key_of_local(local)
            if not self._until_ok(rule, local, key):
                return
            if first:
                first = False
                if key != start_key:
                    emitted = 1      # DTSTART always counts as the first one
            if rule.count is not None and emitted >= rule.count:
                return
            yield key
            emitted += 1

    def expand(self, before=None, cap=MAX_INSTANCES):
        """Sorted instance keys; `before` is an exclusive upper bound."""
        keys = set()
        for rule in self.rules:
            n = 0
            for key in self._gen(rule):
                if before is not None and key >= before:
                    break
                keys.add(key)
                n += 1
                if n >= cap:
                    break
        first = self.key_of_local(self.start_local)
        if before is None or first < before:
            keys.add(first)
        keys.update(k for k in self.rdates if before is None or k < before)
        if self.exrules and keys:
            last = max(keys)
            for rule in self.exrules:
                for key in self._gen(rule):
                    if key > last:
                        break
                    keys.discard(key)
        keys.difference_update(self.exdates)
        return sorted(keys)[:cap]

    def has_instance(self, key):
        before = key + (dt.timedelta(days=1) if self.all_day else 1)
        return key in set(self.expand(before=before, cap=100000))


def key_stamp(key):
    if isinstance(key, dt.date):
        return key.strftime("%Y%m%d")
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(key))


def stamp_key(stamp):
    m = re.match(r"^(\d{8})(?:T(\d{6})Z)?$", stamp)
    if not m:
        return None
    try:
        day = dt.datetime.strptime(m.group(1), "%Y%m%d").date()
        if m.group(2) is None:
            return day
        d = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return int(d.timestamp())
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# Event time validation
# ---------------------------------------------------------------------------

class EventTime:
    __slots__ = ("all_day", "ts", "date", "tzname", "local")

    def __init__(self, all_day, ts, date, tzname, local):
        self.all_day = all_day
        self.ts = ts
        self.date = date
        self.tzname = tzname      # the event's own timeZone field, or None
        self.local = local        # aware datetime (timed)


def parse_event_time(obj, which, cal_tz):
    if not isinstance(obj, dict) or ("date" not in obj and
                                     "dateTime" not in obj):
        raise ApiError(400, "required", "Missing %s time." % which)
    tzname = obj.get("timeZone")
    tz = None
    if tzname is not None:
        tz = get_tz(tzname) if isinstance(tzname, str) else None
        if tz is None:
            raise bad_request("Invalid time zone definition for %s time."
                              % which)
    has_date = obj.get("date") is not None
    has_dt = obj.get("dateTime") is not None
    if has_date and has_dt:
        raise bad_request("Invalid %s time." % which)
    if has_date:
        d = parse_date(obj["date"])
        if d is None:
            raise bad_request("Invalid %s time." % which)
        return EventTime(True, day_start_ts(d, cal_tz), d, tzname, None)
    if not has_dt:
        raise ApiError(400, "required", "Missing %s time." % which)
    d = parse_rfc3339(obj["dateTime"], require_offset=False, tz=tz)
    if d is None:
        if isinstance(obj["dateTime"], str) and \
                parse_rfc3339(obj["dateTime"] + "Z") is not None:
            raise bad_request("Missing time zone definition for %s time."
                              % which, reason="required")
        raise bad_request("Invalid %s time." % which)
    if tz is not None:
        local = d.astimezone(tz)
    else:
        local = d
    return EventTime(False, d.timestamp(), None, tzname, local)


def render_time(et, cal_tz):
    if et.all_day:
        out = {"date": et.date.isoformat()}
    else:
        out = {"dateTime": render_dt(et.ts, cal_tz)}
    if et.tzname:
        out["timeZone"] = et.tzname
    return out


# ---------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------

class Ev:
    """One stored event: a single event, a recurring master or an exception."""
    __slots__ = ("id", "res", "seq", "order", "start_ts", "end_ts",
                 "all_day", "rec", "kind", "master_id", "orig_key",
                 "duration", "start_date", "end_date")

    def cancelled(self):
        return self.res.get("status") == "cancelled"


class Calendar:
    def __init__(self, cid, summary, time_zone="UTC", description=None,
                 owner=None):
        self.id = cid
        self.summary = summary
        self.description = description
        self.time_zone = time_zone
        self.owner = owner
        self.events = {}
        self.order = []          # event ids, append-only (stable paging)
        self.ical = {}           # iCalUID -> id of the single/master event
        self.max_seq = 0         # last change to any of its events
        self.epoch = 0           # bumped to invalidate sync tokens
        self.updated_ts = time.time()
        self.seq = 0             # calendar-list change sequence


class State:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.RLock()
        self.reset()

    # -- setup --------------------------------------------------------------
    def reset(self):
        self.secret = secrets.token_bytes(32)
        self.seq = 0
        self.last_ts = 0.0
        self.calendars = {}
        self.users = {}          # email -> {calendar id -> list entry}
        self.user_primary = {}
        self.clients = {DEFAULT_CLIENT_ID: {
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "require_pkce": "S256" if self.opts.require_pkce else False}}
        self.codes = {}
        self.access_tokens = {}
        self.refresh_tokens = {}
        self.service_accounts = list(self.opts.service_accounts)
        self.fail_rules = []
        self.requests = []
        self.consent = {"deny": False, "user": None, "scopes": None}
        self.callist_epoch = 0
        self.ensure_user(DEFAULT_USER)
        self.add_calendar(TEAM_CALENDAR, "Team", DEFAULT_USER, "owner")

    def next_seq(self):
        self.seq += 1
        return self.seq

    def next_ts(self):
        ts = max(time.time(), self.last_ts + 0.001)
        self.last_ts = ts
        return ts

    def ensure_user(self, email):
        if email not in self.users:
            self.users[email] = {}
            self.user_primary[email] = email
            if email not in self.calendars:
                self.calendars[email] = Calendar(email, email, owner=email)
            self.users[email][email] = {"accessRole": "owner",
                                        "primary": True,
                                        "seq": self.next_seq()}
        return email

    def add_calendar(self, cid, summary, user, role="owner", time_zone=None,
                     description=None):
        cal = self.calendars.get(cid)
        if cal is None:
            cal = Calendar(cid, summary or cid, time_zone or "UTC",
                           description, owner=user)
            self.calendars[cid] = cal
        else:
            if summary:
                cal.summary = summary
            if time_zone:
                cal.time_zone = time_zone
            if description is not None:
                cal.description = description
        self.ensure_user(user)
        self.users[user][cid] = {"accessRole": role,
                                 "primary": self.user_primary[user] == cid,
                                 "seq": self.next_seq()}
        return cal

    # -- tokens --------------------------------------------------------------
    def sign(self, payload):
        raw = json.dumps(payload, separators=(",", ":")).encode()
        mac = hmac.new(self.secret, raw, hashlib.sha256).digest()[:12]
        return base64.b64encode(raw + mac).decode()

    def unsign(self, token):
        try:
            blob = base64.b64decode(token, validate=True)
        except (ValueError, TypeError):
            return None
        if len(blob) < 13:
            return None
        raw, mac = blob[:-12], blob[-12:]
        want = hmac.new(self.secret, raw, hashlib.sha256).digest()[:12]
        if not hmac.compare_digest(mac, want):
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def issue_access_token(self, user, scopes, client_id, refresh=None,
                           subject_kind="user"):
        token = new_secret_token("ya29.fake-")
        self.access_tokens[token] = {
            "user": user, "scopes": sorted(scopes), "client_id": client_id,
            "exp": time.time() + self.opts.access_token_seconds,
            "refresh": refresh, "kind": subject_kind}
        return token

    def check_bearer(self, header_value):
        if not header_value:
            return None
        parts = header_value.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return None
        info = self.access_tokens.get(parts[1].strip())
        if info is None or info["exp"] <= time.time():
            return None
        return info

    # -- persistence -----------------------------------------------------------
    def to_json(self):
        cals = {}
        for cid, cal in self.calendars.items():
            cals[cid] = {
                "summary": cal.summary, "description": cal.description,
                "timeZone": cal.time_zone, "owner": cal.owner,
                "max_seq": cal.max_seq, "epoch": cal.epoch,
                "updated_ts": cal.updated_ts,
                "events": [{"res": cal.events[i].res, "seq": cal.events[i].seq}
                           for i in cal.order]}
        return {"version": 1, "secret": self.secret.hex(), "seq": self.seq,
                "last_ts": self.last_ts, "calendars": cals,
                "users": self.users, "user_primary": self.user_primary,
                "clients": self.clients, "access_tokens": self.access_tokens,
                "refresh_tokens": self.refresh_tokens,
                "service_accounts": self.service_accounts,
                "callist_epoch": self.callist_epoch}

    def load_json(self, data):
        self.secret = bytes.fromhex(data["secret"])
        self.seq = data["seq"]
        self.last_ts = data.get("last_ts", 0.0)
        self.users = data["users"]
        self.user_primary = data["user_primary"]
        self.clients = data["clients"]
        self.access_tokens = data["access_tokens"]
        self.refresh_tokens = data["refresh_tokens"]
        self.service_accounts = [tuple(x) for x in data["service_accounts"]]
        self.callist_epoch = data.get("callist_epoch", 0)
        self.calendars = {}
        for cid, c in data["calendars"].items():
            cal = Calendar(cid, c["summary"], c["timeZone"], c["description"],
                           c["owner"])
            cal.max_seq, cal.epoch = c["max_seq"], c["epoch"]
            cal.updated_ts = c["updated_ts"]
            self.calendars[cid] = cal
            for e in c["events"]:
                ev = make_record(cal, e["res"], e["seq"])
                cal.events[ev.id] = ev
                cal.order.append(ev.id)
                ev.order = len(cal.order) - 1
            for ev in cal.events.values():
                if ev.kind == "exception":
                    attach_exception_key(cal, ev)
                else:
                    cal.ical[ev.res["iCalUID"]] = ev.id

    def save(self, path):
        with self.lock:
            data = self.to_json()
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)


# ---------------------------------------------------------------------------
# Event records
# ---------------------------------------------------------------------------

def make_record(cal, res, seq):
    """Builds an Ev from a stored (already validated) resource."""
    ev = Ev()
    ev.id = res["id"]
    ev.res = res
    ev.seq = seq
    ev.order = -1
    ev.rec = None
    ev.master_id = res.get("recurringEventId")
    ev.orig_key = None
    st = parse_event_time(res["start"], "start", cal.time_zone)
    en = parse_event_time(res["end"], "end", cal.time_zone)
    ev.all_day = st.all_day
    ev.start_ts, ev.end_ts = st.ts, en.ts
    ev.start_date, ev.end_date = st.date, en.date
    if st.all_day:
        ev.duration = (en.date - st.date).days
    else:
        ev.duration = en.ts - st.ts
    if ev.master_id:
        ev.kind = "exception"
    elif res.get("recurrence"):
        ev.kind = "master"
        tz = get_tz(st.tzname) if st.tzname else get_tz(cal.time_zone)
        local = st.date if st.all_day else st.local.astimezone(tz).replace(
            tzinfo=None)
        ev.rec = Recurrence(res["recurrence"], st.all_day, local, tz)
    else:
        ev.kind = "single"
    return ev


def attach_exception_key(cal, ev):
    ost = ev.res.get("originalStartTime")
    try:
        t = parse_event_time(ost, "original start", cal.time_zone)
    except ApiError:
        return
    ev.orig_key = t.date if t.all_day else int(t.ts)


def etag_for(seq, ts):
    return '"%d%06d"' % (int(ts * 1000), seq % 1000000)


def strip_quotes(etag):
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    if len(etag) >= 2 and etag[0] == '"' and etag[-1] == '"':
        etag = etag[1:-1]
    return etag


def etag_matches(header, current):
    if header is None:
        return True
    cur = strip_quotes(current)
    for cand in header.split(","):
        cand = cand.strip()
        if cand == "*" or strip_quotes(cand) == cur:
            return True
    return False


def html_link(event_id, cal_id):
    eid = base64.urlsafe_b64encode(
        ("%s %s" % (event_id, cal_id)).encode()).decode().rstrip("=")
    return "https://www.google.com/calendar/event?eid=" + eid


# ---------------------------------------------------------------------------
# Calendar API
# ---------------------------------------------------------------------------

def qget(query, name, default=None):
    vals = query.get(name)
    if not vals:
        return default
    return vals[-1]


def qbool(query, name, default=False):
    v = qget(query, name)
    if v is None:
        return default
    if v.lower() == "true":
        return True
    if v.lower() == "false":
        return False
    raise bad_request("Invalid boolean value: '%s'." % v, location=name)


def qint(query, name, default, lo, hi):
    v = qget(query, name)
    if v is None:
        return default
    try:
        n = int(v)
    except ValueError:
        raise bad_request("Invalid value '%s'. Values must match the "
                          "following regular expression: '-?\\d+'" % v,
                          location=name)
    if n < lo:
        raise bad_request("Invalid value '%s'. Values must be within the "
                          "range: [%d, %d]" % (v, lo, hi), location=name)
    return min(n, hi)


def qtime(query, name):
    v = qget(query, name)
    if v is None:
        return None
    d = parse_rfc3339(v, require_offset=True)
    if d is None:
        raise bad_request("Bad Request", reason="badRequest")
    return d.timestamp()


class Api:
    """The Calendar API methods.  All called with the state lock held."""

    def __init__(self, state):
        self.S = state

    # -- access ---------------------------------------------------------------
    def need_scope(self, ctx, allowed):
        if not allowed.intersection(ctx["scopes"]):
            raise RawError(403, {"error": {
                "code": 403,
                "message": "Request had insufficient authentication scopes.",
                "errors": [{"message": "Insufficient Permission",
                            "domain": "global",
                            "reason": "insufficientPermissions"}],
                "status": "PERMISSION_DENIED"}})

    def calendar_for(self, ctx, cid, write=False):
        user = ctx["user"]
        if cid == "primary":
            cid = self.S.user_primary.get(user, user)
        entry = self.S.users.get(user, {}).get(cid)
        cal = self.S.calendars.get(cid)
        if entry is None or cal is None or entry.get("deleted"):
            raise not_found()
        role = entry["accessRole"]
        if write and role not in ("owner", "writer"):
            raise ApiError(403, "requiredAccessLevel",
                           "You need to have writer access to this calendar.")
        if not write and role not in ("owner", "writer", "reader"):
            raise ApiError(403, "requiredAccessLevel",
                           "You need to have reader access to this calendar.")
        return cal, entry

    # -- rendering --------------------------------------------------------------
    def render(self, res, out_tz, cal):
        if out_tz is None or out_tz == cal.time_zone:
            return res
        out = dict(res)
        for f in ("start", "end", "originalStartTime"):
            v = out.get(f)
            if isinstance(v, dict) and v.get("dateTime"):
                d = parse_rfc3339(v["dateTime"])
                if d is not None:
                    nv = dict(v)
                    nv["dateTime"] = render_dt(d.timestamp(), out_tz)
                    out[f] = nv
        return out

    @staticmethod
    def minimal(res):
        out = {"kind": "calendar#event", "etag": res["etag"],
               "id": res["id"], "status": "cancelled"}
        if res.get("recurringEventId"):
            out["recurringEventId"] = res["recurringEventId"]
            out["originalStartTime"] = res.get("originalStartTime")
        return out

    def instance_res(self, cal, master, key, cancelled=False):
        res = dict(master.res)
        res.pop("recurrence", None)
        inst_id = "%s_%s" % (master.id, key_stamp(key))
        tzname = master.res["start"].get("timeZone")
        if master.all_day:
            start = {"date": key.isoformat()}
            end = {"date": (key + dt.timedelta(days=master.duration))
                   .isoformat()}
            orig = {"date": key.isoformat()}
        else:
            start = {"dateTime": render_dt(key, cal.time_zone)}
            end = {"dateTime": render_dt(key + master.duration,
                                         cal.time_zone)}
            orig = {"dateTime": render_dt(key, cal.time_zone)}
            if tzname:
                start["timeZone"] = tzname
                orig["timeZone"] = tzname
            etz = master.res["end"].get("timeZone")
            if etz:
                end["timeZone"] = etz
        res["id"] = inst_id
        res["start"], res["end"] = start, end
        res["recurringEventId"] = master.id
        res["originalStartTime"] = orig
        res["htmlLink"] = html_link(inst_id, cal.id)
        digest = hashlib.sha1((master.res["etag"] + inst_id).encode()).digest()
        res["etag"] = '"%d"' % (int.from_bytes(digest[:7], "big"))
        if cancelled:
            res["status"] = "cancelled"
        return res

    def instance_times(self, cal, master, key):
        if master.all_day:
            s = day_start_ts(key, cal.time_zone)
            e = day_start_ts(key + dt.timedelta(days=master.duration),
                             cal.time_zone)
            return s, e
        return key, key + master.duration

    def exceptions_of(self, cal, master):
        """{orig_key: Ev} of the stored exceptions of a master."""
        out = {}
        for ev in cal.events.values():
            if ev.kind == "exception" and ev.master_id == master.id and \
                    ev.orig_key is not None:
                out[ev.orig_key] = ev
        return out

    def master_overlaps(self, cal, master, tmin, tmax):
        if tmin is None and tmax is None:
            return True
        before = None
        if tmax is not None:
            before = int(tmax) if not master.all_day else \
                (dt.datetime.fromtimestamp(tmax, get_tz(cal.time_zone) or UTC)
                 .date() + dt.timedelta(days=1))
        for key in master.rec.expand(before=before):
            s, e = self.instance_times(cal, master, key)
            if (tmin is None or e > tmin) and (tmax is None or s < tmax):
                return True
        return False

    def series_items(self, cal, master, tmin, tmax, show_deleted,
                     master_cancelled):
        """[(sort key, res)] for singleEvents=true, in time order."""
        before = None
        if tmax is not None:
            before = int(tmax) if not master.all_day else \
                (dt.datetime.fromtimestamp(tmax, get_tz(cal.time_zone) or UTC)
                 .date() + dt.timedelta(days=1))
        exc = self.exceptions_of(cal, master)
        items = []
        for key in master.rec.expand(before=before):
            if key in exc:
                continue
            s, e = self.instance_times(cal, master, key)
            if (tmin is not None and e <= tmin) or \
                    (tmax is not None and s >= tmax):
                continue
            if master_cancelled and not show_deleted:
                continue
            items.append(((s, key_stamp(key)),
                          self.instance_res(cal, master, key,
                                            cancelled=master_cancelled)))
        for ev in exc.values():
            if ev.cancelled() and not show_deleted:
                continue
            if (tmin is not None and ev.end_ts <= tmin) or \
                    (tmax is not None and ev.start_ts >= tmax):
                continue
            items.append(((ev.start_ts, key_stamp(ev.orig_key)), ev.res))
        items.sort(key=lambda x: x[0])
        return items

    # -- events.list ----------------------------------------------------------
    def events_list(self, ctx, cid, query):
        self.need_scope(ctx, SCOPES_EVENTS_READ)
        cal, entry = self.calendar_for(ctx, cid)
        max_results = qint(query, "maxResults", EVENTS_MAX_RESULTS_DEFAULT, 1,
                           EVENTS_MAX_RESULTS_MAX)
        sync_token = qget(query, "syncToken")
        page_token = qget(query, "pageToken")
        single = qbool(query, "singleEvents")
        show_deleted_param = qget(query, "showDeleted")
        show_deleted = qbool(query, "showDeleted")
        out_tz = qget(query, "timeZone")
        if out_tz is not None and get_tz(out_tz) is None:
            out_tz = None
        order_by = qget(query, "orderBy")
        if order_by not in (None, "startTime", "updated"):
            raise bad_request("Invalid value for orderBy", location="orderBy")
        if order_by == "startTime" and not single:
            raise bad_request("The requested ordering is not available for "
                              "the particular query.", location="orderBy")
        if sync_token is not None:
            for name in SYNC_FORBIDDEN:
                if name in query:
                    raise bad_request(
                        "Sync token cannot be used with other request "
                        "restrictions.", reason="syncTokenWithRequestRestrictions",
                        domain="calendar", location="syncToken")
            if show_deleted_param is not None and not show_deleted:
                raise bad_request(
                    "Sync token cannot be used with other request "
                    "restrictions.", reason="syncTokenWithRequestRestrictions",
                    domain="calendar", location="syncToken")
        tmin = qtime(query, "timeMin")
        tmax = qtime(query, "timeMax")
        if tmin is not None and tmax is not None and tmax <= tmin:
            raise ApiError(400, "timeRangeEmpty",
                           "The specified time range is empty.",
                           domain="calendar", location="timeMax",
                           location_type="parameter")
        updated_min = qtime(query, "updatedMin")
        ical_uid = qget(query, "iCalUID")
        priv = self._props(query, "privateExtendedProperty")
        shared = self._props(query, "sharedExtendedProperty")
        q_terms = [t.lower() for t in (qget(query, "q") or "").split()]
        event_types = set()
        for v in query.get("eventTypes", []):
            event_types.update(x for x in v.split(",") if x)

        fingerprint = self._fingerprint(query)
        since = None
        if page_token is not None:
            pt = self.S.unsign(page_token)
            if not pt or pt.get("t") != "ev" or pt.get("c") != cal.id or \
                    pt.get("f") != fingerprint:
                raise bad_request("Invalid page token value.",
                                  location="pageToken")
            snapshot, cursor, since = pt["s"], pt["k"], pt.get("b")
            if since is not None and pt.get("e") != cal.epoch:
                raise full_sync_required()
            cursor = tuple(_untuple(cursor))
        else:
            snapshot, cursor = cal.max_seq, None
            if sync_token is not None:
                tok = self.S.unsign(sync_token)
                if not tok or tok.get("t") != "sync" or tok.get("c") != cal.id \
                        or tok.get("e") != cal.epoch or tok.get("s", 0) > cal.max_seq:
                    raise full_sync_required()
                since = tok["s"]
        if since is not None:
            show_deleted_eff = True
        elif updated_min is not None:
            show_deleted_eff = True
        else:
            show_deleted_eff = show_deleted

        def keep(ev):
            if since is not None and ev.seq <= since:
                return False
            if updated_min is not None and \
                    self._updated_ts(ev) < updated_min:
                return False
            if ical_uid is not None and ev.res.get("iCalUID") != ical_uid:
                return False
            if priv and not self._props_match(ev.res, "private", priv):
                return False
            if shared and not self._props_match(ev.res, "shared", shared):
                return False
            if event_types and ev.res.get("eventType", "default") \
                    not in event_types:
                return False
            if q_terms and not self._text_match(ev.res, q_terms):
                return False
            return True

        def in_window(ev):
            if ev.kind == "master":
                return self.master_overlaps(cal, ev, tmin, tmax)
            return (tmin is None or ev.end_ts > tmin) and \
                (tmax is None or ev.start_ts < tmax)

        def visible(ev):
            if not ev.cancelled():
                if ev.kind == "exception":
                    m = cal.events.get(ev.master_id)
                    if m is not None and m.cancelled() and not show_deleted_eff:
                        return False
                return True
            if show_deleted_eff:
                return True
            # Cancelled exceptions of a live series are listed when both
            # showDeleted and singleEvents are false.
            if ev.kind == "exception" and not single:
                m = cal.events.get(ev.master_id)
                return m is not None and not m.cancelled()
            return False

        def out(res):
            # Deleted events are only guaranteed to carry their id (and a
            # cancelled exception its recurringEventId and originalStartTime);
            # details are kept only when showDeleted=true.
            if res.get("status") == "cancelled" and not show_deleted:
                return self.minimal(res)
            return self.render(res, out_tz, cal)

        def stream():
            """(cursor key, resource) in listing order."""
            if order_by is None:
                start = 0 if cursor is None else int(cursor[0])
                order = cal.order
                for idx in range(start, len(order)):
                    ev = cal.events[order[idx]]
                    sub_after = cursor[1:] if (cursor is not None and
                                               idx == int(cursor[0])) else None
                    if cursor is not None and idx == int(cursor[0]) and \
                            not sub_after:
                        continue
                    for key, res in self._items_of(cal, ev, single, keep,
                                                   in_window, visible, tmin,
                                                   tmax, show_deleted_eff,
                                                   since):
                        full = (idx,) + key
                        if sub_after is not None and full <= cursor:
                            continue
                        yield full, res
            else:
                mats = []
                for idx, eid in enumerate(cal.order):
                    ev = cal.events[eid]
                    for key, res in self._items_of(cal, ev, single, keep,
                                                   in_window, visible, tmin,
                                                   tmax, show_deleted_eff,
                                                   since):
                        if order_by == "startTime":
                            mk = (self._res_start_ts(res, cal), res["id"])
                        else:
                            mk = (res.get("updated", ""), res["id"])
                        mats.append((mk, res))
                mats.sort(key=lambda x: x[0])
                for mk, res in mats:
                    if cursor is not None and mk <= cursor:
                        continue
                    yield mk, res

        items = []
        last_key = None
        more = False
        for key, res in stream():
            if len(items) >= max_results:
                more = True
                break
            items.append(out(res))
            last_key = key

        body = {"kind": "calendar#events", "etag": '"p%d"' % (
            snapshot * 7 + 3), "summary": cal.summary}
        if cal.description:
            body["description"] = cal.description
        body["updated"] = rfc3339_ms(max(cal.updated_ts, 0))
        body["timeZone"] = out_tz or cal.time_zone
        body["accessRole"] = entry["accessRole"]
        body["defaultReminders"] = [{"method": "popup", "minutes": 10}]
        if more:
            pt = {"t": "ev", "c": cal.id, "f": fingerprint, "s": snapshot,
                  "k": list(last_key)}
            if since is not None:
                pt["b"] = since
                pt["e"] = cal.epoch
            body["nextPageToken"] = self.S.sign(pt)
        else:
            body["nextSyncToken"] = self.S.sign(
                {"t": "sync", "c": cal.id, "e": cal.epoch, "s": snapshot})
        body["items"] = items
        return 200, body, {}

    def _items_of(self, cal, ev, single, keep, in_window, visible, tmin, tmax,
                  show_deleted_eff, since):
        """Listing items contributed by one stored event (sub keys, res)."""
        if not single:
            if keep(ev) and visible(ev) and in_window(ev):
                yield (), ev.res
            return
        if ev.kind == "single":
            if keep(ev) and visible(ev) and in_window(ev):
                yield (), ev.res
            return
        if ev.kind == "exception":
            # Listed within its series, unless only the exception changed.
            m = cal.events.get(ev.master_id)
            if since is not None and m is not None and m.seq <= since and \
                    keep(ev) and in_window(ev):
                yield (), ev.res
            return
        # master
        if not keep(ev):
            # The series did not change; its changed exceptions are listed at
            # their own position.
            return
        for key, res in self.series_items(cal, ev, tmin, tmax,
                                          show_deleted_eff, ev.cancelled()):
            yield (1, key[0], key[1]), res

    @staticmethod
    def _res_start_ts(res, cal):
        st = res.get("start") or {}
        if st.get("dateTime"):
            d = parse_rfc3339(st["dateTime"])
            return d.timestamp() if d else 0.0
        d = parse_date(st.get("date"))
        return day_start_ts(d, cal.time_zone) if d else 0.0

    @staticmethod
    def _updated_ts(ev):
        d = parse_rfc3339(ev.res.get("updated", ""))
        return d.timestamp() if d else 0.0

    @staticmethod
    def _props(query, name):
        out = []
        for v in query.get(name, []):
            if "=" not in v:
                raise bad_request("Invalid %s value: '%s'." % (name, v),
                                  location=name)
            k, val = v.split("=", 1)
            out.append((k, val))
        return out

    @staticmethod
    def _props_match(res, which, props):
        have = (res.get("extendedProperties") or {}).get(which) or {}
        return all(have.get(k) == v for k, v in props)

    @staticmethod
    def _text_match(res, terms):
        parts = [res.get("summary") or "", res.get("description") or "",
                 res.get("location") or ""]
        for a in res.get("attendees") or []:
            if isinstance(a, dict):
                parts.append(a.get("displayName") or "")
                parts.append(a.get("email") or "")
        text = " ".join(parts).lower()
        return all(t in text for t in terms)

    @staticmethod
    def _fingerprint(query):
        items = sorted((k, tuple(v)) for k, v in query.items()
                       if k not in PAGING_NEUTRAL)
        return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]

    # -- lookup --------------------------------------------------------------
    def find(self, cal, event_id):
        """(stored Ev or None, virtual (master, key) or None)."""
        ev = cal.events.get(event_id)
        if ev is not None:
            return ev, None
        if "_" in event_id:
            mid, stamp = event_id.rsplit("_", 1)
            master = cal.events.get(mid)
            key = stamp_key(stamp)
            if master is not None and master.kind == "master" and \
                    key is not None and \
                    isinstance(key, dt.date) == master.all_day and \
                    master.rec.has_instance(key):
                return None, (master, key)
        return None, None

    # -- events.get ------------------------------------------------------------
    def events_get(self, ctx, cid, eid, query, headers):
        self.need_scope(ctx, SCOPES_EVENTS_READ)
        cal, _ = self.calendar_for(ctx, cid)
        ev, virt = self.find(cal, eid)
        if ev is not None:
            res = ev.res
        elif virt is not None:
            master, key = virt
            res = self.instance_res(cal, master, key,
                                    cancelled=master.cancelled())
        else:
            raise not_found()
        out_tz = qget(query, "timeZone")
        if out_tz is not None and get_tz(out_tz) is None:
            out_tz = None
        inm = headers.get("If-None-Match")
        if inm is not None and etag_matches(inm, res["etag"]):
            return 304, None, {"ETag": res["etag"]}
        return 200, self.render(res, out_tz, cal), {"ETag": res["etag"]}

    # -- validation shared by insert/update/patch -------------------------------
    def validate(self, cal, body, instance_of=None):
        """Checks a complete event body; returns (start, end) EventTimes."""
        if "start" not in body or body.get("start") is None:
            raise ApiError(400, "required", "Missing start time.")
        if "end" not in body or body.get("end") is None:
            raise ApiError(400, "required", "Missing end time.")
        st = parse_event_time(body["start"], "start", cal.time_zone)
        en = parse_event_time(body["end"], "end", cal.time_zone)
        if st.all_day != en.all_day:
            raise bad_request("Start and end times must either both be date "
                              "or both be dateTime.")
        if st.all_day:
            if en.date <= st.date:
                raise ApiError(400, "timeRangeEmpty",
                               "The specified time range is empty.",
                               domain="calendar")
        elif en.ts < st.ts:
            raise ApiError(400, "timeRangeEmpty",
                           "The specified time range is empty.",
                           domain="calendar")
        status = body.get("status", "confirmed")
        if status not in ("confirmed", "tentative", "cancelled"):
            raise bad_request("Invalid value for status: %s" % status)
        vis = body.get("visibility", "default")
        if vis not in ("default", "public", "private", "confidential"):
            raise bad_request("Invalid value for visibility: %s" % vis)
        tr = body.get("transparency", "opaque")
        if tr not in ("opaque", "transparent"):
            raise bad_request("Invalid value for transparency: %s" % tr)
        rem = body.get("reminders")
        if rem is not None:
            if not isinstance(rem, dict):
                raise bad_request("Invalid reminders.")
            overrides = rem.get("overrides") or []
            if rem.get("useDefault") and overrides:
                raise bad_request("Cannot specify both default reminders and "
                                  "overrides at the same time.",
                                  reason="cannotUseDefaultRemindersAndSpecifyOverride")
            if not isinstance(overrides, list) or len(overrides) > 5:
                raise bad_request("The maximum number of override reminders "
                                  "is 5.", reason="tooManyReminders")
            for r in overrides:
                if not isinstance(r, dict) or r.get("method") not in \
                        ("email", "popup"):
                    raise ApiError(400, "required", "Missing reminder method.")
                m = r.get("minutes")
                if not isinstance(m, int) or isinstance(m, bool) or \
                        not 0 <= m <= 40320:
                    raise bad_request("Invalid reminder minutes.")
        ext = body.get("extendedProperties")
        if ext is not None:
            if not isinstance(ext, dict):
                raise bad_request("Invalid extendedProperties.")
            for which in ("private", "shared"):
                props = ext.get(which)
                if props is None:
                    continue
                if not isinstance(props, dict) or not all(
                        isinstance(v, str) for v in props.values()):
                    raise bad_request("Invalid extended property value.")
        for a in body.get("attendees") or []:
            if not isinstance(a, dict) or not a.get("email"):
                raise ApiError(400, "required", "Missing attendee email.")
        if body.get("recurrence") is not None:
            if instance_of is not None:
                raise bad_request("Invalid recurrence for an instance of a "
                                  "recurring event.",
                                  reason="invalidRecurrence")
            if not st.all_day and (not st.tzname or not en.tzname):
                which = "start" if not st.tzname else "end"
                raise ApiError(400, "required",
                               "Missing time zone definition for %s time."
                               % which)
            tz = get_tz(st.tzname) if st.tzname else get_tz(cal.time_zone)
            local = st.date if st.all_day else \
                st.local.astimezone(tz).replace(tzinfo=None)
            try:
                rec = Recurrence(body["recurrence"], st.all_day, local, tz)
            except (ValueError, KeyError) as exc:
                raise bad_request("Invalid recurrence rule.",
                                  reason="invalid") from exc
            for r in rec.rules + rec.exrules:
                if r.ignored:
                    log("recurrence parts %s are accepted but not expanded"
                        % ",".join(r.ignored))
        seqv = body.get("sequence")
        if seqv is not None and (not isinstance(seqv, int) or
                                 isinstance(seqv, bool) or seqv < 0):
            raise bad_request("Invalid sequence value.")
        return st, en

    def store_body(self, cal, body, base, ctx, eid, ical_uid, created_ts,
                   seq_prev, now_ts, master=None, orig=None):
        """The new stored resource from a validated body."""
        st, en = self.validate(cal, body, instance_of=master)
        res = {"kind": "calendar#event"}
        for k in EVENT_WRITABLE:
            if k in body and body[k] is not None and k not in ("start", "end"):
                res[k] = body[k]
        res["start"] = render_time(st, cal.time_zone)
        res["end"] = render_time(en, cal.time_zone)
        res.setdefault("status", "confirmed")
        if res.get("transparency") == "opaque":
            del res["transparency"]
        if res.get("visibility") == "default":
            del res["visibility"]
        if "reminders" not in res:
            res["reminders"] = {"useDefault": True}
        else:
            rem = {"useDefault": bool(res["reminders"].get("useDefault"))}
            if res["reminders"].get("overrides"):
                rem["overrides"] = res["reminders"]["overrides"]
            res["reminders"] = rem
        res.setdefault("eventType", "default")
        res["id"] = eid
        res["iCalUID"] = ical_uid
        res["creator"] = (base or {}).get("creator") or {"email": ctx["user"]}
        if res["creator"].get("email") == cal.id:
            res["creator"] = dict(res["creator"], self=True)
        res["organizer"] = (base or {}).get("organizer") or {
            "email": cal.id, "displayName": cal.summary, "self": True}
        if master is not None:
            res["recurringEventId"] = master.id
            res["originalStartTime"] = orig
        # sequence: as per iCalendar, never below the current one
        new_seq = seq_prev
        if "sequence" in body and body["sequence"] is not None:
            if base is not None and body["sequence"] < seq_prev:
                raise bad_request("Invalid sequence value. The specified "
                                  "sequence number is below the current "
                                  "sequence number of the resource.",
                                  reason="invalidSequenceValue")
            new_seq = body["sequence"]
        if base is not None and new_seq == seq_prev:
            for f in ("start", "end", "recurrence", "status"):
                if base.get(f) != res.get(f):
                    new_seq = seq_prev + 1
                    break
        res["sequence"] = new_seq
        res["htmlLink"] = html_link(eid, cal.id)
        res["created"] = rfc3339_ms(created_ts)
        res["updated"] = rfc3339_ms(now_ts)
        return res

    def commit(self, cal, res, existing=None):
        seq = self.S.next_seq()
        ts = parse_rfc3339(res["updated"]).timestamp()
        res["etag"] = etag_for(seq, ts)
        # keep key order stable-ish: kind, etag, id first
        ordered = {"kind": res.pop("kind"), "etag": res.pop("etag"),
                   "id": res.pop("id")}
        ordered.update(res)
        ev = make_record(cal, ordered, seq)
        if existing is not None:
            ev.order = existing.order
        else:
            cal.order.append(ev.id)
            ev.order = len(cal.order) - 1
        cal.events[ev.id] = ev
        if ev.kind == "exception":
            attach_exception_key(cal, ev)
        else:
            cal.ical[ev.res["iCalUID"]] = ev.id
        cal.max_seq = seq
        cal.updated_ts = ts
        return ev

    def check_if_match(self, headers, current_etag):
        im = headers.get("If-Match")
        if im is not None and not etag_matches(im, current_etag):
            raise ApiError(412, "conditionNotMet", "Precondition Failed",
                           location="If-Match", location_type="header")

    # -- events.insert ---------------------------------------------------------
    def events_insert(self, ctx, cid, body):
        self.need_scope(ctx, SCOPES_EVENTS_WRITE)
        cal, _ = self.calendar_for(ctx, cid, write=True)
        if not isinstance(body, dict):
            raise ApiError(400, "parseError", "Parse Error")
        eid = body.get("id")
        if eid is not None:
            if not isinstance(eid, str) or not _B32HEX.match(eid):
                raise bad_request("Invalid resource id value.")
        else:
            eid = new_event_id()
        if eid in cal.events:
            raise ApiError(409, "duplicate",
                           "The requested identifier already exists.")
        ical = body.get("iCalUID")
        if ical is not None and (not isinstance(ical, str) or not ical):
            raise bad_request("Invalid iCalUID value.")
        if ical is None:
            ical = eid + "@google.com"
        if ical in cal.ical:
            # iCalUIDs are unique per calendar (the instances of a series
            # share their master's); deleted events keep theirs.
            raise ApiError(409, "duplicate",
                           "The requested identifier already exists.")
        now_ts = self.S.next_ts()
        res = self.store_body(cal, body, None, ctx, eid, ical, now_ts,
                              body.get("sequence") or 0, now_ts)
        ev = self.commit(cal, res)
        return 200, ev.res, {"ETag": ev.res["etag"]}

    # -- events.update / events.patch ------------------------------------------
    def events_modify(self, ctx, cid, eid, body, headers, patch):
        self.need_scope(ctx, SCOPES_EVENTS_WRITE)
        cal, _ = self.calendar_for(ctx, cid, write=True)
        if not isinstance(body, dict):
            raise ApiError(400, "parseError", "Parse Error")
        ev, virt = self.find(cal, eid)
        if ev is None and virt is None:
            raise not_found()
        master = orig = None
        if ev is not None:
            base = ev.res
            if ev.kind == "exception":
                master = cal.events.get(ev.master_id)
                orig = base.get("originalStartTime")
        else:
            master, key = virt
            base = self.instance_res(cal, master, key,
                                     cancelled=master.cancelled())
            orig = base["originalStartTime"]
        self.check_if_match(headers, base["etag"])
        if patch:
            merged = dict(base)
            for k, v in body.items():
                if v is None:
                    merged.pop(k, None)
                elif k in ("start", "end") or not isinstance(v, dict) or \
                        not isinstance(merged.get(k), dict):
                    merged[k] = v
                else:
                    merged[k] = deep_merge(merged[k], v)
            new_body = {k: v for k, v in merged.items() if k in EVENT_WRITABLE}
        else:
            new_body = body
        now_ts = self.S.next_ts()
        created = parse_rfc3339(base["created"]).timestamp() \
            if base.get("created") else now_ts
        res = self.store_body(cal, new_body, base, ctx, base["id"],
                              base["iCalUID"], created,
                              base.get("sequence", 0), now_ts,
                              master=master, orig=orig)
        newev = self.commit(cal, res, existing=ev)
        return 200, newev.res, {"ETag": newev.res["etag"]}

    # -- events.delete ---------------------------------------------------------
    def events_delete(self, ctx, cid, eid, headers):
        self.need_scope(ctx, SCOPES_EVENTS_WRITE)
        cal, _ = self.calendar_for(ctx, cid, write=True)
        ev, virt = self.find(cal, eid)
        if ev is None and virt is None:
            raise not_found()
        if ev is not None:
            if ev.cancelled():
                raise ApiError(410, "deleted", "Resource has been deleted")
            self.check_if_match(headers, ev.res["etag"])
            self._cancel(cal, ev.res, ev)
            if ev.kind == "master":
                for other in list(cal.events.values()):
                    if other.kind == "exception" and \
                            other.master_id == ev.id and not other.cancelled():
                        self._cancel(cal, other.res, other)
        else:
            master, key = virt
            base = self.instance_res(cal, master, key)
            if master.cancelled():
                raise ApiError(410, "deleted", "Resource has been deleted")
            self.check_if_match(headers, base["etag"])
            self._cancel(cal, base, None)
        return 204, None, {}

    def _cancel(self, cal, res, existing):
        new = dict(res)
        new["status"] = "cancelled"
        new["updated"] = rfc3339_ms(self.S.next_ts())
        new.pop("etag", None)
        self.commit(cal, new, existing=existing)

    # -- events.instances --------------------------------------------------------
    def events_instances(self, ctx, cid, eid, query):
        self.need_scope(ctx, SCOPES_EVENTS_READ)
        cal, entry = self.calendar_for(ctx, cid)
        master = cal.events.get(eid)
        if master is None:
            raise not_found()
        max_results = qint(query, "maxResults", EVENTS_MAX_RESULTS_DEFAULT, 1,
                           EVENTS_MAX_RESULTS_MAX)
        show_deleted = qbool(query, "showDeleted")
        tmin = qtime(query, "timeMin")
        tmax = qtime(query, "timeMax")
        if tmin is not None and tmax is not None and tmax <= tmin:
            raise ApiError(400, "timeRangeEmpty",
                           "The specified time range is empty.",
                           domain="calendar", location="timeMax",
                           location_type="parameter")
        out_tz = qget(query, "timeZone")
        if out_tz is not None and get_tz(out_tz) is None:
            out_tz = None
        original_start = qget(query, "originalStart")
        fingerprint = self._fingerprint(query)
        cursor = None
        page_token = qget(query, "pageToken")
        if page_token is not None:
            pt = self.S.unsign(page_token)
            if not pt or pt.get("t") != "inst" or pt.get("f") != fingerprint \
                    or pt.get("c") != cal.id or pt.get("m") != eid:
                raise bad_request("Invalid page token value.",
                                  location="pageToken")
            cursor = tuple(_untuple(pt["k"]))
        if master.kind != "master":
            items_all = []
        else:
            items_all = self.series_items(cal, master, tmin, tmax,
                                          show_deleted, master.cancelled())
        if original_start is not None:
            want = parse_rfc3339(original_start)
            wd = parse_date(original_start)
            filtered = []
            for k, res in items_all:
                o = res.get("originalStartTime") or {}
                if want is not None and o.get("dateTime") and \
                        parse_rfc3339(o["dateTime"]).timestamp() == \
                        want.timestamp():
                    filtered.append((k, res))
                elif wd is not None and o.get("date") == wd.isoformat():
                    filtered.append((k, res))
            items_all = filtered
        items, more, last = [], False, None
        for k, res in items_all:
            if cursor is not None and tuple(k) <= cursor:
                continue
            if len(items) >= max_results:
                more = True
                break
            if res.get("status") == "cancelled" and not show_deleted:
                continue
            items.append(self.render(res, out_tz, cal))
            last = k
        body = {"kind": "calendar#events",
                "etag": '"p%d"' % (cal.max_seq * 7 + 5),
                "summary": cal.summary,
                "updated": rfc3339_ms(cal.updated_ts),
                "timeZone": out_tz or cal.time_zone,
                "accessRole": entry["accessRole"],
                "defaultReminders": [{"method": "popup", "minutes": 10}]}
        if more:
            body["nextPageToken"] = self.S.sign(
                {"t": "inst", "c": cal.id, "m": eid, "f": fingerprint,
                 "k": list(last)})
        body["items"] = items
        return 200, body, {}

    # -- calendarList ------------------------------------------------------------
    def calendar_list_entry(self, user, cid, entry):
        cal = self.S.calendars[cid]
        out = {"kind": "calendar#calendarListEntry",
               "etag": '"%d"' % (1600000000000000 + entry["seq"]),
               "id": cid, "summary": cal.summary, "timeZone": cal.time_zone,
               "colorId": "14", "backgroundColor": "#9fe1e7",
               "foregroundColor": "#000000", "selected": True,
               "accessRole": entry["accessRole"],
               "defaultReminders": [{"method": "popup", "minutes": 10}]
               if entry["accessRole"] in ("owner", "writer") else [],
               "conferenceProperties": {
                   "allowedConferenceSolutionTypes": ["hangoutsMeet"]}}
        if cal.description:
            out["description"] = cal.description
        if entry.get("primary"):
            out["primary"] = True
        if entry.get("deleted"):
            out["deleted"] = True
        return out

    def calendar_list(self, ctx, query):
        self.need_scope(ctx, SCOPES_CALENDARLIST_READ)
        user = ctx["user"]
        entries = self.S.users.get(user, {})
        max_results = qint(query, "maxResults", CALLIST_MAX_RESULTS_DEFAULT, 1,
                           CALLIST_MAX_RESULTS_MAX)
        sync_token = qget(query, "syncToken")
        show_deleted = qbool(query, "showDeleted")
        qbool(query, "showHidden")
        min_role = qget(query, "minAccessRole")
        roles = ["freeBusyReader", "reader", "writer", "owner"]
        if min_role is not None and min_role not in roles:
            raise bad_request("Invalid value for minAccessRole",
                              location="minAccessRole")
        since = None
        if sync_token is not None:
            if min_role is not None:
                raise bad_request("Sync token cannot be used with other "
                                  "request restrictions.",
                                  reason="syncTokenWithRequestRestrictions",
                                  domain="calendar", location="syncToken")
            tok = self.S.unsign(sync_token)
            if not tok or tok.get("t") != "cl" or tok.get("u") != user or \
                    tok.get("e") != self.S.callist_epoch:
                raise full_sync_required()
            since = tok["s"]
        offset = 0
        page_token = qget(query, "pageToken")
        if page_token is not None:
            pt = self.S.unsign(page_token)
            if not pt or pt.get("t") != "clp" or pt.get("u") != user:
                raise bad_request("Invalid page token value.",
                                  location="pageToken")
            offset = pt["o"]
        snapshot = max([e["seq"] for e in entries.values()] or [0])
        chosen = []
        for cid, entry in entries.items():
            if since is not None and entry["seq"] <= since:
                continue
            if entry.get("deleted") and not (show_deleted or since is not None):
                continue
            if min_role is not None and roles.index(entry["accessRole"]) < \
                    roles.index(min_role):
                continue
            chosen.append(self.calendar_list_entry(user, cid, entry))
        page = chosen[offset:offset + max_results]
        body = {"kind": "calendar#calendarList",
                "etag": '"p%d"' % (snapshot * 3 + 1)}
        if offset + max_results < len(chosen):
            body["nextPageToken"] = self.S.sign(
                {"t": "clp", "u": user, "o": offset + max_results})
        else:
            body["nextSyncToken"] = self.S.sign(
                {"t": "cl", "u": user, "e": self.S.callist_epoch,
                 "s": snapshot})
        body["items"] = page
        return 200, body, {}

    def calendar_list_get(self, ctx, cid):
        self.need_scope(ctx, SCOPES_CALENDARLIST_READ)
        user = ctx["user"]
        if cid == "primary":
            cid = self.S.user_primary.get(user, user)
        entry = self.S.users.get(user, {}).get(cid)
        if entry is None or entry.get("deleted"):
            raise not_found()
        return 200, self.calendar_list_entry(user, cid, entry), {}

    def calendars_get(self, ctx, cid):
        self.need_scope(ctx, SCOPES_CALENDARS_READ)
        cal, _ = self.calendar_for(ctx, cid)
        out = {"kind": "calendar#calendar",
               "etag": '"%d"' % (1700000000000000 + cal.max_seq),
               "id": cal.id, "summary": cal.summary,
               "timeZone": cal.time_zone,
               "conferenceProperties": {
                   "allowedConferenceSolutionTypes": ["hangoutsMeet"]}}
        if cal.description:
            out["description"] = cal.description
        return 200, out, {}

    # -- routing -----------------------------------------------------------------
    def dispatch(self, method, path, query, headers, raw_body):
        """path: below /calendar/v3.  Returns (status, body, headers)."""
        segs = [urllib.parse.unquote(s) for s in path.strip("/").split("/")]
        body = None
        if method in ("POST", "PUT", "PATCH"):
            if raw_body:
                try:
                    body = json.loads(raw_body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    raise ApiError(400, "parseError", "Parse Error")
            else:
                body = {}
        auth = headers.get("Authorization")
        if auth is None and qget(query, "access_token"):
            auth = "Bearer " + qget(query, "access_token")
        if auth is None and qget(query, "oauth_token"):
            auth = "Bearer " + qget(query, "oauth_token")
        info = self.S.check_bearer(auth)
        if info is None:
            raise auth_error()
        ctx = {"user": info["user"], "scopes": set(info["scopes"])}
        n = len(segs)
        if n >= 3 and segs[0] == "users" and segs[1] == "me" and \
                segs[2] == "calendarList":
            if n == 3 and method == "GET":
                return self.calendar_list(ctx, query)
            if n == 4 and method == "GET":
                return self.calendar_list_get(ctx, segs[3])
            raise not_found()
        if n >= 2 and segs[0] == "calendars":
            cid = segs[1]
            if n == 2 and method == "GET":
                return self.calendars_get(ctx, cid)
            if n >= 3 and segs[2] == "events":
                if n == 3:
                    if method == "GET":
                        return self.events_list(ctx, cid, query)
                    if method == "POST":
                        return self.events_insert(ctx, cid, body)
                    raise not_found()
                eid = segs[3]
                if n == 4:
                    if method == "POST" and eid in ("import", "quickAdd",
                                                    "watch"):
                        raise ApiError(501, "notImplemented",
                                       "events.%s is not implemented by the "
                                       "fake." % eid)
                    if method == "GET":
                        return self.events_get(ctx, cid, eid, query, headers)
                    if method == "PUT":
                        return self.events_modify(ctx, cid, eid, body,
                                                  headers, patch=False)
                    if method == "PATCH":
                        return self.events_modify(ctx, cid, eid, body,
                                                  headers, patch=True)
                    if method == "DELETE":
                        return self.events_delete(ctx, cid, eid, headers)
                    raise not_found()
                if n == 5 and segs[4] == "instances" and method == "GET":
                    return self.events_instances(ctx, cid, eid, query)
                if n == 5 and segs[4] == "move" and method == "POST":
                    raise ApiError(501, "notImplemented",
                                   "events.move is not implemented by the "
                                   "fake.")
        raise not_found()


def _untuple(v):
    return [tuple(x) if isinstance(x, list) else x for x in v]


def deep_merge(base, patch):
    out = dict(base)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


# ---------------------------------------------------------------------------
# OAuth 2.0
# ---------------------------------------------------------------------------

_LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|\[::1\]|localhost)(:\d{1,5})?(/.*)?$")
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def pkce_s256(verifier):
    return base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")


class OAuth:
    def __init__(self, state):
        self.S = state

    def authorize(self, query):
        """GET /o/oauth2/v2/auth -> (status, headers, text)."""
        client_id = qget(query, "client_id")
        redirect_uri = qget(query, "redirect_uri")
        client = self.S.clients.get(client_id or "")
        if client is None:
            return 401, {}, "Error 401: invalid_client\nThe OAuth client was " \
                            "not found.\n"
        if not redirect_uri or not _LOOPBACK.match(redirect_uri) or (
                client.get("redirect_uris") and
                redirect_uri not in client["redirect_uris"]):
            return 400, {}, "Error 400: redirect_uri_mismatch\n"
        state = qget(query, "state")

        def back(params):
            if state is not None:
                params["state"] = state
            sep = "&" if "?" in redirect_uri else "?"
            loc = redirect_uri + sep + urllib.parse.urlencode(params)
            return 302, {"Location": loc}, ""

        if qget(query, "response_type") != "code":
            return back({"error": "unsupported_response_type"})
        scope = qget(query, "scope")
        if not scope:
            return back({"error": "invalid_request",
                         "error_description": "Missing required parameter: "
                                              "scope"})
        scopes = scope.split()
        unknown = [s for s in scopes if s not in KNOWN_SCOPES]
        if unknown:
            return back({"error": "invalid_scope",
                         "error_description": "Some requested scopes were "
                                              "invalid: " + " ".join(unknown)})
        challenge = qget(query, "code_challenge")
        method = qget(query, "code_challenge_method")
        if challenge is None:
            if method is not None or client.get("require_pkce"):
                return back({"error": "invalid_request",
                             "error_description": "Missing code_challenge."})
        else:
            method = method or "plain"
            if method not in ("S256", "plain"):
                return back({"error": "invalid_request",
                             "error_description":
                                 "Invalid code_challenge_method."})
            if method == "plain" and client.get("require_pkce") == "S256":
                return back({"error": "invalid_request",
                             "error_description":
                                 "Invalid code_challenge_method."})
            if not re.match(r"^[A-Za-z0-9\-._~]{43,128}$", challenge):
                return back({"error": "invalid_request",
                             "error_description": "Invalid code_challenge."})
        consent = self.S.consent
        if consent.get("deny"):
            return back({"error": "access_denied"})
        user = consent.get("user") or qget(query, "login_hint") or DEFAULT_USER
        if user not in self.S.users:
            user = DEFAULT_USER
        granted = scopes
        if consent.get("scopes") is not None:
            granted = [s for s in scopes if s in consent["scopes"]]
        code = new_secret_token("4/fake-")
        self.S.codes[code] = {
            "client_id": client_id, "redirect_uri": redirect_uri,
            "challenge": challenge, "method": method, "user": user,
            "scopes": granted, "exp": time.time() + AUTH_CODE_SECONDS,
            "used": False, "issued": []}
        return back({"code": code, "scope": " ".join(granted)})

    def client_auth(self, form, headers, require_secret=True):
        cid = form.get("client_id")
        secret = form.get("client_secret")
        basic = headers.get("Authorization")
        if basic and basic.lower().startswith("basic "):
            try:
                raw = base64.b64decode(basic[6:].strip()).decode()
                bid, _, bsecret = raw.partition(":")
                cid = urllib.parse.unquote_plus(bid)
                secret = urllib.parse.unquote_plus(bsecret)
            except (ValueError, UnicodeDecodeError):
                raise OAuthError("invalid_client", "Unauthorized", 401)
        if not cid:
            raise OAuthError("invalid_request", "Could not determine client "
                                                "ID from request.")
        client = self.S.clients.get(cid)
        if client is None:
            raise OAuthError("invalid_client", "The OAuth client was not "
                                               "found.", 401)
        if require_secret and not client.get("public"):
            if secret is None or not hmac.compare_digest(
                    secret, client["client_secret"]):
                raise OAuthError("invalid_client", "Unauthorized", 401)
        return client

    def token(self, form, headers):
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("unsupported_grant_type", "Invalid grant_type: ")
        if grant == "authorization_code":
            return self._grant_code(form, headers)
        if grant == "refresh_token":
            return self._grant_refresh(form, headers)
        if grant == JWT_BEARER:
            return self._grant_jwt(form)
        raise OAuthError("unsupported_grant_type", "Invalid grant_type: "
                         + grant)

    def _grant_code(self, form, headers):
        client = self.client_auth(form, headers)
        code = form.get("code")
        if not code:
            raise OAuthError("invalid_request",
                             "Missing required parameter: code")
        rec = self.S.codes.get(code)
        if rec is None:
            raise OAuthError("invalid_grant", "Malformed auth code.")
        if rec["used"]:
            # RFC 6749 4.1.2: revoke what the code already gave.
            for tok in rec["issued"]:
                self.S.access_tokens.pop(tok, None)
                rt = self.S.refresh_tokens.get(tok)
                if rt:
                    rt["revoked"] = True
            raise OAuthError("invalid_grant", "Bad Request")
        if rec["exp"] <= time.time() or \
                rec["client_id"] != client["client_id"]:
            raise OAuthError("invalid_grant", "Bad Request")
        if form.get("redirect_uri") != rec["redirect_uri"]:
            raise OAuthError("invalid_grant", "Bad Request")
        if rec["challenge"] is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                raise OAuthError("invalid_grant", "Missing code verifier.")
            if not _VERIFIER.match(verifier):
                raise OAuthError("invalid_grant", "Invalid code verifier.")
            want = pkce_s256(verifier) if rec["method"] == "S256" else verifier
            if not hmac.compare_digest(want, rec["challenge"]):
                raise OAuthError("invalid_grant", "Invalid code verifier.")
        rec["used"] = True
        refresh = new_secret_token("1//fake-")
        self.S.refresh_tokens[refresh] = {
            "user": rec["user"], "scopes": rec["scopes"],
            "client_id": client["client_id"], "revoked": False}
        access = self.S.issue_access_token(rec["user"], rec["scopes"],
                                           client["client_id"], refresh)
        rec["issued"] += [access, refresh]
        return {"access_token": access,
                "expires_in": int(self.S.opts.access_token_seconds),
                "refresh_token": refresh, "scope": " ".join(rec["scopes"]),
                "token_type": "Bearer"}

    def _grant_refresh(self, form, headers):
        client = self.client_auth(form, headers)
        rt = form.get("refresh_token")
        if not rt:
            raise OAuthError("invalid_request",
                             "Missing required parameter: refresh_token")
        rec = self.S.refresh_tokens.get(rt)
        if rec is None or rec["revoked"] or \
                rec["client_id"] != client["client_id"]:
            raise OAuthError("invalid_grant", "Token has been expired or "
                                              "revoked.")
        scopes = rec["scopes"]
        if form.get("scope"):
            asked = form["scope"].split()
            if any(s not in rec["scopes"] for s in asked):
                raise OAuthError("invalid_scope", "Bad Request")
            scopes = asked
        access = self.S.issue_access_token(rec["user"], scopes,
                                           client["client_id"], rt)
        return {"access_token": access,
                "expires_in": int(self.S.opts.access_token_seconds),
                "scope": " ".join(scopes), "token_type": "Bearer"}

    def _grant_jwt(self, form):
        assertion = form.get("assertion")
        if not assertion:
            raise OAuthError("invalid_request",
                             "Missing required parameter: assertion")
        parts = assertion.split(".")
        if len(parts) != 3:
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        if header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        iss = claims.get("iss")
        signed = (parts[0] + "." + parts[1]).encode("ascii")
        keys = [pem for email, pem in self.S.service_accounts
                if email in (None, "", iss)]
        if not keys:
            raise OAuthError("invalid_grant", "Invalid grant: account not "
                                              "found")
        if not any(rs256_verify(pem, signed, signature) for pem in keys):
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        own_url = "http://127.0.0.1:%d/token" % self.S.opts.bound_port
        if claims.get("aud") not in (GOOGLE_TOKEN_URL, own_url):
            raise OAuthError("invalid_grant", "Invalid JWT: Failed audience "
                                              "check.")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, (int, float)) or \
                not isinstance(exp, (int, float)) or exp <= iat or \
                exp - iat > 3600 or iat > now + 60 or exp < now - 60:
            raise OAuthError(
                "invalid_grant", "Invalid JWT: Token must be a short-lived "
                "token (60 minutes) and in a reasonable timeframe. Check "
                "your iat and exp values in the JWT claim.")
        scope = claims.get("scope")
        if not scope or not isinstance(scope, str):
            raise OAuthError("invalid_scope", "Invalid OAuth scope or ID "
                                              "token audience provided.")
        scopes = scope.split()
        if any(s not in KNOWN_SCOPES for s in scopes):
            raise OAuthError("invalid_scope", "Invalid OAuth scope or ID "
                                              "token audience provided.")
        sub = claims.get("sub")
        if sub:
            if sub not in self.S.users:
                raise OAuthError("invalid_grant", "Invalid email or User ID")
            user = sub
        else:
            if not iss:
                raise OAuthError("invalid_grant", "Invalid JWT Signature.")
            user = self.S.ensure_user(iss)
        access = self.S.issue_access_token(user, scopes, iss or "",
                                           subject_kind="service_account")
        return {"access_token": access,
                "expires_in": int(self.S.opts.access_token_seconds),
                "scope": " ".join(scopes), "token_type": "Bearer"}

    def revoke(self, form, query):
        tok = form.get("token") or qget(query, "token")
        if tok in self.S.access_tokens:
            info = self.S.access_tokens.pop(tok)
            if info.get("refresh") in self.S.refresh_tokens:
                self.S.refresh_tokens[info["refresh"]]["revoked"] = True
            return 200, {}
        if tok in self.S.refresh_tokens and \
                not self.S.refresh_tokens[tok]["revoked"]:
            self.S.refresh_tokens[tok]["revoked"] = True
            for t, info in list(self.S.access_tokens.items()):
                if info.get("refresh") == tok:
                    del self.S.access_tokens[t]
            return 200, {}
        return 400, {"error": "invalid_token",
                     "error_description": "Token expired or revoked"}


def rs256_verify(pem_path, data, signature):
    """Verifies an RS256 signature with `openssl dgst` (public key or cert)."""
    try:
        with tempfile.TemporaryDirectory() as d:
            sig = os.path.join(d, "sig")
            with open(sig, "wb") as f:
                f.write(signature)
            key = pem_path
            with open(pem_path, "rb") as f:
                pem = f.read()
            if b"BEGIN CERTIFICATE" in pem:
                key = os.path.join(d, "pub.pem")
                subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in",
                                pem_path, "-out", key], check=True,
                               capture_output=True, timeout=20)
            p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", key,
                                "-signature", sig], input=data,
                               capture_output=True, timeout=20)
            return p.returncode == 0
    except (OSError, subprocess.SubprocessError) as exc:
        log("openssl verification failed to run: %s" % exc)
        return False


# ---------------------------------------------------------------------------
# Batch
# ---------------------------------------------------------------------------

def split_head_body(blob):
    """Splits at the first blank line (CRLF or LF line ends)."""
    cands = [(i, n) for i, n in ((blob.find(b"\r\n\r\n"), 4),
                                 (blob.find(b"\n\n"), 2)) if i >= 0]
    if not cands:
        return blob, b""
    i, n = min(cands)
    return blob[:i], blob[i + n:]


def parse_headers(text):
    out = {}
    lines = text.replace("\r\n", "\n").split("\n")
    cur = None
    for line in lines:
        if not line:
            continue
        if line[0] in " \t" and cur:
            out[cur] += " " + line.strip()
            continue
        name, _, value = line.partition(":")
        cur = name.strip().lower()
        out[cur] = value.strip()
    return out


def parse_multipart(body, boundary):
    delim = b"--" + boundary.encode()
    chunks = body.split(delim)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        # drop the line break after the delimiter and before the next one
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        parts.append(chunk)
    return parts


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------



Server = fake_http.Server


class Handler(fake_http.Handler):
    server_version = "FakeGoogle/1"
    log_name = "fake_google"

    def handle_any(self):
        t0 = time.time()
        S = self.server.state
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        headers = {k: v for k, v in self.headers.items()}
        hdrs_ci = CaseDict(headers)
        try:
            raw = self.read_body()
        except (ValueError, OSError):
            self.send(400, b"bad body\n", ctype="text/plain")
            return
        try:
            if path.startswith("/_fake/"):
                status, payload = self.server.control.handle(
                    self.command, path, query, raw)
                self.send(status, json_bytes(payload),
                          ctype="application/json; charset=UTF-8")
                return
            status, out_headers, out_body, ctype = self.route(
                self.command, path, url.query, query, hdrs_ci, raw)
        except Exception:  # pragma: no cover - a bug in the fake
            log(traceback.format_exc())
            err = ApiError(500, "backendError", "Backend Error")
            status, out_headers, out_body, ctype = \
                500, {}, json_bytes(err.body()), "application/json; charset=UTF-8"
        # Logged before the answer leaves: a client that reads the log right
        # after its answer finds its request there.
        with S.lock:
            S.requests.append({"method": self.command, "path": path,
                               "query": url.query, "params": query,
                               "status": status})
        self.send(status, out_body, out_headers, ctype)
        log("%s %s -> %d (%.1f ms)" % (self.command, self.path[:160], status,
                                      (time.time() - t0) * 1000))

    def route(self, method, path, raw_query, query, headers, raw):
        S = self.server.state
        if path in ("/o/oauth2/v2/auth", "/o/oauth2/auth") and method == "GET":
            with S.lock:
                status, hdrs, text = self.server.oauth.authorize(query)
            hdrs = dict(hdrs)
            hdrs["Cache-Control"] = "no-store"
            return status, hdrs, text.encode(), "text/plain; charset=UTF-8"
        if path in ("/token", "/o/oauth2/token", "/oauth2/v4/token"):
            fail = self.server.take_failure(method, path)
            if fail is not None:
                return self.error_response(fail)
            if method != "POST":
                return 405, {}, json_bytes({"error": "invalid_request",
                                            "error_description":
                                                "Method not allowed"}), \
                    "application/json; charset=UTF-8"
            form = parse_form(raw, headers)
            try:
                with S.lock:
                    body = self.server.oauth.token(form, headers)
                status = 200
            except OAuthError as e:
                status = e.status
                body = {"error": e.error, "error_description": e.description}
            return status, {"Cache-Control": "no-store", "Pragma": "no-cache"}, \
                json_bytes(body), "application/json; charset=utf-8"
        if path in ("/revoke", "/o/oauth2/revoke") and method in ("POST",
                                                                   "GET"):
            form = parse_form(raw, headers)
            with S.lock:
                status, body = self.server.oauth.revoke(form, query)
            return status, {}, json_bytes(body), "application/json; charset=utf-8"
        if path.rstrip("/") == "/batch/calendar/v3":
            fail = self.server.take_failure(method, path)
            if fail is not None:
                return self.error_response(fail)
            if method != "POST":
                return self.error_response(not_found())
            return self.server.batch(headers, raw_query, raw)
        if path.startswith("/calendar/v3/"):
            status, hdrs, body = self.server.api_call(
                method, path, raw_query, query, headers, raw)
            ctype = "application/json; charset=UTF-8" if body else None
            return status, hdrs, body, ctype
        return self.error_response(not_found())

    @staticmethod
    def error_response(err):
        return err.status, dict(err.headers), json_bytes(err.body()), \
            "application/json; charset=UTF-8"


class CaseDict(dict):
    """Case-insensitive header lookup."""

    def __init__(self, d):
        super().__init__()
        for k, v in d.items():
            self[k.lower()] = v

    def get(self, key, default=None):
        return super().get(key.lower(), default)

    def __contains__(self, key):
        return super().__contains__(key.lower())


def parse_form(raw, headers):
    ctype = (headers.get("Content-Type") or "").lower()
    text = raw.decode("utf-8", "replace")
    if "application/json" in ctype:
        try:
            data = json.loads(text)
            return {k: str(v) for k, v in data.items()}
        except (ValueError, AttributeError):
            return {}
    return {k: v[-1] for k, v in urllib.parse.parse_qs(
        text, keep_blank_values=True).items()}


def json_bytes(obj, pretty=False):
    if pretty:
        return (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode()
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class App(Server):
    """The server plus the pieces shared by plain calls and batch parts."""

    def setup_app(self, state):
        self.state = state
        self.api = Api(state)
        self.oauth = OAuth(state)
        self.control = Control(state, self)

    def take_failure(self, method, path):
        S = self.state
        with S.lock:
            for rule in S.fail_rules:
                if rule["count"] <= 0:
                    continue
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if rule.get("path_contains", "/calendar/v3") not in path:
                    continue
                rule["count"] -= 1
                err = injected_error(rule["status"], rule.get("reason"),
                                     rule.get("message"))
                ra = rule.get("retry_after")
                if ra is None and rule["status"] in (429, 503):
                    ra = 1
                if ra is not None:
                    err.headers["Retry-After"] = str(ra)
                S.fail_rules = [r for r in S.fail_rules if r["count"] > 0]
                return err
        return None

    def api_call(self, method, path, raw_query, query, headers, raw):
        """One Calendar API call -> (status, headers, body bytes)."""
        fail = self.take_failure(method, path)
        if fail is not None:
            return fail.status, dict(fail.headers), json_bytes(fail.body())
        sub = path[len("/calendar/v3"):]
        pretty = (qget(query, "prettyPrint") or "").lower() == "true"
        try:
            with self.state.lock:
                status, body, hdrs = self.api.dispatch(method, sub, query,
                                                       headers, raw)
        except ApiError as e:
            return e.status, dict(e.headers), json_bytes(e.body(), pretty)
        except RawError as e:
            return e.status, dict(e.headers), json_bytes(e.body, pretty)
        if body is None:
            return status, hdrs, b""
        return status, hdrs, json_bytes(body, pretty)

    def batch(self, headers, raw_query, raw):
        """POST /batch/calendar/v3 (Send batch requests guide)."""
        ctype = headers.get("Content-Type") or ""
        m = re.search(r'boundary="?([^";]+)"?', ctype)
        if not ctype.lower().startswith("multipart/mixed") or not m:
            return Handler.error_response(bad_request(
                "Batch requests must use Content-Type multipart/mixed with a "
                "boundary.", reason="badRequest"))
        parts = parse_multipart(raw, m.group(1))
        if not parts:
            return Handler.error_response(bad_request(
                "The batch request contains no parts.", reason="badRequest"))
        limit = self.state.opts.max_batch_calls
        if len(parts) > limit:
            return Handler.error_response(bad_request(
                "A batch request cannot contain more than %d calls." % limit,
                reason="batchSizeTooLarge"))
        outer = {k: v for k, v in headers.items()
                 if not k.lower().startswith("content-") and
                 k.lower() not in ("host", "connection", "transfer-encoding",
                                   "accept-encoding")}
        boundary = "batch_" + secrets.token_hex(12)
        out = []
        for part in parts:
            phead, pbody = split_head_body(part)
            ph = parse_headers(phead.decode("utf-8", "replace"))
            cid = ph.get("content-id")
            status, rhdrs, rbody = self.batch_part(ph, pbody, outer,
                                                   raw_query)
            lines = ["--" + boundary, "Content-Type: application/http"]
            if cid:
                inner = cid.strip()
                if inner.startswith("<") and inner.endswith(">"):
                    rcid = "<response-" + inner[1:-1] + ">"
                else:
                    rcid = "response-" + inner
                lines.append("Content-ID: " + rcid)
            lines.append("")
            lines.append("HTTP/1.1 %d %s" % (status, REASONS.get(status, "")))
            for k, v in rhdrs.items():
                lines.append("%s: %s" % (k, v))
            if rbody:
                lines.append("Content-Type: application/json; charset=UTF-8")
            lines.append("Content-Length: %d" % len(rbody))
            lines.append("")
            out.append("\r\n".join(lines).encode() + b"\r\n" + rbody + b"\r\n")
        payload = b"".join(out) + ("--%s--\r\n" % boundary).encode()
        return 200, {"Vary": "Origin, X-Origin"}, payload, \
            "multipart/mixed; boundary=" + boundary

    def batch_part(self, ph, pbody, outer, raw_query):
        S = self.state
        if (ph.get("content-type") or "").split(";")[0].strip().lower() != \
                "application/http":
            err = bad_request("Each part of a batch request must have "
                              "Content-Type: application/http.",
                              reason="badRequest")
            return err.status, {}, json_bytes(err.body())
        ihead, ibody = split_head_body(pbody)
        text = ihead.decode("utf-8", "replace").replace("\r\n", "\n")
        first, _, rest = text.lstrip("\n").partition("\n")
        bits = first.split()
        if len(bits) < 2:
            err = bad_request("Invalid batch part.", reason="badRequest")
            return err.status, {}, json_bytes(err.body())
        method, target = bits[0].upper(), bits[1]
        ih = parse_headers(rest)
        hdrs = {k: v for k, v in outer.items()}
        for k, v in ih.items():
            # the part's own header wins over the outer request's
            for ok in list(hdrs):
                if ok.lower() == k:
                    del hdrs[ok]
            hdrs[k] = v
        hdrs = CaseDict(hdrs)
        if "content-length" in ih:
            try:
                ibody = ibody[:int(ih["content-length"])]
            except ValueError:
                pass
        split = urllib.parse.urlsplit(target)
        if split.scheme or split.netloc:
            err = bad_request("Full URLs are not allowed in batch requests; "
                              "use the path only.", reason="badRequest")
            res = (err.status, {}, json_bytes(err.body()))
        elif not split.path.startswith("/calendar/v3/"):
            err = not_found()
            res = (err.status, {}, json_bytes(err.body()))
        else:
            qs = "&".join(x for x in (raw_query, split.query) if x)
            query = urllib.parse.parse_qs(qs, keep_blank_values=True)
            res = self.api_call(method, split.path, qs, query, hdrs, ibody)
        with S.lock:
            S.requests.append({"method": method, "path": split.path,
                               "query": split.query,
                               "params": urllib.parse.parse_qs(
                                   split.query, keep_blank_values=True),
                               "status": res[0], "batch": True})
        return res


# ---------------------------------------------------------------------------
# Test control endpoints (/_fake/...; not Google's, no auth)
# ---------------------------------------------------------------------------

class Control(fake_http.Control):
    bad_input = (KeyError, ValueError, TypeError, ApiError)

    def post_reset(self, body, query):
        self.S.reset()
        return 200, {"ok": True}

    def post_calendars(self, body, query):
        cid = body["id"]
        user = body.get("user", DEFAULT_USER)
        role = body.get("accessRole", "owner")
        if role not in ("owner", "writer", "reader", "freeBusyReader"):
            raise ValueError("bad accessRole")
        tz = body.get("timeZone")
        if tz is not None and get_tz(tz) is None:
            raise ValueError("bad timeZone")
        cal = self.S.add_calendar(cid, body.get("summary"), user, role, tz,
                                  body.get("description"))
        return 200, {"id": cal.id, "summary": cal.summary,
                     "timeZone": cal.time_zone, "user": user,
                     "accessRole": role}

    def post_seed(self, body, query):
        user = body.get("user", DEFAULT_USER)
        cid = body.get("calendarId", "primary")
        if cid == "primary":
            cid = self.S.user_primary.get(user, user)
        cal = self.S.calendars[cid]
        count = int(body["count"])
        start = parse_rfc3339(body.get("start") or
                              "2030-01-01T09:00:00Z")
        if start is None:
            raise ValueError("start must be RFC 3339 with an offset")
        step = float(body.get("intervalMinutes", 60)) * 60
        dur = float(body.get("durationMinutes", 30)) * 60
        prefix = body.get("summary", "Seed event")
        ids = []
        base = start.timestamp()
        for i in range(count):
            seq = self.S.next_seq()
            ts = self.S.next_ts()
            eid = new_event_id()
            s = base + i * step
            res = {"kind": "calendar#event", "etag": etag_for(seq, ts),
                   "id": eid, "status": "confirmed",
                   "htmlLink": html_link(eid, cal.id),
                   "created": rfc3339_ms(ts), "updated": rfc3339_ms(ts),
                   "summary": "%s %d" % (prefix, i + 1),
                   "creator": {"email": user},
                   "organizer": {"email": cal.id, "displayName": cal.summary,
                                 "self": True},
                   "start": {"dateTime": render_dt(s, cal.time_zone)},
                   "end": {"dateTime": render_dt(s + dur, cal.time_zone)},
                   "iCalUID": eid + "@google.com", "sequence": 0,
                   "reminders": {"useDefault": True},
                   "eventType": "default"}
            ev = Ev()
            ev.id, ev.res, ev.seq = eid, res, seq
            ev.start_ts, ev.end_ts, ev.all_day = s, s + dur, False
            ev.rec, ev.kind, ev.master_id, ev.orig_key = None, "single", None, None
            ev.duration, ev.start_date, ev.end_date = dur, None, None
            cal.order.append(eid)
            ev.order = len(cal.order) - 1
            cal.events[eid] = ev
            cal.ical[res["iCalUID"]] = eid
            cal.max_seq = seq
            cal.updated_ts = ts
            ids.append(eid)
        out = {"created": count, "calendarId": cal.id}
        if body.get("returnIds"):
            out["ids"] = ids
        elif ids:
            out["firstId"], out["lastId"] = ids[0], ids[-1]
        return 200, out

    def post_expire_sync_tokens(self, body, query):
        cid = body.get("calendarId")
        for cal in self.S.calendars.values():
            if cid is None or cal.id == cid:
                cal.epoch += 1
        if cid is None:
            self.S.callist_epoch += 1
        return 200, {"ok": True}

    def post_revoke_refresh_tokens(self, body, query):
        user = body.get("user")
        n = 0
        for tok, rec in self.S.refresh_tokens.items():
            if user is None or rec["user"] == user:
                rec["revoked"] = True
                n += 1
        return 200, {"revoked": n}

    def post_fail(self, body, query):
        status = int(body["status"])
        rule = {"status": status, "reason": body.get("reason"),
                "message": body.get("message"),
                "count": int(body.get("count", 1)),
                "retry_after": body.get("retry_after"),
                "method": body.get("method")}
        if body.get("path_contains") is not None:
            rule["path_contains"] = body["path_contains"]
        self.S.fail_rules.append(rule)
        return 200, {"ok": True, "pending": len(self.S.fail_rules)}

    def post_clients(self, body, query):
        cid = body["client_id"]
        self.S.clients[cid] = {
            "client_id": cid, "client_secret": body.get("client_secret", ""),
            "require_pkce": body.get("require_pkce", "S256"
                                     if self.S.opts.require_pkce else False),
            "public": bool(body.get("public", False))}
        if body.get("redirect_uris"):
            self.S.clients[cid]["redirect_uris"] = list(body["redirect_uris"])
        return 200, {"ok": True}

    def post_service_accounts(self, body, query):
        pem = body["public_key_pem"]
        d = tempfile.mkdtemp(prefix="fake_google_sa_")
        path = os.path.join(d, "key.pem")
        with open(path, "w") as f:
            f.write(pem)
        self.S.service_accounts.append((body.get("email"), path))
        return 200, {"ok": True}

    def post_consent(self, body, query):
        self.S.consent = {"deny": bool(body.get("deny", False)),
                          "user": body.get("user"),
                          "scopes": body.get("scopes")}
        return 200, {"ok": True}

    def post_token(self, body, query):
        user = self.S.ensure_user(body.get("user", DEFAULT_USER))
        scopes = body.get("scopes") or [S_CAL]
        tok = self.S.issue_access_token(user, scopes, "_fake")
        return 200, {"access_token": tok,
                     "expires_in": int(self.S.opts.access_token_seconds),
                     "token_type": "Bearer", "scope": " ".join(scopes)}

    def get_events(self, body, query):
        user = qget(query, "user", DEFAULT_USER)
        cid = qget(query, "calendarId", "primary")
        if cid == "primary":
            cid = self.S.user_primary.get(user, user)
        cal = self.S.calendars.get(cid)
        if cal is None:
            return 404, {"error": "no such calendar"}
        return 200, {"calendarId": cal.id,
                     "items": [cal.events[i].res for i in cal.order]}

    def get_state(self, body, query):
        return 200, {
            "calendars": {cid: {"summary": c.summary, "timeZone": c.time_zone,
                                "events": len(c.events), "epoch": c.epoch}
                          for cid, c in self.S.calendars.items()},
            "users": {u: {cid: e["accessRole"] for cid, e in cals.items()}
                      for u, cals in self.S.users.items()},
            "clients": sorted(self.S.clients)}

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
    ap.add_argument("--service-account-public-key", action="append",
                    default=[], metavar="PEM",
                    help="public key (or certificate) PEM for jwt-bearer")
    ap.add_argument("--service-account-email", action="append", default=[],
                    help="iss for the key given at the same position")
    ap.add_argument("--max-batch-calls", type=int, default=1000,
                    help="calls allowed in one batch request (Google's batch "
                         "guide: 1000)")
    ap.add_argument("--no-require-pkce", dest="require_pkce",
                    action="store_false",
                    help="accept authorization requests without PKCE, or with "
                         "the plain method (Google only recommends S256)")
    opts = ap.parse_args(argv)
    opts.service_accounts = []
    for i, path in enumerate(opts.service_account_public_key):
        email = opts.service_account_email[i] \
            if i < len(opts.service_account_email) else None
        opts.service_accounts.append((email, os.path.abspath(path)))
    opts.bound_port = 0

    return fake_http.serve(App, Handler, opts, State(opts), log)


if __name__ == "__main__":
    sys.exit(main())
