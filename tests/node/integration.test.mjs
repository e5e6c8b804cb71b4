// Several clients together: chatting, presence, two tabs, dedup, ordering.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  api,
  assertStrictlyIncreasing,
  closeAllSockets,
  collect,
  connect,
  emitAck,
  fullHistory,
  guestSocket,
  ids,
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

describe('chatting', () => {
  test('two users chat both ways', async (t) => {
    const room = rname('chat');
    const a = await guestSocket(url, t, 'alice');
    const b = await guestSocket(url, t, 'bob');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });

    const atB = waitFor(b.socket, 'message', (m) => m.room === room);
    const sentA = await ok(a.socket, 'send', { room, text: 'hi bob' });
    assert.deepEqual(await atB, sentA.message);
    assert.deepEqual(sentA.message.author, a.user);

    const atA = waitFor(a.socket, 'message', (m) => m.room === room && m.author.id === b.user.id);
    const sentB = await ok(b.socket, 'send', { room, text: 'hi alice' });
    assert.deepEqual(await atA, sentB.message);
    assert.ok(sentB.message.id > sentA.message.id);

    const hist = await ok(a.socket, 'history', { room });
    assert.deepEqual(hist.messages, [sentA.message, sentB.message]);
  });

  test('a polling-only client chats with a websocket client', async (t) => {
    const room = rname('poll');
    const a = await guestSocket(url, t, 'poll', { transports: ['polling'] });
    const b = await guestSocket(url, t, 'ws');
    assert.equal(a.socket.io.engine.transport.name, 'polling');
    await ok(a.socket, 'join', { room });
    const joined = await ok(b.socket, 'join', { room });
    assert.equal(joined.members.length, 2);

    const atB = collect(b.socket, 'message');
    const atA = collect(a.socket, 'message');
    const texts = Array.from({ length: 10 }, (_, i) => `poll ${i}`);
    const acks = await Promise.all(texts.map((text) => emitAck(a.socket, 'send', { room, text })));
    acks.forEach((x) => assert.equal(x.ok, true));
    const back = await ok(b.socket, 'send', { room, text: 'from ws' });
    await atB.waitForCount(11);
    await atA.waitForCount(11);
    assert.deepEqual(
      atB.items.map((m) => m.text),
      [...texts, 'from ws'],
    );
    assert.deepEqual(atA.items, atB.items);
    assert.deepEqual(atA.items.at(-1), back.message);
    const typing = waitFor(a.socket, 'typing', (e) => e.room === room);
    await ok(b.socket, 'typing', { room, active: true });
    assert.deepEqual(await typing, { room, user: b.user, active: true });
  });

  test('messages stay in their room', async (t) => {
    const r1 = rname('one');
    const r2 = rname('two');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room: r1 });
    await ok(a.socket, 'join', { room: r2 });
    await ok(b.socket, 'join', { room: r2 });
    const atB = collect(b.socket, 'message');
    await ok(a.socket, 'send', { room: r1, text: 'only r1' });
    await ok(a.socket, 'send', { room: r2, text: 'only r2' });
    await atB.waitForCount(1);
    await sleep(300);
    assert.deepEqual(
      atB.items.map((m) => [m.room, m.text]),
      [[r2, 'only r2']],
    );
    assert.deepEqual(
      (await ok(b.socket, 'history', { room: r1 })).messages.map((m) => m.text),
      ['only r1'],
    );
  });
});

