// Rooms at scale and read limits: how many rooms one user or address may
// create, the paginated room list, and the rate of read events (`history`,
// `members`). Each test starts its own server with the limit under test
// (docs/security.md, "Cross-site requests, rooms and read limits").

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  api,
  assertError,
  closeAllSockets,
  emitAck,
  guestSocket,
  ok,
  rname,
} from './helpers.mjs';
import { startServer } from './server.mjs';

async function serverFor(t, args = []) {
  const server = await startServer({ args });
  t.after(async () => {
    closeAllSockets();
    await server.dispose();
  });
  return server;
}

function assertRateLimited(ack, where) {
  assert.equal(ack.ok, false, `${where}: ${JSON.stringify(ack)}`);
  assert.equal(ack.error.code, 'rate_limited', where);
  assert.ok(Number.isInteger(ack.error.retry_after_ms) && ack.error.retry_after_ms > 0, where);
}

test('one user creating rooms quickly is refused with rate_limited, while joining existing rooms still works', async (t) => {
  const { url } = await serverFor(t, ['--room-create-rate', '3:1']);
  const a = await guestSocket(url, t, 'maker');
  for (let i = 0; i < 3; i++) await ok(a.socket, 'join', { room: rname(`mk${i}`) });
  const room = rname('mk-too-many');
  assertRateLimited(await emitAck(a.socket, 'join', { room }), 'fourth new room');
  // not created: the list does not have it
  const listed = await api(url, `/api/rooms?q=${room}`);
  assert.deepEqual(listed.body.rooms, []);
  // joining rooms that exist is not room creation
  await ok(a.socket, 'join', { room: 'general' });
  // another user has rooms of their own to create
  const b = await guestSocket(url, t, 'other');
  await ok(b.socket, 'join', { room: rname('mk-b') });
});

test('many users from one address creating rooms are refused together with rate_limited', async (t) => {
  const { url } = await serverFor(t, ['--room-create-ip-rate', '4:1']);
  const results = [];
  for (let i = 0; i < 3; i++) {
    const g = await guestSocket(url, t, `ip${i}`);
    for (let j = 0; j < 2; j++) results.push((await emitAck(g.socket, 'join', { room: rname(`ip${i}-${j}`) })).ok);
  }
  assert.deepEqual(results, [true, true, true, true, false, false]);
});

test('GET /api/rooms answers pages of {rooms, next} that follow each other by name', async (t) => {
  const { url } = await serverFor(t);
  const a = await guestSocket(url, t, 'pager');
  const made = [];
  for (let i = 0; i < 7; i++) {
    const room = `page-${i}`;
    made.push(room);
    await ok(a.socket, 'join', { room });
  }
  const seen = [];
  let after = null;
  let pages = 0;
  do {
    const res = await api(url, `/api/rooms?limit=3${after ? `&after=${after}` : ''}`);
    assert.equal(res.status, 200, res.text);
    assert.ok(res.body.rooms.length <= 3, res.text);
    seen.push(...res.body.rooms.map((r) => r.name));
    after = res.body.next;
    pages += 1;
  } while (after !== null && pages < 10);
  assert.deepEqual(seen, ['general', ...made]);
  assert.equal(pages, 3);
});

test('GET /api/rooms?q= keeps the rooms whose names contain the search', async (t) => {
  const { url } = await serverFor(t);
  const a = await guestSocket(url, t, 'finder');
  for (const room of ['dev-web', 'ops', 'dev-api']) await ok(a.socket, 'join', { room });
  const res = await api(url, '/api/rooms?q=DEV');
  assert.deepEqual(res.body, {
    rooms: [
      { name: 'dev-api', topic: '', members: 1 },
      { name: 'dev-web', topic: '', members: 1 },
    ],
    next: null,
  });
});

test('GET /api/rooms refuses a limit outside 1..500 with 400 invalid_limit', async (t) => {
  const { url } = await serverFor(t);
  for (const limit of ['0', '501', 'x', '-1']) {
    assertError(await api(url, `/api/rooms?limit=${limit}`), 400, 'invalid_limit');
  }
});

test('a flood of history and members requests is refused with rate_limited, and the socket still works', async (t) => {
  const { url } = await serverFor(t, ['--read-rate', '5:1', '--send-rate', '100:100']);
  const a = await guestSocket(url, t, 'reader');
  const room = rname('reads');
  await ok(a.socket, 'join', { room });
  const acks = [];
  for (let i = 0; i < 4; i++) acks.push(await emitAck(a.socket, 'history', { room }));
  for (let i = 0; i < 4; i++) acks.push(await emitAck(a.socket, 'members', { room }));
  assert.deepEqual(acks.map((ack) => ack.ok), [true, true, true, true, true, false, false, false]);
  assertRateLimited(acks[7], 'members over the read rate');
  // writes are not reads: sending still works
  await ok(a.socket, 'send', { room, text: 'still here' });
});
