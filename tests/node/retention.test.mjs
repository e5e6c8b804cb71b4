// --retention-days: messages older than the period are deleted in the
// background (fractional days, so a test can use seconds), newer ones stay,
// and sends keep being acknowledged meanwhile.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { closeAllSockets, fullHistory, guestSocket, ok, rname, sleep } from './helpers.mjs';
import { startServer } from './server.mjs';

// 0.00003 days = 2.592 s; the sweep runs every second (a quarter of the
// period, at least a second).
const RETENTION_MS = 0.00003 * 86_400_000;

test('messages older than the retention period are deleted in the background while newer ones stay', async (t) => {
  const server = await startServer({ args: ['--retention-days', '0.00003'] });
  t.after(async () => {
    closeAllSockets();
    await server.dispose();
  });
  const { url } = server;
  const room = rname('retention');
  const a = await guestSocket(url, t, 'keeper');
  await ok(a.socket, 'join', { room });
  const old = (await ok(a.socket, 'send', { room, text: 'old' })).message;

  // Keep sending while the sweep runs; every send is acknowledged.
  let sent = 0;
  let gone = false;
  const deadline = Date.now() + RETENTION_MS + 5_000;
  while (!gone && Date.now() < deadline) {
    await ok(a.socket, 'send', { room, text: `fresh ${sent++}` });
    const history = await fullHistory(a.socket, room);
    gone = !history.some((m) => m.id === old.id);
    await sleep(100);
  }
  assert.ok(gone, 'the old message was deleted within the period plus two sweeps');
  assert.ok(Date.now() - old.ts >= RETENTION_MS, 'and not before it was older than the period');

  const recent = (await ok(a.socket, 'send', { room, text: 'recent' })).message;
  const history = await fullHistory(a.socket, room);
  assert.ok(history.some((m) => m.id === recent.id), 'a recent message stays');
  assert.ok(history.length > 0);
  for (const m of history) assert.ok(Date.now() - m.ts < RETENTION_MS + 2_500, `message ${m.id} is recent`);
});

test('without --retention-days messages are kept', async (t) => {
  const server = await startServer();
  t.after(async () => {
    closeAllSockets();
    await server.dispose();
  });
  const room = rname('kept');
  const a = await guestSocket(server.url, t, 'keeper');
  await ok(a.socket, 'join', { room });
  const first = (await ok(a.socket, 'send', { room, text: 'kept' })).message;
  await sleep(3_000);
  const history = await fullHistory(a.socket, room);
  assert.deepEqual(
    history.map((m) => m.id),
    [first.id],
  );
});
