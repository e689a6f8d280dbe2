"""Run the third-party SCIM conformance checker scim2-tester against the simulated bridge.

Usage: scim2_tester_check.py BINARY [--base-path PATH] [--expected FILE] [--verbose]

BINARY is the built `op-scim-mcp`. Its `sim` subcommand is started on an ephemeral loopback port
and scim2-tester runs all of its checks against it. Run this with the Python of a venv holding
scim2_tester_requirements.txt (pinned), e.g.:
    python3 -m venv target/scim2-venv
    target/scim2-venv/bin/pip install -r tests/e2e/scim2_tester_requirements.txt
    target/scim2-venv/bin/python tests/e2e/scim2_tester_check.py target/release/op-scim-mcp

Base URL. The canonical base is the bridge root (`--base-path ""`, the default):
- 1Password tells identity providers to use the bare bridge URL as the SCIM base (facts §1.2).
- The bridge's ResourceTypes publish absolute endpoints (`/scim/v2/Groups`); RFC 7643 §6 makes
  them relative to the base URL, so they only resolve to the served path from the root. From
  `/scim/v2` they resolve to `/scim/v2/scim/v2/Groups` (404), and every resource check fails.

Recorded bridge quirks. The real bridge (as recorded, facts §1-§4) departs from RFC 7643/7644 in
ways that would otherwise stop scim2-tester before it checks anything else. The harness
accommodates each on the client side, and reports each as its own `bridge-quirk:*` check, which
fails while the quirk is on the wire (so it is listed as an expected failure, and the list goes
stale, failing the run, once it disappears):
- spc_documentationUri_is_a_uri: ServiceProviderConfig publishes `documentationUri: ""`, which
  is not a URI, so scim2-tester cannot describe the server: the harness drops it.
- user_endpoint_is_users: the User ResourceType's endpoint is the singular `/scim/v2/User`, which
  nothing serves: User requests go to `/scim/v2/Users`, the path clients actually use.
- user_attributes_advertised / group_attributes_advertised: resources carry attributes their
  `/Schemas` entry does not define (users: `displayName`, `active`); scim2-tester refuses unknown
  attributes, so the harness adds RFC 7643 definitions of them to the discovered schema.
- post_answers_201: POST answers 200 (RFC 7644 §3.3: 201): 200 is accepted on creation.
- user_meta_location: users carry no `meta.location`; scim2-tester references group members
  through it, so the harness adds it to the user resources it reads.

Each result is printed as one line, `PASS|FAIL|SKIP name: reason`. A check name is
`<ResourceType or ->:<checker>[:<attribute or detail>]`, with `[2]`, `[3]`... on repeats
(numbered in the order the server lists its resource types). Failures are compared with the
expected-failures file (default: scim2_tester_expected_failures.txt next to this script; one name
per line, `# reason` after it). Exit status is non-zero when a check fails that is not listed, or
a listed check does not fail (it passed, or no longer ran). Last line:
`scim2-tester: N passed, M failed` where M counts the unexpected failures and stale entries.
"""

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import traceback
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ResourceType, Schema, ScimProvider, ServiceProviderConfig
from scim2_tester import Status, check_server

HERE = Path(__file__).resolve().parent
PINNED = "0.5.2"

PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
# DEVIATION: "deviates from a SHOULD but remains within specification bounds": reported as a
# pass, with the deviation in the reason, so it is visible without failing the run.
WARNING = {Status.DEVIATION}
FAILING = {Status.ERROR, Status.CRITICAL}


class BridgeClient(SyncSCIMClient):
    """scim2-client, also accepting the bridge's recorded `200` answer to POST (facts §1.3)."""

    CREATION_RESPONSE_STATUS_CODES = [200, *SyncSCIMClient.CREATION_RESPONSE_STATUS_CODES]

    def create(self, *args, **kwargs):
        # `create` binds its default status codes at definition time, so pass them explicitly.
        kwargs.setdefault("expected_status_codes", self.CREATION_RESPONSE_STATUS_CODES)
        return super().create(*args, **kwargs)


