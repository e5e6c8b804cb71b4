// Crashes and shutdowns under load (issue #4 "Nothing lost, nobody let in"):
// clients keep sending while the server is killed (SIGKILL) or stopped
// (SIGTERM) and started again on the same data dir. Whatever was
// acknowledged must be in the history afterwards, exactly once, in the order
// each client sent it. Sends that were in flight at the crash were never
// acknowledged; each client resends its unacknowledged message with the same
// client_id after reconnecting, so the server's dedup is exercised too.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, test } from 'node:test';

import { api, assertStrictlyIncreasing, connect, fullHistory, guest, ok, rname, sleep, waitForDisconnect } from './helpers.mjs';
import { startServer } from './server.mjs';

/** How long one send may wait for its ack while the socket stays connected. */
const ACK_TIMEOUT_MS = 5000;
const GRACE_SECS = 5;

const servers = [];
const openSockets = new Set();
afterEach(async () => {
  // These sockets may reconnect by themselves, so close them explicitly
  // (the helpers forget a socket once it has disconnected).
  for (const s of openSockets) s.close();
  openSockets.clear();
  while (servers.length) await servers.pop().dispose();
});

async function open(url, token, opts = {}) {
  const s = await connect(url, token, opts);
  openSockets.add(s);
  return s;
}

const randomBetween = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));

/**
 * One client that sends continuously into `room`, one message at a time
 * (each waits for the previous ack, so the acknowledged ones are in the
 * order they were sent). A send that fails (disconnect) stays pending and is
 * sent again, with the same text and client_id, once the client is back in
 * the room.
 */
class Sender {
  constructor(idx, who, room, tag) {
    Object.assign(this, { idx, who, room, tag });
    this.socket = null;
    this.ready = false; // joined on the current connection
    this.stopped = false;
    this.seq = 0;
    this.pending = null; // the send whose ack never came
    this.acked = []; // {seq, id, text, client_id, duplicate}
    this.refusals = []; // acks with ok: false (none expected)
    this.timeouts = 0; // no ack and no disconnect within ACK_TIMEOUT_MS
    this.failed = 0; // sends cut off by a disconnect
    this.disconnects = []; // disconnect reasons seen
    this.joins = 0;
  }

  /** Takes a connected socket, joins the room; rejoins on every reconnect. */
  async attach(socket) {
    this.socket = socket;
    this.ready = false;
    socket.on('disconnect', (reason) => {
      if (socket === this.socket) {
        this.ready = false;
        this.disconnects.push(reason);
      }
    });
    socket.on('connect', () => {
      // an automatic reconnect of the same socket: join again
      if (socket === this.socket) this.join(socket).catch(() => {});
    });
    await this.join(socket);
  }

  async join(socket) {
    await ok(socket, 'join', { room: this.room });
    this.joins += 1;
    if (socket === this.socket && socket.connected) this.ready = true;
  }

  nextItem() {
    const seq = this.seq++;
    return {
      seq,
      text: `${this.tag} client ${this.idx} message #${seq}`,
      client_id: `${this.tag}-c${this.idx}-${seq}`,
    };
  }

  /** Resolves with the ack, or null when the socket disconnected first. */
  trySend(item) {
    const s = this.socket;
    return new Promise((resolve) => {
      let done = false;
      const finish = (value) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.off('disconnect', onDisconnect);
        resolve(value);
      };
      const onDisconnect = () => finish(null);
      const timer = setTimeout(() => {
        if (s.connected) this.timeouts += 1;
        finish(null);
      }, ACK_TIMEOUT_MS);
      s.once('disconnect', onDisconnect);
      s.emit('send', { room: this.room, text: item.text, client_id: item.client_id }, (ack) => finish(ack));
    });
  }

  async run() {
    while (!this.stopped) {
      if (!this.ready || !this.socket?.connected) {
        await sleep(5);
        continue;
      }
      const item = this.pending ?? this.nextItem();
      const ack = await this.trySend(item);
      if (ack === null) {
        this.failed += 1;
        this.pending = item;
        continue;
      }
      if (ack?.ok !== true) {
        this.refusals.push({ item, ack });
        this.pending = item;
        await sleep(20);
        continue;
      }
      assert.equal(ack.message.text, item.text, `ack of ${item.client_id}: ${JSON.stringify(ack)}`);
      assert.equal(ack.message.client_id, item.client_id, `ack of ${item.client_id}: ${JSON.stringify(ack)}`);
      this.acked.push({ seq: item.seq, id: ack.message.id, text: ack.message.text, client_id: item.client_id, duplicate: ack.duplicate });
      this.pending = null;
    }
  }
}

