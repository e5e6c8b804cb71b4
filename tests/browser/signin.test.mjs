// The sign-in screen: clear errors, sessions that survive a reload, log out.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  guestViaUi, launchBrowser, openPage, registerViaUi, screenshot, startServer, waitConnected,
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

const error = (page) => page.locator('#signin-error');

test('wrong password, taken name and invalid names get clear messages', async () => {
  const visit = await openPage(browser, server.url);
  const p = visit.page;
  await screenshot(p, 'signin');
  await registerViaUi(p, 'ivy', 'ivy-password-1');

  // a reload keeps the session
  await p.reload();
  await waitConnected(p);
  assert.equal(await p.locator('#me-name').textContent(), 'ivy');

  // log out: back to the sign-in screen, and it stays that way after a reload
  await p.getByRole('button', { name: 'Log out' }).click();
  await p.locator('#signin').waitFor();
  await p.reload();
  await p.locator('#signin').waitFor();

  visit.expectConsoleError(/\/api\/auth\/login$/, /status of 401/);
  await p.getByLabel('Name', { exact: true }).fill('ivy');
  await p.getByLabel('Password').fill('not-the-password');
  await p.getByRole('button', { name: 'Sign in' }).click();
  await error(p).filter({ hasText: 'Wrong name or password.' }).waitFor();

  visit.expectConsoleError(/\/api\/auth\/register$/, /status of 409/);
  await p.getByRole('button', { name: 'Create account' }).click();
  await error(p).filter({ hasText: 'That name is taken' }).waitFor();

  visit.expectConsoleError(/\/api\/auth\/register$/, /status of 400/);
  await p.getByLabel('Name', { exact: true }).fill('no spaces allowed');
  await p.getByRole('button', { name: 'Create account' }).click();
  await error(p).filter({ hasText: /name/i }).waitFor();
  assert.notEqual(await error(p).textContent(), '');
  await screenshot(p, 'signin-error');

  // the right password works
  await p.getByLabel('Name', { exact: true }).fill('ivy');
  await p.getByLabel('Password').fill('ivy-password-1');
  await p.getByRole('button', { name: 'Sign in' }).click();
  await waitConnected(p);

  visit.assertClean();
  await visit.close();
});

test('a guest name in use is refused', async () => {
  const one = await openPage(browser, server.url);
  const two = await openPage(browser, server.url);
  await guestViaUi(one.page, 'jade');
  two.expectConsoleError(/\/api\/auth\/guest$/, /status of 409/);
  await two.page.getByLabel('Guest name').fill('jade');
  await two.page.getByRole('button', { name: 'Continue as guest' }).click();
  await error(two.page).filter({ hasText: 'That name is taken' }).waitFor();
  one.assertClean();
  two.assertClean();
  await one.close();
  await two.close();
});

test('when guests are disabled the guest option goes away', async () => {
  const noGuests = await startServer({ args: ['--guests', 'false'] });
  try {
    const visit = await openPage(browser, noGuests.url);
    const p = visit.page;
    visit.expectConsoleError(/\/api\/auth\/guest$/, /status of 403/);
    await p.getByLabel('Guest name').fill('kim');
    await p.getByRole('button', { name: 'Continue as guest' }).click();
    await error(p).filter({ hasText: 'Guest access is turned off' }).waitFor();
    assert.equal(await p.locator('#guest-section').isVisible(), false);
    visit.assertClean();
    await visit.close();
  } finally {
    await noGuests.dispose();
  }
});
