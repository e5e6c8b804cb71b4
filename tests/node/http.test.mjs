// HTTP API contract (docs/protocol.md, "HTTP" and "Sessions and authentication").

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  PASSWORD,
  api,
  assertError,
  assertMessage,
  assertUser,
  closeAllSockets,
  connect,
  connectError,
  guest,
  guestSocket,
  ids,
  login,
  logout,
  ok,
  register,
  rname,
  sendAll,
  sessionCookie,
  uname,
  waitFor,
} from './helpers.mjs';
import { assertMe } from './helpers.mjs';
import { startServer } from './server.mjs';

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

describe('health and routing', () => {
  test('healthz answers 200 with status ok', async () => {
    const res = await api(url, '/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: 'ok' });
  });

  test('an unknown path under /api answers 404 not_found', async () => {
    assertError(await api(url, '/api/nope'), 404, 'not_found');
    assertError(await api(url, '/api/auth/nope', { json: {} }), 404, 'not_found');
    assertError(await api(url, '/api/rooms/general/nope'), 404, 'not_found');
  });
});

describe('register', () => {
  test('register answers 201 with a token, the user and an HttpOnly session cookie', async () => {
    const name = uname('reg');
    const res = await api(url, '/api/auth/register', { json: { username: name, password: PASSWORD } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['token', 'user']);
    assert.equal(typeof res.body.token, 'string');
    // 256 bits in base64url: 43 characters without padding (44 with).
    assert.match(res.body.token, /^[A-Za-z0-9_-]{43}=?$/, 'token is 256 bits of base64url');
    assertUser(res.body.user, { name, guest: false });
    const cookie = sessionCookie(res);
    assert.ok(cookie, `Set-Cookie banter_session present: ${JSON.stringify(res.headers.get('set-cookie'))}`);
    assert.ok(cookie.startsWith(`banter_session=${res.body.token}`), `cookie carries the token: ${cookie}`);
    assert.match(cookie, /;\s*HttpOnly/i);
    assert.match(cookie, /;\s*SameSite=Lax/i);
    assert.match(cookie, /;\s*Path=\/(;|$)/i);
  });

  test('two registrations get different tokens and ids', async () => {
    const a = await register(url);
    const b = await register(url);
    assert.notEqual(a.token, b.token);
    assert.notEqual(a.user.id, b.user.id);
  });

  test('registering a taken name answers 409 name_taken', async () => {
    const name = uname('taken');
    await register(url, name);
    const res = await api(url, '/api/auth/register', { json: { username: name, password: PASSWORD } });
    assertError(res, 409, 'name_taken');
  });

  test('registering a name that differs only in case answers 409 name_taken', async () => {
    const name = uname('Alice');
    await register(url, name);
    for (const other of [name.toLowerCase(), name.toUpperCase()]) {
      const res = await api(url, '/api/auth/register', { json: { username: other, password: PASSWORD } });
      assertError(res, 409, 'name_taken');
    }
  });

  test('register refuses invalid user names with 400 invalid_username', async () => {
    const bad = ['', 'a b', 'x'.repeat(33), 'é', 'Аlice', '<b>', 'a/b', 'ali\u0000ce', 'tab\t'];
    for (const username of bad) {
      const res = await api(url, '/api/auth/register', { json: { username, password: PASSWORD } });
      assertError(res, 400, 'invalid_username');
    }
  });

  test('register accepts names of 1 and 32 characters using every allowed kind of character', async () => {
    const long = uname('Az09_.-').padEnd(32, 'x').slice(0, 32);
    assert.equal(long.length, 32);
    await register(url, long);
    // a one-character name: collisions with other runs are possible in theory, so try a few
    let done = false;
    for (const c of 'QWERTYUIOPqwertyuiop') {
      const res = await api(url, '/api/auth/register', { json: { username: c, password: PASSWORD } });
      if (res.status === 201) {
        done = true;
        break;
      }
      assertError(res, 409, 'name_taken');
    }
    assert.ok(done, 'a one-character name can be registered');
  });

  test('register refuses passwords shorter than 8 or longer than 1024 characters with 400 invalid_password', async () => {
    for (const password of ['', '1234567', 'x'.repeat(1025)]) {
      const res = await api(url, '/api/auth/register', { json: { username: uname('pw'), password } });
      assertError(res, 400, 'invalid_password');
    }
  });

  test('register accepts passwords of exactly 8 and 1024 characters', async () => {
    await register(url, uname('pw8'), '12345678');
    await register(url, uname('pw1024'), 'p'.repeat(1024));
  });

  test('register counts password length in characters, not bytes', async () => {
    // 8 characters but 16 bytes; 1024 characters, 2048 bytes
    await register(url, uname('pwu'), 'éééééééé');
    await register(url, uname('pwu'), 'é'.repeat(1024));
    assertError(
      await api(url, '/api/auth/register', { json: { username: uname('pwu'), password: 'ééé' } }),
      400,
      'invalid_password',
    );
  });
});

describe('login', () => {
  test('login answers 200 with a new token and the user', async () => {
    const a = await register(url);
    const res = await api(url, '/api/auth/login', { json: { username: a.name, password: PASSWORD } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['token', 'user']);
    assert.deepEqual(res.body.user, a.user);
    assert.notEqual(res.body.token, a.token, 'every login creates a new session');
    const cookie = sessionCookie(res);
    assert.ok(cookie?.startsWith(`banter_session=${res.body.token}`), `login sets the cookie: ${cookie}`);
    assert.match(cookie, /;\s*HttpOnly/i);
    const me = await api(url, '/api/me', { token: res.body.token });
    assert.equal(me.status, 200);
    assertMe(me.body, a.user);
  });

  test('login with a wrong password answers 401 invalid_credentials', async () => {
    const a = await register(url);
    const res = await api(url, '/api/auth/login', { json: { username: a.name, password: `${PASSWORD}x` } });
    assertError(res, 401, 'invalid_credentials');
  });

  test('login with an unknown user answers the same 401 invalid_credentials', async () => {
    const res = await api(url, '/api/auth/login', { json: { username: uname('nobody'), password: PASSWORD } });
    assertError(res, 401, 'invalid_credentials');
  });

  test('a wrong password and an unknown user get the very same answer', async () => {
    const a = await register(url);
    const wrong = await api(url, '/api/auth/login', { json: { username: a.name, password: `${PASSWORD}!` } });
    const unknown = await api(url, '/api/auth/login', { json: { username: uname('ghost'), password: `${PASSWORD}!` } });
    assertError(wrong, 401, 'invalid_credentials');
    assertError(unknown, 401, 'invalid_credentials');
    assert.deepEqual(wrong.body, unknown.body, 'same body: the answer does not tell whether the name exists');
  });

  test('login as a guest name (no password) answers 401 invalid_credentials', async () => {
    const g = await guest(url);
    const res = await api(url, '/api/auth/login', { json: { username: g.name, password: PASSWORD } });
    assertError(res, 401, 'invalid_credentials');
  });

  test('login refuses an invalid user name or password with 400', async () => {
    assertError(await api(url, '/api/auth/login', { json: { username: 'a b', password: PASSWORD } }), 400, 'invalid_username');
    assertError(await api(url, '/api/auth/login', { json: { username: uname('lp'), password: 'short' } }), 400, 'invalid_password');
  });
});

describe('guests', () => {
  test('guest answers 201 with a token and a guest user', async () => {
    const name = uname('gst');
    const res = await api(url, '/api/auth/guest', { json: { name } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['token', 'user']);
    assertUser(res.body.user, { name, guest: true });
    const cookie = sessionCookie(res);
    assert.ok(cookie?.startsWith(`banter_session=${res.body.token}`), `guest sets the cookie: ${cookie}`);
    const me = await api(url, '/api/me', { token: res.body.token });
    assertMe(me.body, res.body.user);
  });

  test('a guest cannot take a registered name, in any case', async () => {
    const a = await register(url, uname('Owner'));
    for (const name of [a.name, a.name.toLowerCase(), a.name.toUpperCase()]) {
      assertError(await api(url, '/api/auth/guest', { json: { name } }), 409, 'name_taken');
    }
  });

  test('a guest cannot take the name of a live guest', async () => {
    const g = await guest(url, uname('Live'));
    assertError(await api(url, '/api/auth/guest', { json: { name: g.name } }), 409, 'name_taken');
    assertError(await api(url, '/api/auth/guest', { json: { name: g.name.toUpperCase() } }), 409, 'name_taken');
  });

  test('registering the name of a live guest answers 409 name_taken', async () => {
    const g = await guest(url, uname('Live'));
    assertError(
      await api(url, '/api/auth/register', { json: { username: g.name.toLowerCase(), password: PASSWORD } }),
      409,
      'name_taken',
    );
  });

  test('a guest refuses invalid names with 400 invalid_username', async () => {
    for (const name of ['', ' ', 'x'.repeat(33), 'a b', 'é', '<script>']) {
      assertError(await api(url, '/api/auth/guest', { json: { name } }), 400, 'invalid_username');
    }
  });
});

describe('sessions', () => {
  test('/api/me answers the user for a bearer token', async () => {
    const a = await register(url);
    const res = await api(url, '/api/me', { token: a.token });
    assert.equal(res.status, 200, res.text);
    assertMe(res.body, a.user);
  });

  test('/api/me answers the user for the session cookie', async () => {
    const a = await register(url);
    const res = await api(url, '/api/me', { cookie: `banter_session=${a.token}` });
    assert.equal(res.status, 200, res.text);
    assertMe(res.body, a.user);
    // among other cookies too
    const res2 = await api(url, '/api/me', { cookie: `theme=dark; banter_session=${a.token}; x=1` });
    assertMe(res2.body, a.user);
  });

  test('/api/me without a session, or with a garbage token, answers 401 unauthorized', async () => {
    assertError(await api(url, '/api/me'), 401, 'unauthorized');
    assertError(await api(url, '/api/me', { token: 'garbage' }), 401, 'unauthorized');
    assertError(await api(url, '/api/me', { token: 'A'.repeat(43) }), 401, 'unauthorized');
    assertError(await api(url, '/api/me', { cookie: 'banter_session=garbage' }), 401, 'unauthorized');
    assertError(await api(url, '/api/me', { headers: { authorization: 'Basic Zm9vOmJhcg==' } }), 401, 'unauthorized');
  });

  test('a bearer token wins over the cookie', async () => {
    const a = await guest(url);
    const b = await guest(url);
    const res = await api(url, '/api/me', { token: a.token, cookie: `banter_session=${b.token}` });
    assert.equal(res.status, 200);
    assertMe(res.body, a.user);
  });

  test('logout answers 204, clears the cookie, and the token then gives 401', async () => {
    const a = await register(url);
    const res = await logout(url, a.token);
    assert.equal(res.status, 204, res.text);
    assert.equal(res.text, '');
    const cookie = sessionCookie(res);
    assert.ok(cookie, 'logout sends a Set-Cookie for banter_session');
    assert.match(cookie, /^banter_session=(;|$)|;\s*Max-Age=0|;\s*Expires=[^;]*19[0-9]{2}/i, `the cookie is cleared: ${cookie}`);
    assertError(await api(url, '/api/me', { token: a.token }), 401, 'unauthorized');
    assertError(await api(url, '/api/me', { cookie: `banter_session=${a.token}` }), 401, 'unauthorized');
    assertError(await logout(url, a.token), 401, 'unauthorized');
  });

  test('logout with the cookie ends that session', async () => {
    const a = await guest(url);
    const res = await api(url, '/api/auth/logout', { method: 'POST', cookie: `banter_session=${a.token}` });
    assert.equal(res.status, 204, res.text);
    assertError(await api(url, '/api/me', { token: a.token }), 401, 'unauthorized');
  });

  test('logout ends only its own session', async () => {
    const a = await register(url);
    const second = await login(url, a.name);
    assert.equal((await logout(url, a.token)).status, 204);
    const me = await api(url, '/api/me', { token: second.token });
    assert.equal(me.status, 200);
    assertMe(me.body, a.user);
  });

  test('logout without a session answers 401 unauthorized', async () => {
    assertError(await api(url, '/api/auth/logout', { method: 'POST' }), 401, 'unauthorized');
  });

  test('a guest name is free again once the guest logs out', async () => {
    const g = await guest(url, uname('Once'));
    assert.equal((await logout(url, g.token)).status, 204);
    const again = await guest(url, g.name);
    assertUser(again.user, { name: g.name, guest: true });
  });
});

describe('request bodies', () => {
  test('a body that is not valid JSON answers 400 invalid_json', async () => {
    for (const body of ['{not json', '', '{"username": "a", "password": ', 'null']) {
      const res = await api(url, '/api/auth/register', { body, contentType: 'application/json' });
      assertError(res, 400, 'invalid_json');
    }
  });

  test('JSON of the wrong shape answers 400 invalid_json', async () => {
    const bodies = [
      { username: 5, password: PASSWORD },
      { username: uname('shape') },
      { password: PASSWORD },
      'a string',
      42,
    ];
    for (const json of bodies) {
      assertError(await api(url, '/api/auth/register', { json }), 400, 'invalid_json');
    }
    assertError(await api(url, '/api/auth/guest', { json: { name: 7 } }), 400, 'invalid_json');
    assertError(await api(url, '/api/auth/login', { json: {} }), 400, 'invalid_json');
  });

  test('a JSON array in place of the object answers 400 invalid_json', async () => {
    const name = uname('arr');
    assertError(await api(url, '/api/auth/register', { json: [name, PASSWORD] }), 400, 'invalid_json');
    assertError(await api(url, '/api/auth/guest', { json: [uname('arr')] }), 400, 'invalid_json');
    assertError(await api(url, '/api/auth/login', { json: [name, PASSWORD] }), 400, 'invalid_json');
  });

  test('a body whose content type is not JSON answers 415 unsupported_media_type', async () => {
    const body = JSON.stringify({ username: uname('ct'), password: PASSWORD });
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
      assertError(await api(url, '/api/auth/register', { body, contentType }), 415, 'unsupported_media_type');
    }
    assertError(await api(url, '/api/auth/guest', { body: '{"name":"x"}' }), 415, 'unsupported_media_type');
  });

  test('application/json with a charset parameter is accepted', async () => {
    const name = uname('cs');
    const res = await api(url, '/api/auth/guest', {
      body: JSON.stringify({ name }),
      contentType: 'application/json; charset=utf-8',
    });
    assert.equal(res.status, 201, res.text);
  });

  test('a body over 64 KiB answers 413 payload_too_large', async () => {
    const json = { username: uname('big'), password: PASSWORD, pad: 'x'.repeat(70 * 1024) };
    assertError(await api(url, '/api/auth/register', { json, freshConnection: true }), 413, 'payload_too_large');
    const huge = { name: 'x', pad: 'y'.repeat(1024 * 1024) };
    assertError(await api(url, '/api/auth/guest', { json: huge, freshConnection: true }), 413, 'payload_too_large');
  });

  test('a body of exactly 64 KiB is accepted and one byte more is not', async () => {
    const name = uname('edge');
    const core = JSON.stringify({ name });
    const exact = core + ' '.repeat(64 * 1024 - core.length);
    assert.equal(Buffer.byteLength(exact), 65536);
    const res = await api(url, '/api/auth/guest', { body: exact, contentType: 'application/json' });
    assert.equal(res.status, 201, `a 65536-byte body is within the limit: ${res.status} ${res.text}`);
    const over = JSON.stringify({ name: uname('edge') }).padEnd(65537, ' ');
    assertError(
      await api(url, '/api/auth/guest', { body: over, contentType: 'application/json', freshConnection: true }),
      413,
      'payload_too_large',
    );
  });
});

describe('rooms', () => {
  test('/api/rooms lists general, sorted by name, as {rooms: [{name, topic, members}], next}', async () => {
    const a = await guestSocket(url, undefined);
    try {
      await ok(a.socket, 'join', { room: rname('zz') });
      await ok(a.socket, 'join', { room: rname('aa') });
      const res = await api(url, '/api/rooms?limit=500');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.body).sort(), ['next', 'rooms']);
      assert.ok(Array.isArray(res.body.rooms), 'an array');
      const names = res.body.rooms.map((r) => r.name);
      assert.ok(names.includes('general'), `general is listed: ${names}`);
      assert.deepEqual(names, [...names].sort(), 'sorted by name');
      for (const r of res.body.rooms) {
        assert.deepEqual(Object.keys(r).sort(), ['members', 'name', 'topic'], JSON.stringify(r));
        assert.equal(typeof r.topic, 'string');
        assert.ok(Number.isSafeInteger(r.members) && r.members >= 0, JSON.stringify(r));
      }
    } finally {
      a.socket.close();
    }
  });

  test('/api/rooms counts distinct online users: one user with two sockets counts once', async (t) => {
    const room = rname('count');
    const a = await guestSocket(url, t, 'a');
    const a2 = await connect(url, a.token, {}, t);
    const b = await guestSocket(url, t, 'b');
    await ok(a.socket, 'join', { room });
    await ok(a2, 'join', { room });
    await ok(b.socket, 'join', { room });
    const members = async () => (await api(url, `/api/rooms?q=${room}`)).body.rooms.find((r) => r.name === room)?.members;
    assert.equal(await members(), 2, 'A (two sockets) and B');

    // A's first socket goes: A is still online through the second
    a.socket.close();
    // no event tells B that a socket closed without a `left`: give the server a moment
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await members(), 2, 'A still online through the second socket');

    const left = waitFor(b.socket, 'left', (e) => e.room === room && e.user.id === a.user.id);
    a2.close();
    await left;
    assert.equal(await members(), 1, 'only B after A has left');
  });

  test('/api/rooms needs no session when guests are allowed', async () => {
    const res = await api(url, '/api/rooms');
    assert.equal(res.status, 200);
  });
});

