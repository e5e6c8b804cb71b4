// Limits hold across nodes (issue #9): with --redis-url the rate limits and
// the per-address session cap are counted in Redis, for all the nodes
// together. A user with tabs on two nodes gets one send rate, an address
// one sign-in rate and one session cap, a dead node's sessions stop
// counting within --redis-node-timeout-ms, and a node whose Redis goes away
// keeps serving on its own counts, then puts its count back in Redis.
//
// Every test here passes only if the nodes share: counted per process, the
// second node would allow a burst of its own.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';

import { NODE_TIMEOUT_MS, REDIS_URL, keysUnder, redisCli, startCluster } from './cluster.mjs';
import { api, connect, connectError, emitAck, guest, ok, register, rname, sleep, uname } from './helpers.mjs';

/** A cluster of `nodes` nodes with `args`, disposed after the test. */
async function clusterFor(t, args, nodes = 2) {
  const cluster = await startCluster({ nodes, args: ['--ban-address-secs', '0', ...args] });
  t.after(() => cluster.dispose());
  return cluster;
}

/**
 * Expects a session to be refused at the cap: with a connect_error saying so,
 * or, once the refused sessions' own allowance is taken by the tries of
 * `connectSoon` (each holds a place until the server sees it close), with
 * the handshake's HTTP 429.
 */
async function assertRefused(url, token) {
  const err = await connectError(url, token);
  if (err.message === 'websocket error') {
    assert.match(String(err.description?.message), /Unexpected server response: 429/);
  } else {
    assert.equal(err.message, 'too many connections');
  }
}

/** Tries `connect` for a while: a freed place is given back asynchronously. */
async function connectSoon(url, token, t, ms = 5_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await connect(url, token, {}, t);
    } catch (err) {
      if (Date.now() > end) throw err;
      await sleep(50);
    }
  }
}

test("a user's send rate is one across nodes", async (t) => {
  const { nodes: [a, b] } = await clusterFor(t, ['--send-rate', '4:1']);
  const user = await register(a.url, uname('rate'));
  const onA = await connect(a.url, user.token, {}, t);
  const onB = await connect(b.url, user.token, {}, t);
  const room = rname('rate');
  await ok(onA, 'join', { room });
  await ok(onB, 'join', { room });
  const sent = [];
  for (const [socket, i] of [[onA, 1], [onB, 2], [onA, 3], [onB, 4], [onB, 5], [onA, 6]]) {
    const ack = await emitAck(socket, 'send', { room, text: `m${i}`, client_id: `c${i}` });
    sent.push(ack.ok ? 'ok' : ack.error.code);
  }
  // a burst of 4 for the user, not 4 per node
  assert.deepEqual(sent, ['ok', 'ok', 'ok', 'ok', 'rate_limited', 'rate_limited']);
});

test('sign-ins from one address are limited across nodes', async (t) => {
  const { nodes: [a, b] } = await clusterFor(t, ['--auth-rate', '3:1']);
  const statuses = [];
  for (const node of [a, b, a, b, a]) {
    statuses.push((await api(node.url, '/api/auth/guest', { json: { name: uname('g') } })).status);
  }
  assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
});

test("the sessions cap per address holds across nodes, and a dead node's sessions stop counting", async (t) => {
  const cluster = await clusterFor(t, ['--max-connections-per-ip', '3']);
  const [a, b] = cluster.nodes;
  const user = await register(a.url, uname('cap'));
  const first = await connect(a.url, user.token, {}, t);
  await connect(a.url, user.token, {}, t);
  await connect(b.url, user.token, {}, t);
  for (const node of [a, b]) {
    const err = await connectError(node.url, user.token);
    assert.equal(err.message, 'too many connections', 'the fourth session, on either node');
  }

  // A place given back on one node can be taken on the other.
  first.close();
  await connectSoon(b.url, user.token, t);
  await assertRefused(b.url, user.token);

  // A holds one session; killed without a goodbye, its place goes with it.
  await a.kill();
  const killedAt = Date.now();
  await connectSoon(b.url, user.token, t, NODE_TIMEOUT_MS + 5_000);
  const took = Date.now() - killedAt;
  assert.ok(took <= NODE_TIMEOUT_MS + 2_000, `the dead node's place came back after ${took} ms`);
  await assertRefused(b.url, user.token);
});

test('a node whose Redis goes away keeps serving on its own counts, and counts in Redis again once it is back', async (t) => {
  // The node reaches Redis through a proxy this test can cut.
  const target = new URL(REDIS_URL);
  const links = new Set();
  const proxy = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const [from, to] of [[client, upstream], [upstream, client]]) {
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
    links.add(client).add(upstream);
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const port = proxy.address().port;
  t.after(() => {
    for (const s of links) s.destroy();
    proxy.close();
  });
  const cut = () =>
    new Promise((r) => {
      proxy.close(r);
      for (const s of links) s.destroy();
      links.clear();
    });

  const cluster = await startCluster({
    nodes: 1,
    redisUrl: `redis://127.0.0.1:${port}`,
    args: [
      '--ban-address-secs', '0',
      '--send-rate', '3:1',
      '--max-connections-per-ip', '2',
      '--metrics-bind', '127.0.0.1:0',
    ],
  });
  t.after(() => cluster.dispose());
  const [node] = cluster.nodes;
  const placesKey = `${cluster.prefix}places:`;
  const places = async () => {
    const keys = (await keysUnder(cluster.prefix)).filter((k) => k.startsWith(placesKey));
    let total = 0;
    for (const key of keys) {
      const out = (await redisCli('hgetall', key)).trim().split('\n');
      for (let i = 1; i < out.length; i += 2) total += Number(out[i]);
    }
    return total;
  };

  const user = await guest(node.url, uname('away'));
  const socket = await connect(node.url, user.token, {}, t);
  assert.equal(await places(), 1, 'the session counts in Redis');
  const room = rname('away');
  await ok(socket, 'join', { room });
  await ok(socket, 'send', { room, text: 'before', client_id: 'b1' });

  await cut();
  // Sends are still answered (Redis is not waited on for longer than a
  // moment), under this node's own limit: what is left of the burst of 3
  // here (1 taken above), then refused.
  const acks = [];
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    const ack = await emitAck(socket, 'send', { room, text: `during ${i}`, client_id: `d${i}` });
    acks.push(ack.ok ? 'ok' : ack.error.code);
    assert.ok(Date.now() - started < 2_000, 'answered without waiting on Redis');
  }
  assert.deepEqual(acks, ['ok', 'ok', 'rate_limited']);
  // The node's own cap of 2 sessions stands in.
  const second = await connect(node.url, user.token, {}, t);
  assert.equal((await connectError(node.url, user.token)).message, 'too many connections');
  const scrape = await (await fetch(/Banter metrics on (http:\/\/\S+)\r?\n/.exec(node.stdoutTail())[1])).text();
  const fallbacks = Number(/^banter_shared_fallbacks_total (\S+)$/m.exec(scrape)?.[1] ?? 0);
  assert.ok(fallbacks > 0, `banter_shared_fallbacks_total is ${fallbacks}`);

  // Redis comes back: the node's two sessions are counted there again.
  await new Promise((r) => proxy.listen(port, '127.0.0.1', r));
  const end = Date.now() + 10_000;
  while ((await places()) !== 2) {
    assert.ok(Date.now() < end, `the node's two sessions back in Redis (now ${await places()})`);
    await sleep(100);
  }
  second.close();
  while ((await places()) !== 1) {
    assert.ok(Date.now() < end, `a session closed after Redis came back is given back there (now ${await places()})`);
    await sleep(100);
  }
});
