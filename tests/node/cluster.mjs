// Several Banter nodes sharing one database and one Redis, for the cluster
// tests.
//
//   const cluster = await startCluster({ nodes: 3 });
//   cluster.nodes        // [server, ...] as startServer returns them
//   cluster.prefix       // this run's --redis-prefix
//   (await metricsOf(cluster.nodes[0]))('banter_bus_peers')  // a node's /metrics (--metrics-bind)
//   await cluster.add({ args: [...] })   // one more node on the same database and bus
//   await cluster.dispose()              // every node killed, database and Redis keys removed
//
// The database: BANTER_CLUSTER_DATABASE_URL if set (another backend, e.g.
// PostgreSQL, made and cleaned up by whoever sets it), else one SQLite file
// in a temp dir that every node opens (WAL: one writer at a time across the
// processes), or with BANTER_TEST_DATABASE=postgres (or `postgres: true`)
// one PostgreSQL schema of the cluster's own. Redis: BANTER_TEST_REDIS_URL, default redis://127.0.0.1:6379;
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

import assert from 'node:assert/strict';
import { dropSchema, onPostgres, postgresUrl, startServer } from './server.mjs';

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
 * A node's metrics now, by sample name with its labels as in the scrape
 * (`banter_connections_open{transport="polling"}`); the node must run with
 * `--metrics-bind`. Resolves a getter that fails on a name not scraped.
 */
export async function metricsOf(node) {
  const found = /Banter metrics on (http:\/\/\S+)\r?\n/.exec(node.stdoutTail());
  assert.ok(found, `the metrics address on stdout: ${node.stdoutTail()}`);
  const text = await (await fetch(found[1])).text();
  const samples = new Map();
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\S+)$/.exec(line);
    if (m && !line.startsWith('#')) samples.set(m[1], Number(m[2]));
  }
  return (name) => {
    assert.ok(samples.has(name), `${name} in the scrape`);
    return samples.get(name);
  };
}

/**
 * @param {object} [opts]
 * @param {number} [opts.nodes]        how many nodes (3)
 * @param {string[]} [opts.args]       extra arguments for every node
 * @param {string} [opts.databaseUrl]  the shared database (see above)
 * @param {string} [opts.redisUrl]     --redis-url (REDIS_URL; e.g. a proxy to it that a test can cut)
 * @param {boolean} [opts.postgres]    a PostgreSQL schema of its own, whatever BANTER_TEST_DATABASE says
 */
export async function startCluster(opts = {}) {
  await requireRedis();
  const prefix = `banter-test-${process.pid}-${randomBytes(4).toString('hex')}:`;
  let dir = null;
  let databaseUrl = opts.databaseUrl ?? process.env.BANTER_CLUSTER_DATABASE_URL;
  if (!databaseUrl) {
    dir = await mkdtemp(path.join(tmpdir(), 'banter-cluster-'));
    // One SQLite file, or one PostgreSQL schema.
    databaseUrl = (opts.postgres ?? onPostgres)
      ? await postgresUrl(dir)
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
        await dropSchema(dir); // (nothing to drop on SQLite)
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
