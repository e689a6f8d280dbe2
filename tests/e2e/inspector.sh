#!/usr/bin/env bash
# The MCP Inspector CLI (@modelcontextprotocol/inspector, v2) as a client of op-scim-mcp, over
# stdio (`BINARY --demo`) and over Streamable HTTP (`BINARY --demo --transport http`).
#
#   tests/e2e/inspector.sh target/release/op-scim-mcp
#
# Per transport: tools/list matches the server's own `tools` listing; two tool calls return the
# structured results we expect; a call that ends in `isError: true` exits 5 (the Inspector's "tool
# error" code); an unknown tool exits 5 too. Ends with `inspector: N passed, M failed`.
#
# Needs bash, python3 (standard library only), npx; node 22 comes from `npx -p node@22`. npm
# downloads are cached in the default npm cache. INSPECTOR_TIMEOUT: seconds per Inspector run,
# including a first download (600).
set -euo pipefail

BINARY=${1:?usage: inspector.sh path/to/op-scim-mcp}
BINARY=$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")
PACKAGE="@modelcontextprotocol/inspector@2.12.0"
PER_RUN_TIMEOUT=${INSPECTOR_TIMEOUT:-600}

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PASSED=0
FAILED=0
STEP=0

# check NAME EXPECTED_EXIT PYTHON_ASSERTION TARGET... -- INSPECTOR_ARGS...
# Runs `mcp-inspector --cli TARGET... -- INSPECTOR_ARGS... --format json`, then requires the exit
# status and, when PYTHON_ASSERTION is not empty, that it holds with `out` bound to the JSON the
# Inspector printed: the result on stdout for exit 0, else its one-line error envelope.
check() {
    local name=$1 expected_exit=$2 assertion=$3
    shift 3
    STEP=$((STEP + 1))
    local stdout="$WORK/$STEP.out" stderr="$WORK/$STEP.err" command status=0
    command="mcp-inspector --cli$(printf ' %q' "$@") --format json"
    timeout "$PER_RUN_TIMEOUT" npx -y -p node@22 -p "$PACKAGE" -c "$command" >"$stdout" 2>"$stderr" || status=$?
    local verdict=""
    if [[ "$status" != "$expected_exit" ]]; then
        verdict="exit $status, expected $expected_exit"
    elif [[ -n "$assertion" ]]; then
        verdict=$(python3 - "$status" "$stdout" "$stderr" "$assertion" <<'PY' 2>&1 || true
import json, sys
status, stdout, stderr, assertion = sys.argv[1:5]
read = lambda path: open(path, encoding="utf-8", errors="replace").read()
try:
    if status == "0":
        out = json.loads(read(stdout))
    else:
        # The error envelope: the last one-line JSON object (stdout or stderr; the server's own
        # logs and its pretty-printed demo configuration come first on stderr).
        lines = (read(stdout) + "\n" + read(stderr)).splitlines()
        out = json.loads(next(l for l in reversed(lines) if l.startswith('{"')))
except (ValueError, StopIteration) as error:
    print(f"no JSON output ({type(error).__name__} {error})")
    sys.exit(0)
try:
    ok = eval(assertion, {"out": out})
except Exception as error:  # a missing key is a failed assertion, not a crash
    ok, why = False, f"{type(error).__name__}: {error}"
else:
    why = ""
if not ok:
    print(f"assertion failed: {assertion} {why}".rstrip())
PY
)
    fi
    if [[ -z "$verdict" ]]; then
        PASSED=$((PASSED + 1))
        echo "  ok   $name"
    else
        FAILED=$((FAILED + 1))
        echo "  FAIL $name: $verdict"
        echo "       command: $command"
        { grep -v -e '^npm warn' -e ' INFO ' "$stderr" || true; } | tail -n 5 | sed 's/^/       stderr: /'
        head -c 600 "$stdout" | sed 's/^/       stdout: /'
        echo
    fi
}

# The names the server publishes, from its own `tools` subcommand, to compare tools/list with.
"$BINARY" tools >"$WORK/tools.json"
EXPECTED_NAMES=$(python3 -c 'import json,sys; print(",".join(t["name"] for t in json.load(open(sys.argv[1]))["tools"]))' "$WORK/tools.json")

run_suite() { # label TARGET...
    local label=$1
    shift
    echo "== $label"
    check "$label: tools/list lists every published tool, each with an object inputSchema" 0 \
        "[t['name'] for t in out['result']['tools']] == '$EXPECTED_NAMES'.split(',') and all(t['inputSchema']['type'] == 'object' for t in out['result']['tools'])" \
        "$@" -- --method tools/list
    check "$label: get_1_password_service_provider_config returns the config" 0 \
        "not out['result'].get('isError') and 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig' in out['result']['structuredContent']['schemas']" \
        "$@" -- --method tools/call --tool-name get_1_password_service_provider_config
    check "$label: list_all_1_password_users limit=2 returns 2 users and a next_cursor" 0 \
        "not out['result'].get('isError') and len(out['result']['structuredContent']['result']) == 2 and all(u['id'] and u['userName'] for u in out['result']['structuredContent']['result']) and isinstance(out['result']['structuredContent']['next_cursor'], str)" \
        "$@" -- --method tools/call --tool-name list_all_1_password_users --tool-arg limit=2
    check "$label: an isError result (get_single_1_password_user_by_id id=nope) exits 5" 5 \
        "out['error']['code'] == 'tool_is_error'" \
        "$@" -- --method tools/call --tool-name get_single_1_password_user_by_id --tool-arg id=nope
    check "$label: an unknown tool exits 5" 5 "out['error']['code'] == 'tool_not_found'" \
        "$@" -- --method tools/call --tool-name no_such_tool
}

run_suite stdio "$BINARY" --demo

"$BINARY" --demo --transport http --listen 127.0.0.1:0 2>"$WORK/server.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 150); do
    URL=$(sed -n 's|^serving MCP over HTTP at \(http://[^ ]*/mcp\)$|\1|p' "$WORK/server.log" | head -n 1)
    [[ -n "$URL" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.2
done
if [[ -z "$URL" ]]; then
    FAILED=$((FAILED + 1))
    echo "  FAIL http: the server did not start:"
    sed 's/^/       /' "$WORK/server.log"
else
    echo "(HTTP server at $URL)"
    run_suite http "$URL"
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        FAILED=$((FAILED + 1))
        echo "  FAIL http: the server died during the run"
    fi
fi

echo "inspector: $PASSED passed, $FAILED failed"
[[ "$FAILED" == 0 ]]
