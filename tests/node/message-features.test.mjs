// Message features (issue #10): edit, react, replies and mentions
// (docs/protocol.md: the Message shape, "Client → server", "Server → client",
// "Mentions"), with the official client.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  api,
  assertMessage,
  closeAllSockets,
  collect,
  connect,
  emitAck,
  guestSocket,
  ok,
  refused,
  register,
  rname,
  sleep,
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

/** Two users in a fresh room, the author with two tabs, and a stranger outside it. */
async function roomOfThree(t) {
  const room = rname('feat');
  const alice = await guestSocket(url, t, 'alice');
  const bob = await guestSocket(url, t, 'bob');
  const aliceTab = await connect(url, alice.token, {}, t);
  const stranger = await guestSocket(url, t, 'stranger');
  for (const s of [alice.socket, aliceTab, bob.socket]) await ok(s, 'join', { room });
  await ok(stranger.socket, 'join', { room: rname('elsewhere') });
  return { room, alice, bob, aliceTab, stranger, members: [alice.socket, aliceTab, bob.socket] };
}

/** Collects `event` on every socket; `settle` waits, then says what each got. */
function everywhere(sockets, event, filter = () => true) {
  const cs = sockets.map((s) => collect(s, event, filter));
  return {
    async exactlyOnceEach(timeoutMs = 5000) {
      await Promise.all(cs.map((c) => c.waitForCount(1, timeoutMs)));
      await sleep(200); // a duplicate would have come by now
      cs.forEach((c, i) => assert.equal(c.items.length, 1, `socket #${i} got ${JSON.stringify(c.items)}`));
      return cs.map((c) => c.items[0]);
    },
    async none(ms = 300) {
      await sleep(ms);
      cs.forEach((c, i) => assert.equal(c.items.length, 0, `socket #${i} got ${JSON.stringify(c.items)}`));
    },
    stop() {
      cs.forEach((c) => c.stop());
    },
  };
}

async function say(socket, room, text, extra = {}) {
  const ack = await ok(socket, 'send', { room, text, ...extra });
  assertMessage(ack.message, { room, text });
  return ack.message;
}

async function historyOf(socket, room) {
  const messages = (await ok(socket, 'history', { room })).messages;
  messages.forEach((m) => assertMessage(m));
  return messages;
}

async function httpHistory(token, room) {
  const res = await api(url, `/api/rooms/${room}/messages`, { token });
  assert.equal(res.status, 200, res.text);
  res.body.messages.forEach((m) => assertMessage(m));
  return res.body.messages;
}

describe('a new message', () => {
  test('carries edited_at null, reply_to null, no mentions and no reactions, in the ack and the event', async (t) => {
    const { room, alice, bob } = await roomOfThree(t);
    const seen = collect(bob.socket, 'message');
    const m = await say(alice.socket, room, 'plain');
    assert.deepEqual(
      { edited_at: m.edited_at, reply_to: m.reply_to, mentions: m.mentions, mentions_room: m.mentions_room, reactions: m.reactions },
      { edited_at: null, reply_to: null, mentions: [], mentions_room: false, reactions: [] },
    );
    await seen.waitForCount(1);
    assert.deepEqual(seen.items[0], m);
  });
});

