// Two people, one registered and one guest, talking through the real server.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  expectMessageOnce, guestViaUi, joinRoom, launchBrowser, messageTexts, openPage, openRoom,
  registerViaUi, repoRoot, screenshot, send, startServer,
} from './helpers.mjs';

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

test('a registered user and a guest chat, see each other, and stay safe', async () => {
  const alice = await openPage(browser, server.url);
  const bob = await openPage(browser, server.url);
  const a = alice.page;
  const b = bob.page;

  await registerViaUi(a, 'alice', 'correct horse battery');
  await guestViaUi(b, 'bob');
  assert.equal(await a.locator('#me-name').textContent(), 'alice');
  assert.equal(await b.locator('#me-name').textContent(), 'bob');

  // both join a new room; each sees the other in the members panel, live
  await joinRoom(a, 'lounge');
  await joinRoom(b, 'lounge');
  await a.locator('#member-list .member[data-name="bob"]').waitFor();
  await b.locator('#member-list .member[data-name="alice"]').waitFor();
  await a.locator('#message-list .notice', { hasText: 'bob joined' }).waitFor();

  // messages go both ways, exactly once
  await send(a, 'Hi Bob! Welcome to the lounge.');
  await expectMessageOnce(b, 'Hi Bob! Welcome to the lounge.');
  await expectMessageOnce(a, 'Hi Bob! Welcome to the lounge.');
  await send(b, 'Thanks! Have you seen https://example.com/docs yet?');
  await expectMessageOnce(a, 'Thanks! Have you seen https://example.com/docs yet?');
  const link = a.locator('#message-list a[href="https://example.com/docs"]');
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
  assert.equal(await a.locator('#message-list .msg.own').count() > 0, true, 'own messages are marked');

  // typing shows on the other side, and ends when the message is sent
  await b.getByLabel('Message', { exact: true }).pressSequentially('I am writing', { delay: 20 });
  await a.locator('#typing', { hasText: 'bob is typing…' }).waitFor();
  await b.getByLabel('Message', { exact: true }).press('Enter');
  await expectMessageOnce(a, 'I am writing');
  await a.locator('#typing:empty').waitFor();

  // a hostile message is only text
  const evil = '<img src=x onerror=alert(1)>';
  await send(b, evil);
  await expectMessageOnce(a, evil);
  assert.equal(await a.locator('#message-list img').count(), 0);
  assert.equal(await b.locator('#message-list img').count(), 0);

  // unread count for a joined room that is not on screen, and in the title
  await openRoom(b, 'general');
  await send(b, 'Anyone in general?');
  await a.locator('#room-list .room', { hasText: 'general' }).locator('.unread', { hasText: '1' }).waitFor();
  await a.waitForFunction(() => document.title === '(1) Banter');
  await send(b, 'Hello?');
  await a.waitForFunction(() => document.title === '(2) Banter');
  await openRoom(a, 'general');
  await a.waitForFunction(() => document.title === 'Banter');
  await expectMessageOnce(a, 'Hello?');
  await openRoom(a, 'lounge');
  await openRoom(b, 'lounge');
  await send(a, 'Let me show you the screenshot.');
  await expectMessageOnce(b, 'Let me show you the screenshot.');
  await screenshot(a, 'desktop-alice');
  await screenshot(b, 'desktop-bob');

  // a reload keeps the session, the open room and its history
  const before = await messageTexts(a);
  await a.reload();
  await a.locator('#conn-status[data-state="connected"]').waitFor();
  await a.locator('#room-title', { hasText: '#lounge' }).waitFor();
  await a.locator('#message-list .msg-text', { hasText: before[before.length - 1] }).waitFor();
  assert.deepEqual(await messageTexts(a), before);
  assert.equal(await a.locator('#me-name').textContent(), 'alice');

  // presence: bob leaving shows at alice's side
  await bob.close();
  await a.locator('#message-list .notice', { hasText: 'bob left' }).waitFor();
  await a.locator('#member-list .member[data-name="bob"]').waitFor({ state: 'detached' });

  alice.assertClean();
  bob.assertClean();
  await alice.close();
});

