// Socket.IO connection and authentication (docs/protocol.md, "Connecting").

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  api,
  closeAllSockets,
  connect,
  connectError,
  emitAck,
  guest,
  login,
  logout,
  ok,
  register,
  rname,
  uname,
  waitFor,
  waitForDisconnect,
} from './helpers.mjs';
import { startServer } from './server.mjs';

let server;
let url;

before(async () => {
  server = await startServer();
  url = server.url;
});

after(async () => {
  closeAllSockets();
  await server?.dispose();
});

/** The user a socket is signed in as, found through a join ack's member list. */
async function whoAmI(socket, candidates) {
  const room = rname('who');
  const ack = await ok(socket, 'join', { room });
  await ok(socket, 'leave', { room });
  assert.equal(ack.members.length, 1, JSON.stringify(ack.members));
  const me = ack.members[0];
  return candidates.find((c) => c.user.id === me.id)?.name ?? `unknown user ${me.id}`;
}

test('connecting without a token fails with connect_error "unauthorized"', async () => {
  const err = await connectError(url, null);
  assert.equal(err.message, 'unauthorized');
});

test('connecting with an empty auth object or an empty token fails with "unauthorized"', async () => {
  assert.equal((await connectError(url, null, { auth: {} })).message, 'unauthorized');
  assert.equal((await connectError(url, '')).message, 'unauthorized');
  assert.equal((await connectError(url, null, { auth: { token: 42 } })).message, 'unauthorized');
});

test('connecting with a garbage token fails with connect_error "unauthorized"', async () => {
  for (const token of ['garbage', 'A'.repeat(43), `${'x'.repeat(10_000)}`]) {
    const err = await connectError(url, token);
    assert.equal(err.message, 'unauthorized');
  }
});

test('connecting with a revoked token (after logout) fails with "unauthorized"', async () => {
  const g = await guest(url);
  const s = await connect(url, g.token);
  s.close();
  assert.equal((await logout(url, g.token)).status, 204);
  const err = await connectError(url, g.token);
  assert.equal(err.message, 'unauthorized');
});

test('connecting over polling without a token fails with "unauthorized" too', async () => {
  const err = await connectError(url, null, { transports: ['polling'] });
  assert.equal(err.message, 'unauthorized');
});

test('an account token connects and can join', async (t) => {
  const a = await register(url);
  const s = await connect(url, a.token, {}, t);
  assert.ok(s.connected);
  const ack = await ok(s, 'join', { room: 'general' });
  assert.ok(ack.members.some((u) => u.id === a.user.id && u.name === a.name && u.guest === false));
});

test('the session cookie alone authenticates a socket (polling, then upgrade to websocket)', async (t) => {
  const g = await guest(url);
  const s = await connect(
    url,
    null,
    { transports: ['polling', 'websocket'], extraHeaders: { cookie: `banter_session=${g.token}` } },
    t,
  );
  const upgraded = new Promise((resolve) => {
    if (s.io.engine.transport.name === 'websocket') resolve();
    s.io.engine.once('upgrade', resolve);
  });
  const room = rname('cookie');
  const ack = await ok(s, 'join', { room });
  assert.deepEqual(ack.members, [g.user], 'signed in as the cookie user');
  const sent = await ok(s, 'send', { room, text: 'first message' });
  assert.deepEqual(sent.message.author, g.user);
  await Promise.race([
    upgraded,
    new Promise((_, reject) => setTimeout(() => reject(new Error('no upgrade to websocket within 5 s')), 5000).unref()),
  ]);
  assert.equal(s.io.engine.transport.name, 'websocket');
  const again = await ok(s, 'send', { room, text: 'over websocket' });
  assert.deepEqual(again.message.author, g.user);
});

test('the session cookie alone authenticates a websocket-only connection', async (t) => {
  const g = await guest(url);
  const s = await connect(url, null, { extraHeaders: { cookie: `other=1; banter_session=${g.token}` } }, t);
  const ack = await ok(s, 'join', { room: rname('cookiews') });
  assert.deepEqual(ack.members, [g.user]);
});

test('a revoked session cookie is refused with "unauthorized"', async () => {
  const g = await guest(url);
  assert.equal((await logout(url, g.token)).status, 204);
  const err = await connectError(url, null, {
    transports: ['polling', 'websocket'],
    extraHeaders: { cookie: `banter_session=${g.token}` },
  });
  assert.equal(err.message, 'unauthorized');
});