describe('edit', () => {
  test('the author edits: the ack has the message, every member gets edited once, history shows it everywhere', async (t) => {
    const { room, alice, bob, members } = await roomOfThree(t);
    const m = await say(alice.socket, room, 'first @room');
    const events = everywhere(members, 'edited');
    const before = Date.now();
    const ack = await ok(alice.socket, 'edit', { id: m.id, text: `  fixed, @${bob.name}  ` });
    assert.deepEqual(Object.keys(ack).sort(), ['message', 'ok']);
    assertMessage(ack.message, { room, text: `fixed, @${bob.name}`, author: alice.user });
    assert.equal(ack.message.id, m.id);
    assert.ok(ack.message.edited_at >= before && ack.message.edited_at <= Date.now() + 1000, JSON.stringify(ack));
    assert.deepEqual(ack.message.mentions, [bob.user.id], 'mentions are recomputed');
    assert.equal(ack.message.mentions_room, false);
    const got = await events.exactlyOnceEach();
    for (const e of got) {
      assert.deepEqual(e, {
        room,
        id: m.id,
        text: `fixed, @${bob.name}`,
        edited_at: ack.message.edited_at,
        mentions: [bob.user.id],
        mentions_room: false,
      });
    }
    const shown = (await historyOf(bob.socket, room)).find((x) => x.id === m.id);
    assert.deepEqual(shown, ack.message);
    assert.deepEqual((await httpHistory(bob.token, room)).find((x) => x.id === m.id), ack.message);
    // A newcomer's join ack shows the edit too.
    const carol = await guestSocket(url, t, 'carol');
    const join = await ok(carol.socket, 'join', { room });
    assert.deepEqual(join.messages.find((x) => x.id === m.id), ack.message);
  });

  test('by anyone but the author is forbidden and changes nothing', async (t) => {
    const { room, alice, bob, members } = await roomOfThree(t);
    const m = await say(alice.socket, room, 'mine');
    const events = everywhere(members, 'edited');
    await refused(bob.socket, 'edit', { id: m.id, text: 'yours now' }, 'forbidden');
    await events.none();
    const shown = (await historyOf(alice.socket, room)).find((x) => x.id === m.id);
    assert.equal(shown.text, 'mine');
    assert.equal(shown.edited_at, null);
  });

  test('follows the text rules of send and refuses what send refuses', async (t) => {
    const { room, alice } = await roomOfThree(t);
    const m = await say(alice.socket, room, 'keep me');
    await refused(alice.socket, 'edit', { id: m.id, text: '   ' }, 'invalid_text');
    await refused(alice.socket, 'edit', { id: m.id, text: 'x'.repeat(4001) }, 'invalid_text');
    await refused(alice.socket, 'edit', { id: m.id, text: 'bell\u0007' }, 'invalid_text');
    await refused(alice.socket, 'edit', { id: m.id, text: 'a\u001b[31mred' }, 'invalid_text');
    await refused(alice.socket, 'edit', { id: String(m.id), text: 'x' }, 'invalid_payload');
    await refused(alice.socket, 'edit', { id: m.id }, 'invalid_payload');
    await refused(alice.socket, 'edit', 'nope', 'invalid_payload');
    await refused(alice.socket, 'edit', { id: m.id + 100000, text: 'x' }, 'message_not_found');
    const shown = (await historyOf(alice.socket, room)).find((x) => x.id === m.id);
    assert.equal(shown.text, 'keep me');
    // The connection keeps working.
    await ok(alice.socket, 'edit', { id: m.id, text: 'still here' });
  });

  test('of a deleted message is message_not_found', async (t) => {
    const { room, alice } = await roomOfThree(t);
    const m = await say(alice.socket, room, 'soon gone');
    await ok(alice.socket, 'delete', { id: m.id });
    await refused(alice.socket, 'edit', { id: m.id, text: 'back?' }, 'message_not_found');
  });
});

