"""Drives `skillforge mcp` with the official MCP Python SDK's client (PyPI `mcp` 2.x).

Run by tests/mcp.rs with the interop venv's python (scripts/setup interop):

    mcp_client.py stdio SKILLFORGE DATA_DIR     # launches `SKILLFORGE --data-dir DATA_DIR mcp --no-solve --resource-page 10`
    mcp_client.py http URL                      # a server already listening at URL
    mcp_client.py solve SKILLFORGE DATA_DIR     # solve_task over stdio, with a fake model endpoint

Each check raises on failure (exit code 1, the traceback says which); "ok" is printed last.
"""

import asyncio
import http.server
import json
import os
import sys
import threading

from mcp import Client, MCPError, StdioServerParameters

TOOLS = {"search_skills", "get_skill", "run_skill", "solve_task", "add_skill"}
INVALID_PARAMS = -32602

COUNT_TO = """/**
 * Counts from 0 up to n, one step at a time, and returns n.
 * @param {number} n how far to count
 * @returns {number} n
 * @example countTo(10) => 10
 */
function countTo(n) {
  let i = 0;
  while (i < n) i += 1;
  return i;
}
"""

WRONG = """/**
 * Adds one to a number.
 * @example addOne(1) => 3
 */
function addOne(x) { return x + 1; }
"""

CLOCK = """/**
 * The current year.
 * @capability clock
 * @example typeof currentYear() => "number"
 */
function currentYear() { return new Date().getFullYear(); }
"""


def structured(result):
    """The tool result's JSON (structured content, else its text)."""
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def expect_invalid_params(call, what):
    try:
        result = await call
    except MCPError as error:
        assert error.code == INVALID_PARAMS, f"{what}: {error.code} {error}"
        return str(error)
    raise AssertionError(f"{what}: no JSON-RPC error, got {result}")


async def check(client):
    tools = await client.list_tools()
    names = {tool.name for tool in tools.tools}
    assert names == TOOLS, names
    assert tools.next_cursor is None

    # add_skill validates like `skills add`: a passing skill is added, a failing one refused.
    added = structured(await client.call_tool("add_skill", {"code": COUNT_TO}))
    assert added["ok"] is True and added["skill"] == "countTo", added
    refused = await client.call_tool("add_skill", {"code": WRONG})
    assert refused.is_error, refused
    assert structured(refused)["error"]["kind"] == "tests_failed", structured(refused)
    # The operator's capability policy holds (none is allowed here), and namespaces are names.
    clock = await client.call_tool("add_skill", {"code": CLOCK})
    assert clock.is_error, clock
    assert structured(clock)["error"]["kind"] == "capability_not_allowed", structured(clock)
    await expect_invalid_params(
        client.call_tool("add_skill", {"code": COUNT_TO, "namespace": "../up"}), "a namespace that is a path"
    )

    # search_skills: names, signatures, descriptions and scores, best first.
    found = structured(
        await client.call_tool("search_skills", {"query": "split CSV text into rows of fields", "k": 3})
    )["results"]
    assert 1 <= len(found) <= 3, found
    assert "default/parseCsv" in [r["name"] for r in found], found
    assert all({"signature", "description", "score"} <= set(r) for r in found), found

    # get_skill: code, tests, stats and the call graph.
    median = structured(await client.call_tool("get_skill", {"name": "median"}))
    assert "function median" in median["code"], median
    assert "default/sortNumbers" in median["calls"], median
    assert median["tests"], median

    # run_skill: a result, or the sandbox's error kind.
    ran = await client.call_tool("run_skill", {"name": "median", "input": [[4, 1, 3, 2]]})
    assert not ran.is_error and structured(ran)["value"] == 2.5, ran
    # The timeout well below the time the server's fuel limit takes to run out (about 300 ms
    # on an idle 2-core machine, more under load): with 300 ms the two raced, and the fuel won.
    slow = await client.call_tool(
        "run_skill", {"name": "countTo", "input": [1e15], "limits": {"timeout_ms": 100}}
    )
    assert slow.is_error, slow
    assert structured(slow)["error"]["kind"] == "timeout", structured(slow)

    # Bad arguments are JSON-RPC errors, and the server keeps serving.
    await expect_invalid_params(client.call_tool("run_skill", {"name": 42}), "a name that is a number")
    await expect_invalid_params(client.call_tool("run_skill", {"nom": "median"}), "an unknown argument")
    await expect_invalid_params(client.call_tool("search_skills", {"query": "x", "k": 0}), "k = 0")
    await expect_invalid_params(
        client.call_tool("search_skills", {"query": "x", "namespace": "../etc"}), "a namespace that is a path"
    )
    await expect_invalid_params(client.call_tool("get_skill", {"name": "noSuchSkill"}), "an unknown skill")
    await expect_invalid_params(
        client.call_tool("run_skill", {"name": "median", "input": [[1]], "limits": {"timeout_ms": 10**9}}),
        "limits above the server's",
    )
    await expect_invalid_params(client.call_tool("solve_task", {"task": "double a number"}), "solve without a model")
    again = await client.call_tool("run_skill", {"name": "clamp", "input": [15, 0, 10]})
    assert structured(again)["value"] == 10, again

    # Resources: every skill, a page at a time, in (namespace, name) order.
    uris, cursor, pages = [], None, 0
    while True:
        page = await client.list_resources(cursor=cursor, cache_mode="bypass")
        uris += [str(r.uri) for r in page.resources]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert uris == sorted(uris) and len(uris) == len(set(uris)), uris
    assert "skill://default/countTo" in uris and "skill://default/median" in uris, uris
    assert pages == (len(uris) + 9) // 10, (pages, len(uris))
    await expect_invalid_params(client.list_resources(cursor="not-a-cursor", cache_mode="bypass"), "a bad cursor")
    read = await client.read_resource("skill://default/median")
    assert "function median" in read.contents[0].text, read
    return {"resources": len(uris), "pages": pages}


