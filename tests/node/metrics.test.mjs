// /metrics on its own address (--metrics-bind): after a short chat every
// metric is there, and after more of it each one has moved.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { api, closeAllSockets, emitAck, guestSocket, ok, rname, waitFor } from './helpers.mjs';
import { startServer } from './server.mjs';

const METRICS_LINE = /Banter metrics on (http:\/\/\S+)\r?\n/;

/** Every sample of a scrape, keyed by its name and labels as printed. */
function parse(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    samples.set(m[1], Number(m[2]));
  }
  return samples;
}

async function scrape(metricsUrl) {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return parse(await res.text());
}

function value(samples, name) {
  assert.ok(samples.has(name), `${name} in the scrape; got ${[...samples.keys()].join(', ')}`);
  return samples.get(name);
}

const COUNTERS = [
  'banter_joins_total',
  'banter_messages_stored_total',
  'banter_deliveries_total',
  'banter_slow_receivers_disconnected_total',
  'banter_rate_limited_total{action="typing"}',
  'banter_store_commit_seconds_count',
  'banter_store_commit_seconds_sum',
  'banter_ack_seconds_count',
  'banter_ack_seconds_sum',
];
const HISTOGRAM_BUCKETS = ['banter_store_commit_seconds_bucket{le="+Inf"}', 'banter_ack_seconds_bucket{le="+Inf"}'];
const RATE_LIMITED = ['send', 'join', 'typing', 'auth', 'login', 'handshake'].map(
  (action) => `banter_rate_limited_total{action="${action}"}`,
);
const WS = 'banter_connections_open{transport="websocket"}';
const POLLING = 'banter_connections_open{transport="polling"}';

test('metrics are served on their own address, each present after a short chat and moving after more', async (t) => {
  const server = await startServer({
    args: ['--metrics-bind', '127.0.0.1:0', '--socket-buffer', '256', '--typing-rate', '1:1'],
  });
  t.after(async () => {
    closeAllSockets();
    await server.dispose();
  });
  const { url } = server;
  const found = METRICS_LINE.exec(server.stdoutTail());
  assert.ok(found, `the metrics address on stdout: ${server.stdoutTail()}`);
  const metricsUrl = found[1];
  assert.notEqual(new URL(metricsUrl).port, new URL(url).port);
  // Not on the public listener.
  assert.equal((await api(url, '/metrics')).status, 404);

  // A short chat: one WebSocket and one polling client in a room.
  const room = rname('metrics');
  const a = await guestSocket(url, t, 'ws');
  const b = await guestSocket(url, t, 'poll', { transports: ['polling'] });
  await ok(a.socket, 'join', { room });
  await ok(b.socket, 'join', { room });
  const seen = waitFor(b.socket, 'message', (m) => m.text === 'three');
  for (const text of ['one', 'two', 'three']) await ok(a.socket, 'send', { room, text });
  await seen;

  const first = await scrape(metricsUrl);
  for (const name of [...COUNTERS, ...HISTOGRAM_BUCKETS, ...RATE_LIMITED]) value(first, name);
  assert.equal(value(first, WS), 1);
  assert.equal(value(first, POLLING), 1);
  assert.ok(value(first, 'banter_joins_total') >= 2);
  assert.ok(value(first, 'banter_messages_stored_total') >= 3);
  // Three messages to two members.
  assert.ok(value(first, 'banter_deliveries_total') >= 6);
  assert.ok(value(first, 'banter_ack_seconds_count') >= 3);

  // More: a refused typing notice, a receiver that stops reading until it is
  // cut off, and the polling client gone.
  await ok(a.socket, 'typing', { room, active: true });
  const limited = await emitAck(a.socket, 'typing', { room, active: true });
  assert.equal(limited.error?.code, 'rate_limited', JSON.stringify(limited));

  const slow = await guestSocket(url, t, 'slow');
  await ok(slow.socket, 'join', { room });
  const cutOff = new Promise((resolve) => slow.socket.once('disconnect', resolve));
  slow.socket.io.engine.transport.ws._socket.pause();
  let disconnected = false;
  cutOff.then(() => {
    disconnected = true;
  });
  const text = 'x'.repeat(3900);
  for (let batch = 0; batch < 40 && !disconnected; batch++) {
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => emitAck(a.socket, 'send', { room, text: `${batch}.${i} ${text}` }, 20_000)),
    );
  }
  slow.socket.io.engine.transport.ws._socket.resume();
  await cutOff;

  b.socket.close();
  // The polling client's departure is seen by the server on its next
  // request or its close request; give it a moment.
  let second;
  for (let i = 0; i < 50; i++) {
    second = await scrape(metricsUrl);
    if (value(second, POLLING) === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  for (const name of COUNTERS) {
    assert.ok(value(second, name) > value(first, name), `${name} moved: ${value(first, name)} then ${value(second, name)}`);
  }
  for (const name of HISTOGRAM_BUCKETS) assert.ok(value(second, name) > value(first, name), `${name} moved`);
  assert.equal(value(second, POLLING), 0, 'the polling client is gone');
  assert.equal(value(second, WS), 1, 'the WebSocket sender is still there (the slow one was cut off)');
});