describe('messages endpoint', () => {
  test('messages needs a session: 401 unauthorized without one', async () => {
    assertError(await api(url, '/api/rooms/general/messages'), 401, 'unauthorized');
    assertError(await api(url, '/api/rooms/general/messages', { token: 'garbage' }), 401, 'unauthorized');
  });

  test('messages of general answers 200 {messages: [...]} for a session', async () => {
    const g = await guest(url);
    const res = await api(url, '/api/rooms/general/messages', { token: g.token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body), ['messages']);
    assert.ok(Array.isArray(res.body.messages));
    const byCookie = await api(url, '/api/rooms/general/messages', { cookie: `banter_session=${g.token}` });
    assert.equal(byCookie.status, 200, byCookie.text);
  });

  test('messages of a room that does not exist answers 404 room_not_found', async () => {
    const g = await guest(url);
    assertError(await api(url, `/api/rooms/${rname('ghost')}/messages`, { token: g.token }), 404, 'room_not_found');
  });

  test('messages of an invalid room name answers 400 invalid_room', async () => {
    const g = await guest(url);
    for (const room of ['General', 'a%20b', 'a.b', 'x'.repeat(65), '%C3%A9']) {
      assertError(await api(url, `/api/rooms/${room}/messages`, { token: g.token }), 400, 'invalid_room');
    }
  });

  test('messages refuses a bad limit with 400 invalid_limit', async () => {
    const g = await guest(url);
    for (const limit of ['0', '101', 'x', '-1', '1.5']) {
      assertError(await api(url, `/api/rooms/general/messages?limit=${limit}`, { token: g.token }), 400, 'invalid_limit');
    }
  });

  test('messages refuses bad cursors with 400 invalid_cursor', async () => {
    const g = await guest(url);
    for (const q of ['before=0', 'before=-1', 'after=-5', 'after=x', 'before=1.5', 'before=5&after=1', 'before=0&after=0']) {
      assertError(await api(url, `/api/rooms/general/messages?${q}`, { token: g.token }), 400, 'invalid_cursor');
    }
  });

  test('messages pages with before and after, always oldest first', async (t) => {
    const room = rname('page');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const sent = await sendAll(
      a.socket,
      room,
      Array.from({ length: 7 }, (_, i) => `p${i}`),
    );
    const all = ids(sent);
    const get = async (q) => {
      const res = await api(url, `/api/rooms/${room}/messages${q}`, { token: a.token });
      assert.equal(res.status, 200, `${q}: ${res.text}`);
      return res.body.messages;
    };
    const latest = await get('');
    assert.deepEqual(ids(latest), all, 'default: all (fewer than 50), oldest first');
    latest.forEach((m, i) => assertMessage(m, { room, text: `p${i}`, author: a.user }));
    assert.deepEqual(latest, sent, 'HTTP messages equal the acked messages');

    assert.deepEqual(ids(await get('?limit=3')), all.slice(4), 'latest 3');
    assert.deepEqual(ids(await get(`?before=${all[3]}&limit=2`)), all.slice(1, 3), 'just older than before');
    assert.deepEqual(ids(await get(`?before=${all[3]}`)), all.slice(0, 3));
    assert.deepEqual(ids(await get(`?after=${all[1]}&limit=3`)), all.slice(2, 5), 'just newer than after');
    assert.deepEqual(ids(await get(`?after=${all[1]}`)), all.slice(2));
    assert.deepEqual(ids(await get(`?after=${all[6]}`)), [], 'nothing newer than the last');
    assert.deepEqual(ids(await get(`?before=${all[0]}`)), [], 'nothing older than the first');
    assert.deepEqual(ids(await get('?limit=1')), [all[6]]);
    assert.deepEqual(ids(await get('?limit=100')), all);
  });

  test('messages answers the latest 50 by default', async (t) => {
    const room = rname('fifty');
    const a = await guestSocket(url, t);
    await ok(a.socket, 'join', { room });
    const sent = await sendAll(a.socket, room, Array.from({ length: 55 }, (_, i) => `f${i}`));
    const res = await api(url, `/api/rooms/${room}/messages`, { token: a.token });
    assert.equal(res.status, 200);
    assert.deepEqual(ids(res.body.messages), ids(sent).slice(5));
  });
});

