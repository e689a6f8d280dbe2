"""The product's workflows against a SCIM server we did not write: `scim2-server` (PyPI).

Usage: scim2_server_workflows.py BINARY [--interop-workarounds]

Starts `scim2-server` (in-memory, bearer token) on an ephemeral loopback port and seeds it through
its own SCIM API: 300 users including jane.doe@example.com and contractors at
external-agency.com, and a group. In front of it runs a small loopback HTTP proxy that forwards
everything and, when armed, answers one request with 429, `Retry-After` and `RateLimit-*`
headers. op-scim-mcp serves MCP over HTTP against the proxy, and the official Python MCP client
runs the four workflows of issue 5. Every state change is verified by reading scim2-server
directly, not through op-scim-mcp.

`--interop-workarounds` is a diagnostic aid, never for CI. It makes the proxy paper over two
differences between op-scim-mcp and RFC 7644 that scim2-server enforces, so the rest of the
workflows can be exercised while they stand:
- a successful PATCH answered 204 with no body (RFC 7644 §3.5.2 allows it) becomes 200 with the
  resource read back from the server;
- a `remove` of `members` carrying a `value` list (Entra ID's style, not in RFC 7644) is rewritten
  into one `remove` per member with a value filter in the path (RFC 7644 §3.5.2.2).

Needs the packages of tests/e2e/scim2_server_requirements.txt (pinned). The last line is
`scim2-server: N passed, M failed`; the exit code is non-zero on any failure.
"""

import asyncio
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import httpx2
from mcp import Client

TOKEN = "scim2-server-e2e-token-0123456789"
USERS = 300
JANE = "jane.doe@example.com"
AGENCY = "external-agency.com"
# Contractors at the agency: the first ones active, the last ones already inactive (so the
# `active` filter matters).
ACTIVE_CONTRACTORS = 8
INACTIVE_CONTRACTORS = 2
RATE_LIMIT_META = "com.op-scim-mcp/rateLimit"
ERROR_META = "com.op-scim-mcp/error"
TIMEOUT = 30.0


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_line(proc, pattern, stream, deadline):
    """Reads `stream` of `proc` until a line matches `pattern`; returns the match."""
    for line in stream:
        match = re.search(pattern, line)
        if match:
            return match
        if time.monotonic() > deadline:
            break
    raise SystemExit(f"{proc.args[0]} exited or stalled before printing {pattern!r}")


def start_scim2_server(log):
    """`scim2-server` on an ephemeral loopback port; returns (process, base URL)."""
    for _ in range(3):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "scim2_server.testserver.cli", "--hostname", "127.0.0.1",
             "--port", str(port), "--bearer-token", TOKEN],
            stdout=subprocess.PIPE, stderr=log, text=True,
        )
        line = proc.stdout.readline()
        if "Serving SCIM on" in line:
            return proc, f"http://127.0.0.1:{port}/v2"
        proc.wait(timeout=10)  # the port was taken between the probe and the bind: try another
    raise SystemExit("scim2-server did not start; see its log above")