DOUBLE = """/**
 * Doubles a number.
 * @example double(2) => 4
 * @example double(-3) => -6
 */
function double(x) {
  return x * 2;
}"""


class FakeModel(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint whose coder always writes `double`."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        content = f"Here it is:\n```javascript\n{DOUBLE}\n```"
        body = json.dumps({
            "id": "chatcmpl-test", "object": "chat.completion", "model": "fake-coder",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


async def check_solve(client):
    notes = []

    async def progress(value, total, message):
        notes.append((value, total, message))

    result = await client.call_tool(
        "solve_task",
        {"task": "Double a number", "name": "double", "examples": ["double(5) => 10"]},
        progress_callback=progress,
    )
    report = structured(result)
    assert not result.is_error and report["status"] == "admitted", report
    assert any("round 1/" in (message or "") for _, _, message in notes), notes
    ran = await client.call_tool("run_skill", {"name": "double", "input": [21]})
    assert structured(ran)["value"] == 42, ran
    await expect_invalid_params(client.call_tool("solve_task", {"task": ""}), "an empty task")
    return {"progress": len(notes), "status": report["status"]}


async def main():
    mode = sys.argv[1]
    if mode == "stdio":
        binary, data_dir = sys.argv[2], sys.argv[3]
        env = {k: v for k, v in os.environ.items() if k not in ("SKILLFORGE_DATABASE_URL", "QDRANT_URL")}
        server = StdioServerParameters(command=binary, args=["--data-dir", data_dir, "mcp", "--no-solve", "--resource-page", "10"], env=env)
    elif mode == "http":
        server = sys.argv[2]
    elif mode == "solve":
        binary, data_dir = sys.argv[2], sys.argv[3]
        model = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeModel)
        threading.Thread(target=model.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{model.server_address[1]}/v1"
        env = {k: v for k, v in os.environ.items() if k not in ("SKILLFORGE_DATABASE_URL", "QDRANT_URL")}
        args = ["--data-dir", data_dir, "mcp", "--llm-url", url, "--llm-model", "fake-coder", "--no-critic"]
        async with Client(StdioServerParameters(command=binary, args=args, env=env), read_timeout_seconds=120) as client:
            summary = await check_solve(client)
        print(json.dumps({"ok": True, **summary}))
        return
    else:
        raise SystemExit(f"usage: {sys.argv[0]} stdio|solve SKILLFORGE DATA_DIR | http URL")
    # Over HTTP the client uses the 2025 handshake (`initialize`); over stdio it negotiates the
    # newest revision both sides know.
    connect = "legacy" if mode == "http" else "auto"
    async with Client(server, read_timeout_seconds=120, mode=connect) as client:
        summary = await check(client)
        summary["protocol"] = client.session.protocol_version
    print(json.dumps({"ok": True, **summary}))


if __name__ == "__main__":
    asyncio.run(main())
