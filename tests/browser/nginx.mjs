// Debian's nginx in front of Banter, for the deployment test: a certificate
// authority and a server certificate made with openssl, and nginx run in the
// foreground on the repository's deploy/nginx/banter.conf, with only its
// ports and file paths replaced. It has a prefix, temp dirs, pid file and
// logs of its own, so it never touches (or needs) the system's nginx.
//
//   const port = await freePort();
//   const proxy = await startNginx({ httpsPort: port, upstreams: ['127.0.0.1:4000'] });
//   await startNginx({ httpsPort, upstreams, edit: (site) => ... })  // a variant of the sample (a counter-example)
//   proxy.url                 // https://127.0.0.1:PORT
//   proxy.httpUrl             // http://127.0.0.1:OTHER (the redirect server)
//   proxy.ca, proxy.spki      // the CA's PEM; the server key's SHA-256 SPKI hash
//   launchBrowser({ args: proxy.chromiumArgs })  // Chromium accepting that one key
//   startServer({ args: [...behindNginx(port)] })  // the node flags docs/deploy.md gives
//   await proxy.waitForLog(/" 101 /);
//   await proxy.dispose();    // stop nginx, remove its directory

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { killAtExit, removeAtExit } from '../node/server.mjs';
import { repoRoot } from './helpers.mjs';

export const NGINX_BIN = process.env.NGINX_PATH || '/usr/sbin/nginx';
export const SITE_FILE = path.join(repoRoot, 'deploy', 'nginx', 'banter.conf');

const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const run = promisify(execFile);

/**
 * The flags docs/deploy.md gives a node behind this nginx: trust it
 * (127.0.0.1) for the client's address and scheme, and accept the page's
 * origin, https://127.0.0.1:httpsPort.
 */
export function behindNginx(httpsPort) {
  return ['--trusted-proxies', '127.0.0.1', '--public-origin', `https://127.0.0.1:${httpsPort}`];
}

/** A TCP port free on 127.0.0.1 just now (nginx cannot be given port 0). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * A CA and a certificate for `localhost` and `127.0.0.1` signed by it, in
 * `dir`. Resolves {ca (PEM), fullchain, key (file paths), spki (base64
 * SHA-256 of the server certificate's public key)}.
 */
export async function makeCertificates(dir) {
  const file = (name) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', [
    'req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2',
    '-subj', '/CN=Banter test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', ['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost']);
  await writeFile(file('server.ext'), [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    'subjectAltName = DNS:localhost, IP:127.0.0.1',
    '',
  ].join('\n'));
  await run('openssl', [
    'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-sha256',
    '-extfile', file('server.ext'), '-out', file('server.pem'),
  ]);
  const ca = await readFile(file('ca.pem'), 'utf8');
  const leaf = await readFile(file('server.pem'), 'utf8');
  await writeFile(file('fullchain.pem'), leaf + ca);
  const spkiDer = new X509Certificate(leaf).publicKey.export({ type: 'spki', format: 'der' });
  const spki = createHash('sha256').update(spkiDer).digest('base64');
  return { ca, fullchain: file('fullchain.pem'), key: file('server.key'), spki };
}

/**
 * `text` with every [from, to, times] replacement made; each `from` must
 * occur exactly `times` (default 1) times, so that the test fails when the
 * site file changes under it rather than running something else.
 */
export function substitute(text, replacements) {
  let out = text;
  for (const [from, to, times = 1] of replacements) {
    const parts = out.split(from);
    assert.equal(parts.length - 1, times, `${JSON.stringify(from)} occurs ${parts.length - 1} times in ${SITE_FILE}, expected ${times}`);
    out = parts.join(to);
  }
  return out;
}

/**
 * Starts nginx on `httpsPort` (and a free port for plain HTTP) in front of
 * `upstreams` (host:port of Banter nodes: the sample's one `server` line
 * becomes one line per node). `edit`, if given, changes the site file after
 * that: only for a test's counter-example, never for the sample under test.
 */
