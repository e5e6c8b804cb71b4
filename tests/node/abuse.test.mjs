// Abuse limits: floods, brute force, connection caps, foreign origins. Each
// test starts a server with the limit under test at its default (or a small
// value, said in the test) and every other limit out of the way.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  PASSWORD,
  api,
  closeAllSockets,
  connect,
  connectError,
  emitAck,
  guestSocket,
  ok,
  register,
  rname,
  uname,
  waitFor,
} from './helpers.mjs';
import { startServer } from './server.mjs';

/** A server for one test, disposed after it. */
async function serverFor(t, args = []) {
  const server = await startServer({ args });
  t.after(async () => {
    closeAllSockets();
    await server.dispose();
  });
  return server;
}

function assertRateLimited(ack, where) {
  assert.equal(ack.ok, false, where);
  assert.equal(ack.error.code, 'rate_limited', where);
  assert.ok(Number.isInteger(ack.error.retry_after_ms) && ack.error.retry_after_ms > 0, where);
}

test('a flood of 1000 sends is limited and told so, while another member still chats and the server stays healthy', async (t) => {
  // the default send rate (10 : 60)
  const { url } = await serverFor(t, ['--send-rate', '10:60']);
  const room = rname('flood');
  const flooder = await guestSocket(url, t, 'flood');
  const other = await guestSocket(url, t, 'calm');
  await ok(flooder.socket, 'join', { room });
  await ok(other.socket, 'join', { room });

  const acks = [];
  for (let i = 0; i < 1000; i++) {
    acks.push(emitAck(flooder.socket, 'send', { room, text: `spam ${i}` }, 20_000));
  }
  // Meanwhile the other user talks, and /healthz answers.
  const latencies = [];
  for (let i = 0; i < 5; i++) {
    const text = `still here ${i}`;
    const started = Date.now();
    const seen = waitFor(other.socket, 'message', (m) => m.text === text, 5000);
    await ok(other.socket, 'send', { room, text });
    await seen;
    latencies.push(Date.now() - started);
    assert.equal((await api(url, '/healthz')).status, 200);
  }
  const results = await Promise.all(acks);
  const accepted = results.filter((a) => a.ok).length;
  const limited = results.filter((a) => !a.ok);
  assert.ok(accepted >= 10 && accepted <= 15, `accepted ${accepted} of 1000`);
  assert.equal(limited.length, 1000 - accepted);
  for (const ack of limited) assertRateLimited(ack, JSON.stringify(ack));
  // A liveness bound, not a benchmark: delivery did not queue behind the flood.
  assert.ok(Math.max(...latencies) < 2000, `other user's round trips: ${latencies} ms`);
  const history = await emitAck(other.socket, 'history', { room, limit: 100 });
  assert.equal(history.messages.length, accepted + 5);
});

test('a rate-limited sender may send again after the wait it was told', async (t) => {
  const { url } = await serverFor(t, ['--send-rate', '2:120']);
  const room = rname('wait');
  const a = await guestSocket(url, t);
  await ok(a.socket, 'join', { room });
  await ok(a.socket, 'send', { room, text: 'one' });
  await ok(a.socket, 'send', { room, text: 'two' });
  const refused = await emitAck(a.socket, 'send', { room, text: 'three' });
  assertRateLimited(refused, 'third send');
  assert.ok(refused.error.retry_after_ms <= 500, `wait ${refused.error.retry_after_ms} ms`);
  await new Promise((r) => setTimeout(r, refused.error.retry_after_ms + 50));
  await ok(a.socket, 'send', { room, text: 'three' });
});

test('typing notices are throttled per user and room', async (t) => {
  const { url } = await serverFor(t, ['--typing-rate', '5:60']);
  const room = rname('typing');
  const typist = await guestSocket(url, t, 'typist');
  const watcher = await guestSocket(url, t, 'watcher');
  await ok(typist.socket, 'join', { room });
  await ok(watcher.socket, 'join', { room });
  const seen = [];
  watcher.socket.on('typing', (e) => seen.push(e));
  const acks = [];
  for (let i = 0; i < 20; i++) acks.push(emitAck(typist.socket, 'typing', { room, active: i % 2 === 0 }));
  const results = await Promise.all(acks);
  assert.equal(results.filter((a) => a.ok).length, 5);
  for (const ack of results.filter((a) => !a.ok)) assertRateLimited(ack, JSON.stringify(ack));
  // a sentinel message proves every typing event sent before it has arrived
  const sentinel = waitFor(watcher.socket, 'message', (m) => m.text === 'sentinel');
  await ok(typist.socket, 'send', { room, text: 'sentinel' });
  await sentinel;
  assert.equal(seen.length, 5);
});

