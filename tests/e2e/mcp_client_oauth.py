"""The OAuth 2.1 resource-server mode, end to end against a real authorization server.

Usage: mcp_client_oauth.py BINARY [NPM_PREFIX]

NPM_PREFIX holds node_modules/oidc-provider (default: target/e2e-oauth, where `cargo xtask ci`
installs it). Starts two oidc-provider instances on loopback (tests/e2e/oauth_provider.mjs): the
server's issuer and a foreign one. Starts `BINARY --demo` over HTTP with the first as its OAuth
issuer, then checks, with raw HTTP where the wire format is the point and with the official
Python MCP client elsewhere:
- the protected resource metadata at both well-known paths and the 401 challenge;
- client-credentials tokens from the provider work, and tools/list shows exactly the tools
  the token's scopes allow;
- tokens for another resource, from another issuer, expired, signed by an unknown or forged
  key, unsigned, HMAC-signed with the public key, or not a JWT at all are refused with 401
  `invalid_token` (a token minted with the provider's real key and valid claims is the control);
- a call outside the token's scopes gets 403 `insufficient_scope` naming the scope it needs,
  and nothing is done (nor when smuggled under another tool's `Mcp-Name` or in a batch);
- the official client's OAuthClientProvider does the whole authorization-code + PKCE flow on
  its own (discovery, registration, login and consent through the provider's forms), then
  steps up to `scim:admin` when a call needs it, and the audit log names the person;
- 1,000 tokens with random key ids cause at most 5 key-set fetches, counted by the provider;
- after the provider rotates to a new signing key, its tokens are accepted.
Prints `N passed, 0 failed` and exits 0 on success; each failure is printed with the server's
last log lines.
"""

import asyncio
import base64
import collections
import contextlib
import hashlib
import hmac
import json
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

HERE = Path(__file__).resolve().parent
PROVIDER = HERE / "oauth_provider.mjs"
SCOPES = ["scim:read", "scim:write", "scim:admin", "events:read"]
SECRETS = {"reader": "reader-secret", "admin": "admin-secret"}
COOLDOWN = 2.0
PERSON = "e2e-alice"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "oauth-e2e", "version": "1"}}}
# The Events tools; every other tool is a SCIM tool, tiered by what it does (see `tier`).
EVENTS_TOOLS = {"1_password_events_introspect", "list_all_1_password_audit_events",
                "list_all_1_password_item_usages", "list_all_1_password_sign_in_attempts"}


def tier(name):
    """The scope a tool needs, per the server's default scope map."""
    if name in EVENTS_TOOLS:
        return "events:read"
    if "suspend" in name or "reactivate" in name or name.startswith("delete_"):
        return "scim:admin"
    if name.startswith(("create_", "update_")) or name.endswith(("_add_members", "_remove_members")):
        return "scim:write"
    return "scim:read"


def allowed(tools, scopes):
    """The tools a token with `scopes` may use: the SCIM scopes nest, events:read stands alone."""
    implied = set(scopes)
    if "scim:admin" in implied:
        implied.add("scim:write")
    if "scim:write" in implied:
        implied.add("scim:read")
    return {name for name in tools if tier(name) in implied}


class Child:
    """A process whose stderr is read to the end on a thread (so it never blocks on a full
    pipe), keeping the last lines to show when a check fails."""

    def __init__(self, name, cmd, pattern, timeout=20, env=None):
        self.name = name
        self.tail = collections.deque(maxlen=30)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=env)
        found = queue.Queue()

        def pump():
            waiting = True
            for line in self.proc.stderr:
                self.tail.append(line.rstrip())
                match = waiting and re.search(pattern, line)
                if match:
                    waiting = False
                    found.put(match.group(1))
            found.put(None)

        threading.Thread(target=pump, daemon=True).start()
        try:
            self.value = found.get(timeout=timeout)
        except queue.Empty:
            self.value = None
        if self.value is None:
            ended = "exited" if self.proc.poll() is not None else f"ran {timeout} s"
            self.stop()
            raise SystemExit(f"{name} {ended} without printing {pattern!r}:\n{self.log()}")

    def log(self):
        return "\n".join(f"  {self.name}| {line}" for line in self.tail)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def header_of(token):
    return jwt.get_unverified_header(token)


