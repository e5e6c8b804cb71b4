// One Banter node behind nginx with TLS, deployed as docs/deploy.md says:
// nginx runs the repository's deploy/nginx/banter.conf (only its ports and
// file paths replaced, see nginx.mjs), Banter listens on loopback with
// --trusted-proxies and --public-origin. Through it: the page chats over
// WebSocket, a polling-only client works, the session cookie is Secure, and
// Banter sees each client's own address, from the proxy only. The same
// file in front of two nodes: deploy-cluster.test.mjs.
//
// Chromium accepts the test certificate through
// --ignore-certificate-errors-spki-list, naming its one key: a certificate
// with any other key is refused as usual. (Trusting the test CA would mean
// writing it into an NSS database in the browser's home directory with
// certutil, another package.) The Node clients trust the test CA itself,
// with full verification.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, closeAllSockets, connect, ok, sessionCookie, uname, waitFor } from '../node/helpers.mjs';
import {
  assertOnlyWebSocket,
  expectMessageOnce,
  guestViaUi,
  joinRoom,
  launchBrowser,
  openPage,
  send,
  startServer,
  watchSocketIo,
} from './helpers.mjs';
import { behindNginx, freePort, startNginx } from './nginx.mjs';

let server;
let proxy;
let browser;
let upstream;

before(async () => {
  const httpsPort = await freePort();
  server = await startServer({
    args: [
      ...behindNginx(httpsPort),
      // the observable for the client address: three sign-ins per address,
      // then none for a minute (longer than this file runs)
      '--auth-rate', '3:1',
    ],
  });
  upstream = new URL(server.url).host;
  proxy = await startNginx({ httpsPort, upstreams: [upstream] });
  browser = await launchBrowser({ args: proxy.chromiumArgs });
});

after(async () => {
  closeAllSockets();
  await browser?.close();
  await proxy?.dispose();
  await server?.dispose();
});

/** A guest sign-in through nginx (or `base`), from `localAddress`; resolves the response. */
function guestFrom(localAddress, { base = proxy.url, headers = {} } = {}) {
  return api(base, '/api/auth/guest', {
    json: { name: uname('g') },
    headers,
    request: { ca: proxy.ca, localAddress },
  });
}

/** An access log line: `request` (a regex) answered `status` by the Banter node. */
function logLine(request, status) {
  return new RegExp(`"${request} HTTP/1\\.1" ${status} .* upstream=${upstream.replace(/\./g, '\\.')} `);
}

test('the page loads over HTTPS and chats through nginx over WebSocket, with a Secure cookie', async () => {
  const alice = await openPage(browser, proxy.url);
  const bob = await openPage(browser, proxy.url);
  const [a, b] = [alice.page, bob.page];
  // served over TLS with the test certificate
  assert.equal(new URL(a.url()).protocol, 'https:');
  const tls = await alice.response.securityDetails();
  assert.equal(tls?.issuer, 'Banter test CA', JSON.stringify(tls));
  assert.equal(tls?.subjectName, 'localhost', JSON.stringify(tls));
  // the page opens no socket before signing in, so nothing is missed here
  const seenA = watchSocketIo(a);
  const seenB = watchSocketIo(b);

  await guestViaUi(a, 'alice');
  await guestViaUi(b, 'bob');
  await joinRoom(a, 'deploy');
  await joinRoom(b, 'deploy');
  await send(a, 'Hello over wss, through nginx');
  await expectMessageOnce(b, 'Hello over wss, through nginx');
  await send(b, 'And back again');
  await expectMessageOnce(a, 'And back again');

  // over WebSocket, the message as a frame on it, and never long-polling
  assertOnlyWebSocket(seenA, proxy.url, 'And back again', 'alice');
  assertOnlyWebSocket(seenB, proxy.url, 'Hello over wss, through nginx', 'bob');

  // the session cookie, as set through nginx: Secure (HTTPS, said by the trusted proxy)
  const [cookie] = (await alice.context.cookies()).filter((c) => c.name === 'banter_session');
  assert.ok(cookie, 'alice has a session cookie');
  assert.deepEqual(
    { secure: cookie.secure, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite },
    { secure: true, httpOnly: true, sameSite: 'Lax' },
  );

  alice.assertClean();
  bob.assertClean();
  await alice.close();
  await bob.close();
  // nginx logs a WebSocket when it closes: the upgrade, answered 101 by Banter
  await proxy.waitForLog(logLine('GET /socket\\.io/\\?EIO=4&transport=websocket', 101));
});

