// Two Banter nodes behind nginx with TLS, deployed as docs/deploy.md
// ("Several nodes") says: both on one PostgreSQL schema and one Redis prefix
// of this file's own (removed at the end), with --trusted-proxies and
// --public-origin; nginx runs the repository's deploy/nginx/banter.conf with
// its one `server` line made two (only ports and file paths replaced, see
// nginx.mjs). Its upstream hashes each request on the session cookie, or on
// the client's address when there is none.
//
// Which node a client is on is read from the node itself: the
// banter_connections_open gauge of each node's /metrics, scraped before and
// after each client connects (nothing else connects or leaves meanwhile), and then
// checked against nginx's access log ($upstream_addr), which names the
// Engine.IO session (sid=) of every long-polling request. Shown:
//
// 1. Chromium users on different nodes chat with each other through nginx,
//    over WebSocket only; the session cookie is Secure.
// 2. Polling-only official clients with their session cookie (what the page
//    does where WebSocket is blocked), all from one address, spread over
//    both nodes, and each one's every request goes to its one node, through
//    dozens of polls and posts carrying messages both ways across the nodes.
// 3. Polling-only clients with a token and no cookie (bots) stick by address.
// 4. The counter-example: the same sample with its `hash` line removed
//    (nginx's default, round-robin), made here and run by a second nginx:
//    the long-polling session breaks on its first request after the
//    handshake, answered 400 by the node that did not open it.
// 5. A node stopped under a user's page: nginx passes the page's reconnect
//    to the other node, and the user chats on.
// And the map and upstream docs/deploy.md shows are the sample's.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { keysUnder, metricsOf, startCluster } from '../node/cluster.mjs';
import { api, closeAllSockets, connect, connectError, ok, rname, sessionCookie, uname, until, waitFor } from '../node/helpers.mjs';
import {
  assertOnlyWebSocket,
  expectMessageOnce,
  guestViaUi,
  joinRoom,
  launchBrowser,
  openPage,
  repoRoot,
  send,
  waitConnected,
  watchSocketIo,
} from './helpers.mjs';
import { SITE_FILE, behindNginx, freePort, startNginx, substitute } from './nginx.mjs';

// Clients placed one at a time until both nodes have one: a fair coin each
// (the hash of a random cookie, or of an address, against random ports),
// so that all land on one node in fewer than one run in 30,000.
const MAX_TRIES = 16;
const TRANSPORTS = ['websocket', 'polling'];

let cluster;
let nodes;
let hosts;
let proxy;
let browser;

before(async () => {
  const httpsPort = await freePort();
  cluster = await startCluster({
    nodes: 2,
    postgres: true,
    args: [...behindNginx(httpsPort), '--metrics-bind', '127.0.0.1:0'],
  });
  nodes = cluster.nodes;
  hosts = nodes.map((node) => new URL(node.url).host);
  proxy = await startNginx({ httpsPort, upstreams: hosts });
  browser = await launchBrowser({ args: proxy.chromiumArgs });
});

after(async () => {
  closeAllSockets();
  await browser?.close();
  await proxy?.dispose();
  const prefix = cluster?.prefix;
  await cluster?.dispose();
  if (prefix) assert.deepEqual(await keysUnder(prefix), [], 'no Redis keys left behind');
});

/** Socket.IO connections open on each node, by transport, as the nodes count them. */
async function openOnNodes() {
  return Promise.all(nodes.map(async (node) => {
    const metric = await metricsOf(node);
    return Object.fromEntries(TRANSPORTS.map((tr) => [tr, metric(`banter_connections_open{transport="${tr}"}`)]));
  }));
}

/** Resolves once no node has a connection open (the previous test's have closed). */
function nodesIdle() {
  return until(
    async () => (await openOnNodes()).every((open) => open.websocket + open.polling === 0),
    'every node without connections',
  );
}

/**
 * Runs `connectOne()` (which opens one `transport` connection through nginx)
 * and resolves with [its result, the index of the node it landed on]: the
 * node whose count went up by one, while the other's stayed.
 */
