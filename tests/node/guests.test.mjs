// Departed guests are removed a grace period (--guest-grace-secs) after
// their last session ends: the operator's command line no longer finds them,
// their name is free, and the messages they wrote stay in history under
// their name. Guests still signed in are kept.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { adminCli, adminOk } from './admin-cli.mjs';
import { closeAllSockets, connect, guest, guestSocket, logout, ok, rname, sleep, uname } from './helpers.mjs';
import { startServer } from './server.mjs';

/** Sweeps come every second at this grace (src/store/guests.rs). */
const GRACE_SECS = 1;
/** Grace, a sweep, and time to spare on a loaded machine. */
const REMOVED_WITHIN_MS = 10_000;

let server;
let url;
let dir;

before(async () => {
  server = await startServer({ args: ['--guest-grace-secs', String(GRACE_SECS)] });
  url = server.url;
  dir = server.dataDir;
});

after(async () => {
  closeAllSockets();
  await server?.dispose();
});

/** Waits until `banter admin sessions NAME` says there is no such user. */
async function waitUntilRemoved(name) {
  const deadline = Date.now() + REMOVED_WITHIN_MS;
  for (;;) {
    const r = await adminCli(dir, ['sessions', name]);
    if (r.code === 1 && /no such user/.test(r.stderr)) return;
    assert.ok(Date.now() < deadline, `${name} still there after ${REMOVED_WITHIN_MS} ms: exit ${r.code} ${r.stdout}${r.stderr}`);
    await sleep(250);
  }
}

test('a guest who logged out is removed after the grace period, and their messages keep their name', async (t) => {
  const room = rname('guests');
  const wren = await guest(url, uname('wren'));
  const quiet = await guest(url, uname('quiet'));
  const staying = await guestSocket(url, t, 'stay');
  await ok(staying.socket, 'join', { room });

  const socket = await connect(url, wren.token, {}, t);
  await ok(socket, 'join', { room });
  const { message } = await ok(socket, 'send', { room, text: 'still here after I go' });
  socket.disconnect();
  assert.equal((await logout(url, wren.token)).status, 204);
  assert.equal((await logout(url, quiet.token)).status, 204);

  await waitUntilRemoved(quiet.name);
  await waitUntilRemoved(wren.name);
  // Past several sweeps, the guest still signed in is still there.
  await sleep(2 * GRACE_SECS * 1000);
  const listed = await adminOk(dir, ['sessions', staying.name]);
  assert.equal(listed.stdout.trim().split('\n').length, 2, listed.stdout);

  const history = (await ok(staying.socket, 'history', { room })).messages;
  assert.equal(history.length, 1);
  assert.equal(history[0].id, message.id);
  assert.equal(history[0].text, 'still here after I go');
  assert.deepEqual(history[0].author, wren.user);

  // The name is free, and whoever takes it is a new user.
  const again = await guest(url, wren.name);
  assert.notEqual(again.user.id, wren.user.id);
  assert.ok(again.user.id > quiet.user.id, 'a removed guest id is never handed out again');
});
