// A server with thousands of rooms: the page draws other rooms a page at a
// time, loads more on demand, and narrows them by what is typed in the
// join form (docs/protocol.md, `GET /api/rooms`).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { io } from 'socket.io-client';
import { guestViaUi, holdRequests, launchBrowser, openPage, startServer } from './helpers.mjs';

const ROOMS = 1200;
const PAGE = 50;

let server;
let browser;

async function makeRooms(url, count) {
  const res = await fetch(`${url}/api/auth/guest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'builder' }),
  });
  const { token } = await res.json();
  const socket = io(url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const names = Array.from({ length: count }, (_, i) => `r-${String(i).padStart(4, '0')}`);
  for (let i = 0; i < names.length; i += 100) {
    await Promise.all(names.slice(i, i + 100).map((room) => socket.timeout(10_000).emitWithAck('join', { room })));
  }
  socket.close();
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await makeRooms(server.url, ROOMS);
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

test('the room list draws one page of other rooms, loads more on demand, and searches', async () => {
  const { page, assertClean, close } = await openPage(browser, server.url);
  await guestViaUi(page, 'browser');
  const others = page.locator('#other-room-list li');
  const more = page.getByRole('button', { name: 'More rooms' });
  await others.first().waitFor();
  await more.waitFor();
  // one page (less the rooms already joined, here general), never all
  const first = await others.count();
  assert.ok(first > 0 && first <= PAGE, `${first} of ${ROOMS} rooms drawn`);
  assert.equal(await others.first().textContent(), '#r-0000');

  await more.click();
  await page.waitForFunction((n) => document.querySelectorAll('#other-room-list li').length > n, first);
  const second = await others.count();
  assert.ok(second <= 2 * PAGE, `${second} rooms drawn after one more page`);
  assert.equal(await others.last().textContent(), `#r-${String(second - 1).padStart(4, '0')}`);

  await page.getByLabel('Join or create a room').fill('r-11');
  await page.waitForFunction(() => {
    const items = [...document.querySelectorAll('#other-room-list li')];
    return items.length > 0 && items.every((li) => li.textContent.includes('r-11'));
  });
  assert.equal(await others.count(), PAGE, 'the first page of r-1100 to r-1199');
  assert.equal(await others.first().textContent(), '#r-1100');
  assert.equal(await more.isVisible(), true, 'a second page of matches');
  assertClean();
  await close();
});

test('a room the user is in leaves the list of other rooms, even when that list came first', async () => {
  // The page asks for the other rooms when its socket connects, and for the
  // user's own rooms when it starts; hold the latter until the former has
  // been drawn, so that "general" is first drawn among the others.
  const visit = await openPage(browser, 'about:blank');
  const { page } = visit;
  const answer = await holdRequests(page, '**/api/me/rooms');
  await page.goto(server.url);
  await guestViaUi(page, 'late');
  const others = page.locator('#other-room-list li');
  await page.locator('#other-room-list li', { hasText: /^#general$/ }).waitFor();
  answer();
  await page.locator('#room-list li', { hasText: 'general' }).first().waitFor();
  await page.waitForFunction(
    () => ![...document.querySelectorAll('#other-room-list li')].some((li) => li.textContent === '#general'),
  );
  assert.equal(await others.first().textContent(), '#r-0000');
  visit.assertClean();
  await visit.close();
});