describe('react', () => {
  test('a reaction reaches every member once, a repeat tells nobody, off reaches everyone, history counts', async (t) => {
    const { room, alice, bob, members } = await roomOfThree(t);
    const m = await say(alice.socket, room, 'react to me');
    let events = everywhere(members, 'reacted');
    assert.deepEqual(await ok(bob.socket, 'react', { id: m.id, emoji: '👍🏽', on: true }), { ok: true });
    for (const e of await events.exactlyOnceEach()) {
      assert.deepEqual(e, { room, id: m.id, emoji: '👍🏽', user: bob.user, on: true });
    }
    events.stop();
    events = everywhere(members, 'reacted');
    assert.deepEqual(await ok(bob.socket, 'react', { id: m.id, emoji: '👍🏽', on: true }), { ok: true });
    assert.deepEqual(await ok(alice.socket, 'react', { id: m.id, emoji: '🎉', on: false }), { ok: true });
    await events.none();
    events.stop();
    await ok(alice.socket, 'react', { id: m.id, emoji: '👍🏽', on: true });
    await ok(alice.socket, 'react', { id: m.id, emoji: '🇫🇷', on: true });
    const shown = (await historyOf(bob.socket, room)).find((x) => x.id === m.id);
    assert.deepEqual(shown.reactions, [
      { emoji: '👍🏽', count: 2, user_ids: [bob.user.id, alice.user.id] },
      { emoji: '🇫🇷', count: 1, user_ids: [alice.user.id] },
    ]);
    assert.deepEqual((await httpHistory(alice.token, room)).find((x) => x.id === m.id).reactions, shown.reactions);
    events = everywhere(members, 'reacted');
    await ok(bob.socket, 'react', { id: m.id, emoji: '👍🏽', on: false });
    for (const e of await events.exactlyOnceEach()) {
      assert.deepEqual(e, { room, id: m.id, emoji: '👍🏽', user: bob.user, on: false });
    }
    const after = (await historyOf(bob.socket, room)).find((x) => x.id === m.id);
    assert.deepEqual(after.reactions[0], { emoji: '👍🏽', count: 1, user_ids: [alice.user.id] });
  });

  test('hostile emoji are invalid_emoji and nothing is stored', async (t) => {
    const { room, alice, members } = await roomOfThree(t);
    const m = await say(alice.socket, room, 'poke');
    const events = everywhere(members, 'reacted');
    const hostile = [
      '',
      ' ',
      '👍👍',
      'ab',
      'a' + '\u0301'.repeat(40), // one grapheme, 81 bytes
      '🏳️‍🌈'.repeat(3),
      '\u0000',
      '\u001b',
      '\u202e',
      '\u200b',
      'x'.repeat(10_000),
    ];
    for (const emoji of hostile) {
      await refused(alice.socket, 'react', { id: m.id, emoji, on: true }, 'invalid_emoji');
    }
    await refused(alice.socket, 'react', { id: m.id, emoji: 5, on: true }, 'invalid_payload');
    await refused(alice.socket, 'react', { id: m.id, emoji: '👍' }, 'invalid_payload');
    await refused(alice.socket, 'react', { id: m.id, emoji: '👍', on: 'yes' }, 'invalid_payload');
    await refused(alice.socket, 'react', { id: m.id + 100000, emoji: '👍', on: true }, 'message_not_found');
    await events.none();
    assert.deepEqual((await historyOf(alice.socket, room)).find((x) => x.id === m.id).reactions, []);
    await ok(alice.socket, 'react', { id: m.id, emoji: '👨‍👩‍👧', on: true });
  });

  test('a 21st distinct emoji is too_many_reactions; joining one already there still works', async (t) => {
    const { room, alice, bob } = await roomOfThree(t);
    const m = await say(alice.socket, room, 'popular');
    const emoji = Array.from({ length: 21 }, (_, i) => String.fromCodePoint(0x1f600 + i));
    for (const e of emoji.slice(0, 20)) await ok(alice.socket, 'react', { id: m.id, emoji: e, on: true });
    await refused(bob.socket, 'react', { id: m.id, emoji: emoji[20], on: true }, 'too_many_reactions');
    await ok(bob.socket, 'react', { id: m.id, emoji: emoji[0], on: true });
    const shown = (await historyOf(bob.socket, room)).find((x) => x.id === m.id);
    assert.equal(shown.reactions.length, 20);
    assert.equal(shown.reactions[0].count, 2);
  });

  test('on a deleted message is message_not_found', async (t) => {
    const { room, alice, bob } = await roomOfThree(t);
    const m = await say(alice.socket, room, 'gone soon');
    await ok(alice.socket, 'delete', { id: m.id });
    await refused(bob.socket, 'react', { id: m.id, emoji: '👍', on: true }, 'message_not_found');
  });
});

describe('replies', () => {
  test('a reply carries reply_to to every member and in history', async (t) => {
    const { room, alice, bob, members } = await roomOfThree(t);
    const parent = await say(alice.socket, room, 'question?');
    // Another tab's copy of an earlier message may still be on its way.
    const events = everywhere(members, 'message', (m) => m.text === 'answer');
    const reply = await say(bob.socket, room, 'answer', { reply_to: parent.id });
    assert.equal(reply.reply_to, parent.id);
    for (const e of await events.exactlyOnceEach()) assert.deepEqual(e, reply);
    assert.deepEqual((await historyOf(alice.socket, room)).at(-1), reply);
    assert.deepEqual((await httpHistory(alice.token, room)).at(-1), reply);
    // null is no reply
    const plain = await say(bob.socket, room, 'plain', { reply_to: null });
    assert.equal(plain.reply_to, null);
  });

  test('to another room, a deleted or an unknown message is reply_not_found and stores nothing', async (t) => {
    const { room, alice, bob, members } = await roomOfThree(t);
    const other = rname('other');
    await ok(alice.socket, 'join', { room: other });
    const elsewhere = await say(alice.socket, other, 'over here');
    const gone = await say(alice.socket, room, 'deleted');
    await ok(alice.socket, 'delete', { id: gone.id });
    const events = everywhere(members, 'message', (m) => m.text === 're');
    for (const parent of [elsewhere.id, gone.id, gone.id + 100000]) {
      await refused(bob.socket, 'send', { room, text: 're', reply_to: parent }, 'reply_not_found');
    }
    await refused(bob.socket, 'send', { room, text: 're', reply_to: 0 }, 'invalid_payload');
    await refused(bob.socket, 'send', { room, text: 're', reply_to: 'x' }, 'invalid_payload');
    await events.none();
    assert.ok((await historyOf(bob.socket, room)).every((m) => m.text !== 're'), 'nothing stored');
  });
});

