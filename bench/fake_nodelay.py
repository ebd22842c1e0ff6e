#!/usr/bin/env python3
"""fake_nodelay.py FAKE.py [ARGS...]: runs a local fake of tests/fakes (its main()
with ARGS), unchanged but for one socket option: TCP_NODELAY on its accepted
connections (socketserver's disable_nagle_algorithm on the fake's Handler).

Why: the fakes answer through http.server, which sends the status line and headers
in one write and the body in another. With Nagle's algorithm on, a small body waits
for the client's acknowledgement of the headers, which Linux delays by about 40 ms,
so every small answer (one event, a calendar) takes ~44 ms for any client, curl and
Tandem alike; a run of 1,000 single reads then measures that delay and nothing else.
The services' own front ends do not behave like that.
"""
import importlib.util
import os
import sys

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = os.path.abspath(sys.argv[1])
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(
        os.path.splitext(os.path.basename(path))[0], path)
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    fake.Handler.disable_nagle_algorithm = True
    sys.exit(fake.main(sys.argv[2:]))