def challenge(response):
    """The parameters of a `WWW-Authenticate: Bearer ...` header, with the scheme checked."""
    header = response.headers.get("www-authenticate")
    assert header, f"HTTP {response.status_code} without WWW-Authenticate: {response.text[:200]}"
    scheme, _, rest = header.partition(" ")
    assert scheme.lower() == "bearer", header
    quoted = re.findall(r'([A-Za-z_]+)="((?:[^"\\]|\\.)*)"', rest)
    return {key: re.sub(r"\\(.)", r"\1", value) for key, value in quoted}


def mcp_headers(token=None, session=None):
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if session is not None:
        headers["Mcp-Session-Id"] = session
        headers["MCP-Protocol-Version"] = "2025-06-18"
    return headers


class Keys:
    """The provider's private keys, as it wrote them, and tokens minted with them."""

    def __init__(self, path):
        self.path = path

    def current(self):
        return json.loads(Path(self.path).read_text())["keys"][0]

    def mint(self, claims):
        jwk = self.current()
        key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": jwk["kid"], "typ": "at+jwt"})


def fresh_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class World:
    """Everything the checks share: the processes, their URLs, and what earlier checks found."""

    def __init__(self, binary, prefix, tmp):
        self.binary, self.prefix, self.tmp = binary, prefix, tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.resource = f"{self.base}/mcp"
        self.other = f"{self.base}/other"
        self.prm_url = f"{self.base}/.well-known/oauth-protected-resource/mcp"
        self.audit = os.path.join(tmp, "audit.jsonl")
        self.keys = Keys(os.path.join(tmp, "keys.json"))
        self.children = []
        self.tokens = {}
        self.victim = None
        self.stepped_up = None
        self.fetches = 0  # key-set fetches seen by provider instances already stopped
        self.stack = contextlib.AsyncExitStack()

    def provider(self, keys, port=0, rotate=False):
        cmd = ["node", str(PROVIDER), "--modules", self.prefix, "--keys", keys, "--port", str(port),
               "--resource", self.resource, "--resource", self.other]
        if rotate:
            cmd.append("--rotate")
        child = Child("provider", cmd, r"issuer (http://\S+)")
        self.children.append(child)
        return child

    def start(self):
        self.issuer_child = self.provider(self.keys.path)
        self.issuer = self.issuer_child.value
        self.foreign = self.provider(os.path.join(self.tmp, "foreign-keys.json")).value
        self.server = Child("server", [
            self.binary, "--demo", "--transport", "http", "--listen", f"127.0.0.1:{self.port}",
            "--public-url", self.base, "--oauth-issuer", self.issuer, "--oauth-insecure-loopback-issuer",
            "--oauth-jwks-cooldown", f"{COOLDOWN:g}s", "--audit-log", self.audit,
        ], r"serving MCP over HTTP at (http://\S+)")
        self.children.append(self.server)
        assert self.server.value == self.resource, self.server.value
        # Ready once the issuer's keys are in (the server fetches them when it starts).
        deadline = time.monotonic() + 15
        while httpx2.get(f"{self.base}/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, f"/readyz not 200 within 15 s:\n{self.server.log()}"
            time.sleep(0.05)

    def stop(self):
        for child in reversed(self.children):
            child.stop()

    def claims(self, **changes):
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.resource, "sub": "minted", "client_id": "minted",
                  "scope": "scim:read", "iat": now, "exp": now + 300, "jti": secrets.token_hex(8)}
        claims.update(changes)
        return claims

    async def token(self, http, client, scope, resource=None, issuer=None):
        response = await http.post(f"{issuer or self.issuer}/token", auth=(client, SECRETS[client]), data={
            "grant_type": "client_credentials", "resource": resource or self.resource, "scope": scope})
        assert response.status_code == 200, f"token request for {client}: {response.text}"
        return response.json()["access_token"]

    async def jwks_hits(self, http):
        return (await http.get(f"{self.issuer}/test/jwks-hits")).json()["hits"]

    def audit_lines(self):
        if not os.path.exists(self.audit):
            return []
        return [json.loads(line) for line in Path(self.audit).read_text().splitlines() if line.strip()]


@contextlib.asynccontextmanager
async def mcp(url, token=None, auth=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, auth=auth, timeout=httpx2.Timeout(20, read=30)) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


async def tool_names(world, token):
    async with mcp(world.resource, token) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


