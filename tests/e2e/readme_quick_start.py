"""Follow README.md's quick start, as written, against the simulated bridge.

Usage: readme_quick_start.py BINARY README

Reads the four steps of the "Quick start" section out of the README: the commands that make the
token file (step 1), the `config check --live` command (step 2), the Claude Desktop
configuration (step 3), and the Events API's token file and arguments (step 4). Starts the
simulated bridge and Events API with tokens, puts the tokens where steps 1 and 4 say, runs step 2
in a shell, then starts the server exactly as the client configuration says and drives it with
the official Python MCP client over stdio: a read-only scope, a live read, a write refused, and
the audit log created readable by its owner only; then step 2 and 3 again with step 4's
arguments: both live checks pass and the Events tools read the simulated Events API. The example
bridge URL, the Events region (for the simulator's URL), `/path/to/op-scim-mcp`, `op-scim-mcp`,
`~` and `/home/me` are the only things replaced. Prints
`N passed, 0 failed` and exits 0 on success.
"""

import asyncio
import json
import os
import re
import shlex
import stat
import subprocess
import sys
import tempfile

from mcp import Client, StdioServerParameters

TOKEN = "quick-start-bridge-token-0123456789"
EVENTS_TOKEN = "quick-start-events-token-0123456789"
EXAMPLE_BRIDGE = "https://op-scim-bridge.example.com"
READ_TOOLS = 7
EVENTS_TOOLS = 4


def section(readme, title):
    start = readme.index(f"## {title}")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def blocks(text, language):
    """The fenced blocks of `language`, their indentation removed."""
    found = []
    for match in re.finditer(r"^( *)```" + language + r"\n(.*?)^\1```", text, re.S | re.M):
        indent = len(match.group(1))
        found.append("\n".join(line[indent:] for line in match.group(2).splitlines()))
    return found


def start(cmd, pattern):
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in proc.stderr:
        match = re.search(pattern, line)
        if match:
            return proc, match.group(1)
    raise SystemExit(f"{cmd[0]} exited before printing {pattern!r}")


def substitute(text, binary, bridge, home):
    text = text.replace(EXAMPLE_BRIDGE, bridge).replace("/path/to/op-scim-mcp", binary)
    text = text.replace("/home/me", home)
    return re.sub(r"(?m)^op-scim-mcp\b", binary, text)


async def main():
    binary, readme_path = sys.argv[1], sys.argv[2]
    quick_start = section(open(readme_path).read(), "Quick start")
    shells, configs = blocks(quick_start, "sh"), blocks(quick_start, "json")
    assert len(shells) == 4 and len(configs) == 1, (len(shells), len(configs))
    make_token_file, check, claude_code, make_events_token_file = shells
    events_args = re.findall(r"add `(--events-region [^`]+)`", quick_start)
    assert len(events_args) == 1, events_args
    checks = []
    sim, bridge = start([binary, "sim", "--listen", "127.0.0.1:0", "--users", "20", "--token", TOKEN,
                         "--events-token", EVENTS_TOKEN],
                        r"base URL\s+(\S+)")
    try:
        with tempfile.TemporaryDirectory() as home:
            env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OP_SCIM_LOG": "warn"}
            # Step 1: the commands that make the file, then the token pasted into it.
            first = [line for line in make_token_file.splitlines() if "$EDITOR" not in line]
            subprocess.run(["bash", "-ec", "\n".join(first)], env=env, check=True)
            token_file = os.path.join(home, ".config/op-scim-mcp/bridge-token")
            assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600, oct(os.stat(token_file).st_mode)
            with open(token_file, "a") as file:
                file.write(TOKEN + "\n")
            checks.append("token file")

            # Step 2, as written.
            command = substitute(check, binary, bridge, home)
            done = subprocess.run(["bash", "-ec", command], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "live check: SCIM bridge: ok" in done.stdout, done.stdout
            assert "(7 of 17 tools)" in done.stdout, done.stdout
            checks.append("config check --live")

            # Step 3: the Claude Desktop configuration, run as the client would run it.
            config = json.loads(substitute(configs[0], binary, bridge, home))["mcpServers"]["op-scim"]
            # The Claude Code line gives the same server the same arguments.
            code_args = shlex.split(claude_code.replace("\\\n", " "))
            code_args = code_args[code_args.index("--") + 2:]
            desktop_args = [arg.replace(home, "~") for arg in json.loads(configs[0])["mcpServers"]["op-scim"]["args"]]
            desktop_args = [arg.replace("/home/me", "~") for arg in desktop_args]
            assert code_args == desktop_args, (code_args, desktop_args)
            params = StdioServerParameters(command=config["command"], args=config["args"], env=env)
            async with Client(params) as client:
                names = sorted(tool.name for tool in (await client.list_tools()).tools)
                assert len(names) == READ_TOOLS, names
                assert not any("suspend" in name or name.startswith("delete") for name in names), names
                page = (await client.call_tool("list_all_1_password_users", {"limit": 5})).structured_content
                assert page and page["result_count"] == 5, page
                try:
                    await client.call_tool("1_password_users_suspend", {"id": page["result"][0]["id"]})
                    raise AssertionError("a write tool ran under --methods read")
                except Exception as error:  # the client raises on a JSON-RPC error
                    assert "Unknown tool" in str(error), error
            audit = config["args"][config["args"].index("--audit-log") + 1]
            assert stat.S_IMODE(os.stat(audit).st_mode) == 0o600, oct(os.stat(audit).st_mode)
            checks.append("read-only client")

            # Step 4: the Events token file, and its arguments added to steps 2 and 3. The
            # region's host is the real Events API; the simulator's URL takes its place.
            first = [line for line in make_events_token_file.splitlines() if "$EDITOR" not in line]
            subprocess.run(["bash", "-ec", "\n".join(first)], env=env, check=True)
            events_token_file = os.path.join(home, ".config/op-scim-mcp/events-token")
            assert stat.S_IMODE(os.stat(events_token_file).st_mode) == 0o600
            with open(events_token_file, "a") as file:
                file.write(EVENTS_TOKEN + "\n")
            extra = re.sub(r"--events-region \S+", f"--events-url {bridge}", events_args[0])
            assert extra != events_args[0], events_args[0]
            done = subprocess.run(["bash", "-ec", f"{command} {extra}"], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "live check: SCIM bridge: ok" in done.stdout, done.stdout
            assert "live check: Events API: ok" in done.stdout, done.stdout
            assert f"({READ_TOOLS + EVENTS_TOOLS} of 21 tools)" in done.stdout, done.stdout
            extra_args = [arg.replace("~", home) for arg in shlex.split(extra)]
            params = StdioServerParameters(command=config["command"], args=config["args"] + extra_args, env=env)
            async with Client(params) as client:
                names = sorted(tool.name for tool in (await client.list_tools()).tools)
                assert len(names) == READ_TOOLS + EVENTS_TOOLS, names
                result = await client.call_tool("list_all_1_password_sign_in_attempts", {"limit": 5})
                assert not result.is_error, result.content[0].text
                assert result.structured_content["result_count"] <= 5, result.structured_content
            checks.append("with the Events API")
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    print(f"quick start: {', '.join(checks)}")
    print(f"{len(checks)} passed, 0 failed")


asyncio.run(main())
