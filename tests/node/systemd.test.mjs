// deploy/systemd/banter.service (docs/deploy.md): systemd accepts it without
// a warning, its hardening rates "OK" or better, every BANTER_* variable in
// it is a setting banter knows, and banter starts with them. (The tests
// cannot run it under systemd: their machine's PID 1 is not systemd.)

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { BANTER_BIN, removeAtExit, startServer } from './server.mjs';

const run = promisify(execFile);
const UNIT_FILE = fileURLToPath(new URL('../../deploy/systemd/banter.service', import.meta.url));
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const noSystemd = !existsSync(SYSTEMD_ANALYZE) && `${SYSTEMD_ANALYZE} is not installed`;

const unit = await readFile(UNIT_FILE, 'utf8');
/** The unit's `Environment=BANTER_…=value` settings. */
const unitEnv = Object.fromEntries(
  unit.split('\n')
    .map((line) => /^Environment=(BANTER_[A-Z_]+)=(.*)$/.exec(line))
    .filter(Boolean)
    .map(([, name, value]) => [name, value]),
);

/** Runs systemd-analyze on a copy of the unit that starts the binary under test; resolves {stdout, stderr}. */
async function analyze(t, args) {
  const dir = await mkdtemp(path.join(tmpdir(), 'banter-unit-'));
  const forget = removeAtExit(dir);
  t.after(async () => {
    await rm(dir, { recursive: true, force: true });
    forget();
  });
  const copy = path.join(dir, 'banter.service');
  const execStart = 'ExecStart=/usr/local/bin/banter\n';
  assert.ok(unit.includes(execStart), `the unit starts /usr/local/bin/banter`);
  await writeFile(copy, unit.replace(execStart, `ExecStart=${BANTER_BIN}\n`));
  try {
    return await run(SYSTEMD_ANALYZE, [...args, copy]);
  } catch (err) {
    assert.fail(`systemd-analyze ${args.join(' ')} failed (${err.code}):\n${err.stdout}\n${err.stderr}`);
  }
}

test('systemd-analyze verify accepts the unit without a warning', { skip: noSystemd }, async (t) => {
  const { stdout, stderr } = await analyze(t, ['verify']);
  assert.equal(`${stdout}${stderr}`, '', 'no warning');
});

test('the unit is hardened: systemd-analyze security rates its exposure 2.0 or less', { skip: noSystemd }, async (t) => {
  const { stdout, stderr } = await analyze(t, ['security', '--offline=yes', '--no-pager']);
  const level = /Overall exposure level for banter\.service: ([\d.]+)/.exec(`${stdout}${stderr}`);
  assert.ok(level, `an exposure level in:\n${stdout}${stderr}`);
  assert.ok(Number(level[1]) <= 2.0, `exposure ${level[1]}`);
});

test('every BANTER_* variable of the unit is a setting, and banter starts with them', async (t) => {
  assert.ok(Object.keys(unitEnv).length >= 5, `the unit's settings: ${JSON.stringify(unitEnv)}`);
  const { stdout: help } = await run(BANTER_BIN, ['--help']);
  for (const name of Object.keys(unitEnv)) {
    assert.ok(help.includes(`[env: ${name}=`), `banter --help knows ${name}`);
  }
  // the unit's values, but a free metrics port (its 9100 may be taken);
  // startServer's --bind and --data-dir flags win over the variables
  const server = await startServer({ env: { ...unitEnv, BANTER_METRICS_BIND: '127.0.0.1:0' } });
  t.after(() => server.dispose());
  assert.match(server.stdoutTail(), /Banter metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/, 'BANTER_METRICS_BIND was read');
});
