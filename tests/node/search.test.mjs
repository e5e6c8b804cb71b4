// Search (issue #11): `GET /api/search` and `history {around}`
// (docs/protocol.md, Search). Each test searches for words of its own (a
// random tag), so tests sharing the server never see each other's
// messages. Run on SQLite and, with BANTER_TEST_DATABASE=postgres, on
// PostgreSQL.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import {
  api,
  assertError,
  closeAllSockets,
  guestSocket,
  ok,
  refused,
  rname,
  sendAll,
} from './helpers.mjs';
import { startServer } from './server.mjs';

let server;
let url;

before(async () => {
  server = await startServer({ args: ['--search-rate', '100000:100000'] });
  url = server.url;
});

after(async () => {
  closeAllSockets();
  await server?.dispose();
});

/** A word no other test uses: letters only, so it is one word to both indexes. */
function tag() {
  return `w${[...randomBytes(6)].map((b) => String.fromCharCode(97 + (b % 26))).join('')}`;
}

/** GET /api/search as `who`; the raw response. */
function searchRaw(who, params) {
  return api(url, `/api/search?${new URLSearchParams(params)}`, { token: who.token });
}

/** The texts found, newest first; asserts a 200 and the result shape. */
async function texts(who, params) {
  const res = await searchRaw(who, params);
  assert.equal(res.status, 200, res.text);
  assert.ok(Array.isArray(res.body.results), res.text);
  for (const { message, highlight } of res.body.results) {
    assert.equal(typeof message.id, 'number');
    assert.ok(Array.isArray(highlight));
    for (const [start, end] of highlight) {
      assert.ok(Number.isInteger(start) && Number.isInteger(end) && start < end && end <= message.text.length,
        `${JSON.stringify(highlight)} in ${JSON.stringify(message.text)}`);
    }
  }
  return res.body.results.map((r) => r.message.text);
}

