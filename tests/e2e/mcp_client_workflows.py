"""Drive op-scim-mcp with the official Python MCP client, over stdio or HTTP.

Usage: mcp_client_workflows.py BINARY stdio|http

Starts the simulated bridge (`BINARY sim`) on an ephemeral loopback port, then the MCP server
against it, and runs the product's workflows. State changes are verified on the bridge
directly, not through the MCP server. Prints `N passed, 0 failed` and exits 0 on success.
"""

import asyncio
import json
import os
import re
import subprocess
import sys

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

TOKEN = "e2e-bridge-token-0123456789"


def start(cmd, pattern, env=None):
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    for line in proc.stderr:
        match = re.search(pattern, line)
        if match:
            return proc, match.group(1)
    raise SystemExit(f"{cmd[0]} exited before printing {pattern!r}")


def structured(result):
    assert result.structured_content is not None, result
    return result.structured_content


async def workflows(client, bridge_url, checks):
    tools = await client.list_tools()
    names = sorted(tool.name for tool in tools.tools)
    assert "list_all_1_password_users" in names and "1_password_users_suspend" in names, names
    assert len(names) == 17, names
    checks.append("tools/list")

    # Audit: page through everyone 50 at a time.
    seen, cursor = set(), None
    while True:
        args = {"limit": 50}
        if cursor:
            args["next_cursor"] = cursor
        page = structured(await client.call_tool("list_all_1_password_users", args))
        for user in page["result"]:
            assert user["id"] not in seen
            seen.add(user["id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == page["total_results"] == 300, (len(seen), page["total_results"])
    checks.append("audit paging")

    # Offboarding, following the steps of the rendered `offboard_user` prompt: the tools it names,
    # in its order (find by the typed filter, suspend by id, read back), then confirm on the bridge.
    prompts = await client.list_prompts()
    assert {"offboard_user", "audit_contractor_access", "review_group_membership"} <= {p.name for p in prompts.prompts}
    rendered = await client.get_prompt("offboard_user", {"email": "jane.doe@example.com"})
    text = rendered.messages[0].content.text
    named = [name for name in re.findall(r"`([a-z0-9_]+)`", text) if name in names]
    find_tool, suspend_tool, read_tool = named[0], named[1], named[2]
    assert (find_tool, suspend_tool, read_tool) == (
        "list_all_1_password_users", "1_password_users_suspend", "get_single_1_password_user_by_id"), named
    found = structured(await client.call_tool(find_tool, {"user_name": "jane.doe@example.com"}))
    assert found["result_count"] == 1, found
    jane = found["result"][0]["id"]
    suspended = await client.call_tool(suspend_tool, {"id": jane})
    assert not suspended.is_error and structured(suspended)["active"] is False
    assert structured(await client.call_tool(read_tool, {"id": jane}))["active"] is False
    catalogue = await client.read_resource("op-scim://tools/catalogue")
    assert "list_all_1_password_users" in catalogue.contents[0].text
    checks.append("prompts and resources")
    async with httpx2.AsyncClient() as http:
        direct = (await http.get(f"{bridge_url}/scim/v2/Users/{jane}", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    assert direct["active"] is False, direct
    checks.append("offboarding")

    # Contractor audit: active users at the agency domain, suspend each.
    contractors = structured(
        await client.call_tool("list_all_1_password_users", {"email": "@external-agency.com", "active": True, "limit": 100})
    )
    assert contractors["result_count"] > 0
    for user in contractors["result"]:
        assert user["userName"].endswith("@external-agency.com") and user["active"] is True
        assert structured(await client.call_tool("1_password_users_suspend", {"id": user["id"]}))["active"] is False
    left = structured(await client.call_tool("list_all_1_password_users", {"email": "@external-agency.com", "active": True}))
    assert left["result_count"] == 0, left
    checks.append("contractor audit")

    # Reactivate, update (PUT replace) and group membership.
    assert structured(await client.call_tool("1_password_users_reactivate", {"id": jane}))["active"] is True
    updated = await client.call_tool("update_a_1_password_user_by_id", {
        "id": jane, "user_name": "jane.doe@example.com", "active": True,
        "name": {"given_name": "Jane", "family_name": "Doe-Smith"},
    })
    assert not updated.is_error, updated.content[0].text
    async with httpx2.AsyncClient() as http:
        direct = (await http.get(f"{bridge_url}/Users/{jane}", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    assert direct["name"]["familyName"] == "Doe-Smith" and direct["active"] is True, direct
    group = structured(await client.call_tool("create_a_1_password_group", {"display_name": "Offboarding review"}))
    await client.call_tool("1_password_groups_add_members", {"id": group["id"], "member_ids": [jane]})
    async with httpx2.AsyncClient() as http:
        direct = (await http.get(f"{bridge_url}/Groups/{group['id']}", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    assert [m["value"] for m in direct.get("members", [])] == [jane], direct
    checks.append("reactivate, update and membership")

    # Errors the model can act on, and the server keeps serving.
    bad = await client.call_tool("list_all_1_password_users", {"next_cursor": "forged"})
    assert bad.is_error and "next_cursor" in bad.content[0].text
    bad = await client.call_tool("list_all_1_password_users", {"limit": 0})
    assert bad.is_error and "`limit`" in bad.content[0].text
    missing = await client.call_tool("get_single_1_password_user_by_id", {"id": "a/b?c"})
    assert missing.is_error and "No 1Password user with id a/b?c" in missing.content[0].text
    assert not (await client.call_tool("get_1_password_service_provider_config", {})).is_error
    checks.append("errors")


async def main():
    binary, transport = sys.argv[1], sys.argv[2]
    sim, bridge_url = start(
        [binary, "sim", "--listen", "127.0.0.1:0", "--users", "300", "--token", TOKEN], r"base URL\s+(\S+)"
    )
    checks = []
    env = dict(os.environ, OP_SCIM_BRIDGE_URL=bridge_url, OP_SCIM_BEARER_TOKEN=TOKEN)
    server = None
    try:
        if transport == "stdio":
            params = StdioServerParameters(command=binary, args=[], env=env)
            async with Client(params) as client:
                await workflows(client, bridge_url, checks)
        else:
            server, url = start(
                [binary, "--transport", "http", "--listen", "127.0.0.1:0"], r"at (http://\S+/mcp)", env=env
            )
            async with Client(url) as client:
                await workflows(client, bridge_url, checks)
    finally:
        for proc in (server, sim):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)
    print(f"{transport}: {', '.join(checks)}")
    print(f"{len(checks)} passed, 0 failed")


asyncio.run(main())