def start_sim(binary, token):
    # `--token=` and not `--token`: a random token may begin with `-`, which would read as a flag.
    cmd = [binary, "sim", "--listen", "127.0.0.1:0", "--users", "50", f"--token={token}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    said = []
    for line in proc.stderr:
        match = re.search(r"bridge-sim: base URL\s+(\S+)", line)
        if match:
            # Keep draining stderr so the simulator never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, match.group(1).rstrip("/")
        said.append(line)
    proc.wait()
    raise SystemExit(
        f"{binary} sim exited ({proc.returncode}) before printing its base URL:\n" + "".join(said).replace(token, "<token>")
    )


class Quirks:
    """What the harness accommodated, as `bridge-quirk:*` results (name, passed, reason)."""

    def __init__(self):
        self.create_statuses = Counter()
        self.users_without_location = 0
        self.results = []

    def record(self, name, present, detail):
        self.results.append((f"bridge-quirk:{name}", not present, detail))

    def observe(self, response):
        if response.request.method == "POST" and re.search(r"/(Users|Groups)$", response.request.url.path):
            self.create_statuses[response.status_code] += 1


USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


class BridgeTransport(httpx2.HTTPTransport):
    """Gives the users the bridge returns the `meta.location` it leaves out (facts §2.2).

    scim2-tester references a user from a group's `members` through the user's `meta.location`
    (the `$ref`, whose last segment becomes `value`). Without it, it sends a random member id.
    """

    def __init__(self, quirks):
        super().__init__()
        self.quirks = quirks

    def handle_request(self, request):
        response = super().handle_request(request)
        if "json" not in response.headers.get("content-type", ""):
            return response
        response.read()
        try:
            payload = json.loads(response.content)
        except ValueError:
            return response
        resources = payload.get("Resources") if isinstance(payload, dict) else None
        changed = False
        for resource in resources if isinstance(resources, list) else [payload]:
            if not isinstance(resource, dict) or USER_URN not in resource.get("schemas", []):
                continue
            meta = resource.setdefault("meta", {})
            if "location" not in meta and "id" in resource:
                path = f"/scim/v2/Users/{resource['id']}"
                meta["location"] = str(request.url.copy_with(path=path, query=None))
                self.quirks.users_without_location += 1
                changed = True
        if not changed:
            return response
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")]
        return httpx2.Response(
            response.status_code,
            headers=headers,
            content=json.dumps(payload).encode(),
            request=request,
            extensions=response.extensions,
        )


def describe_server(http, quirks):
    """Build the description scim2-tester would discover, with the recorded quirks accommodated."""
    spc = http.get("ServiceProviderConfig").json()
    empty = [s.get("name") for s in spc.get("authenticationSchemes", []) if s.get("documentationUri") == ""]
    for scheme in spc.get("authenticationSchemes", []):
        if scheme.get("documentationUri") == "":
            del scheme["documentationUri"]
    quirks.record(
        "spc_documentationUri_is_a_uri",
        bool(empty),
        f"authenticationSchemes {empty} publish documentationUri \"\" (not a URI); dropped"
        if empty
        else "every documentationUri is absent or a URI",
    )

    resource_types = []
    singular = []
    for raw in http.get("ResourceTypes").json().get("Resources", []):
        endpoint = raw.get("endpoint", "")
        if raw.get("name") == "User" and not endpoint.endswith("/Users"):
            singular.append(endpoint)
            raw["endpoint"] = re.sub(r"/User$", "/Users", endpoint)
        resource_types.append(ResourceType.model_validate(raw))
    quirks.record(
        "user_endpoint_is_users",
        bool(singular),
        f"User ResourceType endpoint is {singular[0]!r}; requests sent to /Users instead"
        if singular
        else "User ResourceType endpoint ends in /Users",
    )

    raw_schemas = http.get("Schemas").json().get("Resources", [])
    for resource_type in resource_types:
        schema = next((s for s in raw_schemas if s.get("id") == resource_type.schema_), None)
        if schema is None:
            continue
        sample = http.get(resource_type.endpoint.lstrip("/"), params={"count": 20}).json().get("Resources", [])
        added = advertise_returned_attributes(schema, sample)
        quirks.record(
            f"{resource_type.name.lower()}_attributes_advertised",
            bool(added),
            f"{resource_type.name}s carry {added}, which {schema['id']} does not define; added to the schema"
            if added
            else f"every attribute {resource_type.name}s carry is in {schema['id']}",
        )

    schemas = [Schema.model_validate(raw) for raw in raw_schemas]
    return ScimProvider.from_discovery(schemas, resource_types, ServiceProviderConfig.model_validate(spc))


# RFC 7643 §4.1.1, §4.2, §2.4 definitions of the attributes the bridge returns outside its schema.
RFC_ATTRIBUTES = {
    "displayName": ("string", "readWrite"),
    "active": ("boolean", "readWrite"),
    "display": ("string", "readOnly"),
}
COMMON = {"schemas", "id", "externalId", "meta"}


def attribute_definition(name, value):
    kind, mutability = RFC_ATTRIBUTES.get(name, ("boolean" if isinstance(value, bool) else "string", "readOnly"))
    return {
        "name": name,
        "type": kind,
        "multiValued": False,
        "description": "returned by the bridge, not in its schema",
        "required": False,
        "caseExact": False,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": "none",
    }


def advertise_returned_attributes(schema, resources):
    """Add to `schema` the attributes `resources` carry that it does not define; return their paths."""
    added = []
    attributes = schema.setdefault("attributes", [])
    for resource in resources:
        for key, value in resource.items():
            if key in COMMON:
                continue
            known = next((a for a in attributes if a["name"].lower() == key.lower()), None)
            if known is None:
                attributes.append(attribute_definition(key, value))
                added.append(key)
                continue
            if known.get("type") != "complex":
                continue
            subs = known.setdefault("subAttributes", [])
            for item in value if isinstance(value, list) else [value]:
                for sub, sub_value in (item.items() if isinstance(item, dict) else []):
                    if not any(a["name"].lower() == sub.lower() for a in subs):
                        subs.append(attribute_definition(sub, sub_value))
                        added.append(f"{key}.{sub}")
    return added


def check_name(result, seen):
    name = f"{result.resource_type or '-'}:{result.title or '?'}"
    data = result.data if isinstance(result.data, dict) else {}
    detail = data.get("urn") or data.get("attribute")
    if detail:
        name += f":{detail}"
    else:
        # Discovery checks report once per HTTP method, per resource type or per schema; when the
        # reason does not say which, the repeats are numbered in the order the server listed them.
        reason = result.reason or ""
        match = (
            re.match(r"(GET|POST|PUT|PATCH|DELETE) /(?:ServiceProviderConfig|ResourceTypes|Schemas) ", reason)
            or re.search(r"ResourceType '(\w+)'", reason)
            or re.search(r"/ResourceTypes/(\w+) endpoint", reason)
            or re.search(r"schema:? urn:\S+:(\w+)\b", reason)
        )
        if match:
            name += f":{match.group(1)}"
    seen[name] += 1
    return name if seen[name] == 1 else f"{name}[{seen[name]}]"


def one_line(text, limit=300):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_expected(path):
    expected = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        name, _, reason = line.partition("#")
        name = name.strip()
        if not name:
            continue
        if not reason.strip():
            raise SystemExit(f"{path}:{number}: `{name}` has no `# reason`")
        expected[name] = reason.strip()
    return expected


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--base-path", default="", help="SCIM base path under the bridge URL (default: root)")
    parser.add_argument("--expected", type=Path, default=HERE / "scim2_tester_expected_failures.txt")
    parser.add_argument("--verbose", action="store_true", help="print the debugging data of failures")
    args = parser.parse_args()

    installed = version("scim2-tester")
    if installed != PINNED:
        print(f"warning: scim2-tester {installed} installed, the expectations are for {PINNED}", file=sys.stderr)
    expected = load_expected(args.expected)

    token = secrets.token_urlsafe(24)
    sim, bridge_url = start_sim(args.binary, token)
    base = bridge_url + args.base_path.rstrip("/")
    print(f"scim2-tester {installed} against {base}")
    quirks = Quirks()
    try:
        http = httpx2.Client(
            base_url=base + "/",
            headers={"Authorization": f"Bearer {token}"},
            event_hooks={"response": [quirks.observe]},
            transport=BridgeTransport(quirks),
            timeout=30,
        )
        with http:
            provider = describe_server(http, quirks)
            results = check_server(BridgeClient(http, provider=provider))
    except Exception:
        # The harness itself broke (the simulator answered something it cannot read): still end
        # with the summary line CI parses.
        traceback.print_exc()
        print("scim2-tester: 0 passed, 1 failed")
        return 1
    finally:
        sim.terminate()
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()

    created = quirks.create_statuses
    quirks.record(
        "post_answers_201",
        created[200] > 0,
        f"POST answered {dict(created)} (RFC 7644 §3.3: 201); 200 accepted"
        if created[200]
        else f"POST answered {dict(created)}",
    )

    missing = quirks.users_without_location
    quirks.record(
        "user_meta_location",
        missing > 0,
        f"{missing} user resources came without meta.location (RFC 7643 §3.1); added, so that "
        "group members can reference a created user"
        if missing
        else "every user resource carried meta.location",
    )

    outcomes = []  # (name, verdict, reason)
    seen = Counter()
    for result in results:
        name = check_name(result, seen)
        reason = one_line(result.reason)
        if result.status in PASSING:
            verdict = "PASS"
        elif result.status in WARNING:
            verdict, reason = "PASS", f"[deviation] {reason}"
        elif result.status in FAILING:
            verdict = "FAIL"
            if args.verbose and result.data is not None:
                reason += " | data: " + one_line(json.dumps(result.data, default=str), 600)
        else:
            verdict = "SKIP"
        outcomes.append((name, verdict, reason))
    for name, passed, reason in quirks.results:
        outcomes.append((name, "PASS" if passed else "FAIL", reason))

    passed = unexpected = 0
    failed_names = set()
    for name, verdict, reason in outcomes:
        note = ""
        if verdict == "PASS":
            passed += 1
            if name in expected:
                unexpected += 1
                note = "  <-- listed as an expected failure but passed: remove it from the list"
        elif verdict == "FAIL":
            failed_names.add(name)
            if name in expected:
                note = f"  (expected: {expected[name]})"
            else:
                unexpected += 1
                note = "  <-- UNEXPECTED"
        print(f"{verdict} {name}: {reason}{note}")
    ran = {name for name, _, _ in outcomes}
    for name in sorted(set(expected) - ran):
        unexpected += 1
        print(f"STALE {name}: listed as an expected failure but no such check ran")

    expected_failures = len(failed_names & set(expected))
    skipped = sum(1 for _, verdict, _ in outcomes if verdict == "SKIP")
    print(f"({expected_failures} expected failures, {skipped} skipped)")
    print(f"scim2-tester: {passed} passed, {unexpected} failed")
    return 1 if unexpected else 0


if __name__ == "__main__":
    os.environ.setdefault("OP_SCIM_LOG", "warn")
    sys.exit(main())
