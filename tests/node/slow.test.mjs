// A receiver that stops reading while its room is busy: the server must not
// lose deliveries to it silently, nor hold unbounded memory for it. It is
// disconnected once it has fallen behind, and on reconnecting it catches up
// with `history … after` and ends with every message exactly once, in order.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { closeAllSockets, connect, emitAck, guestSocket, ok, rname, sleep, waitFor } from './helpers.mjs';
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

/**
 * A receiver that stops reading while `total` messages of `textChars`
 * characters go to its room: it must be disconnected (by `args`'s limit),
 * the server's memory must grow by less than `maxGrowthMiB`, and on
 * reconnecting it must catch up with every message exactly once, in order.
 */
async function cutOffThenCatchUp(t, { args, total, textChars, maxGrowthMiB }) {
  const server = await startServer({ args });
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
  const text = 'x'.repeat(textChars);
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
  assert.ok(peakRss - rssBefore < maxGrowthMiB, `server memory grew from ${rssBefore} to ${peakRss} MiB`);

  raw.resume();
  const reason = await Promise.race([disconnected, sleep(20_000).then(() => 'still connected after 20 s')]);
  assert.equal(reason, 'io server disconnect');
  assert.ok(received.length < total, `the slow receiver got ${received.length} of ${total} before it was cut off`);

  // Reconnect, rejoin, catch up from the last message seen.
  const again = await connect(url, slow.token, {}, t);
  await ok(again, 'join', { room });
  const missed = await catchUp(again, room, received.at(-1)?.id);
  const all = [...received, ...missed].map((m) => m.id);
  assert.deepEqual(all, sent, 'every message exactly once, in order');

  // The sender was never affected.
  const sentinel = waitFor(again, 'message', (m) => m.text === 'after');
  await ok(sender.socket, 'send', { room, text: 'after' });
  await sentinel;
}

test('a receiver that stops reading is disconnected, then catches up with every message exactly once and in order', async (t) => {
  // ~10 MB of messages go out while the receiver reads nothing; the server
  // queues at most 64 packets for it.
  await cutOffThenCatchUp(t, { args: ['--socket-buffer', '64'], total: 2500, textChars: 3900, maxGrowthMiB: 64 });
});

test('a receiver that stops reading large messages is cut off by bytes, before its queue is full of packets, and catches up exactly once, in order', async (t) => {
  // 3,000 packets never fill the 4,096-packet queue: only the byte budget
  // (1 MiB here) can tell that this receiver has fallen behind. 12 MB go to
  // the room; the server holds at most about 1 MiB of it for the receiver
  // (the kernel's socket buffers aside).
  await cutOffThenCatchUp(t, {
    args: ['--socket-buffer', '4096', '--socket-buffer-bytes', String(1024 * 1024)],
    total: 3000,
    textChars: 3990,
    maxGrowthMiB: 32,
  });
});

/**
 * A client that asks for large history pages far faster than it reads them
 * (its transport paused by `pause`, resumed by `resume`): the server holds
 * a bounded part of the answers, and every answer still arrives, in order,
 * without a disconnect.
 */
async function asksFasterThanItReads(t, { transports, pause, resume }) {
  const server = await startServer({ args: ['--socket-buffer-bytes', String(8 * 1024 * 1024)] });
  t.after(async () => {
    closeAllSockets();
    await server.dispose();
  });
  const { url } = server;
  const room = rname('pages');
  const writer = await guestSocket(url, t, 'writer');
  await ok(writer.socket, 'join', { room });
  // 100 messages of 4,000 three-byte characters: a page of all of them is
  // about 1.2 MB.
  const big = '€'.repeat(3990);
  for (let i = 0; i < 100; i += 25) {
    await Promise.all(
      Array.from({ length: 25 }, (_, j) => ok(writer.socket, 'send', { room, text: `${i + j} ${big}` }, 20_000)),
    );
  }
  const reader = await guestSocket(url, t, 'reader', { transports });
  await ok(reader.socket, 'join', { room });
  let disconnected = false;
  reader.socket.on('disconnect', () => {
    disconnected = true;
  });

  const asks = 40;
  await pause(reader.socket);
  const rssBefore = rssMiB(server.child.pid);
  const answers = Array.from({ length: asks }, () => emitAck(reader.socket, 'history', { room, limit: 100 }, 40_000));
  // 40 answers of 1.2 MB (48 MB) asked for at once: give the server time to
  // make as many as it would.
  let peakRss = rssBefore;
  for (let i = 0; i < 30; i++) {
    await sleep(100);
    peakRss = Math.max(peakRss, rssMiB(server.child.pid));
  }
  assert.ok(peakRss - rssBefore < 24, `server memory grew from ${rssBefore} to ${peakRss} MiB for one paused reader`);

  resume(reader.socket);
  const pages = await Promise.all(answers);
  for (const page of pages) {
    assert.equal(page.ok, true, JSON.stringify(page).slice(0, 200));
    assert.equal(page.messages.length, 100);
  }
  assert.equal(disconnected, false, 'a reader that reads in the end is not disconnected');
}

test('a WebSocket client that asks for history faster than it reads waits for its answers; the server holds a bounded part of them', async (t) => {
  const raw = (socket) => socket.io.engine.transport.ws._socket;
  await asksFasterThanItReads(t, {
    transports: ['websocket'],
    pause: async (socket) => raw(socket).pause(),
    resume: (socket) => raw(socket).resume(),
  });
});

test('a long-polling client that stops polling while it asks for history waits for its answers; the server holds a bounded part of them', async (t) => {
  await asksFasterThanItReads(t, {
    transports: ['polling'],
    // No new GET once the one in flight is back (with the first answer);
    // the client's POSTs still go.
    pause: async (socket) => {
      const transport = socket.io.engine.transport;
      const doPoll = transport.doPoll.bind(transport);
      transport.resumePolling = () => {
        transport.doPoll = doPoll;
        if (transport.pollWanted) doPoll();
      };
      transport.doPoll = () => {
        transport.pollWanted = true;
      };
    },
    resume: (socket) => socket.io.engine.transport.resumePolling(),
  });
});
