#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, server mode) against
# op-scim-mcp over Streamable HTTP, for spec versions 2025-11-25 and 2026-07-28.
#
#   tests/e2e/conformance.sh target/release/op-scim-mcp
#
# Starts `BINARY --demo --transport http --listen 127.0.0.1:0` (simulated bridge: the suite calls
# the first listed tool, a write tool, with made-up arguments, so never point this at a real
# bridge), runs every scenario a tools-only server can meet, one by one, and judges each check
# against tests/e2e/conformance-expected-failures.yml. Fails on any failure not listed there, on a
# listed entry that passes or matches nothing, on a warning not allowed below, on a scenario that
# produced no results, and if the server died. Ends with `conformance: N passed, M failed`, where
# M counts exactly those (expected failures are reported on the line before it).
#
# Needs bash, python3 (standard library only), npx; node 22 comes from `npx -p node@22`. npm
# downloads are cached in the default npm cache. Environment:
#   CONFORMANCE_RESULTS  keep the suite's results (checks.json per scenario) in this directory
#   CONFORMANCE_TIMEOUT  seconds allowed per scenario run, including a first download (600)
set -euo pipefail

BINARY=${1:?usage: conformance.sh path/to/op-scim-mcp}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EXPECTED="$HERE/conformance-expected-failures.yml"
PACKAGE="@modelcontextprotocol/conformance@0.2.0-alpha.12"
PER_RUN_TIMEOUT=${CONFORMANCE_TIMEOUT:-600}

# Scenarios per spec version (from `conformance list --server`). Not run, because they need
# fixture tools/prompts/resources we do not ship or a stateful server: tools-call-*,
# json-schema-2020-12, completion-complete, logging-set-level, elicitation-*, resources-*,
# prompts-*, sep-2164-resource-not-found (resources, issue 9), http-custom-header-server-validation
# (a tool with x-mcp-header), input-required-result-* except unsupported-methods (MRTR fixtures),
# server-session-lifecycle and server-sse-polling (sessions; we serve stateless), and the
# extension scenarios (tasks-*, sep-2640-*).
SCENARIOS_2025_11_25="server-initialize ping tools-list dns-rebinding-protection server-sse-multiple-streams
    prompts-list resources-list prompts-get-with-args resources-read-text"
SCENARIOS_2026_07_28="server-stateless tools-list server-sse-multiple-streams dns-rebinding-protection
  http-header-validation caching input-required-result-unsupported-methods"

# Warnings that are not failures, as "version scenario:check-id  reason". Anything else with
# status WARNING fails the run.
ALLOWED_WARNINGS="
2025-11-25 server-sse-multiple-streams:server-sse-multiple-streams-session  the HTTP transport is stateless by design (no Mcp-Session-Id), so the 2025-11-25 multi-stream probe has nothing to attach to; the 2026-07-28 run of this scenario exercises concurrent POST streams
"

WORK=$(mktemp -d)
RESULTS=${CONFORMANCE_RESULTS:-$WORK/results}
mkdir -p "$RESULTS"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BINARY" --demo --transport http --listen 127.0.0.1:0 2>"$WORK/server.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 150); do
    URL=$(sed -n 's|^serving MCP over HTTP at \(http://[^ ]*/mcp\)$|\1|p' "$WORK/server.log" | head -n 1)
    [[ -n "$URL" ]] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "conformance: the server exited before serving:" >&2
        cat "$WORK/server.log" >&2
        echo "conformance: 0 passed, 1 failed"
        exit 1
    fi
    sleep 0.2
done
if [[ -z "$URL" ]]; then
    echo "conformance: the server did not print its URL within 30 s:" >&2
    cat "$WORK/server.log" >&2
    echo "conformance: 0 passed, 1 failed"
    exit 1
fi
echo "conformance: $PACKAGE against $URL"

run_scenario() { # version scenario
    local version=$1 scenario=$2
    local out="$RESULTS/$version/$scenario"
    mkdir -p "$out"
    local command
    command=$(printf 'conformance server --url %q --scenario %q --spec-version %q -o %q' \
        "$URL" "$scenario" "$version" "$out")
    # The suite's exit status is not the verdict (checks.json is, judged below), but a runner that
    # crashes leaves no checks.json, and that fails the scenario.
    timeout "$PER_RUN_TIMEOUT" npx -y -p node@22 -p "$PACKAGE" -c "$command" \
        >"$out/runner.log" 2>&1 || true
}

for scenario in $SCENARIOS_2025_11_25; do run_scenario 2025-11-25 "$scenario"; done
for scenario in $SCENARIOS_2026_07_28; do run_scenario 2026-07-28 "$scenario"; done

SERVER_ALIVE=yes
kill -0 "$SERVER_PID" 2>/dev/null || SERVER_ALIVE=no

set +e
python3 - "$RESULTS" "$EXPECTED" "$SERVER_ALIVE" \
    "2025-11-25=$SCENARIOS_2025_11_25" "2026-07-28=$SCENARIOS_2026_07_28" \
    "$ALLOWED_WARNINGS" <<'PY'
