// /readyz: 200 while the server can take clients; 503 from the moment
// SIGTERM arrives (while the sockets are still connected, for --drain-secs)
// and while the database does not answer. /healthz stays plain liveness.

import assert from 'node:assert/strict';
import { rename, rm } from 'node:fs/promises';
import http from 'node:http';
import { test } from 'node:test';

import { api, closeAllSockets, guestSocket, ok, rname, sleep } from './helpers.mjs';
import { sqliteOnly, startServer } from './server.mjs';

/** GET over a fresh connection (no pooled keep-alive across the shutdown). */
function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
  });
}

test('readyz answers 503 as soon as SIGTERM arrives, while sockets are still connected, then the server stops', async (t) => {
  const server = await startServer({ args: ['--drain-secs', '2'] });
  t.after(async () => {
    closeAllSockets();
    await server.dispose();
  });
  const { url } = server;
  assert.deepEqual(await get(`${url}/readyz`), { status: 200, body: { status: 'ready' } });

  const room = rname('drain');
  const a = await guestSocket(url, t, 'drain');
  await ok(a.socket, 'join', { room });
  let disconnectedAt = null;
  const disconnected = new Promise((resolve) =>
    a.socket.once('disconnect', () => {
      disconnectedAt = Date.now();
      resolve();
    }),
  );

  const signalledAt = Date.now();
  server.child.kill('SIGTERM');
  // Poll until readiness flips: within the drain period, while connected.
  let ready;
  for (let i = 0; i < 40; i++) {
    ready = await get(`${url}/readyz`);
    if (ready.status === 503) break;
    await sleep(25);
  }
  assert.deepEqual(ready, { status: 503, body: { status: 'draining' } });
  assert.equal(disconnectedAt, null, 'the socket is still connected while not ready');
  assert.equal(a.socket.connected, true);
  // Liveness is unchanged while draining, and the socket still works.
  assert.equal((await get(`${url}/healthz`)).status, 200);
  await ok(a.socket, 'send', { room, text: 'still here' });

  const exit = await new Promise((resolve) => server.child.once('close', (code, signal) => resolve({ code, signal })));
  assert.deepEqual(exit, { code: 0, signal: null });
  await disconnected;
  assert.ok(
    disconnectedAt - signalledAt >= 1500,
    `the sockets closed after the drain period, not at the signal (${disconnectedAt - signalledAt} ms)`,
  );
});

test(
  'readyz answers 503 when the database is gone, and 200 again once it is back',
  { skip: sqliteOnly('moves the SQLite file away under the server') },
  async (t) => {
  const server = await startServer();
  t.after(async () => {
    closeAllSockets();
    await server.dispose();
  });
  const { url, dataDir } = server;
  assert.equal((await api(url, '/readyz')).status, 200);

  // The database file and its directory removed under the running server
  // (a lost volume): connections already open still read the unlinked
  // file, but a new one cannot open it.
  const moved = `${dataDir}.moved`;
  await rename(dataDir, moved);
  t.after(() => rm(moved, { recursive: true, force: true }));
  const gone = await api(url, '/readyz');
  assert.equal(gone.status, 503);
  assert.deepEqual(gone.body, { status: 'unavailable', reason: 'database' });
  assert.equal((await api(url, '/healthz')).status, 200, 'still alive');

  await rename(moved, dataDir);
  assert.equal((await api(url, '/readyz')).status, 200);
});