test('a polling-only Socket.IO client connects, sends and receives through nginx', async (t) => {
  // signed in from 127.0.0.4, so the page's address keeps its sign-ins
  const [polling, other] = await Promise.all([guestFrom('127.0.0.4'), guestFrom('127.0.0.4')]);
  assert.equal(polling.status, 201, polling.text);
  assert.equal(other.status, 201, other.text);
  const p = await connect(proxy.url, polling.body.token, { transports: ['polling'], ca: proxy.ca }, t);
  const w = await connect(proxy.url, other.body.token, { transports: ['websocket'], ca: proxy.ca }, t);
  await ok(p, 'join', { room: 'polling' });
  await ok(w, 'join', { room: 'polling' });

  const toPolling = waitFor(p, 'message', (m) => m.text === 'to the polling client');
  await ok(w, 'send', { room: 'polling', text: 'to the polling client' });
  assert.equal((await toPolling).author.name, other.body.user.name);
  const fromPolling = waitFor(w, 'message', (m) => m.text === 'from the polling client');
  await ok(p, 'send', { room: 'polling', text: 'from the polling client' });
  assert.equal((await fromPolling).author.name, polling.body.user.name);

  assert.equal(p.io.engine.transport.name, 'polling');
  await proxy.waitForLog(logLine('POST /socket\\.io/\\?EIO=4&transport=polling&[^ "]*sid=[^ "]+', 200));
});

test('the session cookie is Secure through nginx, and not for a direct request that claims HTTPS', async () => {
  const proxied = sessionCookie(await guestFrom('127.0.0.7'));
  assert.match(proxied ?? '', /^banter_session=[^;]+;/, `Set-Cookie through nginx: ${proxied}`);
  for (const attribute of [/;\s*Secure(;|$)/i, /;\s*HttpOnly(;|$)/i, /;\s*SameSite=Lax(;|$)/i]) {
    assert.match(proxied, attribute, `Set-Cookie through nginx: ${proxied}`);
  }
  // straight to the node, not from the trusted proxy: the header proves nothing
  const direct = sessionCookie(await guestFrom('127.0.0.8', { base: server.url, headers: { 'x-forwarded-proto': 'https' } }));
  assert.match(direct ?? '', /;\s*HttpOnly(;|$)/i, `direct Set-Cookie: ${direct}`);
  assert.doesNotMatch(direct, /;\s*Secure(;|$)/i, `direct Set-Cookie: ${direct}`);
  // and plain HTTP to nginx is only a redirect to HTTPS
  const redirect = await api(proxy.httpUrl, '/api/session?x=1');
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get('location'), 'https://127.0.0.1/api/session?x=1');
});

test('Banter limits each client by its own address through nginx, and ignores X-Forwarded-For from anyone else', async () => {
  const statuses = async (requests) => {
    const out = [];
    for (const request of requests) out.push((await request()).status);
    return out;
  };
  // one client through nginx: three sign-ins, then refused, also when it
  // names another address itself (nginx appends the real one)
  const forged = { 'x-forwarded-for': '198.51.100.23' };
  assert.deepEqual(
    await statuses([
      () => guestFrom('127.0.0.5'),
      () => guestFrom('127.0.0.5'),
      () => guestFrom('127.0.0.5'),
      () => guestFrom('127.0.0.5'),
      () => guestFrom('127.0.0.5', { headers: forged }),
    ]),
    [201, 201, 201, 429, 429],
  );
  // another client through the same nginx is not held to the first one's limit
  assert.equal((await guestFrom('127.0.0.6')).status, 201);
  // straight to the node from a peer that is not a trusted proxy: a new
  // forged X-Forwarded-For every time, and still one address's limit
  const direct = (i) => () => guestFrom('127.0.0.3', { base: server.url, headers: { 'x-forwarded-for': `203.0.113.${i}` } });
  assert.deepEqual(await statuses([1, 2, 3, 4, 5].map(direct)), [201, 201, 201, 429, 429]);
});
