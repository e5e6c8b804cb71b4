// Rooms people belong to (issue #10): lasting memberships, room kinds,
// private rooms and invitations, direct conversations, read state and
// notification levels (docs/protocol.md). Every privacy rule is checked
// from the outside: a non-member gets exactly what a room that does not
// exist gives, and hears nothing of the room.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { requireRedis, startCluster } from './cluster.mjs';
import {
  api,
  closeAllSockets,
  collect,
  connect,
  emitAck,
  guest,
  guestSocket,
  ok,
  refused,
  rname,
  sleep,
  uname,
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

/** Every event a socket receives, for "hears nothing" checks. */
function everything(socket) {
  const items = [];
  socket.onAny((event, payload) => items.push({ event, payload }));
  return items;
}

/** What a socket heard about `room`, from any event. */
function about(items, room) {
  return items.filter(({ payload }) => JSON.stringify(payload ?? null).includes(room));
}

async function myRooms(who) {
  const res = await api(url, '/api/me/rooms', { token: who.token });
  assert.equal(res.status, 200, res.text);
  return res.body;
}

/** Alice's private room with Bob invited, and Eve, who is not in it. */
async function privateRoom(t, prefix = 'priv') {
  const alice = await guestSocket(url, t, 'alice');
  const bob = await guestSocket(url, t, 'bob');
  const eve = await guestSocket(url, t, 'eve');
  const room = rname(prefix);
  const made = await ok(alice.socket, 'create', { room, kind: 'private', topic: 'plans' });
  assert.deepEqual(made.room, { name: room, topic: 'plans', kind: 'private' });
  return { alice, bob, eve, room };
}

describe('create', () => {
  test('create makes a private or public room with its creator as a member', async (t) => {
    const a = await guestSocket(url, t);
    const room = rname('made');
    const ack = await emitAck(a.socket, 'create', { room, kind: 'private' });
    assert.deepEqual(ack, { ok: true, room: { name: room, topic: '', kind: 'private' } });
    const mine = await myRooms(a);
    assert.deepEqual(
      mine.find((r) => r.name === room),
      { name: room, kind: 'private', topic: '', last_read: 0, unread: 0, mentions: 0, notify: 'mentions' },
    );
    const pub = rname('open');
    assert.equal((await ok(a.socket, 'create', { room: pub, kind: 'public', topic: 'hi' })).room.kind, 'public');
    const listed = (await api(url, `/api/rooms?q=${pub}`)).body.rooms;
    assert.deepEqual(listed, [{ name: pub, topic: 'hi', members: 0 }]);
  });

  test('create refuses a taken name, a dm- name, a bad kind and a bad topic, and stores nothing', async (t) => {
    const a = await guestSocket(url, t);
    const b = await guestSocket(url, t);
    const room = rname('taken');
    await ok(a.socket, 'create', { room, kind: 'private' });
    await refused(b.socket, 'create', { room, kind: 'private' }, 'room_exists');
    await refused(b.socket, 'create', { room: 'general', kind: 'public' }, 'room_exists');
    await refused(b.socket, 'create', { room: 'dm-1-2', kind: 'private' }, 'invalid_room');
    await refused(b.socket, 'create', { room: 'dm-mine', kind: 'public' }, 'invalid_room');
    await refused(b.socket, 'create', { room: rname('k'), kind: 'direct' }, 'invalid_payload');
    await refused(b.socket, 'create', { room: rname('k') }, 'invalid_payload');
    const bad = rname('topic');
    await refused(b.socket, 'create', { room: bad, kind: 'public', topic: 'x'.repeat(201) }, 'invalid_topic');
    await refused(b.socket, 'create', { room: bad, kind: 'public', topic: 'a\nb' }, 'invalid_topic');
    await refused(b.socket, 'join', { room }, 'room_not_found');
    assert.deepEqual((await api(url, `/api/rooms?q=${bad}`)).body.rooms, []);
    assert.deepEqual(await myRooms(b), []);
    // The connection keeps working.
    await ok(b.socket, 'join', { room: 'general' });
  });

  test('join cannot make a dm- room', async (t) => {
    const a = await guestSocket(url, t);
    await refused(a.socket, 'join', { room: 'dm-free' }, 'room_not_found');
    await refused(a.socket, 'join', { room: `dm-${a.user.id}-${a.user.id + 1}` }, 'room_not_found');
    assert.deepEqual((await api(url, '/api/rooms?q=dm-')).body.rooms, []);
  });
});

describe('lasting membership', () => {
  test('join of a public room makes a member on every device; the ack carries kind and read state', async (t) => {
    const a = await guestSocket(url, t);
    const room = rname('pub');
    const ack = await ok(a.socket, 'join', { room });
    assert.deepEqual(ack.room, { name: room, topic: '', kind: 'public' });
    assert.deepEqual([ack.last_read, ack.unread, ack.mentions], [0, 0, 0]);
    a.socket.close();
    // Another device, later: the same rooms.
    const phone = await connect(url, a.token, {}, t);
    assert.deepEqual((await myRooms(a)).map((r) => r.name), [room]);
    await refused(phone, 'send', { room, text: 'x' }, 'not_in_room');
    await ok(phone, 'join', { room });
  });

  test('leave ends the membership and takes every connection of the user out of the room', async (t) => {
    const a = await guestSocket(url, t, 'a');
    const tab2 = await connect(url, a.token, {}, t);
    const b = await guestSocket(url, t, 'b');
    const room = rname('bye');
    await ok(a.socket, 'join', { room });
    await ok(tab2, 'join', { room });
    await ok(b.socket, 'join', { room });
    const left = collect(b.socket, 'left', (e) => e.room === room);
    const told = waitFor(tab2, 'room_left');
    const heardByTab2 = collect(tab2, 'message');
    assert.deepEqual(await emitAck(a.socket, 'leave', { room }), { ok: true });
    assert.deepEqual(await told, { room });
    await left.waitForCount(1);
    assert.deepEqual(left.items, [{ room, user: a.user }]);
    await ok(b.socket, 'send', { room, text: 'after' });
    await refused(tab2, 'send', { room, text: 'x' }, 'not_in_room');
    await sleep(200);
    assert.deepEqual(heardByTab2.items, []);
    assert.deepEqual(await myRooms(a), []);
    await refused(a.socket, 'leave', { room }, 'not_in_room');
    await refused(tab2, 'leave', { room }, 'not_in_room');
  });
});

describe('private rooms', () => {
  test('invite makes a member; every connection of the invitee hears invited {room, by}', async (t) => {
    const { alice, bob, room } = await privateRoom(t);
    const bobTab2 = await connect(url, bob.token, {}, t);
    const one = waitFor(bob.socket, 'invited');
    const two = waitFor(bobTab2, 'invited');
    assert.deepEqual(await emitAck(alice.socket, 'invite', { room, user_id: bob.user.id }), { ok: true });
    const expected = { room: { name: room, topic: 'plans', kind: 'private' }, by: alice.user };
    assert.deepEqual(await one, expected);
    assert.deepEqual(await two, expected);
    const ack = await ok(bob.socket, 'join', { room });
    assert.equal(ack.room.kind, 'private');
    assert.deepEqual((await myRooms(bob)).map((r) => [r.name, r.kind]), [[room, 'private']]);
    // Inviting a member again tells nobody anything new.
    const again = collect(bob.socket, 'invited');
    await ok(alice.socket, 'invite', { room, user_id: bob.user.id });
    await sleep(200);
    assert.deepEqual(again.items, []);
  });

  test('invite errors: a non-member, no such room, no such user, a direct room', async (t) => {
    const { alice, bob, eve, room } = await privateRoom(t);
    await refused(eve.socket, 'invite', { room, user_id: eve.user.id }, 'room_not_found');
    await refused(eve.socket, 'invite', { room: rname('none'), user_id: bob.user.id }, 'room_not_found');
    await refused(alice.socket, 'invite', { room, user_id: 999_999_999 }, 'user_not_found');
    await refused(alice.socket, 'invite', { room, user_id: 0 }, 'invalid_payload');
    const dm = (await ok(alice.socket, 'direct', { user_ids: [bob.user.id] })).room.name;
    await refused(alice.socket, 'invite', { room: dm, user_id: eve.user.id }, 'forbidden');
    await refused(eve.socket, 'join', { room }, 'room_not_found');
    await refused(eve.socket, 'join', { room: dm }, 'room_not_found');
  });

  test('a non-member gets what a missing room gives at every door, and hears nothing', async (t) => {
    const { alice, bob, eve, room } = await privateRoom(t);
    await ok(alice.socket, 'invite', { room, user_id: bob.user.id });
    await ok(alice.socket, 'join', { room });
    await ok(bob.socket, 'join', { room });
    const heard = everything(eve.socket);
    for (const [event, payload, code] of [
      ['join', {}, 'room_not_found'],
      ['history', {}, 'room_not_found'],
      ['history', { after: 0 }, 'room_not_found'],
      ['members', {}, 'not_in_room'],
      ['send', { text: 'hi' }, 'not_in_room'],
      ['typing', { active: true }, 'not_in_room'],
      ['read', { id: 1 }, 'room_not_found'],
      ['notify', { level: 'all' }, 'room_not_found'],
      ['leave', {}, 'not_in_room'],
      ['invite', { user_id: eve.user.id }, 'room_not_found'],
    ]) {
      const mine = await emitAck(eve.socket, event, { room, ...payload });
      // A join of a free name would make a public room: for join, "no room"
      // is a direct name nobody has.
      const missing = event === 'join' ? 'dm-999999998-999999999' : rname('missing');
      const none = await emitAck(eve.socket, event, { room: missing, ...payload });
      assert.equal(mine.ok, false, `${event} ${JSON.stringify(mine)}`);
      assert.equal(mine.error.code, code, `${event} on the private room`);
      assert.deepEqual(mine.error.code, none.error.code, `${event}: same as a missing room`);
    }
    // HTTP history: the same 404 as for a missing room.
    const http = await api(url, `/api/rooms/${room}/messages`, { token: eve.token });
    const httpMissing = await api(url, `/api/rooms/${rname('missing')}/messages`, { token: eve.token });
    assert.equal(http.status, 404);
    assert.deepEqual(http.body.error.code, 'room_not_found');
    assert.deepEqual(http.body.error.code, httpMissing.body.error.code);
    // Not listed, not counted.
    assert.deepEqual((await api(url, `/api/rooms?q=${room}`)).body.rooms, []);
    assert.deepEqual(await myRooms(eve), []);
    // The members hear each other; Eve hears nothing of the room.
    const got = waitFor(bob.socket, 'message', (m) => m.text === 'secret');
    await ok(alice.socket, 'typing', { room, active: true });
    await ok(alice.socket, 'send', { room, text: 'secret' });
    await got;
    bob.socket.close();
    await sleep(300);
    assert.deepEqual(about(heard, room), []);
    // Members read their history over both doors.
    assert.equal((await ok(alice.socket, 'history', { room })).messages.length, 1);
    const res = await api(url, `/api/rooms/${room}/messages`, { token: alice.token });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.messages.map((m) => m.text), ['secret']);
  });

  test('after leave, none of the member\'s connections hears the room and the doors close', async (t) => {
    const { alice, bob, room } = await privateRoom(t);
    await ok(alice.socket, 'invite', { room, user_id: bob.user.id });
    const bobTab2 = await connect(url, bob.token, {}, t);
    await ok(alice.socket, 'join', { room });
    await ok(bob.socket, 'join', { room });
    await ok(bobTab2, 'join', { room });
    const told = waitFor(bobTab2, 'room_left');
    await ok(bob.socket, 'leave', { room });
    assert.deepEqual(await told, { room });
    const heard = [...[bob.socket, bobTab2].map(everything)];
    await ok(alice.socket, 'typing', { room, active: true });
    await ok(alice.socket, 'send', { room, text: 'after you left' });
    await sleep(300);
    for (const items of heard) assert.deepEqual(about(items, room), []);
    await refused(bobTab2, 'join', { room }, 'room_not_found');
    await refused(bobTab2, 'history', { room }, 'room_not_found');
    assert.equal((await api(url, `/api/rooms/${room}/messages`, { token: bob.token })).status, 404);
  });
});

