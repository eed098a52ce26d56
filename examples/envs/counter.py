#!/usr/bin/env python3
"""A minimal environment for skillforge's protocol (docs/environments.md), standard library only.

The world is a counter that starts at 0; the task is to bring it to a target chosen by the seed.
Actions: `add` {n} adds n (an integer from -10 to 10), `read` {} reads the counter.
Run it as `python3 examples/envs/counter.py`; it reads one JSON request a line on stdin and
writes one JSON reply a line on stdout.
"""

import json
import sys

ACTIONS = [
    {
        "name": "add",
        "description": "Adds n to the counter.",
        "schema": {
            "type": "object",
            "properties": {"n": {"type": "integer", "minimum": -10, "maximum": 10}},
            "required": ["n"],
        },
    },
    {
        "name": "read",
        "description": "Reads the counter.",
        "schema": {"type": "object", "properties": {}},
    },
]


# Helpers (optional): JavaScript functions every skill may call as globals, over the actions.
HELPERS = [
    {
        "name": "remaining",
        "params": [],
        "description": "how far the counter is from its target (uses `read`)",
        "source": 'function () { const { state } = host.call("read", {}); return state.target - state.value; }',
    }
]


class Refused(Exception):
    """An action the world refuses: an "ok": false reply, and the world goes on."""


class Counter:
    def __init__(self):
        self.value, self.target = 0, None

    def state(self):
        return {"value": self.value, "target": self.target}

    def handle(self, request):
        """The reply's fields for one request (without "id" and "ok")."""
        op = request.get("op")
        if op == "describe":
            return {
                "name": "counter",
                "text": "A counter to bring to a target.",
                "actions": ACTIONS,
                "helpers": HELPERS,
            }
        if op == "reset":
            self.value, self.target = 0, 3 + int(request.get("seed") or 0) % 5
            return {
                "observation": "The counter shows 0.",
                "task": {"description": "Bring the counter to {}.".format(self.target), "name": "reachTarget"},
                "state": self.state(),
            }
        if op == "act":
            args = request.get("args") or {}
            if request.get("action") == "add":
                n = args.get("n")
                if not isinstance(n, int) or not -10 <= n <= 10:
                    raise Refused("n must be an integer from -10 to 10")
                self.value += n
            elif request.get("action") != "read":
                raise Refused("unknown action {!r}".format(request.get("action")))
            done = self.value == self.target
            return {
                "observation": "The counter shows {}.".format(self.value),
                "reward": 1 if done else 0,
                "done": done,
                "state": self.state(),
            }
        if op == "check":
            done = self.value == self.target
            return {"success": done, "reward": 1 if done else 0, "message": "the counter shows {}".format(self.value)}
        if op == "close":
            return {}
        raise Refused("unknown op {!r}".format(op))


def serve(handle):
    for line in sys.stdin:
        request = json.loads(line)
        reply = {"id": request.get("id")}
        try:
            reply.update(handle(request), ok=True)
        except Refused as e:
            reply.update(ok=False, error={"name": "ActionFailed", "message": str(e)})
        print(json.dumps(reply), flush=True)
        if request.get("op") == "close":
            break


if __name__ == "__main__":
    serve(Counter().handle)
