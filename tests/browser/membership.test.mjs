// Rooms people belong to (issue #10), in Chromium: a direct conversation
// started from a member's name, a private room with an invitation, unread
// badges and the "new messages" divider after a reload and across two tabs
// of one user, and a desktop notification for a mention and a direct
// message while the tab is hidden. Amy and Bob talk; Cat, a third user in
// the same public room, must see none of it.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  guestViaUi, joinRoom, launchBrowser, openPage, openRoom, screenshot, send, startServer,
} from './helpers.mjs';

let server;
let browser;


// Hiding a tab, and watching desktop notifications and permission requests,
// from inside the page (before its own scripts run).
const PAGE_HOOKS = () => {
  window.__hidden = false;
  window.__notes = [];
  window.__asked = 0;
  Object.defineProperty(Document.prototype, 'visibilityState', {
    configurable: true, get: () => (window.__hidden ? 'hidden' : 'visible'),
  });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => window.__hidden });
  const Real = window.Notification;
  function Spy(title, options) {
    window.__notes.push({ title, body: options?.body ?? '' });
    return new Real(title, options);
  }
  Object.defineProperty(Spy, 'permission', { get: () => Real.permission });
  Spy.requestPermission = () => {
    window.__asked += 1;
    return Real.requestPermission();
  };
  window.Notification = /** @type {any} */ (Spy);
};

async function person(name) {
  const opened = await openPage(browser, server.url, { initScript: PAGE_HOOKS });
  await guestViaUi(opened.page, name);
  await opened.page.locator('#room-title', { hasText: '#general' }).waitFor();
  return opened;
}

const roomButton = (page, room) => page.locator(`#room-list .room-btn[data-room="${room}"]`);
const roomNames = (page) => page.locator('#room-list .room-btn').evaluateAll((nodes) => nodes.map((n) => n.dataset.room));
const memberName = (page, name) => page.locator(`#member-list .member[data-name="${name}"] .member-name-btn`);

async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    window.__hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

let amy;
let bob;
let cat;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  amy = await person('amy');
  bob = await person('bob');
  cat = await person('cat');
});

after(async () => {
  for (const who of [amy, bob, cat]) await who?.close();
  await browser?.close();
  await server?.dispose();
});

test('a direct conversation started from a member\'s name reaches its person and nobody else', async () => {
  const a = amy.page;
  await memberName(a, 'bob').click();
  await a.getByRole('button', { name: 'Message bob' }).click();
  await a.locator('#room-title', { hasText: /^bob$/ }).waitFor();
  await send(a, 'hello bob, just us');
  await a.locator('#message-list .msg-text', { hasText: 'hello bob, just us' }).waitFor();

  const b = bob.page;
  const dm = roomButton(b, (await roomNames(a)).find((n) => n.startsWith('dm-')));
  await dm.waitFor();
  assert.equal(await dm.getAttribute('data-kind'), 'direct');
  assert.match(await dm.textContent(), /amy/);
  await dm.locator('.unread', { hasText: '1' }).waitFor();
  await dm.click();
  await b.locator('#room-title', { hasText: /^amy$/ }).waitFor();
  await b.locator('#message-list .msg-text', { hasText: 'hello bob, just us' }).waitFor();
  await screenshot(b, 'direct-conversation');

  await cat.page.waitForTimeout(300);
  assert.deepEqual(await roomNames(cat.page), ['general']);
  assert.equal(await cat.page.locator('#other-room-list .room-name', { hasText: 'dm-' }).count(), 0);
  for (const who of [amy, bob, cat]) who.assertClean();
});