describe('direct conversations', () => {
  test('direct gives the same room for the same people, whoever asks; the others hear invited once', async (t) => {
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    const c = await guestSocket(url, t, 'c');
    const invitedB = collect(b.socket, 'invited');
    const first = await ok(a.socket, 'direct', { user_ids: [b.user.id, c.user.id] });
    const sorted = [a.user.id, b.user.id, c.user.id].sort((x, y) => x - y);
    const name = `dm-${sorted.join('-')}`;
    const people = [a.user, b.user, c.user].sort((x, y) => x.id - y.id);
    assert.deepEqual(first.room, { name, topic: '', kind: 'direct', members: people });
    await invitedB.waitForCount(1);
    assert.deepEqual(invitedB.items[0], { room: first.room, by: a.user });
    // Whoever asks, in any order, with themselves listed or not.
    const again = await ok(c.socket, 'direct', { user_ids: [a.user.id, b.user.id, c.user.id, a.user.id] });
    assert.deepEqual(again.room, first.room);
    await sleep(200);
    assert.equal(invitedB.items.length, 1, 'invited only when the room is first made');
    const mine = (await myRooms(b)).find((r) => r.name === name);
    assert.deepEqual(mine, { ...first.room, last_read: 0, unread: 0, mentions: 0, notify: 'all' });
    const ack = await ok(b.socket, 'join', { room: name });
    assert.deepEqual(ack.room, first.room);
  });

  test('direct errors: nobody else, too many, unknown users; nothing is made', async (t) => {
    const a = await guestSocket(url, t);
    await refused(a.socket, 'direct', { user_ids: [] }, 'invalid_payload');
    await refused(a.socket, 'direct', { user_ids: [a.user.id] }, 'invalid_payload');
    await refused(a.socket, 'direct', { user_ids: 'x' }, 'invalid_payload');
    const nine = Array.from({ length: 9 }, (_, i) => a.user.id + 1000 + i);
    await refused(a.socket, 'direct', { user_ids: nine }, 'invalid_payload');
    await refused(a.socket, 'direct', { user_ids: [999_999_998] }, 'user_not_found');
    assert.deepEqual(await myRooms(a), []);
  });

  test('only its people can read a direct conversation', async (t) => {
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    const eve = await guestSocket(url, t, 'eve');
    const room = (await ok(a.socket, 'direct', { user_ids: [b.user.id] })).room.name;
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const heard = everything(eve.socket);
    await refused(eve.socket, 'join', { room }, 'room_not_found');
    await refused(eve.socket, 'history', { room }, 'room_not_found');
    await refused(eve.socket, 'typing', { room, active: true }, 'not_in_room');
    await refused(eve.socket, 'send', { room, text: 'hi' }, 'not_in_room');
    assert.equal((await api(url, `/api/rooms/${room}/messages`, { token: eve.token })).status, 404);
    assert.deepEqual((await api(url, '/api/rooms?q=dm-')).body.rooms, []);
    const got = waitFor(b.socket, 'message', (m) => m.text === 'just us');
    await ok(a.socket, 'typing', { room, active: true });
    await ok(a.socket, 'send', { room, text: 'just us' });
    await got;
    await sleep(200);
    assert.deepEqual(about(heard, room), []);
  });

  test('leaving a direct conversation hides it until its person opens it again', async (t) => {
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    const room = (await ok(a.socket, 'direct', { user_ids: [b.user.id] })).room.name;
    await ok(b.socket, 'join', { room });
    await ok(b.socket, 'leave', { room });
    assert.deepEqual(await myRooms(b), []);
    await refused(b.socket, 'join', { room }, 'room_not_found');
    // Opening it again gives the same room, with its history.
    await ok(a.socket, 'join', { room });
    await ok(a.socket, 'send', { room, text: 'still here' });
    assert.equal((await ok(b.socket, 'direct', { user_ids: [a.user.id] })).room.name, room);
    const ack = await ok(b.socket, 'join', { room });
    assert.deepEqual(ack.messages.map((m) => m.text), ['still here']);
  });
});

