// A real OAuth 2.1 authorization server on loopback for the OAuth end-to-end test
// (tests/e2e/mcp_client_oauth.py): oidc-provider, configured as an MCP server's authorization
// server would be.
//
// Usage:
//   node oauth_provider.mjs --modules DIR --keys FILE --resource URL [--resource URL ...]
//                           [--port N] [--rotate]
//
// --modules DIR  the npm install prefix holding node_modules/oidc-provider (the CI installs the
//                pinned version into the cargo target directory; nothing is committed). The
//                package is ESM-only, and ESM resolves bare names from the importing file's own
//                folder, never from the working directory or NODE_PATH. So the script resolves
//                the package's entry file with a CommonJS resolver rooted at DIR
//                (`createRequire`), checks the pinned version, and imports that file by its
//                file URL. This works wherever the script and the install prefix live.
// --keys FILE    the provider's private signing keys (a JWK set), read if present, written if
//                not, so that the test can mint tokens with the provider's real key.
// --rotate       start with a NEW RS256 key first in FILE (the old keys follow, still published):
//                the provider signs every new token with it (key rotation at the provider).
// --resource URL a resource server the provider issues tokens for (RFC 8707). Each gets RS256
//                JWT access tokens (RFC 9068) whose `aud` is the URL and whose scopes may be
//                any of SCOPES. Any other resource is refused (invalid_target).
// --port N       the port to listen on, 127.0.0.1 only; 0 (the default) picks a free one.
//
// Clients: `reader` (secret `reader-secret`, may be granted scim:read and events:read) and
// `admin` (secret `admin-secret`, all four scopes) use client_credentials. Anyone may register
// a client (RFC 7591) for the authorization-code flow with PKCE; the development login and
// consent forms (devInteractions) accept any login. A registered client may ask for any of the
// four scopes whatever `scope` it registered, so that an MCP client can step up later.
//
// Prints `issuer http://127.0.0.1:PORT` on stderr when it listens. Besides the provider's own
// routes, `GET /test/jwks-hits` answers `{"hits": N}`, the number of requests its jwks_uri has
// served since start, so a test can prove from this side how often a resource server fetched
// the keys.

import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const PINNED = '9.13.3';
const SCOPES = ['scim:read', 'scim:write', 'scim:admin', 'events:read'];
const CLIENTS = [
  { client_id: 'reader', client_secret: 'reader-secret', scope: 'scim:read events:read' },
  { client_id: 'admin', client_secret: 'admin-secret', scope: SCOPES.join(' ') },
];

const { values: args } = parseArgs({
  options: {
    modules: { type: 'string' },
    keys: { type: 'string' },
    resource: { type: 'string', multiple: true, default: [] },
    port: { type: 'string', default: '0' },
    rotate: { type: 'boolean', default: false },
  },
});
if (!args.modules || !args.keys || args.resource.length === 0) {
  console.error('usage: oauth_provider.mjs --modules DIR --keys FILE --resource URL [--resource URL]'
    + ' [--port N] [--rotate]');
  process.exit(2);
}

const resolve = createRequire(join(args.modules, 'package.json')).resolve;
const { version } = JSON.parse(readFileSync(resolve('oidc-provider/package.json'), 'utf8'));
if (version !== PINNED) {
  console.error(`oidc-provider ${version} found in ${args.modules}, ${PINNED} expected`);
  process.exit(2);
}
const { Provider, errors } = await import(pathToFileURL(resolve('oidc-provider')).href);

const jwks = signingKeys(args.keys, args.rotate);
const resources = new Set(args.resource);

// The issuer must name the port, so listen first and build the provider once the port is known.
let jwksHits = 0;
let handle;
const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://127.0.0.1').pathname;
  if (path === '/test/jwks-hits') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ hits: jwksHits }));
    return;
  }
  if (path === '/jwks') jwksHits += 1;
  handle(req, res);
});
server.listen(Number(args.port), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration(jwks, resources));
  // Failures inside the provider would otherwise only reach the client as a bare 500.
  provider.on('server_error', (_ctx, error) => console.error('server_error', error));
  handle = provider.callback();
  console.error(`issuer ${issuer}`);
});

function configuration(keys, audiences) {
  return {
    jwks: keys,
    // Whoever signs in on the development login form is an account of that name.
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    clients: CLIENTS.map((client) => ({
      ...client,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    })),
    // Resource scopes are also listed here because a client's registered `scope` may only hold
    // scopes the provider lists; that is what restricts `reader` to its two.
    scopes: ['openid', 'offline_access', ...SCOPES],
    extraClientMetadata: {
      properties: ['e2e_any_scope'],
      validator(ctx, key, _value, metadata) {
        // `ctx` is only given for a registration request, never for the static clients.
        if (ctx && key === 'e2e_any_scope') metadata.scope = ['offline_access', ...SCOPES].join(' ');
      },
    },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (!audiences.has(resource)) throw new errors.InvalidTarget();
          return {
            scope: SCOPES.join(' '),
            audience: resource,
            accessTokenFormat: 'jwt',
            accessTokenTTL: 600,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    pkce: { required: () => true },
    // Fixed lifetimes (in seconds), which also keeps the provider from warning about defaults.
    ttl: { AccessToken: 600, ClientCredentials: 600 },
  };
}

// The private key set in FILE: read as is, created with one key if absent, or given a new first
// key when rotating (the provider signs with the first key of its set).
function signingKeys(file, rotate) {
  const existing = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).keys : [];
  if (existing.length > 0 && !rotate) return { keys: existing };
  // Not `generateKeyPairSync(...).privateKey.export({ format: 'jwk' })`: on Node 20 that hangs
  // now and then (a few starts in a hundred here), the garbage collector freeing the generation
  // job inside the export and waiting on a lock the export holds. Exporting a key parsed from
  // the generated PEM has not hung in a thousand runs.
  const pem = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
  const jwk = createPrivateKey(pem).export({ format: 'jwk' });
  const key = { ...jwk, kid: randomUUID(), alg: 'RS256', use: 'sig' };
  const set = { keys: [key, ...existing] };
  writeFileSync(file, JSON.stringify(set), { mode: 0o600 });
  return set;
}