describe('search', () => {
  test('a phrase in a public room is found, newest first, with its words highlighted', async (t) => {
    const a = await guestSocket(url, t, 'alice');
    const b = await guestSocket(url, t, 'bob');
    const w = tag();
    await ok(a.socket, 'join', { room: 'general' });
    await sendAll(a.socket, 'general', [`the quick ${w} fox`, `${w} quick brown`, 'unrelated']);
    // Bob never joined general: public rooms are searched for everyone.
    assert.deepEqual(await texts(b, { q: w }), [`${w} quick brown`, `the quick ${w} fox`]);
    assert.deepEqual(await texts(b, { q: `"quick ${w}"` }), [`the quick ${w} fox`]);
    assert.deepEqual(await texts(b, { q: `"${w} quick" brown` }), [`${w} quick brown`]);
    const res = await searchRaw(b, { q: `"quick ${w}"` });
    const [hit] = res.body.results;
    assert.equal(hit.message.room, 'general');
    assert.equal(hit.message.author.name, a.user.name);
    const [[start, end]] = hit.highlight;
    assert.equal(hit.message.text.slice(start, end), `quick ${w}`);
  });

  test('highlights are UTF-16 ranges: case, accents and emoji before the word', async (t) => {
    const a = await guestSocket(url, t);
    const w = tag();
    await ok(a.socket, 'join', { room: 'general' });
    const text = `😀 ${w.toUpperCase()} x ${w}`;
    await sendAll(a.socket, 'general', [text]);
    const res = await searchRaw(a, { q: w });
    const [hit] = res.body.results;
    assert.deepEqual(hit.highlight.map(([s, e]) => hit.message.text.slice(s, e)), [w.toUpperCase(), w]);
    assert.deepEqual(hit.highlight[0], [3, 3 + w.length]);
  });

  test('the caller\'s private room and direct conversation are searched; others\' never', async (t) => {
    const alice = await guestSocket(url, t, 'alice');
    const bob = await guestSocket(url, t, 'bob');
    const eve = await guestSocket(url, t, 'eve');
    const w = tag();
    const room = rname('priv');
    await ok(alice.socket, 'create', { room, kind: 'private' });
    await ok(alice.socket, 'invite', { room, user_id: bob.user.id });
    await ok(alice.socket, 'join', { room });
    await sendAll(alice.socket, room, [`private ${w}`]);
    const dm = (await ok(alice.socket, 'direct', { user_ids: [bob.user.id] })).room.name;
    await ok(alice.socket, 'join', { room: dm });
    await sendAll(alice.socket, dm, [`direct ${w}`]);
    assert.deepEqual(await texts(bob, { q: w }), [`direct ${w}`, `private ${w}`]);
    assert.deepEqual(await texts(alice, { q: w }), [`direct ${w}`, `private ${w}`]);
    assert.deepEqual(await texts(eve, { q: w }), []);
    assert.deepEqual(await texts(bob, { q: w, room: dm }), [`direct ${w}`]);
    // Naming a room one may not read is what a room that does not exist gets.
    assertError(await searchRaw(eve, { q: w, room }), 404, 'room_not_found');
    assertError(await searchRaw(eve, { q: w, room: dm }), 404, 'room_not_found');
    assertError(await searchRaw(eve, { q: w, room: rname('none') }), 404, 'room_not_found');
  });

  test('an edited message is found by its new words and not its old; a deleted one not at all', async (t) => {
    const a = await guestSocket(url, t);
    const old = tag();
    const fresh = tag();
    await ok(a.socket, 'join', { room: 'general' });
    const [m, gone] = await sendAll(a.socket, 'general', [`before ${old}`, `doomed ${old}`]);
    await ok(a.socket, 'edit', { id: m.id, text: `after ${fresh}` });
    assert.deepEqual(await texts(a, { q: fresh }), [`after ${fresh}`]);
    assert.deepEqual(await texts(a, { q: old }), [`doomed ${old}`]);
    await ok(a.socket, 'delete', { id: gone.id });
    assert.deepEqual(await texts(a, { q: old }), []);
    assert.deepEqual(await texts(a, { q: 'doomed' }).then((found) => found.filter((x) => x.includes(old))), []);
  });

  test('a prefix finds the words it begins', async (t) => {
    const a = await guestSocket(url, t);
    const w = tag();
    await ok(a.socket, 'join', { room: 'general' });
    await sendAll(a.socket, 'general', [`${w}ing now`, `a ${w}`, `x${w}`]);
    assert.deepEqual(await texts(a, { q: `${w}*` }), [`a ${w}`, `${w}ing now`]);
    assert.deepEqual(await texts(a, { q: `${w.slice(0, 5)}*` }).then((f) => f.filter((x) => x.includes(w))),
      [`a ${w}`, `${w}ing now`]);
    assert.deepEqual(await texts(a, { q: `"${w}ing no"*` }), [`${w}ing now`]);
  });

  test('pages go back with before, newest first, and limit is bounded', async (t) => {
    const a = await guestSocket(url, t);
    const w = tag();
    await ok(a.socket, 'join', { room: 'general' });
    const sent = await sendAll(a.socket, 'general', [1, 2, 3, 4, 5].map((i) => `${w} ${i}`));
    const first = (await searchRaw(a, { q: w, limit: '2' })).body.results.map((r) => r.message);
    assert.deepEqual(first.map((m) => m.id), [sent[4].id, sent[3].id]);
    const next = await texts(a, { q: w, limit: '2', before: String(first[1].id) });
    assert.deepEqual(next, [`${w} 3`, `${w} 2`]);
    assertError(await searchRaw(a, { q: w, limit: '0' }), 400, 'invalid_limit');
    assertError(await searchRaw(a, { q: w, limit: '51' }), 400, 'invalid_limit');
    assertError(await searchRaw(a, { q: w, limit: 'x' }), 400, 'invalid_limit');
    assertError(await searchRaw(a, { q: w, before: '0' }), 400, 'invalid_cursor');
    assertError(await searchRaw(a, { q: w, before: 'soon' }), 400, 'invalid_cursor');
  });

  test('hostile queries get results or a clear error, never a 500', async (t) => {
    const a = await guestSocket(url, t);
    const w = tag();
    await ok(a.socket, 'join', { room: 'general' });
    await sendAll(a.socket, 'general', [`${w} AND NOT OR NEAR text`, `${w}.example.com e-mail`]);
    const hostile = [
      `${w} AND`, `${w} OR x`, `NOT ${w}`, `NEAR(${w} text)`, `text:${w}`, `${w} & !x`, `'${w}'`,
      `(${w}`, `${w})`, `\\${w}`, `${w} | x`, `^${w}`, `-${w}`, `+${w}`, `${w}:*`, `"""${w}`,
      `*${w}`, `${w}**`, `${w}"`, `{${w}}`, `${w};DROP TABLE messages;--`, `${w}\u0000`,
      `${w} 😀`, `${w}.example.com`, `${w}-`, `${w}<->x`,
    ];
    for (const q of hostile) {
      const res = await searchRaw(a, { q });
      assert.ok(res.status === 200 || res.status === 400, `${q} -> ${res.status} ${res.text}`);
      if (res.status === 400) assert.equal(res.body.error.code, 'invalid_query', `${q} -> ${res.text}`);
    }
    assert.deepEqual(await texts(a, { q: `${w}.example.com` }), [`${w}.example.com e-mail`]);
    assert.deepEqual(await texts(a, { q: `${w} AND NOT` }), [`${w} AND NOT OR NEAR text`]);
    for (const q of ['', '   ', '"" * ::', '*', 'a*', 'x'.repeat(257), Array(17).fill('w').join(' ')]) {
      const res = await searchRaw(a, { q });
      assertError(res, 400, 'invalid_query');
      assert.match(res.body.error.message, /query|word|letters/, q);
    }
    assertError(await api(url, '/api/search', { token: a.token }), 400, 'invalid_query');
    // Within the bounds: a 256-character query and 16 words are searched.
    assert.equal((await searchRaw(a, { q: 'x'.repeat(256) })).status, 200);
    assert.equal((await searchRaw(a, { q: Array(16).fill(w).join(' ') })).status, 200);
    // A long query string beyond any bound is refused as a whole, not a 500.
    const huge = await searchRaw(a, { q: 'y'.repeat(20_000) });
    assert.ok(huge.status >= 400 && huge.status < 500, `${huge.status}`);
  });

  test('search needs a session', async () => {
    const res = await api(url, '/api/search?q=hello');
    assertError(res, 401, 'unauthorized');
  });
});

