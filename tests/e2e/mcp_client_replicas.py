"""Two replicas on one PostgreSQL registry, driven by the official Python MCP client over HTTP.

Usage: mcp_client_replicas.py BINARY DATABASE_URL

Starts the simulated bridge (`BINARY sim`) and two replicas (`BINARY --transport http`) on
ephemeral loopback ports, sharing the registry at DATABASE_URL and one cursor key, as behind a
load balancer; creates an admin key with the CLI (`admin-keys create`). Then checks with the real
client that a read-only server created through replica A's admin API serves (and refuses writes)
through B at once, that a `next_cursor` from A pages on B, that a server revoked through B is
refused through A within a second, and that B keeps answering every call while A is
killed (SIGKILL), with a server created through A just before its death still served by B.
Prints `ok <check>` per check and `N passed, 0 failed`, and exits 0 on success; on a failure
prints what failed and exits 1. Every child process is killed on exit; no secret is printed.
"""

import asyncio
import collections
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

TOKEN = "e2e-bridge-token-0123456789"
CURSOR_KEY = "e2e-replicas-share-this-cursor-key-0123456789"
READ_TOOLS = ("list_all_1_password_users", "get_single_1_password_user_by_id")
WRITE_TOOL = "create_a_1_password_user"
# Everything that must never reach the output: filled in as secrets appear.
SECRETS = [TOKEN, CURSOR_KEY]


def redact(text):
    for secret in SECRETS:
        text = str(text).replace(secret, "***")
    return text


class Child:
    """A child process whose stderr is drained (so it never blocks on a full pipe) and kept."""

    def __init__(self, name, cmd, pattern, env):
        self.name = name
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        self.log = collections.deque(maxlen=40)
        found = threading.Event()
        self.match = None

        def drain():
            for line in self.proc.stderr:
                self.log.append(line.rstrip())
                if self.match is None and (match := re.search(pattern, line)):
                    self.match = match.group(1)
                    found.set()
            found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(30) or self.match is None:
            self.kill()
            raise SystemExit(f"{name} did not print {pattern!r}:\n{self.tail()}")

    def tail(self):
        return redact("\n".join(self.log))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def describe(error):
    """The first error inside `error`: the client wraps errors raised in its task group."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {redact(error) or repr(error)}"


def child_env(**extra):
    """The environment of a child: ours without any OP_SCIM_* setting but the log level."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OP_SCIM_") or k == "OP_SCIM_LOG"}
    env.update(extra)
    return env


def admin_key(binary, database_url):
    out = subprocess.run([binary, "admin-keys", "create", "--name", "ops", "--database-url", database_url],
                         capture_output=True, text=True, env=child_env())
    if out.returncode != 0:
        raise SystemExit(f"admin-keys create failed: {redact(out.stderr)}")
    secret = json.loads(out.stdout)["secret"]
    SECRETS.append(secret)
    return secret


def http(**kwargs):
    return httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=60), **kwargs)


async def wait_ready(base):
    deadline = time.monotonic() + 30
    async with http() as client:
        while True:
            try:
                answered = await client.get(f"{base}/readyz")
                if answered.status_code == 200:
                    return
                last = f"{answered.status_code} {answered.text}"
            except httpx2.HTTPError as error:
                last = repr(error)
            if time.monotonic() > deadline:
                return redact(last)
            await asyncio.sleep(0.2)


class Admin:
    """The admin API of one replica."""

    def __init__(self, base, key):
        self.base, self.headers = base, {"Authorization": f"Bearer {key}"}

    async def create(self, name, methods, tags=None):
        config = {"methods": methods, **({"tags": tags} if tags else {})}
        async with http(headers=self.headers) as client:
            answered = await client.post(f"{self.base}/admin/servers", json={"name": name, "config": config})
        assert answered.status_code == 201, f"creating {name!r}: {answered.status_code} {redact(answered.text)}"
        created = answered.json()
        token = created["url"].rsplit("/", 1)[1]
        SECRETS.append(token)
        return created["id"], token

    async def revoke(self, server_id):
        async with http(headers=self.headers) as client:
            answered = await client.delete(f"{self.base}/admin/servers/{server_id}")
        assert answered.status_code == 204, f"revoking: {answered.status_code} {redact(answered.text)}"

    async def listed(self):
        async with http(headers=self.headers) as client:
            answered = await client.get(f"{self.base}/admin/servers")
        assert answered.status_code == 200, f"listing: {answered.status_code} {redact(answered.text)}"
        return answered.json()