async def is_active(world, user_id):
    async with mcp(world.resource, world.tokens["admin"]) as client:
        user = await client.call_tool("get_single_1_password_user_by_id", {"id": user_id})
        assert not user.is_error, user
        return user.structured_content["active"]


# The checks, in order; each is one behaviour, and later ones may use what earlier ones found.

async def metadata_at_both_paths(world, http):
    expected = {"resource": world.resource, "authorization_servers": [world.issuer],
                "bearer_methods_supported": ["header"], "resource_name": "op-scim-mcp"}
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        response = await http.get(world.base + path)
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json"), response.headers
        document = response.json()
        got = {key: document.get(key) for key in expected}
        assert got == expected, (path, got)
        scopes = document.get("scopes_supported")
        assert sorted(scopes) == sorted(SCOPES), (path, scopes)


async def challenge_without_token(world, http):
    response = await http.post(world.resource, json=INITIALIZE, headers=mcp_headers())
    assert response.status_code == 401, (response.status_code, response.text)
    params = challenge(response)
    assert "error" not in params, params
    assert params.get("resource_metadata") == world.prm_url, params
    assert sorted(params.get("scope", "").split()) == ["events:read", "scim:read"], params


async def query_token_ignored(world, http):
    token = world.tokens["reader"]
    response = await http.post(f"{world.resource}?access_token={token}", json=INITIALIZE, headers=mcp_headers())
    assert response.status_code == 401, (response.status_code, response.text[:200])
    assert challenge(response).get("resource_metadata") == world.prm_url, response.headers


async def client_credentials_token(world, http):
    reader = await world.token(http, "reader", "scim:read events:read")
    claims = claims_of(reader)
    assert claims["aud"] == world.resource and claims["scope"] == "scim:read events:read", claims
    world.tokens["reader"] = reader
    world.tokens["admin"] = await world.token(http, "admin", " ".join(SCOPES))
    async with mcp(world.resource, reader) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "list_all_1_password_users" in names, names
        users = (await client.call_tool("list_all_1_password_users", {"limit": 5})).structured_content
        assert users["result"], users
    world.victim = next(user["id"] for user in users["result"] if user["active"])


async def tools_filtered_by_scope(world, http):
    everything = await tool_names(world, world.tokens["admin"])
    for name, scope in [("list_all_1_password_users", "scim:read"), ("create_a_1_password_user", "scim:write"),
                        ("1_password_users_suspend", "scim:admin"),
                        ("list_all_1_password_sign_in_attempts", "events:read")]:
        assert name in everything and tier(name) == scope, (name, sorted(everything))
    assert await tool_names(world, world.tokens["reader"]) == allowed(everything, ["scim:read", "events:read"])
    for client, scope in [("reader", "scim:read"), ("admin", "scim:write"), ("admin", "events:read")]:
        names = await tool_names(world, await world.token(http, client, scope))
        expected = allowed(everything, [scope])
        assert names == expected, (scope, "extra", sorted(names - expected), "missing", sorted(expected - names))


async def minted_control_accepted(world, http):
    response = await http.post(world.resource, json=INITIALIZE, headers=mcp_headers(world.keys.mint(world.claims())))
    assert response.status_code == 200, (response.status_code, response.headers.get("www-authenticate"))


def refused(make):
    async def check(world, http):
        token = await make(world, http)
        response = await http.post(world.resource, json=INITIALIZE, headers=mcp_headers(token))
        assert response.status_code == 401, (response.status_code, response.text[:200])
        params = challenge(response)
        assert params.get("error") == "invalid_token", params
        assert params.get("resource_metadata") == world.prm_url, params
    return check


async def for_another_resource(world, http):
    return await world.token(http, "admin", "scim:read", resource=world.other)


async def from_a_foreign_issuer(world, http):
    return await world.token(http, "admin", "scim:read", issuer=world.foreign)


async def naming_a_foreign_issuer(world, http):
    return world.keys.mint(world.claims(iss=world.foreign))


async def expired(world, http):
    now = int(time.time())
    return world.keys.mint(world.claims(iat=now - 900, exp=now - 300))


async def from_an_unknown_key(world, http):
    return jwt.encode(world.claims(), fresh_key(), algorithm="RS256",
                      headers={"kid": secrets.token_hex(8), "typ": "at+jwt"})


