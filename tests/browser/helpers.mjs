// Shared helpers for the browser tests: Debian's Chromium driven by
// playwright-core (never a downloaded browser), pages that record every
// console error, and the few UI steps every scenario repeats.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { io } from 'socket.io-client';
import { adminOk } from '../node/admin-cli.mjs';
import { startServer } from '../node/server.mjs';

export { startServer };

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const screenshotDir = path.join(repoRoot, 'target', 'browser-screenshots');
mkdirSync(screenshotDir, { recursive: true });

const LAUNCH_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** The system's Chromium, headless; `args` are added to the usual switches. */
export function launchBrowser({ args = [] } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [...LAUNCH_ARGS, ...args],
  });
}

/**
 * One server and one browser for a whole test file: started before its
 * first test, stopped after its last. Tests read `env.server` and
 * `env.browser`; `serverOptions` go to startServer.
 */
export function useServerAndBrowser(serverOptions) {
  const env = { server: null, browser: null };
  before(async () => {
    env.server = await startServer(serverOptions);
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.dispose();
  });
  return env;
}

// Chrome logs every non-2xx answer as a console error ("Failed to load
// resource"). The page never provokes one in normal use (it asks
// /api/session, which answers 200 signed in or not); a test that provokes
// one on purpose (a wrong password) must declare it.
const ALWAYS_EXPECTED = [];

// What Chrome logs while the server is unreachable.
const NETWORK_ERROR = /ERR_CONNECTION_REFUSED|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|ERR_NETWORK_CHANGED|WebSocket connection to .* failed|WebSocket is closed before/;
const OUTAGE_SLACK_MS = 3_000;

/**
 * A new browser context with one page. Every console error, page error and
 * dialog is recorded; `assertClean()` fails the test if any was not
 * expected.
 */
/** `initScript` runs in the page before its own scripts (e.g. to break WebSocket). */
export async function openPage(browser, url, { viewport = { width: 1280, height: 800 }, colorScheme = 'light', initScript } = {}) {
  const context = await browser.newContext({ viewport, colorScheme });
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  const problems = [];
  const expected = [...ALWAYS_EXPECTED];
  const outages = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push({ kind: 'console', text: msg.text(), url: msg.location().url, at: Date.now() });
  });
  page.on('pageerror', (error) => problems.push({ kind: 'pageerror', text: String(error), url: '', at: Date.now() }));
  page.on('dialog', (dialog) => {
    problems.push({ kind: 'dialog', text: dialog.message(), url: '', at: Date.now() });
    dialog.dismiss().catch(() => {});
  });
  const response = await page.goto(url);

  return {
    context,
    page,
    /** The answer the page was loaded with. */
    response,
    problems,
    /** Allows a console error (an HTTP error status the test provokes on purpose). */
    expectConsoleError(urlPattern, textPattern) {
      expected.push({ url: urlPattern, text: textPattern });
    },
    /** From now until outageEnded(), network errors are expected (the server is down). */
    outageStarted() {
      outages.push([Date.now(), Infinity]);
    },
    outageEnded() {
      outages[outages.length - 1][1] = Date.now();
    },
    assertClean() {
      const unexpected = problems.filter((p) => !isExpected(p, expected, outages));
      assert.deepEqual(unexpected, [], 'unexpected browser console errors, page errors or dialogs');
    },
    close: () => context.close(),
  };
}

function isExpected(problem, expected, outages) {
  if (problem.kind !== 'console') return false;
  if (expected.some((e) => e.url.test(problem.url) && e.text.test(problem.text))) return true;
  return NETWORK_ERROR.test(problem.text)
    && outages.some(([start, end]) => problem.at >= start && problem.at <= end + OUTAGE_SLACK_MS);
}

// ---- UI steps ----------------------------------------------------------------

export async function registerViaUi(page, name, password) {
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await waitConnected(page);
}

/**
 * Registers, then has the operator make the account an admin (`banter
 * admin grant-admin`) and reloads so the page picks it up.
 */
export async function registerAdminViaUi(page, server, name, password) {
  await registerViaUi(page, name, password);
  await adminOk(server.dataDir, ['grant-admin', name]);
  await page.reload();
  await waitConnected(page);
}

