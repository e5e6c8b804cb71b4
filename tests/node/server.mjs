// Starts the real Banter binary for the contract tests.
//
//   const server = await startServer({ args: ['--guests', 'false'] });
//   const node = await startServer({ databaseUrl: 'sqlite:///tmp/x/banter.db' }); // a shared database
//   server.url        // http://127.0.0.1:PORT
//   server.dataDir    // the data directory it runs on
//   await server.stop();            // SIGTERM, then SIGKILL after 5 s
//   server.kill();                  // SIGKILL now
//   const again = await server.restart(); // stop (if running), start on the same data dir
//   await server.dispose();         // kill if running and remove the temp dir
//
// The binary comes from $BANTER_BIN, default <repo>/target/debug/banter.
//
// With BANTER_TEST_DATABASE=postgres every data directory gets a fresh
// PostgreSQL schema of its own (on $BANTER_TEST_POSTGRES_URL, default
// postgres://postgres@127.0.0.1:5432/test), and the server runs on it with
// --database-url; a restart on the same data directory finds the same
// schema, and dispose drops it (anything left is dropped at exit). Tests
// that only make sense on SQLite skip with `{ skip: sqliteOnly('why') }`.

import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const BANTER_BIN = process.env.BANTER_BIN || path.join(repoRoot, 'target', 'debug', 'banter');

/** Whether the servers run on PostgreSQL (else on SQLite in their data directory). */
export const onPostgres = process.env.BANTER_TEST_DATABASE === 'postgres';
if (!['postgres', 'sqlite', undefined].includes(process.env.BANTER_TEST_DATABASE)) {
  throw new Error(`BANTER_TEST_DATABASE must be sqlite or postgres, not ${process.env.BANTER_TEST_DATABASE}`);
}
const POSTGRES_URL = process.env.BANTER_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** A `skip` option for a test that only makes sense on SQLite: the reason on PostgreSQL, else false. */
export function sqliteOnly(why) {
  return onPostgres ? `SQLite only: ${why}` : false;
}

// Schemas by data directory, while they exist.
const schemas = new Map();

function psqlArgs(sql) {
  return ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', POSTGRES_URL, '-c', sql];
}

/** Runs SQL with psql; resolves with its unaligned output. */
function psql(sql) {
  return new Promise((resolve, reject) => {
    execFile('psql', ['-A', '-t', ...psqlArgs(sql)], (err, stdout, stderr) =>
      err ? reject(new Error(`psql ${sql}: ${stderr || err.message}`)) : resolve(stdout.trim()),
    );
  });
}

/**
 * Fails unless the server on `dataDir` really works in its PostgreSQL
 * schema: its tables are there, and no SQLite file was made beside.
 */
async function assertOnPostgres(dataDir) {
  const schema = schemas.get(dataDir);
  const tables = await psql(
    `SELECT count(*) FROM information_schema.tables WHERE table_schema = '${schema}' ` +
      `AND table_name IN ('users', 'sessions', 'rooms', 'messages', 'revocations')`,
  );
  if (tables !== '5') throw new Error(`the server did not migrate into ${schema} (${tables} tables)`);
  if (existsSync(path.join(dataDir, 'banter.db'))) throw new Error(`a SQLite file appeared in ${dataDir}`);
}

// Ends the schema's connections (the application name is the schema's) and drops it.
function dropSql(schema) {
  return (
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${schema}' ` +
    `AND pid <> pg_backend_pid(); DROP SCHEMA IF EXISTS ${schema} CASCADE;`
  );
}

/**
 * The arguments that point `banter` (the server or a subcommand) at the
 * database of `dataDir`: the directory itself, and on PostgreSQL its schema
 * (made on first use).
 */
export async function databaseArgs(dataDir) {
  if (!onPostgres) return ['--data-dir', dataDir];
  return ['--data-dir', dataDir, '--database-url', await postgresUrl(dataDir)];
}

/**
 * The URL of `dataDir`'s PostgreSQL schema (made on first use, dropped by
 * dropSchema or at exit), whatever BANTER_TEST_DATABASE says: for tests
 * that need PostgreSQL itself (several nodes behind nginx).
 */
