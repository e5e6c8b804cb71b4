// Issue #11's features together, through the real server: what a webhook
// posts and what an upload says are found by search like any message (the
// bot marked as a bot, the files listed), a personal access token searches
// as its account, and deleting an upload's message takes it out of search
// and its file off the web. Run on SQLite and, with
// BANTER_TEST_DATABASE=postgres, on PostgreSQL.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { api, closeAllSockets, connect, multipart, ok, register, rname, uname, waitFor } from './helpers.mjs';
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

/** A word no other test uses, letters only. */
const tag = () => `t${[...randomBytes(6)].map((b) => String.fromCharCode(97 + (b % 26))).join('')}`;

/** An account with a socket in `room` (a new private room when `create`). */
async function member(t, room, { create = false } = {}) {
  const a = await register(url);
  a.socket = await connect(url, a.token, {}, t);
  if (create) await ok(a.socket, 'create', { room, kind: 'private' });
  await ok(a.socket, 'join', { room });
  return a;
}

async function search(token, q) {
  const res = await api(url, `/api/search?${new URLSearchParams({ q })}`, { token });
  assert.equal(res.status, 200, res.text);
  return res.body.results;
}

test('a webhook post is found by search, its author a bot, and opens in context', async (t) => {
  const room = rname('together');
  const a = await member(t, room);
  const made = await api(url, `/api/rooms/${room}/webhooks`, { json: { name: uname('ci') }, token: a.token });
  assert.equal(made.status, 201, made.text);
  const word = tag();
  const posted = await api(url, made.body.url, { json: { text: `deploy ${word} finished` } });
  assert.equal(posted.status, 201, posted.text);

  const [hit, ...rest] = await search(a.token, `"deploy ${word}"`);
  assert.equal(rest.length, 0);
  assert.deepEqual(hit.message, posted.body.message);
  assert.equal(hit.message.author.bot, true);
  const around = await ok(a.socket, 'history', { room, around: hit.message.id });
  assert.deepEqual(around.messages.map((m) => m.id), [hit.message.id]);
});

test('a personal access token searches as its account: its private room, not another', async (t) => {
  const mine = rname('mine');
  const theirs = rname('theirs');
  const a = await member(t, mine, { create: true });
  const b = await member(t, theirs, { create: true });
  const word = tag();
  await ok(a.socket, 'send', { room: mine, text: `ours ${word}` });
  await ok(b.socket, 'send', { room: theirs, text: `secret ${word}` });
  const token = await api(url, '/api/tokens', { json: { name: 'searcher' }, token: a.token });
  assert.equal(token.status, 201, token.text);
  const found = await search(token.body.token, word);
  assert.deepEqual(found.map((r) => [r.message.room, r.message.text]), [[mine, `ours ${word}`]]);
});

test('an upload is found by its words with its files; deleting it takes it out of search and its file off the web', async (t) => {
  const room = rname('together');
  const a = await member(t, room);
  const word = tag();
  const { body, contentType } = multipart([
    { name: 'file', filename: 'minutes.txt', type: 'text/plain', data: 'the minutes\n' },
    { name: 'text', data: `minutes of ${word}` },
  ]);
  const up = await api(url, `/api/rooms/${room}/uploads`, { body, contentType, token: a.token, freshConnection: true });
  assert.equal(up.status, 201, up.text);
  const [file] = up.body.message.attachments;
  assert.equal(file.name, 'minutes.txt');

  const [hit] = await search(a.token, word);
  assert.deepEqual(hit.message.attachments, up.body.message.attachments);
  assert.equal((await api(url, `/files/${file.id}`, { token: a.token })).status, 200);

  const gone = waitFor(a.socket, 'deleted', (d) => d.id === hit.message.id);
  await ok(a.socket, 'delete', { id: hit.message.id });
  await gone;
  assert.deepEqual(await search(a.token, word), []);
  assert.equal((await api(url, `/files/${file.id}`, { token: a.token })).status, 404);
});