async def forged_under_a_known_kid(world, http):
    return jwt.encode(world.claims(), fresh_key(), algorithm="RS256",
                      headers={"kid": world.keys.current()["kid"], "typ": "at+jwt"})


async def unsigned(world, http):
    header = {"alg": "none", "typ": "at+jwt", "kid": world.keys.current()["kid"]}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(world.claims()).encode())}."


async def hmac_keyed_with_the_public_key(world, http):
    jwk = world.keys.current()
    public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps({k: jwk[k] for k in ("kty", "n", "e")}))
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": jwk["kid"]}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(world.claims()).encode())}"
    return f"{signing_input}.{b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"


async def garbage(world, http):
    return secrets.token_urlsafe(48)


async def session(http, world, token):
    """An initialized MCP session over raw HTTP: the headers to send on it."""
    response = await http.post(world.resource, json=INITIALIZE, headers=mcp_headers(token))
    assert response.status_code == 200, (response.status_code, response.text[:200])
    headers = mcp_headers(token, response.headers.get("mcp-session-id"))
    notified = await http.post(world.resource, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                               headers=headers)
    assert notified.status_code in (200, 202), notified.status_code
    return headers


def suspend(user_id, call_id=2):
    return {"jsonrpc": "2.0", "id": call_id, "method": "tools/call",
            "params": {"name": "1_password_users_suspend", "arguments": {"id": user_id}}}


def suspends_audited(world):
    return [line for line in world.audit_lines() if line.get("tool") == "1_password_users_suspend"]


async def out_of_scope_call(world, http):
    headers = await session(http, world, world.tokens["reader"])
    response = await http.post(world.resource, json=suspend(world.victim), headers=headers)
    assert response.status_code == 403, (response.status_code, response.text[:300])
    params = challenge(response)
    assert params.get("error") == "insufficient_scope", params
    assert params.get("scope", "").split() == ["scim:admin"], params
    assert params.get("resource_metadata") == world.prm_url, params
    assert await is_active(world, world.victim), "the refused suspend reached the bridge"
    assert not suspends_audited(world), suspends_audited(world)


async def smuggled_calls(world, http):
    headers = await session(http, world, world.tokens["reader"])
    disguised = dict(headers, **{"Mcp-Method": "tools/call", "Mcp-Name": "list_all_1_password_users"})
    first = await http.post(world.resource, json=suspend(world.victim), headers=disguised)
    batch = await http.post(world.resource, json=[suspend(world.victim, 3)], headers=headers)
    assert await is_active(world, world.victim), ("a smuggled suspend reached the bridge",
                                                  first.status_code, first.text[:200], batch.status_code, batch.text[:200])
    assert not suspends_audited(world), suspends_audited(world)


class Browser:
    """The person at the browser in the authorization-code flow: follows the authorization URL
    through the provider's login and consent forms and catches the redirect to the callback."""

    def __init__(self, callback):
        self.callback = callback
        self.user_agent = httpx2.AsyncClient(timeout=10)
        self.result = None
        self.visits = 0

    async def redirect_handler(self, url):
        self.visits += 1
        response = await self.user_agent.get(url)
        for _ in range(12):
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(self.callback):
                    query = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
                    assert "code" in query, f"the provider redirected with an error: {query}"
                    self.result = AuthorizationCodeResult(code=query["code"], state=query.get("state"),
                                                          iss=query.get("iss"))
                    return
                response = await self.user_agent.get(location)
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            prompt = re.search(r'name="prompt" value="(\w+)"', response.text)
            assert response.status_code == 200 and form and prompt, (response.status_code, response.text[:500])
            fields = {"prompt": prompt.group(1)}
            if prompt.group(1) == "login":
                fields.update(login=PERSON, password="any")
            response = await self.user_agent.post(urljoin(str(response.url), form.group(1)), data=fields)
        raise AssertionError(f"no redirect to the callback after 12 steps, at {response.url}")

    async def callback_handler(self):
        result, self.result = self.result, None
        assert result is not None, "the redirect handler caught no code"
        return result


class Memory:
    """Token storage for OAuthClientProvider, in memory, and readable by the checks."""

    def __init__(self):
        self.tokens = self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info):
        self.client = client_info