class Replica:
    """One running replica: its base URL, its admin API, and its process."""

    def __init__(self, child, admin):
        self.child, self.base, self.admin = child, child.match, admin

    def kill(self):
        self.child.kill()


def connect(base, token, http_client):
    return Client(streamable_http_client(f"{base}/mcp/{token}", http_client=http_client))


async def tool_names(base, token):
    async with http() as session, connect(base, token, session) as client:
        return sorted(tool.name for tool in (await client.list_tools()).tools)


async def users_page(base, token, **args):
    async with http() as session, connect(base, token, session) as client:
        result = await client.call_tool("list_all_1_password_users", {"limit": 50, **args})
        assert not result.is_error and result.structured_content is not None, redact(result)
        return result.structured_content


async def read_only_across_replicas(a, b, made):
    _, token = await a.admin.create("Directory reader", ["read"], ["directory"])
    made["reader"] = token
    listed = await tool_names(b.base, token)
    assert all(tool in listed for tool in READ_TOOLS), f"read tools missing through B: {listed}"
    assert WRITE_TOOL not in listed and not any("suspend" in n for n in listed), f"write tools listed: {listed}"
    async with http() as session, connect(b.base, token, session) as client:
        try:
            await client.call_tool(WRITE_TOOL, {"user_name": "never.created@example.com"})
        except Exception as error:  # the client raises on a JSON-RPC error
            assert "Unknown tool" in str(error), redact(error)
        else:
            raise AssertionError("a write call through a read-only server was accepted")


async def cursor_across_replicas(a, b, token):
    first = await users_page(a.base, token)
    assert first["next_cursor"], "no next_cursor after the first 50 of 300 users"
    second = await users_page(b.base, token, next_cursor=first["next_cursor"])
    seen = {user["id"] for user in first["result"]}
    page = [user["id"] for user in second["result"]]
    assert len(page) == 50, f"the second page through B has {len(page)} users"
    assert not seen.intersection(page), "the pages through A and B overlap"


async def revocation_across_replicas(a, b):
    server_id, token = await a.admin.create("Soon revoked", ["read"])
    assert await tool_names(a.base, token), "no tools before the revocation"
    await b.admin.revoke(server_id)
    revoked_at = time.monotonic()
    # A has the token in its cache of lookups; the notification from PostgreSQL empties it, so
    # the revocation takes effect on A within a second, not necessarily on the very next call.
    while True:
        statuses = []

        async def record(response):
            statuses.append(response.status_code)

        try:
            async with http(event_hooks={"response": [record]}) as session, connect(a.base, token, session) as client:
                await client.list_tools()
        except Exception:  # the refused handshake surfaces as an error
            break
        waited = time.monotonic() - revoked_at
        assert waited < 1.0, f"a server revoked through B still connects and lists through A {waited:.2f} s later"
        await asyncio.sleep(0.02)
    assert 401 in statuses, f"A refused the revoked server without a 401: {statuses}"


async def until(condition, failure, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.05)


async def reads_until(base, token, stop, outcomes, killed):
    """Read calls through `base` until `stop`; each outcome is (after the kill, error or None)."""
    async with http() as session, connect(base, token, session) as client:
        while not stop.is_set():
            after_kill = killed.is_set()
            try:
                result = await client.call_tool("list_all_1_password_users", {"limit": 5})
                outcomes.append((after_kill, redact(result) if result.is_error else None))
            except Exception as error:
                outcomes.append((after_kill, describe(error)))


