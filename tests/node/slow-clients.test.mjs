// Slow clients and connection caps: connections that send half a request,
// nothing, or a body a byte at a time are closed; TCP connections are capped
// per address; Engine.IO sessions that never join the namespace are closed
// and count against the per-address caps from their handshake. Each test sets
// the limit under test to a small value by flag (see docs/security.md).

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';

import WebSocket from 'ws';

import { closeAllSockets, connectError, guestSocket, ok, sleep } from './helpers.mjs';
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

/**
 * A raw TCP connection to the server, from `localAddress` (another loopback
 * address is another peer); `received` collects what it reads.
 */
function rawSocket(url, t, localAddress = undefined) {
  const { hostname, port } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port), localAddress });
  const conn = { socket, received: '', closed: false };
  socket.setEncoding('utf8');
  socket.on('data', (d) => {
    conn.received += d;
  });
  socket.on('error', () => {});
  conn.closedAt = new Promise((resolve) => {
    socket.on('close', () => {
      conn.closed = true;
      resolve(Date.now());
    });
  });
  conn.ready = new Promise((resolve) => socket.once('connect', resolve));
  t.after(() => socket.destroy());
  return conn;
}

/** Resolves with how long the connection took to close; fails past `withinMs`. */
async function closedWithin(conn, withinMs, what) {
  const started = Date.now();
  const timer = sleep(withinMs).then(() => 'open');
  const closed = await Promise.race([conn.closedAt, timer]);
  assert.notEqual(closed, 'open', `${what}: still open after ${withinMs} ms`);
  return closed - started;
}

/** Waits until `conn` has received a whole HTTP response head. */
async function responseHead(conn, withinMs = 3000) {
  const until = Date.now() + withinMs;
  while (!conn.received.includes('\r\n\r\n')) {
    assert.ok(Date.now() < until, `no response within ${withinMs} ms; got ${JSON.stringify(conn.received)}`);
    await sleep(20);
  }
  return conn.received;
}

/** An Engine.IO WebSocket session that never sends the namespace CONNECT. */
function rawEngineSession(url, t) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const session = { ws, opened: false, status: undefined };
  ws.on('message', (data) => {
    const text = data.toString();
    if (text.startsWith('0')) session.opened = true;
    // Answer pings, as a live client would: only the connect timeout closes it.
    if (text === '2') ws.send('3');
  });
  ws.on('error', () => {});
  ws.on('unexpected-response', (_req, res) => {
    session.status = res.statusCode;
    ws.terminate();
  });
  session.done = new Promise((resolve) => ws.on('close', () => resolve(Date.now())));
  session.open = new Promise((resolve) => {
    const tick = setInterval(() => {
      if (session.opened || session.status !== undefined || ws.readyState === WebSocket.CLOSED) {
        clearInterval(tick);
        resolve(session.opened);
      }
    }, 10);
  });
  t.after(() => ws.terminate());
  return session;
}

const SHORT = ['--header-timeout-secs', '1', '--body-timeout-secs', '1'];

test('a connection that sends half a request line and then nothing is closed within the header timeout', async (t) => {
  const { url } = await serverFor(t, SHORT);
  const conn = rawSocket(url, t);
  await conn.ready;
  conn.socket.write('GET /heal');
  await closedWithin(conn, 4000, 'half a request line');
});

test('a connection that sends nothing is closed within the header timeout', async (t) => {
  const { url } = await serverFor(t, SHORT);
  const conn = rawSocket(url, t);
  await conn.ready;
  await closedWithin(conn, 4000, 'a silent connection');
});

test('an idle keep-alive connection is closed after the header timeout', async (t) => {
  const { url } = await serverFor(t, SHORT);
  const conn = rawSocket(url, t);
  await conn.ready;
  conn.socket.write('GET /healthz HTTP/1.1\r\nHost: banter\r\n\r\n');
  const head = await responseHead(conn);
  assert.match(head, /^HTTP\/1\.1 200/);
  assert.equal(conn.closed, false, 'kept alive after the answer');
  await closedWithin(conn, 4000, 'an idle keep-alive connection');
});