async def authorization_code_flow(world, http):
    callback = f"http://127.0.0.1:{free_port()}/callback"
    browser, storage = Browser(callback), Memory()
    world.stack.push_async_callback(browser.user_agent.aclose)
    oauth = OAuthClientProvider(
        server_url=world.resource,
        client_metadata=OAuthClientMetadata(client_name="op-scim-mcp e2e", redirect_uris=[callback],
                                            grant_types=["authorization_code", "refresh_token"],
                                            response_types=["code"], token_endpoint_auth_method="none"),
        storage=storage, redirect_handler=browser.redirect_handler, callback_handler=browser.callback_handler)
    # The session stays open for the step-up check that follows.
    client = await world.stack.enter_async_context(mcp(world.resource, auth=oauth))
    names = {tool.name for tool in (await client.list_tools()).tools}
    assert "list_all_1_password_users" in names and "1_password_users_suspend" not in names, sorted(names)
    users = await client.call_tool("list_all_1_password_users", {"limit": 1})
    assert not users.is_error and users.structured_content["result"], users
    assert browser.visits == 1, f"{browser.visits} authorizations"
    claims = claims_of(storage.tokens.access_token)
    assert claims["sub"] == PERSON and claims["aud"] == world.resource, claims
    assert claims["client_id"] == storage.client.client_id, (claims, storage.client)
    world.person = (client, browser, storage)


async def step_up(world, http):
    client, browser, storage = world.person
    done = await client.call_tool("1_password_users_suspend", {"id": world.victim})
    assert not done.is_error and done.structured_content["active"] is False, done
    assert browser.visits == 2, f"{browser.visits} authorizations, 2 expected"
    claims = claims_of(storage.tokens.access_token)
    assert claims["sub"] == PERSON and "scim:admin" in claims["scope"].split(), claims
    world.stepped_up = storage.client.client_id


async def audit_names_caller(world, http):
    async with mcp(world.resource, world.tokens["admin"]) as client:
        done = await client.call_tool("1_password_users_reactivate", {"id": world.victim})
        assert not done.is_error and done.structured_content["active"] is True, done
    lines = [line for line in world.audit_lines() if line.get("event") == "tool_call"]
    callers = {(line["tool"], line["phase"]): (line.get("sub"), line.get("client_id"), line.get("issuer"))
               for line in lines}
    expected = {("1_password_users_reactivate", phase): ("admin", "admin", world.issuer)
                for phase in ("attempt", "outcome")}
    if world.stepped_up:
        expected.update({("1_password_users_suspend", phase): (PERSON, world.stepped_up, world.issuer)
                         for phase in ("attempt", "outcome")})
    assert callers == expected, lines
    written = Path(world.audit).read_text()
    assert not any(token in written for token in world.tokens.values()), "an access token is in the audit log"


async def random_kids(world, http):
    key = fresh_key()
    tokens = [jwt.encode(world.claims(), key, algorithm="RS256", headers={"kid": secrets.token_hex(8), "typ": "at+jwt"})
              for _ in range(1000)]
    await asyncio.sleep(COOLDOWN + 0.2)  # so that the burst may cause a refresh at once
    before = await world.jwks_hits(http)
    answers = collections.Counter()
    limit = asyncio.Semaphore(32)

    async def send(token):
        async with limit:
            response = await http.post(world.resource, json=INITIALIZE, headers=mcp_headers(token))
            error = challenge(response).get("error") if response.status_code == 401 else None
            answers[(response.status_code, error)] += 1

    started = time.monotonic()
    # Ten batches of 100, at least 0.35 s apart: the burst spans a few cooldowns, not one.
    for batch in range(10):
        await asyncio.gather(*(send(token) for token in tokens[batch * 100:(batch + 1) * 100]),
                             asyncio.sleep(0.35))
    elapsed = time.monotonic() - started
    fetches = await world.jwks_hits(http) - before
    assert answers == {(401, "invalid_token"): 1000}, answers
    assert fetches <= 5, f"{fetches} key-set fetches for 1,000 unknown kids in {elapsed:.1f} s"


