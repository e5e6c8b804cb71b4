// A 360×740 phone screen: the panels hide behind buttons and chat still works.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  expectMessageOnce, guestViaUi, launchBrowser, openPage, screenshot, send, startServer,
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

test('a 360 px wide screen can open rooms and members and send', async () => {
  const phone = await openPage(browser, server.url, { viewport: { width: 360, height: 740 } });
  const p = phone.page;
  await screenshot(p, 'mobile-signin');
  await guestViaUi(p, 'hana');

  // panels are closed: the conversation has the whole width
  const rooms = p.locator('#rooms-panel');
  const members = p.locator('#members-panel');
  assert.equal(await rooms.isVisible(), false);
  assert.equal(await members.isVisible(), false);
  const noHorizontalScroll = await p.evaluate(() => document.documentElement.scrollWidth <= 360);
  assert.ok(noHorizontalScroll, 'no horizontal scrolling');

  // the rooms drawer: open by button, join a room, it closes by itself
  await p.getByRole('button', { name: 'Rooms' }).click();
  await rooms.waitFor({ state: 'visible' });
  await screenshot(p, 'mobile-rooms');
  await p.getByLabel('Join or create a room').fill('phones');
  await p.getByRole('button', { name: 'Join room' }).click();
  await p.locator('#room-title', { hasText: '#phones' }).waitFor();
  await rooms.waitFor({ state: 'hidden' });

  const longWord = 'Supercalifragilisticexpialidocious'.repeat(4);
  await send(p, `Hello from a small screen! ${longWord}`);
  await expectMessageOnce(p, `Hello from a small screen! ${longWord}`);
  assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 360), 'long words wrap');
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'composer-input', 'focus stays in the composer');

  // the members drawer, closed again with Escape
  await p.getByRole('button', { name: 'Members' }).click();
  await members.waitFor({ state: 'visible' });
  await members.locator('.member[data-name="hana"]').waitFor();
  await screenshot(p, 'mobile-members');
  await p.keyboard.press('Escape');
  await members.waitFor({ state: 'hidden' });
  await screenshot(p, 'mobile-chat');

  phone.assertClean();
  await phone.close();
});

test('the dark theme follows the system setting', async () => {
  const night = await openPage(browser, server.url, { colorScheme: 'dark' });
  const p = night.page;
  await guestViaUi(p, 'noor');
  await send(p, 'Late night message, easy on the eyes.');
  await expectMessageOnce(p, 'Late night message, easy on the eyes.');
  const background = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = background.match(/\d+/g).map(Number);
  assert.ok(r + g + b < 150, `dark background (${background})`);
  await screenshot(p, 'desktop-dark');
  night.assertClean();
  await night.close();
});
