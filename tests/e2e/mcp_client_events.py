"""The Events API integration, driven with the official Python MCP client over stdio.

Usage: mcp_client_events.py BINARY

1. Against `BINARY sim` with known tokens, injecting an empty `has_more: true` page on every
   third continuing request and one 429 mid-way: page through the last 30 days of one
   person's sign-in attempts with `limit` 7 and compare the ids, in order, with the
   simulator's own record read directly from its Events API.
2. Against `BINARY --demo` (both integrations simulated): both tool sets and the workflow
   prompts are served; the same paging with `limit` 7 finds what one `limit` 100 traversal
   finds; a suspend made through the SCIM tool is found in the audit events.

Prints `N passed, 0 failed` and exits 0 on success.
"""

import asyncio
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import httpx2
from mcp import Client, StdioServerParameters

SCIM_TOKEN = "e2e-bridge-token-0123456789"
EVENTS_TOKEN = "e2e-events-token-0123456789"
PERSON = "jane.doe@example.com"
SIGN_INS = "list_all_1_password_sign_in_attempts"
AUDIT_EVENTS = "list_all_1_password_audit_events"


def start(cmd, pattern, env=None):
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    for line in proc.stderr:
        match = re.search(pattern, line)
        if match:
            return proc, match.group(1)
    raise SystemExit(f"{cmd[0]} exited before printing {pattern!r}")


def days_ago(days):
    return (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def structured(result):
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None, result
    return result.structured_content


async def page_through(client, tool, arguments, limit):
    """Every item of a listing, following `next_cursor` to its end and repeating a
    rate-limited call as an agent would. Returns the items and how many calls were
    rate-limited."""
    items, cursor, limited, calls = [], None, 0, 0
    while True:
        calls += 1
        assert calls < 1000, "the listing never ended"
        args = dict(arguments, limit=limit)
        if cursor:
            args["next_cursor"] = cursor
        result = await client.call_tool(tool, args)
        if result.is_error:
            error = (result.meta or {}).get("com.op-scim-mcp/error", {})
            assert error.get("error") == "rate_limited", result.content[0].text
            limited += 1
            await asyncio.sleep(min(error.get("retryAfterSeconds") or 1, 5))
            continue
        page = result.structured_content
        assert page["result_count"] == len(page["result"]) <= limit, page
        items.extend(page["result"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, limited


def ids(items):
    return [item["uuid"] for item in items]


async def ground_truth(base_url, since, email):
    """The person's sign-in attempts since `since`, read from the simulator's Events API
    directly, oldest first."""
    seen, body = [], {"limit": 1000, "start_time": since}
    headers = {"Authorization": f"Bearer {EVENTS_TOKEN}"}
    async with httpx2.AsyncClient() as http:
        for _ in range(1000):
            answer = await http.post(f"{base_url}/api/v2/signinattempts", json=body, headers=headers)
            if answer.status_code == 429:
                await asyncio.sleep(1)
                continue
            assert answer.status_code == 200, answer.text
            page = answer.json()
            seen.extend(item for item in page["items"] if item["target_user"]["email"] == email)
            if not page["has_more"]:
                return seen
            body = {"cursor": page["cursor"]}
    raise AssertionError("the Events API never said has_more: false")


async def against_the_simulator(binary, checks):
    sim, base_url = start(
        [
            binary, "sim", "--listen", "127.0.0.1:0", "--users", "300", "--token", SCIM_TOKEN,
            "--events-token", EVENTS_TOKEN, "--events-empty-every", "3", "--events-rate-limited-at", "3",
        ],
        r"base URL\s+(\S+)",
    )
    env = dict(
        os.environ,
        OP_SCIM_BRIDGE_URL=base_url,
        OP_SCIM_BEARER_TOKEN=SCIM_TOKEN,
        OP_EVENTS_URL=base_url,
        OP_EVENTS_BEARER_TOKEN=EVENTS_TOKEN,
    )
    try:
        async with Client(StdioServerParameters(command=binary, args=[], env=env)) as client:
            since = days_ago(30)
            found, limited = await page_through(client, SIGN_INS, {"user_email": PERSON, "since": since}, 7)
            assert limited >= 1, "the simulator's 429 never reached the client"
            truth = await ground_truth(base_url, since, PERSON)
            assert len(truth) >= 8, f"too few sign-ins to page with limit 7: {len(truth)}"
            assert len(set(ids(found))) == len(found), "a sign-in attempt was listed twice"
            assert ids(found) == ids(truth), (ids(found), ids(truth))
            checks.append(f"{len(found)} sign-ins in pages of 7 through empty pages and a 429, as the API has them")
    finally:
        sim.terminate()
        sim.wait(timeout=10)


async def against_the_demo(binary, checks):
    env = dict(os.environ, OP_SCIM_LOG="warn")
    async with Client(StdioServerParameters(command=binary, args=["--demo"], env=env)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {SIGN_INS, AUDIT_EVENTS, "list_all_1_password_item_usages", "1_password_users_suspend"} <= names, names
        checks.append(f"--demo serves both integrations ({len(names)} tools)")

        prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
        assert {"audit_contractor_access", "investigate_user_activity", "offboard_user"} <= prompts, prompts
        audit = await client.get_prompt("audit_contractor_access", {"email_domain": "example.com", "suspend": "false"})
        assert f"`{SIGN_INS}`" in audit.messages[0].content.text
        investigate = await client.get_prompt("investigate_user_activity", {"email": PERSON, "days": "30"})
        text = investigate.messages[0].content.text
        for tool in (SIGN_INS, AUDIT_EVENTS, "list_all_1_password_item_usages"):
            assert f"`{tool}`" in text, text
        checks.append("workflow prompts over both integrations")

        since = days_ago(30)
        small, _ = await page_through(client, SIGN_INS, {"user_email": PERSON, "since": since}, 7)
        large, _ = await page_through(client, SIGN_INS, {"user_email": PERSON, "since": since}, 100)
        assert len(small) >= 8 and ids(small) == ids(large), (ids(small), ids(large))
        assert all(item["target_user"]["email"] == PERSON for item in small)
        checks.append("--demo sign-ins page the same with limit 7 and 100")

        users = structured(await client.call_tool("list_all_1_password_users", {"user_name": PERSON}))
        assert users["result_count"] == 1, users
        person = users["result"][0]["id"]
        before = days_ago(0)
        assert structured(await client.call_tool("1_password_users_suspend", {"id": person}))["active"] is False
        events, _ = await page_through(
            client, AUDIT_EVENTS, {"user_email": PERSON, "action": "suspend", "since": days_ago(1)}, 50
        )
        mine = [event for event in events if event["object_uuid"] == person and event["timestamp"] >= before[:19]]
        assert len(mine) == 1, events
        checks.append("a suspend made through the SCIM tool is in the audit events")


async def main():
    binary = sys.argv[1]
    checks = []
    await against_the_simulator(binary, checks)
    await against_the_demo(binary, checks)
    for check in checks:
        print(f"ok: {check}")
    print(f"{len(checks)} passed, 0 failed")


asyncio.run(main())
