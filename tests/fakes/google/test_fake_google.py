"""Self-test of fake_google.py against the examples in Google's documentation.

Run from the repository root:
    python3 -m unittest tests/fakes/google/test_fake_google.py

Each test names the page of Google's documentation whose example or rule it
checks (see README.md for the list of pages).
"""

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import fake_client  # noqa: E402  (tests/fakes/fake_client.py)
FAKE = os.path.join(HERE, "fake_google.py")

USER = "user@example.test"
TEAM = "team@group.calendar.example.test"
CLIENT_ID = "tandem-test-client"
CLIENT_SECRET = "tandem-test-secret"
CAL_SCOPE = "https://www.googleapis.com/auth/calendar"
EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"


class Fake(fake_client.FakeProcess):
    """The Google fake as a subprocess on a free loopback port."""
    SCRIPT = FAKE


def q(**params):
    return "?" + urllib.parse.urlencode(params, doseq=True)


def events_path(cal="primary", event_id=None, suffix=""):
    p = "/calendar/v3/calendars/%s/events" % urllib.parse.quote(cal, safe="")
    if event_id:
        p += "/" + event_id
    return p + suffix


def timed(start, end, **fields):
    out = {"start": {"dateTime": start}, "end": {"dateTime": end}}
    out.update(fields)
    return out


class FakeCase(fake_client.FakeTestCase):
    FAKE = Fake

    # helpers
    def api(self, method, path, body=None, headers=None, token="default"):
        if token == "default":
            token = self.tok
        return self.fake.call(method, path, body, headers, token)

    def insert(self, body, cal="primary"):
        status, _, ev = self.api("POST", events_path(cal), body)
        self.assertEqual(status, 200, ev)
        return ev

    def list_all(self, path_query):
        """Follows nextPageToken; returns (items, last page)."""
        items, page_token = [], None
        while True:
            path = path_query
            if page_token:
                path += "&pageToken=" + urllib.parse.quote(page_token, safe="")
            status, _, page = self.api("GET", path)
            self.assertEqual(status, 200, page)
            items += page["items"]
            page_token = page.get("nextPageToken")
            if not page_token:
                return items, page
            self.assertNotIn("nextSyncToken", page)


# ---------------------------------------------------------------------------
# Handle API errors: the JSON of each listed error
# https://developers.google.com/workspace/calendar/api/guides/errors
# ---------------------------------------------------------------------------

class ErrorShapes(FakeCase):

    def test_400_time_range_empty_is_the_documented_example(self):
        status, _, body = self.api("GET", events_path() + q(
            timeMin="2011-06-03T10:00:00Z", timeMax="2011-06-03T10:00:00Z"))
        self.assertEqual(status, 400)
        self.assertEqual(body, {"error": {"errors": [{
            "domain": "calendar", "reason": "timeRangeEmpty",
            "message": "The specified time range is empty.",
            "locationType": "parameter", "location": "timeMax"}],
            "code": 400, "message": "The specified time range is empty."}})

    def test_401_invalid_credentials(self):
        expected = {"error": {"errors": [{
            "domain": "global", "reason": "authError",
            "message": "Invalid Credentials", "locationType": "header",
            "location": "Authorization"}], "code": 401,
            "message": "Invalid Credentials"}}
        for token in (None, "not-a-token"):
            status, _, body = self.api("GET", events_path(), token=token)
            self.assertEqual(status, 401)
            self.assertEqual(body, expected)

    def test_403_rate_limit_bodies(self):
        cases = {
            "userRateLimitExceeded": ("usageLimits", "User Rate Limit Exceeded"),
            "rateLimitExceeded": ("usageLimits", "Rate Limit Exceeded"),
            "quotaExceeded": ("usageLimits", "Calendar usage limits exceeded."),
        }
        for reason, (domain, message) in cases.items():
            self.fake.control("fail", {"status": 403, "reason": reason})
            status, _, body = self.api("GET", events_path())
            self.assertEqual(status, 403)
            self.assertEqual(body, {"error": {"errors": [{
                "domain": domain, "reason": reason, "message": message}],
                "code": 403, "message": message}})
        status, _, _ = self.api("GET", events_path())
        self.assertEqual(status, 200, "count=1 fails exactly one call")

    def test_404_not_found(self):
        status, _, body = self.api("GET", events_path(event_id="nosuchevent0"))
        self.assertEqual(status, 404)
        self.assertEqual(body, {"error": {"errors": [{
            "domain": "global", "reason": "notFound", "message": "Not Found"}],
            "code": 404, "message": "Not Found"}})
        status, _, _ = self.api("GET", events_path("nobody@example.test"))
        self.assertEqual(status, 404, "a calendar the user can not access")

    def test_409_duplicate_identifier(self):
        body = timed("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z",
                     id="tandemappointment0001")
        self.insert(body)
        status, _, err = self.api("POST", events_path(), body)
        self.assertEqual(status, 409)
        self.assertEqual(err, {"error": {"errors": [{
            "domain": "global", "reason": "duplicate",
            "message": "The requested identifier already exists."}],
            "code": 409, "message": "The requested identifier already exists."}})

    def test_409_duplicate_ical_uid(self):
        body = timed("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z",
                     iCalUID="crm-7@tandem.example.test")
        self.insert(body)
        status, _, err = self.api("POST", events_path(), body)
        self.assertEqual(status, 409)
        self.assertEqual(err["error"]["errors"][0]["reason"], "duplicate")
        self.insert(body, cal=TEAM)      # unique per calendar only

    def test_410_deleting_a_deleted_event(self):
        ev = self.insert(timed("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"))
        status, _, _ = self.api("DELETE", events_path(event_id=ev["id"]))
        self.assertEqual(status, 204)
        status, _, body = self.api("DELETE", events_path(event_id=ev["id"]))
        self.assertEqual(status, 410)
        self.assertEqual(body, {"error": {"errors": [{
            "domain": "global", "reason": "deleted",
            "message": "Resource has been deleted"}], "code": 410,
            "message": "Resource has been deleted"}})

    def test_412_precondition_failed(self):
        ev = self.insert(timed("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z",
                               summary="v1"))
        status, _, ev2 = self.api("PATCH", events_path(event_id=ev["id"]),
                                  {"summary": "v2"})
        self.assertEqual(status, 200)
        self.assertNotEqual(ev["etag"], ev2["etag"])
        expected = {"error": {"errors": [{
            "domain": "global", "reason": "conditionNotMet",
            "message": "Precondition Failed", "locationType": "header",
            "location": "If-Match"}], "code": 412,
            "message": "Precondition Failed"}}
        stale = {"If-Match": ev["etag"]}
        for method, body in (("PUT", dict(ev, summary="v3")),
                             ("PATCH", {"summary": "v3"}), ("DELETE", None)):
            status, _, err = self.api(method, events_path(event_id=ev["id"]),
                                      body, headers=stale)
            self.assertEqual(status, 412, method)
            self.assertEqual(err, expected)
        status, _, ev3 = self.api("PATCH", events_path(event_id=ev["id"]),
                                  {"summary": "v3"},
                                  headers={"If-Match": ev2["etag"]})
        self.assertEqual(status, 200)
        self.assertEqual(ev3["summary"], "v3")

    def test_429_and_503_carry_retry_after(self):
        self.fake.control("fail", {"status": 429, "retry_after": 7})
        status, hdrs, body = self.api("GET", events_path())
        self.assertEqual(status, 429)
        self.assertEqual(hdrs.get("retry-after"), "7")
        self.assertEqual(body, {"error": {"errors": [{
            "domain": "usageLimits", "reason": "rateLimitExceeded",
            "message": "Rate Limit Exceeded"}], "code": 429,
            "message": "Rate Limit Exceeded"}})
        self.fake.control("fail", {"status": 503, "count": 2})
        for _ in range(2):
            status, hdrs, body = self.api("GET", events_path())
            self.assertEqual(status, 503)
            self.assertIn("retry-after", hdrs)
            self.assertEqual(body["error"]["code"], 503)
        self.assertEqual(self.api("GET", events_path())[0], 200)

    def test_500_backend_error_and_path_filter(self):
        self.fake.control("fail", {"status": 500, "path_contains": "/events/"})
        self.assertEqual(self.api("GET", events_path())[0], 200,
                         "the list path does not contain /events/")
        status, _, body = self.api("GET", events_path(event_id="abcdefgh"))
        self.assertEqual(status, 500)
        self.assertEqual(body, {"error": {"errors": [{
            "domain": "global", "reason": "backendError",
            "message": "Backend Error"}], "code": 500,
            "message": "Backend Error"}})