export async function startNginx({ httpsPort, upstreams, edit = (site) => site }) {
  if (!existsSync(NGINX_BIN)) {
    throw new Error(`nginx not found at ${NGINX_BIN}: install Debian's nginx package (scripts/test does) or set NGINX_PATH`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'banter-nginx-'));
  const forget = removeAtExit(dir);
  const cleanUp = async () => {
    await rm(dir, { recursive: true, force: true });
    forget();
  };
  let child;
  try {
    const certs = await makeCertificates(dir);
    const httpPort = await freePort();
    const file = (name) => path.join(dir, name);
    const site = substitute(await readFile(SITE_FILE, 'utf8'), [
      ['listen 443 ssl;', `listen 127.0.0.1:${httpsPort} ssl;`],
      ['listen 80;', `listen 127.0.0.1:${httpPort};`],
      ['server 127.0.0.1:3000;', upstreams.map((u) => `server ${u};`).join('\n    ')],
      ['/etc/letsencrypt/live/chat.example.com/fullchain.pem', certs.fullchain],
      ['/etc/letsencrypt/live/chat.example.com/privkey.pem', certs.key],
      ['/var/log/nginx/banter.access.log', file('access.log')],
      ['/var/log/nginx/banter.error.log', file('banter-error.log')],
    ]);
    await writeFile(file('banter.conf'), edit(site));
    await mkdir(file('temp'));
    // What Debian's /etc/nginx/nginx.conf would give the site file, in
    // this directory: one process in the foreground (so that killing it
    // leaves no worker behind), its pid file, logs and temp dirs.
    const temp = (name) => `${file('temp')}/${name}`;
    await writeFile(file('nginx.conf'), `daemon off;
master_process off;
worker_processes 1;
pid ${file('nginx.pid')};
error_log ${file('error.log')} notice;
events { worker_connections 1024; }
http {
    client_body_temp_path ${temp('body')};
    proxy_temp_path ${temp('proxy')};
    fastcgi_temp_path ${temp('fastcgi')};
    uwsgi_temp_path ${temp('uwsgi')};
    scgi_temp_path ${temp('scgi')};
    include ${file('banter.conf')};
}
`);
    child = spawn(NGINX_BIN, ['-p', dir, '-e', file('error.log'), '-c', file('nginx.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    killAtExit(child);
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
    });
    const failed = exited.then(async ({ code, signal, error }) => {
      const log = await readFile(file('error.log'), 'utf8').catch(() => '');
      const why = error ? `could not run ${NGINX_BIN}: ${error.message}` : `nginx exited (code ${code}, signal ${signal})`;
      throw new Error(`${why}\n${stderr}\n${log}`);
    });
    await Promise.race([listening(httpsPort), failed]);
    failed.catch(() => {}); // from here on an exit is stop()'s business

    const proxy = {
      url: `https://127.0.0.1:${httpsPort}`,
      httpUrl: `http://127.0.0.1:${httpPort}`,
      ca: certs.ca,
      spki: certs.spki,
      /** Chromium switches: accept the certificate with this one key (and refuse any other as usual). */
      chromiumArgs: [`--ignore-certificate-errors-spki-list=${certs.spki}`],
      accessLog: () => readFile(file('access.log'), 'utf8'),
      /** Resolves with the access log once a line matches `pattern` (nginx writes a line when a request ends). */
      async waitForLog(pattern, timeoutMs = 5_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const log = await proxy.accessLog();
          if (log.split('\n').some((line) => pattern.test(line))) return log;
          if (Date.now() > deadline) assert.fail(`no access log line matches ${pattern}:\n${log}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      /** SIGTERM (nginx's fast shutdown), SIGKILL after 5 s. */
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return exited;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        const info = await exited;
        clearTimeout(timer);
        return info;
      },
      async dispose() {
        await proxy.stop();
        await cleanUp();
      },
    };
    return proxy;
  } catch (err) {
    child?.kill('SIGKILL');
    await cleanUp();
    throw err;
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
async function listening(port) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on port ${port} within ${START_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
