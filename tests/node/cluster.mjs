// Several Banter nodes sharing one database and one Redis, for the cluster
// tests.
//
//   const cluster = await startCluster({ nodes: 3 });
//   cluster.nodes        // [server, ...] as startServer returns them
//   cluster.prefix       // this run's --redis-prefix
//   await cluster.add({ args: [...] })   // one more node on the same database and bus
//   await cluster.dispose()              // every node killed, database and Redis keys removed
//
// The database: BANTER_CLUSTER_DATABASE_URL if set (another backend, e.g.
// PostgreSQL, made and cleaned up by whoever sets it), else one SQLite file
// in a temp dir that every node opens (WAL: one writer at a time across the
// processes). Redis: BANTER_TEST_REDIS_URL, default redis://127.0.0.1:6379;
// each cluster has its own key prefix, and its keys are removed at the end.
//
// Heartbeats are shortened (BUS_ARGS) so that a dead node is noticed in
// about a second and a half instead of the default ten.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { databaseArgs, dropSchema, onPostgres, startServer } from './server.mjs';

const run = promisify(execFile);

export const REDIS_URL = process.env.BANTER_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
export const HEARTBEAT_MS = 250;
export const NODE_TIMEOUT_MS = 1500;
export const BUS_ARGS = [
  '--redis-heartbeat-ms', String(HEARTBEAT_MS),
  '--redis-node-timeout-ms', String(NODE_TIMEOUT_MS),
];

/** Runs redis-cli against the test Redis; resolves with its stdout. */
export async function redisCli(...args) {
  const { stdout } = await run('redis-cli', ['-u', REDIS_URL, ...args], { timeout: 10_000 });
  return stdout;
}

/** Fails loudly (never skips) when the test Redis does not answer. */
export async function requireRedis() {
  let answer;
  try {
    answer = (await redisCli('ping')).trim();
  } catch (err) {
    throw new Error(`Redis at ${REDIS_URL} does not answer (.ci/run starts one): ${err.message}`);
  }
  if (answer !== 'PONG') throw new Error(`Redis at ${REDIS_URL} answered ${JSON.stringify(answer)} to PING`);
}

/** The keys under `prefix` (the bus itself stores none). */
export async function keysUnder(prefix) {
  const out = await redisCli('--scan', '--pattern', `${prefix}*`);
  return out.split('\n').filter(Boolean);
}

/**
 * @param {object} [opts]
 * @param {number} [opts.nodes]        how many nodes (3)
 * @param {string[]} [opts.args]       extra arguments for every node
 * @param {string} [opts.databaseUrl]  the shared database (see above)
 * @param {string} [opts.redisUrl]     --redis-url (REDIS_URL; e.g. a proxy to it that a test can cut)
 */
export async function startCluster(opts = {}) {
  await requireRedis();
  const prefix = `banter-test-${process.pid}-${randomBytes(4).toString('hex')}:`;
  let dir = null;
  let databaseUrl = opts.databaseUrl ?? process.env.BANTER_CLUSTER_DATABASE_URL;
  if (!databaseUrl) {
    dir = await mkdtemp(path.join(tmpdir(), 'banter-cluster-'));
    // One SQLite file, or (BANTER_TEST_DATABASE=postgres) one PostgreSQL schema.
    databaseUrl = onPostgres
      ? (await databaseArgs(dir)).at(-1)
      : `sqlite://${path.join(dir, 'banter.db')}`;
  }
  const common = ['--redis-url', opts.redisUrl ?? REDIS_URL, '--redis-prefix', prefix, ...BUS_ARGS, ...(opts.args ?? [])];
  const nodes = [];
  const cluster = {
    prefix,
    databaseUrl,
    nodes,
    /** One more node on the same database and bus. */
    async add(more = {}) {
      const node = await startServer({ databaseUrl, args: [...common, ...(more.args ?? [])] });
      nodes.push(node);
      return node;
    },
    async dispose() {
      for (const node of nodes) await node.dispose();
      const left = await keysUnder(prefix);
      if (left.length > 0) await redisCli('del', ...left);
      if (dir) {
        await rm(dir, { recursive: true, force: true });
        if (onPostgres) await dropSchema(dir);
      }
    },
  };
  try {
    // The first node migrates the database; the others find it ready.
    await cluster.add();
    for (let i = 1; i < (opts.nodes ?? 3); i++) await cluster.add();
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
  return cluster;
}