# ---------------------------------------------------------------------------
# Synchronize resources efficiently
# https://developers.google.com/workspace/calendar/api/guides/sync
# ---------------------------------------------------------------------------

class SyncGuide(FakeCase):

    def test_full_sync_then_incremental_sync(self):
        self.fake.control("seed", {"calendarId": "primary", "count": 25,
                                   "start": "2030-01-01T09:00:00Z"})
        pages = []
        path = events_path() + q(maxResults=10)
        token = None
        while True:
            p = path + ("&pageToken=" + urllib.parse.quote(token, safe="")
                        if token else "")
            status, _, page = self.api("GET", p)
            self.assertEqual(status, 200)
            pages.append(page)
            token = page.get("nextPageToken")
            if not token:
                break
        self.assertEqual([len(p["items"]) for p in pages], [10, 10, 5])
        # nextSyncToken is present only on the very last page
        for p in pages[:-1]:
            self.assertIn("nextPageToken", p)
            self.assertNotIn("nextSyncToken", p)
        self.assertIn("nextSyncToken", pages[-1])
        self.assertNotIn("nextPageToken", pages[-1])
        items = [e for p in pages for e in p["items"]]
        self.assertEqual(len({e["id"] for e in items}), 25)
        sync = pages[-1]["nextSyncToken"]

        changed, deleted = items[3], items[7]
        self.assertEqual(self.api("PATCH", events_path(event_id=changed["id"]),
                                  {"summary": "moved"})[0], 200)
        self.assertEqual(self.api("DELETE",
                                  events_path(event_id=deleted["id"]))[0], 204)
        new = self.insert(timed("2030-02-01T09:00:00Z", "2030-02-01T10:00:00Z",
                                summary="new"))

        status, _, inc = self.api("GET", events_path() + q(syncToken=sync))
        self.assertEqual(status, 200)
        by_id = {e["id"]: e for e in inc["items"]}
        self.assertEqual(set(by_id), {changed["id"], deleted["id"], new["id"]})
        self.assertEqual(by_id[changed["id"]]["summary"], "moved")
        self.assertEqual(by_id[new["id"]]["summary"], "new")
        # The result always contains deleted entries; deleted events are only
        # guaranteed to have the id field populated.
        gone = by_id[deleted["id"]]
        self.assertEqual(gone["status"], "cancelled")
        self.assertTrue(set(gone) <= {"kind", "etag", "id", "status"}, gone)
        self.assertIn("nextSyncToken", inc)

        status, _, again = self.api("GET", events_path() + q(
            syncToken=inc["nextSyncToken"]))
        self.assertEqual(status, 200)
        self.assertEqual(again["items"], [])

    def test_incremental_sync_paginated_like_the_guide(self):
        _, last = self.list_all(events_path() + q(singleEvents="true"))
        sync = last["nextSyncToken"]
        self.fake.control("seed", {"count": 15})
        # GET /calendars/primary/events?maxResults=10&singleEvents=true
        #     &syncToken=...
        status, _, first = self.api("GET", events_path() + q(
            maxResults=10, singleEvents="true", syncToken=sync))
        self.assertEqual(status, 200)
        self.assertEqual(len(first["items"]), 10)
        self.assertIn("nextPageToken", first)
        self.assertNotIn("nextSyncToken", first)
        # ... the exact same query with the exact same syncToken + pageToken
        status, _, second = self.api("GET", events_path() + q(
            maxResults=10, singleEvents="true", syncToken=sync,
            pageToken=first["nextPageToken"]))
        self.assertEqual(status, 200)
        self.assertEqual(len(second["items"]), 5)
        self.assertIn("nextSyncToken", second)
        ids = {e["id"] for e in first["items"] + second["items"]}
        self.assertEqual(len(ids), 15)

    def test_entries_changed_while_paginating_are_not_missed(self):
        self.fake.control("seed", {"count": 6})
        status, _, p1 = self.api("GET", events_path() + q(maxResults=3))
        seen = p1["items"][0]
        self.api("PATCH", events_path(event_id=seen["id"]),
                 {"summary": "edited while paginating"})
        added = self.insert(timed("2031-01-01T09:00:00Z",
                                  "2031-01-01T10:00:00Z"))
        items, last = self.list_all(events_path() + q(maxResults=3) +
                                    "&pageToken=" + urllib.parse.quote(
                                        p1["nextPageToken"], safe=""))
        status, _, inc = self.api("GET", events_path() + q(
            syncToken=last["nextSyncToken"]))
        ids = {e["id"] for e in inc["items"]}
        self.assertIn(seen["id"], ids)
        self.assertIn(added["id"], ids)

    def test_sync_token_with_restricting_parameters_is_400(self):
        _, last = self.list_all(events_path() + "?")
        sync = last["nextSyncToken"]
        restricted = {"iCalUID": "x@example.test", "orderBy": "updated",
                      "privateExtendedProperty": "a=b", "q": "x",
                      "sharedExtendedProperty": "a=b",
                      "timeMin": "2024-01-01T00:00:00Z",
                      "timeMax": "2024-01-01T00:00:00Z",
                      "updatedMin": "2024-01-01T00:00:00Z"}
        for name, value in restricted.items():
            status, _, body = self.api("GET", events_path() + q(
                syncToken=sync, **{name: value}))
            self.assertEqual(status, 400, name)
            self.assertEqual(body["error"]["code"], 400)
        # "it is not allowed to set showDeleted to False"
        status, _, _ = self.api("GET", events_path() + q(syncToken=sync,
                                                         showDeleted="false"))
        self.assertEqual(status, 400)
        status, _, _ = self.api("GET", events_path() + q(syncToken=sync,
                                                         showDeleted="true"))
        self.assertEqual(status, 200)

    def test_full_sync_required_by_server(self):
        _, last = self.list_all(events_path() + "?")
        sync = last["nextSyncToken"]
        self.fake.control("expire_sync_tokens")
        expected = {"error": {"errors": [{
            "domain": "calendar", "reason": "fullSyncRequired",
            "message": "Sync token is no longer valid, a full sync is "
                       "required.",
            "locationType": "parameter", "location": "syncToken"}],
            "code": 410,
            "message": "Sync token is no longer valid, a full sync is "
                       "required."}}
        status, _, body = self.api("GET", events_path() + q(syncToken=sync))
        self.assertEqual(status, 410)
        self.assertEqual(body, expected)
        # an altered token is no longer valid either
        status, _, body = self.api("GET", events_path() + q(
            syncToken="1" + sync))
        self.assertEqual(status, 410)
        # recovery: a new full sync without syncToken
        _, last = self.list_all(events_path() + "?")
        status, _, _ = self.api("GET", events_path() + q(
            syncToken=last["nextSyncToken"]))
        self.assertEqual(status, 200)

    def test_sync_token_belongs_to_its_calendar(self):
        _, last = self.list_all(events_path() + "?")
        status, _, _ = self.api("GET", events_path(TEAM) + q(
            syncToken=last["nextSyncToken"]))
        self.assertEqual(status, 410)

    def test_page_token_needs_the_same_query(self):
        self.fake.control("seed", {"count": 5})
        _, _, p1 = self.api("GET", events_path() + q(maxResults=2))
        status, _, _ = self.api("GET", events_path() + q(
            maxResults=2, showDeleted="true", pageToken=p1["nextPageToken"]))
        self.assertEqual(status, 400)


