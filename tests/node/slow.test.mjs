// A receiver that stops reading while its room is busy: the server must not
// lose deliveries to it silently, nor hold unbounded memory for it. It is
// disconnected once it has fallen behind, and on reconnecting it catches up
// with `history … after` and ends with every message exactly once, in order.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { closeAllSockets, connect, emitAck, guestSocket, ok, rname, waitFor } from './helpers.mjs';
import { startServer } from './server.mjs';

/** Resident memory of a process, in MiB. */
function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

/** Every message after `afterId`, paging forward. */
async function catchUp(socket, room, afterId) {
  const all = [];
  let after = afterId;
  for (;;) {
    const page = (await ok(socket, 'history', after ? { room, after, limit: 100 } : { room, limit: 100 })).messages;
    all.push(...page);
    if (page.length < 100) return all;
    after = page.at(-1).id;
  }
}

test('a receiver that stops reading is disconnected, then catches up with every message exactly once and in order', async (t) => {
  const server = await startServer({ args: ['--socket-buffer', '64'] });
  t.after(async () => {
    closeAllSockets();
    await server.dispose();
  });
  const { url } = server;
  const room = rname('busy');
  const sender = await guestSocket(url, t, 'sender');
  const slow = await guestSocket(url, t, 'slow');
  await ok(sender.socket, 'join', { room });
  const joined = await ok(slow.socket, 'join', { room });
  assert.deepEqual(joined.messages, []);

  const received = [];
  slow.socket.on('message', (m) => received.push(m));
  const disconnected = new Promise((resolve) => slow.socket.once('disconnect', resolve));

  // Stop reading: the TCP connection backs up, then the server's queue for it.
  const raw = slow.socket.io.engine.transport.ws._socket;
  raw.pause();

  const rssBefore = rssMiB(server.child.pid);
  const text = 'x'.repeat(3900);
  const total = 2500;
  const sent = [];
  let peakRss = rssBefore;
  for (let batch = 0; batch < total / 100; batch++) {
    const acks = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        emitAck(sender.socket, 'send', { room, text: `${batch * 100 + i} ${text}` }, 20_000),
      ),
    );
    for (const ack of acks) {
      assert.equal(ack.ok, true, JSON.stringify(ack).slice(0, 200));
      sent.push(ack.message.id);
    }
    peakRss = Math.max(peakRss, rssMiB(server.child.pid));
  }
  // ~10 MB of messages went out while the receiver read nothing; the server
  // queued at most 64 packets for it.
  assert.ok(peakRss - rssBefore < 64, `server memory grew from ${rssBefore} to ${peakRss} MiB`);

  raw.resume();
  const reason = await disconnected;
  assert.equal(reason, 'io server disconnect');
  assert.ok(received.length < total, `the slow receiver got ${received.length} of ${total} before it was cut off`);

  // Reconnect, rejoin, catch up from the last message seen.
  const again = await connect(url, slow.token, {}, t);
  await ok(again, 'join', { room });
  const lastSeen = received.at(-1)?.id;
  const missed = await catchUp(again, room, lastSeen);
  const all = [...received, ...missed].map((m) => m.id);
  assert.deepEqual(all, sent, 'every message exactly once, in order');

  // The sender was never affected.
  const sentinel = waitFor(again, 'message', (m) => m.text === 'after');
  await ok(sender.socket, 'send', { room, text: 'after' });
  await sentinel;
});
