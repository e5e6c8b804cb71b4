// Formatting (issue #11, docs/protocol.md "Formatting"): the server stores a
// message's text as its author wrote it, Markdown, HTML and line breaks
// included, and sends it back the same everywhere: in the ack, in the
// broadcast, in history over Socket.IO and HTTP, and after an edit. It never
// renders anything; clients do. Newlines count as one character each toward
// the length limit; other control characters are still refused.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, closeAllSockets, collect, guestSocket, ok, refused, rname, waitFor } from './helpers.mjs';
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

// What the page formats, and what it must show as text, exactly as typed.
const WRITTEN = [
  'line one\nline two\n\n\nafter two blank lines\n\tindented with a tab',
  '**bold** *italic* ~~strike~~ `code` [site](https://example.com/a?b=1&c=2) <mailto:a@example.com>',
  '```js\nconst x = "<b>" + 1;\n  if (a < b && c > d) {}\n```\n> quoted\n> > deeper\n\n- one\n  - two\n1. first\n2) second',
  '<script>window.pwned = 1</script><img src=x onerror="window.pwned=1"><iframe src="javascript:1"></iframe>',
  '[x](javascript:alert(1)) [y](jav&#x61;script:alert(1)) <data:text/html,<b>> &amp; &lt;b&gt; \\*not italic\\*',
  '# not a heading\n---\n| not | a table |\n![not an image](https://example.com/i.png)',
  'right-to-left \u202Eevil\u202C and zero width\u200B and emoji 👍🏽 and \u00e9 vs e\u0301',
];

async function roomOfTwo(t) {
  const room = rname('format');
  const alice = await guestSocket(url, t, 'alice');
  const bob = await guestSocket(url, t, 'bob');
  await ok(alice.socket, 'join', { room });
  await ok(bob.socket, 'join', { room });
  return { room, alice, bob };
}

async function httpTexts(token, room) {
  const res = await api(url, `/api/rooms/${room}/messages?limit=100`, { token });
  assert.equal(res.status, 200, res.text);
  return res.body.messages.map((m) => m.text);
}

describe('formatted text', () => {
  test('is stored and sent back exactly as written: ack, broadcast, history, HTTP', async (t) => {
    const { room, alice, bob } = await roomOfTwo(t);
    const atBob = collect(bob.socket, 'message');
    for (const text of WRITTEN) {
      const ack = await ok(alice.socket, 'send', { room, text });
      assert.equal(ack.message.text, text, 'ack');
    }
    await atBob.waitForCount(WRITTEN.length);
    assert.deepEqual(atBob.items.map((m) => m.text), WRITTEN, 'broadcast');
    const history = await ok(bob.socket, 'history', { room, limit: 100 });
    assert.deepEqual(history.messages.map((m) => m.text), WRITTEN, 'history');
    assert.deepEqual(await httpTexts(bob.token, room), WRITTEN, 'HTTP history');
  });

  test('an edit to a multi-line formatted text is stored and sent as written', async (t) => {
    const { room, alice, bob } = await roomOfTwo(t);
    const { message } = await ok(alice.socket, 'send', { room, text: 'first draft' });
    const text = '```\n<b>not bold</b>\n```\nand **bold**\n- a list';
    const edited = waitFor(bob.socket, 'edited', (e) => e.id === message.id);
    const ack = await ok(alice.socket, 'edit', { id: message.id, text });
    assert.equal(ack.message.text, text);
    assert.equal((await edited).text, text);
    assert.deepEqual(await httpTexts(bob.token, room), [text]);
  });

  test('is trimmed at its ends only, and CRLF becomes LF, as the input rules say', async (t) => {
    const { room, alice } = await roomOfTwo(t);
    const ack = await ok(alice.socket, 'send', { room, text: '\n  ```\r\ncode\r\n```\r\n\n  ' });
    assert.equal(ack.message.text, '```\ncode\n```');
  });

  test('counts a newline as one character toward the 4,000-character limit', async (t) => {
    const { room, alice } = await roomOfTwo(t);
    const lines = `${'a\n'.repeat(1999)}bc`; // 1999 newlines, 4000 characters
    assert.equal([...lines].length, 4000);
    const ack = await ok(alice.socket, 'send', { room, text: lines });
    assert.equal(ack.message.text, lines);
    await refused(alice.socket, 'send', { room, text: `${lines}\nc` }, 'invalid_text');
  });

  test('still refuses control characters other than newline and tab', async (t) => {
    const { room, alice } = await roomOfTwo(t);
    for (const text of ['a\rb', 'a\u0007b', '```\n\u001b[31mred\n```', 'a\u0000b', 'a\u007fb']) {
      await refused(alice.socket, 'send', { room, text }, 'invalid_text');
    }
    assert.deepEqual(await httpTexts(alice.token, room), []);
  });
});