# ---------------------------------------------------------------------------
# Events resource and methods (Events: insert/get/update/patch/delete/list)
# https://developers.google.com/workspace/calendar/api/v3/reference/events
# ---------------------------------------------------------------------------

class EventsResource(FakeCase):

    def test_insert_keeps_fields_and_sets_server_fields(self):
        body = timed("2024-06-03T10:00:00-07:00", "2024-06-03T10:25:00-07:00",
                     summary="Appointment", location="Somewhere",
                     description="CRM appointment 42",
                     iCalUID="crm-42@tandem.example.test",
                     visibility="private", transparency="transparent",
                     reminders={"useDefault": False, "overrides": [
                         {"method": "email", "minutes": 1440},
                         {"method": "popup", "minutes": 10}]},
                     extendedProperties={"private": {"tandemId": "42"},
                                         "shared": {"crm": "acme"}})
        body["start"]["timeZone"] = "America/Los_Angeles"
        body["end"]["timeZone"] = "America/Los_Angeles"
        ev = self.insert(body)
        for k in ("summary", "location", "description", "iCalUID",
                  "visibility", "transparency", "reminders",
                  "extendedProperties"):
            self.assertEqual(ev[k], body[k], k)
        self.assertEqual(ev["kind"], "calendar#event")
        self.assertEqual(ev["status"], "confirmed")
        self.assertEqual(ev["sequence"], 0)
        self.assertEqual(ev["start"]["timeZone"], "America/Los_Angeles")
        self.assertEqual(ev["start"]["dateTime"], "2024-06-03T17:00:00Z",
                         "rendered in the calendar's time zone (UTC)")
        for k in ("id", "etag", "created", "updated", "htmlLink", "creator",
                  "organizer"):
            self.assertIn(k, ev)
        status, hdrs, got = self.api("GET", events_path(event_id=ev["id"]))
        self.assertEqual(status, 200)
        self.assertEqual(got, ev)
        self.assertEqual(hdrs["etag"], ev["etag"])
        status, _, got = self.api("GET", events_path(event_id=ev["id"]) + q(
            timeZone="America/Los_Angeles"))
        self.assertEqual(got["start"]["dateTime"], "2024-06-03T10:00:00-07:00")

    def test_defaults_and_generated_ical_uid(self):
        ev = self.insert(timed("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z",
                               transparency="opaque", visibility="default"))
        self.assertEqual(ev["reminders"], {"useDefault": True})
        self.assertNotIn("transparency", ev)     # "opaque" is the default
        self.assertNotIn("visibility", ev)       # "default" is the default
        self.assertTrue(ev["iCalUID"])
        self.assertRegex(ev["id"], r"^[a-v0-9]{5,1024}$")

    def test_time_validation(self):
        bad = [
            ({"start": {"date": "2024-06-03"},
              "end": {"dateTime": "2024-06-03T11:00:00Z"}}, "mixing"),
            (timed("2024-06-03T11:00:00Z", "2024-06-03T10:00:00Z"),
             "end before start"),
            ({"start": {"date": "2024-06-03"}, "end": {"date": "2024-06-03"}},
             "empty all-day range"),
            (timed("2024-06-03T10:00:00", "2024-06-03T11:00:00"),
             "no offset and no timeZone"),
            ({"start": {"dateTime": "2024-06-03T10:00:00Z"}}, "no end"),
            (timed("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z",
                   visibility="secret"), "visibility"),
            (timed("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z",
                   id="UPPERCASE"), "id not base32hex"),
            (timed("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z",
                   reminders={"useDefault": True, "overrides": [
                       {"method": "popup", "minutes": 5}]}), "reminders"),
        ]
        for body, why in bad:
            status, _, err = self.api("POST", events_path(), body)
            self.assertEqual(status, 400, why)
            self.assertEqual(err["error"]["code"], 400)
            self.assertIn("errors", err["error"])
        ok = {"start": {"dateTime": "2024-06-03T10:00:00",
                        "timeZone": "Europe/Berlin"},
              "end": {"dateTime": "2024-06-03T11:00:00",
                      "timeZone": "Europe/Berlin"}}
        ev = self.insert(ok)
        self.assertEqual(ev["start"]["dateTime"], "2024-06-03T08:00:00Z")
        allday = self.insert({"start": {"date": "2024-06-03"},
                              "end": {"date": "2024-06-04"}})
        self.assertEqual(allday["start"], {"date": "2024-06-03"})

    def test_update_replaces_and_patch_merges(self):
        ev = self.insert(timed(
            "2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z", summary="s",
            description="d", extendedProperties={"private": {"a": "1"}}))
        status, _, p = self.api("PATCH", events_path(event_id=ev["id"]), {
            "extendedProperties": {"private": {"b": "2"}}})
        self.assertEqual(status, 200)
        self.assertEqual(p["extendedProperties"]["private"],
                         {"a": "1", "b": "2"})
        self.assertEqual(p["description"], "d")
        self.assertEqual(p["sequence"], 0)
        self.assertGreater(p["updated"], ev["updated"])
        put = timed("2024-06-03T12:00:00Z", "2024-06-03T13:00:00Z",
                    summary="s2")
        status, _, u = self.api("PUT", events_path(event_id=ev["id"]), put)
        self.assertEqual(status, 200)
        self.assertNotIn("description", u)         # update replaces
        self.assertNotIn("extendedProperties", u)
        self.assertEqual(u["id"], ev["id"])
        self.assertEqual(u["iCalUID"], ev["iCalUID"])
        self.assertEqual(u["created"], ev["created"])
        self.assertEqual(u["sequence"], 1, "the start time changed")
        self.assertNotEqual(u["etag"], p["etag"])
        status, _, err = self.api("PUT", events_path(event_id=ev["id"]),
                                  dict(put, sequence=0))
        self.assertEqual(status, 400, "sequence below the current one")

    def test_conditional_retrieval(self):
        ev = self.insert(timed("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z"))
        status, _, raw = self.fake.request(
            "GET", events_path(event_id=ev["id"]),
            headers={"If-None-Match": ev["etag"]}, token=self.tok)
        self.assertEqual(status, 304)
        self.assertEqual(raw, b"")
        self.api("PATCH", events_path(event_id=ev["id"]), {"summary": "x"})
        status, _, _ = self.fake.request(
            "GET", events_path(event_id=ev["id"]),
            headers={"If-None-Match": ev["etag"]}, token=self.tok)
        self.assertEqual(status, 200)

    def test_deleted_events_show_deleted_and_get(self):
        ev = self.insert(timed("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z",
                               summary="gone"))
        self.api("DELETE", events_path(event_id=ev["id"]))
        items, _ = self.list_all(events_path() + "?")
        self.assertEqual(items, [])
        items, _ = self.list_all(events_path() + q(showDeleted="true"))
        self.assertEqual(len(items), 1)
        self.assertEqual(items[0]["status"], "cancelled")
        self.assertEqual(items[0]["summary"], "gone")
        status, _, got = self.api("GET", events_path(event_id=ev["id"]))
        self.assertEqual(status, 200, "the get method always returns them")
        self.assertEqual(got["status"], "cancelled")

    def test_list_filters(self):
        a = self.insert(timed("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z",
                              iCalUID="a@crm.example.test",
                              extendedProperties={"private": {"crm": "1",
                                                              "kind": "x"}}))
        b = self.insert(timed("2024-06-03T11:00:00Z", "2024-06-03T12:00:00Z",
                              extendedProperties={"private": {"crm": "2"},
                                                  "shared": {"crm": "1"}}))
        c = self.insert({"start": {"date": "2024-06-05"},
                         "end": {"date": "2024-06-06"}, "summary": "Fair"})

        def ids(**params):
            items, _ = self.list_all(events_path() + q(**params))
            return {e["id"] for e in items}

        self.assertEqual(ids(iCalUID="a@crm.example.test"), {a["id"]})
        self.assertEqual(ids(privateExtendedProperty="crm=1"), {a["id"]})
        self.assertEqual(ids(privateExtendedProperty=["crm=1", "kind=x"]),
                         {a["id"]})
        self.assertEqual(ids(privateExtendedProperty=["crm=1", "kind=y"]),
                         set())
        self.assertEqual(ids(sharedExtendedProperty="crm=1"), {b["id"]})
        # timeMin bounds the end (exclusive), timeMax the start (exclusive)
        self.assertEqual(ids(timeMin="2024-06-03T11:00:00Z",
                             timeMax="2024-06-05T00:00:00Z"), {b["id"]})
        self.assertEqual(ids(timeMin="2024-06-03T10:30:00Z",
                             timeMax="2024-06-03T11:00:00Z"), {a["id"]})
        self.assertEqual(ids(timeMin="2024-06-05T12:00:00+02:00"), {c["id"]})
        self.assertEqual(ids(q="fair"), {c["id"]})
        status, _, _ = self.api("GET", events_path() + q(
            timeMin="2024-06-03"))
        self.assertEqual(status, 400, "timeMin needs an RFC 3339 offset")

    def test_max_results(self):
        self.fake.control("seed", {"count": 2600})
        status, _, page = self.api("GET", events_path())
        self.assertEqual(len(page["items"]), 250, "default 250")
        status, _, page = self.api("GET", events_path() + q(maxResults=9999))
        self.assertEqual(len(page["items"]), 2500, "never larger than 2500")
        status, _, _ = self.api("GET", events_path() + q(maxResults=0))
        self.assertEqual(status, 400)

    def test_scopes_and_access_roles(self):
        ev_only = self.fake.token(scopes=[EVENTS_SCOPE])
        status, _, body = self.fake.call(
            "GET", "/calendar/v3/users/me/calendarList", token=ev_only)
        self.assertEqual(status, 403, "calendarList.list needs calendar(.readonly)")
        self.assertEqual(body["error"]["errors"][0]["reason"],
                         "insufficientPermissions")
        status, _, _ = self.fake.call("GET", events_path(), token=ev_only)
        self.assertEqual(status, 200)
        self.fake.control("calendars", {"id": "holidays@group.example.test",
                                        "summary": "Holidays",
                                        "accessRole": "reader"})
        status, _, body = self.api("POST",
                                   events_path("holidays@group.example.test"),
                                   timed("2024-06-03T10:00:00Z",
                                         "2024-06-03T11:00:00Z"))
        self.assertEqual(status, 403)
        self.assertEqual(body["error"]["errors"][0]["reason"],
                         "requiredAccessLevel")


