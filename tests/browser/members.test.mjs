// A room bigger than one page of members (100): the panel shows the exact
// count, lists the first page with "Show more" for the rest, follows the
// once-a-second `presence` events that replace joined/left past 20
// members, and starts over from the join answer after a reconnect. The
// other members are guests on plain socket.io-client connections.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { io } from 'socket.io-client';
import {
  launchBrowser, joinRoom, openPage, registerAdminViaUi, screenshot, startServer, waitConnected,
} from './helpers.mjs';

const ROOM = 'big';
const GUESTS = 105; // with the page's user: 106, past one page of 100
const PRESENCE_WITHIN_MS = 2_500; // presence goes out once a second

let server;
let browser;
const sockets = new Map(); // guest name → socket

before(async () => {
  // 100+ sign-ins and sockets from one address: out of the way of the
  // per-address limits (named here, whatever server.mjs defaults to).
  server = await startServer({
    args: [
      '--auth-rate', '100000:100000', '--handshake-rate', '100000:100000',
      '--max-connections-per-ip', '100000', '--join-rate', '100000:100000',
    ],
  });
  browser = await launchBrowser();
});

after(async () => {
  for (const socket of sockets.values()) socket.close();
  await browser?.close();
  await server?.dispose();
});

const guestName = (i) => `g${String(i).padStart(3, '0')}`;
const member = (page, name) => page.locator(`#member-list .member[data-name="${name}"]`);
const listedNames = (page) => page.locator('#member-list .member-name').allTextContents();

/** A guest signed in over HTTP, connected and joined to ROOM. */
async function guestJoins(name) {
  const res = await fetch(`${server.url}/api/auth/guest`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
  });
  assert.equal(res.status, 201, `guest ${name}: ${res.status} ${await res.clone().text()}`);
  const { token } = await res.json();
  const socket = io(server.url, {
    auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 5000,
  });
  sockets.set(name, socket);
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const ack = await socket.timeout(5000).emitWithAck('join', { room: ROOM });
  assert.equal(ack.ok, true, `join ${name}: ${JSON.stringify(ack)}`);
}

function guestLeaves(name) {
  sockets.get(name).close();
  sockets.delete(name);
}

/** Waits until the panel's header and the top bar's badge both say `n`. */
async function expectCount(page, n, timeout) {
  await page.locator('#members-total', { hasText: new RegExp(`^— ${n}$`) }).waitFor({ timeout });
  assert.equal(await page.locator('#members-count').textContent(), String(n));
}

async function expectListed(page, n) {
  await page.waitForFunction((want) => document.querySelectorAll('#member-list .member').length === want, n);
}

test('a room of 106: exact count, a first page of 100, "Show more", presence', async () => {
  const amy = await openPage(browser, server.url);
  const a = amy.page;
  // Admins are made by the operator (`banter admin`).
  await registerAdminViaUi(a, server, 'amy', 'amy-password-1');
  await joinRoom(a, ROOM);

  // Watched live: `joined` events, then `presence` once the room passes 20.
  for (let i = 1; i <= GUESTS; i++) await guestJoins(guestName(i));
  await expectCount(a, 106);
  await expectListed(a, 106);
  assert.equal(await a.locator('#members-more').isVisible(), false);

  // A fresh page knows only the join answer: 100 members and the count.
  const sent = [];
  a.on('websocket', (ws) => ws.on('framesent', ({ payload }) => sent.push(String(payload))));
  await a.reload();
  await waitConnected(a);
  await a.locator('#room-title', { hasText: `#${ROOM}` }).waitFor();
  await expectCount(a, 106);
  await expectListed(a, 100);
  const firstPage = ['amy', ...Array.from({ length: 99 }, (_, i) => guestName(i + 1))];
  assert.deepEqual(await listedNames(a), firstPage);
  assert.equal(await member(a, 'amy').locator('.tag-you').count(), 1);
  await screenshot(a, 'members-big-room');
  const more = a.getByRole('button', { name: 'Show more' });
  await a.locator('#members-more').scrollIntoViewIfNeeded();
  assert.equal(await more.isVisible(), true);
  assert.equal(await a.locator('#members-shown').textContent(), '100 of 106 shown');
  await screenshot(a, 'members-big-room-more');

  // The next page, after the last name of the first, appended once each.
  await more.click();
  await expectListed(a, 106);
  const everyone = ['amy', ...Array.from({ length: GUESTS }, (_, i) => guestName(i + 1))];
  assert.deepEqual(await listedNames(a), everyone);
  await a.locator('#members-more').waitFor({ state: 'hidden' });
  assert.ok(
    sent.some((frame) => /\["members",\{"room":"big","after":"g099"\}\]$/.test(frame)),
    `a members request after g099 among ${JSON.stringify(sent.filter((f) => f.includes('members')))}`,
  );
  // moderation works on the rows of the second page too
  await member(a, 'g105').getByRole('button', { name: 'Ban g105' }).waitFor();
  await member(a, 'g105').getByRole('button', { name: 'Mute 10 min, g105' }).waitFor();
  await member(a, 'g105').scrollIntoViewIfNeeded();
  await screenshot(a, 'members-big-room-all');

  // Past 20 arrivals and departures come as `presence`, within a second or so.
  await guestJoins('g106');
  await expectCount(a, 107, PRESENCE_WITHIN_MS);
  await member(a, 'g106').waitFor({ timeout: PRESENCE_WITHIN_MS });
  guestLeaves('g050');
  await expectCount(a, 106, PRESENCE_WITHIN_MS);
  await member(a, 'g050').waitFor({ state: 'detached', timeout: PRESENCE_WITHIN_MS });
  await expectListed(a, 106);

  // After a reconnect the join answer is the truth again: g001 left meanwhile.
  await amy.context.setOffline(true);
  amy.outageStarted();
  await a.locator('#conn-status[data-state="offline"]').waitFor();
  guestLeaves('g001');
  await amy.context.setOffline(false);
  await waitConnected(a);
  amy.outageEnded();
  await expectCount(a, 105);
  await expectListed(a, 100);
  assert.deepEqual((await listedNames(a)).slice(0, 3), ['amy', 'g002', 'g003']);
  await a.getByRole('button', { name: 'Show more' }).click();
  await expectListed(a, 105);
  assert.equal(await member(a, 'g001').count(), 0);

  amy.assertClean();
  await amy.close();
});
