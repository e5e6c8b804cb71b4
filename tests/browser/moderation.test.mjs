// An admin and a member: deleting messages, muting, unmuting and banning,
// each seen from both sides. The operator makes the admin (`banter admin`).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  expectMessageOnce, joinRoom, launchBrowser, openPage, openRoom, registerAdminViaUi, registerViaUi, screenshot, send,
  startServer,
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

const message = (page, text) => page.locator('#message-list .msg', { has: page.locator('.msg-text', { hasText: text }) });
const member = (page, name) => page.locator(`#member-list .member[data-name="${name}"]`);

/** Waits until `text` is gone from the page's conversation. */
async function expectGone(page, text) {
  await message(page, text).waitFor({ state: 'detached' });
}

test('admins delete, mute, unmute and ban; members delete only their own', async () => {
  const root = await openPage(browser, server.url);
  const bob = await openPage(browser, server.url);
  const r = root.page;
  const b = bob.page;

  // Admins are made by the operator (`banter admin`).
  await registerAdminViaUi(r, server, 'root', 'root-password-1');
  await registerViaUi(b, 'bob', 'bob-password-1');
  await joinRoom(r, 'mod');
  await joinRoom(b, 'mod');
  await member(r, 'bob').waitFor();

  for (const [page, text] of [[b, 'bob one'], [b, 'bob two'], [b, 'bob three'], [r, 'root here']]) {
    await send(page, text);
    await expectMessageOnce(page === r ? b : r, text);
  }

  // a member: Delete on their own messages only, no moderation of members
  assert.equal(await message(b, 'bob one').locator('.msg-actions button', { hasText: 'Delete' }).count(), 1);
  assert.equal(await message(b, 'root here').locator('.msg-actions').count(), 0);
  assert.equal(await b.locator('#member-list .member-actions').count(), 0);

  // bob deletes his own message with the keyboard: Delete, then confirm
  await message(b, 'bob one').getByRole('button', { name: 'Delete' }).focus();
  await b.keyboard.press('Enter');
  await message(b, 'bob one').getByText('Delete this message?').waitFor();
  await b.keyboard.press('Escape'); // backs out, nothing happens
  await message(b, 'bob one').getByText('Delete this message?').waitFor({ state: 'detached' });
  await b.keyboard.press('Enter');
  await b.keyboard.press('Enter');
  await expectGone(b, 'bob one');
  await expectGone(r, 'bob one');

  // the admin deletes one of bob's messages
  await message(r, 'bob two').hover();
  await message(r, 'bob two').getByRole('button', { name: 'Delete' }).click();
  await message(r, 'bob two').getByRole('group', { name: 'Delete this message?' })
    .getByRole('button', { name: 'Delete', exact: true }).click();
  await expectGone(r, 'bob two');
  await expectGone(b, 'bob two');
  // what is left still reads right: bob's remaining message heads its own group
  assert.equal(await message(r, 'bob three').locator('.msg-author').textContent(), 'bob');

  // a deletion in a room bob is not looking at: gone from its cached list,
  // and its unread count drops with it
  await openRoom(r, 'general');
  await send(r, 'oops, wrong room');
  await expectMessageOnce(r, 'oops, wrong room');
  await b.waitForFunction(() => document.title === '(1) Banter');
  await message(r, 'oops, wrong room').hover();
  await message(r, 'oops, wrong room').getByRole('button', { name: 'Delete' }).click();
  await message(r, 'oops, wrong room').getByRole('button', { name: 'Delete', exact: true }).click();
  await expectGone(r, 'oops, wrong room');
  await b.waitForFunction(() => document.title === 'Banter');
  await openRoom(b, 'general');
  assert.equal(await message(b, 'oops, wrong room').count(), 0);
  await openRoom(b, 'mod');
  await openRoom(r, 'mod');

  // the admin sees moderation actions on bob, none on themselves
  assert.equal(await member(r, 'root').locator('.member-actions').count(), 0);
  await member(r, 'bob').getByRole('button', { name: 'Ban bob' }).waitFor();

  // mute: both sides are told; bob's send is refused with the mute's end
  await member(r, 'bob').getByRole('button', { name: 'Mute 10 min, bob' }).click();
  await r.locator('#message-list .notice', { hasText: /bob was muted until \d/ }).waitFor();
  await b.locator('#message-list .notice', { hasText: /You were muted until \d/ }).waitFor();
  await b.locator('#composer-notice', { hasText: /You are muted in #mod until \d/ }).waitFor();
  await send(b, 'can you hear me');
  const failed = b.locator('#pending-list .pending.failed');
  await failed.locator('.msg-status', { hasText: /You are muted in #mod until \d/ }).waitFor();
  assert.equal(await failed.getByRole('button', { name: 'Retry' }).count(), 0, 'no retry while muted');

  // how the actions look, light and dark
  await message(r, 'bob three').hover();
  await screenshot(r, 'moderation-admin');
  await r.emulateMedia({ colorScheme: 'dark' });
  await member(r, 'bob').getByRole('button', { name: 'Ban bob' }).click();
  await message(r, 'bob three').hover();
  await screenshot(r, 'moderation-admin-dark');
  await member(r, 'bob').getByRole('button', { name: 'Cancel' }).click();
  await r.emulateMedia({ colorScheme: 'light' });
  await b.emulateMedia({ colorScheme: 'dark' });
  await screenshot(b, 'moderation-muted-dark');
  await b.emulateMedia({ colorScheme: 'light' });
  await screenshot(b, 'moderation-muted');

  // unmute: bob can talk again
  await failed.getByRole('button', { name: 'Discard' }).click();
  await member(r, 'bob').getByRole('button', { name: 'Unmute bob' }).click();
  await b.locator('#message-list .notice', { hasText: 'You were unmuted' }).waitFor();
  await r.locator('#message-list .notice', { hasText: 'bob was unmuted' }).waitFor();
  await b.locator('#composer-notice').waitFor({ state: 'hidden' });
  await send(b, 'back again');
  await expectMessageOnce(r, 'back again');

  // ban (after a confirm): bob's page ends up on the sign-in screen
  await member(r, 'bob').getByRole('button', { name: 'Ban bob' }).click();
  await member(r, 'bob').getByRole('button', { name: 'Ban', exact: true }).click();
  await b.locator('#signin').waitFor();
  await b.locator('#signin-error', { hasText: 'session has ended' }).waitFor();
  await r.locator('#message-list .notice', { hasText: 'bob left' }).waitFor();

  // and bob cannot come back
  bob.expectConsoleError(/\/api\/auth\/login$/, /status of 403/);
  await b.getByLabel('Name', { exact: true }).fill('bob');
  await b.getByLabel('Password').fill('bob-password-1');
  await b.getByRole('button', { name: 'Sign in' }).click();
  await b.locator('#signin-error', { hasText: /banned/i }).waitFor();

  root.assertClean();
  bob.assertClean();
  await root.close();
  await bob.close();
});