test('joining many new rooms quickly is limited', async (t) => {
  const { url } = await serverFor(t, ['--join-rate', '3:30']);
  const a = await guestSocket(url, t);
  for (let i = 0; i < 3; i++) await ok(a.socket, 'join', { room: rname(`j${i}`) });
  assertRateLimited(await emitAck(a.socket, 'join', { room: rname('j4') }), 'fourth join');
});

test('repeated wrong passwords are blocked with 429 and Retry-After, while the right password from another address works', async (t) => {
  // the default login rate (5 : 5), behind a trusted proxy so addresses can differ
  const { url } = await serverFor(t, ['--login-rate', '5:5', '--trusted-proxies', '127.0.0.1']);
  const victim = await register(url, uname('victim'));
  const name = victim.user.name;
  const attacker = { 'x-forwarded-for': '198.51.100.66' };
  const statuses = [];
  let last;
  for (let i = 0; i < 8; i++) {
    last = await api(url, '/api/auth/login', { json: { username: name, password: `wrong-guess-${i}` }, headers: attacker });
    statuses.push(last.status);
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
  assert.equal(last.body.error.code, 'rate_limited');
  const retryAfter = Number(last.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 12, `Retry-After: ${last.headers.get('retry-after')}`);
  // even the right password is refused from the attacker's address for now
  const blocked = await api(url, '/api/auth/login', { json: { username: name, password: PASSWORD }, headers: attacker });
  assert.equal(blocked.status, 429);
  // the owner, elsewhere, signs in
  const owner = await api(url, '/api/auth/login', {
    json: { username: name, password: PASSWORD },
    headers: { 'x-forwarded-for': '203.0.113.5' },
  });
  assert.equal(owner.status, 200, owner.text);
});

test('X-Forwarded-For from an untrusted peer does not buy fresh login attempts', async (t) => {
  const { url } = await serverFor(t, ['--login-rate', '3:5']);
  const victim = await register(url, uname('victim'));
  const statuses = [];
  for (let i = 0; i < 5; i++) {
    const spoofed = { 'x-forwarded-for': `198.51.100.${i + 1}` };
    const res = await api(url, '/api/auth/login', {
      json: { username: victim.user.name, password: `wrong-guess-${i}` },
      headers: spoofed,
    });
    statuses.push(res.status);
  }
  assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
});

test('sign-ups and guests from one address are limited', async (t) => {
  const { url } = await serverFor(t, ['--auth-rate', '3:30']);
  const statuses = [];
  for (let i = 0; i < 5; i++) {
    statuses.push((await api(url, '/api/auth/guest', { json: { name: uname('g') } })).status);
  }
  assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
});

test('connections from one address are capped, and a freed place can be taken again', async (t) => {
  const { url } = await serverFor(t, ['--max-connections-per-ip', '5']);
  const g = await register(url, uname('many'));
  const sockets = [];
  for (let i = 0; i < 5; i++) sockets.push(await connect(url, g.token, {}, t));
  const refusedErr = await connectError(url, g.token);
  assert.equal(refusedErr.message, 'too many connections');
  sockets[0].close();
  // the place is given back once the server has seen the disconnect
  let again;
  for (let i = 0; i < 50 && !again; i++) {
    again = await connect(url, g.token, {}, t).catch(() => null);
    if (!again) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(again, 'a freed place can be taken again');
  assert.equal((await api(url, '/healthz')).status, 200);
});

test('handshakes from one address are rate-limited', async (t) => {
  const { url } = await serverFor(t, ['--handshake-rate', '3:60']);
  const g = await register(url, uname('hs'));
  for (let i = 0; i < 3; i++) (await connect(url, g.token)).close();
  const err = await connectError(url, g.token);
  assert.equal(err.message, 'rate limited');
});

test('a handshake from a foreign Origin is refused, from the same origin or an allowed one accepted', async (t) => {
  const { url } = await serverFor(t, ['--allowed-origins', 'https://chat.example.com']);
  const g = await register(url, uname('origin'));
  for (const transports of [['websocket'], ['polling']]) {
    const foreign = await connectError(url, g.token, { transports, extraHeaders: { origin: 'https://evil.example' } });
    assert.equal(foreign.message, 'origin not allowed', transports[0]);
    const same = await connect(url, g.token, { transports, extraHeaders: { origin: url } }, t);
    same.close();
    const listed = await connect(url, g.token, { transports, extraHeaders: { origin: 'https://chat.example.com' } }, t);
    listed.close();
  }
});
