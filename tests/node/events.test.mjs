// Socket.IO client -> server events and their acks (docs/protocol.md, "Socket.IO").

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  api,
  assertMessage,
  assertStrictlyIncreasing,
  assertUser,
  closeAllSockets,
  collect,
  connect,
  emitAck,
  guestSocket,
  ids,
  ok,
  refused,
  rname,
  sendAll,
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

function sameMembers(actual, expected) {
  const key = (u) => u.id;
  assert.deepEqual([...actual].sort((x, y) => key(x) - key(y)), [...expected].sort((x, y) => key(x) - key(y)));
}

describe('join', () => {
  test('join answers {ok, room, members, member_count, messages, last_read, unread, mentions} and creates a new public room with an empty topic', async (t) => {
    const a = await guestSocket(url, t);
    const room = rname('new');
    const ack = await emitAck(a.socket, 'join', { room });
    assert.deepEqual(Object.keys(ack).sort(), ['last_read', 'member_count', 'members', 'mentions', 'messages', 'ok', 'room', 'unread']);
    assert.equal(ack.member_count, 1);
    assert.equal(ack.ok, true);
    assert.deepEqual(ack.room, { name: room, topic: '', kind: 'public' });
    assert.deepEqual(ack.members, [a.user], 'members include you');
    ack.members.forEach((u) => assertUser(u));
    assert.deepEqual(ack.messages, []);
    // the room now exists: history and HTTP find it
    assert.deepEqual((await ok(a.socket, 'history', { room })).messages, []);
    const rooms = (await api(url, `/api/rooms?q=${room}`)).body.rooms;
    assert.ok(rooms.some((r) => r.name === room && r.topic === '' && r.members === 1), JSON.stringify(rooms));
  });

  test('join general works: general always exists', async (t) => {
    const a = await guestSocket(url, t);
    const ack = await ok(a.socket, 'join', { room: 'general' });
    assert.equal(ack.room.name, 'general');
    assert.equal(typeof ack.room.topic, 'string');
    assert.ok(ack.members.some((u) => u.id === a.user.id));
    assert.ok(Array.isArray(ack.messages));
  });

  test('join lists every online member, including you', async (t) => {
    const room = rname('members');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    const c = await guestSocket(url, t, 'c');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const ack = await ok(c.socket, 'join', { room });
    sameMembers(ack.members, [a.user, b.user, c.user]);
  });

  test('join answers the latest 50 messages, oldest first', async (t) => {
    const room = rname('sixty');
    const a = await guestSocket(url, t, 'a');
    await ok(a.socket, 'join', { room });
    const sent = await sendAll(a.socket, room, Array.from({ length: 60 }, (_, i) => `n${i}`));
    assertStrictlyIncreasing(ids(sent));
    const b = await guestSocket(url, t, 'b');
    const ack = await ok(b.socket, 'join', { room });
    assert.equal(ack.messages.length, 50);
    assert.deepEqual(ids(ack.messages), ids(sent).slice(10));
    assert.deepEqual(
      ack.messages.map((m) => m.text),
      sent.slice(10).map((m) => m.text),
    );
    ack.messages.forEach((m) => assertMessage(m, { room, author: a.user }));
  });

  test('joining a room twice answers the same way and sends no presence event', async (t) => {
    const room = rname('twice');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(b.socket, 'join', { room });
    const firstJoined = waitFor(b.socket, 'joined', (e) => e.room === room);
    const first = await ok(a.socket, 'join', { room });
    await firstJoined;
    const joined = collect(b.socket, 'joined');
    const leftEv = collect(b.socket, 'left');
    const second = await ok(a.socket, 'join', { room });
    assert.deepEqual(Object.keys(second).sort(), Object.keys(first).sort());
    assert.deepEqual(second.room, first.room);
    assert.deepEqual(second.messages, first.messages);
    sameMembers(second.members, [a.user, b.user]);
    sameMembers(first.members, [a.user, b.user]);
    // sentinel: a message sent after the second join reaches B; then a short quiet wait
    const seen = waitFor(b.socket, 'message', (m) => m.text === 'after rejoin');
    await ok(a.socket, 'send', { room, text: 'after rejoin' });
    await seen;
    await sleep(300);
    assert.deepEqual(joined.items, [], 'no joined for a repeated join');
    assert.deepEqual(leftEv.items, []);
  });
});

