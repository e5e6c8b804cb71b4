// Every bad input from the "Input rules" table over Socket.IO: refused with the
// right code, nothing stored, and the same connection keeps working.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertRefusal,
  closeAllSockets,
  collect,
  emitAck,
  emitAckNoPayload,
  guestSocket,
  ok,
  refused,
  rname,
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

/**
 * A member A in a fresh room, with a watcher B in it too. `check()` asserts
 * that nothing was stored or broadcast and that A's connection still works.
 */
async function setup(t) {
  const room = rname('input');
  const a = await guestSocket(url, t, 'a');
  const b = await guestSocket(url, t, 'b');
  await ok(a.socket, 'join', { room });
  await ok(b.socket, 'join', { room });
  const atB = collect(b.socket, 'message');
  let n = 0;
  async function check() {
    n += 1;
    const text = `valid after bad input ${n}`;
    const seen = waitFor(b.socket, 'message', (m) => m.text === text);
    const ack = await ok(a.socket, 'send', { room, text });
    assert.equal(ack.message.text, text);
    await seen;
    assert.deepEqual(
      atB.items.map((m) => m.text),
      Array.from({ length: n }, (_, i) => `valid after bad input ${i + 1}`),
      'nothing but the valid messages was broadcast',
    );
    const hist = await ok(a.socket, 'history', { room });
    assert.deepEqual(
      hist.messages.map((m) => m.text),
      Array.from({ length: n }, (_, i) => `valid after bad input ${i + 1}`),
      'nothing but the valid messages was stored',
    );
    assert.ok(a.socket.connected);
  }
  return { room, a, b, check };
}

describe('message text', () => {
  test('send is refused with invalid_text when the text is empty', async (t) => {
    const { room, a, check } = await setup(t);
    await refused(a.socket, 'send', { room, text: '' }, 'invalid_text');
    await check();
  });

  test('send is refused with invalid_text when the text is only white space', async (t) => {
    const { room, a, check } = await setup(t);
    for (const text of [' ', '   ', '\n', '\t\n  \r\n', '\u00a0\u2003 ']) {
      await refused(a.socket, 'send', { room, text }, 'invalid_text');
    }
    await check();
  });

  test('send is refused with invalid_text when the text has 4001 characters', async (t) => {
    const { room, a, check } = await setup(t);
    await refused(a.socket, 'send', { room, text: 'a'.repeat(4001) }, 'invalid_text');
    await refused(a.socket, 'send', { room, text: 'é'.repeat(4001) }, 'invalid_text');
    await refused(a.socket, 'send', { room, text: `${'a'.repeat(4000)}😀` }, 'invalid_text');
    await refused(a.socket, 'send', { room, text: `${'a'.repeat(3000)} ${'b'.repeat(1000)}` }, 'invalid_text');
    await check();
  });

  test('send accepts exactly 4000 characters, counting a multi-byte character as one', async (t) => {
    const { room, a } = await setup(t);
    const texts = [
      'a'.repeat(4000),
      'é'.repeat(4000), // 8000 bytes of UTF-8
      `${'a'.repeat(3999)}😀`, // JS length 4001 (surrogate pair), 4000 scalar values
      '😀'.repeat(4000), // JS length 8000, 16000 bytes of UTF-8
      `  \n${'z'.repeat(4000)}\t  `, // 4000 once trimmed
    ];
    for (const text of texts) {
      const ack = await ok(a.socket, 'send', { room, text });
      assert.equal(ack.message.text, text.trim());
      assert.equal([...ack.message.text].length, 4000);
    }
    const hist = await ok(a.socket, 'history', { room });
    assert.deepEqual(
      hist.messages.map((m) => m.text),
      texts.map((x) => x.trim()),
    );
  });

  test('send is refused with invalid_text when the text holds a control character', async (t) => {
    const { room, a, check } = await setup(t);
    for (const text of ['nul\u0000here', 'bell\u0007', 'esc\u001b[31mred', 'del\u007f', '\u0000', 'c1\u0085x', 'lone\rcr']) {
      await refused(a.socket, 'send', { room, text }, 'invalid_text');
    }
    await check();
  });

  test('send with a text that is not a string answers invalid_payload, not invalid_text', async (t) => {
    const { room, a, check } = await setup(t);
    for (const text of [{}, [], 5, true, null]) {
      await refused(a.socket, 'send', { room, text }, 'invalid_payload');
    }
    await check();
  });
});

describe('room names', () => {
  const badRooms = ['General', 'a b', '../etc', 'x'.repeat(65), '', 'a.b', 'é', 'a/b', ' general', 'room\u0000'];

  test('join is refused with invalid_room for names that break the rules', async (t) => {
    const { a, check } = await setup(t);
    for (const room of badRooms) {
      await refused(a.socket, 'join', { room }, 'invalid_room');
    }
    await check();
  });

  test('send, leave, typing and history are refused with invalid_room for bad names', async (t) => {
    const { a, check } = await setup(t);
    for (const room of badRooms) {
      await refused(a.socket, 'send', { room, text: 'hi' }, 'invalid_room');
      await refused(a.socket, 'leave', { room }, 'invalid_room');
      await refused(a.socket, 'typing', { room, active: true }, 'invalid_room');
      await refused(a.socket, 'history', { room }, 'invalid_room');
    }
    await check();
  });

  test('join accepts names of 1 and 64 characters made of lowercase letters, digits, _ and -', async (t) => {
    const { a } = await setup(t);
    const long = rname('l').replace(/-/g, '_').padEnd(64, '9-');
    assert.equal(long.length, 64);
    for (const room of [long, 'q', '0', '_', '-', 'a-b_c9']) {
      const ack = await ok(a.socket, 'join', { room });
      assert.equal(ack.room.name, room);
    }
  });
});

