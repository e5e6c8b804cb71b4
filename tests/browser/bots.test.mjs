// Bots and integrations on the page (issue #11): the Tokens panel (create
// with a name, the secret shown once with a copy button, the list, revoke)
// the room's Webhooks section, and the "bot" badge on a webhook's message.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  guestViaUi, joinRoom, openPage, registerViaUi, screenshot, useServerAndBrowser,
} from './helpers.mjs';

const env = useServerAndBrowser();

/** An HTTP call from the test itself (no browser, no cookie). */
async function call(path, { method = 'GET', token, json } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (json) headers['content-type'] = 'application/json';
  const res = await fetch(env.server.url + path, { method, headers, body: json ? JSON.stringify(json) : undefined });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

test('the Tokens panel makes a token shown once, lists it and revokes it', async () => {
  const { page, assertClean, close } = await openPage(env.browser, env.server.url);
  await registerViaUi(page, 'tokenuser', 'correct-horse-battery');
  const toggle = page.getByRole('button', { name: 'Tokens' });
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await page.locator('#token-list', { hasText: 'No tokens yet.' }).waitFor();

  await page.getByLabel("New token's name").fill('<b>ci</b> bot');
  await page.locator('#token-form').getByRole('button', { name: 'Create' }).click();
  const secret = page.getByLabel('The token <b>ci</b> bot');
  await secret.waitFor();
  const token = await secret.inputValue();
  assert.match(token, /^bnt_[A-Za-z0-9_-]{43}$/);
  await page.getByRole('button', { name: 'Copy' }).click();
  await page.locator('.token-copied', { hasText: /Copied|Selected/ }).waitFor();
  // The name is text, not markup.
  const item = page.locator('#token-list .token-item');
  await item.waitFor();
  assert.equal(await item.locator('.token-name').textContent(), '<b>ci</b> bot');
  assert.equal(await page.locator('#token-list b').count(), 0);
  await screenshot(page, 'bots-tokens-panel');

  // It is a real token, and the list never shows its secret.
  assert.equal((await call('/api/me', { token })).body.user.name, 'tokenuser');
  assert.ok(!(await page.locator('#token-list').textContent()).includes(token));

  // Closing the panel forgets the secret; it is not shown again.
  await toggle.click();
  await toggle.click();
  assert.equal(await page.locator('#token-secret input').count(), 0);

  await page.getByRole('button', { name: 'Revoke <b>ci</b> bot' }).click();
  await page.locator('#token-list', { hasText: 'No tokens yet.' }).waitFor();
  assert.equal((await call('/api/me', { token })).status, 401);
  assertClean();
  await close();
});

test('a guest has no Tokens panel', async () => {
  const { page, assertClean, close } = await openPage(env.browser, env.server.url);
  await guestViaUi(page, 'tokenguest');
  assert.equal(await page.locator('#tokens-toggle').isHidden(), true);
  assertClean();
  await close();
});

test('a webhook made in the room\'s panel posts with a "bot" badge, a person\'s message has none; revoked there', async () => {
  const { page, assertClean, close } = await openPage(env.browser, env.server.url);
  await registerViaUi(page, 'hookowner', 'correct-horse-battery');
  await joinRoom(page, 'deploys');
  // The room's Webhooks section (in the members panel) makes one.
  await page.getByRole('button', { name: 'Webhooks' }).click();
  await page.getByLabel("New webhook's name").fill('deploybot');
  await page.locator('#webhook-form').getByRole('button', { name: 'Create' }).click();
  const field = page.getByLabel('The URL of the webhook deploybot');
  await field.waitFor();
  const full = await field.inputValue();
  assert.ok(full.startsWith(`${env.server.url}/hooks/`), full);
  const hook = { url: full.slice(env.server.url.length) };
  await page.locator('#webhook-list .token-item', { hasText: 'deploybot' }).waitFor();
  const posted = await call(hook.url, { method: 'POST', json: { text: 'v1.2.3 is live' } });
  assert.equal(posted.status, 201, JSON.stringify(posted.body));

  const message = page.locator('#message-list .msg', { hasText: 'v1.2.3 is live' });
  await message.waitFor();
  await message.locator('.tag-bot', { hasText: 'bot' }).waitFor();
  assert.equal(await message.locator('.msg-author').textContent(), 'deploybot');

  const input = page.getByLabel('Message', { exact: true });
  await input.fill('thanks, bot');
  await input.press('Enter');
  const mine = page.locator('#message-list .msg', { hasText: 'thanks, bot' });
  await mine.waitFor();
  assert.equal(await mine.locator('.tag-bot').count(), 0);
  await screenshot(page, 'bots-badge');

  await page.getByRole('button', { name: 'Revoke the webhook deploybot' }).click();
  await page.locator('#webhook-list .token-item').waitFor({ state: 'detached' });
  assert.equal((await call(hook.url, { method: 'POST', json: { text: 'gone' } })).status, 404);
  assertClean();
  await close();
});

test('behind the sample nginx site, a webhook posts through the proxy and its secret stays out of the access log', async (t) => {
  const { api, connect, ok } = await import('../node/helpers.mjs');
  const { startServer } = await import('./helpers.mjs');
  const { behindNginx, freePort, startNginx } = await import('./nginx.mjs');
  const httpsPort = await freePort();
  const server = await startServer({ args: behindNginx(httpsPort) });
  t.after(() => server.dispose());
  const proxy = await startNginx({ httpsPort, upstreams: [new URL(server.url).host] });
  t.after(() => proxy.dispose());

  const owner = await api(server.url, '/api/auth/register', { json: { username: 'nginxhook', password: 'correct-horse-battery' } });
  assert.equal(owner.status, 201, owner.text);
  const socket = await connect(server.url, owner.body.token);
  t.after(() => socket.close());
  await ok(socket, 'join', { room: 'ops' });
  const hook = await api(server.url, '/api/rooms/ops/webhooks', { json: { name: 'opsbot' }, token: owner.body.token });
  assert.equal(hook.status, 201, hook.text);
  const secret = hook.body.url.split('/').at(-1);

  const posted = await api(proxy.url, hook.body.url, { json: { text: 'through nginx' }, request: { ca: proxy.ca } });
  assert.equal(posted.status, 201, posted.text);
  assert.equal(posted.body.message.author.bot, true);
  const log = await proxy.waitForLog(new RegExp(`"POST /hooks/${hook.body.id}/\\[secret\\] HTTP/1\\.1" 201 `));
  assert.ok(!log.includes(secret), 'the secret is not in the access log');
});