describe('privacy', () => {
  test("a stranger's edit, react, delete and reply on a room it has not joined answer as for no message", async (t) => {
    const { room, alice, stranger, members } = await roomOfThree(t);
    const m = await say(alice.socket, room, 'members only');
    const missing = m.id + 100000;
    const edited = everywhere(members, 'edited');
    const reacted = everywhere(members, 'reacted');
    const forMissing = await refused(stranger.socket, 'react', { id: missing, emoji: '👍', on: true }, 'message_not_found');
    const forHidden = await refused(stranger.socket, 'react', { id: m.id, emoji: '👍', on: true }, 'message_not_found');
    assert.deepEqual(forHidden, forMissing, 'the same answer, word for word');
    const editMissing = await refused(stranger.socket, 'edit', { id: missing, text: 'x' }, 'message_not_found');
    const editHidden = await refused(stranger.socket, 'edit', { id: m.id, text: 'x' }, 'message_not_found');
    assert.deepEqual(editHidden, editMissing);
    const deleteMissing = await refused(stranger.socket, 'delete', { id: missing }, 'message_not_found');
    const deleteHidden = await refused(stranger.socket, 'delete', { id: m.id }, 'message_not_found');
    assert.deepEqual(deleteHidden, deleteMissing);
    // A reply into the stranger's own room to the hidden message.
    const own = rname('own');
    await ok(stranger.socket, 'join', { room: own });
    const replyMissing = await refused(stranger.socket, 'send', { room: own, text: 'x', reply_to: missing }, 'reply_not_found');
    const replyHidden = await refused(stranger.socket, 'send', { room: own, text: 'x', reply_to: m.id }, 'reply_not_found');
    assert.deepEqual(replyHidden, replyMissing);
    // And into the room itself, which it has not joined.
    await refused(stranger.socket, 'send', { room, text: 'x', reply_to: m.id }, 'not_in_room');
    await edited.none(0);
    await reacted.none();
    // Once it has left a room, the same holds.
    await ok(alice.socket, 'leave', { room });
    await refused(alice.socket, 'react', { id: m.id, emoji: '👍', on: true }, 'message_not_found');
    await refused(alice.socket, 'edit', { id: m.id, text: 'x' }, 'message_not_found');
  });
});

describe('mentions', () => {
  test('@name and @room resolve on send and on edit; emails, unknown names and duplicates do not', async (t) => {
    const { room, alice, bob } = await roomOfThree(t);
    const account = await register(url);
    const text = `hey @${bob.name}, @${bob.name.toUpperCase()} and @${account.name}. mail me@${bob.name}.com @nobody_here_x @room`;
    const m = await say(alice.socket, room, text);
    assert.deepEqual(m.mentions, [bob.user.id, account.user.id].sort((x, y) => x - y));
    assert.equal(m.mentions_room, true);
    const shown = (await historyOf(bob.socket, room)).at(-1);
    assert.deepEqual([shown.mentions, shown.mentions_room], [m.mentions, true]);
    const edited = await ok(alice.socket, 'edit', { id: m.id, text: `only @${alice.name}` });
    assert.deepEqual([edited.message.mentions, edited.message.mentions_room], [[alice.user.id], false]);
    const again = (await historyOf(bob.socket, room)).at(-1);
    assert.deepEqual([again.mentions, again.mentions_room], [[alice.user.id], false]);
  });

  test('a text full of @ costs a bounded lookup and is still stored', async (t) => {
    const { room, alice } = await roomOfThree(t);
    const text = Array.from({ length: 400 }, (_, i) => `@n${i}`).join(' ');
    const ack = await emitAck(alice.socket, 'send', { room, text });
    assert.equal(ack.ok, true, JSON.stringify(ack).slice(0, 200));
    assert.deepEqual(ack.message.mentions, []);
  });
});
