// Moderation: the admin role, deleting messages, mutes and bans.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  PASSWORD,
  api,
  assertError,
  assertRefusal,
  closeAllSockets,
  connect,
  emitAck,
  guest,
  logout,
  ok,
  refused,
  register,
  rname,
  sleep,
  uname,
  waitFor,
  waitForDisconnect,
} from './helpers.mjs';
import { adminOk } from './admin-cli.mjs';
import { startServer } from './server.mjs';

let server;
let url;
let admin; // made an admin by the operator, from the command line

before(async () => {
  // No address bans here: every test signs in from 127.0.0.1. The address
  // bans have a server of their own below.
  server = await startServer({ args: ['--ban-address-secs', '0'] });
  url = server.url;
  admin = await register(url, uname('first'));
  await adminOk(server.dataDir, ['grant-admin', admin.name]);
});

after(async () => {
  closeAllSockets();
  await server?.dispose();
});

async function isAdmin(token) {
  return isAdminOn(url, token);
}

async function isAdminOn(base, token) {
  const me = await api(base, '/api/me', { token });
  assert.equal(me.status, 200, me.text);
  return me.body.admin;
}

/** A signed-in user with a socket in `room`. */
async function member(t, room, who) {
  const session = who ?? (await register(url, uname('m')));
  const socket = await connect(url, session.token, {}, t);
  await ok(socket, 'join', { room });
  return { ...session, socket };
}

test('the first account on a fresh server is not an admin; the operator makes one', async () => {
  const fresh = await startServer();
  try {
    const first = await register(fresh.url, uname('first'));
    assert.equal(await isAdminOn(fresh.url, first.token), false);
    await adminOk(fresh.dataDir, ['grant-admin', first.name]);
    assert.equal(await isAdminOn(fresh.url, first.token), true);
  } finally {
    await fresh.dispose();
  }
  assert.equal(await isAdmin(admin.token), true);
  assert.equal(await isAdmin((await register(url, uname('later'))).token), false);
  assert.equal(await isAdmin((await guest(url, uname('g'))).token), false);
});

test('the --admins flag is gone: no name makes an admin', async () => {
  await assert.rejects(startServer({ args: ['--admins', 'chief'] }));
});

test('a user deletes their own message: the room is told and history forgets it', async (t) => {
  const room = rname('del');
  const alice = await member(t, room);
  const bob = await member(t, room);
  const sent = (await ok(alice.socket, 'send', { room, text: 'oops' })).message;
  const told = waitFor(bob.socket, 'deleted', (e) => e.id === sent.id);
  assert.deepEqual(await emitAck(alice.socket, 'delete', { id: sent.id }), { ok: true });
  assert.deepEqual(await told, { room, id: sent.id });
  const history = await ok(bob.socket, 'history', { room });
  assert.ok(!history.messages.some((m) => m.id === sent.id));
  await refused(alice.socket, 'delete', { id: sent.id }, 'message_not_found');
});

test("a user cannot delete someone else's message, an admin can", async (t) => {
  const room = rname('moddel');
  const alice = await member(t, room);
  const bob = await member(t, room);
  const boss = await member(t, room, admin);
  const sent = (await ok(alice.socket, 'send', { room, text: 'rude' })).message;
  await refused(bob.socket, 'delete', { id: sent.id }, 'forbidden');
  await ok(boss.socket, 'delete', { id: sent.id });
});

test('an admin mutes a user in one room for a time, and lifts it', async (t) => {
  const room = rname('mute');
  const other = rname('free');
  const loud = await member(t, room);
  await ok(loud.socket, 'join', { room: other });
  const boss = await member(t, room, admin);
  const told = waitFor(loud.socket, 'muted', (e) => e.room === room);
  const muted = await ok(boss.socket, 'mute', { room, user_id: loud.user.id, minutes: 5 });
  assert.ok(muted.until > Date.now() + 4 * 60_000);
  assert.deepEqual(await told, { room, user: loud.user, until: muted.until });
  const ack = await emitAck(loud.socket, 'send', { room, text: 'can I talk?' });
  assert.equal(ack.ok, false);
  assert.equal(ack.error.code, 'muted');
  assert.ok(ack.error.retry_after_ms > 4 * 60_000 && ack.error.retry_after_ms <= 5 * 60_000);
  await ok(loud.socket, 'send', { room: other, text: 'elsewhere I can' });
  await ok(boss.socket, 'mute', { room, user_id: loud.user.id, minutes: 0 });
  await ok(loud.socket, 'send', { room, text: 'thanks' });
});