describe('leave', () => {
  test('leave answers {ok: true} and the connection is then no longer in the room', async (t) => {
    const room = rname('leave');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const ack = await emitAck(a.socket, 'leave', { room });
    assert.deepEqual(ack, { ok: true });
    await refused(a.socket, 'send', { room, text: 'gone' }, 'not_in_room');
    await refused(a.socket, 'leave', { room }, 'not_in_room');
  });

  test('leave of a room you are not in answers not_in_room', async (t) => {
    const a = await guestSocket(url, t);
    await refused(a.socket, 'leave', { room: 'general' }, 'not_in_room');
    await refused(a.socket, 'leave', { room: rname('never') }, 'not_in_room');
  });

  test('after leaving, the connection receives no more messages of that room', async (t) => {
    const room = rname('quiet');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    await ok(b.socket, 'leave', { room });
    const got = collect(b.socket, 'message');
    // sentinel through another room B is still in
    const other = rname('other');
    await ok(a.socket, 'join', { room: other });
    await ok(b.socket, 'join', { room: other });
    await ok(a.socket, 'send', { room, text: 'not for b' });
    const seen = waitFor(b.socket, 'message', (m) => m.text === 'sentinel');
    await ok(a.socket, 'send', { room: other, text: 'sentinel' });
    await seen;
    await sleep(300);
    assert.deepEqual(
      got.items.map((m) => m.text),
      ['sentinel'],
    );
  });
});