describe('client_id', () => {
  test('send is refused with invalid_client_id for a bad client_id', async (t) => {
    const { room, a, check } = await setup(t);
    for (const client_id of ['', 'x'.repeat(65), 'a b', 'é', 'a/b', 'a#b', 'nul\u0000', '<x>']) {
      await refused(a.socket, 'send', { room, text: 'hi', client_id }, 'invalid_client_id');
    }
    await check();
  });

  test('send accepts a client_id of 1 and 64 characters of letters, digits, _ - . :', async (t) => {
    const { room, a } = await setup(t);
    const long = `${Date.now()}:aZ_-.`.padEnd(64, 'k');
    assert.equal(long.length, 64);
    for (const client_id of [long, `${Date.now() % 10}`]) {
      const ack = await ok(a.socket, 'send', { room, text: 'hi', client_id });
      assert.equal(ack.message.client_id, client_id);
      assert.equal(ack.duplicate, false);
    }
  });
});

describe('payload shapes', () => {
  const notObjects = ['a string', 5, [], ['general'], null, true];

  for (const event of ['join', 'leave', 'send', 'typing', 'history']) {
    test(`${event} with a payload that is not an object answers invalid_payload`, async (t) => {
      const { a, check } = await setup(t);
      for (const payload of notObjects) {
        await refused(a.socket, event, payload, 'invalid_payload');
      }
      await check();
    });

    test(`${event} with no payload at all answers invalid_payload`, async (t) => {
      const { a, check } = await setup(t);
      const ack = await emitAckNoPayload(a.socket, event);
      assertRefusal(ack, 'invalid_payload', `${event} without payload`);
      await check();
    });
  }

  test('a field of the wrong type answers invalid_payload', async (t) => {
    const { room, a, check } = await setup(t);
    const cases = [
      ['join', { room: 5 }],
      ['join', { room: ['general'] }],
      ['join', { room: null }],
      ['leave', { room: {} }],
      ['send', { room: 5, text: 'hi' }],
      ['send', { room, text: {} }],
      ['send', { room, text: 42 }],
      ['send', { room, text: 'hi', client_id: 7 }],
      ['send', { room, text: 'hi', client_id: {} }],
      ['typing', { room, active: 'yes' }],
      ['typing', { room, active: 1 }],
      ['typing', { room: 5, active: true }],
      ['history', { room: 5 }],
      ['history', { room: true }],
    ];
    for (const [event, payload] of cases) {
      await refused(a.socket, event, payload, 'invalid_payload');
    }
    await check();
  });

  test('a missing required field answers invalid_payload', async (t) => {
    const { room, a, check } = await setup(t);
    const cases = [
      ['join', {}],
      ['leave', {}],
      ['send', { room }],
      ['send', { text: 'hi' }],
      ['typing', { room }],
      ['typing', { active: true }],
      ['history', {}],
    ];
    for (const [event, payload] of cases) {
      await refused(a.socket, event, payload, 'invalid_payload');
    }
    await check();
  });

  test('after a burst of bad inputs the same connection still chats normally', async (t) => {
    const { room, a, b, check } = await setup(t);
    const bad = [
      ['send', { room, text: '' }],
      ['send', 'nope'],
      ['join', { room: 'UPPER' }],
      ['send', { room, text: 'x', client_id: '' }],
      ['history', { room, limit: 0 }],
      ['typing', { room, active: 'maybe' }],
      ['nonsense', {}],
    ];
    // fired without waiting: each gets its own refusal, in order
    const acks = await Promise.all(bad.map(([e, p]) => emitAck(a.socket, e, p)));
    const codes = acks.map((x) => x?.error?.code);
    assert.deepEqual(codes, [
      'invalid_text',
      'invalid_payload',
      'invalid_room',
      'invalid_client_id',
      'invalid_limit',
      'invalid_payload',
      'unknown_event',
    ]);
    await check();
    const typing = waitFor(b.socket, 'typing', (e) => e.room === room);
    await ok(a.socket, 'typing', { room, active: true });
    assert.equal((await typing).active, true);
  });

  test('a refused send with a client_id does not reserve that client_id', async (t) => {
    const { room, a } = await setup(t);
    const client_id = `keep-${Date.now()}`;
    await refused(a.socket, 'send', { room, text: '   ', client_id }, 'invalid_text');
    const ack = await ok(a.socket, 'send', { room, text: 'now valid', client_id });
    assert.equal(ack.duplicate, false);
    assert.equal(ack.message.text, 'now valid');
  });
});