async def key_rotation(world, http):
    before_rotation = world.tokens["reader"]
    old_kid = world.keys.current()["kid"]
    world.fetches += await world.jwks_hits(http)
    world.issuer_child.stop()
    world.issuer_child = world.provider(world.keys.path, port=urlparse(world.issuer).port, rotate=True)
    assert world.issuer_child.value == world.issuer, world.issuer_child.value
    new_kid = world.keys.current()["kid"]
    token = await world.token(http, "admin", "scim:read")
    assert new_kid != old_kid and header_of(token)["kid"] == new_kid, (old_kid, new_kid, header_of(token))
    await asyncio.sleep(COOLDOWN + 0.2)  # past the cooldown of any fetch the previous check caused
    for attempt in (token, token, before_rotation):
        response = await http.post(world.resource, json=INITIALIZE, headers=mcp_headers(attempt))
        assert response.status_code == 200, (
            "kid " + header_of(attempt)["kid"], response.status_code, response.headers.get("www-authenticate"))
    fetches = await world.jwks_hits(http)
    assert fetches == 1, f"{fetches} key-set fetches after the rotation, 1 expected"


async def metrics(world, http):
    response = await http.get(f"{world.base}/metrics")
    assert response.status_code == 200, response.status_code
    samples = [line for line in response.text.splitlines()
               if line.startswith("op_scim_mcp_oauth_key_set_fetches_total")]
    assert samples, "no op_scim_mcp_oauth_key_set_fetches_total"
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in samples)
    seen = world.fetches + await world.jwks_hits(http)
    assert counted >= seen >= 1, f"the server counts {counted} fetches, the provider saw {seen}: {samples}"


# (name, check, whether the checks after it need it to pass)
CHECKS = [
    ("protected resource metadata at both paths", metadata_at_both_paths, False),
    ("401 challenge without a token", challenge_without_token, False),
    ("client-credentials token with the official client", client_credentials_token, True),
    ("tools/list filtered by scope", tools_filtered_by_scope, False),
    ("a token in the query string is not taken", query_token_ignored, False),
    ("token minted with the provider's key accepted", minted_control_accepted, True),
    ("401 invalid_token: token for another resource", refused(for_another_resource), False),
    ("401 invalid_token: token from a foreign issuer", refused(from_a_foreign_issuer), False),
    ("401 invalid_token: foreign iss under the provider's key", refused(naming_a_foreign_issuer), False),
    ("401 invalid_token: expired", refused(expired), False),
    ("401 invalid_token: unknown signing key", refused(from_an_unknown_key), False),
    ("401 invalid_token: forged signature under a known kid", refused(forged_under_a_known_kid), False),
    ("401 invalid_token: alg none", refused(unsigned), False),
    ("401 invalid_token: HS256 keyed with the public key", refused(hmac_keyed_with_the_public_key), False),
    ("401 invalid_token: garbage", refused(garbage), False),
    ("403 insufficient_scope, nothing done", out_of_scope_call, False),
    ("smuggled suspend (Mcp-Name, batch) does nothing", smuggled_calls, False),
    ("authorization code + PKCE by OAuthClientProvider", authorization_code_flow, False),
    ("step-up to scim:admin by OAuthClientProvider", step_up, False),
    ("audit lines name the caller", audit_names_caller, False),
    ("1,000 random kids: at most 5 key-set fetches", random_kids, False),
    ("key rotation at the provider", key_rotation, False),
    ("metrics count key-set fetches", metrics, False),
]


async def run(world):
    passed, failed = [], []
    async with httpx2.AsyncClient(timeout=10) as http, world.stack:
        for name, check, essential in CHECKS:
            if name.startswith("step-up") and not hasattr(world, "person"):
                failed.append((name, "not run: the authorization-code flow failed"))
                continue
            try:
                async with asyncio.timeout(30):
                    await check(world, http)
                passed.append(name)
            except TimeoutError:
                failed.append((name, "no answer within 30 s"))
            except Exception as error:  # one check's failure is reported, and the others still run
                failed.append((name, f"{type(error).__name__}: {error}"))
                if essential:
                    failed.append(("the remaining checks", "not run"))
                    break
    return passed, failed


def main():
    # On SIGTERM, unwind through `finally` so that the children are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    binary = sys.argv[1]
    prefix = sys.argv[2] if len(sys.argv) > 2 else str(HERE.parent.parent / "target" / "e2e-oauth")
    with tempfile.TemporaryDirectory() as tmp:
        world = World(binary, prefix, tmp)
        try:
            world.start()
            passed, failed = asyncio.run(run(world))
        finally:
            world.stop()
        for name, reason in failed:
            print(f"FAILED {name}: {reason}")
        if failed:
            print(world.server.log())
    print(f"oauth: {', '.join(passed)}")
    print(f"{len(passed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


main()
