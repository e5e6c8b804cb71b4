// Bots and integrations (issue #11; docs/protocol.md, "Bots and
// integrations"; docs/bots.md): personal access tokens, incoming webhooks,
// and the Python bot example run against the real server.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { adminOk } from './admin-cli.mjs';
import {
  api,
  assertError,
  assertMessage,
  assertUser,
  closeAllSockets,
  connect,
  connectError,
  guest,
  ok,
  register,
  refused,
  rname,
  uname,
  until,
  waitFor,
  waitForDisconnect,
  PASSWORD,
} from './helpers.mjs';
import { startCluster } from './cluster.mjs';
import { startServer } from './server.mjs';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

let server;
let url;

before(async () => {
  server = await startServer();
  url = server.url;
});

after(async () => {
  closeAllSockets();
  await server?.dispose();
});

/** A new personal access token of `owner`; the whole 201 body. */
async function newToken(owner, name = 'test bot') {
  const res = await api(url, '/api/tokens', { json: { name }, token: owner.token });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

/** A member's new webhook for `room`; the whole 201 body. */
async function newWebhook(owner, room, name = uname('hook')) {
  const res = await api(url, `/api/rooms/${room}/webhooks`, { json: { name }, token: owner.token });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

/** An account with a socket in a fresh public room. */
async function member(t, room) {
  const a = await register(url);
  a.socket = await connect(url, a.token, {}, t);
  await ok(a.socket, 'join', { room });
  return a;
}

describe('personal access tokens', () => {
  test('an account creates a token, sees it listed without its secret, and it works as a bearer token', async () => {
    const a = await register(url);
    const made = await newToken(a, '  deploy bot  ');
    assert.deepEqual(Object.keys(made).sort(), ['created_at', 'id', 'last_used_at', 'name', 'token']);
    assert.match(made.token, /^bnt_[A-Za-z0-9_-]{43}$/);
    assert.equal(made.name, 'deploy bot');
    assert.equal(made.last_used_at, null);
    assert.ok(Math.abs(made.created_at - Date.now()) < 60_000);

    const list = await api(url, '/api/tokens', { token: a.token });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body, { tokens: [{ id: made.id, name: 'deploy bot', created_at: made.created_at, last_used_at: null }] });
    assert.ok(!list.text.includes(made.token), 'the secret is shown once only');

    const me = await api(url, '/api/me', { token: made.token });
    assert.equal(me.status, 200, me.text);
    assert.deepEqual(me.body.user, a.user, 'a token is its account: the same user, not a bot');
    assert.equal(me.body.user.bot, false);
    // Its use is recorded (off the request's path).
    await until(async () => {
      const again = await api(url, '/api/tokens', { token: a.token });
      return Number.isSafeInteger(again.body.tokens[0].last_used_at);
    }, 'last_used_at is set after a use');
  });

  test('a guest cannot make or list tokens; no session gets 401; a bad name gets invalid_token_name', async () => {
    const g = await guest(url);
    assertError(await api(url, '/api/tokens', { json: { name: 'x' }, token: g.token }), 403, 'account_required');
    assertError(await api(url, '/api/tokens', { token: g.token }), 403, 'account_required');
    assertError(await api(url, '/api/tokens', { json: { name: 'x' } }), 401, 'unauthorized');
    assertError(await api(url, '/api/tokens'), 401, 'unauthorized');
    const a = await register(url);
    for (const name of ['', '   ', 'two\nlines', 'x'.repeat(65)]) {
      assertError(await api(url, '/api/tokens', { json: { name }, token: a.token }), 400, 'invalid_token_name');
    }
    assertError(await api(url, '/api/tokens', { json: { name: 5 }, token: a.token }), 400, 'invalid_json');
    assert.equal((await api(url, '/api/tokens', { json: { name: 'x'.repeat(64) }, token: a.token })).status, 201);
  });

  test('an account holds at most 20 tokens', async () => {
    const a = await register(url);
    for (let i = 0; i < 20; i++) await newToken(a, `t${i}`);
    assertError(await api(url, '/api/tokens', { json: { name: 'one more' }, token: a.token }), 409, 'too_many_tokens');
    const list = await api(url, '/api/tokens', { token: a.token });
    assert.equal(list.body.tokens.length, 20);
    // Revoking one makes room again.
    assert.equal((await api(url, `/api/tokens/${list.body.tokens[0].id}`, { method: 'DELETE', token: a.token })).status, 204);
    await newToken(a, 'one more');
  });

  test('a token opens a Socket.IO connection that sends as its account', async (t) => {
    const a = await register(url);
    const { token } = await newToken(a);
    const room = rname('tok');
    const s = await connect(url, token, {}, t);
    await ok(s, 'join', { room });
    const ack = await ok(s, 'send', { room, text: 'from a script' });
    assertMessage(ack.message, { room, text: 'from a script', author: a.user });
  });

  test('revoking a token refuses it at once and disconnects the sockets it opened, not the account\'s other sessions', async (t) => {
    const a = await register(url);
    const { token, id } = await newToken(a);
    const bySession = await connect(url, a.token, {}, t);
    const byToken = await connect(url, token, {}, t);
    const gone = waitForDisconnect(byToken, 10_000);
    const res = await api(url, `/api/tokens/${id}`, { method: 'DELETE', token: a.token });
    assert.equal(res.status, 204, res.text);
    assert.equal(await gone, 'io server disconnect');
    assertError(await api(url, '/api/me', { token }), 401, 'unauthorized');
    assert.equal((await connectError(url, token)).message, 'unauthorized');
    assert.ok(bySession.connected, 'the session socket stays');
    assert.equal((await api(url, '/api/tokens', { token: a.token })).body.tokens.length, 0);
    // Gone is gone: a second revoke, or someone else's id, is 404.
    assertError(await api(url, `/api/tokens/${id}`, { method: 'DELETE', token: a.token }), 404, 'not_found');
  });

  test('nobody revokes another account\'s token, nor a session by its id', async () => {
    const a = await register(url);
    const b = await register(url);
    const { token, id } = await newToken(a);
    assertError(await api(url, `/api/tokens/${id}`, { method: 'DELETE', token: b.token }), 404, 'not_found');
    for (const bad of ['0', '-1', 'abc', '99999999999999999999']) {
      assertError(await api(url, `/api/tokens/${bad}`, { method: 'DELETE', token: b.token }), 404, 'not_found');
    }
    assert.equal((await api(url, '/api/me', { token })).status, 200);
  });

  test('a token also works as a bearer header on the handshake', async (t) => {
    const a = await register(url);
    const { token } = await newToken(a);
    const s = await connect(url, null, { extraHeaders: { authorization: `Bearer ${token}` } }, t);
    await ok(s, 'join', { room: rname('hdr') });
  });

  test('logout with a token revokes it; a password reset ends every token and its sockets', async (t) => {
    const a = await register(url);
    const first = await newToken(a, 'one');
    assert.equal((await api(url, '/api/auth/logout', { method: 'POST', token: first.token })).status, 204);
    assertError(await api(url, '/api/me', { token: first.token }), 401, 'unauthorized');
    assert.equal((await api(url, '/api/me', { token: a.token })).status, 200, 'the session stays');

    const second = await newToken(a, 'two');
    const s = await connect(url, second.token, {}, t);
    const gone = waitForDisconnect(s, 10_000);
    await adminOk(server.dataDir, ['reset-password', a.name], `${PASSWORD}-new\n`);
    await gone;
    assertError(await api(url, '/api/me', { token: second.token }), 401, 'unauthorized');
  });

  test('bad tokens are refused over HTTP and Socket.IO alike', async () => {
    for (const token of ['bnt_', `bnt_${'A'.repeat(43)}`, 'bnt_garbage', `bnt_${'x'.repeat(5000)}`]) {
      assertError(await api(url, '/api/me', { token }), 401, 'unauthorized');
      assert.equal((await connectError(url, token)).message, 'unauthorized');
    }
  });

  test('a token needs no allowed Origin (over HTTP and Socket.IO); a session still does', async (t) => {
    const pub = await startServer({ args: ['--public-origin', 'https://chat.example.com'] });
    t.after(() => pub.dispose());
    const a = await register(pub.url);
    const made = await api(pub.url, '/api/tokens', { json: { name: 'ci' }, token: a.token });
    assert.equal(made.status, 201, made.text);
    const foreign = { origin: 'http://127.0.0.1:1', 'sec-fetch-site': 'cross-site' };
    // Python's websocket client, for one, sends an Origin of its own.
    const s = await connect(pub.url, made.body.token, { extraHeaders: foreign }, t);
    s.close();
    const res = await api(pub.url, '/api/tokens', { json: { name: 'more' }, token: made.body.token, headers: foreign });
    assert.equal(res.status, 201, res.text);
    assert.equal((await connectError(pub.url, a.token, { extraHeaders: foreign })).message, 'origin not allowed');
    assertError(await api(pub.url, '/api/tokens', { json: { name: 'x' }, token: a.token, headers: foreign }), 403, 'forbidden_origin');
  });
});

describe('incoming webhooks', () => {
  test('a member creates a webhook; a POST to its URL reaches the room as a bot message, stored first', async (t) => {
    const room = rname('hook');
    const a = await member(t, room);
    const name = uname('ci');
    const hook = await newWebhook(a, room, name);
    assert.deepEqual(Object.keys(hook).sort(), ['bot', 'created_at', 'created_by', 'id', 'name', 'room', 'url']);
    assert.equal(hook.name, name);
    assert.equal(hook.room, room);
    assert.match(hook.url, new RegExp(`^/hooks/${hook.id}/[A-Za-z0-9_-]{43}$`));
    assertUser(hook.bot, { name, guest: false, bot: true });
    assert.deepEqual(hook.created_by, a.user);

    const heard = waitFor(a.socket, 'message', (m) => m.room === room);
    // No cookie, no Origin: the secret is the authority (a foreign Origin changes nothing).
    const res = await api(url, hook.url, { json: { text: '  build #42 passed  ', client_id: 'build-42' }, headers: { origin: 'https://ci.example' } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.duplicate, false);
    assertMessage(res.body.message, { room, text: 'build #42 passed', client_id: 'build-42', author: hook.bot });
    const message = await heard;
    assert.deepEqual(message, res.body.message, 'the normal message event, the same message');

    const history = await api(url, `/api/rooms/${room}/messages`, { token: a.token });
    assert.deepEqual(history.body.messages.at(-1), res.body.message, 'stored, and a bot in history too');

    const again = await api(url, hook.url, { json: { text: 'build #42 passed', client_id: 'build-42' } });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.message.id, res.body.message.id);
  });

  test('a webhook message mentions people like any message', async (t) => {
    const room = rname('hookmention');
    const a = await member(t, room);
    const hook = await newWebhook(a, room);
    const res = await api(url, hook.url, { json: { text: `@${a.name} deploy done, @room` } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.body.message.mentions, [a.user.id]);
    assert.equal(res.body.message.mentions_room, true);
  });

  test('members list a room\'s webhooks without their secrets', async (t) => {
    const room = rname('hooklist');
    const a = await member(t, room);
    const b = await member(t, room);
    const one = await newWebhook(a, room);
    const two = await newWebhook(b, room);
    const list = await api(url, `/api/rooms/${room}/webhooks`, { token: b.token });
    assert.equal(list.status, 200, list.text);
    const strip = ({ url: _url, ...rest }) => rest;
    assert.deepEqual(list.body, { webhooks: [strip(one), strip(two)] });
    assert.ok(!list.text.includes(one.url.split('/').at(-1)), 'no secret in the list');
  });

  test('who may create a webhook: a member account, not a stranger, a guest, nor in a direct room', async (t) => {
    const room = rname('hookwho');
    const a = await member(t, room);
    const stranger = await register(url);
    assertError(await api(url, `/api/rooms/${room}/webhooks`, { json: { name: uname('h') }, token: stranger.token }), 403, 'not_in_room');
    assertError(await api(url, `/api/rooms/${room}/webhooks`, { token: stranger.token }), 403, 'not_in_room');
    const g = await guest(url);
    const gs = await connect(url, g.token, {}, t);
    await ok(gs, 'join', { room });
    assertError(await api(url, `/api/rooms/${room}/webhooks`, { json: { name: uname('h') }, token: g.token }), 403, 'account_required');
    assertError(await api(url, `/api/rooms/${room}/webhooks`, { json: { name: uname('h') } }), 401, 'unauthorized');

    // A private room is not there at all for a stranger.
    const secret = rname('hookpriv');
    await ok(a.socket, 'create', { room: secret, kind: 'private' });
    assertError(await api(url, `/api/rooms/${secret}/webhooks`, { json: { name: uname('h') }, token: stranger.token }), 404, 'room_not_found');
    assertError(await api(url, `/api/rooms/${secret}/webhooks`, { token: stranger.token }), 404, 'room_not_found');
    await newWebhook(a, secret);
    assertError(await api(url, `/api/rooms/no-such-${room}/webhooks`, { json: { name: uname('h') }, token: a.token }), 404, 'room_not_found');

    const direct = await ok(a.socket, 'direct', { user_ids: [stranger.user.id] });
    assertError(await api(url, `/api/rooms/${direct.room.name}/webhooks`, { json: { name: uname('h') }, token: a.token }), 403, 'forbidden');

    assertError(await api(url, `/api/rooms/${room}/webhooks`, { json: { name: 'not a name!' }, token: a.token }), 400, 'invalid_username');
    assertError(await api(url, `/api/rooms/Bad Room/webhooks`, { json: { name: uname('h') }, token: a.token }), 400, 'invalid_room');
  });

  test('a webhook\'s name is a user name: unique, and its bot can never sign in', async (t) => {
    const room = rname('hookname');
    const a = await member(t, room);
    assertError(await api(url, `/api/rooms/${room}/webhooks`, { json: { name: a.name.toUpperCase() }, token: a.token }), 409, 'name_taken');
    const hook = await newWebhook(a, room);
    assertError(await api(url, `/api/rooms/${room}/webhooks`, { json: { name: hook.name }, token: a.token }), 409, 'name_taken');
    assertError(await api(url, '/api/auth/register', { json: { username: hook.name, password: PASSWORD } }), 409, 'name_taken');
    assertError(await api(url, '/api/auth/guest', { json: { name: hook.name } }), 409, 'name_taken');
    assertError(await api(url, '/api/auth/login', { json: { username: hook.name, password: PASSWORD } }), 401, 'invalid_credentials');
    assertError(await api(url, '/api/auth/login', { json: { username: hook.name, password: '********' } }), 401, 'invalid_credentials');
  });

  test('a wrong secret, a wrong id and a revoked webhook all answer the same 404', async (t) => {
    const room = rname('hookbad');
    const a = await member(t, room);
    const hook = await newWebhook(a, room);
    const secret = hook.url.split('/').at(-1);
    const other = secret.startsWith('A') ? `B${secret.slice(1)}` : `A${secret.slice(1)}`;
    const bad = [
      `/hooks/${hook.id}/${other}`,
      `/hooks/${hook.id + 1000}/${secret}`,
      `/hooks/0/${secret}`,
      `/hooks/abc/${secret}`,
      `/hooks/${hook.id}/${'x'.repeat(500)}`,
      `/hooks/${hook.id}/`,
    ];
    for (const path of bad) {
      const res = await api(url, path, { json: { text: 'hi' } });
      assert.equal(res.status, 404, `${path}: ${res.text}`);
      if (!path.endsWith('/')) assertError(res, 404, 'not_found');
    }
    const firstMessage = (await api(url, hook.url, { json: { text: 'still works' } })).body.message;
    assert.ok(firstMessage);
    // Revoking: the creator (or an admin) only.
    const b = await member(t, room);
    assertError(await api(url, `/api/webhooks/${hook.id}`, { method: 'DELETE', token: b.token }), 403, 'forbidden');
    assert.equal((await api(url, `/api/webhooks/${hook.id}`, { method: 'DELETE', token: a.token })).status, 204);
    assertError(await api(url, hook.url, { json: { text: 'hi' } }), 404, 'not_found');
    assertError(await api(url, `/api/webhooks/${hook.id}`, { method: 'DELETE', token: a.token }), 404, 'not_found');
    assert.deepEqual((await api(url, `/api/rooms/${room}/webhooks`, { token: a.token })).body, { webhooks: [] });
    // What it posted stays, by its bot.
    const history = await api(url, `/api/rooms/${room}/messages`, { token: a.token });
    assert.equal(history.body.messages.at(-1).author.bot, true);
  });

  test('an admin revokes anyone\'s webhook', async (t) => {
    const room = rname('hookadmin');
    const a = await member(t, room);
    const hook = await newWebhook(a, room);
    const admin = await register(url);
    await adminOk(server.dataDir, ['grant-admin', admin.name]);
    assert.equal((await api(url, `/api/webhooks/${hook.id}`, { method: 'DELETE', token: admin.token })).status, 204);
    assertError(await api(url, hook.url, { json: { text: 'hi' } }), 404, 'not_found');
  });

  test('a webhook stops when its creator leaves the room', async (t) => {
    const room = rname('hookleave');
    const a = await member(t, room);
    const hook = await newWebhook(a, room);
    assert.equal((await api(url, hook.url, { json: { text: 'one' } })).status, 201);
    await ok(a.socket, 'leave', { room });
    assertError(await api(url, hook.url, { json: { text: 'two' } }), 404, 'not_found');
    await ok(a.socket, 'join', { room });
    assert.equal((await api(url, hook.url, { json: { text: 'three' } })).status, 201);
  });

  test('webhook input is checked like send: text rules, client_id, JSON, size', async (t) => {
    const room = rname('hookinput');
    const a = await member(t, room);
    const hook = await newWebhook(a, room);
    assertError(await api(url, hook.url, { json: { text: '' } }), 400, 'invalid_text');
    assertError(await api(url, hook.url, { json: { text: 'x'.repeat(4001) } }), 400, 'invalid_text');
    assertError(await api(url, hook.url, { json: { text: 'bell\u0007' } }), 400, 'invalid_text');
    assertError(await api(url, hook.url, { json: { text: 'ok', client_id: 'no spaces' } }), 400, 'invalid_client_id');
    assertError(await api(url, hook.url, { json: { nope: 1 } }), 400, 'invalid_json');
    assertError(await api(url, hook.url, { json: ['text'] }), 400, 'invalid_json');
    assertError(await api(url, hook.url, { body: '{"text":', contentType: 'application/json' }), 400, 'invalid_json');
    assertError(await api(url, hook.url, { body: 'text=hi', contentType: 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
    const huge = JSON.stringify({ text: 'x'.repeat(70 * 1024) });
    assertError(await api(url, hook.url, { body: huge, contentType: 'application/json', freshConnection: true }), 413, 'payload_too_large');
    assert.equal((await api(url, hook.url, { json: { text: 'x'.repeat(4000) } })).status, 201);
  });

  test('each webhook has its own rate limit, with retry_after_ms', async (t) => {
    const limited = await startServer({ args: ['--send-rate', '3:1'] });
    t.after(() => limited.dispose());
    const a = await register(limited.url);
    const room = rname('hookrate');
    const s = await connect(limited.url, a.token, {}, t);
    await ok(s, 'join', { room });
    const make = async () => {
      const res = await api(limited.url, `/api/rooms/${room}/webhooks`, { json: { name: uname('r') }, token: a.token });
      assert.equal(res.status, 201, res.text);
      return res.body;
    };
    const one = await make();
    const two = await make();
    for (let i = 0; i < 3; i++) assert.equal((await api(limited.url, one.url, { json: { text: `m${i}` } })).status, 201);
    const res = await api(limited.url, one.url, { json: { text: 'too many' } });
    assert.equal(res.status, 429, res.text);
    assert.equal(res.body.error.code, 'rate_limited');
    assert.ok(res.body.error.retry_after_ms > 0, res.text);
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.equal((await api(limited.url, two.url, { json: { text: 'the other one' } })).status, 201, 'another webhook has its own bucket');
    // The user's own sends are not the webhook's.
    await ok(s, 'send', { room, text: 'me' });
  });

  test('an admin can mute a webhook\'s bot in a room', async (t) => {
    const room = rname('hookmute');
    const a = await member(t, room);
    const hook = await newWebhook(a, room);
    const admin = await register(url);
    await adminOk(server.dataDir, ['grant-admin', admin.name]);
    const as = await connect(url, admin.token, {}, t);
    await ok(as, 'join', { room });
    await ok(as, 'mute', { room, user_id: hook.bot.id, minutes: 5 });
    const res = await api(url, hook.url, { json: { text: 'hi' } });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.body.error.code, 'muted');
    assert.ok(res.body.error.retry_after_ms > 0);
    await refused(as, 'ban', { user_id: admin.user.id }, 'forbidden');
  });

  test('a room holds at most 20 webhooks', async (t) => {
    const room = rname('hookcap');
    const a = await member(t, room);
    for (let i = 0; i < 20; i++) await newWebhook(a, room);
    assertError(await api(url, `/api/rooms/${room}/webhooks`, { json: { name: uname('h') }, token: a.token }), 409, 'too_many_webhooks');
  });
});

describe('on several nodes', () => {
  test('revoking a token on one node disconnects its socket on another; a webhook post on one reaches a member on another', async (t) => {
    const cluster = await startCluster({ nodes: 2 });
    t.after(() => cluster.dispose());
    const [a, b] = cluster.nodes;
    const owner = await register(a.url);
    const made = await api(a.url, '/api/tokens', { json: { name: 'bot' }, token: owner.token });
    assert.equal(made.status, 201, made.text);
    const room = rname('hooknodes');
    const onB = await connect(b.url, made.body.token, {}, t);
    await ok(onB, 'join', { room });
    const hook = await api(a.url, `/api/rooms/${room}/webhooks`, { json: { name: uname('n') }, token: owner.token });
    assert.equal(hook.status, 201, hook.text);
    const heard = waitFor(onB, 'message', (m) => m.room === room && m.author.bot, 10_000);
    assert.equal((await api(a.url, hook.body.url, { json: { text: 'across nodes' } })).status, 201);
    assert.equal((await heard).text, 'across nodes');

    const gone = waitForDisconnect(onB, 10_000);
    assert.equal((await api(a.url, `/api/tokens/${made.body.id}`, { method: 'DELETE', token: owner.token })).status, 204);
    assert.equal(await gone, 'io server disconnect');
    assertError(await api(b.url, '/api/me', { token: made.body.token }), 401, 'unauthorized');
  });
});

describe('the Python bot example (docs/examples/bot.py)', () => {
  const python = process.env.BANTER_PYTHON || 'python3';

  /** Starts the bot; resolves once it printed "ready"; `lines` gathers its output. */
  function startBot(t, env) {
    const child = spawn(python, [path.join(repoRoot, 'docs/examples/bot.py')], {
      env: { ...process.env, ...env, PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const bot = { child, out: '', err: '', readies: 0, exited: null };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      bot.out += d;
      bot.readies = (bot.out.match(/^ready /gm) ?? []).length;
    });
    child.stderr.on('data', (d) => (bot.err = (bot.err + d).slice(-4000)));
    child.once('exit', (code, signal) => (bot.exited = { code, signal }));
    t.after(() => {
      if (!bot.exited) child.kill('SIGKILL');
    });
    bot.ready = async (n = 1) => {
      await until(() => bot.readies >= n || bot.exited, `the bot's "ready" #${n}`, 30_000);
      assert.equal(bot.exited, null, `the bot exited: ${JSON.stringify(bot.exited)}\n${bot.err}`);
    };
    return bot;
  }

  /** Sends `text` from `socket` and resolves with the bot's answer to it. */
  async function ask(socket, room, botUser, text, bot) {
    // Listening before the send: the answer may come in the same read as
    // the send's ack.
    const answers = [];
    const listener = (m) => {
      if (m.room === room && m.author.id === botUser.id) answers.push(m);
    };
    socket.on('message', listener);
    try {
      const sent = await ok(socket, 'send', { room, text });
      const answer = () => answers.find((m) => m.reply_to === sent.message.id);
      await until(answer, `the answer to ${text}`, 20_000).catch((err) => {
        throw new Error(`${err.message}; the bot said:\n${bot?.out}\n${bot?.err}`);
      });
      return answer();
    } finally {
      socket.off('message', listener);
    }
  }

  test('connects with a token, joins a room and answers commands sent by another client', async (t) => {
    const owner = await register(url);
    const { token } = await newToken(owner, 'python bot');
    const room = rname('pybot');
    const person = await member(t, room);
    const bot = startBot(t, { BANTER_URL: url, BANTER_TOKEN: token, BANTER_ROOM: room });
    await bot.ready();

    const pong = await ask(person.socket, room, owner.user, '!ping', bot);
    assertMessage(pong, { room, text: 'pong', author: owner.user, client_id: pong.client_id });
    const roll = await ask(person.socket, room, owner.user, '!roll 3d1', bot);
    assert.equal(roll.text, '3d1: 1 + 1 + 1 = 3');
    const dice = await ask(person.socket, room, owner.user, '!roll 2d6', bot);
    const [, a, b, sum] = /^2d6: (\d) \+ (\d) = (\d+)$/.exec(dice.text) ?? assert.fail(dice.text);
    assert.equal(Number(a) + Number(b), Number(sum));

    // Its answers are stored once each, after the commands they answer.
    const history = await api(url, `/api/rooms/${room}/messages`, { token: person.token });
    assert.deepEqual(history.body.messages.filter((m) => m.author.id === owner.user.id).map((m) => m.text), ['pong', '3d1: 1 + 1 + 1 = 3', dice.text]);
  });

  test('reconnects after the server restarts, rejoins, and answers again; a revoked token ends it', async (t) => {
    let node = await startServer();
    t.after(() => node.dispose());
    const owner = await register(node.url);
    const made = await api(node.url, '/api/tokens', { json: { name: 'python bot' }, token: owner.token });
    assert.equal(made.status, 201, made.text);
    const room = rname('pybotre');
    const bot = startBot(t, { BANTER_URL: node.url, BANTER_TOKEN: made.body.token, BANTER_ROOM: room });
    await bot.ready();

    const port = new URL(node.url).port;
    node = await node.restart({ args: ['--bind', `127.0.0.1:${port}`] });
    // Asked at once, most likely before the bot is back (it waits a second
    // or more to reconnect): it answers from the history it catches up on,
    // or live; either way once.
    const person = await register(node.url);
    const socket = await connect(node.url, person.token, {}, t);
    await ok(socket, 'join', { room });
    const pong = await ask(socket, room, owner.user, '!ping', bot);
    assert.equal(pong.text, 'pong');
    await bot.ready(2);
    const again = await ask(socket, room, owner.user, '!roll 1d1', bot);
    assert.equal(again.text, '1d1: 1 = 1');
    const history = await api(node.url, `/api/rooms/${room}/messages`, { token: person.token });
    assert.deepEqual(history.body.messages.filter((m) => m.author.id === owner.user.id).map((m) => m.text), ['pong', '1d1: 1 = 1'], 'each answered once');

    const revoked = await api(node.url, `/api/tokens/${made.body.id}`, { method: 'DELETE', token: owner.token });
    assert.equal(revoked.status, 204);
    await until(() => bot.exited, `the bot ends once its token is revoked; its stderr:\n${bot.err}`, 30_000).catch((err) => {
      throw new Error(`${err.message}\n${bot.err}`);
    });
    assert.notEqual(bot.exited.code, 0, bot.err);
    assert.match(bot.err, /revoked/);
  });
});