describe('guests disabled', () => {
  let closed;
  let closedUrl;
  before(async () => {
    closed = await startServer({ args: ['--guests', 'false'] });
    closedUrl = closed.url;
  });
  after(async () => {
    await closed?.dispose();
  });

  test('with guests off, guest answers 403 guests_disabled', async () => {
    assertError(await api(closedUrl, '/api/auth/guest', { json: { name: uname('nope') } }), 403, 'guests_disabled');
  });

  test('with guests off, /api/rooms needs a session', async () => {
    assertError(await api(closedUrl, '/api/rooms'), 401, 'unauthorized');
    const a = await register(closedUrl);
    const res = await api(closedUrl, '/api/rooms', { token: a.token });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.body.rooms.some((r) => r.name === 'general'));
  });

  test('with guests off, accounts still register, log in and connect', async () => {
    const a = await register(closedUrl);
    await login(closedUrl, a.name);
    const s = await connect(closedUrl, a.token);
    try {
      const ack = await ok(s, 'join', { room: 'general' });
      assert.ok(ack.members.some((u) => u.id === a.user.id));
    } finally {
      s.close();
    }
  });
});

describe('cross-site requests', () => {
  // A page on another port of the same host is another origin but the same
  // site: SameSite=Lax lets the browser send the cookie, so the Origin check
  // is what stops it.
  const foreign = { origin: 'http://127.0.0.1:1', 'sec-fetch-site': 'same-site' };

  test('logout from a foreign Origin is refused with 403 forbidden_origin and the session still works', async () => {
    const a = await register(url);
    for (const headers of [foreign, { origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }]) {
      const res = await api(url, '/api/auth/logout', { method: 'POST', cookie: `banter_session=${a.token}`, headers });
      assertError(res, 403, 'forbidden_origin');
    }
    const me = await api(url, '/api/me', { token: a.token });
    assert.equal(me.status, 200, me.text);
  });

  test('login, register and guest from a foreign Origin are refused with 403 forbidden_origin', async () => {
    const a = await register(url);
    const calls = [
      ['/api/auth/login', { username: a.name, password: PASSWORD }],
      ['/api/auth/register', { username: uname('xs'), password: PASSWORD }],
      ['/api/auth/guest', { name: uname('xs') }],
    ];
    for (const [path, json] of calls) {
      const res = await api(url, path, { json, headers: foreign });
      assertError(res, 403, 'forbidden_origin');
      assert.equal(sessionCookie(res), undefined, `${path} sets no cookie`);
    }
  });

  test('same-origin requests and requests without Origin still work', async () => {
    const same = { origin: url, 'sec-fetch-site': 'same-origin' };
    const r = await api(url, '/api/auth/register', { json: { username: uname('so'), password: PASSWORD }, headers: same });
    assert.equal(r.status, 201, r.text);
    const g = await api(url, '/api/auth/guest', { json: { name: uname('so') }, headers: same });
    assert.equal(g.status, 201, g.text);
    const out = await api(url, '/api/auth/logout', { method: 'POST', token: r.body.token, headers: same });
    assert.equal(out.status, 204, out.text);
    const plain = await register(url);
    assert.equal((await logout(url, plain.token)).status, 204);
  });

  test('reads from a foreign Origin are not refused', async () => {
    const res = await api(url, '/api/session', { headers: foreign });
    assert.equal(res.status, 200, res.text);
  });

  test('a socket whose Origin matches a forged Host is refused', async () => {
    const g = await guest(url);
    const forged = { origin: 'http://evil.example', host: 'evil.example' };
    const err = await connectError(url, g.token, { extraHeaders: forged });
    assert.equal(err.message, 'origin not allowed');
    const same = await connect(url, g.token, { extraHeaders: { origin: url } });
    same.close();
  });
});

describe('with --public-origin', () => {
  let pub;
  before(async () => {
    pub = await startServer({ args: ['--public-origin', 'https://chat.example.com'] });
  });
  after(async () => {
    await pub?.dispose();
  });

  test('the public origin may change state and open sockets, a Host-matching origin may not', async () => {
    const ok1 = await api(pub.url, '/api/auth/guest', { json: { name: uname('po') }, headers: { origin: 'https://chat.example.com' } });
    assert.equal(ok1.status, 201, ok1.text);
    const res = await api(pub.url, '/api/auth/guest', { json: { name: uname('po') }, headers: { origin: pub.url } });
    assertError(res, 403, 'forbidden_origin');
    const s = await connect(pub.url, ok1.body.token, { extraHeaders: { origin: 'https://chat.example.com' } });
    s.close();
    const err = await connectError(pub.url, ok1.body.token, { extraHeaders: { origin: pub.url } });
    assert.equal(err.message, 'origin not allowed');
  });
});
