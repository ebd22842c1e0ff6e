"""Self-test of fake_graph.py against the examples in Microsoft's documentation.

Run from the repository root:
    python3 -m unittest tests/fakes/graph/test_fake_graph.py

Each test class names the page of Microsoft's documentation whose examples or
rules it checks (README.md lists the pages and their addresses).
"""

import base64
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import zoneinfo

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import fake_client  # noqa: E402  (tests/fakes/fake_client.py)
FAKE = os.path.join(HERE, "fake_graph.py")

USER = "user@example.test"
USER_ID = "7d1e2c3b-4a59-4f60-8e71-92a3b4c5d601"
SHARED = "shared@example.test"
SHARED_ID = "7d1e2c3b-4a59-4f60-8e71-92a3b4c5d602"
TENANT_ID = "5f0c3a6e-8b7d-4c2e-9a41-0d6f2b3c4e5a"
USER_CAL = "AAMkADUser-Default_Calendar-0000000000000000000AAA="
USER_CAL2 = "AAMkADUser-Second_Calendar-00000000000000000000AAA="
SHARED_CAL = "AAMkADShared-Default_Calendar-000000000000000000AAA="
PUBLIC_CLIENT = "tandem-test-client"
APP = "tandem-app"
APP_SECRET = "tandem-app-secret"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
EXT_FUN = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name Fun"


class Fake(fake_client.FakeProcess):
    """The Graph fake as a subprocess on a free loopback port."""
    SCRIPT = FAKE

    def app_token(self):
        return self.control("token", {"app": True})["access_token"]


def q(**params):
    return "?" + urllib.parse.urlencode(params)


def when(day_time, tz="UTC"):
    return {"dateTime": day_time, "timeZone": tz}


def event(subject, start, end, tz="UTC", **fields):
    out = {"subject": subject, "start": when(start, tz),
           "end": when(end, tz)}
    out.update(fields)
    return out


def weekly(days, start_date, end_date=None, interval=1, **pattern):
    rng = {"type": "endDate", "startDate": start_date, "endDate": end_date} \
        if end_date else {"type": "noEnd", "startDate": start_date}
    pat = {"type": "weekly", "interval": interval, "daysOfWeek": days}
    pat.update(pattern)
    return {"pattern": pat, "range": rng}


class FakeCase(fake_client.FakeTestCase):
    FAKE = Fake
    args = ("--device-interval", "0")

    # helpers
    def api(self, method, path, body=None, headers=None, token="default"):
        if token == "default":
            token = self.tok
        if not path.startswith("http"):
            path = "/v1.0" + path
        return self.fake.call(method, path, body, headers, token)

    def create(self, body, path="/me/events", headers=None, token="default"):
        status, _, ev = self.api("POST", path, body, headers, token)
        self.assertEqual(status, 201, ev)
        return ev

    def error_code(self, resp, status):
        s, _, body = resp
        self.assertEqual(s, status, body)
        self.assertEqual(set(body), {"error"})
        self.assertEqual(set(body["error"]), {"code", "message",
                                              "innerError"})
        return body["error"]["code"]

    def delta_round(self, first, headers=None):
        """Follows nextLinks; returns (items, deltaLink, pages)."""
        items, pages, link = [], [], first
        while True:
            status, _, page = self.api("GET", link, headers=headers)
            self.assertEqual(status, 200, page)
            pages.append(page)
            items += page["value"]
            if "@odata.deltaLink" in page:
                self.assertNotIn("@odata.nextLink", page)
                return items, page["@odata.deltaLink"], pages
            link = page["@odata.nextLink"]

    def view(self, start, end, path="/me/calendarView", headers=None,
             extra=""):
        status, _, page = self.api("GET", path + q(
            startDateTime=start, endDateTime=end) + extra + "&$top=1000",
            headers=headers)
        self.assertEqual(status, 200, page)
        return page["value"]


# ---------------------------------------------------------------------------
# Microsoft Graph error responses and resource types
# https://learn.microsoft.com/en-us/graph/errors
# ---------------------------------------------------------------------------