describe('search rate limit', () => {
  let limited;
  before(async () => {
    limited = await startServer({ args: ['--search-rate', '2:1'] });
  });
  after(async () => {
    await limited?.dispose();
  });

  test('searches past the rate are refused with rate_limited and a wait', async (t) => {
    const a = await guestSocket(limited.url, t);
    const get = () => api(limited.url, '/api/search?q=hello', { token: a.token });
    assert.equal((await get()).status, 200);
    assert.equal((await get()).status, 200);
    const res = await get();
    assert.equal(res.status, 429, res.text);
    assert.equal(res.body.error.code, 'rate_limited');
    assert.ok(res.body.error.retry_after_ms > 0, res.text);
  });
});

describe('history around', () => {
  /** A fresh public room with `n` messages; their ids. */
  async function roomWith(t, n) {
    const a = await guestSocket(url, t);
    const room = rname('around');
    await ok(a.socket, 'join', { room });
    const sent = await sendAll(a.socket, room, Array.from({ length: n }, (_, i) => `m${i}`));
    return { a, room, sent };
  }

  const textsOf = (ack) => ack.messages.map((m) => m.text);

  test('returns the message with some before and some after, oldest first', async (t) => {
    const { a, room, sent } = await roomWith(t, 20);
    const ack = await ok(a.socket, 'history', { room, around: sent[10].id, limit: 5 });
    assert.deepEqual(textsOf(ack), ['m8', 'm9', 'm10', 'm11', 'm12']);
    const even = await ok(a.socket, 'history', { room, around: sent[10].id, limit: 4 });
    assert.deepEqual(textsOf(even), ['m9', 'm10', 'm11', 'm12']);
    const fallback = await ok(a.socket, 'history', { room, around: sent[10].id });
    assert.equal(fallback.messages.length, 20);
    // The page goes on with before/after from its ends.
    const older = await ok(a.socket, 'history', { room, before: ack.messages[0].id, limit: 2 });
    assert.deepEqual(textsOf(older), ['m6', 'm7']);
  });

  test('at the edges: the first message, the last, and a deleted neighbour skipped', async (t) => {
    const { a, room, sent } = await roomWith(t, 6);
    assert.deepEqual(textsOf(await ok(a.socket, 'history', { room, around: sent[0].id, limit: 5 })),
      ['m0', 'm1', 'm2']);
    assert.deepEqual(textsOf(await ok(a.socket, 'history', { room, around: sent[5].id, limit: 5 })),
      ['m3', 'm4', 'm5']);
    await ok(a.socket, 'delete', { id: sent[2].id });
    assert.deepEqual(textsOf(await ok(a.socket, 'history', { room, around: sent[3].id, limit: 5 })),
      ['m0', 'm1', 'm3', 'm4', 'm5']);
    await refused(a.socket, 'history', { room, around: sent[2].id }, 'message_not_found');
  });

  test('an id not in that room is message_not_found; a bad around or a mix of cursors is invalid_cursor', async (t) => {
    const { a, room, sent } = await roomWith(t, 2);
    const other = await roomWith(t, 1);
    await refused(a.socket, 'history', { room, around: other.sent[0].id }, 'message_not_found');
    await refused(a.socket, 'history', { room, around: 9_999_999_999 }, 'message_not_found');
    await refused(a.socket, 'history', { room, around: 0 }, 'invalid_cursor');
    await refused(a.socket, 'history', { room, around: -4 }, 'invalid_cursor');
    await refused(a.socket, 'history', { room, around: 'x' }, 'invalid_cursor');
    await refused(a.socket, 'history', { room, around: sent[0].id, before: sent[1].id }, 'invalid_cursor');
    await refused(a.socket, 'history', { room, around: sent[0].id, after: 0 }, 'invalid_cursor');
    await refused(a.socket, 'history', { room, around: sent[0].id, limit: 101 }, 'invalid_limit');
    await refused(a.socket, 'history', { room, around: sent[0].id, limit: 0 }, 'invalid_limit');
  });

  test('a private room\'s message is room_not_found to a non-member, as any history', async (t) => {
    const alice = await guestSocket(url, t, 'alice');
    const eve = await guestSocket(url, t, 'eve');
    const room = rname('priv');
    await ok(alice.socket, 'create', { room, kind: 'private' });
    await ok(alice.socket, 'join', { room });
    const [m] = await sendAll(alice.socket, room, ['hidden']);
    assert.deepEqual(textsOf(await ok(alice.socket, 'history', { room, around: m.id })), ['hidden']);
    await refused(eve.socket, 'history', { room, around: m.id }, 'room_not_found');
  });
});