import glob, json, os, sys

results, expected_path, server_alive = sys.argv[1:4]
runs = [(arg.split("=", 1)[0], arg.split("=", 1)[1].split()) for arg in sys.argv[4:6]]
allowed_warnings = {}
for line in sys.argv[6].splitlines():
    if line.strip():
        version, key, reason = line.split(None, 2)
        allowed_warnings[(version, key)] = reason

def load_expected(path):
    """The `server:` list of the suite's expected-failures format (a YAML subset: one key, a
    list of plain or quoted strings, comments), with the suite's own validation rules."""
    entries, in_server = [], False
    for number, raw in enumerate(open(path, encoding="utf-8"), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line[0].isspace():
            key = line.strip()
            if key not in ("server:", "client:"):
                sys.exit(f"{path}:{number}: expected `server:` or `client:`, got {key!r}")
            in_server = key == "server:"
            continue
        item = line.strip()
        if not item.startswith("- "):
            sys.exit(f"{path}:{number}: expected a list item `- \"scenario:check-id\"`")
        value = item[2:].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        scenario, _, check = value.partition(":")
        if not scenario or (":" in value and not check) or " " in value:
            sys.exit(f"{path}:{number}: {value!r} is not 'scenario' or 'scenario:check-id'")
        if in_server:
            entries.append((scenario, check or None))
    whole = {s for s, c in entries if c is None}
    for s, c in entries:
        if c is not None and s in whole:
            sys.exit(f"{path}: '{s}:{c}' is redundant: '{s}' is expected to fail as a whole")
    return entries

expected = load_expected(expected_path)
used = set()
total_passed = total_expected = 0
problems = []

for version, scenarios in runs:
    print(f"\n== spec version {version}")
    for scenario in scenarios:
        files = sorted(glob.glob(os.path.join(results, version, scenario, "*", "checks.json")))
        if not files:
            log = os.path.join(results, version, scenario, "runner.log")
            tail = open(log, encoding="utf-8", errors="replace").read()[-2000:] if os.path.exists(log) else ""
            print(f"  x {scenario}: no results (the runner failed)\n{tail}")
            problems.append(f"{version} {scenario}: no results")
            continue
        checks = json.load(open(files[-1], encoding="utf-8"))
        counts = dict.fromkeys(("SUCCESS", "FAILURE", "WARNING", "SKIPPED", "INFO"), 0)
        lines = []
        for check in checks:
            status, cid = check.get("status"), check.get("id")
            counts[status] = counts.get(status, 0) + 1
            detail = (check.get("errorMessage") or (check.get("details") or {}).get("message") or "")[:300]
            listed = [e for e in expected if e[0] == scenario and e[1] in (None, cid)]
            if status == "FAILURE":
                if listed:
                    used.update(listed)
                    total_expected += 1
                    lines.append(f"      ~ expected failure {cid}: {detail}")
                else:
                    problems.append(f"{version} {scenario}:{cid}: {detail}")
                    lines.append(f"      x FAILED {cid}: {detail}")
            elif status == "WARNING":
                reason = allowed_warnings.get((version, f"{scenario}:{cid}"))
                if reason:
                    lines.append(f"      ! allowed warning {cid}: {detail} (allowed: {reason})")
                else:
                    problems.append(f"{version} {scenario}:{cid}: warning: {detail}")
                    lines.append(f"      x WARNING {cid}: {detail}")
            elif status == "SUCCESS":
                stale = [e for e in listed if e[1] == cid]
                if stale:
                    used.update(stale)
                    problems.append(f"{version} {scenario}:{cid}: passes but is listed as an expected failure (stale)")
                    lines.append(f"      x STALE {cid}: passes; remove it from {os.path.basename(expected_path)}")
        whole = (scenario, None) in expected
        if whole and counts["FAILURE"] == 0:
            used.add((scenario, None))
            problems.append(f"{version} {scenario}: listed as failing as a whole but passes (stale)")
        total_passed += counts["SUCCESS"]
        mark = "x" if any(p.startswith(f"{version} {scenario}:") for p in problems) else "ok"
        extras = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if s not in ("SUCCESS", "FAILURE") and n)
        print(f"  {mark:2} {scenario}: {counts['SUCCESS']} passed, {counts['FAILURE']} failed"
              + (f" ({extras})" if extras else ""))
        for line in lines:
            print(line)

for entry in expected:
    if entry not in used:
        problems.append(f"expected-failures entry {entry[0]}{':' + entry[1] if entry[1] else ''} matched no check")
if server_alive != "yes":
    problems.append("the server under test died during the run")

print()
if problems:
    print("unexpected:")
    for problem in problems:
        print(f"  - {problem}")
print(f"expected failures (listed in {os.path.basename(expected_path)}): {total_expected}")
print(f"conformance: {total_passed} passed, {len(problems)} failed")
sys.exit(1 if problems else 0)
PY
status=$?
set -e
exit "$status"
