"""Scoped servers from the registry, driven by the official Python MCP client over HTTP.

Usage: mcp_client_registry.py BINARY

Creates a registry with the CLI (`servers create`, `api-tokens create`), serves it over HTTP
against the simulated bridge, and checks with the real client that a read-only server hides and
refuses write tools, that the URL and header forms serve the same tools, that an API token is
required where asked for, and that a server revoked by the CLI is refused within a second. Prints
`N passed, 0 failed` and exits 0 on success.
"""

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

TOKEN = "e2e-bridge-token-0123456789"


def start(cmd, pattern, env=None):
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    for line in proc.stderr:
        match = re.search(pattern, line)
        if match:
            return proc, match.group(1)
    raise SystemExit(f"{cmd[0]} exited before printing {pattern!r}")


def cli(binary, state, *args):
    out = subprocess.run([binary, *args, "--state", state], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


async def names(url, headers=None):
    async with httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(30, read=60)) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            return sorted(tool.name for tool in (await client.list_tools()).tools), client


async def main():
    binary = sys.argv[1]
    checks = []
    with tempfile.TemporaryDirectory() as tmp:
        state = os.path.join(tmp, "state.db")
        reader = cli(binary, state, "servers", "create", "--name", "Reader", "--methods", "read", "--tags", "directory")
        writer = cli(binary, state, "servers", "create", "--name", "Offboarding", "--methods", "read,custom",
                     "--require-api-token-auth")
        api = cli(binary, state, "api-tokens", "create", "--name", "bot")["secret"]
        sim, bridge = start([binary, "sim", "--listen", "127.0.0.1:0", "--users", "50", "--token", TOKEN],
                            r"base URL\s+(\S+)")
        env = dict(os.environ, OP_SCIM_BRIDGE_URL=bridge, OP_SCIM_BEARER_TOKEN=TOKEN,
                   OP_SCIM_AUDIT_LOG=os.path.join(tmp, "audit.jsonl"))
        server, url = start([binary, "--transport", "http", "--listen", "127.0.0.1:0", "--state", state],
                            r"at (http://\S+)/mcp", env=env)
        try:
            token = reader["path"].rsplit("/", 1)[1]
            async with httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=60)) as http:
                async with Client(streamable_http_client(f"{url}/mcp/{token}", http_client=http)) as client:
                    listed = sorted(t.name for t in (await client.list_tools()).tools)
                    assert "list_all_1_password_users" in listed and not any("suspend" in n for n in listed), listed
                    assert not any("service_provider" in n for n in listed), listed
                    try:
                        await client.call_tool("1_password_users_suspend", {"id": "X"})
                        raise AssertionError("an out-of-scope call was accepted")
                    except Exception as error:  # the client raises on a JSON-RPC error
                        assert "Unknown tool" in str(error), error
            checks.append("read-only scope")

            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
                async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
                    assert sorted(t.name for t in (await client.list_tools()).tools) == listed
            checks.append("header form")

            writer_url = f"{url}{writer['path']}"
            async with httpx2.AsyncClient(timeout=30) as http:
                refused = await http.post(writer_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                          headers={"Accept": "application/json, text/event-stream"})
                assert refused.status_code == 401 and "API token required" in refused.text, refused.text
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {api}"}, timeout=30) as http:
                async with Client(streamable_http_client(writer_url, http_client=http)) as client:
                    users = (await client.call_tool("list_all_1_password_users", {"limit": 1})).structured_content
                    done = await client.call_tool("1_password_users_suspend", {"id": users["result"][0]["id"]})
                    assert not done.is_error and done.structured_content["active"] is False
            checks.append("api token second factor")

            # The CLI is another process writing the file: the server's cache of lookups hears of
            # it within a second (it polls the file's data_version), not necessarily at once.
            cli(binary, state, "servers", "revoke", "Reader")
            revoked_at = time.monotonic()
            async with httpx2.AsyncClient(timeout=30) as http:
                while True:
                    gone = await http.post(f"{url}/mcp/{token}", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                           headers={"Accept": "application/json, text/event-stream"})
                    if gone.status_code == 401:
                        break
                    waited = time.monotonic() - revoked_at
                    assert gone.status_code == 200 and waited < 1.0, (gone.status_code, f"{waited:.2f} s after")
                    await asyncio.sleep(0.02)
            checks.append("revocation")

            audit = open(os.path.join(tmp, "audit.jsonl")).read()
            assert '"tool":"1_password_users_suspend"' in audit and '"server_name":"Offboarding"' in audit, audit
            assert token not in audit and api not in audit
            db = open(state, "rb").read()
            assert token.encode() not in db and api.encode() not in db
            checks.append("audit and storage hold no secrets")
        finally:
            for proc in (server, sim):
                proc.terminate()
                proc.wait(timeout=10)
    print(f"registry: {', '.join(checks)}")
    print(f"{len(checks)} passed, 0 failed")


asyncio.run(main())