test('a body trickled a byte a second is cut off with 408 request_timeout', async (t) => {
  const { url } = await serverFor(t, SHORT);
  const conn = rawSocket(url, t);
  await conn.ready;
  const body = JSON.stringify({ name: 'trickle' }).padEnd(40, ' ');
  conn.socket.write(
    `POST /api/auth/guest HTTP/1.1\r\nHost: banter\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  const trickle = (async () => {
    for (const ch of body) {
      if (conn.closed) return;
      conn.socket.write(ch);
      await sleep(1000);
    }
  })();
  await closedWithin(conn, 5000, 'a trickled body');
  assert.match(conn.received, /^HTTP\/1\.1 408/, `answer: ${conn.received.slice(0, 200)}`);
  assert.match(conn.received, /"code":"request_timeout"/);
  await trickle;
});

test('a Socket.IO client over WebSocket stays connected past every timeout', async (t) => {
  const { url } = await serverFor(t, [...SHORT, '--connect-timeout-secs', '1']);
  const { socket } = await guestSocket(url, t, 'ws');
  let dropped = false;
  socket.on('disconnect', () => {
    dropped = true;
  });
  await sleep(3500);
  assert.equal(dropped, false, 'the socket was disconnected');
  assert.equal(socket.connected, true);
  await ok(socket, 'join', { room: 'general' });
});

/** A connection past a cap: answered 503 too_many_connections and closed. */
async function assertRefused(conn) {
  await conn.ready;
  conn.socket.write('GET /healthz HTTP/1.1\r\nHost: banter\r\n\r\n');
  await closedWithin(conn, 3000, 'the refused connection');
  assert.match(conn.received, /^HTTP\/1\.1 503/, `answer: ${conn.received.slice(0, 200)}`);
  const json = JSON.parse(conn.received.slice(conn.received.indexOf('\r\n\r\n') + 4));
  assert.equal(json.error.code, 'too_many_connections');
}

/** Admitted: a request on it is answered 200. */
async function assertAdmitted(conn) {
  await conn.ready;
  conn.socket.write('GET /healthz HTTP/1.1\r\nHost: banter\r\n\r\n');
  assert.match(await responseHead(conn), /^HTTP\/1\.1 200/);
}

test('past the per-address TCP cap a connection gets 503 too_many_connections, and one is admitted once another closes', async (t) => {
  const { url } = await serverFor(t, ['--max-tcp-connections-per-ip', '3', '--header-timeout-secs', '30']);
  // Wait out any connection the harness left open (none is expected).
  await sleep(200);
  const held = [];
  for (let i = 0; i < 3; i++) {
    const conn = rawSocket(url, t);
    await conn.ready;
    held.push(conn);
  }
  await sleep(200);
  for (const conn of held) assert.equal(conn.closed, false, 'an admitted connection is kept');

  await assertRefused(rawSocket(url, t));

  held[0].socket.destroy();
  await held[0].closedAt;
  await sleep(200);
  await assertAdmitted(rawSocket(url, t));
});

test('past the total TCP cap a connection from a new address gets 503 too_many_connections', async (t) => {
  const { url } = await serverFor(t, [
    '--max-tcp-connections', '4',
    '--max-tcp-connections-per-ip', '3',
    '--header-timeout-secs', '30',
  ]);
  await sleep(200);
  // Two peers, two connections each: under the per-address cap, at the total.
  const held = [];
  for (const from of ['127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.2']) {
    const conn = rawSocket(url, t, from);
    await conn.ready;
    held.push(conn);
  }
  await sleep(200);
  for (const conn of held) assert.equal(conn.closed, false, 'an admitted connection is kept');

  await assertRefused(rawSocket(url, t, '127.0.0.3'));

  held[2].socket.destroy();
  await held[2].closedAt;
  await sleep(200);
  await assertAdmitted(rawSocket(url, t, '127.0.0.3'));
});

test('an Engine.IO session that never joins the namespace is closed within the connect timeout', async (t) => {
  const { url } = await serverFor(t, ['--connect-timeout-secs', '1']);
  const session = rawEngineSession(url, t);
  assert.equal(await session.open, true, 'the Engine.IO handshake is answered');
  const started = Date.now();
  const closedAt = await Promise.race([session.done, sleep(4000).then(() => null)]);
  assert.notEqual(closedAt, null, 'still open 4 s after the handshake');
  assert.ok(closedAt - started < 4000);
});

test('Engine.IO sessions that never join count against --max-connections-per-ip from their handshake', async (t) => {
  const { url } = await serverFor(t, ['--max-connections-per-ip', '3', '--connect-timeout-secs', '30']);
  for (let i = 0; i < 3; i++) {
    assert.equal(await rawEngineSession(url, t).open, true, `session ${i} opens`);
  }
  const err = await connectError(url, 'no-token-needed');
  assert.equal(err.message, 'too many connections');
  // A flood past the cap is refused at the handshake itself, with no session.
  const flood = [];
  for (let i = 0; i < 6; i++) flood.push(rawEngineSession(url, t));
  await Promise.all(flood.map((s) => s.open));
  assert.ok(
    flood.some((s) => s.status === 429),
    `statuses: ${flood.map((s) => s.status ?? (s.opened ? 'open' : 'closed')).join(',')}`,
  );
});

test('Engine.IO sessions that never join count against the handshake rate', async (t) => {
  const { url } = await serverFor(t, ['--handshake-rate', '3:60', '--connect-timeout-secs', '30']);
  for (let i = 0; i < 3; i++) {
    assert.equal(await rawEngineSession(url, t).open, true, `session ${i} opens`);
  }
  const err = await connectError(url, 'no-token-needed');
  assert.equal(err.message, 'rate limited');
});
