// Moderation: the admin role, deleting messages, mutes and bans.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  PASSWORD,
  api,
  assertRefusal,
  closeAllSockets,
  connect,
  emitAck,
  guest,
  ok,
  refused,
  register,
  rname,
  uname,
  waitFor,
  waitForDisconnect,
} from './helpers.mjs';
import { startServer } from './server.mjs';

let server;
let url;
let admin; // the first account on this server
const namedAdmin = uname('chief');

before(async () => {
  server = await startServer({ args: ['--admins', namedAdmin] });
  url = server.url;
  admin = await register(url, uname('first'));
});

after(async () => {
  closeAllSockets();
  await server?.dispose();
});

async function isAdmin(token) {
  const me = await api(url, '/api/me', { token });
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

test('the first account is an admin; later accounts and guests are not', async () => {
  assert.equal(await isAdmin(admin.token), true);
  assert.equal(await isAdmin((await register(url, uname('later'))).token), false);
  assert.equal(await isAdmin((await guest(url, uname('g'))).token), false);
});

test('an account named with --admins is an admin', async () => {
  const chief = await register(url, namedAdmin);
  assert.equal(await isAdmin(chief.token), true);
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