async function placed(connectOne, transport) {
  const before = await openOnNodes();
  const result = await connectOne();
  let gained = [];
  await until(async () => {
    const now = await openOnNodes();
    gained = now.map((open, i) => open[transport] - before[i][transport]);
    return gained.reduce((a, b) => a + b) === 1;
  }, `one more ${transport} connection on the nodes`);
  return [result, gained.indexOf(1)];
}

/**
 * Connects clients one at a time (`connectOne(i)`) until both nodes serve at
 * least one and there are at least `min`; resolves with [{client, node}].
 */
async function spreadOverBoth(connectOne, transport, min = 1) {
  const placements = [];
  for (let i = 0; placements.length < min || new Set(placements.map((p) => p.node)).size < 2; i++) {
    assert.ok(i < MAX_TRIES, `${MAX_TRIES} clients through nginx, all on node ${placements[0]?.node}`);
    const [client, node] = await placed(() => connectOne(i), transport);
    placements.push({ client, node });
  }
  return placements;
}

/** A guest signed in through `via` (from `localAddress`): the token, and the session cookie as a request sends it. */
async function signIn(via = proxy, localAddress = undefined) {
  const res = await api(via.url, '/api/auth/guest', { json: { name: uname('c') }, request: { ca: via.ca, localAddress } });
  assert.equal(res.status, 201, res.text);
  const setCookie = sessionCookie(res) ?? assert.fail('no session cookie set');
  assert.match(setCookie, /;\s*Secure(;|$)/i, `Set-Cookie through nginx: ${setCookie}`);
  return { name: res.body.user.name, token: res.body.token, cookie: setCookie.split(';')[0] };
}

/** nginx's access log as {client, request, status, node} per line. */
async function accessLog(via = proxy) {
  return (await via.accessLog()).split('\n').filter(Boolean).map((line) => {
    const m = /^(\S+) \[[^\]]+\] "(\S+ \S+) HTTP\/1\.1" (\d+) .* upstream=(\S+) /.exec(line) ?? assert.fail(`log line: ${line}`);
    return { client: m[1], request: m[2], status: Number(m[3]), node: m[4] };
  });
}

/** The log lines of one Engine.IO session (its sid= requests). */
function linesOf(log, sid) {
  return log.filter((line) => new URL(line.request.split(' ')[1], 'https://x').searchParams.get('sid') === sid);
}

/**
 * Pages signed in as guests through nginx until each node serves one, each
 * recording its Socket.IO traffic: resolves {alice (on the first node), bob
 * (on the second), both in `room`; pages (all of them)}.
 */
async function pagesOnBothNodes(t, room) {
  const placements = await spreadOverBoth(async (i) => {
    const opened = await openPage(browser, proxy.url);
    t.after(() => opened.close()); // (closed by the test already, unless it failed)
    // the page opens no socket before signing in, so nothing is missed here
    const seen = watchSocketIo(opened.page);
    await guestViaUi(opened.page, uname(`b${i}-`));
    return { ...opened, seen };
  }, 'websocket');
  const alice = placements.find((p) => p.node === 0).client;
  const bob = placements.find((p) => p.node === 1).client;
  await joinRoom(alice.page, room);
  await joinRoom(bob.page, room);
  return { alice, bob, pages: placements.map((p) => p.client) };
}

/**
 * From `map $cookie_banter_session` to the end of `upstream banter`: the
 * lines without comments, indentation or `server` lines.
 */
function stickyPart(text) {
  const start = text.indexOf('map $cookie_banter_session');
  const end = text.indexOf('}', text.indexOf('upstream banter {')) + 1;
  assert.ok(start >= 0 && end > start, 'the map and the upstream are there');
  return text.slice(start, end).split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line && !line.startsWith('server '));
}