test('the auth token wins over the cookie', async (t) => {
  const a = await guest(url, uname('tok'));
  const b = await guest(url, uname('cook'));
  const s = await connect(url, a.token, { extraHeaders: { cookie: `banter_session=${b.token}` } }, t);
  assert.equal(await whoAmI(s, [a, b]), a.name);
});

test('logout disconnects an already-open socket of that session', async (t) => {
  const g = await guest(url);
  const ws = await connect(url, g.token, {}, t);
  const polling = await connect(url, g.token, { transports: ['polling'] }, t);
  await ok(ws, 'join', { room: 'general' });
  const gone = [waitForDisconnect(ws, 5000), waitForDisconnect(polling, 5000)];
  assert.equal((await logout(url, g.token)).status, 204);
  const reasons = await Promise.all(gone);
  for (const reason of reasons) {
    assert.ok(
      ['io server disconnect', 'transport close', 'transport error'].includes(reason),
      `disconnected by the server: ${reason}`,
    );
  }
  assert.equal(ws.connected, false);
  assert.equal(polling.connected, false);
});

test('logout leaves the sockets of the same user’s other sessions connected', async (t) => {
  const a = await register(url);
  const other = await login(url, a.name);
  const s1 = await connect(url, a.token, {}, t);
  const s2 = await connect(url, other.token, {}, t);
  const room = rname('twosess');
  await ok(s1, 'join', { room });
  await ok(s2, 'join', { room });
  const gone = waitForDisconnect(s1, 5000);
  assert.equal((await logout(url, a.token)).status, 204);
  await gone;
  const ack = await ok(s2, 'send', { room, text: 'still here' });
  assert.equal(ack.message.text, 'still here');
  assert.ok(s2.connected);
  const me = await api(url, '/api/me', { token: other.token });
  assert.equal(me.status, 200);
});

test('a socket the server disconnected at logout cannot come back with the same token', async () => {
  const g = await guest(url);
  const s = await connect(url, g.token);
  const gone = waitForDisconnect(s, 5000);
  await logout(url, g.token);
  await gone;
  const err = await connectError(url, g.token);
  assert.equal(err.message, 'unauthorized');
});

test('an event sent the moment the connection opens is handled', async (t) => {
  // fresh connections, each sending join as soon as it is connected: one after
  // another, then many at once
  const g = await guest(url);
  const attempt = async (i) => {
    const s = await connect(url, g.token, i % 4 === 3 ? { transports: ['polling'] } : {}, t);
    try {
      const ack = await emitAck(s, 'join', { room: 'general' }, 3000);
      return ack.ok === true ? 'ok' : JSON.stringify(ack);
    } catch (err) {
      return `connection ${i}: ${err.message}`;
    } finally {
      s.close();
    }
  };
  const results = [];
  for (let i = 0; i < 100; i++) results.push(await attempt(i));
  results.push(...(await Promise.all(Array.from({ length: 50 }, (_, i) => attempt(1000 + i)))));
  assert.deepEqual(
    results.filter((r) => r !== 'ok'),
    [],
    'every first event is acknowledged',
  );
});

test('one user may hold many sockets at once', async (t) => {
  const g = await guest(url);
  const sockets = await Promise.all(Array.from({ length: 5 }, () => connect(url, g.token, {}, t)));
  const room = rname('many');
  for (const s of sockets) await ok(s, 'join', { room });
  const ack = await ok(sockets[0], 'join', { room });
  assert.deepEqual(ack.members, [g.user], 'counted once');
  const got = waitFor(sockets[4], 'message', (m) => m.text === 'hi all');
  await ok(sockets[0], 'send', { room, text: 'hi all' });
  await got;
});

test('a new session that takes the id of one just ended is not disconnected with it', async (t) => {
  // SQLite may give a new session the id of the session just deleted; the
  // server's revocation watch (which closes the sockets of sessions ended
  // elsewhere, e.g. by `banter admin`) must not take the new one for the old.
  for (let round = 0; round < 3; round++) {
    const old = await guest(url);
    const res = await logout(url, old.token);
    assert.equal(res.status, 204);
    const fresh = await guest(url);
    const s = await connect(url, fresh.token, {}, t);
    let dropped = false;
    s.on('disconnect', () => (dropped = true));
    // The watch polls every second: give it two polls.
    await new Promise((r) => setTimeout(r, 2200));
    assert.equal(dropped, false, `round ${round}: the new session's socket was disconnected`);
    const ack = await emitAck(s, 'join', { room: 'general' }, 3000);
    assert.equal(ack.ok, true);
    s.close();
  }
});