export async function postgresUrl(dataDir) {
  let schema = schemas.get(dataDir);
  if (!schema) {
    schema = `banter_node_${randomBytes(8).toString('hex')}`;
    await psql(`CREATE SCHEMA ${schema}`);
    schemas.set(dataDir, schema);
  }
  const sep = POSTGRES_URL.includes('?') ? '&' : '?';
  return `${POSTGRES_URL}${sep}options=-c%20search_path%3D${schema}&application_name=${schema}`;
}

/** On PostgreSQL, a plain-SQL dump of the schema of `dataDir`'s server (pg_dump). */
export function dumpDatabase(dataDir) {
  const schema = schemas.get(dataDir);
  if (!schema) throw new Error(`no schema for ${dataDir}`);
  return new Promise((resolve, reject) => {
    execFile(
      'pg_dump',
      ['--schema', schema, '--data-only', '-d', POSTGRES_URL],
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`pg_dump: ${stderr || err.message}`)) : resolve(stdout)),
    );
  });
}

export async function dropSchema(dataDir) {
  const schema = schemas.get(dataDir);
  if (!schema) return;
  schemas.delete(dataDir);
  await psql(dropSql(schema));
}

// Only a complete line counts: a chunk may end in the middle of the port.
const READY = /Banter listening on (http:\/\/\S+?)\/?\r?\n/;
const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const TAIL_CHARS = 4_000;

// Children still running when the test process exits are killed, so a failed
// test never leaves a server behind.
// Temp dirs still owned at exit are removed too.
const live = new Set();
const ownedDirs = new Set();

/** Kills `child` (SIGKILL) if it is still running when the test process exits. */
export function killAtExit(child) {
  live.add(child);
  child.once('close', () => live.delete(child));
}

/** Removes `dir` when the test process exits; the returned function cancels that. */
export function removeAtExit(dir) {
  ownedDirs.add(dir);
  return () => ownedDirs.delete(dir);
}

process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of ownedDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  for (const schema of schemas.values()) {
    spawnSync('psql', psqlArgs(dropSql(schema)), { stdio: 'ignore' });
  }
});

// The server's default rate limits are made for humans; most tests drive it
// far faster on purpose (bursts, ordering under load), so they run with limits
// out of the way. A test that exercises a limit names its own flag, which then
// replaces the default here.
const GENEROUS_LIMITS = {
  '--send-rate': '100000:100000',
  '--join-rate': '100000:100000',
  '--typing-rate': '100000:100000',
  '--auth-rate': '100000:100000',
  '--login-rate': '100000:100000',
  '--handshake-rate': '100000:100000',
  '--room-create-rate': '100000:100000',
  '--room-create-ip-rate': '100000:100000',
  '--read-rate': '100000:100000',
  '--max-connections-per-ip': '100000',
  '--max-tcp-connections-per-ip': '100000',
  '--max-tcp-connections': '100000',
  // Not a limit: no wait between SIGTERM and closing the sockets (readiness
  // tests set their own).
  '--drain-secs': '0',
};

/** `args` plus every generous limit that `args` does not set itself. */
export function withGenerousLimits(args) {
  const extra = Object.entries(GENEROUS_LIMITS)
    .filter(([flag]) => !args.includes(flag))
    .flat();
  return [...args, ...extra];
}

/**
 * @param {object} [opts]
 * @param {string[]} [opts.args]    extra command line arguments, e.g. ['--guests', 'false']
 * @param {string} [opts.dataDir]   run on this data dir (not removed by dispose) instead of a fresh one
 * @param {string} [opts.databaseUrl] --database-url (e.g. one SQLite file or PostgreSQL database that
 *                                  several nodes share); the data dir is then unused but still made
 * @param {Record<string,string>} [opts.env] extra environment (RUST_LOG defaults to warn)
 */