# ---------------------------------------------------------------------------
# Recurring events
# https://developers.google.com/workspace/calendar/api/guides/recurringevents
# ---------------------------------------------------------------------------

GUIDE_SERIES = {
    "summary": "Appointment", "location": "Somewhere",
    "start": {"dateTime": "2011-06-03T10:00:00.000-07:00",
              "timeZone": "America/Los_Angeles"},
    "end": {"dateTime": "2011-06-03T10:25:00.000-07:00",
            "timeZone": "America/Los_Angeles"},
    "recurrence": ["RRULE:FREQ=WEEKLY;UNTIL=20110701T170000Z"],
}


class RecurringEvents(FakeCase):

    def test_guide_series_and_its_instances(self):
        master = self.insert(GUIDE_SERIES)
        self.assertEqual(master["recurrence"], GUIDE_SERIES["recurrence"])
        status, _, inst = self.api(
            "GET", events_path(event_id=master["id"], suffix="/instances"))
        self.assertEqual(status, 200)
        starts = [i["start"]["dateTime"] for i in inst["items"]]
        self.assertEqual(starts, ["2011-06-03T17:00:00Z", "2011-06-10T17:00:00Z",
                                  "2011-06-17T17:00:00Z", "2011-06-24T17:00:00Z",
                                  "2011-07-01T17:00:00Z"])
        for i in inst["items"]:
            self.assertEqual(i["recurringEventId"], master["id"])
            self.assertEqual(i["originalStartTime"]["dateTime"],
                             i["start"]["dateTime"])
            self.assertNotIn("recurrence", i)
            self.assertEqual(i["iCalUID"], master["iCalUID"])
        # singleEvents=false (default): the series is one master event
        items, _ = self.list_all(events_path() + "?")
        self.assertEqual([e["id"] for e in items], [master["id"]])
        items, _ = self.list_all(events_path() + q(singleEvents="true",
                                                   orderBy="startTime"))
        self.assertEqual([e["start"]["dateTime"] for e in items], starts)

    def test_modified_and_cancelled_instances_are_exceptions(self):
        master = self.insert(GUIDE_SERIES)
        _, _, inst = self.api(
            "GET", events_path(event_id=master["id"], suffix="/instances"))
        second, third = inst["items"][1], inst["items"][2]
        _, last = self.list_all(events_path() + "?")
        sync = last["nextSyncToken"]
        # modify one instance
        status, _, moved = self.api("PATCH",
                                    events_path(event_id=second["id"]),
                                    {"summary": "Moved appointment"})
        self.assertEqual(status, 200)
        self.assertEqual(moved["recurringEventId"], master["id"])
        self.assertEqual(moved["originalStartTime"],
                         second["originalStartTime"])
        # cancel another
        status, _, _ = self.api("DELETE", events_path(event_id=third["id"]))
        self.assertEqual(status, 204)
        items, _ = self.list_all(events_path() + "?")
        by_id = {e["id"]: e for e in items}
        self.assertEqual(set(by_id), {master["id"], second["id"], third["id"]})
        self.assertEqual(by_id[second["id"]]["summary"], "Moved appointment")
        cancelled = by_id[third["id"]]
        self.assertEqual(cancelled["status"], "cancelled")
        self.assertEqual(cancelled["recurringEventId"], master["id"])
        self.assertEqual(cancelled["originalStartTime"],
                         third["originalStartTime"])
        # singleEvents=true: 4 instances left, one of them modified
        items, _ = self.list_all(events_path() + q(singleEvents="true"))
        self.assertEqual(len(items), 4)
        self.assertIn("Moved appointment", [e["summary"] for e in items])
        # incremental sync hears both exceptions
        status, _, inc = self.api("GET", events_path() + q(syncToken=sync))
        self.assertEqual({e["id"] for e in inc["items"]},
                         {second["id"], third["id"]})

    def test_rules_exdate_count_and_dst(self):
        s = self.insert({
            "start": {"dateTime": "2011-03-04T10:00:00-08:00",
                      "timeZone": "America/Los_Angeles"},
            "end": {"dateTime": "2011-03-04T11:00:00-08:00",
                    "timeZone": "America/Los_Angeles"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4",
                           "EXDATE;TZID=America/Los_Angeles:20110318T100000"]})
        _, _, inst = self.api(
            "GET", events_path(event_id=s["id"], suffix="/instances") + q(
                timeZone="America/Los_Angeles"))
        self.assertEqual([i["start"]["dateTime"] for i in inst["items"]],
                         ["2011-03-04T10:00:00-08:00",
                          "2011-03-11T10:00:00-08:00",
                          "2011-03-25T10:00:00-07:00"])
        monthly = self.insert({
            "start": {"date": "2024-01-26"}, "end": {"date": "2024-01-27"},
            "recurrence": ["RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=3"]})
        _, _, inst = self.api(
            "GET", events_path(event_id=monthly["id"], suffix="/instances"))
        self.assertEqual([i["start"]["date"] for i in inst["items"]],
                         ["2024-01-26", "2024-02-23", "2024-03-29"])
        self.assertEqual(inst["items"][1]["id"], monthly["id"] + "_20240223")

    def test_recurrence_validation(self):
        no_tz = dict(GUIDE_SERIES, start={"dateTime": "2011-06-03T10:00:00Z"},
                     end={"dateTime": "2011-06-03T11:00:00Z"})
        self.assertEqual(self.api("POST", events_path(), no_tz)[0], 400)
        dtstart = dict(GUIDE_SERIES, recurrence=[
            "DTSTART:20110603T100000", "RRULE:FREQ=DAILY"])
        self.assertEqual(self.api("POST", events_path(), dtstart)[0], 400)
        self.assertEqual(self.api("POST", events_path(), dict(
            GUIDE_SERIES, recurrence=["RRULE:FREQ=SOMETIMES"]))[0], 400)


