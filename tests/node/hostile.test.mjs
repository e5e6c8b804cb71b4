// Hostile text in every field a client controls: markup and SQL
// metacharacters are either refused by the field's rules or stored and
// returned verbatim, and the server keeps working either way.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, assertError, closeAllSockets, connect, ok, refused, register, rname, uname } from './helpers.mjs';
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

const SQL = `'; DROP TABLE users; --`;
const MARKUP = `<script>alert(1)</script>`;
const HOSTILE = [SQL, MARKUP, `" OR 1=1 --`, `<img src=x onerror=alert(1)>`, `../../etc/passwd`];

test('passwords with SQL and markup are hashed like any other and work for login', async () => {
  for (const password of [`${SQL}${MARKUP}`, `" OR "1"="1" --`, `${MARKUP}${MARKUP}`]) {
    const name = uname('pw');
    const reg = await api(url, '/api/auth/register', { json: { username: name, password } });
    assert.equal(reg.status, 201, reg.text);
    const good = await api(url, '/api/auth/login', { json: { username: name, password } });
    assert.equal(good.status, 200, good.text);
    const bad = await api(url, '/api/auth/login', { json: { username: name, password: `${password}x` } });
    assertError(bad, 401, 'invalid_credentials');
  }
});

test('user names with SQL or markup are refused, for accounts and guests', async () => {
  for (const name of HOSTILE) {
    assertError(await api(url, '/api/auth/register', { json: { username: name, password: 'long enough' } }), 400, 'invalid_username');
    assertError(await api(url, '/api/auth/guest', { json: { name } }), 400, 'invalid_username');
    assertError(await api(url, '/api/auth/login', { json: { username: name, password: 'long enough' } }), 400, 'invalid_username');
  }
});

test('room names with SQL or markup are refused over the socket and in URLs', async (t) => {
  const me = await register(url, uname('rooms'));
  const socket = await connect(url, me.token, {}, t);
  for (const room of HOSTILE) {
    for (const [event, payload] of [
      ['join', { room }],
      ['history', { room }],
      ['send', { room, text: 'x' }],
    ]) {
      await refused(socket, event, payload, 'invalid_room');
    }
    const res = await api(url, `/api/rooms/${encodeURIComponent(room)}/messages`, { token: me.token });
    assert.ok([400, 404].includes(res.status), `${room}: ${res.status}`);
    if (res.status === 400) assert.equal(res.body.error.code, 'invalid_room');
  }
  // nothing was created, and the store still works
  const rooms = await api(url, '/api/rooms', { token: me.token });
  assert.deepEqual(rooms.body.rooms.map((r) => r.name), ['general']);
});

test('client ids with SQL or markup are refused; message text keeps them verbatim', async (t) => {
  const me = await register(url, uname('texts'));
  const socket = await connect(url, me.token, {}, t);
  const room = rname('hostile');
  await ok(socket, 'join', { room });
  for (const hostile of HOSTILE) {
    await refused(socket, 'send', { room, text: 'hi', client_id: hostile }, 'invalid_client_id');
    const sent = await ok(socket, 'send', { room, text: hostile });
    assert.equal(sent.message.text, hostile);
  }
  const history = await ok(socket, 'history', { room });
  assert.deepEqual(history.messages.map((m) => m.text), HOSTILE.map((h) => h.trim()));
  const over = await api(url, `/api/rooms/${room}/messages`, { token: me.token });
  assert.deepEqual(over.body.messages.map((m) => m.text), HOSTILE);
});
