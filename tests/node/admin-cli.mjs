// Runs `banter admin …` against a test server's data directory, as an
// operator would beside the running server.

import { spawn } from 'node:child_process';

import { BANTER_BIN, databaseArgs } from './server.mjs';

/**
 * Runs `banter admin ARGS --data-dir DIR` (and, on PostgreSQL, the
 * `--database-url` of DIR's server) with `input` on stdin; resolves
 * {code, stdout, stderr}. Never rejects on a non-zero exit: tests check it.
 */
export async function adminCli(dataDir, args, input = '') {
  const database = await databaseArgs(dataDir);
  return new Promise((resolve, reject) => {
    const child = spawn(BANTER_BIN, ['admin', ...database, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: 'error' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** `adminCli`, and fails the test unless it exits 0. */
export async function adminOk(dataDir, args, input = '') {
  const r = await adminCli(dataDir, args, input);
  if (r.code !== 0) throw new Error(`banter admin ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r;
}
