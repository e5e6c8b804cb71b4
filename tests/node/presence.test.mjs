// Presence that costs the same per join in a big room as in a small one
// (docs/protocol.md, "Presence"): the join ack carries the first page of
// members and the count, `members` pages through the rest, and in a room of
// more than 20 members arrivals and departures come gathered in one
// `presence` event a second instead of one `joined`/`left` each.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  closeAllSockets,
  collect,
  emitAck,
  guestSocket,
  ok,
  refused,
  rname,
  sleep,
  waitFor,
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

const PAGE = 100;
const LIVE_MAX = 20;
const byName = (a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase());

/** `n` guests with sockets in `room`, joined in parallel batches. */
async function crowd(t, room, n, prefix) {
  const people = [];
  for (let i = 0; i < n; i += 25) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(25, n - i) }, () => guestSocket(url, t, prefix)),
    );
    await Promise.all(batch.map((p) => ok(p.socket, 'join', { room })));
    people.push(...batch);
  }
  return people;
}

describe('member pages', () => {
  test('the join ack of a big room carries the first 100 members by name and the exact count', async (t) => {
    const room = rname('big');
    const people = await crowd(t, room, 120, 'pg');
    const last = await guestSocket(url, t, 'pg');
    const ack = await ok(last.socket, 'join', { room });
    assert.equal(ack.member_count, 121);
    assert.equal(ack.members.length, PAGE);
    const everyone = [...people.map((p) => p.user), last.user].sort(byName);
    assert.deepEqual(ack.members, everyone.slice(0, PAGE));
  });

  test('members pages through a room in name order after a name, with the count', async (t) => {
    const room = rname('pages');
    const people = await crowd(t, room, 30, 'mp');
    const everyone = people.map((p) => p.user).sort(byName);
    const me = people[0].socket;
    const first = await ok(me, 'members', { room, limit: 10 });
    assert.deepEqual(Object.keys(first).sort(), ['member_count', 'members', 'ok']);
    assert.equal(first.member_count, 30);
    assert.deepEqual(first.members, everyone.slice(0, 10));
    const next = await ok(me, 'members', { room, after: first.members.at(-1).name, limit: 10 });
    assert.deepEqual(next.members, everyone.slice(10, 20));
    const rest = await ok(me, 'members', { room, after: next.members.at(-1).name });
    assert.deepEqual(rest.members, everyone.slice(20));
    const none = await ok(me, 'members', { room, after: everyone.at(-1).name });
    assert.deepEqual(none.members, []);
  });

  test('members is refused outside the room and with a bad cursor or limit', async (t) => {
    const room = rname('members-bad');
    const a = await guestSocket(url, t);
    await refused(a.socket, 'members', { room }, 'not_in_room');
    await ok(a.socket, 'join', { room });
    await refused(a.socket, 'members', { room, limit: 0 }, 'invalid_limit');
    await refused(a.socket, 'members', { room, limit: 101 }, 'invalid_limit');
    await refused(a.socket, 'members', { room, limit: 'ten' }, 'invalid_limit');
    await refused(a.socket, 'members', { room, after: 7 }, 'invalid_cursor');
    await refused(a.socket, 'members', { room, after: 'not a name' }, 'invalid_cursor');
    await refused(a.socket, 'members', { room: 'Bad Room' }, 'invalid_room');
    await refused(a.socket, 'members', 'general', 'invalid_payload');
    // the connection still works
    assert.equal((await ok(a.socket, 'members', { room })).member_count, 1);
  });
});

describe('presence in a big room', () => {
  test('past 20 members, joins and leaves arrive gathered in one presence event, not one event each', async (t) => {
    const room = rname('crowd');
    const people = await crowd(t, room, LIVE_MAX, 'pc');
    const watcher = people[0].socket;
    const joined = collect(watcher, 'joined', (e) => e.room === room);
    const left = collect(watcher, 'left', (e) => e.room === room);
    const presence = collect(watcher, 'presence', (e) => e.room === room);
    const newcomers = await crowd(t, room, 5, 'pn');
    const first = await waitFor(watcher, 'presence', (e) => e.room === room, 3000);
    // One event (or two, if the joins straddled a flush) lists everyone who came.
    await sleep(1200);
    const came = presence.items.flatMap((e) => e.joined.map((u) => u.id));
    assert.deepEqual([...came].sort(), newcomers.map((p) => p.user.id).sort());
    assert.ok(presence.items.length <= 2, `${presence.items.length} presence events for 5 joins`);
    assert.deepEqual(Object.keys(first).sort(), ['joined', 'left', 'member_count', 'room']);
    assert.equal(presence.items.at(-1).member_count, LIVE_MAX + 5);
    // (The crowd's own last joins may still be on their way to the
    // watcher: only the newcomers' count here.)
    const newIds = new Set(newcomers.map((p) => p.user.id));
    const joinedNew = joined.items.filter((e) => newIds.has(e.user.id));
    assert.equal(joinedNew.length, 0, 'no joined events past the threshold');

    // One who leaves is announced the same way.
    const before = presence.items.length;
    newcomers[0].socket.disconnect();
    const gone = await waitFor(watcher, 'presence', (e) => e.room === room && e.left.length > 0, 3000);
    assert.deepEqual(gone.left, [newcomers[0].user]);
    assert.equal(gone.member_count, LIVE_MAX + 4);
    assert.ok(presence.items.length > before);
    assert.equal(left.items.length, 0, 'no left events past the threshold');
  });

  test('up to 20 members, joined and left go out at once as before', async (t) => {
    const room = rname('small');
    const [a] = await crowd(t, room, 1, 'ps');
    const b = await guestSocket(url, t, 'ps');
    const seen = waitFor(a.socket, 'joined', (e) => e.room === room && e.user.id === b.user.id, 2000);
    await emitAck(b.socket, 'join', { room });
    await seen;
  });
});