test('a private room with an invitation: the invitee has it, the third user sees nothing', async () => {
  const a = amy.page;
  await a.getByLabel('New private room').fill('plans');
  await a.getByRole('button', { name: 'Create', exact: true }).click();
  await a.locator('#room-title', { hasText: /^plans$/ }).waitFor();
  assert.equal(await roomButton(a, 'plans').getAttribute('data-kind'), 'private');
  await send(a, 'the secret plan');
  await openRoom(a, 'general');
  await memberName(a, 'bob').click();
  await a.getByRole('button', { name: 'Invite to plans' }).click();
  await a.getByRole('status').filter({ hasText: 'Invited bob' }).waitFor();

  const b = bob.page;
  await roomButton(b, 'plans').click();
  await b.locator('#room-title', { hasText: /^plans$/ }).waitFor();
  await b.locator('#message-list .msg-text', { hasText: 'the secret plan' }).waitFor();
  await send(b, 'count me in');
  await roomButton(a, 'plans').click();
  await a.locator('#room-title', { hasText: /^plans$/ }).waitFor();
  await a.locator('#message-list .msg-text', { hasText: 'count me in' }).waitFor();
  await screenshot(b, 'private-room');

  // Cat: not listed, not joinable, the same answer as a room that does not exist.
  const c = cat.page;
  assert.deepEqual(await roomNames(c), ['general']);
  assert.equal(await c.locator('#other-room-list .room-name', { hasText: 'plans' }).count(), 0);
  await c.getByLabel('Join or create a room').fill('plans');
  await c.getByRole('button', { name: 'Join room' }).click();
  await c.locator('#join-error', { hasText: 'no room named plans' }).waitFor();
  assert.equal(await c.locator('#message-list .msg-text', { hasText: /secret plan|count me in/ }).count(), 0);
  for (const who of [amy, bob, cat]) who.assertClean();
});

test('unread badges and the divider survive a reload and follow across two tabs of one user', async () => {
  const b = bob.page;
  await joinRoom(b, 'news');
  const a = amy.page;
  await joinRoom(a, 'news');
  await openRoom(a, 'general');
  // A second tab of Amy's (the same session), on general too.
  const tab2 = await amy.context.newPage();
  await tab2.goto(server.url);
  await tab2.locator('#room-title', { hasText: '#general' }).waitFor();
  await send(b, 'news one');
  await send(b, 'news two');
  for (const page of [a, tab2]) await roomButton(page, 'news').locator('.unread', { hasText: '2' }).waitFor();
  await tab2.waitForFunction(() => document.title === '(2) Banter');

  await a.reload();
  await roomButton(a, 'news').locator('.unread', { hasText: '2' }).waitFor();
  await a.waitForFunction(() => document.title === '(2) Banter');
  await roomButton(a, 'news').click();
  await a.locator('#message-list .unread-divider').waitFor();
  const after = await a.locator('#message-list .unread-divider + li .msg-text').textContent();
  assert.equal(after, 'news one', 'the divider is at the first unread message');
  assert.equal(await roomButton(a, 'news').locator('.unread').count(), 0);
  await screenshot(a, 'unread-divider');

  // The other tab follows the read marker.
  await roomButton(tab2, 'news').locator('.unread').waitFor({ state: 'detached' });
  await tab2.waitForFunction(() => document.title === 'Banter');
  await tab2.reload();
  await roomButton(tab2, 'news').waitFor();
  await tab2.waitForTimeout(300);
  assert.equal(await roomButton(tab2, 'news').locator('.unread').count(), 0);
  await tab2.close();
  await openRoom(a, 'general');
  amy.assertClean();
});

test('a mention and a direct message raise desktop notifications while the tab is hidden', async () => {
  const a = amy.page;
  await amy.context.grantPermissions(['notifications'], { origin: server.url });
  assert.equal(await a.evaluate(() => window.__asked), 0, 'no permission asked on load');
  await a.getByRole('button', { name: 'Turn on desktop notifications' }).click();
  await a.getByRole('button', { name: 'Turn on desktop notifications' }).waitFor({ state: 'hidden' });
  assert.equal(await a.evaluate(() => window.__asked), 1);

  await setHidden(a, true);
  const b = bob.page;
  await openRoom(b, 'general');
  await send(b, 'no mention here');
  await send(b, 'look @amy');
  await a.waitForFunction(() => window.__notes.length >= 1);
  const dm = (await roomNames(b)).find((n) => n.startsWith('dm-'));
  await roomButton(b, dm).click();
  await send(b, 'psst');
  await a.waitForFunction(() => window.__notes.length >= 2);
  await a.waitForTimeout(300);
  const notes = await a.evaluate(() => window.__notes);
  assert.deepEqual(notes, [
    { title: 'bob in general', body: 'look @amy' },
    { title: 'bob', body: 'psst' },
  ]);
  // Nothing while the tab is on screen.
  await setHidden(a, false);
  await send(b, 'seen live');
  await a.waitForTimeout(500);
  assert.equal((await a.evaluate(() => window.__notes)).length, 2);
  amy.assertClean();
});