test('the map and upstream docs/deploy.md shows for several nodes are the sample\'s, but for the server lines', async () => {
  const docs = await readFile(path.join(repoRoot, 'docs', 'deploy.md'), 'utf8');
  const shown = docs.split('```nginx').slice(1).map((block) => block.slice(0, block.indexOf('```')))
    .find((block) => block.includes('upstream banter'));
  assert.deepEqual(stickyPart(shown ?? ''), stickyPart(await readFile(SITE_FILE, 'utf8')));
});

test('Chromium users on both nodes chat with each other through nginx over WebSocket, with a Secure cookie', async (t) => {
  await nodesIdle();
  const { alice, bob, pages } = await pagesOnBothNodes(t, rname('nodes'));
  await send(alice.page, 'From node A to node B, through nginx');
  await expectMessageOnce(bob.page, 'From node A to node B, through nginx');
  await send(bob.page, 'And back from node B');
  await expectMessageOnce(alice.page, 'And back from node B');

  assertOnlyWebSocket(alice.seen, proxy.url, 'And back from node B', 'alice (node A)');
  assertOnlyWebSocket(bob.seen, proxy.url, 'From node A to node B, through nginx', 'bob (node B)');
  for (const page of pages) {
    const [cookie] = (await page.context.cookies()).filter((c) => c.name === 'banter_session');
    assert.deepEqual(
      { secure: cookie?.secure, httpOnly: cookie?.httpOnly, sameSite: cookie?.sameSite },
      { secure: true, httpOnly: true, sameSite: 'Lax' },
    );
    page.assertClean();
    await page.close();
  }
  // nginx logs a WebSocket when it closes: each node answered 101 to one
  for (const host of hosts) {
    await proxy.waitForLog(new RegExp(`"GET /socket\\.io/\\?EIO=4&transport=websocket HTTP/1\\.1" 101 .* upstream=${host} `));
  }
});

test('polling-only clients with the session cookie, all from one address, spread over both nodes, each session on one node for dozens of requests', async (t) => {
  await nodesIdle();
  // The page's fallback where WebSocket is blocked: the cookie, no token.
  const placements = await spreadOverBoth(async () => {
    const who = await signIn();
    const socket = await connect(proxy.url, null, { transports: ['polling'], ca: proxy.ca, extraHeaders: { cookie: who.cookie } }, t);
    const disconnects = [];
    socket.on('disconnect', (reason) => disconnects.push(reason));
    return { ...who, socket, sid: socket.io.engine.id, disconnects };
  }, 'polling', 4);
  const clients = placements.map((p) => p.client);
  const room = rname('polling');
  for (const c of clients) await ok(c.socket, 'join', { room });

  // Everyone speaks in turn, and each message reaches everyone (across the
  // nodes) before the next: one poll answered per message per client.
  const ROUNDS = 3;
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, sender] of clients.entries()) {
      const text = `round ${round} from ${i}`;
      const heard = clients.map((c) => waitFor(c.socket, 'message', (m) => m.text === text && m.author.name === sender.name));
      await ok(sender.socket, 'send', { room, text });
      await Promise.all(heard);
    }
  }

  const log = await accessLog();
  for (const [i, { client, node }] of placements.entries()) {
    assert.equal(client.socket.io.engine.id, client.sid, `client ${i} kept its Engine.IO session`);
    assert.equal(client.socket.io.engine.transport.name, 'polling');
    assert.deepEqual(client.disconnects, [], `client ${i} never disconnected`);
    const lines = linesOf(log, client.sid);
    assert.deepEqual([...new Set(lines.map((l) => l.node))], [hosts[node]], `client ${i}'s requests: nginx and the node agree`);
    assert.deepEqual([...new Set(lines.map((l) => `${l.client} ${l.status}`))], ['127.0.0.1 200'], `client ${i}: one address, every request answered`);
    const gets = lines.filter((l) => l.request.startsWith('GET ')).length;
    const posts = lines.filter((l) => l.request.startsWith('POST ')).length;
    assert.ok(gets >= ROUNDS * clients.length, `client ${i}: ${gets} polls`);
    assert.ok(posts >= ROUNDS + 1, `client ${i}: ${posts} posts`);
  }
});

