// Where WebSocket is blocked (a proxy without the upgrade headers, a network
// that drops it), the page falls back to long-polling and chats as usual.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  expectMessageOnce, guestViaUi, joinRoom, launchBrowser, openPage, send, startServer,
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

/** Every WebSocket the page opens goes to a port where nothing listens. */
function blockWebSocket() {
  const Real = window.WebSocket;
  window.WebSocket = class extends Real {
    constructor(_url, protocols) {
      super('ws://127.0.0.1:9/blocked', protocols);
    }
  };
}

test('with WebSocket blocked the page chats over long-polling', async () => {
  const blocked = await openPage(browser, server.url, { initScript: blockWebSocket });
  const open = await openPage(browser, server.url);
  const polls = [];
  blocked.page.on('request', (req) => {
    if (/\/socket\.io\/.*transport=polling.*sid=/.test(req.url())) polls.push(req.method());
  });
  // Chromium logs each blocked attempt (the page's CSP refuses the address).
  blocked.expectConsoleError(/.*/, /'ws:\/\/127\.0\.0\.1:9\/blocked'/);

  await guestViaUi(blocked.page, 'walled');
  await guestViaUi(open.page, 'free');
  await joinRoom(blocked.page, 'fallback');
  await joinRoom(open.page, 'fallback');
  await send(blocked.page, 'sent over polling');
  await expectMessageOnce(open.page, 'sent over polling');
  await send(open.page, 'and received over polling');
  await expectMessageOnce(blocked.page, 'and received over polling');

  assert.ok(polls.includes('POST'), `the page sent over polling: ${polls.join(' ')}`);
  assert.ok(polls.includes('GET'), `the page received over polling: ${polls.join(' ')}`);
  blocked.assertClean();
  open.assertClean();
  await blocked.close();
  await open.close();
});
