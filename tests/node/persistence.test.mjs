// Every acknowledged message survives a restart, graceful (SIGTERM) or not (SIGKILL).

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import {
  api,
  closeAllSockets,
  connect,
  emitAck,
  fullHistory,
  guest,
  ids,
  login,
  ok,
  register,
  rname,
  waitForDisconnect,
} from './helpers.mjs';
import { assertMe } from './helpers.mjs';
import { dumpDatabase, onPostgres, startServer } from './server.mjs';

const servers = [];
afterEach(async () => {
  closeAllSockets();
  while (servers.length) await servers.pop().dispose();
});

async function start(opts) {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}

async function restart(s) {
  const next = await s.restart();
  servers.push(next);
  return next;
}

/** Sends `n` messages (fired without waiting) and resolves with the acked ones. */
async function sendMany(socket, room, n, prefix) {
  const acks = await Promise.all(
    Array.from({ length: n }, (_, i) => emitAck(socket, 'send', { room, text: `${prefix}${i}`, client_id: `${prefix}-${i}` })),
  );
  acks.forEach((x) => assert.equal(x.ok, true, JSON.stringify(x)));
  return acks.map((x) => x.message);
}

test('after a graceful restart (SIGTERM) history holds every acknowledged message', async () => {
  const first = await start();
  const a = await register(first.url);
  const s = await connect(first.url, a.token);
  const room = rname('durable');
  await ok(s, 'join', { room });
  const sent = await sendMany(s, room, 30, 'keep');
  await ok(s, 'join', { room: 'general' });
  const general = await ok(s, 'send', { room: 'general', text: 'in general' });

  // SIGTERM with the client still connected (a prompt, clean exit is checked
  // by its own test below; here only the data matters)
  await first.stop();
  s.close();

  const second = await restart(first);
  const again = await login(second.url, a.name);
  assert.deepEqual(again.user, a.user, 'the account survived');
  const res = await api(second.url, `/api/rooms/${room}/messages?limit=100`, { token: again.token });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.messages, sent, 'every acknowledged message, unchanged');
  const s2 = await connect(second.url, again.token);
  const hist = await ok(s2, 'history', { room: 'general' });
  assert.deepEqual(hist.messages.at(-1), general.message);

  // ids keep increasing across the restart, and client_ids are still remembered
  await ok(s2, 'join', { room });
  const next = await ok(s2, 'send', { room, text: 'after restart' });
  assert.ok(next.message.id > sent.at(-1).id, `id ${next.message.id} after ${sent.at(-1).id}`);
  const dup = await ok(s2, 'send', { room, text: 'keep0', client_id: 'keep-0' });
  assert.equal(dup.duplicate, true);
  assert.deepEqual(dup.message, sent[0]);
  s2.close();
});

test('after a crash (SIGKILL right after the acks) every acknowledged message is still there', async () => {
  const first = await start();
  const g = await guest(first.url);
  const a = await register(first.url);
  const s = await connect(first.url, g.token);
  const room = rname('crash');
  await ok(s, 'join', { room });
  const sent = await sendMany(s, room, 80, 'crash');
  // no pause: kill as soon as the last ack is in
  await first.kill();
  s.close();

  const second = await restart(first);
  const again = await login(second.url, a.name);
  const s2 = await connect(second.url, again.token);
  const hist = await fullHistory(s2, room);
  const got = new Set(ids(hist));
  const missing = sent.filter((m) => !got.has(m.id)).map((m) => m.text);
  assert.deepEqual(missing, [], 'no acknowledged message is lost');
  assert.deepEqual(hist, sent);
  s2.close();
});

test('messages sent by several clients right up to a SIGKILL are all kept if acknowledged', async () => {
  const first = await start();
  const clients = [];
  const room = rname('crash2');
  for (let i = 0; i < 3; i++) {
    const g = await guest(first.url);
    const s = await connect(first.url, g.token);
    await ok(s, 'join', { room });
    clients.push(s);
  }
  const acked = [];
  // keep sending; kill while sends are in flight; count only what was acked
  const inflight = clients.flatMap((s, ci) =>
    Array.from({ length: 40 }, (_, i) =>
      emitAck(s, 'send', { room, text: `c${ci}-${i}` }, 5000)
        .then((x) => {
          if (x?.ok) acked.push(x.message);
        })
        .catch(() => {}),
    ),
  );
  // wait for some acks, then kill mid-stream
  await new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const timer = setInterval(() => {
      if (acked.length >= 30) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() > deadline) {
        clearInterval(timer);
        reject(new Error(`only ${acked.length} acks within 10 s`));
      }
    }, 1);
  });
  await first.kill();
  const snapshot = [...acked];
  clients.forEach((s) => s.close());
  await Promise.all(inflight);

  const second = await restart(first);
  const g = await guest(second.url);
  const s2 = await connect(second.url, g.token);
  const hist = await fullHistory(s2, room);
  const got = new Set(ids(hist));
  const missing = snapshot.filter((m) => !got.has(m.id)).map((m) => m.text);
  assert.deepEqual(missing, [], `every one of the ${snapshot.length} acknowledged messages survived`);
  for (const m of snapshot) {
    assert.deepEqual(
      hist.find((h) => h.id === m.id),
      m,
    );
  }
  s2.close();
});

