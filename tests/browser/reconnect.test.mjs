// The server restarts mid-conversation: pages reconnect, rejoin, catch up on
// what they missed (exactly once), and deliver what was typed meanwhile.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  expectMessageOnce, guestViaUi, launchBrowser, messageTexts, openPage, registerViaUi,
  screenshot, send, startServer, waitConnected,
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

test('a server restart loses nothing and duplicates nothing', async () => {
  const erin = await openPage(browser, server.url);
  const frank = await openPage(browser, server.url);
  const e = erin.page;
  const f = frank.page;
  await registerViaUi(e, 'erin', 'erin-password-1');
  await guestViaUi(f, 'frank');
  await send(e, 'before the restart');
  await expectMessageOnce(f, 'before the restart');

  // Erin drops off the network, so Frank can talk while she is away.
  await erin.context.setOffline(true);
  erin.outageStarted();
  frank.outageStarted();
  await e.locator('#conn-status[data-state="offline"]').waitFor();

  const port = new URL(server.url).port;
  await server.stop();
  await f.locator('#conn-status:not([data-state="connected"])').waitFor();

  // typed while the server is down: shown as pending, sent later
  await send(e, 'typed while offline');
  await send(f, 'typed while the server was down');
  await e.locator('#pending-list .pending', { hasText: 'typed while offline' }).waitFor();
  await f.locator('#pending-list .pending', { hasText: 'typed while the server was down' }).waitFor();
  await screenshot(f, 'reconnecting');

  server = await startServer({ dataDir: server.dataDir, args: ['--bind', `127.0.0.1:${port}`] });
  await waitConnected(f);
  frank.outageEnded();
  await expectMessageOnce(f, 'typed while the server was down');
  await f.locator('#pending-list .pending').waitFor({ state: 'detached' });
  for (const text of ['missed one', 'missed two', 'missed three']) await send(f, text);
  await expectMessageOnce(f, 'missed three');

  // Erin comes back: everything Frank said meanwhile, once, in order
  await erin.context.setOffline(false);
  await waitConnected(e);
  erin.outageEnded();
  for (const text of ['typed while the server was down', 'missed one', 'missed two', 'missed three', 'typed while offline']) {
    await expectMessageOnce(e, text);
  }
  await e.locator('#pending-list .pending').waitFor({ state: 'detached' });
  await expectMessageOnce(f, 'typed while offline');
  const texts = await messageTexts(e);
  assert.deepEqual(texts.slice(texts.indexOf('before the restart')), [
    'before the restart', 'typed while the server was down', 'missed one', 'missed two', 'missed three',
    'typed while offline',
  ]);

  // and the conversation simply goes on
  await send(f, 'welcome back');
  await expectMessageOnce(e, 'welcome back');
  await screenshot(e, 'after-restart');

  erin.assertClean();
  frank.assertClean();
  await erin.close();
  await frank.close();
});

test('a failed send shows an error and can be retried with the same client_id', async () => {
  const gina = await openPage(browser, server.url);
  const g = gina.page;
  await guestViaUi(g, 'gina');
  // 4001 characters: the server refuses it (invalid_text), nothing is stored
  const tooLong = 'x'.repeat(4001);
  await g.locator('#composer-input').evaluate((el, text) => {
    el.removeAttribute('maxlength');
    el.value = text;
  }, tooLong);
  await g.locator('#composer-input').press('Enter');
  const failed = g.locator('#pending-list .pending.failed');
  await failed.waitFor();
  assert.match(await failed.locator('.msg-status').textContent(), /Not sent/);
  const clientId = await failed.getAttribute('data-client-id');
  await failed.getByRole('button', { name: 'Retry' }).click();
  await g.locator(`#pending-list .pending.failed[data-client-id="${clientId}"]`).waitFor();
  await failed.getByRole('button', { name: 'Discard' }).click();
  await failed.waitFor({ state: 'detached' });
  assert.equal(await g.locator('#message-list .msg-text', { hasText: 'xxxx' }).count(), 0);
  gina.assertClean();
  await gina.close();
});