describe('presence', () => {
  test('others get joined when a user joins, and left when the user leaves', async (t) => {
    const room = rname('pres');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(b.socket, 'join', { room });
    const ownJoined = collect(a.socket, 'joined');

    const joined = waitFor(b.socket, 'joined', (e) => e.room === room);
    await ok(a.socket, 'join', { room });
    assert.deepEqual(await joined, { room, user: a.user });

    const left = waitFor(b.socket, 'left', (e) => e.room === room);
    await ok(a.socket, 'leave', { room });
    assert.deepEqual(await left, { room, user: a.user });

    await sleep(100);
    assert.deepEqual(ownJoined.items, [], 'no joined about yourself');
    const ack = await ok(b.socket, 'join', { room });
    assert.deepEqual(ack.members, [b.user], 'A is no longer a member');
  });

  test('others get left when a user disconnects', async (t) => {
    const room = rname('disc');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const left = waitFor(b.socket, 'left', (e) => e.room === room);
    a.socket.disconnect();
    assert.deepEqual(await left, { room, user: a.user });
    const ack = await ok(b.socket, 'join', { room });
    assert.deepEqual(ack.members, [b.user]);
  });

  test('others get left when a user’s transport drops without a goodbye', async (t) => {
    const room = rname('drop');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const left = waitFor(b.socket, 'left', (e) => e.room === room, 10_000);
    // close the WebSocket under Socket.IO: no DISCONNECT packet is sent
    a.socket.io.engine.close();
    assert.deepEqual(await left, { room, user: a.user });
  });

  test('a user in several rooms is announced as left in each on disconnect', async (t) => {
    const r1 = rname('m1');
    const r2 = rname('m2');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    for (const room of [r1, r2]) {
      await ok(a.socket, 'join', { room });
      await ok(b.socket, 'join', { room });
    }
    const lefts = collect(b.socket, 'left');
    a.socket.disconnect();
    await lefts.waitForCount(2);
    assert.deepEqual(
      lefts.items.map((e) => e.room).sort(),
      [r1, r2].sort(),
    );
    lefts.items.forEach((e) => assert.deepEqual(e.user, a.user));
  });

  test('two tabs: one joined when the first connection joins, left only when the last one goes', async (t) => {
    const room = rname('tabs');
    const a = await guestSocket(url, t, 'a');
    const a2 = await connect(url, a.token, {}, t);
    const b = await guestSocket(url, t, 'b');
    await ok(b.socket, 'join', { room });
    const joined = collect(b.socket, 'joined', (e) => e.room === room);
    const left = collect(b.socket, 'left', (e) => e.room === room);

    await ok(a.socket, 'join', { room });
    const ack2 = await ok(a2, 'join', { room });
    const members = ack2.members.filter((u) => u.id === a.user.id);
    assert.equal(members.length, 1, `A is counted once: ${JSON.stringify(ack2.members)}`);
    assert.equal(ack2.members.length, 2);
    const bView = await ok(b.socket, 'join', { room });
    assert.equal(bView.members.length, 2, JSON.stringify(bView.members));

    // sentinel after both joins
    let seen = waitFor(b.socket, 'message', (m) => m.text === 'both tabs in');
    await ok(a2, 'send', { room, text: 'both tabs in' });
    await seen;
    await sleep(300);
    assert.deepEqual(joined.items, [{ room, user: a.user }], 'exactly one joined for A');

    // the first tab closes: A is still there
    a.socket.close();
    await sleep(300);
    seen = waitFor(b.socket, 'message', (m) => m.text === 'second tab still here');
    await ok(a2, 'send', { room, text: 'second tab still here' });
    await seen;
    await sleep(300);
    assert.deepEqual(left.items, [], 'no left while A has another connection in the room');
    assert.equal((await ok(b.socket, 'join', { room })).members.length, 2);

    // the last tab closes: one left
    a2.close();
    await left.waitForCount(1);
    await sleep(300);
    assert.deepEqual(left.items, [{ room, user: a.user }], 'exactly one left for A');
    assert.deepEqual((await ok(b.socket, 'join', { room })).members, [b.user]);
  });

  test('two tabs: one tab closing sends no left while the other stays; leave takes both out, one left', async (t) => {
    const room = rname('tabsleave');
    const a = await guestSocket(url, t, 'a');
    const a2 = await connect(url, a.token, {}, t);
    const a3 = await connect(url, a.token, {}, t);
    const b = await guestSocket(url, t, 'b');
    await ok(b.socket, 'join', { room });
    await ok(a.socket, 'join', { room });
    await ok(a2, 'join', { room });
    await ok(a3, 'join', { room });
    const left = collect(b.socket, 'left', (e) => e.room === room);
    a3.close();
    const seen = waitFor(b.socket, 'message', (m) => m.text === 'tab two');
    await ok(a2, 'send', { room, text: 'tab two' });
    await seen;
    await sleep(300);
    assert.deepEqual(left.items, []);
    // leave ends the membership: every tab of the user goes, once.
    await ok(a.socket, 'leave', { room });
    await left.waitForCount(1);
    await refused(a2, 'send', { room, text: 'gone' }, 'not_in_room');
    await sleep(200);
    assert.deepEqual(left.items, [{ room, user: a.user }]);
  });

  test('others get left when a user logs out and the server closes the socket', async (t) => {
    const room = rname('logout');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const left = waitFor(b.socket, 'left', (e) => e.room === room);
    const res = await api(url, '/api/auth/logout', { method: 'POST', token: a.token });
    assert.equal(res.status, 204);
    assert.deepEqual(await left, { room, user: a.user });
  });

  test('a reconnecting client gets no replay and catches up with history after its last id', async (t) => {
    const room = rname('catchup');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const seen = waitFor(a.socket, 'message', (m) => m.text === 'seen');
    await ok(b.socket, 'send', { room, text: 'seen' });
    const lastSeen = (await seen).id;

    const left = waitFor(b.socket, 'left', (e) => e.room === room);
    a.socket.close();
    await left;
    const missed = [];
    for (const text of ['missed 1', 'missed 2', 'missed 3']) missed.push((await ok(b.socket, 'send', { room, text })).message);

    const again = await connect(url, a.token, {}, t);
    const replayed = collect(again, 'message');
    const joinAck = await ok(again, 'join', { room });
    assert.deepEqual(joinAck.messages.slice(-3), missed, 'the join ack holds the latest messages');
    const hist = await ok(again, 'history', { room, after: lastSeen });
    assert.deepEqual(hist.messages, missed);
    // live messages flow again, and nothing was replayed as events
    const live = waitFor(again, 'message', (m) => m.text === 'live');
    await ok(b.socket, 'send', { room, text: 'live' });
    await live;
    assert.deepEqual(
      replayed.items.map((m) => m.text),
      ['live'],
    );
  });

  test('two tabs joining and closing at the same moment give exactly one joined and one left', async (t) => {
    const room = rname('tabsrace');
    const a = await guestSocket(url, t, 'a');
    const tabs = [a.socket, ...(await Promise.all([1, 2, 3].map(() => connect(url, a.token, {}, t))))];
    const b = await guestSocket(url, t, 'b');
    await ok(b.socket, 'join', { room });
    const joined = collect(b.socket, 'joined', (e) => e.room === room);
    const left = collect(b.socket, 'left', (e) => e.room === room);
    const acks = await Promise.all(tabs.map((s) => emitAck(s, 'join', { room })));
    acks.forEach((x) => assert.equal(x.ok, true));
    await joined.waitForCount(1);
    const seen = waitFor(b.socket, 'message', (m) => m.text === 'all tabs in');
    await ok(tabs[3], 'send', { room, text: 'all tabs in' });
    await seen;
    await sleep(300);
    assert.deepEqual(joined.items, [{ room, user: a.user }]);
    for (const s of tabs) s.disconnect();
    await left.waitForCount(1);
    await sleep(300);
    assert.deepEqual(left.items, [{ room, user: a.user }]);
    assert.deepEqual((await ok(b.socket, 'join', { room })).members, [b.user]);
  });

  test('two users creating the same new room at the same moment both join it', async (t) => {
    const room = rname('create');
    const users = await Promise.all([0, 1, 2, 3].map((i) => guestSocket(url, t, `c${i}`)));
    const acks = await Promise.all(users.map((u) => emitAck(u.socket, 'join', { room })));
    acks.forEach((x) => {
      assert.equal(x.ok, true, JSON.stringify(x));
      assert.deepEqual(x.room, { name: room, topic: '', kind: 'public' });
    });
    const final = await ok(users[0].socket, 'join', { room });
    assert.equal(final.members.length, 4);
    const listed = (await api(url, `/api/rooms?q=${room}`)).body.rooms.filter((r) => r.name === room);
    assert.equal(listed.length, 1);
    assert.equal(listed[0].members, 4);
  });

  test('the /api/rooms member count follows presence', async (t) => {
    const room = rname('cnt');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    const count = async () => (await api(url, `/api/rooms?q=${room}`)).body.rooms.find((r) => r.name === room)?.members;
    await ok(a.socket, 'join', { room });
    assert.equal(await count(), 1);
    await ok(b.socket, 'join', { room });
    assert.equal(await count(), 2);
    const left = waitFor(a.socket, 'left', (e) => e.room === room);
    await ok(b.socket, 'leave', { room });
    await left;
    assert.equal(await count(), 1);
  });
});