# ---------------------------------------------------------------------------
# Send batch requests
# https://developers.google.com/workspace/calendar/api/guides/batch
# ---------------------------------------------------------------------------

def multipart(boundary, parts):
    out = []
    for cid, request in parts:
        head = "--%s\r\nContent-Type: application/http\r\n" % boundary
        if cid:
            head += "Content-ID: %s\r\n" % cid
        out.append(head + "\r\n" + request + "\r\n")
    return ("".join(out) + "--%s--\r\n" % boundary).encode()


def parse_batch_response(ctype, raw):
    boundary = ctype.split("boundary=")[1].strip('"')
    chunks = raw.split(("--" + boundary).encode())
    self_parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.strip(b"\r\n")
        head, _, inner = chunk.partition(b"\r\n\r\n")
        phead = dict(line.split(": ", 1) for line in
                     head.decode().split("\r\n"))
        ihead, _, body = inner.partition(b"\r\n\r\n")
        lines = ihead.decode().split("\r\n")
        status_line = lines[0]
        ih = dict(line.split(": ", 1) for line in lines[1:])
        self_parts.append((phead, status_line, ih,
                           json.loads(body) if body.strip() else None))
    return self_parts


class BatchGuide(FakeCase):

    def test_the_guide_example_shape_with_calendar_calls(self):
        ev = self.insert(timed("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z",
                               summary="pony"))
        put_body = json.dumps(dict(ev, summary="sheep"))
        body = multipart("batch_foobarbaz", [
            ("<item1:12930812@barnyard.example.com>",
             "GET %s\r\n" % events_path(event_id=ev["id"])),
            ("<item2:12930812@barnyard.example.com>",
             "PUT %s\r\nContent-Type: application/json\r\n"
             "Content-Length: %d\r\nIf-Match: %s\r\n\r\n%s"
             % (events_path(event_id=ev["id"]), len(put_body), ev["etag"],
                put_body)),
            ("<item3:12930812@barnyard.example.com>",
             "GET %s\r\n" % events_path()),
        ])
        status, hdrs, raw = self.fake.request(
            "POST", "/batch/calendar/v3", body,
            headers={"Content-Type":
                     "multipart/mixed; boundary=batch_foobarbaz"},
            token=self.tok)
        self.assertEqual(status, 200)
        self.assertTrue(hdrs["content-type"].startswith("multipart/mixed"))
        parts = parse_batch_response(hdrs["content-type"], raw)
        self.assertEqual(
            [p[0]["Content-ID"] for p in parts],
            ["<response-item1:12930812@barnyard.example.com>",
             "<response-item2:12930812@barnyard.example.com>",
             "<response-item3:12930812@barnyard.example.com>"])
        for phead, status_line, _, _ in parts:
            self.assertEqual(phead["Content-Type"], "application/http")
            self.assertEqual(status_line, "HTTP/1.1 200 OK")
        self.assertEqual(parts[0][3]["summary"], "pony")
        self.assertEqual(parts[1][3]["summary"], "sheep")
        self.assertEqual(parts[1][2]["ETag"], parts[1][3]["etag"])
        self.assertEqual(parts[2][3]["kind"], "calendar#events")

    def test_part_headers_override_outer_and_errors_stay_in_their_part(self):
        ev = self.insert(timed("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z"))
        body = multipart("b1", [
            ("a", "DELETE %s\r\n" % events_path(event_id=ev["id"])),
            ("b", "GET %s\r\nAuthorization: Bearer wrong\r\n"
             % events_path()),
            (None, "GET %s\r\n" % events_path(event_id="nosuchevent0")),
        ])
        status, hdrs, raw = self.fake.request(
            "POST", "/batch/calendar/v3", body,
            headers={"Content-Type": "multipart/mixed; boundary=b1"},
            token=self.tok)
        self.assertEqual(status, 200)
        parts = parse_batch_response(hdrs["content-type"], raw)
        self.assertEqual([p[1] for p in parts],
                         ["HTTP/1.1 204 No Content", "HTTP/1.1 401 Unauthorized",
                          "HTTP/1.1 404 Not Found"])
        self.assertEqual(parts[0][0]["Content-ID"], "response-a")
        self.assertNotIn("Content-ID", parts[2][0])
        self.assertEqual(parts[1][3]["error"]["errors"][0]["reason"],
                         "authError")
        # each inner call is counted as a request
        reqs = self.fake.call("GET", "/_fake/requests")[2]
        self.assertEqual(sum(1 for r in reqs if r.get("batch")), 3)

    def test_batch_limits(self):
        one = ("x", "GET %s\r\n" % events_path())
        ctype = {"Content-Type": "multipart/mixed; boundary=lim"}
        status, _, raw = self.fake.request(
            "POST", "/batch/calendar/v3", multipart("lim", [one] * 1001),
            headers=ctype, token=self.tok)
        self.assertEqual(status, 400, "the guide: limited to 1000 calls")
        small = Fake("--max-batch-calls", "50")
        try:
            tok = small.token()
            status, _, _ = small.request("POST", "/batch/calendar/v3",
                                         multipart("lim", [one] * 50),
                                         headers=ctype, token=tok)
            self.assertEqual(status, 200)
            status, _, _ = small.request("POST", "/batch/calendar/v3",
                                         multipart("lim", [one] * 51),
                                         headers=ctype, token=tok)
            self.assertEqual(status, 400)
        finally:
            self.assertEqual(small.stop()[0], 0)
        # the discontinued global batch endpoint
        status, _, _ = self.fake.request(
            "POST", "/batch", multipart("lim", [one]), headers=ctype,
            token=self.tok)
        self.assertEqual(status, 404)


