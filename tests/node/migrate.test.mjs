// `banter migrate-data` (docs/operations.md › Moving to PostgreSQL): a
// SQLite install built through the real server (accounts, guests, a
// removed guest kept as a name, rooms, a mute, a ban with its address ban,
// deletes, 10,000 messages) is moved to fresh PostgreSQL schemas, then
// compared table by table, row for row, and served by the real server on
// PostgreSQL: old passwords, cookies and tokens work, the ban and the mute
// hold, history returns the same pages, new ids come after every old one.
// A second run changes nothing; a run killed with SIGKILL in the middle of
// the messages resumes and ends identical; a target with other data is
// refused. Needs psql and the sqlite3 shell (Debian's sqlite3 package).

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { adminOk } from './admin-cli.mjs';
import {
  api,
  closeAllSockets,
  connect,
  emitAck,
  guest,
  login,
  logout,
  ok,
  PASSWORD,
  register,
  rname,
  sessionCookie,
  sleep,
  uname,
} from './helpers.mjs';
import { BANTER_BIN, killAtExit, onPostgres, startServer } from './server.mjs';

const POSTGRES_URL = process.env.BANTER_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
const MESSAGES = 10_000;
const BATCH = 1000; // src/store/transfer.rs
// A documentation address (RFC 5737), given as X-Forwarded-For: never contacted.
const BANNED_ADDRESS = '192.0.2.7';
const SERVER_ARGS = ['--guest-grace-secs', '1', '--trusted-proxies', '127.0.0.1'];

// Every table, its key, and how each side shows a column so that the two
// read alike (SQLite keeps is_admin as 0/1 and token_hash as a BLOB).
const TABLES = {
  users: ['id', 'name, name_key, password_hash, created_at, is_admin, banned_at, name_hold, left_at, removed_at, is_bot'],
  sessions: ['id', 'token_hash, user_id, created_at, expires_at, address, token_name, last_used_at'],
  rooms: ['id', 'name, topic, created_at, kind'],
  memberships: ['room_id, user_id', 'joined_at, last_read, notify'],
  mutes: ['room_id, user_id', 'until'],
  address_bans: ['address, user_id', 'until'],
  revocations: ['id', 'session_id, user_id, at'],
  messages: ['id', 'room_id, author_id, text, client_id, created_at, deleted_at, edited_at, reply_to, mentions_room'],
  message_mentions: ['message_id, user_id', ''],
  reactions: ['message_id, user_id, emoji', 'created_at'],
  webhooks: ['id', 'room_id, bot_id, creator_id, secret_hash, created_at'],
  // Files and images (issue #11): the rows; a random text id.
  attachments: ['id', 'message_id, position, uploader_id, name, size, mime, width, height, thumb, created_at, remove_after, removed'],
};
const IDENTITY_TABLES = ['users', 'sessions', 'rooms', 'revocations', 'messages', 'webhooks'];

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ').slice(0, 300)}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

/** Rows of a query on the SQLite file (read-only), as JSON objects. */
async function sq(db, sql) {
  const out = await run('sqlite3', ['-readonly', '-json', db, sql]);
  return out.trim() ? JSON.parse(out) : [];
}

function schemaUrl(schema) {
  const sep = POSTGRES_URL.includes('?') ? '&' : '?';
  return `${POSTGRES_URL}${sep}options=-c%20search_path%3D${schema}&application_name=${schema}`;
}

