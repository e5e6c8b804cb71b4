// Socket.IO packet size limit: at most 64 KiB per packet; a bigger one closes
// the offending connection only.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  closeAllSockets,
  connect,
  emitAck,
  guestSocket,
  ok,
  refused,
  assertRefusal,
  rname,
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

/** Emits a packet of about `bytes` bytes and expects the connection to be closed. */
async function expectClosedBy(socket, room, bytes) {
  const gone = waitForDisconnect(socket, 5000);
  const ack = emitAck(socket, 'send', { room, text: 'x'.repeat(bytes) }, 4000).then(
    (a) => ({ acked: a }),
    (err) => ({ error: err }),
  );
  const reason = await gone;
  assert.ok(typeof reason === 'string', 'disconnected');
  const result = await ack;
  assert.ok(result.error, `no ack for the oversized packet: ${JSON.stringify(result.acked)?.slice(0, 200)}`);
  assert.equal(socket.connected, false);
  return reason;
}

test('a 2 MB packet disconnects its sender while other clients keep chatting and new ones connect', async (t) => {
  const room = rname('big');
  const bad = await guestSocket(url, t, 'bad');
  const a = await guestSocket(url, t, 'a');
  const b = await guestSocket(url, t, 'b');
  for (const x of [bad, a, b]) await ok(x.socket, 'join', { room });
  const left = waitFor(a.socket, 'left', (e) => e.room === room && e.user.id === bad.user.id, 10_000);

  await expectClosedBy(bad.socket, room, 2 * 1024 * 1024);

  // nothing of it was stored or broadcast; the others still chat
  await left;
  const seen = waitFor(b.socket, 'message', (m) => m.room === room);
  const sent = await ok(a.socket, 'send', { room, text: 'still chatting' });
  assert.deepEqual(await seen, sent.message);
  const back = waitFor(a.socket, 'message', (m) => m.room === room);
  await ok(b.socket, 'send', { room, text: 'me too' });
  assert.equal((await back).text, 'me too');
  const hist = await ok(a.socket, 'history', { room });
  assert.deepEqual(
    hist.messages.map((m) => m.text),
    ['still chatting', 'me too'],
  );

  // a new client, and the offender with the same session again, can connect
  const c = await guestSocket(url, t, 'c');
  const ack = await ok(c.socket, 'join', { room });
  assert.equal(ack.members.length, 3);
  const again = await connect(url, bad.token, {}, t);
  await ok(again, 'join', { room });
});

test('an 80 KiB packet (over the 64 KiB limit) closes the WebSocket connection', async (t) => {
  const room = rname('k80');
  const bad = await guestSocket(url, t, 'bad');
  const other = await guestSocket(url, t, 'other');
  await ok(bad.socket, 'join', { room });
  await ok(other.socket, 'join', { room });
  await expectClosedBy(bad.socket, room, 80 * 1024);
  await ok(other.socket, 'send', { room, text: 'unaffected' });
});

test('an 80 KiB packet over polling closes that connection too', async (t) => {
  const room = rname('p80');
  const bad = await guestSocket(url, t, 'badpoll', { transports: ['polling'] });
  const other = await guestSocket(url, t, 'other');
  await ok(bad.socket, 'join', { room });
  await ok(other.socket, 'join', { room });
  await expectClosedBy(bad.socket, room, 80 * 1024);
  await ok(other.socket, 'send', { room, text: 'unaffected' });
  assert.deepEqual(
    (await ok(other.socket, 'history', { room })).messages.map((m) => m.text),
    ['unaffected'],
  );
});

test('a 60 KiB packet (under the limit) is answered, not disconnected', async (t) => {
  const room = rname('k60');
  const a = await guestSocket(url, t);
  await ok(a.socket, 'join', { room });
  // over 4000 characters: refused as text, but the connection stays
  await refused(a.socket, 'send', { room, text: 'y'.repeat(60 * 1024) }, 'invalid_text');
  assert.ok(a.socket.connected);
  await ok(a.socket, 'send', { room, text: 'fine' });
});

test('a 60 KiB packet over polling is answered, not disconnected', async (t) => {
  const room = rname('p60');
  const a = await guestSocket(url, t, 'poll', { transports: ['polling'] });
  await ok(a.socket, 'join', { room });
  await refused(a.socket, 'send', { room, text: 'y'.repeat(60 * 1024) }, 'invalid_text');
  assert.ok(a.socket.connected);
  await ok(a.socket, 'send', { room, text: 'fine' });
});

/** Fires `n` events at once; resolves with the acks (or {lost: true} when none came). */
async function burst(socket, n, event, payload, timeoutMs) {
  return Promise.all(
    Array.from({ length: n }, () => emitAck(socket, event, payload, timeoutMs).catch(() => ({ lost: true }))),
  );
}

function tally(acks) {
  const counts = {};
  for (const x of acks) {
    const k = x.lost ? 'no ack' : x.ok === true ? 'ok' : (x.error?.code ?? JSON.stringify(x));
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

test('a burst of 1000 events (under the 1024 waiting limit) is answered in full', async (t) => {
  const room = rname('burst1k');
  const a = await guestSocket(url, t);
  await ok(a.socket, 'join', { room });
  const acks = await burst(a.socket, 1000, 'typing', { room, active: true }, 8000);
  assert.deepEqual(tally(acks), { ok: 1000 }, `server log tail:\n${server.stderrTail().slice(-1500)}`);
  await ok(a.socket, 'send', { room, text: 'after the burst' });
});

test('every event of a 3000-event burst is answered: ok, or overloaded past 1024 waiting', async (t) => {
  const room = rname('burst3k');
  const a = await guestSocket(url, t);
  await ok(a.socket, 'join', { room });
  const acks = await burst(a.socket, 3000, 'typing', { room, active: true }, 8000);
  const counts = tally(acks);
  const unexpected = Object.keys(counts).filter((k) => k !== 'ok' && k !== 'overloaded');
  assert.deepEqual(
    unexpected,
    [],
    `every event answered with ok or overloaded: ${JSON.stringify(counts)}\nserver log tail:\n${server.stderrTail().slice(-1500)}`,
  );
  for (const x of acks.filter((y) => y.ok === false)) assertRefusal(x, 'overloaded');
  assert.ok(a.socket.connected);
  await ok(a.socket, 'send', { room, text: 'after the burst' });
});