describe('client_id dedup', () => {
  test('repeating a send with the same client_id returns the stored message with duplicate: true', async (t) => {
    const room = rname('dedup');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const atB = collect(b.socket, 'message');
    const atA = collect(a.socket, 'message');
    const client_id = `dup-${Date.now()}`;

    const first = await ok(a.socket, 'send', { room, text: 'once', client_id });
    assert.equal(first.duplicate, false);
    const again = await ok(a.socket, 'send', { room, text: 'once', client_id });
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.message, first.message);

    // sentinel, then a quiet wait
    const sentinel = await ok(a.socket, 'send', { room, text: 'sentinel' });
    await atB.waitForCount(2);
    await sleep(300);
    assert.deepEqual(atB.items, [first.message, sentinel.message], 'B got the message once');
    assert.deepEqual(atA.items, [first.message, sentinel.message], 'the sender got it once');
    const hist = await ok(b.socket, 'history', { room });
    assert.deepEqual(hist.messages, [first.message, sentinel.message], 'stored once');
  });

  test('a duplicate client_id with different text still returns the original message', async (t) => {
    const room = rname('dedup2');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const client_id = `dup2-${Date.now()}`;
    const first = await ok(a.socket, 'send', { room, text: 'original', client_id });
    const again = await ok(a.socket, 'send', { room, text: 'changed', client_id });
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.message, first.message);
    assert.deepEqual(
      (await ok(a.socket, 'history', { room })).messages.map((m) => m.text),
      ['original'],
    );
  });

  test('a retry from another connection of the same user is recognised as a duplicate', async (t) => {
    const room = rname('dedup3');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const client_id = `dup3-${Date.now()}`;
    const first = await ok(a.socket, 'send', { room, text: 'before reconnect', client_id });
    a.socket.close();
    const a2 = await connect(url, a.token, {}, t);
    await ok(a2, 'join', { room });
    const again = await ok(a2, 'send', { room, text: 'before reconnect', client_id });
    assert.equal(again.duplicate, true);
    assert.equal(again.message.id, first.message.id);
  });

  test('the same client_id sent from two tabs at the same moment stores one message', async (t) => {
    const room = rname('dedup5');
    const a = await guestSocket(url, t, 'a');
    const a2 = await connect(url, a.token, {}, t);
    const b = await guestSocket(url, t, 'b');
    for (const s of [a.socket, a2, b.socket]) await ok(s, 'join', { room });
    const atB = collect(b.socket, 'message');
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        Promise.all([
          emitAck(a.socket, 'send', { room, text: `tab race ${i}`, client_id: `race-${i}` }),
          emitAck(a2, 'send', { room, text: `tab race ${i}`, client_id: `race-${i}` }),
        ]),
      ),
    );
    for (const [x, y] of results) {
      assert.equal(x.ok && y.ok, true, JSON.stringify([x, y]));
      assert.equal(x.message.id, y.message.id, 'one stored message per client_id');
      assert.deepEqual([x.duplicate, y.duplicate].sort(), [false, true]);
    }
    await atB.waitForCount(5);
    await sleep(300);
    assert.equal(atB.items.length, 5, 'each broadcast once');
    assert.equal((await ok(b.socket, 'history', { room })).messages.length, 5, 'each stored once');
  });

  test('two sends with the same client_id fired back-to-back store one message', async (t) => {
    const room = rname('dedup4');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const atB = collect(b.socket, 'message');
    const client_id = `dup4-${Date.now()}`;
    const [x, y] = await Promise.all([
      emitAck(a.socket, 'send', { room, text: 'race', client_id }),
      emitAck(a.socket, 'send', { room, text: 'race', client_id }),
    ]);
    assert.equal(x.ok, true);
    assert.equal(y.ok, true);
    assert.deepEqual([x.duplicate, y.duplicate], [false, true]);
    assert.equal(x.message.id, y.message.id);
    await atB.waitForCount(1);
    await sleep(300);
    assert.equal(atB.items.length, 1);
  });
});

