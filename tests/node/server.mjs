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

import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const BANTER_BIN = process.env.BANTER_BIN || path.join(repoRoot, 'target', 'debug', 'banter');

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
  const database = opts.databaseUrl ? ['--database-url', opts.databaseUrl] : [];
  const child = spawn(BANTER_BIN, [...bind, '--data-dir', dataDir, ...database, ...withGenerousLimits(args)], {
    env: { ...process.env, RUST_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);

  let stdoutTail = '';
  let stderrTail = '';
  // 'close' (not 'exit'): the process has ended and its output is fully read
  const exited = new Promise((resolve) => {
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
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
    }
    throw err;
  });

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
    /** Kill if still running and remove the data dir if this helper created it. */
    async dispose() {
      await server.kill();
      if (server._ownsDir) {
        server._ownsDir = false;
        await rm(dataDir, { recursive: true, force: true });
        ownedDirs.delete(dataDir);
      }
    },
    _ownsDir: ownsDir,
  };
  return server;
}