describe('send', () => {
  test('send answers {ok, message, duplicate: false} with the stored message', async (t) => {
    const room = rname('send');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const before = Date.now();
    const ack = await emitAck(a.socket, 'send', { room, text: 'hello' });
    assert.deepEqual(Object.keys(ack).sort(), ['duplicate', 'message', 'ok']);
    assert.equal(ack.ok, true);
    assert.equal(ack.duplicate, false);
    assertMessage(ack.message, { room, text: 'hello', author: a.user });
    assert.ok(ack.message.ts >= before - 5000 && ack.message.ts <= Date.now() + 5000, 'ts is now, in ms');
    assert.equal('client_id' in ack.message, false, 'no client_id unless given');
  });

  test('send with a client_id echoes it in the message', async (t) => {
    const room = rname('cid');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const client_id = `c-1.x:${Date.now()}_Z`;
    const ack = await ok(a.socket, 'send', { room, text: 'with id', client_id });
    assert.equal(ack.duplicate, false);
    assertMessage(ack.message, { room, text: 'with id', client_id, author: a.user });
    const hist = await ok(a.socket, 'history', { room });
    assert.deepEqual(hist.messages, [ack.message]);
  });

  test('a message is broadcast to every member, the sender included, exactly once', async (t) => {
    const room = rname('bcast');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    const c = await guestSocket(url, t, 'c');
    for (const x of [a, b, c]) await ok(x.socket, 'join', { room });
    const got = [a, b, c].map((x) => collect(x.socket, 'message'));
    const ack = await ok(a.socket, 'send', { room, text: 'to everyone' });
    await Promise.all(got.map((g) => g.waitForCount(1)));
    // sentinel: a second message; then a quiet wait for stray duplicates
    const ack2 = await ok(b.socket, 'send', { room, text: 'sentinel' });
    await Promise.all(got.map((g) => g.waitForCount(2)));
    await sleep(300);
    for (const g of got) {
      assert.deepEqual(g.items, [ack.message, ack2.message]);
    }
  });

  test('send to a room the connection has not joined answers not_in_room and stores nothing', async (t) => {
    const room = rname('notin');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    const got = collect(a.socket, 'message');
    await refused(b.socket, 'send', { room, text: 'intruder' }, 'not_in_room');
    await refused(b.socket, 'send', { room: 'general', text: 'intruder' }, 'not_in_room');
    await refused(b.socket, 'send', { room: rname('nowhere'), text: 'intruder' }, 'not_in_room');
    assert.deepEqual((await ok(b.socket, 'history', { room })).messages, []);
    await sleep(200);
    assert.deepEqual(got.items, []);
  });

  test('joining is per connection: the same user on another socket must join too', async (t) => {
    const room = rname('perconn');
    const a = await guestSocket(url, t);
    const a2 = await connect(url, a.token, {}, t);
    await ok(a.socket, 'join', { room });
    await refused(a2, 'send', { room, text: 'x' }, 'not_in_room');
    await refused(a2, 'typing', { room, active: true }, 'not_in_room');
    // The membership is the user's: leaving from either connection ends it.
    await ok(a2, 'leave', { room });
    await refused(a.socket, 'send', { room, text: 'x' }, 'not_in_room');
  });

  test('send trims surrounding white space and stores \\r\\n as \\n', async (t) => {
    const room = rname('trim');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const cases = [
      ['  hi  ', 'hi'],
      ['\n\t  padded\t \n', 'padded'],
      ['line1\r\nline2', 'line1\nline2'],
      ['a\tb\nc', 'a\tb\nc'],
      ['  inner   spaces  kept ', 'inner   spaces  kept'],
    ];
    for (const [text, stored] of cases) {
      const ack = await ok(a.socket, 'send', { room, text });
      assert.equal(ack.message.text, stored, JSON.stringify(text));
    }
    const hist = await ok(a.socket, 'history', { room });
    assert.deepEqual(
      hist.messages.map((m) => m.text),
      cases.map(([, s]) => s),
    );
  });

  test('HTML and SQL metacharacters are stored and returned verbatim', async (t) => {
    const room = rname('verbatim');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const texts = [
      '<img src=x onerror=alert(1)>',
      "'; DROP TABLE messages; --",
      '" OR 1=1; --',
      '<script>alert("x")</script> &amp; &lt;',
      'Robert\'); DELETE FROM users WHERE (\'1\'=\'1',
      '%s %n {{7*7}} ${7*7} \\u0000',
      'ünïcødé 😀 中文 עברית',
    ];
    const got = collect(b.socket, 'message');
    const sent = [];
    for (const text of texts) sent.push((await ok(a.socket, 'send', { room, text })).message);
    assert.deepEqual(
      sent.map((m) => m.text),
      texts,
    );
    await got.waitForCount(texts.length);
    assert.deepEqual(
      got.items.map((m) => m.text),
      texts,
    );
    assert.deepEqual(
      (await ok(b.socket, 'history', { room })).messages.map((m) => m.text),
      texts,
    );
    const http = await api(url, `/api/rooms/${room}/messages`, { token: b.token });
    assert.deepEqual(
      http.body.messages.map((m) => m.text),
      texts,
    );
    // the store survived the attempts
    assert.equal((await ok(a.socket, 'send', { room, text: 'still works' })).message.text, 'still works');
  });
});

describe('typing', () => {
  test('typing reaches other members with {room, user, active} but not the typist’s own connections', async (t) => {
    const room = rname('typing');
    const a = await guestSocket(url, t, 'a');
    const a2 = await connect(url, a.token, {}, t);
    const b = await guestSocket(url, t, 'b');
    for (const s of [a.socket, a2, b.socket]) await ok(s, 'join', { room });
    const ownA = collect(a.socket, 'typing');
    const ownA2 = collect(a2, 'typing');
    const atB = collect(b.socket, 'typing');

    const ack = await emitAck(a.socket, 'typing', { room, active: true });
    assert.deepEqual(ack, { ok: true });
    await atB.waitForCount(1);
    assert.deepEqual(atB.items[0], { room, user: a.user, active: true });

    await ok(a.socket, 'typing', { room, active: false });
    await atB.waitForCount(2);
    assert.deepEqual(atB.items[1], { room, user: a.user, active: false });

    // sentinel: a message after the typing events reaches A's second connection
    const seen = waitFor(a2, 'message', (m) => m.text === 'sentinel');
    await ok(a.socket, 'send', { room, text: 'sentinel' });
    await seen;
    await sleep(300);
    assert.deepEqual(ownA.items, [], 'the typist does not get its own typing');
    assert.deepEqual(ownA2.items, [], 'nor does the typist’s second connection');
    assert.equal(atB.items.length, 2);
  });

  test('typing works without an ack', async (t) => {
    const room = rname('typenoack');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const got = waitFor(b.socket, 'typing', (e) => e.room === room);
    a.socket.emit('typing', { room, active: true });
    assert.deepEqual(await got, { room, user: a.user, active: true });
  });

  test('typing in a room you are not in answers not_in_room and is not relayed', async (t) => {
    const room = rname('typenot');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(b.socket, 'join', { room });
    const atB = collect(b.socket, 'typing');
    await refused(a.socket, 'typing', { room, active: true }, 'not_in_room');
    await sleep(300);
    assert.deepEqual(atB.items, []);
  });
});