test('polling-only clients with a token and no cookie stick to one node by their address', async (t) => {
  await nodesIdle();
  const placements = await spreadOverBoth(async (i) => {
    const address = `127.0.2.${i + 1}`;
    const who = await signIn(proxy, address);
    const agent = new https.Agent({ ca: proxy.ca, localAddress: address, keepAlive: true });
    t.after(() => agent.destroy());
    const socket = await connect(proxy.url, who.token, { transports: ['polling'], agent }, t);
    const room = rname('bot');
    await ok(socket, 'join', { room });
    const echo = waitFor(socket, 'message', (m) => m.text === 'still on my node');
    await ok(socket, 'send', { room, text: 'still on my node' });
    await echo;
    return { address, sid: socket.io.engine.id };
  }, 'polling');

  const log = await accessLog();
  for (const { client, node } of placements) {
    // the sign-in too (no cookie yet either): every request from the address
    const fromAddress = log.filter((l) => l.client === client.address);
    assert.ok(linesOf(fromAddress, client.sid).length >= 3, `${client.address}'s polling requests in the log`);
    assert.deepEqual([...new Set(fromAddress.map((l) => l.node))], [hosts[node]], `${client.address}'s requests`);
  }
});

test('counter-example: the sample without its hash line (round-robin) breaks a long-polling session', async () => {
  await nodesIdle();
  // NOT a configuration to deploy: the sample with stickiness removed, to
  // show what the `hash` line is for.
  const roundRobin = await startNginx({
    httpsPort: await freePort(),
    upstreams: hosts,
    edit: (site) => substitute(site, [['    hash $banter_sticky consistent;\n', '']]),
  });
  try {
    const who = await signIn();
    const opts = { transports: ['polling'], ca: roundRobin.ca, extraHeaders: { cookie: who.cookie } };
    const refused = await connectError(roundRobin.url, null, opts);
    assert.match(refused.message, /xhr (poll|post) error/);
    // the handshake on one node; the session's next request on the other,
    // which has never heard of it
    await roundRobin.waitForLog(/sid=\S+ HTTP\/1\.1" 400 /);
    const log = await accessLog(roundRobin);
    const handshake = log.find((l) => /transport=polling/.test(l.request) && !/sid=/.test(l.request));
    assert.equal(handshake?.status, 200, JSON.stringify(log));
    const unknown = log.find((l) => l.status === 400);
    assert.notEqual(unknown.node, handshake.node, JSON.stringify(log));
    assert.deepEqual([handshake.node, unknown.node].sort(), [...hosts].sort());
  } finally {
    await roundRobin.dispose();
  }
  // the same client through the sample works (the test above)
});

test('a node that stops: nginx sends its users to the other, where they chat on', async (t) => {
  // (last: it stops a node)
  await nodesIdle();
  const { alice, bob, pages } = await pagesOnBothNodes(t, rname('failover'));

  // SIGTERM: bob's node closes its sockets; his page reconnects through
  // nginx, which finds the node refusing connections and tries the other
  bob.outageStarted();
  await nodes[1].stop();
  const websockets = 'banter_connections_open{transport="websocket"}';
  await until(
    async () => (await metricsOf(nodes[0]))(websockets) === pages.length,
    `all ${pages.length} pages on the first node`,
    15_000,
  );
  await waitConnected(bob.page);
  bob.outageEnded();

  await send(bob.page, 'Moved to node A');
  await expectMessageOnce(alice.page, 'Moved to node A');
  await send(alice.page, 'Welcome over');
  await expectMessageOnce(bob.page, 'Welcome over');
  assert.deepEqual(bob.seen.polls, [], 'bob made no long-polling request');
  assert.ok(bob.seen.websockets.length >= 2, `bob reconnected over WebSocket: ${bob.seen.websockets.length} sockets`);
  alice.assertClean();
  bob.assertClean();
});