/** Every message of `room` newer than `afterId`, by paging GET .../messages?after=. */
async function historyAfter(url, token, room, afterId) {
  const all = [];
  let after = afterId;
  for (;;) {
    const res = await api(url, `/api/rooms/${room}/messages?after=${after}&limit=100`, { token });
    assert.equal(res.status, 200, res.text);
    const page = res.body.messages;
    all.push(...page);
    if (page.length < 100) return all;
    after = page.at(-1).id;
  }
}

/**
 * The checks shared by both tests: every acknowledged message is in the
 * history exactly once (by id, text and client_id), ids strictly increase,
 * each client's messages appear in the order it sent them, and nothing
 * beyond the acknowledged ones (plus at most each client's last pending
 * send) was stored.
 */
function assertNothingLost(history, senders) {
  assertStrictlyIncreasing(history.map((m) => m.id), 'history ids');
  const byId = new Map(history.map((m) => [m.id, m]));
  const textCount = new Map();
  const clientIdCount = new Map();
  for (const m of history) {
    textCount.set(m.text, (textCount.get(m.text) ?? 0) + 1);
    if (m.client_id !== undefined) clientIdCount.set(m.client_id, (clientIdCount.get(m.client_id) ?? 0) + 1);
  }
  const dupIds = [...clientIdCount].filter(([, n]) => n > 1);
  assert.deepEqual(dupIds, [], 'no client_id is stored twice');

  for (const s of senders) {
    const missing = s.acked.filter((a) => !byId.has(a.id));
    assert.deepEqual(missing, [], `client ${s.idx}: every acknowledged message is in the history`);
    for (const a of s.acked) {
      const m = byId.get(a.id);
      assert.equal(m.text, a.text, `message ${a.id} keeps its text`);
      assert.equal(m.client_id, a.client_id, `message ${a.id} keeps its client_id`);
      assert.equal(m.author.id, s.who.user.id, `message ${a.id} keeps its author`);
      assert.equal(textCount.get(a.text), 1, `"${a.text}" is stored exactly once`);
    }
    // acknowledged in the order sent (seq), so ids must increase with seq
    assert.deepEqual(
      s.acked.map((a) => a.seq),
      s.acked.map((_, i) => i),
      `client ${s.idx}: every send up to the last was acknowledged once, in order`,
    );
    assertStrictlyIncreasing(s.acked.map((a) => a.id), `client ${s.idx} acknowledged ids`);

    // In the history, this client's messages are exactly its acknowledged
    // ones in send order, plus possibly its one pending send at the end.
    const mine = history.filter((m) => m.author.id === s.who.user.id).map((m) => m.client_id);
    const expected = s.acked.map((a) => a.client_id);
    if (s.pending && mine.length === expected.length + 1) expected.push(s.pending.client_id);
    assert.deepEqual(mine, expected, `client ${s.idx}: its stored messages, in the order sent`);
  }
}

function summary(senders) {
  return senders
    .map(
      (s) =>
        `client ${s.idx}: ${s.acked.length} acked (${s.acked.filter((a) => a.duplicate).length} as duplicate resends), ` +
        `${s.failed} cut off, ${s.timeouts} timeouts, ${s.refusals.length} refusals, joins ${s.joins}, disconnects ${JSON.stringify(s.disconnects)}`,
    )
    .join('\n');
}

/** Waits until every sender has at least `n` more acks than in `before`. */
async function progress(senders, n, timeoutMs, what) {
  const before = senders.map((s) => s.acked.length);
  const deadline = Date.now() + timeoutMs;
  while (senders.some((s, i) => s.acked.length < before[i] + n)) {
    if (Date.now() > deadline) {
      assert.fail(`${what}: no progress within ${timeoutMs} ms\n${summary(senders)}`);
    }
    await sleep(5);
  }
}

