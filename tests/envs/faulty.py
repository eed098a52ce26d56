#!/usr/bin/env python3
"""The example counter environment, misbehaving on the action `misbehave` as argv[1] says:
crash (exits), hang (never answers), garbage (a line that is not JSON), oversized (a 2 MB line);
or dead (exits at once, every time); or badhelper (describes a helper named `host`). The process after a restart behaves again until its own
`misbehave`."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "envs"))
import counter  # noqa: E402

MODE = sys.argv[1]
if MODE == "dead":
    print("faulty: dead on arrival", file=sys.stderr, flush=True)
    sys.exit(2)
world = counter.Counter()


def handle(request):
    if request.get("op") == "act" and request.get("action") == "misbehave":
        if MODE == "crash":
            print("faulty: crashing on purpose", file=sys.stderr, flush=True)
            sys.exit(3)
        if MODE == "hang":
            time.sleep(3600)
        if MODE == "garbage":
            print("this is not JSON", flush=True)
            time.sleep(3600)
        if MODE == "oversized":
            print('{"id": %d, "ok": true, "observation": "%s"}' % (request["id"], "x" * 2_000_000), flush=True)
            time.sleep(3600)
    reply = world.handle(request)
    if request.get("op") == "describe":
        reply["actions"] = reply["actions"] + [{"name": "misbehave", "description": "Misbehaves."}]
        if MODE == "badhelper":
            reply["helpers"] = [{"name": "host", "source": "function () { return 0; }"}]
    return reply


counter.serve(handle)
