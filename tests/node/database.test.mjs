// The database URL picks the backend (sqlite:… or postgres://… /
// postgresql://…); anything else is refused at start with a clear error that
// shows the scheme only (the rest of a URL may hold a password).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';

import { BANTER_BIN } from './server.mjs';

const URL_WITH_PASSWORD = 'mysql://root:hunter2@127.0.0.1:3306/banter';

function run(args) {
  return new Promise((resolve) => {
    execFile(BANTER_BIN, args, { env: { ...process.env, RUST_LOG: 'error' }, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
}

test('a database URL of another kind is refused at start, showing its scheme only', async () => {
  const done = await run(['--bind', '127.0.0.1:0', '--database-url', URL_WITH_PASSWORD]);
  assert.notEqual(done.code, 0);
  assert.match(done.stderr, /unsupported database URL scheme "mysql"/);
  assert.match(done.stderr, /postgres:\/\//, 'it says what is supported');
  assert.doesNotMatch(done.stderr + done.stdout, /hunter2/, 'the password is not echoed');
});

test('banter admin refuses it the same way', async () => {
  const done = await run(['admin', '--database-url', URL_WITH_PASSWORD, 'sessions', 'alice']);
  assert.notEqual(done.code, 0);
  assert.match(done.stderr, /unsupported database URL scheme "mysql"/);
  assert.doesNotMatch(done.stderr + done.stdout, /hunter2/, 'the password is not echoed');
});
