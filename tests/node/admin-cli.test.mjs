// The operator's command line, `banter admin …`, run as a separate process
// against the data directory of a running server; its effects are checked
// through the API and the server's sockets.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { adminCli, adminOk } from './admin-cli.mjs';
import {
  PASSWORD,
  api,
  assertError,
  closeAllSockets,
  connect,
  guest,
  login,
  ok,
  register,
  rname,
  uname,
  waitForDisconnect,
} from './helpers.mjs';
import { startServer } from './server.mjs';

/** A ban or revocation made from the command line closes sockets within this (docs/operations.md). */
const REVOCATION_BOUND_MS = 2000;

let server;
let url;
let dir;

before(async () => {
  // Every test signs in from 127.0.0.1: no address bans here (moderation.test.mjs tests them).
  server = await startServer({ args: ['--ban-address-secs', '0'] });
  url = server.url;
  dir = server.dataDir;
});

after(async () => {
  closeAllSockets();
  await server?.dispose();
});

async function me(token) {
  return api(url, '/api/me', { token });
}

test('create-user --admin makes an admin who can sign in and ban over a socket', async (t) => {
  const name = uname('op');
  const made = await adminOk(dir, ['create-user', name, '--admin'], 'op-password-1\n');
  assert.match(made.stdout, /created admin/);
  const op = await login(url, name, 'op-password-1');
  assert.equal((await me(op.token)).body.admin, true);
  const room = rname('cli');
  const troll = await register(url, uname('troll'));
  const trollSocket = await connect(url, troll.token, {}, t);
  await ok(trollSocket, 'join', { room });
  const opSocket = await connect(url, op.token, {}, t);
  await ok(opSocket, 'join', { room });
  const gone = waitForDisconnect(trollSocket, 3000);
  await ok(opSocket, 'ban', { user_id: troll.user.id });
  await gone;
  assert.equal((await me(troll.token)).status, 401);
});

test('create-user without --admin makes a plain account; the name is then taken', async () => {
  const name = uname('plain');
  await adminOk(dir, ['create-user', name], 'plain-password-1\n');
  const plain = await login(url, name, 'plain-password-1');
  assert.equal((await me(plain.token)).body.admin, false);
  const again = await adminCli(dir, ['create-user', name], 'plain-password-1\n');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /taken/);
  assertError(await api(url, '/api/auth/guest', { json: { name } }), 409, 'name_taken');
});

test('grant-admin and revoke-admin change the rights of a running account', async (t) => {
  const alice = await register(url, uname('alice'));
  assert.equal((await me(alice.token)).body.admin, false);
  await adminOk(dir, ['grant-admin', alice.name]);
  assert.equal((await me(alice.token)).body.admin, true);
  const socket = await connect(url, alice.token, {}, t);
  await ok(socket, 'join', { room: rname('adm') });
  const gone = waitForDisconnect(socket, REVOCATION_BOUND_MS + 1000);
  await adminOk(dir, ['revoke-admin', alice.name]);
  await gone; // the socket carried admin rights: it is closed
  assert.equal((await me(alice.token)).body.admin, false);
});

test("a ban from the command line disconnects the user's sockets within the bound and keeps them out", async (t) => {
  const troll = await register(url, uname('clitroll'));
  const socket = await connect(url, troll.token, {}, t);
  await ok(socket, 'join', { room: rname('b') });
  const gone = waitForDisconnect(socket, REVOCATION_BOUND_MS + 1000);
  const banned = await adminOk(dir, ['ban', troll.name, '--ban-address-secs', '0']);
  assert.match(banned.stdout, /banned/);
  await gone;
  assert.equal((await me(troll.token)).status, 401);
  const back = await api(url, '/api/auth/login', { json: { username: troll.name, password: PASSWORD } });
  assertError(back, 403, 'banned');
  await adminOk(dir, ['unban', troll.name]);
  await login(url, troll.name);
});

test('a guest can be banned by name from the command line', async (t) => {
  const g = await guest(url, uname('cliguest'));
  const socket = await connect(url, g.token, {}, t);
  const gone = waitForDisconnect(socket, REVOCATION_BOUND_MS + 1000);
  await adminOk(dir, ['ban', g.name, '--ban-address-secs', '0']);
  await gone;
  assertError(await api(url, '/api/auth/guest', { json: { name: g.name } }), 409, 'name_taken');
});

test('sessions lists id, created and expires; revoke-sessions logs the user out', async (t) => {
  const bob = await register(url, uname('bob'));
  await login(url, bob.name);
  const listed = await adminOk(dir, ['sessions', bob.name]);
  const lines = listed.stdout.trim().split('\n');
  assert.equal(lines[0], 'id\tcreated\texpires');
  assert.equal(lines.length, 3, listed.stdout);
  for (const line of lines.slice(1)) assert.match(line, /^\d+\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\t\d{4}-/);
  const socket = await connect(url, bob.token, {}, t);
  const gone = waitForDisconnect(socket, REVOCATION_BOUND_MS + 1000);
  const revoked = await adminOk(dir, ['revoke-sessions', bob.name]);
  assert.match(revoked.stdout, /ended 2 session/);
  await gone;
  assert.equal((await me(bob.token)).status, 401);
  assert.equal((await adminOk(dir, ['sessions', bob.name])).stdout.trim(), 'id\tcreated\texpires');
  await login(url, bob.name); // the account itself still works
});

test('reset-password: the new password works, the old does not, and sessions end', async (t) => {
  const carol = await register(url, uname('carol'));
  const socket = await connect(url, carol.token, {}, t);
  const gone = waitForDisconnect(socket, REVOCATION_BOUND_MS + 1000);
  await adminOk(dir, ['reset-password', carol.name], 'a-brand-new-password\n');
  await gone;
  assert.equal((await me(carol.token)).status, 401);
  const old = await api(url, '/api/auth/login', { json: { username: carol.name, password: PASSWORD } });
  assertError(old, 401, 'invalid_credentials');
  await login(url, carol.name, 'a-brand-new-password');
});

test('an unknown user is exit 1 with a message on stderr; a short password is refused', async () => {
  for (const args of [['ban', 'nobody-here'], ['grant-admin', 'nobody-here'], ['sessions', 'nobody-here']]) {
    const r = await adminCli(dir, args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /no such user: nobody-here/);
  }
  const guestName = (await guest(url, uname('notacct'))).name;
  const r = await adminCli(dir, ['grant-admin', guestName]);
  assert.equal(r.code, 1, 'a guest cannot be made an admin');
  const short = await adminCli(dir, ['create-user', uname('short')], 'short\n');
  assert.equal(short.code, 1);
  assert.match(short.stderr, /password/);
  const none = await adminCli(dir, ['create-user', uname('none')], '');
  assert.equal(none.code, 1);
  assert.match(none.stderr, /stdin/);
});
