#!/usr/bin/env python3
"""The Google fake (tests/fakes/google/fake_google.py), unchanged but for one socket
option: TCP_NODELAY on its accepted connections (socketserver's
disable_nagle_algorithm). Same arguments as the fake.

Why: the fake answers through http.server, which sends the status line and headers
in one write and the body in another. With Nagle's algorithm on, a small body waits
for the client's acknowledgement of the headers, which Linux delays by about 40 ms,
so every small answer (one event, a calendar) takes ~44 ms for any client, curl and
Tandem alike; a run of 1,000 single reads then measures that delay and nothing else.
Google's own front ends do not behave like that.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "fakes", "google"))
import fake_google  # noqa: E402

fake_google.Handler.disable_nagle_algorithm = True

if __name__ == "__main__":
    sys.exit(fake_google.main(sys.argv[1:]))