describe('ordering', () => {
  test('200 messages from 3 senders reach every member in the same order, the id order', async (t) => {
    const room = rname('order');
    const senders = await Promise.all([0, 1, 2].map((i) => guestSocket(url, t, `s${i}`)));
    const observer = await guestSocket(url, t, 'obs');
    const all = [...senders, observer];
    for (const x of all) await ok(x.socket, 'join', { room });
    const got = all.map((x) => collect(x.socket, 'message', (m) => m.room === room));

    const counts = [67, 67, 66];
    const ackPromises = senders.map((s, si) =>
      Promise.all(
        Array.from({ length: counts[si] }, (_, i) => emitAck(s.socket, 'send', { room, text: `s${si}-${i}` }, 20_000)),
      ),
    );
    const acks = await Promise.all(ackPromises);
    acks.flat().forEach((x) => assert.equal(x.ok, true, JSON.stringify(x)));
    await Promise.all(got.map((g) => g.waitForCount(200, 20_000)));

    const reference = ids(got[3].items);
    assert.equal(reference.length, 200);
    assertStrictlyIncreasing(reference, 'ids in received order');
    for (const [i, g] of got.entries()) {
      assert.deepEqual(ids(g.items), reference, `member ${i} received the same order`);
    }
    // each sender's messages in its sending order
    for (let si = 0; si < 3; si++) {
      const mine = got[3].items.filter((m) => m.author.id === senders[si].user.id).map((m) => m.text);
      assert.deepEqual(
        mine,
        Array.from({ length: counts[si] }, (_, i) => `s${si}-${i}`),
      );
      assert.deepEqual(
        acks[si].map((x) => x.message.text),
        mine,
      );
    }
    const hist = await fullHistory(observer.socket, room);
    assert.deepEqual(ids(hist), reference, 'history order equals received order');
    await sleep(200);
    for (const g of got) assert.equal(g.items.length, 200, 'no extra deliveries');
  });

  test('a burst of 50 sends without waiting is stored and delivered in the sent order', async (t) => {
    const room = rname('burst');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    await ok(b.socket, 'join', { room });
    const atB = collect(b.socket, 'message');
    const texts = Array.from({ length: 50 }, (_, i) => `m${i}`);
    const acks = await Promise.all(texts.map((text) => emitAck(a.socket, 'send', { room, text })));
    acks.forEach((x) => assert.equal(x.ok, true));
    assert.deepEqual(
      acks.map((x) => x.message.text),
      texts,
    );
    assertStrictlyIncreasing(ids(acks.map((x) => x.message)), 'stored ids in sent order');
    await atB.waitForCount(50);
    assert.deepEqual(
      atB.items.map((m) => m.text),
      texts,
      'delivered in sent order',
    );
    assert.deepEqual(
      ids(atB.items),
      ids(acks.map((x) => x.message)),
    );
    assert.deepEqual(
      (await ok(b.socket, 'history', { room })).messages.map((m) => m.text),
      texts,
    );
  });

  test('join and send back-to-back without waiting: the send sees the join', async (t) => {
    const room = rname('b2b');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(b.socket, 'join', { room });
    const atB = waitFor(b.socket, 'message', (m) => m.room === room);
    const [joinAck, sendAck, leaveAck, sendAfterLeave] = await Promise.all([
      emitAck(a.socket, 'join', { room }),
      emitAck(a.socket, 'send', { room, text: 'right after join' }),
      emitAck(a.socket, 'leave', { room }),
      emitAck(a.socket, 'send', { room, text: 'after leave' }),
    ]);
    assert.equal(joinAck.ok, true, JSON.stringify(joinAck));
    assert.equal(sendAck.ok, true, JSON.stringify(sendAck));
    assert.equal(sendAck.message.text, 'right after join');
    assert.equal(leaveAck.ok, true, JSON.stringify(leaveAck));
    assert.equal(sendAfterLeave.ok, false);
    assert.equal(sendAfterLeave.error.code, 'not_in_room');
    assert.equal((await atB).text, 'right after join');
  });

  test('acks come back in the order the events were sent', async (t) => {
    const room = rname('ackorder');
    const a = await guestSocket(url, t);
    const order = [];
    const p = [];
    p.push(emitAck(a.socket, 'join', { room }).then(() => order.push('join')));
    for (let i = 0; i < 10; i++) {
      p.push(emitAck(a.socket, 'send', { room, text: `x${i}` }).then(() => order.push(`send${i}`)));
    }
    p.push(emitAck(a.socket, 'history', { room }).then((h) => order.push(`history:${h.messages.length}`)));
    await Promise.all(p);
    assert.deepEqual(order, ['join', ...Array.from({ length: 10 }, (_, i) => `send${i}`), 'history:10']);
  });

  test('a message is acknowledged to the sender only after it is stored', async (t) => {
    const room = rname('stored');
    const a = await guestSocket(url, t, 'a');
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    const ack = await ok(a.socket, 'send', { room, text: 'persisted?' });
    // another user, via HTTP, sees it at once
    const res = await api(url, `/api/rooms/${room}/messages?before=${ack.message.id + 1}&limit=1`, { token: b.token });
    assert.deepEqual(res.body.messages, [ack.message]);
  });
});
