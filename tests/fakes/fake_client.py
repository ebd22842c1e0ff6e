"""The local fakes' self-tests share this: a fake started as a subprocess on a free
loopback port, its READY line read, stopped by SIGTERM with its log checked for
tracebacks, and a small HTTP client for its API and its /_fake control endpoints."""
import http.client
import json
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.parse


class FakeProcess:
    """The fake at SCRIPT (set by a subclass) as a subprocess."""
    SCRIPT = None

    def __init__(self, *args):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, self.SCRIPT, "--port", "0"] + list(args),
            stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError("fake did not start: %r" % line)
        self.ready_line = line
        self.port = int(line.split()[1])
        self.base = "http://127.0.0.1:%d" % self.port

    def stop(self):
        """SIGTERM; returns (exit status, anything else written to stdout)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rest = self.proc.stdout.read()
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.proc.stdout.close()
        self.log.seek(0)
        self.log_text = self.log.read().decode("utf-8", "replace")
        self.log.close()
        # a bug inside the fake shows as a traceback (and a 500) in its log
        assert "Traceback" not in self.log_text, self.log_text[-3000:]
        return code, rest

    def request(self, method, path, body=None, headers=None, token=None):
        if path.startswith("http://"):
            assert path.startswith(self.base + "/"), path
            path = path[len(self.base):]
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        result = (resp.status, {k.lower(): v for k, v in resp.getheaders()},
                  raw)
        conn.close()
        return result

    def call(self, method, path, body=None, headers=None, token=None):
        status, hdrs, raw = self.request(method, path, body, headers, token)
        parsed = json.loads(raw) if raw.strip() else None
        return status, hdrs, parsed

    def form(self, path, fields, headers=None):
        hdrs = {"Content-Type": "application/x-www-form-urlencoded"}
        hdrs.update(headers or {})
        return self.call("POST", path, urllib.parse.urlencode(fields), hdrs)

    def control(self, name, body=None):
        status, _, parsed = self.call("POST", "/_fake/" + name, body or {})
        assert status == 200, (name, status, parsed)
        return parsed

    def get(self, name):
        status, _, parsed = self.call("GET", "/_fake/" + name)
        assert status == 200, (name, status, parsed)
        return parsed

    def token(self, user="user@example.test", scopes=None):
        body = {"user": user}
        if scopes:
            body["scopes"] = scopes
        return self.control("token", body)["access_token"]


class FakeTestCase(unittest.TestCase):
    """One fake (FAKE, a FakeProcess class, started with ARGS) per test class,
    reset before each test, which gets a user's token in self.tok."""
    FAKE = None
    args = ()
    fake = None

    @classmethod
    def setUpClass(cls):
        cls.fake = cls.FAKE(*cls.args)

    @classmethod
    def tearDownClass(cls):
        code, rest = cls.fake.stop()
        assert code == 0 and rest == b"", (code, rest)

    def setUp(self):
        self.fake.control("reset")
        self.tok = self.fake.token()