describe('history', () => {
  test('history answers the latest, before and after pages oldest first', async (t) => {
    const room = rname('hist');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const sent = await sendAll(a.socket, room, Array.from({ length: 12 }, (_, i) => `h${i}`));
    const all = ids(sent);
    const page = async (p) => {
      const ack = await emitAck(a.socket, 'history', { room, ...p });
      assert.deepEqual(Object.keys(ack).sort(), ['messages', 'ok'], JSON.stringify(ack).slice(0, 200));
      assert.equal(ack.ok, true);
      return ack.messages;
    };
    const latest = await page({});
    assert.deepEqual(latest, sent);
    assert.deepEqual(ids(await page({ limit: 5 })), all.slice(7));
    assert.deepEqual(ids(await page({ before: all[5], limit: 3 })), all.slice(2, 5));
    assert.deepEqual(ids(await page({ before: all[5] })), all.slice(0, 5));
    assert.deepEqual(ids(await page({ after: all[5], limit: 3 })), all.slice(6, 9));
    assert.deepEqual(ids(await page({ after: all[5] })), all.slice(6));
    assert.deepEqual(ids(await page({ after: all[11] })), []);
    assert.deepEqual(ids(await page({ before: all[0] })), []);
    assert.deepEqual(ids(await page({ limit: 1 })), [all[11]]);
    assert.deepEqual(ids(await page({ limit: 100 })), all);
    // catching up after a reconnect: repeat after= until fewer than limit come back
    const caught = [];
    let cursor = all[0];
    for (;;) {
      const p = await page({ after: cursor, limit: 4 });
      caught.push(...p);
      if (p.length < 4) break;
      cursor = p.at(-1).id;
    }
    assert.deepEqual(ids(caught), all.slice(1));
  });

  test('history does not require joining the room', async (t) => {
    const room = rname('histpub');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    const sent = await sendAll(a.socket, room, ['one', 'two']);
    assert.deepEqual((await ok(b.socket, 'history', { room })).messages, sent);
  });

  test('history defaults to the latest 50 and allows up to 100', async (t) => {
    const room = rname('histlim');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const sent = await sendAll(a.socket, room, Array.from({ length: 105 }, (_, i) => `l${i}`));
    const all = ids(sent);
    assert.deepEqual(ids((await ok(a.socket, 'history', { room })).messages), all.slice(55));
    assert.deepEqual(ids((await ok(a.socket, 'history', { room, limit: 100 })).messages), all.slice(5));
    assert.deepEqual(ids((await ok(a.socket, 'history', { room, after: all[0], limit: 100 })).messages), all.slice(1, 101));
  });

  test('history refuses a limit outside 1..100 with invalid_limit', async (t) => {
    const a = await guestSocket(url, t);
    for (const limit of [0, 101, -1, 1000]) {
      await refused(a.socket, 'history', { room: 'general', limit }, 'invalid_limit');
    }
    await ok(a.socket, 'history', { room: 'general', limit: 1 });
    await ok(a.socket, 'history', { room: 'general', limit: 100 });
  });

  test('history refuses a limit that is not an integer ("x", 2.5) with invalid_limit', async (t) => {
    const a = await guestSocket(url, t);
    await refused(a.socket, 'history', { room: 'general', limit: 'x' }, 'invalid_limit');
    await refused(a.socket, 'history', { room: 'general', limit: 2.5 }, 'invalid_limit');
  });

  test('history refuses both before and after, a before that is not positive or a negative after, with invalid_cursor', async (t) => {
    const a = await guestSocket(url, t);
    const bad = [{ before: 5, after: 1 }, { before: -1 }, { after: -3 }, { before: 0 }, { before: 0, after: 0 }];
    for (const p of bad) {
      await refused(a.socket, 'history', { room: 'general', ...p }, 'invalid_cursor');
    }
    await ok(a.socket, 'history', { room: 'general', before: 1 });
    await ok(a.socket, 'history', { room: 'general', after: 1 });
  });

  test('history after: 0 is the room from its beginning, as the Socket.IO tutorial catches up', async (t) => {
    const room = rname('from0');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const sent = await sendAll(a.socket, room, ['one', 'two', 'three', 'four']);
    const first = (await ok(a.socket, 'history', { room, after: 0, limit: 2 })).messages;
    assert.deepEqual(ids(first), ids(sent.slice(0, 2)));
    const rest = (await ok(a.socket, 'history', { room, after: first[1].id })).messages;
    assert.deepEqual(ids(rest), ids(sent.slice(2)));
  });

  test('history refuses a cursor that is not an integer (1.5) with invalid_cursor', async (t) => {
    const a = await guestSocket(url, t);
    await refused(a.socket, 'history', { room: 'general', before: 1.5 }, 'invalid_cursor');
    await refused(a.socket, 'history', { room: 'general', after: 0.5 }, 'invalid_cursor');
  });

  test('history treats a null limit, before or after as absent', async (t) => {
    const room = rname('histnull');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const sent = await sendAll(a.socket, room, Array.from({ length: 55 }, (_, i) => `z${i}`));
    const latest50 = ids(sent).slice(5);
    assert.deepEqual(ids((await ok(a.socket, 'history', { room, limit: null })).messages), latest50);
    assert.deepEqual(ids((await ok(a.socket, 'history', { room, before: null })).messages), latest50);
    assert.deepEqual(ids((await ok(a.socket, 'history', { room, after: null, before: null, limit: null })).messages), latest50);
    assert.deepEqual(
      ids((await ok(a.socket, 'history', { room, before: null, after: sent[50].id })).messages),
      ids(sent).slice(51),
      'a null before beside a real after is not "both"',
    );
  });

  test('history of a room that does not exist answers room_not_found', async (t) => {
    const a = await guestSocket(url, t);
    await refused(a.socket, 'history', { room: rname('ghost') }, 'room_not_found');
    // and did not create it
    const rooms = (await api(url, '/api/rooms?q=ghost-')).body.rooms;
    assert.ok(!rooms.some((r) => r.name.startsWith('ghost-')), 'history does not create rooms');
  });

  test('history of an invalid room name answers invalid_room', async (t) => {
    const a = await guestSocket(url, t);
    await refused(a.socket, 'history', { room: 'General' }, 'invalid_room');
    await refused(a.socket, 'history', { room: '' }, 'invalid_room');
  });
});

describe('unknown events', () => {
  test('an unknown event with an ack answers unknown_event', async (t) => {
    const a = await guestSocket(url, t);
    await refused(a.socket, 'shout', { room: 'general', text: 'x' }, 'unknown_event');
    await refused(a.socket, 'JOIN', { room: 'general' }, 'unknown_event');
    await refused(a.socket, 'message', 'anything', 'unknown_event');
    // still works
    await ok(a.socket, 'join', { room: 'general' });
  });

  test('an unknown event without an ack is ignored and the connection keeps working', async (t) => {
    const a = await guestSocket(url, t);
    a.socket.emit('shout', { x: 1 });
    a.socket.emit('whatever');
    await ok(a.socket, 'join', { room: 'general' });
    assert.ok(a.socket.connected);
  });
});