def start_mcp_server(binary, bridge_url, log):
    env = dict(os.environ, OP_SCIM_BRIDGE_URL=bridge_url, OP_SCIM_BEARER_TOKEN=TOKEN)
    env.setdefault("OP_SCIM_LOG", "warn")
    proc = subprocess.Popen(
        [binary, "--transport", "http", "--listen", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    match = wait_for_line(proc, r"serving MCP over HTTP at (http://\S+/mcp)", proc.stderr, time.monotonic() + 30)

    # Keep draining its stderr into the log so the pipe never fills.
    def drain():
        for line in proc.stderr:
            log.write(line)
            log.flush()

    threading.Thread(target=drain, daemon=True).start()
    return proc, match.group(1)


class RateLimitProxy:
    """A loopback HTTP/1.1 proxy in front of the SCIM server.

    Forwards every request unchanged. When armed with `inject(method, path_prefix, nth)`, it
    answers the nth matching request itself with 429 and rate-limit headers, without forwarding.
    """

    HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
                  "content-encoding", "upgrade", "proxy-connection", "te", "trailer"}

    def __init__(self, upstream_origin, workarounds=False):
        self.upstream_origin = upstream_origin
        self.workarounds = workarounds
        self.client = httpx2.AsyncClient(timeout=TIMEOUT)
        self.server = None
        self.rule = None
        self.injected = []  # (method, path) answered with 429
        self.forwarded = []  # (method, path, status)

    async def start(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self):
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        await self.client.aclose()

    def inject(self, method, path_prefix, nth):
        self.rule = {"method": method, "prefix": path_prefix, "left": nth}

    def should_inject(self, method, path):
        rule = self.rule
        if rule is None or method != rule["method"] or not path.startswith(rule["prefix"]):
            return False
        rule["left"] -= 1
        if rule["left"] == 0:
            self.rule = None
            return True
        return False

    async def handle(self, reader, writer):
        try:
            while True:
                request_line = await reader.readline()
                if not request_line.strip():
                    break
                method, target, _version = request_line.decode("latin-1").split(" ", 2)
                headers = []
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers.append((name.strip(), value.strip()))
                lowered = {name.lower(): value for name, value in headers}
                length = int(lowered.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                path = target.split("?", 1)[0]
                if self.should_inject(method, path):
                    self.injected.append((method, path))
                    status, reason = 429, "Too Many Requests"
                    out_headers = [
                        ("Content-Type", "application/scim+json"),
                        ("Retry-After", "1"),
                        ("RateLimit-Limit", "100"),
                        ("RateLimit-Remaining", "0"),
                        ("RateLimit-Reset", "1"),
                    ]
                    content = (b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],'
                               b'"status":"429","detail":"Too many requests"}')
                else:
                    forward = [(n, v) for n, v in headers if n.lower() not in self.HOP_BY_HOP]
                    if self.workarounds and method == "PATCH":
                        body = rewrite_member_removal(body)
                    answer = await self.client.request(
                        method, self.upstream_origin + target, headers=forward, content=body
                    )
                    self.forwarded.append((method, path, answer.status_code))
                    if self.workarounds and method == "PATCH" and answer.status_code == 204:
                        answer = await self.client.get(self.upstream_origin + path, headers=forward)
                    status, reason = answer.status_code, answer.reason_phrase
                    out_headers = [(n, v) for n, v in answer.headers.items() if n.lower() not in self.HOP_BY_HOP]
                    content = answer.content
                head = f"HTTP/1.1 {status} {reason}\r\n"
                head += "".join(f"{n}: {v}\r\n" for n, v in out_headers)
                head += f"Content-Length: {len(content)}\r\n"
                close = lowered.get("connection", "").lower() == "close"
                if close:
                    head += "Connection: close\r\n"
                writer.write(head.encode("latin-1") + b"\r\n" + content)
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def rewrite_member_removal(body):
    """`remove members` with a value list -> one RFC 7644 `remove` per member, by value filter."""
    try:
        patch = json.loads(body)
    except ValueError:
        return body
    operations = []
    for op in patch.get("Operations") or []:
        if str(op.get("op")).lower() == "remove" and op.get("path") == "members" and op.get("value"):
            for member in op["value"]:
                value = str(member["value"]).replace("\\", "\\\\").replace('"', '\\"')
                operations.append({"op": "remove", "path": f'members[value eq "{value}"]'})
        else:
            operations.append(op)
    patch["Operations"] = operations
    return json.dumps(patch).encode()


class Scim:
    """Direct access to scim2-server, for seeding and verification (never through op-scim-mcp)."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.http = httpx2.AsyncClient(
            timeout=TIMEOUT,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"},
        )

    async def close(self):
        await self.http.aclose()

    async def post(self, path, body):
        answer = await self.http.post(f"{self.base_url}/{path}", json=body)
        check(answer.status_code == 201, f"seeding POST /{path}: {answer.status_code} {answer.text}")
        return answer.json()

    async def get(self, path):
        answer = await self.http.get(f"{self.base_url}/{path}")
        check(answer.status_code == 200, f"GET /{path}: {answer.status_code} {answer.text}")
        return answer.json()

    async def user(self, user_id):
        return await self.get(f"Users/{user_id}")

    async def group_member_ids(self, group_id):
        group = await self.get(f"Groups/{group_id}")
        return sorted(member["value"] for member in group.get("members") or [])


def user_body(email, given, family, active=True):
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": given, "familyName": family},
        "displayName": f"{given} {family}",
        "active": active,
        "emails": [{"value": email, "type": "work", "primary": True}],
    }


async def seed(scim):
    """300 users (jane, the contractors, everyone else) and one group; returns what was made."""
    bodies = [user_body(JANE, "Jane", "Doe")]
    for i in range(ACTIVE_CONTRACTORS + INACTIVE_CONTRACTORS):
        active = i < ACTIVE_CONTRACTORS
        bodies.append(user_body(f"contractor{i:02d}@{AGENCY}", "Contractor", f"N{i:02d}", active))
    i = 0
    while len(bodies) < USERS:
        bodies.append(user_body(f"user{i:03d}@example.com", "User", f"N{i:03d}"))
        i += 1
    gate = asyncio.Semaphore(8)

    async def create(body):
        async with gate:
            return await scim.post("Users", body)

    users = await asyncio.gather(*(create(body) for body in bodies))
    by_name = {user["userName"]: user["id"] for user in users}
    engineering = await scim.post("Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Engineering",
        "members": [{"value": by_name[f"user{i:03d}@example.com"]} for i in range(3)],
    })
    return by_name, engineering["id"]


def structured(result, what):
    check(not result.is_error, f"{what}: isError: {result.content[0].text if result.content else result}")
    check(result.structured_content is not None, f"{what}: no structured content: {result}")
    return result.structured_content


async def audit(client, by_name, _state):
    """1. List every user 50 at a time following next_cursor until it is null; each seen once."""
    seen, cursor, pages = [], None, 0
    while True:
        args = {"limit": 50}
        if cursor:
            args["next_cursor"] = cursor
        page = structured(await client.call_tool("list_all_1_password_users", args), f"page {pages + 1}")
        pages += 1
        check(page["result_count"] == len(page["result"]) <= 50, f"page {pages}: {page['result_count']} items")
        seen.extend(user["id"] for user in page["result"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        check(pages < 20, "next_cursor never became null")
    check(len(seen) == len(set(seen)), f"{len(seen) - len(set(seen))} users seen twice")
    check(set(seen) == set(by_name.values()), f"saw {len(set(seen))} of {len(by_name)} users")
    check(page["total_results"] == USERS, f"total_results {page['total_results']}")
    check(pages == USERS // 50, f"{pages} pages")
    return f"{len(seen)} users in {pages} pages"


async def offboarding(client, by_name, state, scim):
    """2. Find jane by the typed user_name filter, suspend by id, confirm on the server."""
    found = structured(await client.call_tool("list_all_1_password_users", {"user_name": JANE}), "find jane")
    check(found["result_count"] == 1, f"user_name filter found {found['result_count']} users")
    jane = found["result"][0]["id"]
    check(jane == by_name[JANE], "the user_name filter found someone else")
    result = await client.call_tool("1_password_users_suspend", {"id": jane})
    if result.is_error:
        # Say whether the failed call changed the server anyway: that is what a model would get wrong.
        applied = (await scim.user(jane))["active"] is False
        raise CheckFailed(
            f"suspend jane: isError, yet scim2-server {'DID' if applied else 'did not'} apply it: "
            f"{result.content[0].text if result.content else result}"
        )
    suspended = structured(result, "suspend jane")
    check(suspended.get("active") is False, f"suspend answered {suspended}")
    direct = await scim.user(jane)
    check(direct["active"] is False, f"scim2-server still has jane active: {direct}")
    state["jane"] = jane
    return f"jane {jane} suspended"


async def call_with_retry(client, name, args, rate_limited, on_limited=None):
    """Calls a tool; on a rate-limited isError result waits the advertised time and retries."""
    for _attempt in range(5):
        result = await client.call_tool(name, args)
        meta = result.meta or {}
        error = meta.get(ERROR_META) or {}
        if not (result.is_error and error.get("error") == "rate_limited"):
            return result
        rate_limited.append(result)
        if on_limited is not None:
            await on_limited()
        await asyncio.sleep(error.get("retryAfterSeconds") or 1)
    raise CheckFailed(f"{name} still rate limited after 5 attempts")


async def contractor_audit(client, by_name, state, scim, proxy):
    """3. Active users at the agency, suspend each; one 429 mid-loop is waited out."""
    listed = structured(
        await client.call_tool("list_all_1_password_users", {"email": AGENCY, "active": True, "limit": 100}),
        "contractor search",
    )
    expected = sorted(by_name[f"contractor{i:02d}@{AGENCY}"] for i in range(ACTIVE_CONTRACTORS))
    got = sorted(user["id"] for user in listed["result"])
    check(got == expected, f"contractor search found {len(got)} users, expected {len(expected)}: {listed}")
    for user in listed["result"]:
        check(user["active"] is True and user["userName"].endswith(f"@{AGENCY}"), f"not an active contractor: {user}")

    # The third suspension is answered by the proxy with 429 instead of reaching the server.
    proxy.inject("PATCH", "/v2/Users/", 3)
    rate_limited = []
    for user in listed["result"]:

        async def unchanged(user=user):
            direct = await scim.user(user["id"])
            check(direct["active"] is True, f"the rate-limited call changed {user['userName']}")

        result = await call_with_retry(client, "1_password_users_suspend", {"id": user["id"]}, rate_limited, unchanged)
        check(structured(result, f"suspend {user['userName']}").get("active") is False, f"suspend {user['userName']}")

    check(len(proxy.injected) == 1 and len(rate_limited) == 1,
          f"expected one injected 429, proxy injected {proxy.injected}, client saw {len(rate_limited)}")
    limited = rate_limited[0]
    text = limited.content[0].text
    check("retry after 1 s" in text, f"the rate-limit message does not say when to retry: {text!r}")
    error = limited.meta.get(ERROR_META)
    check(error.get("error") == "rate_limited" and error.get("status") == 429 and error.get("retryAfterSeconds") == 1,
          f"{ERROR_META} = {error}")
    info = limited.meta.get(RATE_LIMIT_META)
    check(info is not None, f"no {RATE_LIMIT_META} in {limited.meta}")
    want = {"limit": 100, "remaining": 0, "reset": 1, "retryAfterSeconds": 1, "source": "ietf-legacy"}
    got_info = {key: info.get(key) for key in want}
    check(got_info == want, f"{RATE_LIMIT_META} = {info}")

    for user_id in expected:
        direct = await scim.user(user_id)
        check(direct["active"] is False, f"scim2-server still has {direct['userName']} active")
    for i in range(ACTIVE_CONTRACTORS, ACTIVE_CONTRACTORS + INACTIVE_CONTRACTORS):
        direct = await scim.user(by_name[f"contractor{i:02d}@{AGENCY}"])
        check(direct["active"] is False, "an inactive contractor changed")
    left = structured(await client.call_tool("list_all_1_password_users", {"email": AGENCY, "active": True}), "re-search")
    check(left["result_count"] == 0, f"{left['result_count']} active contractors left")
    state["contractors"] = expected
    return f"{len(expected)} contractors suspended, one 429 waited out ({text!r})"


async def reactivate(client, by_name, state, scim):
    """4a. Reactivate jane; confirm on the server and by reading her back."""
    jane = state.get("jane") or by_name[JANE]
    back = structured(await client.call_tool("1_password_users_reactivate", {"id": jane}), "reactivate jane")
    check(back.get("active") is True, f"reactivate answered {back}")
    check((await scim.user(jane))["active"] is True, "scim2-server still has jane suspended")
    read = structured(await client.call_tool("get_single_1_password_user_by_id", {"id": jane}), "read jane")
    check(read["active"] is True and read["userName"] == JANE, f"read back {read}")
    return f"jane {jane} active again"


async def group_add(client, by_name, state, scim):
    """4b. Create a group (POST answered 201) and add two members."""
    group = structured(
        await client.call_tool("create_a_1_password_group", {"display_name": "Offboarding review"}), "create group"
    )
    group_id = state["group"] = group["id"]
    check((await scim.get(f"Groups/{group_id}"))["displayName"] == "Offboarding review", "group not on the server")
    jane, contractor = by_name[JANE], by_name[f"contractor00@{AGENCY}"]
    structured(
        await client.call_tool("1_password_groups_add_members", {"id": group_id, "member_ids": [jane, contractor]}),
        "add members",
    )
    members = await scim.group_member_ids(group_id)
    check(members == sorted([jane, contractor]), f"after add: {members}")
    found = structured(
        await client.call_tool("list_all_1_password_groups", {"display_name": "Offboarding review"}), "find group"
    )
    check(found["result_count"] == 1 and found["result"][0]["id"] == group_id, f"group search: {found}")
    return f"group {group_id} created with 2 members"


async def group_remove(client, by_name, state, scim):
    """4c. Remove a member from the new group."""
    group_id = state.get("group")
    check(group_id is not None, "no group: the add step failed")
    structured(
        await client.call_tool(
            "1_password_groups_remove_members", {"id": group_id, "member_ids": [by_name[f"contractor00@{AGENCY}"]]}
        ),
        "remove members",
    )
    members = await scim.group_member_ids(group_id)
    check(members == [by_name[JANE]], f"after remove: {members}")
    return "contractor removed, jane stays"


async def seeded_group(client, by_name, state, scim, engineering):
    """4d. The seeded group: add jane, remove one of its original members."""
    jane = by_name[JANE]
    original = await scim.group_member_ids(engineering)
    structured(await client.call_tool("1_password_groups_add_members", {"id": engineering, "member_ids": [jane]}), "add")
    check(await scim.group_member_ids(engineering) == sorted([*original, jane]), "jane not added to Engineering")
    structured(
        await client.call_tool("1_password_groups_remove_members", {"id": engineering, "member_ids": [original[0]]}),
        "remove",
    )
    members = await scim.group_member_ids(engineering)
    check(members == sorted([*original[1:], jane]), f"Engineering after changes: {members}")
    return "Engineering: jane added, one original member removed"


async def run(binary, workarounds, log):
    results = []
    scim_proc, scim_url = start_scim2_server(log)
    scim = Scim(scim_url)
    proxy = RateLimitProxy(scim_url.removesuffix("/v2"), workarounds)
    mcp_proc = None
    try:
        by_name, engineering = await seed(scim)
        print(f"seeded {len(by_name)} users and a group into scim2-server at {scim_url}")
        proxy_origin = await proxy.start()
        mcp_proc, mcp_url = start_mcp_server(binary, f"{proxy_origin}/v2", log)
        state = {}
        async with Client(mcp_url) as client:
            workflows = [
                ("audit paging", lambda: audit(client, by_name, state)),
                ("offboarding", lambda: offboarding(client, by_name, state, scim)),
                ("contractor audit with a 429", lambda: contractor_audit(client, by_name, state, scim, proxy)),
                ("reactivate", lambda: reactivate(client, by_name, state, scim)),
                ("group create and add members", lambda: group_add(client, by_name, state, scim)),
                ("group remove members", lambda: group_remove(client, by_name, state, scim)),
                ("seeded group membership", lambda: seeded_group(client, by_name, state, scim, engineering)),
            ]
            for name, workflow in workflows:
                try:
                    detail = await asyncio.wait_for(workflow(), timeout=120)
                    results.append((name, True, detail))
                except Exception as error:  # report every workflow, not just the first failure
                    detail = f"{type(error).__name__}: {error}"
                    if not isinstance(error, CheckFailed):
                        detail += "\n" + traceback.format_exc()
                    results.append((name, False, detail))
    finally:
        await proxy.close()
        await scim.close()
        for proc in (mcp_proc, scim_proc):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return results


def main():
    args = sys.argv[1:]
    workarounds = "--interop-workarounds" in args
    args = [arg for arg in args if arg != "--interop-workarounds"]
    if len(args) != 1:
        raise SystemExit(__doc__)
    binary = args[0]
    with tempfile.TemporaryFile("w+") as log:
        try:
            results = asyncio.run(run(binary, workarounds, log))
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read()[-20000:])
            print("scim2-server: 0 passed, 1 failed")
            raise
        failed = [r for r in results if not r[1]]
        for name, ok, detail in results:
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        if failed:
            log.seek(0)
            sys.stderr.write("--- scim2-server and op-scim-mcp logs (tail) ---\n")
            sys.stderr.write(log.read()[-20000:])
    print(f"scim2-server: {len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