class ErrorShapes(FakeCase):

    def test_error_body_shape_and_request_ids(self):
        s, h, body = self.api("GET", "/me/events/AAMkAnosuchevent=",
                              headers={"client-request-id": "my-id-1"})
        self.assertEqual(s, 404)
        self.assertEqual(body["error"]["code"], "ErrorItemNotFound")
        inner = body["error"]["innerError"]
        self.assertEqual(inner["client-request-id"], "my-id-1")
        self.assertRegex(inner["request-id"], r"^[0-9a-f-]{36}$")
        self.assertRegex(inner["date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
        self.assertEqual(h["client-request-id"], "my-id-1")
        self.assertEqual(h["request-id"], inner["request-id"])

    def test_401_invalid_authentication_token(self):
        for token in (None, "not-a-token"):
            resp = self.api("GET", "/me/calendars", token=token)
            self.assertEqual(self.error_code(resp, 401),
                             "InvalidAuthenticationToken")
            self.assertIn("Bearer", resp[1]["www-authenticate"])
        self.fake.control("expire_access_tokens")
        self.assertEqual(self.error_code(self.api("GET", "/me/calendars"),
                                         401), "InvalidAuthenticationToken")

    def test_400_for_bad_json_unknown_properties_and_values(self):
        s, _, body = self.api("POST", "/v1.0/me/events", b"{not json",
                              {"Content-Type": "application/json"})
        self.assertEqual(s, 400)
        self.assertEqual(body["error"]["code"], "BadRequest")
        base = event("x", "2024-05-01T10:00:00", "2024-05-01T11:00:00")
        for bad in ({"summary": "google's name"}, {"showAs": "away"},
                    {"sensitivity": 3}, {"isReminderOn": "yes"},
                    {"start": {"dateTime": "tomorrow", "timeZone": "UTC"}}):
            body = dict(base)
            body.update(bad)
            self.assertEqual(self.error_code(self.api("POST", "/me/events",
                                                      body), 400),
                             "BadRequest", bad)
        no_end = {"subject": "x", "start": when("2024-05-01T10:00:00")}
        self.assertEqual(self.error_code(self.api("POST", "/me/events",
                                                  no_end), 400),
                         "ErrorInvalidRequest")
        backwards = event("x", "2024-05-01T10:00:00", "2024-05-01T09:00:00")
        self.assertEqual(self.error_code(self.api("POST", "/me/events",
                                                  backwards), 400),
                         "ErrorInvalidRequest")

    def test_412_on_a_stale_if_match(self):
        ev = self.create(event("v1", "2024-05-01T10:00:00",
                               "2024-05-01T11:00:00"))
        s, _, ev2 = self.api("PATCH", "/me/events/" + ev["id"],
                             {"subject": "v2"},
                             {"If-Match": ev["@odata.etag"]})
        self.assertEqual(s, 200, ev2)
        self.assertNotEqual(ev["@odata.etag"], ev2["@odata.etag"])
        self.assertNotEqual(ev["changeKey"], ev2["changeKey"])
        self.assertEqual(ev2["@odata.etag"], 'W/"%s"' % ev2["changeKey"])
        for method, body in (("PATCH", {"subject": "v3"}), ("DELETE", None)):
            resp = self.api(method, "/me/events/" + ev["id"], body,
                            {"If-Match": ev["@odata.etag"]})
            self.assertEqual(self.error_code(resp, 412),
                             "ErrorIrresolvableConflict")
        s, _, _ = self.api("PATCH", "/me/events/" + ev["id"],
                           {"subject": "v3"}, {"If-Match": "*"})
        self.assertEqual(s, 200)
        s, _, body = self.api("DELETE", "/me/events/" + ev["id"])
        self.assertEqual((s, body), (204, None))
        self.assertEqual(self.error_code(self.api(
            "DELETE", "/me/events/" + ev["id"]), 404), "ErrorItemNotFound")

    def test_injected_failures_429_503_500(self):
        f = self.fake
        f.control("fail", {"status": 429})
        resp = self.api("GET", "/me/calendars")
        self.assertEqual(self.error_code(resp, 429), "TooManyRequests")
        self.assertEqual(resp[1]["retry-after"], "1")
        inner = resp[2]["error"]["innerError"]
        self.assertEqual((inner["code"], inner["status"]), ("429", "429"))
        self.assertEqual(self.api("GET", "/me/calendars")[0], 200,
                         "count 1 fails exactly one call")
        f.control("fail", {"status": 503, "retry_after": 7, "count": 2})
        for _ in range(2):
            resp = self.api("GET", "/me/calendars")
            self.assertEqual(self.error_code(resp, 503),
                             "serviceNotAvailable")
            self.assertEqual(resp[1]["retry-after"], "7")
        f.control("fail", {"status": 500, "path_contains": "/events",
                           "method": "POST"})
        self.assertEqual(self.api("GET", "/me/calendars")[0], 200)
        self.assertEqual(self.api("GET", "/me/events")[0], 200)
        self.assertEqual(self.error_code(self.api(
            "POST", "/me/events", event("x", "2024-05-01T10:00:00",
                                        "2024-05-01T11:00:00")), 500),
            "generalException")
        f.control("fail", {"status": 409, "code": "ErrorSomething",
                           "count": 5})
        self.assertEqual(len(f.get("fail")["rules"]), 1)
        f.control("clear_fail")
        self.assertEqual(self.api("GET", "/me/calendars")[0], 200)


# ---------------------------------------------------------------------------
# Microsoft Graph throttling guidance (sample response) and service limits
# (Outlook: 4 concurrent requests per app and mailbox)
# https://learn.microsoft.com/en-us/graph/throttling
# https://learn.microsoft.com/en-us/graph/throttling-limits
# ---------------------------------------------------------------------------

class MailboxConcurrency(FakeCase):

    def parallel(self, calls):
        results = [None] * len(calls)

        def run(i, fn):
            results[i] = fn()
        threads = [threading.Thread(target=run, args=(i, fn))
                   for i, fn in enumerate(calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def test_fifth_concurrent_request_to_a_mailbox_is_throttled(self):
        f = self.fake
        f.control("latency", {"ms": 400})
        app = f.app_token()
        calls = [lambda: self.api("GET", "/me/calendars")] * 5 + \
            [lambda: self.api("GET", "/users/%s/calendars" % SHARED,
                              token=app)] * 2
        results = self.parallel(calls)
        mine = sorted(r[0] for r in results[:5])
        self.assertEqual(mine, [200, 200, 200, 200, 429])
        throttled = [r for r in results[:5] if r[0] == 429][0]
        self.assertEqual(throttled[2]["error"]["code"], "ApplicationThrottled")
        self.assertIn("MailboxConcurrency", throttled[2]["error"]["message"])
        self.assertEqual(throttled[1]["retry-after"], "1")
        self.assertEqual([r[0] for r in results[5:]], [200, 200],
                         "another mailbox has its own limit")
        stats = f.get("stats")
        self.assertEqual(stats["peak_concurrency"][USER], 4)
        self.assertEqual(stats["peak_concurrency"][SHARED], 2)
        self.assertEqual(stats["throttled"], {USER: 1})
        self.assertEqual(stats["concurrency_limit"], 4)

    def test_limit_can_be_changed_and_stats_cleared(self):
        f = self.fake
        f.control("latency", {"ms": 300})
        f.control("concurrency", {"limit": 2, "retry_after": 3})
        results = self.parallel([lambda: self.api("GET", "/me/calendar")] * 3)
        self.assertEqual(sorted(r[0] for r in results), [200, 200, 429])
        self.assertEqual([r[1]["retry-after"] for r in results
                          if r[0] == 429], ["3"])
        f.control("clear_stats")
        self.assertEqual(f.get("stats")["peak_concurrency"], {})
        f.control("concurrency", {"limit": 0})
        results = self.parallel([lambda: self.api("GET", "/me/calendar")] * 6)
        self.assertEqual([r[0] for r in results], [200] * 6)
        self.assertEqual(f.get("stats")["peak_concurrency"][USER], 6)


# ---------------------------------------------------------------------------
# List calendars, calendar resource type, Get calendar, Create calendar
# https://learn.microsoft.com/en-us/graph/api/user-list-calendars
# https://learn.microsoft.com/en-us/graph/api/resources/calendar
# ---------------------------------------------------------------------------

class Calendars(FakeCase):

    def test_list_calendars_like_the_example(self):
        s, _, body = self.api("GET", "/me/calendars")
        self.assertEqual(s, 200, body)
        self.assertTrue(body["@odata.context"].endswith(
            "/v1.0/$metadata#users('%s')/calendars" % USER_ID))
        cals = body["value"]
        self.assertEqual([c["id"] for c in cals], [USER_CAL, USER_CAL2])
        first = cals[0]
        for key in ("@odata.id", "id", "name", "color", "changeKey",
                    "canShare", "canViewPrivateItems", "hexColor", "canEdit",
                    "allowedOnlineMeetingProviders",
                    "defaultOnlineMeetingProvider", "isTallyingResponses",
                    "isRemovable", "owner", "isDefaultCalendar"):
            self.assertIn(key, first)
        self.assertEqual(first["name"], "Calendar")
        self.assertTrue(first["isDefaultCalendar"])
        self.assertFalse(first["isRemovable"])
        self.assertEqual(first["owner"], {"name": "Test User",
                                          "address": USER})
        self.assertEqual(cals[1]["name"], "Tandem")
        self.assertFalse(cals[1]["isDefaultCalendar"])

    def test_default_calendar_alias_get_and_users_forms(self):
        s, _, cal = self.api("GET", "/me/calendar")
        self.assertEqual((s, cal["id"]), (200, USER_CAL))
        s, _, cal = self.api("GET", "/me/calendars/" + USER_CAL2)
        self.assertEqual((s, cal["name"]), (200, "Tandem"))
        for who in (USER, USER_ID, USER.upper()):
            s, _, body = self.api("GET", "/users/%s/calendars" % who)
            self.assertEqual(s, 200, body)
            self.assertEqual(len(body["value"]), 2)
        s, _, me = self.api("GET", "/me")
        self.assertEqual((me["id"], me["userPrincipalName"]), (USER_ID, USER))
        self.assertEqual(self.error_code(self.api(
            "GET", "/me/calendars/AAMkAnotacalendar="), 404),
            "ErrorItemNotFound")
        self.assertEqual(self.error_code(self.api(
            "GET", "/users/nobody@example.test/calendars"), 404),
            "ErrorInvalidUser")

    def test_create_calendar(self):
        s, _, cal = self.api("POST", "/me/calendars", {"name": "Volunteer"})
        self.assertEqual(s, 201, cal)
        self.assertEqual(cal["name"], "Volunteer")
        self.assertEqual(len(self.api("GET", "/me/calendars")[2]["value"]), 3)
        self.assertEqual(self.error_code(self.api(
            "POST", "/me/calendars", {"name": "volunteer"}), 409),
            "ErrorFolderExists")
        ev = self.create(event("in new calendar", "2024-05-01T10:00:00",
                               "2024-05-01T11:00:00"),
                         "/me/calendars/%s/events" % cal["id"])
        s, _, got = self.api("GET", "/me/calendars/%s/events/%s"
                             % (cal["id"], ev["id"]))
        self.assertEqual(s, 200)
        self.assertEqual(self.api("GET", "/me/calendars/%s/events/%s"
                                  % (USER_CAL, ev["id"]))[0], 404,
                         "the event is in the other calendar")
        self.assertEqual(self.api("GET", "/me/events/" + ev["id"])[0], 200,
                         "/me/events/{id} reaches every calendar")


# ---------------------------------------------------------------------------
# Create event (examples 1 and 3), event resource type, Get event, Update
# event, Delete event
# https://learn.microsoft.com/en-us/graph/api/user-post-events
# https://learn.microsoft.com/en-us/graph/api/resources/event
# https://learn.microsoft.com/en-us/graph/api/event-get
# https://learn.microsoft.com/en-us/graph/api/event-update
# https://learn.microsoft.com/en-us/graph/api/event-delete
# ---------------------------------------------------------------------------

CREATE_EXAMPLE_1 = {
    "subject": "Let's go for lunch",
    "body": {"contentType": "HTML",
             "content": "Does late morning work for you?"},
    "start": {"dateTime": "2017-04-15T12:00:00",
              "timeZone": "Pacific Standard Time"},
    "end": {"dateTime": "2017-04-15T14:00:00",
            "timeZone": "Pacific Standard Time"},
    "location": {"displayName": "Harry's Bar"},
    "attendees": [{"emailAddress": {"address": "samanthab@contoso.test",
                                    "name": "Samantha Booth"},
                   "type": "required"}],
}

CREATE_EXAMPLE_3 = {
    "subject": "Let's go for lunch",
    "body": {"contentType": "HTML", "content": "Does noon time work for you?"},
    "start": {"dateTime": "2017-09-04T12:00:00",
              "timeZone": "Pacific Standard Time"},
    "end": {"dateTime": "2017-09-04T14:00:00",
            "timeZone": "Pacific Standard Time"},
    "recurrence": {
        "pattern": {"type": "weekly", "interval": 1,
                    "daysOfWeek": ["Monday"]},
        "range": {"type": "endDate", "startDate": "2017-09-04",
                  "endDate": "2017-12-31"}},
    "location": {"displayName": "Harry's Bar"},
    "attendees": [{"emailAddress": {"address": "AdeleV@contoso.test",
                                    "name": "Adele Vance"},
                   "type": "required"}],
}


class Events(FakeCase):

    def test_create_example_1_with_prefer_time_zone(self):
        s, h, ev = self.api("POST", "/me/events", CREATE_EXAMPLE_1,
                            {"Prefer": 'outlook.timezone="Pacific Standard '
                                       'Time"'})
        self.assertEqual(s, 201, ev)
        self.assertTrue(ev["@odata.context"].endswith(
            "$metadata#users('%s')/events/$entity" % USER_ID))
        self.assertRegex(ev["@odata.etag"], r'^W/".+"$')
        self.assertEqual(ev["originalStartTimeZone"], "Pacific Standard Time")
        self.assertEqual(ev["originalEndTimeZone"], "Pacific Standard Time")
        self.assertEqual(ev["start"], {"dateTime": "2017-04-15T12:00:00.0000000",
                                       "timeZone": "Pacific Standard Time"})
        self.assertEqual(ev["end"], {"dateTime": "2017-04-15T14:00:00.0000000",
                                     "timeZone": "Pacific Standard Time"})
        expected = {"reminderMinutesBeforeStart": 15, "isReminderOn": True,
                    "hasAttachments": False, "importance": "normal",
                    "sensitivity": "normal", "isAllDay": False,
                    "isCancelled": False, "isOrganizer": True,
                    "responseRequested": True, "seriesMasterId": None,
                    "showAs": "busy", "type": "singleInstance",
                    "onlineMeetingUrl": None, "recurrence": None,
                    "categories": [],
                    "bodyPreview": "Does late morning work for you?",
                    "responseStatus": {"response": "organizer",
                                       "time": "0001-01-01T00:00:00Z"},
                    "organizer": {"emailAddress": {"name": "Test User",
                                                   "address": USER}}}
        for k, v in expected.items():
            self.assertEqual(ev[k], v, k)
        self.assertEqual(ev["body"]["contentType"], "html")
        self.assertIn("<html>", ev["body"]["content"])
        self.assertIn("Does late morning work for you?",
                      ev["body"]["content"])
        self.assertEqual(ev["location"]["displayName"], "Harry's Bar")
        self.assertEqual(ev["location"]["uniqueIdType"], "private")
        self.assertEqual(ev["locations"][0]["displayName"], "Harry's Bar")
        self.assertEqual(ev["attendees"], [{
            "type": "required",
            "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            "emailAddress": {"name": "Samantha Booth",
                             "address": "samanthab@contoso.test"}}])
        self.assertEqual(ev["webLink"],
                         "https://outlook.office365.com/owa/?itemid=%s&exvsurl"
                         "=1&path=/calendar/item"
                         % urllib.parse.quote(ev["id"], safe=""))
        self.assertRegex(ev["createdDateTime"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
        self.assertRegex(ev["iCalUId"], r"^040000008200E00074C5B7101A82E008")
        # without the Prefer header the times come back in UTC
        s, h, got = self.api("GET", "/me/events/" + ev["id"])
        self.assertEqual(got["start"], {"dateTime": "2017-04-15T19:00:00.0000000",
                                        "timeZone": "UTC"})
        self.assertNotIn("preference-applied", h)

    def test_create_example_3_a_weekly_series(self):
        ev = self.create(CREATE_EXAMPLE_3)
        self.assertEqual(ev["type"], "seriesMaster")
        self.assertEqual(ev["recurrence"], {
            "pattern": {"type": "weekly", "interval": 1, "month": 0,
                        "dayOfMonth": 0, "daysOfWeek": ["monday"],
                        "firstDayOfWeek": "sunday", "index": "first"},
            "range": {"type": "endDate", "startDate": "2017-09-04",
                      "endDate": "2017-12-31",
                      "recurrenceTimeZone": "Pacific Standard Time",
                      "numberOfOccurrences": 0}})
        items = self.view("2017-09-01T00:00:00Z", "2018-01-01T00:00:00Z")
        self.assertEqual(len(items), 17, "the Mondays of Sep 4..Dec 25")
        self.assertTrue(all(i["type"] == "occurrence" and
                            i["seriesMasterId"] == ev["id"] for i in items))
        # noon in Los Angeles both sides of the change from PDT to PST
        self.assertEqual(items[0]["start"]["dateTime"],
                         "2017-09-04T19:00:00.0000000")
        self.assertEqual(items[9]["start"]["dateTime"],
                         "2017-11-06T20:00:00.0000000")
        self.assertEqual(len({i["iCalUId"] for i in items}), 17,
                         "iCalUId differs for each occurrence")

    def test_get_event_prefer_headers(self):
        ev = self.create(event("Touchpoint", "2014-11-03T17:00:00",
                               "2014-11-03T17:30:00",
                               body={"contentType": "html",
                                     "content": "<p>New <b>Product</b></p>"
                                                "<p>Regulations</p>"}))
        s, h, got = self.api("GET", "/me/events/" + ev["id"], headers={
            "Prefer": 'outlook.timezone="Eastern Standard Time", '
                      'outlook.body-content-type="text"'})
        self.assertEqual(s, 200)
        self.assertEqual(got["start"], {"dateTime": "2014-11-03T12:00:00.0000000",
                                        "timeZone": "Eastern Standard Time"})
        self.assertEqual(got["body"], {"contentType": "text",
                                       "content": "New Product\r\n\r\n"
                                                  "Regulations"})
        self.assertIn('outlook.timezone="Eastern Standard Time"',
                      h["preference-applied"])
        self.assertIn('outlook.body-content-type="text"',
                      h["preference-applied"])
        s, _, html_ = self.api("GET", "/me/events/" + ev["id"])
        self.assertEqual(html_["body"]["contentType"], "html",
                         "the stored HTML is kept")
        self.assertIn("<b>Product</b>", html_["body"]["content"])

    def test_text_bodies_and_select(self):
        ev = self.create(event("t", "2024-05-01T10:00:00",
                               "2024-05-01T11:00:00",
                               body={"contentType": "text",
                                     "content": "line 1\nline <2> & 3"}))
        self.assertEqual(ev["body"]["contentType"], "html")
        self.assertIn("line &lt;2&gt; &amp; 3", ev["body"]["content"])
        s, _, got = self.api("GET", "/me/events/%s?$select=subject,body"
                             % ev["id"], headers={
                                 "Prefer": 'outlook.body-content-type="text"'})
        self.assertEqual(set(got), {"@odata.context", "@odata.etag", "id",
                                    "subject", "body"})
        self.assertEqual(got["body"]["content"], "line 1\r\nline <2> & 3")
        self.assertIn("/events(subject,body)/$entity", got["@odata.context"])
        resp = self.api("GET", "/me/events/%s?$select=summary" % ev["id"])
        self.assertEqual(self.error_code(resp, 400), "BadRequest")

    def test_update_and_enumerations(self):
        ev = self.create(event("x", "2024-05-01T10:00:00",
                               "2024-05-01T11:00:00"))
        s, _, up = self.api("PATCH", "/me/events/" + ev["id"], {
            "reminderMinutesBeforeStart": 99, "isReminderOn": True,
            "categories": ["Red category"], "showAs": "WorkingElsewhere",
            "sensitivity": "Private", "importance": "high",
            "hideAttendees": False, "recurrence": None,
            "id": "ignored (read-only)", "iCalUId": "ignored"})
        self.assertEqual(s, 200, up)
        self.assertEqual((up["reminderMinutesBeforeStart"], up["categories"],
                          up["showAs"], up["sensitivity"], up["importance"]),
                         (99, ["Red category"], "workingElsewhere", "private",
                          "high"))
        self.assertEqual(up["id"], ev["id"])
        self.assertEqual(up["iCalUId"], ev["iCalUId"])
        self.assertEqual(up["subject"], "x", "PATCH keeps other fields")
        for show in ("free", "tentative", "busy", "oof", "unknown"):
            s, _, up = self.api("PATCH", "/me/events/" + ev["id"],
                                {"showAs": show})
            self.assertEqual(up["showAs"], show)
        s, _, moved = self.api("PATCH", "/me/calendars/%s/events/%s"
                               % (USER_CAL, ev["id"]), {
                                   "start": when("2024-05-02T08:00:00",
                                                 "W. Europe Standard Time"),
                                   "end": when("2024-05-02T09:00:00",
                                               "W. Europe Standard Time")})
        self.assertEqual(moved["start"]["dateTime"],
                         "2024-05-02T06:00:00.0000000")
        self.assertEqual(moved["originalStartTimeZone"],
                         "W. Europe Standard Time")

    def test_all_day_events(self):
        bad = [event("a", "2024-05-01T09:00:00", "2024-05-02T00:00:00",
                     isAllDay=True),
               event("a", "2024-05-01T00:00:00", "2024-05-01T00:00:00",
                     isAllDay=True),
               {"subject": "a", "isAllDay": True,
                "start": when("2024-05-01T00:00:00", "UTC"),
                "end": when("2024-05-02T00:00:00", "Tokyo Standard Time")}]
        for body in bad:
            self.assertEqual(self.error_code(self.api("POST", "/me/events",
                                                      body), 400),
                             "ErrorInvalidRequest")
        ev = self.create(event("holiday", "2024-05-01T00:00:00",
                               "2024-05-03T00:00:00",
                               tz="Tokyo Standard Time", isAllDay=True))
        self.assertTrue(ev["isAllDay"])
        self.assertEqual(ev["start"]["dateTime"], "2024-05-01T00:00:00.0000000")
        self.assertEqual(ev["end"]["dateTime"], "2024-05-03T00:00:00.0000000")
        items = self.view("2024-04-30T12:00:00Z", "2024-05-01T00:00:00Z")
        self.assertEqual([i["subject"] for i in items], ["holiday"],
                         "the days are Tokyo days (start 15:00 UTC)")

    def test_transaction_id_makes_a_retried_post_idempotent(self):
        body = event("once", "2024-05-01T10:00:00", "2024-05-01T11:00:00",
                     transactionId="tandem-activity-42")
        a = self.create(body)
        b = self.create(body)
        self.assertEqual(a["id"], b["id"])
        self.assertEqual(a["transactionId"], "tandem-activity-42")
        self.assertEqual(len(self.api("GET", "/me/events")[2]["value"]), 1)
        resp = self.api("PATCH", "/me/events/" + a["id"],
                        {"transactionId": "other"})
        self.assertEqual(self.error_code(resp, 400), "ErrorInvalidRequest")

    def test_list_events_pages_with_top_and_skip(self):
        self.fake.control("seed", {"count": 25})
        s, _, page = self.api("GET", "/me/events")
        self.assertEqual(len(page["value"]), 10, "default page size")
        nxt = page["@odata.nextLink"]
        self.assertIn("$skip=10", nxt)
        seen = [e["id"] for e in page["value"]]
        while nxt:
            s, _, page = self.api("GET", nxt)
            seen += [e["id"] for e in page["value"]]
            nxt = page.get("@odata.nextLink")
        self.assertEqual(len(set(seen)), 25)
        s, _, page = self.api("GET", "/me/events?$top=7&$orderby=start/"
                                     "dateTime%20desc")
        self.assertEqual(len(page["value"]), 7)
        self.assertEqual(page["value"][0]["subject"], "Seed event 25")
        self.assertIn("$top=7", page["@odata.nextLink"])
        s, h, page = self.api("GET", "/me/events", headers={
            "Prefer": "odata.maxpagesize=3"})
        self.assertEqual(len(page["value"]), 3)
        self.assertIn("odata.maxpagesize=3", h["preference-applied"])
        self.assertEqual(self.error_code(self.api("GET", "/me/events?$top=0"),
                                         400), "BadRequest")


# ---------------------------------------------------------------------------
# dateTimeTimeZone resource type (Windows and IANA names), Prefer:
# outlook.timezone
# https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone
# ---------------------------------------------------------------------------

class TimeZones(FakeCase):

    ZONES = {"Pacific Standard Time": "America/Los_Angeles",
             "W. Europe Standard Time": "Europe/Berlin",
             "Eastern Standard Time": "America/New_York",
             "GMT Standard Time": "Europe/London",
             "Romance Standard Time": "Europe/Paris",
             "Tokyo Standard Time": "Asia/Tokyo",
             "India Standard Time": "Asia/Kolkata",
             "AUS Eastern Standard Time": "Australia/Sydney"}

    def test_windows_names_render_like_their_iana_zones(self):
        ev = self.create(event("tz", "2024-07-01T12:00:00",
                               "2024-07-01T13:00:00"))
        utc = dt.datetime(2024, 7, 1, 12, tzinfo=dt.timezone.utc)
        for win, iana in self.ZONES.items():
            for name in (win, iana):
                s, h, got = self.api("GET", "/me/events/" + ev["id"], headers={
                    "Prefer": 'outlook.timezone="%s"' % name})
                self.assertEqual(s, 200, got)
                want = utc.astimezone(zoneinfo.ZoneInfo(iana)).strftime(
                    "%Y-%m-%dT%H:%M:%S.0000000")
                self.assertEqual(got["start"], {"dateTime": want,
                                                "timeZone": name})

    def test_input_in_windows_or_iana_names(self):
        a = self.create(event("a", "2024-01-15T09:00:00",
                              "2024-01-15T10:00:00",
                              tz="India Standard Time"))
        b = self.create(event("b", "2024-01-15T09:00:00",
                              "2024-01-15T10:00:00", tz="Asia/Kolkata"))
        self.assertEqual(a["start"]["dateTime"], "2024-01-15T03:30:00.0000000")
        self.assertEqual(b["start"], a["start"])
        self.assertEqual(b["originalStartTimeZone"], "Asia/Kolkata")
        resp = self.api("POST", "/me/events", event(
            "c", "2024-01-15T09:00:00", "2024-01-15T10:00:00",
            tz="Mars Standard Time"))
        self.assertEqual(self.error_code(resp, 400),
                         "TimeZoneNotSupportedException")
        resp = self.api("GET", "/me/events/" + a["id"], headers={
            "Prefer": 'outlook.timezone="Nowhere/Else"'})
        self.assertEqual(self.error_code(resp, 400),
                         "TimeZoneNotSupportedException")


# ---------------------------------------------------------------------------
# List calendarView: startDateTime/endDateTime keep their offsets
# https://learn.microsoft.com/en-us/graph/api/calendar-list-calendarview
# ---------------------------------------------------------------------------

class CalendarView(FakeCase):

    def test_the_example_window_uses_its_offsets(self):
        self.create(event("inside", "2017-01-02T03:30:00",
                          "2017-01-02T04:00:00"))
        self.create(event("before", "2017-01-02T02:30:00",
                          "2017-01-02T02:45:00"))
        s, _, page = self.api("GET", "/me/calendar/calendarView?startDateTime="
                                     "2017-01-01T19:00:00-08:00&endDateTime="
                                     "2017-01-07T19:00:00-08:00")
        self.assertEqual(s, 200, page)
        self.assertEqual([e["subject"] for e in page["value"]], ["inside"])
        items = self.view("2017-01-02T02:00:00", "2017-01-02T03:00:00")
        self.assertEqual([e["subject"] for e in items], ["before"],
                         "no offset: UTC")
        resp = self.api("GET", "/me/calendarView")
        self.assertEqual(self.error_code(resp, 400), "ErrorInvalidParameter")

    def test_view_pages_and_calendar_forms(self):
        self.fake.control("seed", {"count": 15, "start": "2024-01-01T08:00:00Z",
                                   "calendarId": USER_CAL2})
        path = "/me/calendars/%s/calendarView" % USER_CAL2
        s, _, page = self.api("GET", path + q(
            startDateTime="2024-01-01T00:00:00Z",
            endDateTime="2024-01-02T00:00:00Z"))
        self.assertEqual(len(page["value"]), 10)
        self.assertIn("startDateTime=", page["@odata.nextLink"])
        s, _, rest = self.api("GET", page["@odata.nextLink"])
        self.assertEqual(len(rest["value"]), 5)
        self.assertNotIn("@odata.nextLink", rest)
        self.assertEqual(self.view("2024-01-01T00:00:00Z",
                                   "2024-01-02T00:00:00Z"), [],
                         "the default calendar holds none of them")


# ---------------------------------------------------------------------------
# Outlook extended properties: Create single-value extended property, Get
# singleValueLegacyExtendedProperty ($expand and $filter)
# https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties
# https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get
# ---------------------------------------------------------------------------

class ExtendedProperties(FakeCase):

    def test_the_create_example_and_expand(self):
        body = {
            "subject": "Celebrate Thanksgiving",
            "body": {"contentType": "HTML", "content": "Let's get together!"},
            "start": {"dateTime": "2015-11-26T18:00:00",
                      "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2015-11-26T23:00:00",
                    "timeZone": "Pacific Standard Time"},
            "attendees": [{"emailAddress": {"address": "Terrie@contoso.test",
                                            "name": "Terrie Barrera"},
                           "type": "Required"}],
            "singleValueExtendedProperties": [
                {"id": EXT_FUN, "value": "Food"}]}
        ev = self.create(body)
        self.assertNotIn("singleValueExtendedProperties", ev,
                         "the response leaves the new property out")
        expand = "$expand=singleValueExtendedProperties($filter=id%20eq%20'" + \
            urllib.parse.quote(EXT_FUN) + "')"
        s, _, got = self.api("GET", "/me/events/%s?%s" % (ev["id"], expand))
        self.assertEqual(s, 200, got)
        self.assertEqual(got["singleValueExtendedProperties"],
                         [{"id": EXT_FUN, "value": "Food"}])
        other = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name fun"
        s, _, got = self.api("GET", "/me/events/%s?%s" % (ev["id"], q(
            **{"$expand": "singleValueExtendedProperties($filter=id eq '%s')"
                          % other})[1:]))
        self.assertNotIn("singleValueExtendedProperties", got,
                         "the Name part is case-sensitive")
        # a PATCH adds or replaces extended properties by id
        color = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color"
        s, _, _ = self.api("PATCH", "/me/events/" + ev["id"], {
            "singleValueExtendedProperties": [
                {"id": color, "value": "Green"},
                {"id": EXT_FUN.replace("66f5a359", "66F5A359"),
                 "value": "Pie"}]})
        s, _, got = self.api("GET", "/me/events/%s?%s" % (ev["id"], q(
            **{"$expand": "singleValueExtendedProperties($filter=id eq '%s' "
                          "or id eq '%s')" % (EXT_FUN, color)})[1:]))
        self.assertEqual(sorted(p["value"] for p in
                                got["singleValueExtendedProperties"]),
                         ["Green", "Pie"])

    def test_filter_and_errors(self):
        for i, v in enumerate(("tandem-1", "tandem-2", "other")):
            self.create(event("e%d" % i, "2024-05-01T10:00:00",
                              "2024-05-01T11:00:00",
                              singleValueExtendedProperties=[
                                  {"id": EXT_FUN, "value": v}]))
        self.create(event("plain", "2024-05-01T10:00:00",
                          "2024-05-01T11:00:00"))

        def subjects(flt):
            s, _, page = self.api("GET", "/me/events" + q(**{"$filter": flt}))
            self.assertEqual(s, 200, page)
            return sorted(e["subject"] for e in page["value"])
        self.assertEqual(subjects(
            "singleValueExtendedProperties/Any(ep: ep/id eq '%s' and "
            "ep/value eq 'TANDEM-2')" % EXT_FUN), ["e1"])
        self.assertEqual(subjects(
            "singleValueExtendedProperties/any(ep:ep/id eq '%s' and "
            "startswith(ep/value, 'tandem'))" % EXT_FUN), ["e0", "e1"])
        resp = self.api("POST", "/me/events", event(
            "bad", "2024-05-01T10:00:00", "2024-05-01T11:00:00",
            singleValueExtendedProperties=[{"id": "Fun", "value": "x"}]))
        self.assertEqual(self.error_code(resp, 400), "BadRequest")
        resp = self.api("GET", "/me/events?$expand="
                               "singleValueExtendedProperties")
        self.assertEqual(self.error_code(resp, 400), "BadRequest")


# ---------------------------------------------------------------------------
# patternedRecurrence, recurrencePattern, recurrenceRange; List instances;
# Update event (ErrorOccurrenceCrossingBoundary)
# https://learn.microsoft.com/en-us/graph/api/resources/recurrencepattern
# https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange
# https://learn.microsoft.com/en-us/graph/api/event-list-instances
# ---------------------------------------------------------------------------

class Recurrence(FakeCase):

    def series(self, pattern, rng, start="2024-01-01T09:00:00",
               end="2024-01-01T10:00:00", tz="UTC", subject="s"):
        return self.create(event(subject, start, end, tz=tz, recurrence={
            "pattern": pattern, "range": rng}))

    def days(self, lo="2024-01-01T00:00:00Z", hi="2026-01-01T00:00:00Z"):
        return [i["start"]["dateTime"][:10] for i in self.view(lo, hi)]

    def test_patterns(self):
        cases = [
            ({"type": "daily", "interval": 2},
             {"type": "numbered", "numberOfOccurrences": 4},
             "2024-01-01", ["2024-01-01", "2024-01-03", "2024-01-05",
                            "2024-01-07"]),
            ({"type": "weekly", "interval": 2, "firstDayOfWeek": "monday",
              "daysOfWeek": ["sunday", "tuesday"]},
             {"type": "endDate", "endDate": "2024-01-21"},
             "2024-01-02", ["2024-01-02", "2024-01-07", "2024-01-16",
                            "2024-01-21"]),
            ({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31},
             {"type": "numbered", "numberOfOccurrences": 3},
             "2024-01-31", ["2024-01-31", "2024-02-29", "2024-03-31"]),
            ({"type": "relativeMonthly", "interval": 1, "index": "last",
              "daysOfWeek": ["friday"]},
             {"type": "numbered", "numberOfOccurrences": 3},
             "2024-01-26", ["2024-01-26", "2024-02-23", "2024-03-29"]),
            ({"type": "relativeMonthly", "interval": 2, "index": "first",
              "daysOfWeek": ["saturday", "sunday"]},
             {"type": "numbered", "numberOfOccurrences": 3},
             "2024-01-06", ["2024-01-06", "2024-03-02", "2024-05-04"]),
            ({"type": "absoluteYearly", "interval": 1, "dayOfMonth": 15,
              "month": 3}, {"type": "numbered", "numberOfOccurrences": 2},
             "2024-03-15", ["2024-03-15", "2025-03-15"]),
            ({"type": "relativeYearly", "interval": 1, "index": "second",
              "daysOfWeek": ["thursday"], "month": 11},
             {"type": "numbered", "numberOfOccurrences": 2},
             "2024-11-14", ["2024-11-14", "2025-11-13"]),
        ]
        for pattern, rng, start, want in cases:
            self.fake.control("reset")
            self.tok = self.fake.token()
            rng = dict(rng, startDate=start)
            self.series(pattern, rng, start + "T09:00:00",
                        start + "T10:00:00")
            self.assertEqual(self.days(), want, pattern)
        self.fake.control("reset")
        self.tok = self.fake.token()
        self.series({"type": "daily", "interval": 1},
                    {"type": "noEnd", "startDate": "2024-01-01"})
        self.assertEqual(len(self.days("2024-01-01T00:00:00Z",
                                       "2024-03-01T00:00:00Z")), 60)

    def test_validation(self):
        bad = [
            ({"type": "weekly", "interval": 1},
             {"type": "noEnd", "startDate": "2024-01-01"}),
            ({"type": "daily", "interval": 0},
             {"type": "noEnd", "startDate": "2024-01-01"}),
            ({"type": "hourly", "interval": 1},
             {"type": "noEnd", "startDate": "2024-01-01"}),
            ({"type": "absoluteYearly", "interval": 1, "dayOfMonth": 1},
             {"type": "noEnd", "startDate": "2024-01-01"}),
            ({"type": "daily", "interval": 1},
             {"type": "numbered", "startDate": "2024-01-01"}),
            ({"type": "daily", "interval": 1},
             {"type": "endDate", "startDate": "2024-01-01",
              "endDate": "2023-12-01"}),
            ({"type": "daily", "interval": 1},
             {"type": "noEnd", "startDate": "2024-01-02"}),
        ]
        for pattern, rng in bad:
            resp = self.api("POST", "/me/events", event(
                "s", "2024-01-01T09:00:00", "2024-01-01T10:00:00",
                recurrence={"pattern": pattern, "range": rng}))
            self.assertEqual(self.error_code(resp, 400),
                             "ErrorInvalidRequest", (pattern, rng))
        resp = self.api("POST", "/me/events", event(
            "s", "2024-01-01T09:00:00", "2024-01-01T10:00:00",
            recurrence={"pattern": {"type": "daily", "interval": 1,
                                    "byDay": "MO"},
                        "range": {"type": "noEnd",
                                  "startDate": "2024-01-01"}}))
        self.assertEqual(self.error_code(resp, 400), "BadRequest")

    def test_the_list_instances_example(self):
        master = self.create(event(
            "Review strategy for Q3", "2019-04-08T20:30:00",
            "2019-04-08T21:00:00",
            recurrence=weekly(["monday"], "2019-04-08", "2019-06-30")))
        occ = self.view("2019-04-15T00:00:00Z", "2019-04-16T00:00:00Z")[0]
        s, _, exc = self.api("PATCH", "/me/events/" + occ["id"], {
            "start": when("2019-04-16T20:30:00"),
            "end": when("2019-04-16T21:00:00"),
            "body": {"contentType": "text",
                     "content": "Changing meeting from 4/15 to 4/16."}})
        self.assertEqual(s, 200, exc)
        self.assertEqual((exc["type"], exc["id"]), ("exception", occ["id"]))
        path = "/me/events/%s/instances?startDateTime=2019-04-08T09:00:00." \
               "0000000&endDateTime=2019-04-30T09:00:00.0000000&$select=" \
               "subject,bodyPreview,seriesMasterId,type,recurrence,start," \
               "end" % master["id"]
        s, _, page = self.api("GET", path)
        self.assertEqual(s, 200, page)
        self.assertIn("/instances(subject,bodyPreview,seriesMasterId,type,"
                      "recurrence,start,end)", page["@odata.context"])
        got = {(i["type"], i["start"]["dateTime"], i["bodyPreview"])
               for i in page["value"]}
        self.assertEqual(got, {
            ("exception", "2019-04-16T20:30:00.0000000",
             "Changing meeting from 4/15 to 4/16."),
            ("occurrence", "2019-04-08T20:30:00.0000000", ""),
            ("occurrence", "2019-04-22T20:30:00.0000000", ""),
            ("occurrence", "2019-04-29T20:30:00.0000000", "")})
        for i in page["value"]:
            self.assertEqual(set(i), {"@odata.etag", "id", "subject",
                                      "bodyPreview", "seriesMasterId", "type",
                                      "recurrence", "start", "end"})
            self.assertEqual((i["seriesMasterId"], i["recurrence"],
                              i["subject"]),
                             (master["id"], None, "Review strategy for Q3"))
        occurrences = [i for i in page["value"] if i["type"] == "occurrence"]
        self.assertEqual({i["@odata.etag"] for i in occurrences},
                         {master["@odata.etag"]},
                         "occurrences carry the master's etag")
        s, _, one = self.api("GET", "/me/events/" + occ["id"])
        self.assertEqual((one["type"], one["originalStart"]),
                         ("exception", "2019-04-15T20:30:00Z"))
        resp = self.api("GET", "/me/events/%s/instances" % master["id"])
        self.assertEqual(self.error_code(resp, 400), "ErrorInvalidParameter")

    def test_occurrence_crossing_boundary(self):
        self.create(event("w", "2024-01-01T09:00:00", "2024-01-01T10:00:00",
                          recurrence=weekly(["monday"], "2024-01-01",
                                            "2024-03-31")))
        second = self.view("2024-01-08T00:00:00Z", "2024-01-09T00:00:00Z")[0]
        for day in ("2024-01-01", "2024-01-15", "2024-01-20"):
            resp = self.api("PATCH", "/me/events/" + second["id"], {
                "start": when(day + "T09:00:00"),
                "end": when(day + "T10:00:00")})
            self.assertEqual(self.error_code(resp, 400),
                             "ErrorOccurrenceCrossingBoundary", day)
        s, _, moved = self.api("PATCH", "/me/events/" + second["id"], {
            "start": when("2024-01-14T09:00:00"),
            "end": when("2024-01-14T10:00:00")})
        self.assertEqual(s, 200, moved)
        resp = self.api("PATCH", "/me/events/" + second["id"], {
            "recurrence": weekly(["monday"], "2024-01-08")})
        self.assertEqual(self.error_code(resp, 400), "ErrorInvalidRequest")

    def test_cancel_occurrences_and_delete_or_change_the_series(self):
        master = self.create(event("d", "2024-01-01T09:00:00",
                                   "2024-01-01T10:00:00",
                                   recurrence={
                                       "pattern": {"type": "daily",
                                                   "interval": 1},
                                       "range": {"type": "numbered",
                                                 "startDate": "2024-01-01",
                                                 "numberOfOccurrences": 5}}))
        items = self.view("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
        self.assertEqual(len(items), 5)
        s, _, _ = self.api("DELETE", "/me/events/" + items[1]["id"])
        self.assertEqual(s, 204)
        self.assertEqual(self.api("GET", "/me/events/" + items[1]["id"])[0],
                         404)
        self.api("PATCH", "/me/events/" + items[2]["id"], {"subject": "x"})
        items2 = self.view("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
        self.assertEqual([i["subject"] for i in items2], ["d", "x", "d", "d"])
        s, _, listing = self.api("GET", "/me/events")
        self.assertEqual([(e["id"], e["type"]) for e in listing["value"]],
                         [(master["id"], "seriesMaster")],
                         "list events holds masters, not occurrences")
        dump = self.fake.get("events")["events"][0]
        self.assertEqual(dump["cancelledOccurrences"], ["2024-01-02T09:00:00Z"])
        self.assertEqual([x["subject"] for x in dump["exceptions"]], ["x"])
        # a new time for the series drops its exceptions and cancellations
        self.api("PATCH", "/me/events/" + master["id"], {
            "start": when("2024-01-01T11:00:00"),
            "end": when("2024-01-01T12:00:00")})
        items3 = self.view("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
        self.assertEqual([i["start"]["dateTime"][11:16] for i in items3],
                         ["11:00"] * 5)
        s, _, _ = self.api("DELETE", "/me/events/" + master["id"])
        self.assertEqual(s, 204)
        self.assertEqual(self.view("2024-01-01T00:00:00Z",
                                   "2024-02-01T00:00:00Z"), [])
        self.assertEqual(self.api("GET", "/me/events/" + items[0]["id"])[0],
                         404)

    def test_single_event_becomes_a_series_and_back(self):
        ev = self.create(event("s", "2024-01-01T09:00:00",
                               "2024-01-01T10:00:00"))
        s, _, m = self.api("PATCH", "/me/events/" + ev["id"], {
            "recurrence": weekly(["monday"], "2024-01-01", "2024-01-31")})
        self.assertEqual((s, m["type"]), (200, "seriesMaster"))
        self.assertEqual(len(self.view("2024-01-01T00:00:00Z",
                                       "2024-02-01T00:00:00Z")), 5)
        s, _, m = self.api("PATCH", "/me/events/" + ev["id"],
                           {"recurrence": None})
        self.assertEqual(m["type"], "singleInstance")
        self.assertEqual(len(self.view("2024-01-01T00:00:00Z",
                                       "2024-02-01T00:00:00Z")), 1)


# ---------------------------------------------------------------------------
# event: delta; Get incremental changes to events in a calendar view; Use
# delta query (state tokens, synchronization reset, token duration)
# https://learn.microsoft.com/en-us/graph/api/event-delta
# https://learn.microsoft.com/en-us/graph/delta-query-events
# https://learn.microsoft.com/en-us/graph/delta-query-overview
# ---------------------------------------------------------------------------

DELTA_EXAMPLE = [
    ("Plan shopping list", "2016-12-09T20:30:00", "2016-12-09T22:00:00", None),
    ("Pick up car", "2016-12-10T01:00:00", "2016-12-10T02:00:00", None),
    ("Get food", "2016-12-10T19:30:00", "2016-12-10T21:30:00", None),
    ("Prepare food", "2016-12-10T22:00:00", "2016-12-11T00:00:00", None),
    ("Rest!", "2016-12-12T02:00:00", "2016-12-12T07:30:00", "Home"),
]
PAGE2 = {"Prefer": "odata.maxpagesize=2"}


class Delta(FakeCase):

    def start(self, lo, hi, path="/me/calendarView/delta"):
        return path + q(startDateTime=lo, endDateTime=hi)

    def test_the_documented_three_page_round_and_the_next_round(self):
        ids = {}
        for subject, start, end, place in DELTA_EXAMPLE:
            body = event(subject, start, end)
            if place:
                body["location"] = {"displayName": place}
            ids[subject] = self.create(body)["id"]
        # Step 1: the example's request, lower-case parameter names included
        s, _, p1 = self.api("GET", "/me/calendarView/delta?startdatetime="
                                   "2016-12-01T00:00:00Z&enddatetime="
                                   "2016-12-30T00:00:00Z", headers=PAGE2)
        self.assertEqual(s, 200, p1)
        self.assertTrue(p1["@odata.context"].endswith(
            "/v1.0/$metadata#Collection(event)"))
        self.assertNotIn("@odata.deltaLink", p1)
        link_re = r"^%s/v1\.0/me/calendarView/delta\?\$skiptoken=[^&=]+$" \
            % re.escape(self.fake.base)
        self.assertRegex(p1["@odata.nextLink"], link_re)
        self.assertEqual([e["subject"] for e in p1["value"]],
                         ["Plan shopping list", "Pick up car"])
        first = p1["value"][0]
        self.assertEqual(first["@odata.type"], "#microsoft.graph.event")
        self.assertRegex(first["@odata.etag"], r'^W/".+"$')
        self.assertEqual(first["body"], {"contentType": "html", "content": ""})
        self.assertEqual(first["start"], {
            "dateTime": "2016-12-09T20:30:00.0000000", "timeZone": "UTC"})
        self.assertEqual(first["end"], {
            "dateTime": "2016-12-09T22:00:00.0000000", "timeZone": "UTC"})
        self.assertEqual(first["attendees"], [])
        self.assertEqual(first["organizer"]["emailAddress"]["address"], USER)
        self.assertEqual(first["id"], ids["Plan shopping list"])
        # Step 2: the nextLink as it is, no startDateTime/endDateTime again
        s, _, p2 = self.api("GET", p1["@odata.nextLink"], headers=PAGE2)
        self.assertEqual([e["subject"] for e in p2["value"]],
                         ["Get food", "Prepare food"])
        self.assertRegex(p2["@odata.nextLink"], link_re)
        # Step 3: the last page carries the deltaLink
        s, _, p3 = self.api("GET", p2["@odata.nextLink"], headers=PAGE2)
        self.assertEqual([e["subject"] for e in p3["value"]], ["Rest!"])
        self.assertEqual(p3["value"][0]["location"]["displayName"], "Home")
        self.assertNotIn("@odata.nextLink", p3)
        self.assertRegex(p3["@odata.deltaLink"],
                         r"^%s/v1\.0/me/calendarView/delta\?\$deltatoken="
                         r"[^&=]+$" % re.escape(self.fake.base))
        # The next round: one event deleted, one added
        self.api("DELETE", "/me/events/" + ids["Pick up car"])
        added = self.create(event("Attend service", "2016-12-25T06:00:00",
                                  "2016-12-25T07:30:00", location={
                                      "displayName": "Chapel of Saint "
                                                     "Ignatius"}))
        s, _, n1 = self.api("GET", p3["@odata.deltaLink"], headers=PAGE2)
        self.assertEqual(s, 200, n1)
        self.assertIn("@odata.deltaLink", n1)
        self.assertIn({"@odata.type": "#microsoft.graph.event",
                       "id": ids["Pick up car"],
                       "@removed": {"reason": "deleted"}}, n1["value"])
        self.assertEqual([e["id"] for e in n1["value"] if "@removed" not in e],
                         [added["id"]])
        # a round with no changes: no items, a new deltaLink
        s, _, n2 = self.api("GET", n1["@odata.deltaLink"])
        self.assertEqual(n2["value"], [])
        self.assertIn("@odata.deltaLink", n2)
        # an old deltaLink still answers with the same changes
        s, _, again = self.api("GET", p3["@odata.deltaLink"], headers=PAGE2)
        self.assertEqual(len(again["value"]), 2)

    def test_updates_default_page_size_and_refetching_a_page(self):
        self.fake.control("seed", {"count": 25, "start": "2024-03-01T08:00:00Z"})
        items, link, pages = self.delta_round(self.start(
            "2024-03-01T00:00:00Z", "2024-03-03T00:00:00Z"))
        self.assertEqual([len(p["value"]) for p in pages], [10, 10, 5],
                         "without Prefer: pages of 10")
        s, _, again = self.api("GET", pages[0]["@odata.nextLink"])
        self.assertEqual(again["value"], pages[1]["value"],
                         "a nextLink can be fetched again")
        victim = items[3]
        s, _, up = self.api("PATCH", "/me/events/" + victim["id"],
                            {"subject": "renamed"})
        s, _, page = self.api("GET", link)
        self.assertEqual([(e["id"], e["subject"]) for e in page["value"]],
                         [(victim["id"], "renamed")])
        self.assertEqual(page["value"][0]["@odata.etag"], up["@odata.etag"])

    def test_state_tokens_carry_the_query(self):
        first = self.start("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")
        items, link, _ = self.delta_round(first)
        for extra in ("&startDateTime=2024-01-01T00:00:00Z",
                      "&$select=subject"):
            resp = self.api("GET", link + extra)
            self.assertEqual(self.error_code(resp, 400),
                             "ErrorInvalidUrlQuery")
        for opt in ("$select=subject", "$filter=subject%20eq%20'x'",
                    "$orderby=start/dateTime", "$expand=attachments",
                    "$top=5"):
            resp = self.api("GET", first + "&" + opt)
            self.assertEqual(self.error_code(resp, 400),
                             "ErrorInvalidUrlQuery", opt)
        resp = self.api("GET", "/me/calendarView/delta")
        self.assertEqual(self.error_code(resp, 400), "ErrorInvalidParameter")
        # %24 for '$' works too; a token of another calendar gets 410
        s, _, page = self.api("GET", link.replace("$deltatoken",
                                                  "%24deltatoken"))
        self.assertEqual(s, 200, page)
        other = link.replace("/me/calendarView/delta",
                             "/me/calendars/%s/calendarView/delta" % USER_CAL2)
        self.assertEqual(self.error_code(self.api("GET", other), 410),
                         "syncStateNotFound")

    def test_series_come_as_occurrences_and_exceptions(self):
        master = self.create(event("standup", "2024-01-01T09:00:00",
                                   "2024-01-01T09:15:00",
                                   recurrence=weekly(["monday", "wednesday"],
                                                     "2024-01-01",
                                                     "2024-01-31")))
        items, link, _ = self.delta_round(self.start(
            "2024-01-01T00:00:00Z", "2024-01-15T00:00:00Z"), PAGE2)
        self.assertEqual(len(items), 4, "Jan 1, 3, 8, 10")
        self.assertEqual({i["type"] for i in items}, {"occurrence"},
                         "no series master in a calendar view")
        self.assertEqual({i["seriesMasterId"] for i in items}, {master["id"]})
        s, _, m = self.api("GET", "/me/events/" + items[0]["seriesMasterId"])
        self.assertEqual((m["type"], m["recurrence"]["pattern"]["daysOfWeek"]),
                         ("seriesMaster", ["monday", "wednesday"]))
        # an edited occurrence comes back as an exception, a deleted one
        # as @removed
        self.api("PATCH", "/me/events/" + items[1]["id"], {"subject": "moved"})
        self.api("DELETE", "/me/events/" + items[2]["id"])
        s, _, page = self.api("GET", link)
        got = {e["id"]: e for e in page["value"]}
        self.assertEqual(got[items[1]["id"]]["type"], "exception")
        self.assertEqual(got[items[1]["id"]]["subject"], "moved")
        self.assertEqual(got[items[2]["id"]]["@removed"], {"reason": "deleted"})
        self.assertEqual(len(got), 2)
        # a change to the master changes every occurrence
        self.api("PATCH", "/me/events/" + master["id"], {"subject": "daily"})
        s, _, page2 = self.api("GET", page["@odata.deltaLink"])
        self.assertEqual(sorted(e["subject"] for e in page2["value"]),
                         ["daily", "daily", "moved"])
        # deleting the master removes all its instances
        self.api("DELETE", "/me/events/" + master["id"])
        s, _, page3 = self.api("GET", page2["@odata.deltaLink"])
        self.assertEqual(len(page3["value"]), 3)
        self.assertTrue(all("@removed" in e for e in page3["value"]))

    def test_changes_outside_the_range_come_as_removed(self):
        _, link, _ = self.delta_round(self.start(
            "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"))
        out = self.create(event("later", "2024-06-01T09:00:00",
                                "2024-06-01T10:00:00"))
        inside = self.create(event("now", "2024-01-10T09:00:00",
                                   "2024-01-10T10:00:00"))
        s, _, page = self.api("GET", link)
        got = {e["id"]: e for e in page["value"]}
        self.assertEqual(got[out["id"]], {"@odata.type": "#microsoft.graph."
                                                         "event",
                                          "id": out["id"],
                                          "@removed": {"reason": "deleted"}})
        self.assertEqual(got[inside["id"]]["subject"], "now")
        # moving an event out of the range: removed
        self.api("PATCH", "/me/events/" + inside["id"], {
            "start": when("2024-03-01T09:00:00"),
            "end": when("2024-03-01T10:00:00")})
        s, _, page2 = self.api("GET", page["@odata.deltaLink"])
        self.assertIn({"@odata.type": "#microsoft.graph.event",
                       "id": inside["id"], "@removed": {"reason": "deleted"}},
                      page2["value"])

    def test_expired_tokens_get_410_with_a_restart_location(self):
        self.create(event("a", "2024-01-02T09:00:00", "2024-01-02T10:00:00"))
        self.create(event("b", "2024-01-03T09:00:00", "2024-01-03T10:00:00"))
        s, _, p1 = self.api("GET", self.start("2024-01-01T00:00:00Z",
                                              "2024-02-01T00:00:00Z"),
                            headers={"Prefer": "odata.maxpagesize=1"})
        _, link, _ = self.delta_round(p1["@odata.nextLink"])
        self.fake.control("expire_delta_tokens")
        for stale in (link, p1["@odata.nextLink"]):
            resp = self.api("GET", stale)
            self.assertEqual(self.error_code(resp, 410), "syncStateNotFound")
        location = self.api("GET", link)[1]["location"]
        self.assertIn("startDateTime=2024-01-01T00:00:00Z", location)
        self.assertTrue(location.endswith("$deltatoken="))
        items, link2, _ = self.delta_round(location)
        self.assertEqual(len(items), 2, "the Location starts a full round")
        self.fake.control("expire_delta_tokens", {"code": "resyncRequired"})
        self.assertEqual(self.error_code(self.api("GET", link2), 410),
                         "resyncRequired")
        self.assertEqual(self.error_code(self.api(
            "GET", "/me/calendarView/delta?$deltatoken=tampered"), 410),
            "syncStateNotFound")

    def test_other_calendars_users_paths_and_time_zone(self):
        self.create(event("second", "2024-01-02T09:00:00",
                          "2024-01-02T10:00:00"),
                    "/me/calendars/%s/events" % USER_CAL2)
        self.create(event("default", "2024-01-02T09:00:00",
                          "2024-01-02T10:00:00"))
        for path, want in (
                ("/me/calendars/%s/calendarView/delta" % USER_CAL2, "second"),
                ("/me/calendar/calendarView/delta", "default"),
                ("/users/%s/calendarView/delta" % USER, "default"),
                ("/users/%s/calendars/%s/calendarView/delta"
                 % (USER_ID, USER_CAL2), "second")):
            items, link, _ = self.delta_round(
                self.start("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z",
                           path),
                {"Prefer": 'outlook.timezone="Tokyo Standard Time"'})
            self.assertEqual([i["subject"] for i in items], [want], path)
            self.assertEqual(items[0]["start"], {
                "dateTime": "2024-01-02T18:00:00.0000000",
                "timeZone": "Tokyo Standard Time"})
            self.assertIn(path.split("?")[0], link)


# ---------------------------------------------------------------------------
# Combine multiple HTTP requests using JSON batching; throttling and
# batching
# https://learn.microsoft.com/en-us/graph/json-batching
# ---------------------------------------------------------------------------

BATCH_EXAMPLE = {"requests": [
    {"id": "1", "method": "GET", "url": "/me/memberOf"},
    {"id": "2", "method": "GET", "url": "/me/planner/tasks"},
    {"id": "3", "method": "DELETE",
     "url": "/groups/0e226165-c685-41ce-8bfc-df8360ab325d"},
    {"id": "4", "url": "/users/161ab652-cdbc-490d-82a4-0ada1f0db247/"
                       "getPasswordSingleSignOnCredentials",
     "method": "POST", "body": {}, "headers": {"Content-Type":
                                               "application/json"}},
    {"id": "5", "url": "users?$select=id,displayName,userPrincipalName&"
                       "$filter=city eq null&$count=true",
     "method": "GET", "headers": {"ConsistencyLevel": "eventual"}}]}


class Batching(FakeCase):

    def batch(self, requests, token="default"):
        return self.api("POST", "/$batch", {"requests": requests},
                        {"Accept": "application/json"}, token)

    def test_the_documented_request_shape(self):
        s, _, body = self.api("POST", "/$batch", BATCH_EXAMPLE)
        self.assertEqual(s, 200, body)
        self.assertEqual(set(body), {"responses"})
        got = {r["id"]: r for r in body["responses"]}
        self.assertEqual(set(got), {"1", "2", "3", "4", "5"})
        for r in got.values():
            self.assertEqual(set(r), {"id", "status", "headers", "body"})
            self.assertGreaterEqual(r["status"], 400,
                                    "the fake serves calendars only")
            self.assertIn("code", r["body"]["error"])
        self.assertEqual(got["4"]["status"], 404)
        self.assertEqual(got["4"]["body"]["error"]["code"], "ErrorInvalidUser")

    def test_calendar_requests_in_one_batch(self):
        ev = self.create(event("x", "2024-05-01T10:00:00",
                               "2024-05-01T11:00:00"))
        s, _, body = self.batch([
            {"id": "1", "method": "GET", "url": "/me/calendars"},
            {"id": "2", "method": "GET", "url": "me/calendar"},
            {"id": "3", "method": "DELETE", "url": "/me/events/AAMkAnone="},
            {"id": "4", "method": "POST", "url": "/me/calendars/%s/events"
                                                 % USER_CAL2,
             "body": event("made in a batch", "2024-05-02T10:00:00",
                           "2024-05-02T11:00:00"),
             "headers": {"Content-Type": "application/json"}},
            {"id": "5", "method": "GET", "url": "/me/events/" + ev["id"],
             "headers": {"Prefer": 'outlook.timezone="Tokyo Standard '
                                   'Time"'}},
            {"id": "6", "method": "PATCH", "url": "/me/events/" + ev["id"],
             "body": {"subject": "y"},
             "headers": {"Content-Type": "application/json",
                         "If-Match": 'W/"stale"'}},
        ])
        self.assertEqual(s, 200, body)
        self.assertEqual([r["id"] for r in body["responses"]],
                         ["6", "5", "4", "3", "2", "1"],
                         "responses in another order than the requests")
        got = {r["id"]: r for r in body["responses"]}
        self.assertEqual([got[i]["status"] for i in "123456"],
                         [200, 200, 404, 201, 200, 412])
        self.assertEqual(got["4"]["body"]["subject"], "made in a batch")
        self.assertTrue(got["4"]["headers"]["Content-Type"].startswith(
            "application/json"))
        self.assertEqual(got["5"]["body"]["start"]["timeZone"],
                         "Tokyo Standard Time")
        self.assertEqual(got["3"]["body"]["error"]["code"],
                         "ErrorItemNotFound")
        log = [r for r in self.fake.get("requests") if r.get("batch")]
        self.assertEqual([(r["method"], r["path"]) for r in log][:2],
                         [("GET", "/v1.0/me/calendars"),
                          ("GET", "/v1.0/me/calendar")])
        self.assertEqual(len(log), 6)

    def test_depends_on_runs_in_order_and_fails_dependents(self):
        s, _, body = self.batch([
            {"id": "1", "method": "POST", "url": "/me/events",
             "body": event("a", "2024-05-01T10:00:00", "2024-05-01T11:00:00"),
             "headers": {"Content-Type": "application/json"}},
            {"id": "2", "dependsOn": ["1"], "method": "GET",
             "url": "/me/events/AAMkAmissing="},
            {"id": "4", "dependsOn": ["2"], "method": "GET",
             "url": "/me/calendars"},
            {"id": "3", "dependsOn": ["4"], "method": "GET",
             "url": "/me/calendar"}])
        got = {r["id"]: r["status"] for r in body["responses"]}
        self.assertEqual(got, {"1": 201, "2": 404, "4": 424, "3": 424})

    def test_limits_and_malformed_batches(self):
        many = [{"id": str(i), "method": "GET", "url": "/me/calendar"}
                for i in range(21)]
        self.assertEqual(self.error_code(self.batch(many), 400), "BadRequest")
        s, _, body = self.batch(many[:20])
        self.assertEqual((s, len(body["responses"])), (200, 20))
        bad = [
            [{"id": "a", "method": "GET", "url": "/me"},
             {"id": "A", "method": "GET", "url": "/me"}],
            [{"id": "1", "method": "POST", "url": "/me/events",
              "body": {"subject": "no content type"}}],
            [{"id": "1", "method": "GET", "url": "/me", "dependsOn": ["9"]}],
            [{"id": "1", "url": "/me"}],
        ]
        for reqs in bad:
            self.assertEqual(self.error_code(self.batch(reqs), 400),
                             "BadRequest", reqs)
        s, _, body = self.batch([
            {"id": "1", "method": "GET",
             "url": "https://graph.microsoft.com/v1.0/me"},
            {"id": "2", "method": "GET", "url": "/v1.0/me"},
            {"id": "3", "method": "GET", "url": "/me/calendars/%s" % USER_CAL}])
        got = {r["id"]: r["status"] for r in body["responses"]}
        self.assertEqual(got, {"1": 400, "2": 400, "3": 200})

    def test_injected_failures_hit_inner_requests(self):
        self.fake.control("fail", {"status": 429, "path_contains": "/events",
                                   "retry_after": 5})
        s, _, body = self.batch([
            {"id": "1", "method": "GET", "url": "/me/calendars"},
            {"id": "2", "method": "GET", "url": "/me/events"},
            {"id": "3", "method": "GET", "url": "/me/events"}])
        self.assertEqual(s, 200)
        got = {r["id"]: r for r in body["responses"]}
        self.assertEqual([got[i]["status"] for i in "123"], [200, 429, 200])
        self.assertEqual(got["2"]["headers"]["Retry-After"], "5")
        self.assertEqual(got["2"]["body"]["error"]["code"], "TooManyRequests")
        self.fake.control("fail", {"status": 503, "path_contains": "$batch"})
        resp = self.batch([{"id": "1", "method": "GET", "url": "/me"}])
        self.assertEqual(self.error_code(resp, 503), "serviceNotAvailable")


# ---------------------------------------------------------------------------
# OAuth 2.0 device authorization grant, authorization code flow (refresh),
# client credentials flow, AADSTS error codes
# https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code
# https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
# https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
# https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
# ---------------------------------------------------------------------------

class OAuth(FakeCase):

    def device(self, scope, tenant="common"):
        s, _, body = self.fake.form("/%s/oauth2/v2.0/devicecode" % tenant,
                                    {"client_id": PUBLIC_CLIENT,
                                     "scope": scope})
        self.assertEqual(s, 200, body)
        return body

    def poll(self, code, tenant="common"):
        return self.fake.form("/%s/oauth2/v2.0/token" % tenant, {
            "grant_type": DEVICE_GRANT, "client_id": PUBLIC_CLIENT,
            "device_code": code})

    def assert_aad_error(self, resp, status, error, code):
        s, h, body = resp
        self.assertEqual(s, status, body)
        self.assertEqual(body["error"], error)
        self.assertEqual(body["error_codes"], [code])
        self.assertTrue(body["error_description"].startswith(
            "AADSTS%d: " % code))
        self.assertIn("Trace ID: " + body["trace_id"],
                      body["error_description"])
        self.assertIn("Correlation ID: " + body["correlation_id"],
                      body["error_description"])
        self.assertRegex(body["timestamp"],
                         r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$")

    def test_device_code_example_and_polling(self):
        body = self.device("user.read openid profile")
        self.assertEqual(set(body), {"device_code", "user_code",
                                     "verification_uri", "expires_in",
                                     "interval", "message"})
        self.assertEqual(body["expires_in"], 900)
        self.assertIn(body["user_code"], body["message"])
        self.assertIn(body["verification_uri"], body["message"])
        self.assert_aad_error(self.poll(body["device_code"]), 400,
                              "authorization_pending", 70016)
        self.fake.control("approve_device", {"user_code": body["user_code"]})
        s, h, tok = self.poll(body["device_code"])
        self.assertEqual(s, 200, tok)
        self.assertEqual(tok["token_type"], "Bearer")
        self.assertEqual(tok["scope"], "User.Read openid profile")
        self.assertIn("id_token", tok)
        self.assertNotIn("refresh_token", tok,
                         "a refresh token needs offline_access")
        self.assertIn("no-store", h["cache-control"])
        claims = json.loads(base64.urlsafe_b64decode(
            tok["id_token"].split(".")[1] + "=="))
        self.assertEqual((claims["preferred_username"], claims["oid"]),
                         (USER, USER_ID))
        s, _, me = self.api("GET", "/me", token=tok["access_token"])
        self.assertEqual(me["userPrincipalName"], USER)
        self.assert_aad_error(self.poll(body["device_code"]), 400,
                              "invalid_grant", 70000)

    def test_device_code_denied_expired_unknown(self):
        body = self.device("offline_access Calendars.ReadWrite")
        self.fake.control("approve_device", {"deny": True})
        self.assert_aad_error(self.poll(body["device_code"]), 400,
                              "authorization_declined", 65004)
        body = self.device("Calendars.ReadWrite")
        self.fake.control("expire_device_codes")
        self.assert_aad_error(self.poll(body["device_code"]), 400,
                              "expired_token", 70019)
        self.assert_aad_error(self.poll("nonsense"), 400,
                              "bad_verification_code", 70018)
        s, _, err = self.fake.form("/common/oauth2/v2.0/devicecode", {
            "client_id": PUBLIC_CLIENT, "scope": "Mail.Send"})
        self.assert_aad_error((s, _, err), 400, "invalid_scope", 70011)
        s, _, err = self.fake.form("/common/oauth2/v2.0/devicecode", {
            "client_id": PUBLIC_CLIENT})
        self.assert_aad_error((s, _, err), 400, "invalid_request", 900144)
        self.assert_aad_error(self.fake.form(
            "/not-a-tenant/oauth2/v2.0/devicecode",
            {"client_id": PUBLIC_CLIENT, "scope": "User.Read"}), 400,
            "invalid_request", 90002)

    def test_refresh_tokens_rotate_and_can_be_revoked(self):
        body = self.device("offline_access "
                           "https://graph.microsoft.com/Calendars.ReadWrite")
        self.fake.control("approve_device", {})
        s, _, tok = self.poll(body["device_code"])
        self.assertEqual(tok["scope"], "Calendars.ReadWrite")
        rt1 = tok["refresh_token"]

        def refresh(rt, **extra):
            fields = {"grant_type": "refresh_token", "client_id":
                      PUBLIC_CLIENT, "refresh_token": rt}
            fields.update(extra)
            return self.fake.form("/common/oauth2/v2.0/token", fields)
        s, _, t2 = refresh(rt1)
        self.assertEqual(s, 200, t2)
        self.assertNotEqual(t2["refresh_token"], rt1, "a new refresh token")
        self.assertEqual(self.api("GET", "/me/calendars",
                                  token=t2["access_token"])[0], 200)
        s, _, t3 = refresh(rt1)
        self.assertEqual(s, 200, "the old one is not revoked by its use")
        self.assert_aad_error(refresh(t2["refresh_token"],
                                      scope="Calendars.ReadWrite.Shared"),
                              400, "invalid_grant", 65001)
        self.fake.control("revoke_refresh_tokens", {"user": USER})
        self.assert_aad_error(refresh(t2["refresh_token"]), 400,
                              "invalid_grant", 50173)
        self.assert_aad_error(refresh("garbage"), 400, "invalid_grant",
                              9002313)
        self.assert_aad_error(refresh(rt1, client_secret="x"), 401,
                              "invalid_client", 700025)

    def test_client_credentials_example_and_errors(self):
        path = "/%s/oauth2/v2.0/token" % TENANT_ID
        s, _, tok = self.fake.form(path, {
            "client_id": APP, "scope": "https://graph.microsoft.com/.default",
            "client_secret": APP_SECRET, "grant_type": "client_credentials"})
        self.assertEqual(s, 200, tok)
        self.assertEqual(tok["token_type"], "Bearer")
        self.assertIsInstance(tok["expires_in"], int)
        self.assertNotIn("refresh_token", tok)
        self.assertNotIn("scope", tok)
        at = tok["access_token"]
        s, _, cals = self.api("GET", "/users/%s/calendars" % SHARED, token=at)
        self.assertEqual((s, cals["value"][0]["id"]), (200, SHARED_CAL))
        self.assertEqual(self.api("GET", "/users/%s/calendar" % USER,
                                  token=at)[0], 200)
        self.assertEqual(self.error_code(self.api("GET", "/me/calendars",
                                                  token=at), 400),
                         "BadRequest")
        # the documented error example: another resource's .default
        self.assert_aad_error(self.fake.form(path, {
            "client_id": APP, "scope": "https://foo.microsoft.com/.default",
            "client_secret": APP_SECRET, "grant_type": "client_credentials"}),
            400, "invalid_scope", 70011)
        basic = base64.b64encode(("%s:%s" % (APP, APP_SECRET)).encode())
        s, _, tok2 = self.fake.form("/example.test/oauth2/v2.0/token", {
            "scope": "https://graph.microsoft.com/.default",
            "grant_type": "client_credentials"},
            {"Authorization": "Basic " + basic.decode()})
        self.assertEqual(s, 200, "HTTP Basic and the domain name work")
        self.assert_aad_error(self.fake.form("/common/oauth2/v2.0/token", {
            "client_id": APP, "scope": "https://graph.microsoft.com/.default",
            "client_secret": APP_SECRET, "grant_type": "client_credentials"}),
            400, "invalid_request", 9001023)
        self.assert_aad_error(self.fake.form(path, {
            "client_id": APP, "scope": "https://graph.microsoft.com/.default",
            "client_secret": "wrong", "grant_type": "client_credentials"}),
            401, "invalid_client", 7000215)
        self.assert_aad_error(self.fake.form(path, {
            "client_id": APP, "scope": "https://graph.microsoft.com/.default",
            "grant_type": "client_credentials"}),
            401, "invalid_client", 7000218)
        self.assert_aad_error(self.fake.form(path, {
            "client_id": "nobody", "scope": "x", "grant_type":
                "client_credentials", "client_secret": "y"}),
            400, "unauthorized_client", 700016)
        self.assert_aad_error(self.fake.form(path, {
            "client_id": APP, "grant_type": "password"}),
            400, "unsupported_grant_type", 70003)
        self.assert_aad_error(self.fake.call("GET", path), 400,
                              "invalid_request", 900561)
        self.fake.control("app_access", {"mailboxes": [SHARED]})
        self.assertEqual(self.error_code(self.api(
            "GET", "/users/%s/calendar" % USER, token=at), 403),
            "ErrorAccessDenied")
        self.assertEqual(self.api("GET", "/users/%s/calendar" % SHARED,
                                  token=at)[0], 200)

    def test_authorization_code_with_pkce(self):
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(
            verifier.encode()).digest()).decode().rstrip("=")
        redirect = "http://localhost:8765/callback"
        auth = "/common/oauth2/v2.0/authorize" + q(
            client_id=PUBLIC_CLIENT, response_type="code",
            redirect_uri=redirect, response_mode="query",
            scope="offline_access openid Calendars.ReadWrite", state="12345",
            code_challenge=challenge, code_challenge_method="S256")
        s, h, _ = self.fake.request("GET", auth)
        self.assertEqual(s, 302)
        loc = urllib.parse.urlsplit(h["location"])
        params = dict(urllib.parse.parse_qsl(loc.query))
        self.assertEqual(params["state"], "12345")
        self.assertTrue(h["location"].startswith(redirect + "?"))
        token = "/common/oauth2/v2.0/token"
        fields = {"client_id": PUBLIC_CLIENT, "grant_type":
                  "authorization_code", "code": params["code"],
                  "redirect_uri": redirect, "code_verifier": "wrong" * 9}
        self.assert_aad_error(self.fake.form(token, fields), 400,
                              "invalid_grant", 501481)
        fields["code_verifier"] = verifier
        s, _, tok = self.fake.form(token, fields)
        self.assertEqual(s, 200, tok)
        self.assertIn("refresh_token", tok)
        self.assertIn("id_token", tok)
        self.assert_aad_error(self.fake.form(token, fields), 400,
                              "invalid_grant", 54005)
        s, _, text = self.fake.request("GET", auth.replace(
            "localhost%3A8765", "evil.example"))
        self.assertEqual(s, 400)
        self.fake.control("consent", {"deny": True})
        s, h, _ = self.fake.request("GET", auth)
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
            h["location"]).query))
        self.assertEqual((params["error"], params["state"]),
                         ("access_denied", "12345"))

    def test_delegated_access_to_shared_mailboxes_and_scopes(self):
        path = "/users/%s/calendar/events" % SHARED
        self.assertEqual(self.error_code(self.api("GET", path), 403),
                         "ErrorAccessDenied")
        self.fake.control("share", {"owner": SHARED, "delegate": USER,
                                    "role": "read"})
        self.assertEqual(self.api("GET", path)[0], 200)
        s, _, cals = self.api("GET", "/users/%s/calendars" % SHARED)
        self.assertEqual(cals["value"][0]["canEdit"], False)
        body = event("x", "2024-05-01T10:00:00", "2024-05-01T11:00:00")
        self.assertEqual(self.error_code(self.api("POST", path, body), 403),
                         "ErrorAccessDenied")
        self.fake.control("share", {"owner": SHARED, "delegate": USER,
                                    "role": "write"})
        made = self.create(body, path)
        self.assertEqual(made["organizer"]["emailAddress"]["address"], SHARED)
        plain = self.fake.token(scopes=["Calendars.ReadWrite"])
        self.assertEqual(self.error_code(self.api("GET", path, token=plain),
                                         403), "ErrorAccessDenied",
                         "a shared calendar needs Calendars.*.Shared")
        reader = self.fake.token(scopes=["Calendars.Read"])
        self.assertEqual(self.api("GET", "/me/events", token=reader)[0], 200)
        self.assertEqual(self.error_code(self.api(
            "POST", "/me/events", body, token=reader), 403),
            "ErrorAccessDenied")


class SlowPollingAndSmallCaches(FakeCase):
    """A second fake: interval 1 s, a delta token cache of 2, parallel
    batches and single-use refresh tokens."""

    args = ("--device-interval", "1", "--delta-token-cache", "2",
            "--batch-parallel", "20", "--batch-order", "request",
            "--single-use-refresh-tokens")

    def test_slow_down_when_polling_faster_than_the_interval(self):
        s, _, body = self.fake.form("/common/oauth2/v2.0/devicecode", {
            "client_id": PUBLIC_CLIENT, "scope": "offline_access User.Read"})
        self.assertEqual(body["interval"], 1)
        poll = {"grant_type": DEVICE_GRANT, "client_id": PUBLIC_CLIENT,
                "device_code": body["device_code"]}
        s, _, err = self.fake.form("/common/oauth2/v2.0/token", poll)
        self.assertEqual(err["error"], "authorization_pending")
        s, _, err = self.fake.form("/common/oauth2/v2.0/token", poll)
        self.assertEqual(err["error"], "slow_down")
        time.sleep(1.1)
        s, _, err = self.fake.form("/common/oauth2/v2.0/token", poll)
        self.assertEqual(err["error"], "authorization_pending")
        self.fake.control("approve_device", {})
        s, _, tok = self.fake.form("/common/oauth2/v2.0/token", poll)
        self.assertEqual(s, 200, tok)
        fields = {"grant_type": "refresh_token", "client_id": PUBLIC_CLIENT,
                  "refresh_token": tok["refresh_token"]}
        self.assertEqual(self.fake.form("/common/oauth2/v2.0/token",
                                        fields)[0], 200)
        s, _, err = self.fake.form("/common/oauth2/v2.0/token", fields)
        self.assertEqual((s, err["error"]), (400, "invalid_grant"),
                         "--single-use-refresh-tokens")

    def test_old_delta_tokens_leave_the_cache(self):
        first = "/me/calendarView/delta" + q(
            startDateTime="2024-01-01T00:00:00Z",
            endDateTime="2024-02-01T00:00:00Z")
        links = [self.delta_round(first)[1] for _ in range(3)]
        self.assertEqual(self.error_code(self.api("GET", links[0]), 410),
                         "syncStateNotFound")
        self.assertEqual(self.api("GET", links[2])[0], 200)

    def test_parallel_batch_requests_count_toward_mailbox_concurrency(self):
        self.fake.control("latency", {"ms": 300})
        s, _, body = self.api("POST", "/$batch", {"requests": [
            {"id": str(i), "method": "GET", "url": "/me/calendar"}
            for i in range(6)]})
        statuses = sorted(r["status"] for r in body["responses"])
        self.assertEqual(statuses, [200, 200, 200, 200, 429, 429])
        throttled = [r for r in body["responses"] if r["status"] == 429][0]
        self.assertEqual(throttled["body"]["error"]["code"],
                         "ApplicationThrottled")
        self.assertEqual(throttled["headers"]["Retry-After"], "1")
        self.assertEqual(self.fake.get("stats")["peak_concurrency"][USER], 4)
        self.assertEqual([r["id"] for r in body["responses"]],
                         [str(i) for i in range(6)], "--batch-order request")


# ---------------------------------------------------------------------------
# The fake itself: control endpoints, process behaviour, state file
# ---------------------------------------------------------------------------

class FakeItself(FakeCase):

    def test_request_log_and_mailboxes(self):
        self.fake.control("clear_requests")
        self.api("GET", "/me/calendars?$top=5")
        log = self.fake.get("requests")
        self.assertEqual(log, [{"method": "GET", "path": "/v1.0/me/calendars",
                                "query": "$top=5", "params": {"$top": ["5"]},
                                "status": 200}])
        made = self.fake.control("mailboxes", {"user": "room@example.test",
                                               "calendars": ["Bookings"]})
        self.assertEqual([c["name"] for c in made["calendars"]],
                         ["Calendar", "Bookings"])
        app = self.fake.app_token()
        s, _, cals = self.api("GET", "/users/room@example.test/calendars",
                              token=app)
        self.assertEqual(len(cals["value"]), 2)
        tok = self.fake.token("room@example.test")
        self.assertEqual(self.api("GET", "/me", token=tok)[2]["id"],
                         made["id"])
        state = self.fake.get("state")
        self.assertEqual([u["userPrincipalName"] for u in state["users"]],
                         [USER, SHARED, "room@example.test"])

    def test_calendars_clients_and_identity_failures(self):
        made = self.fake.control("calendars", {"name": "Extra"})
        s, _, cals = self.api("GET", "/me/calendars")
        self.assertEqual([c["name"] for c in cals["value"]],
                         ["Calendar", "Tandem", "Extra"])
        self.assertEqual(cals["value"][2]["id"], made["id"])
        self.fake.control("clients", {"client_id": "reader-app",
                                      "client_secret": "s3",
                                      "roles": ["Calendars.Read"]})
        path = "/%s/oauth2/v2.0/token" % TENANT_ID
        s, _, tok = self.fake.form(path, {
            "client_id": "reader-app", "client_secret": "s3",
            "scope": "https://graph.microsoft.com/.default",
            "grant_type": "client_credentials"})
        at = tok["access_token"]
        self.assertEqual(self.api("GET", "/users/%s/events" % SHARED,
                                  token=at)[0], 200)
        self.assertEqual(self.error_code(self.api(
            "POST", "/users/%s/events" % SHARED, event(
                "x", "2024-05-01T10:00:00", "2024-05-01T11:00:00"),
            token=at), 403), "ErrorAccessDenied")
        self.fake.control("fail", {"status": 503, "path_contains": "/oauth2/",
                                   "retry_after": 2})
        s, h, err = self.fake.form(path, {
            "client_id": "reader-app", "client_secret": "s3",
            "scope": "https://graph.microsoft.com/.default",
            "grant_type": "client_credentials"})
        self.assertEqual((s, err["error"], h["retry-after"]),
                         (503, "temporarily_unavailable", "2"))
        self.assertEqual(self.api("GET", "/me")[0], 200,
                         "the rule matched the identity path only")
        # a calendarView filtered on an extended property
        self.create(event("tagged", "2024-05-01T10:00:00",
                          "2024-05-01T11:00:00",
                          singleValueExtendedProperties=[
                              {"id": EXT_FUN, "value": "crm-9"}]))
        self.create(event("untagged", "2024-05-01T12:00:00",
                          "2024-05-01T13:00:00"))
        flt = "&" + urllib.parse.urlencode({
            "$filter": "singleValueExtendedProperties/Any(ep: ep/id eq '%s' "
                       "and ep/value eq 'crm-9')" % EXT_FUN})
        items = self.view("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z",
                          extra=flt)
        self.assertEqual([i["subject"] for i in items], ["tagged"])

    def test_ten_thousand_events_in_big_delta_pages(self):
        t0 = time.time()
        self.fake.control("seed", {"count": 10000,
                                   "start": "2030-01-01T00:00:00Z",
                                   "intervalMinutes": 30})
        items, link, pages = self.delta_round(
            "/me/calendarView/delta" + q(startDateTime="2030-01-01T00:00:00Z",
                                         endDateTime="2031-01-01T00:00:00Z"),
            {"Prefer": "odata.maxpagesize=1000"})
        self.assertEqual(len(items), 10000)
        self.assertEqual(len(pages), 10)
        self.assertEqual(len({i["id"] for i in items}), 10000)
        self.assertLess(time.time() - t0, 20)

    def test_ready_line_loopback_and_sigterm(self):
        f = Fake()
        try:
            self.assertRegex(f.ready_line, r"^READY \d+\n$")
            s, _, body = f.call("GET", "/v1.0/me", token=f.token())
            self.assertEqual(s, 200)
        finally:
            code, rest = f.stop()
        self.assertEqual((code, rest), (0, b""))
        self.assertIn("GET /v1.0/me -> 200", f.log_text)

    def test_state_file_survives_a_restart(self):
        d = tempfile.mkdtemp()
        try:
            path = os.path.join(d, "state.json")
            f = Fake("--state", path)
            tok = f.token()
            s, _, ev = f.call("POST", "/v1.0/me/events", event(
                "kept", "2024-05-01T10:00:00", "2024-05-01T11:00:00",
                recurrence=weekly(["wednesday"], "2024-05-01")), token=tok)
            self.assertEqual(s, 201, ev)
            s, _, page = f.call("GET", "/v1.0/me/calendarView/delta" + q(
                startDateTime="2024-05-01T00:00:00Z",
                endDateTime="2024-05-15T00:00:00Z"), token=tok)
            link = page["@odata.deltaLink"]
            self.assertEqual(f.stop()[0], 0)
            g = Fake("--state", path)
            try:
                link = link.replace(f.base, g.base)
                s, _, again = g.call("GET", "/v1.0/me/events/" + ev["id"],
                                     token=tok)
                self.assertEqual((s, again["subject"]), (200, "kept"))
                s, _, page = g.call("GET", link, token=tok)
                self.assertEqual((s, page["value"]), (200, []))
            finally:
                self.assertEqual(g.stop()[0], 0)
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
