// `banter backup FILE` under a send storm, and the documented restore
// (docs/operations.md › Backups): the restored database holds every message
// acknowledged before the backup began, and nothing that was not sent.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { assertStrictlyIncreasing, closeAllSockets, emitAck, fullHistory, guestSocket, ok, rname } from './helpers.mjs';
import { BANTER_BIN, sqliteOnly, startServer } from './server.mjs';

/** Runs `banter backup`; resolves with {code, stdout, stderr}. */
function backup(dataDir, file, args = []) {
  return new Promise((resolve) => {
    execFile(BANTER_BIN, ['backup', '--data-dir', dataDir, ...args, file], { env: { ...process.env, RUST_LOG: 'warn' } }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
}

test(
  'a backup taken during a send storm restores to a database with every message acknowledged before it began',
  { skip: sqliteOnly('banter backup copies the SQLite file; PostgreSQL is backed up with pg_dump') },
  async (t) => {
  const server = await startServer();
  const work = await mkdtemp(path.join(tmpdir(), 'banter-backup-'));
  let restored;
  t.after(async () => {
    closeAllSockets();
    await server.dispose();
    await restored?.dispose();
    await rm(work, { recursive: true, force: true });
  });
  const { url } = server;
  const room = rname('storm');
  const senders = [];
  for (let i = 0; i < 20; i++) {
    const g = await guestSocket(url, t, `s${i}`);
    await ok(g.socket, 'join', { room });
    senders.push(g);
  }

  // Every sender sends one message after another until told to stop;
  // each ack is recorded with the time it arrived.
  const acked = []; // {id, text, at}
  const sentTexts = new Set();
  let storming = true;
  const storms = senders.map(async (g, i) => {
    for (let n = 0; storming; n++) {
      const text = `${i}:${n}`;
      sentTexts.add(text);
      const ack = await emitAck(g.socket, 'send', { room, text }, 20_000);
      assert.equal(ack.ok, true, JSON.stringify(ack));
      acked.push({ id: ack.message.id, text, at: Date.now() });
    }
  });
  await new Promise((r) => setTimeout(r, 700));

  const file = path.join(work, 'banter-backup.db');
  const began = Date.now();
  const done = await backup(server.dataDir, file);
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /backup written to/);
  const ackedBefore = acked.filter((a) => a.at < began);
  await new Promise((r) => setTimeout(r, 300));
  storming = false;
  await Promise.all(storms);
  assert.ok(ackedBefore.length > 100, `a real storm: ${ackedBefore.length} acks before the backup`);
  assert.ok(acked.length > ackedBefore.length, 'and sends went on during and after it');

  assert.equal((await stat(file)).mode & 0o777, 0o600, 'the backup is readable by its owner only');
  // A second backup to the same file is refused and leaves the file alone.
  const before = await readFile(file);
  const again = await backup(server.dataDir, file);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already exists/);
  assert.ok((await readFile(file)).equals(before));

  // Restore: a new data directory holding only the copy as banter.db.
  const dataDir = path.join(work, 'restored');
  await mkdir(dataDir, { mode: 0o700 });
  await copyFile(file, path.join(dataDir, 'banter.db'));
  restored = await startServer({ dataDir });
  const reader = await guestSocket(restored.url, t, 'reader');
  await ok(reader.socket, 'join', { room });
  const history = await fullHistory(reader.socket, room);

  const byId = new Map(history.map((m) => [m.id, m]));
  for (const a of ackedBefore) {
    const m = byId.get(a.id);
    assert.ok(m, `message ${a.id} (${a.text}), acknowledged before the backup began, is in the restored database`);
    assert.equal(m.text, a.text);
  }
  // Nothing that was never sent, and in log order.
  for (const m of history) assert.ok(sentTexts.has(m.text), `restored message ${m.id} ${m.text} was sent`);
  assertStrictlyIncreasing(history.map((m) => m.id));
  assert.ok(history.length < acked.length, 'the copy is of its moment: later messages are not in it');

  // And the restored server takes new messages.
  await ok(reader.socket, 'send', { room, text: 'after the restore' });
});

test('a backup of a data directory with no database fails and creates nothing', async (t) => {
  const work = await mkdtemp(path.join(tmpdir(), 'banter-backup-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const file = path.join(work, 'copy.db');
  const done = await backup(path.join(work, 'no-such-dir'), file);
  assert.notEqual(done.code, 0);
  assert.match(done.stderr, /cannot open the database/);
  await assert.rejects(stat(file));
});

test('a backup of a PostgreSQL database is refused with a pointer to pg_dump', async (t) => {
  const work = await mkdtemp(path.join(tmpdir(), 'banter-backup-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const file = path.join(work, 'copy.db');
  const done = await backup(work, file, ['--database-url', 'postgres://nobody:hunter2@127.0.0.1:5432/nowhere']);
  assert.notEqual(done.code, 0);
  assert.match(done.stderr, /pg_dump/);
  assert.doesNotMatch(done.stderr, /hunter2/, 'the password is not echoed');
  await assert.rejects(stat(file));
});