export async function startServer(opts = {}) {
  const args = opts.args ?? [];
  const env = opts.env ?? {};
  let ownsDir = false;
  let dataDir = opts.dataDir;
  if (!dataDir) {
    dataDir = await mkdtemp(path.join(tmpdir(), 'banter-test-'));
    ownsDir = true;
    ownedDirs.add(dataDir);
  }
  if (!existsSync(BANTER_BIN)) {
    if (ownsDir) {
      await rm(dataDir, { recursive: true, force: true });
      ownedDirs.delete(dataDir);
    }
    throw new Error(`Banter binary not found at ${BANTER_BIN} (build it with cargo build, or set BANTER_BIN)`);
  }

    // A test may name its own --bind (e.g. to restart on the same port).
  const bind = args.includes('--bind') ? [] : ['--bind', '127.0.0.1:0'];
  // opts.databaseUrl: several servers on one database (the cluster tests).
  const database = opts.databaseUrl
    ? ['--data-dir', dataDir, '--database-url', opts.databaseUrl]
    : args.includes('--database-url') ? ['--data-dir', dataDir] : await databaseArgs(dataDir);
  const child = spawn(BANTER_BIN, [...bind, ...database, ...withGenerousLimits(args)], {
    env: { ...process.env, RUST_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killAtExit(child);

  let stdoutTail = '';
  let stderrTail = '';
  // 'close' (not 'exit'): the process has ended and its output is fully read
  const exited = new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  let exitInfo = null;
  exited.then((info) => {
    exitInfo = info;
  });

  const url = await new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
      reject(new Error(`${why}\n--- stdout tail ---\n${stdoutTail}\n--- stderr tail ---\n${stderrTail}`));
    };
    const timer = setTimeout(
      () => fail(`Banter did not print "Banter listening on ..." within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    let lineBuf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      stdoutTail = (stdoutTail + chunk).slice(-TAIL_CHARS);
      if (settled) return;
      lineBuf += chunk;
      const m = READY.exec(lineBuf);
      if (m) {
        settled = true;
        clearTimeout(timer);
        resolve(m[1]);
      } else if (lineBuf.length > 64_000) {
        lineBuf = lineBuf.slice(-1000);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      stderrTail = (stderrTail + chunk).slice(-TAIL_CHARS);
    });
    child.once('error', (err) => fail(`could not spawn ${BANTER_BIN}: ${err.message}`));
    // 'close' comes after the output streams are drained, so the tails are complete
    child.once('close', (code, signal) => fail(`Banter exited before listening (code ${code}, signal ${signal})`));
  }).catch(async (err) => {
    // ('exit' may never come when the spawn itself failed)
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    if (ownsDir) {
      await rm(dataDir, { recursive: true, force: true });
      ownedDirs.delete(dataDir);
      await dropSchema(dataDir);
    }
    throw err;
  });

  // (A server on a database of the test's choosing, opts.databaseUrl, is checked by that test.)
  if (onPostgres && !args.includes('--database-url') && !opts.databaseUrl) await assertOnPostgres(dataDir);

  const server = {
    url,
    dataDir,
    args,
    child,
    /** The exit status once the process has ended, else null. */
    get exitInfo() {
      return exitInfo;
    },
    get running() {
      return exitInfo === null;
    },
    /** Last few KiB of the server's stderr (for assertion messages). */
    stderrTail: () => stderrTail,
    /** Last few KiB of the server's stdout (e.g. the metrics address line). */
    stdoutTail: () => stdoutTail,
    /** SIGTERM, wait for exit; SIGKILL if it has not ended after 5 s. Resolves to {code, signal}. */
    async stop() {
      if (exitInfo) return exitInfo;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          child.kill('SIGKILL');
        } catch {
          // already gone
        }
      }, STOP_GRACE_MS);
      const info = await exited;
      clearTimeout(timer);
      return info;
    },
    /** SIGKILL, no grace. Resolves once the process is gone. */
    async kill() {
      if (exitInfo) return exitInfo;
      child.kill('SIGKILL');
      return exited;
    },
    /**
     * Stop this server (gracefully, if still running) and start a new one on
     * the same data dir with the same args. The new server takes over the
     * temp dir's clean-up.
     */
    async restart(restartOpts = {}) {
      await server.stop();
      const next = await startServer({ args, env, databaseUrl: opts.databaseUrl, ...restartOpts, dataDir });
      next._ownsDir = server._ownsDir;
      server._ownsDir = false;
      return next;
    },
    /** Kill if still running and remove the data dir (and its schema) if this helper created it. */
    async dispose() {
      await server.kill();
      if (server._ownsDir) {
        server._ownsDir = false;
        await rm(dataDir, { recursive: true, force: true });
        ownedDirs.delete(dataDir);
        await dropSchema(dataDir);
      }
    },
    _ownsDir: ownsDir,
  };
  return server;
}