describe('messages of closed rooms', () => {
  // What a stranger gets for a message of a private room or a direct
  // conversation: word for word what an id that does not exist gives, and
  // the members hear nothing of the attempt.
  async function strangerGetsNothing(eve, members, id) {
    const missing = id + 1_000_000;
    const heard = members.map((m) => everything(m.socket));
    const own = rname('eves');
    await ok(eve.socket, 'join', { room: own });
    for (const [event, payload, code] of [
      ['edit', { text: 'mine now' }, 'message_not_found'],
      ['react', { emoji: '👍', on: true }, 'message_not_found'],
      ['delete', {}, 'message_not_found'],
    ]) {
      const hidden = await refused(eve.socket, event, { id, ...payload }, code);
      const none = await refused(eve.socket, event, { id: missing, ...payload }, code);
      assert.deepEqual(hidden, none, `${event}: same as no such message`);
    }
    const reply = await refused(eve.socket, 'send', { room: own, text: 're', reply_to: id }, 'reply_not_found');
    const replyNone = await refused(eve.socket, 'send', { room: own, text: 're', reply_to: missing }, 'reply_not_found');
    assert.deepEqual(reply, replyNone);
    await sleep(200);
    for (const items of heard) {
      // (The message itself may reach a member after its ack: only what the
      // stranger tried counts.)
      const tried = items.filter(({ event, payload }) =>
        ['edited', 'reacted', 'deleted'].includes(event) || (event === 'message' && payload.reply_to === id));
      assert.deepEqual(tried, []);
    }
  }

  test('a stranger cannot edit, react to, delete or reply to a private room\'s message', async (t) => {
    const { alice, bob, eve, room } = await privateRoom(t);
    await ok(alice.socket, 'invite', { room, user_id: bob.user.id });
    await ok(alice.socket, 'join', { room });
    await ok(bob.socket, 'join', { room });
    const m = (await ok(alice.socket, 'send', { room, text: 'secret' })).message;
    await strangerGetsNothing(eve, [alice, bob], m.id);
    const history = (await ok(bob.socket, 'history', { room })).messages;
    assert.deepEqual(history.map((x) => [x.text, x.edited_at, x.reactions]), [['secret', null, []]]);
  });

  test('a stranger cannot edit, react to, delete or reply to a direct conversation\'s message', async (t) => {
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    const eve = await guestSocket(url, t, 'eve');
    const room = (await ok(a.socket, 'direct', { user_ids: [b.user.id] })).room.name;
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const m = (await ok(a.socket, 'send', { room, text: 'just us' })).message;
    await strangerGetsNothing(eve, [a, b], m.id);
    const history = (await ok(b.socket, 'history', { room })).messages;
    assert.deepEqual(history.map((x) => [x.text, x.edited_at, x.reactions]), [['just us', null, []]]);
  });
});