test('every acknowledged message survives repeated SIGKILLs', { timeout: 60_000 }, async (t) => {
  let server = await startServer();
  servers.push(server);
  const room = rname('crashloop');
  const tag = randomBytes(4).toString('hex');
  const senders = [];
  for (let i = 0; i < 3; i++) {
    const who = await guest(server.url);
    const s = new Sender(i, who, room, tag);
    await s.attach(await open(server.url, who.token));
    senders.push(s);
  }
  // A marker before the load: history is read with after=<marker id>.
  const marker = await ok(senders[0].socket, 'send', { room, text: `${tag} marker` });
  const runs = senders.map((s) => s.run());

  const KILLS = 4;
  for (let k = 0; k < KILLS; k++) {
    await progress(senders, 1, 5000, `before kill ${k + 1}`);
    await sleep(randomBetween(300, 800));
    await server.kill();
    // restart on the same data dir (a new port) and reconnect every client
    server = await server.restart();
    servers.push(server);
    for (const s of senders) {
      s.socket?.close();
      await s.attach(await open(server.url, s.who.token));
    }
  }
  await progress(senders, 5, 5000, 'after the last restart');
  for (const s of senders) s.stopped = true;
  await Promise.all(runs);

  for (const line of summary(senders).split('\n')) t.diagnostic(line);
  for (const s of senders) {
    assert.deepEqual(s.refusals, [], `client ${s.idx} got no refusals`);
    assert.equal(s.timeouts, 0, `client ${s.idx}: no send hung on a connected socket`);
    assert.equal(s.pending, null, `client ${s.idx}: the last send was acknowledged`);
  }
  assert.ok(
    senders.reduce((n, s) => n + s.failed, 0) > 0,
    `at least one send was cut off by a kill (otherwise the kills missed the load)\n${summary(senders)}`,
  );

  const history = await historyAfter(server.url, senders[0].who.token, room, marker.message.id);
  assertNothingLost(history, senders);
  // the before= paging over Socket.IO sees the same thing
  const viaSocket = (await fullHistory(senders[0].socket, room)).filter((m) => m.id > marker.message.id);
  assert.deepEqual(viaSocket, history, 'history over HTTP (after=) and Socket.IO (before=) agree');
});

test(
  'SIGTERM during load loses no acknowledged message and exits 0 within the grace period',
  { timeout: 60_000 },
  async (t) => {
    const args = ['--shutdown-grace-secs', String(GRACE_SECS)];
    const first = await startServer({ args });
    servers.push(first);
    const port = new URL(first.url).port;
    const room = rname('sigterm');
    const tag = randomBytes(4).toString('hex');
    const senders = [];
    for (let i = 0; i < 3; i++) {
      const who = await guest(first.url);
      const s = new Sender(i, who, room, tag);
      const socket = await open(first.url, who.token, {
        reconnection: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 500,
      });
      await s.attach(socket);
      senders.push(s);
    }
    const marker = await ok(senders[0].socket, 'send', { room, text: `${tag} marker` });
    const runs = senders.map((s) => s.run());
    await progress(senders, 10, 5000, 'before SIGTERM');
    await sleep(randomBetween(200, 500));

    const gone = senders.map((s) => waitForDisconnect(s.socket, (GRACE_SECS + 2) * 1000));
    const started = Date.now();
    const info = await first.stop(); // SIGTERM; the helper sends SIGKILL after 5 s
    const took = Date.now() - started;
    const where = `took ${took} ms, exit ${JSON.stringify(info)}, stderr:\n${first.stderrTail().slice(-1500)}`;
    assert.equal(info.code, 0, `exit status 0 after SIGTERM; ${where}`);
    assert.equal(info.signal, null, `ended by itself, not by a signal; ${where}`);
    assert.ok(took < GRACE_SECS * 1000, `stopped within the ${GRACE_SECS} s grace period; ${where}`);
    assert.doesNotMatch(first.stderrTail(), /panicked/, `no panic while shutting down; ${where}`);
    const reasons = await Promise.all(gone);
    for (const reason of reasons) {
      // a dropped transport: the client reconnects by itself ("io server
      // disconnect" would tell it not to)
      assert.match(reason, /^transport (close|error)$/, `disconnect reason ${reason}; ${where}`);
    }
    const ackedAtStop = senders.map((s) => s.acked.length);

    // the same port, so the clients' own reconnection finds the new server
    const second = await first.restart({ args: [...args, '--bind', `127.0.0.1:${port}`] });
    servers.push(second);
    assert.equal(new URL(second.url).port, port, 'restarted on the same port');
    await progress(senders, 5, 8000, 'after the restart (clients reconnect and rejoin by themselves)');
    for (const s of senders) s.stopped = true;
    await Promise.all(runs);

    for (const line of summary(senders).split('\n')) t.diagnostic(line);
    for (const [i, s] of senders.entries()) {
      assert.ok(s.joins >= 2, `client ${s.idx} rejoined after reconnecting`);
      assert.ok(s.acked.length > ackedAtStop[i], `client ${s.idx} sent after the restart`);
      assert.deepEqual(s.refusals, [], `client ${s.idx} got no refusals`);
      assert.equal(s.timeouts, 0, `client ${s.idx}: no send hung on a connected socket`);
      assert.equal(s.pending, null, `client ${s.idx}: the last send was acknowledged`);
    }
    const history = await historyAfter(second.url, senders[0].who.token, room, marker.message.id);
    assertNothingLost(history, senders);
  },
);