/** The one value a query on the schema returns (psql, unaligned). */
async function pg(schema, sql) {
  return (await run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', schemaUrl(schema), '-c', sql])).trim();
}

async function pgJson(schema, sql) {
  return JSON.parse(await pg(schema, sql));
}

/** One table of the SQLite file, in key order. */
function dumpSqlite(db, table) {
  const [key, rest] = TABLES[table];
  const cols = [key, rest].filter(Boolean).join(', ')
    .replace('token_hash', 'lower(hex(token_hash)) AS token_hash')
    .replace('secret_hash', 'lower(hex(secret_hash)) AS secret_hash');
  return sq(db, `SELECT ${cols} FROM ${table} ORDER BY ${key}`);
}

/** The same table in the schema, in the same order (byte order for text keys, as SQLite sorts). */
function dumpPostgres(schema, table) {
  const [key, rest] = TABLES[table];
  const cols = [key, rest].filter(Boolean).join(', ')
    .replace('token_hash', "encode(token_hash, 'hex') AS token_hash")
    .replace('secret_hash', "encode(secret_hash, 'hex') AS secret_hash")
    .replace('is_admin', 'is_admin::int AS is_admin')
    .replace('is_bot', 'is_bot::int AS is_bot')
    .replace('mentions_room', 'mentions_room::int AS mentions_room')
    .replace(/\bremoved$/, 'removed::int AS removed');
  const order = table === 'attachments' ? 'id COLLATE "C"' : key.replace('address', 'address COLLATE "C"');
  return pgJson(schema, `SELECT coalesce(json_agg(t), '[]') FROM (SELECT ${cols} FROM ${table} ORDER BY ${order}) t`);
}

async function assertSameTables(db, schema) {
  const sqliteTables = (await sq(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"))
    .map((r) => r.name)
    .filter((n) => !['sqlite_sequence', '_sqlx_migrations'].includes(n))
    // The search index (issue #11) and its mark are derived from the text: PostgreSQL makes its own.
    .filter((n) => !n.startsWith('messages_fts') && n !== 'search_indexed');
  const pgTables = (
    await pg(schema, `SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = '${schema}'`)
  )
    .split(',')
    .filter((n) => n !== '_sqlx_migrations');
  const listed = Object.keys(TABLES).sort();
  assert.deepEqual(sqliteTables, listed, 'the test compares every table SQLite has');
  assert.deepEqual(pgTables, listed, 'and every table PostgreSQL has');
  for (const table of listed) {
    const [source, target] = await Promise.all([dumpSqlite(db, table), dumpPostgres(schema, table)]);
    assert.ok(source.length > 0, `the source has ${table} rows to compare`);
    assert.deepStrictEqual(target, source, `${table}: the target holds the source's rows, row for row`);
  }
}

/** The highest id each identity table ever used in the source (largest id or AUTOINCREMENT mark). */
async function highWaterMarks(db) {
  const marks = {};
  for (const table of IDENTITY_TABLES) {
    const [row] = await sq(
      db,
      `SELECT max(coalesce((SELECT max(id) FROM ${table}), 0), ` +
        `coalesce((SELECT seq FROM sqlite_sequence WHERE name = '${table}'), 0)) AS high`,
    );
    marks[table] = row.high;
  }
  return marks;
}

async function assertSequencesAndRooms(db, schema, marks) {
  for (const table of IDENTITY_TABLES) {
    const last = Number(await pg(schema, `SELECT pg_sequence_last_value(pg_get_serial_sequence('${table}', 'id')::regclass)`));
    assert.equal(last, marks[table], `${table}: the sequence continues after the source's highest id`);
  }
  const latest = await sq(
    db,
    'SELECT r.id, coalesce((SELECT max(m.id) FROM messages m WHERE m.room_id = r.id), 0) AS last FROM rooms r ORDER BY r.id',
  );
  const kept = await pgJson(schema, "SELECT json_agg(json_build_object('id', id, 'last', last_message_id) ORDER BY id) FROM rooms");
  assert.deepEqual(kept, latest, "rooms.last_message_id is each room's latest message");
}

/** Runs `banter migrate-data`; resolves {code, signal, stdout, stderr}. `onLine(line, child)` sees stdout lines. */
function migrateData(from, to, extra = [], onLine = () => {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BANTER_BIN, ['migrate-data', '--from', from, '--to', to, ...extra], {
      env: { ...process.env, RUST_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    killAtExit(child);
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop();
      for (const line of lines) onLine(line, child);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function assertRan(r, what) {
  assert.equal(r.code, 0, `${what}: exit ${r.code} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`);
}

/** The summary line of a table: source, already there, moved. */
function summaryOf(stdout, table) {
  const m = new RegExp(`^${table}\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)$`, 'm').exec(stdout);
  assert.ok(m, `a summary line for ${table} in\n${stdout}`);
  return { source: Number(m[1]), present: Number(m[2]), moved: Number(m[3]) };
}

/** Every page of a room's history as a client pages it: the latest, then `before` back to the first. */
async function historyPages(socket, room) {
  const pages = [];
  let page = (await ok(socket, 'history', { room, limit: 100 })).messages;
  pages.push(page);
  while (page.length === 100) {
    page = (await ok(socket, 'history', { room, before: page[0].id, limit: 100 })).messages;
    pages.push(page);
  }
  pages.push((await ok(socket, 'history', { room, after: 0, limit: 100 })).messages);
  return pages;
}

async function until(what, check, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const skip = onPostgres ? 'runs in the SQLite pass: it moves a SQLite install to PostgreSQL itself' : false;

// The seeding sends 10,000 messages and the tests run the binary many times:
// more than the suite's default 60 s per test on a loaded machine.
describe('banter migrate-data', { skip, timeout: 600_000 }, () => {
  let dir;
  let db;
  const schemas = [];
  const seeded = {}; // what the tests check on the target

  async function freshSchema() {
    const schema = `banter_migrate_${randomBytes(6).toString('hex')}`;
    await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', POSTGRES_URL, '-c', `CREATE SCHEMA ${schema}`]);
    schemas.push(schema);
    return schema;
  }

  async function sendMany(socket, room, count, tag) {
    for (let start = 0; start < count; start += 250) {
      const n = Math.min(250, count - start);
      const acks = await Promise.all(
        Array.from({ length: n }, (_, k) => {
          const i = start + k;
          const payload = { room, text: `${tag} message ${i}` };
          if (i % 3 === 0) payload.client_id = `${tag}-${i}`;
          return emitAck(socket, 'send', payload, 30_000);
        }),
      );
      for (const ack of acks) assert.equal(ack.ok, true, JSON.stringify(ack));
      if (start === 0) seeded.firstOf ??= {};
      if (start === 0) seeded.firstOf[tag] = acks[0].message;
    }
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'banter-migrate-'));
    db = path.join(dir, 'banter.db');
    const server = await startServer({ dataDir: dir, databaseUrl: `sqlite://${db}`, args: SERVER_ARGS });
    const { url } = server;
    try {
      const boss = await register(url, uname('boss'));
      await adminOk(dir, ['grant-admin', boss.name]);
      const alice = await register(url, uname('alice'));
      alice.cookie = sessionCookie(alice.res).split(';')[0];
      const bob = await register(url, uname('bob'));
      const dave = await register(url, uname('dave'));
      const carolName = uname('carol');
      const carolRes = await api(url, '/api/auth/register', {
        json: { username: carolName, password: PASSWORD },
        headers: { 'x-forwarded-for': BANNED_ADDRESS },
      });
      assert.equal(carolRes.status, 201, carolRes.text);
      const carol = { token: carolRes.body.token, user: carolRes.body.user, name: carolName };
      const g1 = await guest(url, uname('g1'));
      const g2 = await guest(url, uname('g2'));

      const rooms = { a: rname('mig-a'), b: rname('mig-b'), c: rname('mig-c'), d: rname('mig-d'), general: 'general' };
      const plan = [
        [alice, rooms.a, 2999, 'alice'], // and one reply below
        [bob, rooms.b, 2000, 'bob'],
        [g1, rooms.general, 2000, 'g1'],
        [dave, rooms.c, 1500, 'dave'],
        [g2, rooms.d, 700, 'g2'],
        [carol, rooms.a, 500, 'carol'],
        [boss, rooms.d, 299, 'boss'],
      ];
      // + the reply and the upload below
      assert.equal(plan.reduce((n, [, , count]) => n + count, 0) + 2, MESSAGES);
      const sockets = new Map();
      for (const [who, room] of plan) {
        if (!sockets.has(who)) sockets.set(who, await connect(url, who.token));
        await ok(sockets.get(who), 'join', { room });
      }
      await Promise.all(plan.map(([who, room, count, tag]) => sendMany(sockets.get(who), room, count, tag)));

      const bossSocket = sockets.get(boss);
      await ok(bossSocket, 'join', { room: rooms.b });
      // Deletes: the admin's of someone else's message, and an author's own.
      await ok(bossSocket, 'delete', { id: seeded.firstOf.alice.id });
      await ok(sockets.get(dave), 'delete', { id: seeded.firstOf.dave.id });
      // Message features: an edit, a reply that mentions, reactions.
      const aliceSocket = sockets.get(alice);
      const early = (await ok(aliceSocket, 'history', { room: rooms.a, after: 0, limit: 20 })).messages;
      const second = early.find((m) => m.author.id === alice.user.id && m.id !== seeded.firstOf.alice.id);
      await ok(aliceSocket, 'edit', { id: second.id, text: `edited, @${bob.name} @room` });
      await ok(aliceSocket, 'send', { room: rooms.a, text: `re @${dave.name}`, reply_to: second.id });
      await ok(aliceSocket, 'react', { id: second.id, emoji: '👍🏽', on: true });
      await ok(sockets.get(carol), 'react', { id: second.id, emoji: '👍🏽', on: true });
      await ok(sockets.get(carol), 'react', { id: second.id, emoji: '🎉', on: true });
      // Files and images: an upload (its row moves; the file stays in the files directory).
      const form = new FormData();
      form.append('file', new Blob(['minutes of the meeting']), 'minutes.txt');
      const uploaded = await fetch(`${url}/api/rooms/${rooms.a}/uploads`, {
        method: 'POST', headers: { authorization: `Bearer ${alice.token}` }, body: form,
      });
      assert.equal(uploaded.status, 201, await uploaded.text());
      // Rooms people belong to: a private room with an invitation, a
      // direct conversation, a read marker and a notification level.
      await ok(aliceSocket, 'create', { room: 'migrate-private', kind: 'private', topic: 'just us' });
      await ok(aliceSocket, 'invite', { room: 'migrate-private', user_id: bob.user.id });
      await ok(aliceSocket, 'direct', { user_ids: [dave.user.id] });
      await ok(aliceSocket, 'read', { room: rooms.a, id: second.id });
      await ok(aliceSocket, 'notify', { room: rooms.a, level: 'all' });
      await ok(bossSocket, 'mute', { room: rooms.b, user_id: bob.user.id, minutes: 60 });
      await ok(bossSocket, 'ban', { user_id: carol.user.id });
      // Bots and integrations (issue #11): a token and a webhook with its bot.
      const made = await api(url, '/api/tokens', { json: { name: 'migrated' }, token: alice.token });
      assert.equal(made.status, 201, made.text);
      const hook = await api(url, `/api/rooms/${rooms.a}/webhooks`, { json: { name: uname('hook') }, token: alice.token });
      assert.equal(hook.status, 201, hook.text);
      for (const s of sockets.values()) s.close();

      // A guest who wrote and left stays as a name; one who wrote nothing
      // (the newest user, with the newest session) is deleted, so the
      // AUTOINCREMENT marks of users and sessions pass their largest ids.
      assert.equal((await logout(url, g2.token)).status, 204);
      const g3 = await guest(url, uname('g3'));
      assert.equal((await logout(url, g3.token)).status, 204);
      await until('the departed guests to be removed', async () => {
        const [row] = await sq(
          db,
          `SELECT (SELECT removed_at FROM users WHERE id = ${g2.user.id}) AS removed, ` +
            `(SELECT count(*) FROM users WHERE id = ${g3.user.id}) AS g3`,
        );
        return row.removed !== null && row.g3 === 0;
      });

      const reader = await connect(url, alice.token);
      const history = {};
      for (const room of Object.values(rooms)) history[room] = await historyPages(reader, room);
      reader.close();
      Object.assign(seeded, { boss, alice, bob, carol, dave, g1, rooms, history });
    } finally {
      closeAllSockets();
      const stopped = await server.stop();
      assert.equal(stopped.code, 0, `the SQLite server stopped cleanly: ${JSON.stringify(stopped)}`);
    }
    const marks = await highWaterMarks(db);
    const [largest] = await sq(db, 'SELECT (SELECT max(id) FROM users) AS users, (SELECT max(id) FROM sessions) AS sessions');
    assert.ok(marks.users > largest.users && marks.sessions > largest.sessions, 'the source has ids used and gone');
    seeded.marks = marks;
  }, { timeout: 180_000 });

  after(async () => {
    closeAllSockets();
    for (const schema of schemas) {
      await run('psql', [
        '-X', '-q', '-d', POSTGRES_URL, '-c',
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${schema}' AND pid <> pg_backend_pid(); ` +
          `DROP SCHEMA IF EXISTS ${schema} CASCADE`,
      ]);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('moves every table row for row, and a server on PostgreSQL goes on where SQLite stopped', { timeout: 180_000 }, async (t) => {
    const schema = await freshSchema();
    const to = schemaUrl(schema);
    const first = await migrateData(`sqlite://${db}`, to);
    assertRan(first, 'the first run');
    assert.deepEqual(summaryOf(first.stdout, 'messages'), { source: MESSAGES, present: 0, moved: MESSAGES });
    assert.match(first.stdout, new RegExp(`^messages: ${BATCH} of ${MESSAGES}$`, 'm'), 'progress as it goes');
    assert.match(first.stdout, /^done: \d+ rows moved$/m);
    await assertSameTables(db, schema);
    await assertSequencesAndRooms(db, schema, seeded.marks);

    const second = await migrateData(`sqlite://${db}`, to);
    assertRan(second, 'the second run');
    assert.match(second.stdout, /^nothing to do: /m, second.stdout);
    assert.deepEqual(summaryOf(second.stdout, 'messages'), { source: MESSAGES, present: MESSAGES, moved: 0 });
    await assertSameTables(db, schema);
    await assertSequencesAndRooms(db, schema, seeded.marks);

    const { alice, bob, carol, g1, rooms, history, marks } = seeded;
    const server = await startServer({ databaseUrl: to, args: SERVER_ARGS });
    t.after(() => server.dispose());
    const { url } = server;
    // The old password, the old cookie, the old guest token.
    const bobAgain = await login(url, bob.name);
    assert.equal(bobAgain.user.id, bob.user.id);
    const me = await api(url, '/api/me', { cookie: alice.cookie });
    assert.equal(me.status, 200, me.text);
    assert.deepEqual(me.body.user, alice.user);
    const guestMe = await api(url, '/api/me', { token: g1.token });
    assert.equal(guestMe.status, 200, guestMe.text);
    assert.equal(guestMe.body.user.id, g1.user.id);
    // The ban, its address ban, and the mute hold.
    const banned = await api(url, '/api/auth/login', { json: { username: carol.name, password: PASSWORD } });
    assert.equal(banned.status, 403, banned.text);
    assert.equal(banned.body.error.code, 'banned');
    const fromBanned = await api(url, '/api/auth/register', {
      json: { username: uname('new'), password: PASSWORD },
      headers: { 'x-forwarded-for': BANNED_ADDRESS },
    });
    assert.equal(fromBanned.status, 403, fromBanned.text);
    const bobSocket = await connect(url, bobAgain.token, {}, t);
    await ok(bobSocket, 'join', { room: rooms.b });
    const muted = await emitAck(bobSocket, 'send', { room: rooms.b, text: 'still muted?' });
    assert.equal(muted.error?.code, 'muted', JSON.stringify(muted));
    // The same pages of history.
    const aliceSocket = await connect(url, alice.token, {}, t);
    for (const room of Object.values(rooms)) {
      assert.deepStrictEqual(await historyPages(aliceSocket, room), history[room], `history of ${room}`);
    }
    // New ids come after every id SQLite ever handed out, and a room's
    // next message follows its last.
    const newcomer = await register(url, uname('newcomer'));
    assert.ok(newcomer.user.id > marks.users, `user id ${newcomer.user.id} after ${marks.users}`);
    const [session] = await pgJson(schema, `SELECT json_agg(max) FROM (SELECT max(id) FROM sessions) s`);
    assert.ok(session > marks.sessions, `session id ${session} after ${marks.sessions}`);
    await ok(aliceSocket, 'join', { room: rooms.a });
    const sent = await ok(aliceSocket, 'send', { room: rooms.a, text: 'hello from PostgreSQL' });
    assert.ok(sent.message.id > marks.messages, `message id ${sent.message.id} after ${marks.messages}`);
    closeAllSockets();
    await server.stop();

    // The target has moved on: another run refuses it and writes nothing.
    const before = await dumpPostgres(schema, 'users');
    const refusedRun = await migrateData(`sqlite://${db}`, to);
    assert.notEqual(refusedRun.code, 0, refusedRun.stdout);
    assert.match(refusedRun.stderr, /not from this source/);
    assert.match(refusedRun.stderr, /Refusing to merge two installs/);
    assert.deepStrictEqual(await dumpPostgres(schema, 'users'), before);
  });

  test('a run killed with SIGKILL among the messages resumes where it stopped and ends identical', { timeout: 180_000 }, async () => {
    const schema = await freshSchema();
    const to = schemaUrl(schema);
    let killedAt = 0;
    const killed = await migrateData(`sqlite://${db}`, to, ['--test-pause-ms', '200'], (line, child) => {
      const m = /^messages: (\d+) of \d+$/.exec(line);
      // The next batch is inside its transaction (200 ms before its commit) now.
      if (m && Number(m[1]) >= 3 * BATCH && !killedAt) {
        killedAt = Number(m[1]);
        child.kill('SIGKILL');
      }
    });
    assert.equal(killed.signal, 'SIGKILL', `killed midway: ${killed.stdout}\n${killed.stderr}`);
    const held = Number(await pg(schema, 'SELECT count(*) FROM messages'));
    assert.ok(held >= killedAt && held < MESSAGES && held % BATCH === 0, `whole batches only: ${held} (killed after ${killedAt})`);
    const [prefix] = await sq(db, `SELECT max(id) AS last FROM (SELECT id FROM messages ORDER BY id LIMIT ${held})`);
    assert.equal(Number(await pg(schema, 'SELECT max(id) FROM messages')), prefix.last, 'a prefix in id order');

    const resumed = await migrateData(`sqlite://${db}`, to);
    assertRan(resumed, 'the resumed run');
    assert.deepEqual(summaryOf(resumed.stdout, 'messages'), { source: MESSAGES, present: held, moved: MESSAGES - held });
    assert.equal(summaryOf(resumed.stdout, 'users').moved, 0, 'the users were all there');
    await assertSameTables(db, schema);
    await assertSequencesAndRooms(db, schema, seeded.marks);
  });

  test('a target holding another install is refused before anything is written', async () => {
    const schema = await freshSchema();
    const to = schemaUrl(schema);
    const other = await startServer({ databaseUrl: to });
    try {
      await register(other.url, uname('other'));
    } finally {
      await other.stop();
    }
    const r = await migrateData(`sqlite://${db}`, to);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /users row id 1 differs in name/);
    assert.equal(await pg(schema, 'SELECT count(*) FROM users'), '1');
    assert.equal(await pg(schema, 'SELECT count(*) FROM rooms'), '1', 'no room was added to the other install');
  });

  test('a run while a server writes the source fails and says so', { timeout: 180_000 }, async (t) => {
    // On a copy (banter backup), with a server running on it that takes a
    // new account while the run reads.
    const copyDir = await mkdtemp(path.join(tmpdir(), 'banter-migrate-live-'));
    t.after(() => rm(copyDir, { recursive: true, force: true }));
    const copy = path.join(copyDir, 'banter.db');
    await run(BANTER_BIN, ['backup', '--data-dir', dir, copy]);
    const live = await startServer({ dataDir: copyDir, databaseUrl: `sqlite://${copy}` });
    t.after(() => live.dispose());
    const schema = await freshSchema();
    let wrote;
    const r = await migrateData(`sqlite://${copy}`, schemaUrl(schema), ['--test-pause-ms', '200'], (line) => {
      if (/^users: \d+ of \d+$/.test(line)) wrote ??= register(live.url, uname('late'));
    });
    await wrote;
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /the source database changed while it was copied: is a server still running on it\?/);
  });

  test('a wrong source or target is refused with a clear message', async () => {
    const missing = path.join(dir, 'nope', 'banter.db');
    const r1 = await migrateData(`sqlite://${missing}`, schemaUrl('public'));
    assert.notEqual(r1.code, 0);
    assert.match(r1.stderr, /cannot open the source database/);
    assert.equal(existsSync(missing), false, 'no database was created');
    const r2 = await migrateData(`sqlite://${db}`, `sqlite://${dir}/copy.db`);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /--to must be a PostgreSQL URL/);
    const r3 = await migrateData(`postgres://u:secret@127.0.0.1/x`, schemaUrl('public'));
    assert.match(r3.stderr, /--from must be a SQLite URL/);
    assert.doesNotMatch(r3.stderr, /secret/);
  });
});