test('SIGTERM with clients still connected ends the server cleanly within 5 seconds', async () => {
  // Twice, with and without RUST_BACKTRACE: the timing of the shutdown differs
  // between the two, and a panic during shutdown has shown up in only one.
  for (const env of [{}, { RUST_BACKTRACE: '0' }]) {
    const first = await start({ env });
    const g = await guest(first.url);
    const ws = await connect(first.url, g.token);
    const polling = await connect(first.url, g.token, { transports: ['polling'] });
    await ok(ws, 'join', { room: 'general' });
    await ok(polling, 'join', { room: rname('other') });
    const gone = [waitForDisconnect(ws, 6000), waitForDisconnect(polling, 6000)];
    const started = Date.now();
    const info = await first.stop(); // SIGKILL after 5 s
    const took = Date.now() - started;
    const where = `env ${JSON.stringify(env)}, took ${took} ms, stderr:\n${first.stderrTail().slice(-1500)}`;
    assert.equal(info.code, 0, `exit status after SIGTERM ${JSON.stringify(info)}; ${where}`);
    assert.doesNotMatch(first.stderrTail(), /panicked/, `no panic while shutting down; ${where}`);
    await Promise.all(gone);
    // and the data is intact for the next start
    const second = await restart(first);
    assert.equal((await api(second.url, '/api/me', { token: g.token })).status, 200);
  }
});

test("SIGTERM runs every connection's disconnect, once, after its last event, before the server exits", async () => {
  // socketioxide runs no disconnect handler for the sockets it closes at
  // shutdown; the server closes every connection's inbox itself and waits
  // for each to finish (its debug line "disconnected" comes from there).
  const first = await start({ env: { RUST_LOG: 'warn,banter::realtime=debug' } });
  const g = await guest(first.url);
  const idle = await connect(first.url, g.token);
  const polling = await connect(first.url, g.token, { transports: ['polling'] });
  const busy = await connect(first.url, g.token);
  await ok(idle, 'join', { room: 'general' });
  await ok(polling, 'join', { room: rname('other') });
  await ok(busy, 'join', { room: 'general' });
  const sids = [idle.id, polling.id, busy.id];
  // events still queued on one connection when the signal comes
  for (let n = 0; n < 20; n++) busy.emit('typing', { room: 'general', active: n % 2 === 0 });
  const info = await first.stop();
  // (ANSI colours, if any, sit between the fields)
  const plain = first.stderrTail().replace(/\x1b\[[0-9;]*m/g, '');
  const where = `stderr:\n${plain.slice(-2000)}`;
  assert.equal(info.code, 0, `exit status ${JSON.stringify(info)}; ${where}`);
  for (const sid of sids) {
    const lines = plain.split('\n').filter((l) => / disconnected/.test(l) && l.includes(`sid=${sid}`));
    assert.equal(lines.length, 1, `one disconnect for ${sid}; ${where}`);
  }
});

test('a session survives a server restart', async () => {
  const first = await start();
  const a = await register(first.url);
  const second = await restart(first);
  const me = await api(second.url, '/api/me', { token: a.token });
  assert.equal(me.status, 200, me.text);
  assertMe(me.body, a.user);
  const s = await connect(second.url, a.token);
  await ok(s, 'join', { room: 'general' });
  s.close();
});

test('a logged-out session stays ended after a restart', async () => {
  const first = await start();
  const a = await register(first.url);
  assert.equal((await api(first.url, '/api/auth/logout', { method: 'POST', token: a.token })).status, 204);
  const second = await restart(first);
  assert.equal((await api(second.url, '/api/me', { token: a.token })).status, 401);
});

test('the database does not hold session tokens in the clear', async () => {
  const { readdir, readFile } = await import('node:fs/promises');
  const path = await import('node:path');
  const first = await start();
  const a = await register(first.url);
  const g = await guest(first.url);
  await first.stop();
  const files = [];
  const walk = async (dir) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else files.push(p);
    }
  };
  const stored = [];
  if (onPostgres) {
    // Everything the database holds, as SQL.
    const dump = await dumpDatabase(first.dataDir);
    assert.ok(dump.includes(Buffer.from(a.name)), 'the dump holds the account');
    stored.push(['the database dump', dump]);
  } else {
    await walk(first.dataDir);
    assert.ok(files.length > 0, 'the server wrote its data dir');
    for (const f of files) stored.push([f, await readFile(f)]);
  }
  for (const [where, bytes] of stored) {
    for (const token of [a.token, g.token]) {
      assert.equal(bytes.includes(Buffer.from(token)), false, `token found in clear in ${where}`);
    }
  }
});