describe('read state', () => {
  test('read moves the marker forward only; the other connections hear read {room, id}', async (t) => {
    const a = await guestSocket(url, t, 'a');
    const tab2 = await connect(url, a.token, {}, t);
    const b = await guestSocket(url, t, 'b');
    const room = rname('read');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const sent = [];
    for (const text of ['one', 'two', 'three']) sent.push((await ok(b.socket, 'send', { room, text })).message.id);
    const heard = collect(tab2, 'read');
    const own = collect(a.socket, 'read');
    assert.deepEqual(await emitAck(a.socket, 'read', { room, id: sent[1] }), { ok: true });
    await heard.waitForCount(1);
    assert.deepEqual(heard.items, [{ room, id: sent[1] }]);
    // Backwards, or the same id: acknowledged, nothing moves, nobody told.
    await ok(tab2, 'read', { room, id: sent[0] });
    await ok(a.socket, 'read', { room, id: sent[1] });
    // Past the latest message: stops at it.
    await ok(a.socket, 'read', { room, id: sent[2] + 1_000_000 });
    await heard.waitForCount(2);
    assert.deepEqual(heard.items[1], { room, id: sent[2] });
    await sleep(200);
    assert.equal(heard.items.length, 2);
    assert.deepEqual(own.items, [], 'the connection that read is not told');
    await refused(a.socket, 'read', { room, id: 0 }, 'invalid_payload');
    await refused(a.socket, 'read', { room, id: 'x' }, 'invalid_payload');
  });

  test('read markers and counts survive a reconnect, in the join ack and /api/me/rooms', async (t) => {
    const a = await guest(url, uname('a'));
    let socket = await connect(url, a.token, {}, t);
    const b = await guestSocket(url, t, 'b');
    const room = rname('counts');
    await ok(socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const first = (await ok(b.socket, 'send', { room, text: 'first' })).message.id;
    await ok(socket, 'read', { room, id: first });
    await ok(socket, 'send', { room, text: 'mine does not count' });
    for (const text of ['two', 'three', 'four']) await ok(b.socket, 'send', { room, text });
    socket.close();
    const deleted = (await ok(b.socket, 'send', { room, text: 'deleted' })).message.id;
    await ok(b.socket, 'delete', { id: deleted });
    socket = await connect(url, a.token, {}, t);
    const mine = (await myRooms(a)).find((r) => r.name === room);
    assert.deepEqual([mine.last_read, mine.unread, mine.mentions], [first, 3, 0]);
    const ack = await ok(socket, 'join', { room });
    assert.deepEqual([ack.last_read, ack.unread, ack.mentions], [first, 3, 0]);
  });

  test('mentions count the messages after the marker that name the user or the room', async (t) => {
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    const room = rname('ment');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const named = (await ok(b.socket, 'send', { room, text: `hello @${a.name}` })).message;
    assert.deepEqual(named.mentions, [a.user.id]);
    await ok(b.socket, 'send', { room, text: 'hello @room' });
    await ok(b.socket, 'send', { room, text: 'nobody' });
    const mine = (await myRooms(a)).find((r) => r.name === room);
    assert.deepEqual([mine.unread, mine.mentions], [3, 2]);
  });

  test('notify stores the level; defaults are mentions, and all for direct rooms', async (t) => {
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    const room = rname('loud');
    await ok(a.socket, 'join', { room });
    const dm = (await ok(a.socket, 'direct', { user_ids: [b.user.id] })).room.name;
    const levels = async () => Object.fromEntries((await myRooms(a)).map((r) => [r.name, r.notify]));
    assert.deepEqual(await levels(), { [room]: 'mentions', [dm]: 'all' });
    assert.deepEqual(await emitAck(a.socket, 'notify', { room, level: 'all' }), { ok: true });
    await ok(a.socket, 'notify', { room: dm, level: 'none' });
    assert.deepEqual(await levels(), { [room]: 'all', [dm]: 'none' });
    await refused(a.socket, 'notify', { room, level: 'loud' }, 'invalid_payload');
    await refused(a.socket, 'notify', { room: rname('not-mine'), level: 'all' }, 'room_not_found');
    assert.deepEqual(await levels(), { [room]: 'all', [dm]: 'none' });
  });

  test('/api/me/rooms needs a session', async () => {
    const res = await api(url, '/api/me/rooms');
    assert.equal(res.status, 401);
  });
});

describe('two nodes', () => {
  let cluster;
  let A;
  let B;

  before(async () => {
    await requireRedis();
    cluster = await startCluster({ nodes: 2, args: ['--ban-address-secs', '0'] });
    [A, B] = cluster.nodes;
  });

  after(async () => {
    await cluster?.dispose();
  });

  test('invited, read and leave reach the user\'s connections on the other node', async (t) => {
    const alice = await guest(A.url, uname('alice'));
    const bob = await guest(A.url, uname('bob'));
    const aliceA = await connect(A.url, alice.token, {}, t);
    const bobA = await connect(A.url, bob.token, {}, t);
    const bobB = await connect(B.url, bob.token, {}, t);
    const room = rname('nodes');
    await ok(aliceA, 'create', { room, kind: 'private' });
    const invited = waitFor(bobB, 'invited');
    await ok(aliceA, 'invite', { room, user_id: bob.user.id });
    assert.equal((await invited).room.name, room);
    await ok(aliceA, 'join', { room });
    await ok(bobA, 'join', { room });
    await ok(bobB, 'join', { room });
    const id = (await ok(aliceA, 'send', { room, text: 'one' })).message.id;
    const read = waitFor(bobB, 'read');
    await ok(bobA, 'read', { room, id });
    assert.deepEqual(await read, { room, id });
    const left = waitFor(bobB, 'room_left');
    const heard = everything(bobB);
    await ok(bobA, 'leave', { room });
    await left;
    await ok(aliceA, 'typing', { room, active: true });
    await ok(aliceA, 'send', { room, text: 'after' });
    await sleep(500);
    assert.deepEqual(about(heard, room).filter((e) => e.event !== 'room_left'), []);
    await refused(bobB, 'send', { room, text: 'x' }, 'not_in_room');
  });
});