test('loads older history when scrolled to the top, and does not yank a reader down', async () => {
  const carol = await openPage(browser, server.url);
  const dave = await openPage(browser, server.url);
  const c = carol.page;
  const d = dave.page;
  await guestViaUi(c, 'carol');
  await guestViaUi(d, 'dave');
  await joinRoom(c, 'history');
  await joinRoom(d, 'history');
  // more than one join page (50) of history
  for (let i = 1; i <= 60; i++) {
    await send(d, `line ${i}`);
    if (i % 20 === 0) await d.locator('#message-list .msg-text', { hasText: `line ${i}` }).waitFor();
  }
  await expectMessageOnce(c, 'line 60');

  await c.reload();
  await c.locator('#conn-status[data-state="connected"]').waitFor();
  await c.locator('#message-list .msg-text', { hasText: 'line 60' }).waitFor();
  assert.equal(await c.locator('#message-list .msg-text', { hasText: /^line 1$/ }).count(), 0, 'only the latest 50 at first');

  // scrolled up: new messages do not move the view; a button appears
  await c.locator('#messages').evaluate((el) => { el.scrollTop = 300; });
  await send(d, 'while you read');
  await c.locator('#new-messages').waitFor();
  const top = await c.locator('#messages').evaluate((el) => el.scrollTop);
  assert.ok(top > 250 && top < 350, `stayed where the reader was (${top})`);
  await c.locator('#new-messages').click();
  await c.locator('#new-messages').waitFor({ state: 'hidden' });

  // at the top, older history comes in and the beginning is marked
  await c.locator('#messages').evaluate((el) => { el.scrollTop = 0; });
  await c.locator('#message-list .msg-text', { hasText: /^line 1$/ }).waitFor();
  await c.locator('#history-status', { hasText: 'beginning of #history' }).waitFor();
  const texts = await messageTexts(c);
  assert.equal(new Set(texts).size, texts.length, 'no duplicates');
  assert.deepEqual(texts.slice(0, 3), ['line 1', 'line 2', 'line 3']);

  carol.assertClean();
  dave.assertClean();
  await carol.close();
  await dave.close();
});

test('a conversation looks good (docs/screenshot.png with UPDATE_SCREENSHOT=1)', async () => {
  const maya = await openPage(browser, server.url);
  const leo = await openPage(browser, server.url);
  const m = maya.page;
  const l = leo.page;
  await registerViaUi(m, 'maya', 'maya-password-1');
  await guestViaUi(l, 'leo');
  await joinRoom(m, 'design');
  await joinRoom(l, 'design');
  const lines = [
    [l, 'Morning! Did the new build go out?'],
    [m, 'Yes, deployed at nine: `banter --version` says **1.4**. Release notes: https://example.com/releases/1.4',
      'Yes, deployed at nine: banter --version says 1.4. Release notes: https://example.com/releases/1.4'],
    [m, 'Reconnects are much smoother now: nothing lost, nothing twice.'],
    [l, 'Nice. I will try it on my phone during the commute.'],
    [m, 'Tell me how the small screen feels.\nThe panels fold away behind the buttons at the top.'],
  ];
  // [who, what they type, what the other sees (the text drawn, when it is formatted)]
  for (const [page, text, shown = text] of lines) {
    await send(page, text);
    await expectMessageOnce(page === m ? l : m, shown);
  }
  await l.getByLabel('Message', { exact: true }).pressSequentially('Will do', { delay: 20 });
  await m.locator('#typing', { hasText: 'leo is typing…' }).waitFor();
  await screenshot(m, 'conversation');
  if (process.env.UPDATE_SCREENSHOT === '1') {
    await m.screenshot({ path: path.join(repoRoot, 'docs', 'screenshot.png') });
  }
  maya.assertClean();
  leo.assertClean();
  await maya.close();
  await leo.close();
});