# ---------------------------------------------------------------------------
# OAuth 2.0 for iOS & Desktop Apps (loopback redirect, PKCE, refresh)
# https://developers.google.com/identity/protocols/oauth2/native-app
# ---------------------------------------------------------------------------

def pkce_pair():
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode() \
        .rstrip("=")
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


class OAuthDesktop(FakeCase):
    redirect = "http://127.0.0.1:9004/oauth2callback"

    def authorize(self, **over):
        params = {"client_id": CLIENT_ID, "redirect_uri": self.redirect,
                  "response_type": "code", "scope": CAL_SCOPE,
                  "state": "xyz-123"}
        params.update(over)
        params = {k: v for k, v in params.items() if v is not None}
        status, hdrs, raw = self.fake.request("GET", "/o/oauth2/v2/auth" +
                                              q(**params))
        loc = hdrs.get("location")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query) \
            if loc else {}
        return status, loc, {k: v[0] for k, v in query.items()}

    def token_call(self, **form):
        return self.fake.call(
            "POST", "/token", urllib.parse.urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def test_pkce_s256_code_flow_and_refresh(self):
        verifier, challenge = pkce_pair()
        status, loc, params = self.authorize(code_challenge=challenge,
                                             code_challenge_method="S256")
        self.assertEqual(status, 302)
        self.assertTrue(loc.startswith(self.redirect + "?"))
        self.assertEqual(params["state"], "xyz-123")
        code = params["code"]
        status, hdrs, tok = self.token_call(
            code=code, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            redirect_uri=self.redirect, grant_type="authorization_code",
            code_verifier=verifier)
        self.assertEqual(status, 200, tok)
        self.assertEqual(set(tok), {"access_token", "expires_in",
                                    "refresh_token", "scope", "token_type"})
        self.assertEqual(tok["token_type"], "Bearer")
        self.assertEqual(tok["scope"], CAL_SCOPE)
        self.assertEqual(tok["expires_in"], 3600)
        self.assertIn("no-store", hdrs["cache-control"])
        status, _, cl = self.fake.call(
            "GET", "/calendar/v3/users/me/calendarList",
            token=tok["access_token"])
        self.assertEqual(status, 200)
        # refresh: a new access token, no new refresh token
        status, _, ref = self.token_call(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            grant_type="refresh_token", refresh_token=tok["refresh_token"])
        self.assertEqual(status, 200, ref)
        self.assertEqual(set(ref), {"access_token", "expires_in", "scope",
                                    "token_type"})
        self.assertNotEqual(ref["access_token"], tok["access_token"])
        # expired access token: 401, then refresh works
        self.fake.control("expire_access_tokens")
        status, _, body = self.fake.call("GET", events_path(),
                                         token=ref["access_token"])
        self.assertEqual(status, 401)
        self.assertEqual(body["error"]["errors"][0]["reason"], "authError")
        # revoked refresh token
        self.fake.control("revoke_refresh_tokens")
        status, _, err = self.token_call(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            grant_type="refresh_token", refresh_token=tok["refresh_token"])
        self.assertEqual(status, 400)
        self.assertEqual(err, {"error": "invalid_grant",
                               "error_description":
                                   "Token has been expired or revoked."})

    def test_code_is_single_use(self):
        verifier, challenge = pkce_pair()
        _, _, params = self.authorize(code_challenge=challenge,
                                      code_challenge_method="S256")
        form = dict(code=params["code"], client_id=CLIENT_ID,
                    client_secret=CLIENT_SECRET, redirect_uri=self.redirect,
                    grant_type="authorization_code", code_verifier=verifier)
        status, _, tok = self.token_call(**form)
        self.assertEqual(status, 200)
        status, _, err = self.token_call(**form)
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))
        # RFC 6749 4.1.2: tokens already issued from a reused code are revoked
        status, _, _ = self.fake.call("GET", events_path(),
                                      token=tok["access_token"])
        self.assertEqual(status, 401)
        status, _, err = self.token_call(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            grant_type="refresh_token", refresh_token=tok["refresh_token"])
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))

    def test_wrong_verifier_and_redirect(self):
        verifier, challenge = pkce_pair()
        _, _, params = self.authorize(code_challenge=challenge,
                                      code_challenge_method="S256")
        other, _ = pkce_pair()
        status, _, err = self.token_call(
            code=params["code"], client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET, redirect_uri=self.redirect,
            grant_type="authorization_code", code_verifier=other)
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))
        _, _, params = self.authorize(code_challenge=challenge,
                                      code_challenge_method="S256")
        status, _, err = self.token_call(
            code=params["code"], client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri="http://127.0.0.1:9005/oauth2callback",
            grant_type="authorization_code", code_verifier=verifier)
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))

    def test_authorization_errors(self):
        _, challenge = pkce_pair()
        status, loc, _ = self.authorize(client_id="nobody",
                                        code_challenge=challenge,
                                        code_challenge_method="S256")
        self.assertEqual((status, loc), (401, None), "no redirect")
        status, loc, _ = self.authorize(redirect_uri="https://evil.example/cb",
                                        code_challenge=challenge,
                                        code_challenge_method="S256")
        self.assertEqual((status, loc), (400, None), "no redirect")
        status, _, params = self.authorize()      # no PKCE
        self.assertEqual((status, params["error"]), (302, "invalid_request"))
        status, _, params = self.authorize(code_challenge=challenge)  # plain
        self.assertEqual(params["error"], "invalid_request")
        self.fake.control("clients", {"client_id": "lenient",
                                      "client_secret": "s",
                                      "require_pkce": False})
        status, _, params = self.authorize(client_id="lenient")
        self.assertIn("code", params, "PKCE is only recommended by Google")
        status, _, params = self.authorize(response_type="token",
                                           code_challenge=challenge,
                                           code_challenge_method="S256")
        self.assertEqual(params["error"], "unsupported_response_type")
        status, _, params = self.authorize(scope="https://example/unknown",
                                           code_challenge=challenge,
                                           code_challenge_method="S256")
        self.assertEqual(params["error"], "invalid_scope")
        self.fake.control("consent", {"deny": True})
        status, _, params = self.authorize(code_challenge=challenge,
                                           code_challenge_method="S256")
        self.assertEqual(params, {"error": "access_denied",
                                  "state": "xyz-123"})
        self.fake.control("consent", {})
        status, loc, params = self.authorize(
            redirect_uri="http://localhost:51004/", code_challenge=challenge,
            code_challenge_method="S256")
        self.assertEqual(status, 302)
        self.assertIn("code", params)

    def test_token_endpoint_errors(self):
        status, _, err = self.token_call(
            client_id=CLIENT_ID, client_secret="wrong",
            grant_type="refresh_token", refresh_token="1//x")
        self.assertEqual((status, err["error"]), (401, "invalid_client"))
        status, _, err = self.token_call(client_id=CLIENT_ID,
                                         client_secret=CLIENT_SECRET,
                                         grant_type="password")
        self.assertEqual((status, err["error"]), (400, "unsupported_grant_type"))
        status, _, err = self.token_call(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            grant_type="refresh_token", refresh_token="1//nope")
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))
        # a registered client, credentials in HTTP Basic
        self.fake.control("clients", {"client_id": "other",
                                      "client_secret": "s3"})
        verifier, challenge = pkce_pair()
        _, _, params = self.authorize(client_id="other",
                                      code_challenge=challenge,
                                      code_challenge_method="S256")
        basic = base64.b64encode(b"other:s3").decode()
        status, _, tok = self.fake.call(
            "POST", "/token", urllib.parse.urlencode({
                "code": params["code"], "redirect_uri": self.redirect,
                "grant_type": "authorization_code",
                "code_verifier": verifier}),
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Authorization": "Basic " + basic})
        self.assertEqual(status, 200, tok)

    def test_revoke_endpoint(self):
        verifier, challenge = pkce_pair()
        _, _, params = self.authorize(code_challenge=challenge,
                                      code_challenge_method="S256")
        _, _, tok = self.token_call(
            code=params["code"], client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET, redirect_uri=self.redirect,
            grant_type="authorization_code", code_verifier=verifier)
        status, _, _ = self.fake.call(
            "POST", "/revoke", urllib.parse.urlencode(
                {"token": tok["access_token"]}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200)
        status, _, err = self.token_call(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
            grant_type="refresh_token", refresh_token=tok["refresh_token"])
        self.assertEqual((status, err["error"]), (400, "invalid_grant"),
                         "revoking the access token revokes its refresh token")


# ---------------------------------------------------------------------------
# Using OAuth 2.0 for Server to Server Applications (service accounts)
# https://developers.google.com/identity/protocols/oauth2/service-account
# ---------------------------------------------------------------------------

SA_EMAIL = "tandem-sync@tandem-test.iam.gserviceaccount.com"


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class ServiceAccount(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fake_google_test_")
        cls.key = os.path.join(cls.dir, "key.pem")
        cls.pub = os.path.join(cls.dir, "pub.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                        "-pkeyopt", "rsa_keygen_bits:2048", "-out", cls.key],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", cls.key, "-pubout", "-out",
                        cls.pub], check=True, capture_output=True)
        cls.fake = Fake("--service-account-public-key", cls.pub,
                        "--service-account-email", SA_EMAIL)

    @classmethod
    def tearDownClass(cls):
        assert cls.fake.stop()[0] == 0
        shutil.rmtree(cls.dir, ignore_errors=True)

    def jwt(self, **over):
        now = int(time.time())
        claims = {"iss": SA_EMAIL, "scope": CAL_SCOPE,
                  "aud": "https://oauth2.googleapis.com/token",
                  "exp": now + 3600, "iat": now}
        claims.update(over)
        claims = {k: v for k, v in claims.items() if v is not None}
        header = {"alg": "RS256", "typ": "JWT"}
        signing = (b64url(json.dumps(header).encode()) + "." +
                   b64url(json.dumps(claims).encode()))
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                             input=signing.encode(), capture_output=True,
                             check=True).stdout
        return signing + "." + b64url(sig)

    def exchange(self, assertion):
        return self.fake.call(
            "POST", "/token", urllib.parse.urlencode({
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def test_jwt_bearer_with_impersonation(self):
        status, _, tok = self.exchange(self.jwt(sub=USER))
        self.assertEqual(status, 200, tok)
        self.assertEqual(tok["token_type"], "Bearer")
        self.assertEqual(tok["scope"], CAL_SCOPE)
        self.assertIn("expires_in", tok)
        status, _, cl = self.fake.call(
            "GET", "/calendar/v3/users/me/calendarList",
            token=tok["access_token"])
        self.assertEqual(status, 200)
        self.assertIn(USER, [c["id"] for c in cl["items"]])
        own = "http://127.0.0.1:%d/token" % self.fake.port
        status, _, _ = self.exchange(self.jwt(aud=own))
        self.assertEqual(status, 200, "the fake's own token URL as aud")

    def test_jwt_errors(self):
        cases = [
            (self.jwt(aud="https://example.test/token"), "invalid_grant"),
            (self.jwt(exp=int(time.time()) + 7200), "invalid_grant"),
            (self.jwt(iat=int(time.time()) - 7200,
                      exp=int(time.time()) - 3700), "invalid_grant"),
            (self.jwt(scope=None), "invalid_scope"),
            (self.jwt(sub="stranger@example.test"), "invalid_grant"),
            (self.jwt(iss="someone@else.iam.gserviceaccount.com"),
             "invalid_grant"),
        ]
        good = self.jwt()
        head, body, sig = good.split(".")
        tampered = b64url(json.dumps({"iss": SA_EMAIL, "scope": CAL_SCOPE,
                                      "aud": "https://oauth2.googleapis.com/"
                                             "token", "sub": USER,
                                      "iat": int(time.time()),
                                      "exp": int(time.time()) + 60})
                          .encode())
        cases.append((head + "." + tampered + "." + sig, "invalid_grant"))
        for assertion, error in cases:
            status, _, err = self.exchange(assertion)
            self.assertEqual((status, err["error"]), (400, error), err)
        status, _, err = self.exchange(self.jwt(exp=int(time.time()) + 7200))
        self.assertIn("short-lived token (60 minutes)",
                      err["error_description"])


# ---------------------------------------------------------------------------
# CalendarList, control endpoints, process behaviour, speed, persistence
# ---------------------------------------------------------------------------

class CalendarListAndControl(FakeCase):

    def test_default_calendar_list(self):
        status, _, cl = self.api("GET", "/calendar/v3/users/me/calendarList")
        self.assertEqual(status, 200)
        self.assertEqual(cl["kind"], "calendar#calendarList")
        self.assertIn("nextSyncToken", cl)
        ids = {c["id"]: c for c in cl["items"]}
        self.assertEqual(set(ids), {USER, TEAM})
        self.assertTrue(ids[USER]["primary"])
        self.assertNotIn("primary", ids[TEAM])
        ev = self.insert(timed("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z"))
        status, _, got = self.api("GET", events_path(USER, ev["id"]))
        self.assertEqual(status, 200, '"primary" aliases the user\'s calendar')
        self.fake.control("calendars", {"id": "new@group.example.test",
                                        "summary": "New"})
        status, _, inc = self.api("GET", "/calendar/v3/users/me/calendarList" +
                                  q(syncToken=cl["nextSyncToken"]))
        self.assertEqual([c["id"] for c in inc["items"]],
                         ["new@group.example.test"])

    def test_request_log_and_event_dump(self):
        ev = self.insert(timed("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z"))
        self.api("DELETE", events_path(event_id=ev["id"]))
        self.api("GET", events_path() + q(maxResults=5))
        status, _, reqs = self.fake.call("GET", "/_fake/requests")
        self.assertEqual([(r["method"], r["status"]) for r in reqs],
                         [("POST", 200), ("DELETE", 204), ("GET", 200)])
        self.assertEqual(reqs[2]["params"], {"maxResults": ["5"]})
        status, _, dump = self.fake.call("GET", "/_fake/events?calendarId=" +
                                         urllib.parse.quote(USER))
        self.assertEqual([e["status"] for e in dump["items"]], ["cancelled"])

    def test_ten_thousand_events_in_pages_of_2500(self):
        self.fake.control("seed", {"count": 10000})
        token, ids, times = None, set(), []
        for _ in range(5):
            path = events_path() + q(maxResults=2500)
            if token:
                path += "&pageToken=" + urllib.parse.quote(token, safe="")
            t0 = time.time()
            status, _, page = self.api("GET", path)
            times.append(time.time() - t0)
            self.assertEqual(status, 200)
            ids.update(e["id"] for e in page["items"])
            token = page.get("nextPageToken")
            if not token:
                break
        self.assertEqual(len(ids), 10000)
        self.assertEqual(len(times), 4)
        self.assertIn("nextSyncToken", page)
        self.assertLess(max(times), 1.0, times)


class Process(unittest.TestCase):

    def test_ready_line_loopback_and_sigterm(self):
        fake = Fake()
        self.assertRegex(fake.ready_line, r"^READY \d+\n$")
        status, _, _ = fake.call("GET", "/_fake/state")
        self.assertEqual(status, 200)
        code, rest = fake.stop()
        self.assertEqual(code, 0)
        self.assertEqual(rest, b"", "stdout stays quiet after READY")

    def test_state_file_survives_a_restart(self):
        d = tempfile.mkdtemp(prefix="fake_google_state_")
        path = os.path.join(d, "state.json")
        try:
            fake = Fake("--state", path)
            tok = fake.token()
            status, _, ev = fake.call("POST", events_path(), timed(
                "2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z",
                summary="kept"), token=tok)
            self.assertEqual(status, 200)
            _, _, page = fake.call("GET", events_path(), token=tok)
            sync = page["nextSyncToken"]
            self.assertEqual(fake.stop()[0], 0)
            fake = Fake("--state", path)
            status, _, got = fake.call("GET", events_path(event_id=ev["id"]),
                                       token=tok)
            self.assertEqual((status, got["summary"]), (200, "kept"))
            status, _, inc = fake.call("GET", events_path() + q(
                syncToken=sync), token=tok)
            self.assertEqual((status, inc["items"]), (200, []))
            self.assertEqual(fake.stop()[0], 0)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