test('only admins may mute or ban', async (t) => {
  const room = rname('nope');
  const alice = await member(t, room);
  const bob = await member(t, room);
  await refused(alice.socket, 'mute', { room, user_id: bob.user.id, minutes: 5 }, 'forbidden');
  await refused(alice.socket, 'ban', { user_id: bob.user.id }, 'forbidden');
  await ok(bob.socket, 'send', { room, text: 'still free' });
});

test('moderation refuses unknown users, rooms and messages', async (t) => {
  const boss = await member(t, rname('boss'), admin);
  await refused(boss.socket, 'ban', { user_id: 999_999 }, 'user_not_found');
  await refused(boss.socket, 'mute', { room: rname('none'), user_id: admin.user.id, minutes: 1 }, 'room_not_found');
  await refused(boss.socket, 'delete', { id: 999_999 }, 'message_not_found');
  await refused(boss.socket, 'ban', { user_id: admin.user.id }, 'forbidden');
  await refused(boss.socket, 'mute', { room: 'general', user_id: 2, minutes: 10_081 }, 'invalid_payload');
});

test("a banned user's open sockets are disconnected at once and they cannot come back", async (t) => {
  const room = rname('ban');
  const troll = await member(t, room);
  const tab2 = await connect(url, troll.token, {}, t);
  const boss = await member(t, room, admin);
  const gone = [waitForDisconnect(troll.socket, 3000), waitForDisconnect(tab2, 3000)];
  await ok(boss.socket, 'ban', { user_id: troll.user.id });
  await Promise.all(gone);
  assert.equal((await api(url, '/api/me', { token: troll.token })).status, 401);
  const again = await api(url, '/api/auth/login', { json: { username: troll.user.name, password: PASSWORD } });
  assert.equal(again.status, 403);
  assert.equal(again.body.error.code, 'banned');
  const wrong = await api(url, '/api/auth/login', { json: { username: troll.user.name, password: 'not-the-password' } });
  assert.equal(wrong.status, 401, 'a wrong password does not reveal the ban');
  await assert.rejects(connect(url, troll.token), /unauthorized/);
  // the admin is unaffected
  await ok(boss.socket, 'send', { room, text: 'order restored' });
  assertRefusal(await emitAck(boss.socket, 'delete', { id: 999_998 }), 'message_not_found');
});

// Names are claimed through the database, and sanctions outlast a new name.

const guestCall = (base, name, headers) => api(base, '/api/auth/guest', { json: { name }, headers });
const registerCall = (base, username, headers) =>
  api(base, '/api/auth/register', { json: { username, password: PASSWORD }, headers });

test('ten concurrent guest sign-ins with one name give exactly one user', async () => {
  const name = uname('twin');
  const answers = await Promise.all(Array.from({ length: 12 }, () => guestCall(url, name)));
  const statuses = answers.map((a) => a.status);
  assert.equal(statuses.filter((s) => s === 201).length, 1, statuses.join());
  for (const a of answers.filter((a) => a.status !== 201)) assertError(a, 409, 'name_taken');
});

test('a registration racing guest sign-ins for one name: never both', async () => {
  for (let round = 0; round < 4; round++) {
    const name = uname('race');
    const answers = await Promise.all([
      registerCall(url, name),
      ...Array.from({ length: 8 }, (_, i) => guestCall(url, i % 2 ? name.toUpperCase() : name)),
    ]);
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 201).length, 1, statuses.join());
    for (const a of answers.filter((a) => a.status !== 201)) assertError(a, 409, 'name_taken');
  }
});