export async function guestViaUi(page, name) {
  await page.getByLabel('Guest name').fill(name);
  await page.getByRole('button', { name: 'Continue as guest' }).click();
  await waitConnected(page);
}

/**
 * Holds the page's requests that match `glob` until the returned function
 * is called; then they go on to the server.
 * @returns {Promise<() => void>}
 */
export async function holdRequests(page, glob) {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route(glob, async (route) => {
    await held;
    await route.continue();
  });
  return release;
}

export async function waitConnected(page) {
  await page.locator('#conn-status[data-state="connected"]').waitFor();
}

export async function joinRoom(page, name) {
  await page.getByLabel('Join or create a room').fill(name);
  await page.getByRole('button', { name: 'Join room' }).click();
  await page.locator('#room-title', { hasText: `#${name}` }).waitFor();
}

export async function openRoom(page, name) {
  await page.locator('#room-list .room-btn', { hasText: name }).click();
  await page.locator('#room-title', { hasText: `#${name}` }).waitFor();
}

export async function send(page, text) {
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(text);
  // A text ending in `@name` opens the list of people to mention, where
  // Enter would pick a name instead of sending: close it first.
  if (await page.locator('#mention-list').isVisible()) await input.press('Escape');
  await input.press('Enter');
}

/** Confirmed messages (not pending ones) in the open room, as text. */
export function messageTexts(page) {
  return page.locator('#message-list .msg-text').allTextContents();
}

/** Waits until `text` is shown as a confirmed message, then checks it is there exactly once. */
export async function expectMessageOnce(page, text) {
  await page.locator('#message-list .msg-text', { hasText: text }).first().waitFor();
  // give a duplicate (live event + ack + catch-up) the chance to show up
  await page.waitForTimeout(300);
  const texts = await messageTexts(page);
  assert.equal(texts.filter((t) => t === text).length, 1, `"${text}" shown once in ${JSON.stringify(texts)}`);
}

export async function screenshot(page, name) {
  await page.waitForTimeout(250); // let drawer transitions finish
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
}

/** The page's Socket.IO traffic: WebSockets opened (with their received frames) and polling requests. */
export function watchSocketIo(page) {
  const seen = { websockets: [], polls: [] };
  page.on('websocket', (ws) => {
    const entry = { url: ws.url(), received: [] };
    ws.on('framereceived', ({ payload }) => entry.received.push(String(payload)));
    seen.websockets.push(entry);
  });
  page.on('request', (request) => {
    if (request.url().includes('transport=polling')) seen.polls.push(request.url());
  });
  return seen;
}

/**
 * What watchSocketIo saw is one WebSocket to `baseUrl`'s Socket.IO (the
 * page's only socket), on which `heard` arrived as a message frame, and no
 * long-polling request at all.
 */
export function assertOnlyWebSocket(seen, baseUrl, heard, who) {
  const socketUrl = `${baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
  assert.deepEqual(seen.websockets.map((ws) => ws.url), [socketUrl], `${who}'s sockets`);
  assert.ok(
    seen.websockets[0].received.some((frame) => frame.startsWith('42["message"') && frame.includes(heard)),
    `${who} got "${heard}" as a WebSocket frame: ${JSON.stringify(seen.websockets[0].received)}`,
  );
  assert.deepEqual(seen.polls, [], `${who} made no long-polling request`);
}

// ---- Node-client talkers (search, issue #11; message-features.test.mjs and
// keyed.test.mjs have their own copies that could move here)

/**
 * A guest on the official Node client, joined to `room`, in the server at
 * `url`; returns `send(text, extra?)`, resolving with the stored message.
 * The socket is closed by `closeTalkers()`.
 */
export async function talker(url, name, room) {
  const res = await fetch(`${url}/api/auth/guest`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
  });
  assert.equal(res.status, 201);
  const { token } = await res.json();
  const socket = io(url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
  talkers.push(socket);
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  assert.equal((await socket.timeout(5000).emitWithAck('join', { room })).ok, true);
  return async (text, extra = {}) => {
    const ack = await socket.timeout(5000).emitWithAck('send', { room, text, ...extra });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    return ack.message;
  };
}

const talkers = [];

/** Closes every talker's socket. */
export function closeTalkers() {
  for (const socket of talkers.splice(0)) socket.close();
}
