// Links in messages show where they really go: an IDN host in punycode
// (look-alike letters cannot pass for another site), no `user@` disguise,
// and no bidi controls that would reorder the link's visible text
// (docs/security.md, "Cross-site requests, rooms and read limits").

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expectMessageOnce, guestViaUi, joinRoom, launchBrowser, openPage, send, startServer } from './helpers.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

const BIDI = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/;

test('links show their real host in punycode and no bidi controls', async () => {
  const { page, assertClean, close } = await openPage(browser, server.url);
  await guestViaUi(page, 'linker');
  await joinRoom(page, 'links');

  // "раураl" with Cyrillic а and у: looks like paypal, is another host
  const lookalike = 'https://\u0440\u0430\u0443\u0440\u0430l.com/login';
  const punycode = new URL(lookalike).host;
  assert.match(punycode, /^xn--/);
  // U+202E turns "exe.txt" around on screen: it would read "txt.exe"
  const reversed = 'https://example.com/\u202Eexe.txt';
  const disguised = 'https://bank.example@evil.example/login';
  const links = page.locator('#message-list .msg-text a');
  const texts = [`see ${lookalike}`, `get ${reversed}`, `sign in at ${disguised}`, `isolated \u202E https://example.com/ok`];
  for (const [i, text] of texts.entries()) {
    await send(page, text);
    await links.nth(i).waitFor();
  }
  await expectMessageOnce(page, 'sign in at https://evil.example/login');
  const shown = await links.allTextContents();
  assert.deepEqual(shown, [
    `https://${punycode}/login`,
    'https://example.com/exe.txt',
    'https://evil.example/login',
    'https://example.com/ok',
  ]);
  for (const text of shown) assert.doesNotMatch(text, BIDI);
  assert.equal(await links.nth(0).getAttribute('href'), `https://${punycode}/login`);
  // each link is its own left-to-right island: text around it cannot reorder it
  assert.equal(await links.nth(3).getAttribute('dir'), 'ltr');
  assertClean();
  await close();
});
