// The data directory and database files are private to the server's user
// (docs/security.md, "Cross-site requests, rooms and read limits"): they
// hold password hashes and session token hashes.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { sqliteOnly, startServer } from './server.mjs';

const skip = sqliteOnly('the modes of the SQLite data directory and files');

const mode = (p) => (statSync(p).mode & 0o777).toString(8);

function tempDir() {
  return mkdtempSync(path.join(tmpdir(), 'banter-files-'));
}

/** Stops the server first (it keeps writing under its data directory, its files directory too), then removes the directory. */
function cleanUp(t, server, dir) {
  t.after(async () => {
    await server.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
}

function assertPrivate(dataDir) {
  assert.equal(mode(dataDir), '700', 'the data directory');
  for (const file of ['banter.db', 'banter.db-wal', 'banter.db-shm']) {
    assert.equal(mode(path.join(dataDir, file)), '600', file);
  }
}

test('a new data directory is made 0700 and its database files 0600', { skip }, async (t) => {
  const root = tempDir();
  const dataDir = path.join(root, 'fresh');
  const server = await startServer({ dataDir });
  cleanUp(t, server, root);
  assertPrivate(dataDir);
});

test('a data directory and database left world-readable are tightened at start', { skip }, async (t) => {
  const root = tempDir();
  const dataDir = path.join(root, 'loose');
  mkdirSync(dataDir);
  chmodSync(dataDir, 0o755);
  // An empty file is a new SQLite database; -wal and -shm as an older
  // install may have left them.
  for (const file of ['banter.db', 'banter.db-wal', 'banter.db-shm']) {
    writeFileSync(path.join(dataDir, file), '');
    chmodSync(path.join(dataDir, file), 0o644);
  }
  const server = await startServer({ dataDir, env: { RUST_LOG: 'warn' } });
  cleanUp(t, server, root);
  assertPrivate(dataDir);
});