async def replica_killed_under_load(a, b):
    _, reader = await b.admin.create("Loop reader", ["read"])
    stop, killed, outcomes = asyncio.Event(), asyncio.Event(), []
    loops = [asyncio.create_task(reads_until(b.base, reader, stop, outcomes, killed)) for _ in range(4)]
    try:
        await until(lambda: len(outcomes) >= 20, "the read loops through B never got going")
        late_id, late = await a.admin.create("Created just before A died", ["read"])
        a.kill()
        killed.set()
        await asyncio.sleep(1.5)
    finally:
        stop.set()
        await asyncio.gather(*loops)
    errors = [error for _, error in outcomes if error]
    assert not errors, f"{len(errors)} of {len(outcomes)} read calls through B failed, first: {errors[0]}"
    after = sum(1 for after_kill, _ in outcomes if after_kill)
    assert after < len(outcomes), "no read call through B ran before A was killed"
    assert after > 0, "B answered no call after A was killed"
    assert late_id in json.dumps(await b.admin.listed()), "B's admin API does not list the server created through A"
    listed = await tool_names(b.base, late)
    assert "list_all_1_password_users" in listed, f"the server created through A does not serve through B: {listed}"
    page = await users_page(b.base, late)
    assert len(page["result"]) == 50, f"a page through B has {len(page['result'])} users"
    return f"{len(outcomes)} calls through B, {after} after the kill, none failed"


async def run_checks(a, b):
    passed, failed = 0, []

    async def check(name, coro):
        nonlocal passed
        try:
            detail = await asyncio.wait_for(coro, 120)
        except Exception as error:
            print(f"FAILED {name}: {describe(error)}")
            failed.append(name)
            return
        print(f"ok {name}" + (f" ({detail})" if detail else ""))
        passed += 1

    made = {}
    await check("read-only server created on A serves through B", read_only_across_replicas(a, b, made))
    if "reader" in made:
        await check("a cursor from A pages on B", cursor_across_replicas(a, b, made["reader"]))
    else:
        print("FAILED a cursor from A pages on B: skipped, no read-only server")
        failed.append("a cursor from A pages on B")
    await check("revoked on B, refused on A", revocation_across_replicas(a, b))
    await check("B serves through the loss of A", replica_killed_under_load(a, b))
    return passed, failed


def main():
    binary, database_url = sys.argv[1], sys.argv[2]
    SECRETS.append(database_url)
    SECRETS.extend(re.findall(r"://[^:/@]*:([^@]+)@", database_url))
    # SIGTERM unwinds like an error, so the finally below still kills every child.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    children = []
    try:
        sim = Child("sim", [binary, "sim", "--listen", "127.0.0.1:0", "--users", "300", "--token", TOKEN],
                    r"base URL\s+(\S+)", child_env())
        children.append(sim)
        env = child_env(OP_SCIM_BRIDGE_URL=sim.match, OP_SCIM_BEARER_TOKEN=TOKEN,
                        OP_SCIM_DATABASE_URL=database_url, OP_SCIM_CURSOR_KEY=CURSOR_KEY)
        replicas = []
        for name in ("A", "B"):
            child = Child(f"replica {name}", [binary, "--transport", "http", "--listen", "127.0.0.1:0"],
                          r"serving MCP over HTTP at (http://\S+)/mcp", env)
            children.append(child)
            replicas.append((name, child))
        for name, child in replicas:
            if (last := asyncio.run(wait_ready(child.match))) is not None:
                raise SystemExit(f"replica {name}: /readyz never answered 200 (last: {last}):\n{child.tail()}")
        key = admin_key(binary, database_url)
        a, b = (Replica(child, Admin(child.match, key)) for _, child in replicas)
        passed, failed = asyncio.run(run_checks(a, b))
        print(f"{passed} passed, {len(failed)} failed")
        if failed:
            for child in children:
                if child.log:
                    print(f"--- last lines of {child.name}:\n{child.tail()}")
            sys.exit(1)
    finally:
        for child in children:
            child.kill()


main()