test('a banned guest cannot sign in again under that name, as a guest or an account', async (t) => {
  const room = rname('gban');
  const name = uname('gtroll');
  const troll = await guest(url, name);
  const socket = await connect(url, troll.token, {}, t);
  await ok(socket, 'join', { room });
  const boss = await member(t, room, admin);
  const gone = waitForDisconnect(socket, 3000);
  await ok(boss.socket, 'ban', { user_id: troll.user.id });
  await gone;
  assertError(await guestCall(url, name), 409, 'name_taken');
  assertError(await guestCall(url, name.toUpperCase()), 409, 'name_taken');
  assertError(await registerCall(url, name), 409, 'name_taken');
});

test('a banned account cannot come back as a guest under its name', async (t) => {
  const room = rname('aban');
  const troll = await member(t, room);
  const boss = await member(t, room, admin);
  await ok(boss.socket, 'ban', { user_id: troll.user.id });
  assertError(await guestCall(url, troll.name), 409, 'name_taken');
});

test('a muted guest who logs out cannot take the same name back unmuted', async (t) => {
  const room = rname('gmute');
  const name = uname('gloud');
  const loud = await guest(url, name);
  const socket = await connect(url, loud.token, {}, t);
  await ok(socket, 'join', { room });
  const boss = await member(t, room, admin);
  await ok(boss.socket, 'mute', { room, user_id: loud.user.id, minutes: 5 });
  await logout(url, loud.token);
  assertError(await guestCall(url, name), 409, 'name_taken');
  // The mute lifted, the name is free again.
  await ok(boss.socket, 'mute', { room, user_id: loud.user.id, minutes: 0 });
  assert.equal((await guestCall(url, name)).status, 201);
});

test('typing is refused while muted, like send, and allowed elsewhere', async (t) => {
  const room = rname('tmute');
  const other = rname('tfree');
  const loud = await member(t, room);
  await ok(loud.socket, 'join', { room: other });
  const boss = await member(t, room, admin);
  await ok(boss.socket, 'mute', { room, user_id: loud.user.id, minutes: 5 });
  const ack = await emitAck(loud.socket, 'typing', { room, active: true });
  assert.equal(ack.ok, false);
  assert.equal(ack.error.code, 'muted');
  assert.ok(ack.error.retry_after_ms > 4 * 60_000 && ack.error.retry_after_ms <= 5 * 60_000);
  await ok(loud.socket, 'typing', { room: other, active: true });
  await ok(boss.socket, 'mute', { room, user_id: loud.user.id, minutes: 0 });
  await ok(loud.socket, 'typing', { room, active: false });
});

test('a ban covers the address the user came from for --ban-address-secs', async (t) => {
  const srv = await startServer({ args: ['--trusted-proxies', '127.0.0.1', '--ban-address-secs', '2'] });
  t.after(() => srv.dispose());
  const from = (ip) => ({ 'x-forwarded-for': ip });
  const boss = await register(srv.url, uname('boss'));
  await adminOk(srv.dataDir, ['grant-admin', boss.name]);
  const badName = uname('bad');
  const bad = await registerCall(srv.url, badName, from('203.0.113.7'));
  assert.equal(bad.status, 201, bad.text);
  const bossSocket = await connect(srv.url, boss.token, {}, t);
  await ok(bossSocket, 'ban', { user_id: bad.body.user.id });
  assertError(await guestCall(srv.url, uname('new'), from('203.0.113.7')), 403, 'banned');
  assertError(await registerCall(srv.url, uname('new'), from('203.0.113.7')), 403, 'banned');
  // Its name stays taken from anywhere; another address may sign up.
  assertError(await guestCall(srv.url, badName, from('198.51.100.1')), 409, 'name_taken');
  assert.equal((await guestCall(srv.url, uname('other'), from('198.51.100.1'))).status, 201);
  // The address ban ends; the account ban does not.
  await sleep(2200);
  assert.equal((await guestCall(srv.url, uname('later'), from('203.0.113.7'))).status, 201);
  const login = await api(srv.url, '/api/auth/login', { json: { username: badName, password: PASSWORD } });
  assertError(login, 403, 'banned');
});
