// Small helpers shared by the contract tests: HTTP calls, accounts, sockets,
// acks and event collection. Everything follows docs/protocol.md.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { io } from 'socket.io-client';

export const PASSWORD = 'correct-horse-battery';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `check()` is true; fails with `what` after `ms`. */
export async function until(check, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms: ${what}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------------------
// Names

let counter = 0;
/** A user name unique to this run: 1-32 chars of [A-Za-z0-9_.-]. */
export function uname(prefix = 'u') {
  counter += 1;
  const tail = `${process.pid.toString(36)}${counter.toString(36)}${randomBytes(3).toString('hex')}`;
  return `${prefix.slice(0, 32 - tail.length - 1)}_${tail}`.slice(0, 32);
}

/** A room name unique to this run: lowercase, digits, '-', '_' (max 64). */
export function rname(prefix = 'room') {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${counter.toString(36)}-${randomBytes(3).toString('hex')}`.toLowerCase();
}

// ---------------------------------------------------------------------------
// HTTP

/**
 * One HTTP call. Returns {status, headers, text, body} where body is the parsed
 * JSON (or undefined when the response is not JSON).
 *
 * opts: {method, json (object to send as JSON), body (raw string/Buffer),
 *        contentType, token (bearer), cookie (raw Cookie header), headers,
 *        request (node:http or node:https request options, e.g. {ca,
 *        localAddress}: the call then goes over a connection of its own)}
 */
export async function api(baseUrl, path, opts = {}) {
  const headers = { ...(opts.headers ?? {}) };
  let body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] = opts.contentType ?? 'application/json';
  } else if (opts.body !== undefined) {
    body = opts.body;
    if (opts.contentType) headers['content-type'] = opts.contentType;
  }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  const method = opts.method ?? (body === undefined ? 'GET' : 'POST');
  if (opts.freshConnection || opts.request) {
    return apiOnFreshConnection(baseUrl + path, method, headers, body, opts.request);
  }
  let res;
  try {
    res = await fetch(baseUrl + path, { method, headers, body, redirect: 'manual' });
  } catch (err) {
    throw new Error(`${method} ${path}: ${err.message} (${err.cause?.code ?? ''} ${err.cause?.message ?? ''})`);
  }
  const text = await res.text();
  let parsed;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/**
 * The same call over its own connection (node:http or node:https, no
 * keep-alive pool), for requests the server may answer before reading the
 * whole body (a server that then closes the connection must not break the
 * next test's pooled requests), and for calls that need request options
 * fetch has not (a CA to trust, a local address to connect from).
 */
function apiOnFreshConnection(url, method, headers, body, extra = {}) {
  const client = url.startsWith('https:') ? https : http;
  const options = { method, headers: { ...headers, connection: 'close' }, agent: false, ...extra };
  return new Promise((resolve, reject) => {
    const req = client.request(url, options, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode, headers: new Headers(res.headers), text, body: parsed });
      });
      res.on('error', reject);
    });
    // The server may answer and close before it has read everything we send:
    // a write error then is fine if the answer comes anyway.
    req.on('error', (err) => {
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') {
        setTimeout(() => reject(new Error(`${method} ${url}: connection closed with no answer (${err.code})`)), 2000).unref();
      } else {
        reject(err);
      }
    });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Asserts an error response: the given status and exactly {"error": {code, message}}. */
export function assertError(res, status, code) {
  const where = `status ${res.status}, body ${res.text.slice(0, 300)}`;
  assert.equal(res.status, status, `expected HTTP ${status} ${code}; got ${where}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/i, `error content type; ${where}`);
  assertErrorBody(res.body, code, where);
}

/** Asserts a value is exactly {"error": {code, message}} with the given code. */
export function assertErrorBody(body, code, where = JSON.stringify(body)) {
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), `error body is an object; ${where}`);
  assert.deepEqual(Object.keys(body), ['error'], `error body has only "error"; ${where}`);
  const err = body.error;
  assert.ok(err && typeof err === 'object', `error is an object; ${where}`);
  assert.deepEqual(Object.keys(err).sort(), ['code', 'message'], `Error is {code, message}; ${where}`);
  assert.equal(err.code, code, `error code; ${where}`);
  assert.equal(typeof err.message, 'string', `error message is a string; ${where}`);
}

/** The Set-Cookie headers of a response (as an array). */
export function setCookies(res) {
  if (typeof res.headers.getSetCookie === 'function') return res.headers.getSetCookie();
  const one = res.headers.get('set-cookie');
  return one ? [one] : [];
}

/** The banter_session Set-Cookie header, or undefined. */
export function sessionCookie(res) {
  return setCookies(res).find((c) => /^\s*banter_session=/.test(c));
}

export function assertUser(user, { name, guest, bot } = {}) {
  assert.ok(user && typeof user === 'object', `user is an object: ${JSON.stringify(user)}`);
  assert.deepEqual(Object.keys(user).sort(), ['bot', 'guest', 'id', 'name'], `User is {id, name, guest, bot}: ${JSON.stringify(user)}`);
  assert.equal(typeof user.bot, 'boolean');
  if (bot !== undefined) assert.equal(user.bot, bot);
  assert.ok(Number.isSafeInteger(user.id) && user.id > 0, `user.id is a positive integer: ${JSON.stringify(user)}`);
  assert.equal(typeof user.name, 'string');
  assert.equal(typeof user.guest, 'boolean');
  if (name !== undefined) assert.equal(user.name, name);
  if (guest !== undefined) assert.equal(user.guest, guest);
}

/** Asserts a `GET /api/me` body: `{user, admin}` for this user. */
export function assertMe(body, user) {
  assert.deepEqual(Object.keys(body).sort(), ['admin', 'user'], JSON.stringify(body));
  assert.deepEqual(body.user, user);
  assert.equal(typeof body.admin, 'boolean');
}

/** Asserts a Message's shape; `expect` may hold room, text, author (User), client_id. */
export function assertMessage(msg, expect = {}) {
  const where = JSON.stringify(msg)?.slice(0, 300);
  assert.ok(msg && typeof msg === 'object' && !Array.isArray(msg), `message is an object: ${where}`);
  const keys = Object.keys(msg).sort();
  const base = ['attachments', 'author', 'edited_at', 'id', 'mentions', 'mentions_room', 'reactions', 'reply_to', 'room', 'text', 'ts'];
  if ('client_id' in expect && expect.client_id !== undefined) {
    assert.deepEqual(keys, [...base, 'client_id'].sort(), `Message keys: ${where}`);
    assert.equal(msg.client_id, expect.client_id);
  } else {
    assert.deepEqual(keys, base, `Message keys (no client_id unless given): ${where}`);
  }
  assert.ok(Number.isSafeInteger(msg.id) && msg.id > 0, `message id positive integer: ${where}`);
  assert.ok(Number.isSafeInteger(msg.ts), `ts is an integer: ${where}`);
  assert.ok(Math.abs(msg.ts - Date.now()) < 10 * 60_000, `ts is milliseconds since the epoch, near now: ${where}`);
  assert.equal(typeof msg.room, 'string');
  assert.equal(typeof msg.text, 'string');
  assertUser(msg.author);
  // Message features (issue #10): present on every Message, wherever it comes from.
  assert.ok(msg.edited_at === null || Number.isSafeInteger(msg.edited_at), `edited_at: ${where}`);
  assert.ok(msg.reply_to === null || (Number.isSafeInteger(msg.reply_to) && msg.reply_to > 0), `reply_to: ${where}`);
  assert.ok(Array.isArray(msg.mentions) && msg.mentions.every(Number.isSafeInteger), `mentions: ${where}`);
  assert.equal(typeof msg.mentions_room, 'boolean', `mentions_room: ${where}`);
  assert.ok(Array.isArray(msg.reactions), `reactions: ${where}`);
  for (const r of msg.reactions) {
    assert.deepEqual(Object.keys(r).sort(), ['count', 'emoji', 'user_ids'], `Reaction keys: ${where}`);
    assert.ok(Number.isSafeInteger(r.count) && r.count >= r.user_ids.length && r.count > 0, `Reaction count: ${where}`);
  }
  // Files and images (issue #11): always there, [] when none.
  assert.ok(Array.isArray(msg.attachments), `attachments: ${where}`);
  for (const a of msg.attachments) assertAttachment(a, where);
  if (expect.room !== undefined) assert.equal(msg.room, expect.room);
  if (expect.text !== undefined) assert.equal(msg.text, expect.text);
  if (expect.author !== undefined) assert.deepEqual(msg.author, expect.author);
}

/** Asserts an Attachment's shape: {id, name, size, type, width?, height?}, both sizes or neither. */
export function assertAttachment(a, where = JSON.stringify(a)) {
  const keys = Object.keys(a).sort();
  const sized = 'width' in a;
  const expected = sized ? ['height', 'id', 'name', 'size', 'type', 'width'] : ['id', 'name', 'size', 'type'];
  assert.deepEqual(keys, expected, `Attachment keys: ${where}`);
  assert.match(a.id, /^[A-Za-z0-9_-]{22}$/, `attachment id: ${where}`);
  assert.equal(typeof a.name, 'string');
  assert.ok(Number.isSafeInteger(a.size) && a.size >= 0, `attachment size: ${where}`);
  assert.equal(typeof a.type, 'string');
  if (sized) assert.ok(a.width > 0 && a.height > 0, `attachment dimensions: ${where}`);
}

async function authCall(baseUrl, path, json, status) {
  const res = await api(baseUrl, path, { json });
  assert.equal(res.status, status, `${path} ${JSON.stringify(json)} -> ${res.status} ${res.text}`);
  assert.equal(typeof res.body?.token, 'string', `token in ${res.text}`);
  return { token: res.body.token, user: res.body.user, res };
}

export async function register(baseUrl, username = uname('acct'), password = PASSWORD) {
  const r = await authCall(baseUrl, '/api/auth/register', { username, password }, 201);
  return { ...r, name: username, password };
}

export async function login(baseUrl, username, password = PASSWORD) {
  const r = await authCall(baseUrl, '/api/auth/login', { username, password }, 200);
  return { ...r, name: username, password };
}

export async function guest(baseUrl, name = uname('guest')) {
  const r = await authCall(baseUrl, '/api/auth/guest', { name }, 201);
  return { ...r, name };
}

export async function logout(baseUrl, token) {
  return api(baseUrl, '/api/auth/logout', { method: 'POST', token });
}

// ---------------------------------------------------------------------------
// Socket.IO

const sockets = new Set();

/**
 * Connects and resolves with the connected socket; rejects with the
 * connect_error. `token` may be null (no auth). `opts` are merged into the
 * socket.io-client options (e.g. transports, extraHeaders, auth).
 * When `t` (a node:test context) is given, the socket is closed after the test.
 */
export function connect(baseUrl, token, opts = {}, t = undefined) {
  const socket = io(baseUrl, {
    auth: token == null ? undefined : { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    ...opts,
  });
  sockets.add(socket);
  socket.on('disconnect', () => sockets.delete(socket));
  if (t) t.after(() => socket.close());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      socket.close();
      reject(new Error('no connect or connect_error within 10 s'));
    }, 10_000);
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      socket.close();
      sockets.delete(socket);
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    };
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  });
}

/** Expects the connection to be refused; resolves with the connect_error. */
export async function connectError(baseUrl, token, opts = {}) {
  try {
    const s = await connect(baseUrl, token, opts);
    s.close();
  } catch (err) {
    return err;
  }
  assert.fail('connection was accepted but should have been refused');
}

/** Closes every socket opened through connect() that is still open. */
export function closeAllSockets() {
  for (const s of sockets) s.close();
  sockets.clear();
}

/** Emits with an ack and resolves with the ack payload (rejects on timeout). */
export function emitAck(socket, event, payload, timeoutMs = 5000) {
  return socket
    .timeout(timeoutMs)
    .emitWithAck(event, payload)
    .catch((err) => {
      throw new Error(
        `no ack for "${event}" ${JSON.stringify(payload)?.slice(0, 120)} within ${timeoutMs} ms ` +
          `(${err.message}; socket ${socket.connected ? 'connected' : 'disconnected'})`,
      );
    });
}

/** Emits with an ack but no payload argument at all. */
export function emitAckNoPayload(socket, event, timeoutMs = 5000) {
  return socket
    .timeout(timeoutMs)
    .emitWithAck(event)
    .catch((err) => {
      throw new Error(`no ack for "${event}" (no payload) within ${timeoutMs} ms (${err.message})`);
    });
}

/** Emits with an ack and asserts {ok: true}; resolves with the ack. */
export async function ok(socket, event, payload, timeoutMs = 5000) {
  const ack = await emitAck(socket, event, payload, timeoutMs);
  assert.equal(ack?.ok, true, `${event} ${JSON.stringify(payload)?.slice(0, 200)} -> ${JSON.stringify(ack)?.slice(0, 300)}`);
  return ack;
}

/** Emits with an ack and asserts exactly {ok: false, error: {code, message}}. */
export async function refused(socket, event, payload, code, timeoutMs = 5000) {
  const ack = await emitAck(socket, event, payload, timeoutMs);
  assertRefusal(ack, code, `${event} ${JSON.stringify(payload)?.slice(0, 200)}`);
  return ack;
}

export function assertRefusal(ack, code, what = '') {
  const where = `${what} -> ${JSON.stringify(ack)?.slice(0, 300)}`;
  assert.ok(ack && typeof ack === 'object', `ack is an object: ${where}`);
  assert.deepEqual(Object.keys(ack).sort(), ['error', 'ok'], `refusal is {ok, error}: ${where}`);
  assert.equal(ack.ok, false, where);
  assert.ok(ack.error && typeof ack.error === 'object', where);
  assert.deepEqual(Object.keys(ack.error).sort(), ['code', 'message'], `Error is {code, message}: ${where}`);
  assert.equal(ack.error.code, code, where);
  assert.equal(typeof ack.error.message, 'string', where);
}

/**
 * Resolves with the first `event` payload matching `predicate` received after
 * this call; rejects after timeoutMs.
 */
export function waitFor(socket, event, predicate = () => true, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    const listener = (...args) => {
      let match;
      try {
        match = predicate(...args);
      } catch (err) {
        match = false;
      }
      if (match) {
        clearTimeout(timer);
        socket.off(event, listener);
        resolve(args[0]);
      }
    };
    socket.on(event, listener);
  });
}

/** Resolves with the disconnect reason; rejects after timeoutMs. */
export function waitForDisconnect(socket, timeoutMs = 5000) {
  if (!socket.connected) return Promise.resolve('already disconnected');
  return waitFor(socket, 'disconnect', () => true, timeoutMs);
}

/**
 * Records every `event` payload from now on.
 *   const c = collect(socket, 'message');
 *   await c.waitForCount(3);  c.items  c.stop()
 */
export function collect(socket, event, filter = () => true) {
  const items = [];
  const waiters = [];
  const listener = (payload) => {
    if (!filter(payload)) return;
    items.push(payload);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (items.length >= waiters[i].n) {
        waiters[i].resolve(items);
        clearTimeout(waiters[i].timer);
        waiters.splice(i, 1);
      }
    }
  };
  socket.on(event, listener);
  return {
    items,
    waitForCount(n, timeoutMs = 5000) {
      if (items.length >= n) return Promise.resolve(items);
      return new Promise((resolve, reject) => {
        const w = { n, resolve };
        w.timer = setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`timed out after ${timeoutMs} ms: ${items.length}/${n} "${event}" events`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    stop() {
      socket.off(event, listener);
    },
  };
}

/** A guest with a connected socket. t: node:test context for clean-up. */
export async function guestSocket(baseUrl, t, prefix = 'g', opts = {}) {
  const g = await guest(baseUrl, uname(prefix));
  const socket = await connect(baseUrl, g.token, opts, t);
  return { ...g, socket };
}

/** Another socket for the same session. */
export async function secondSocket(baseUrl, who, t, opts = {}) {
  return connect(baseUrl, who.token, opts, t);
}

/**
 * Fires `texts` as sends without waiting, then awaits every ack (all must be
 * ok). Resolves with the stored messages in sent order.
 */
export async function sendAll(socket, room, texts, timeoutMs = 10_000) {
  const acks = await Promise.all(texts.map((text) => emitAck(socket, 'send', { room, text }, timeoutMs)));
  acks.forEach((ack, i) => assert.equal(ack?.ok, true, `send #${i} -> ${JSON.stringify(ack)}`));
  return acks.map((a) => a.message);
}

export function ids(messages) {
  return messages.map((m) => m.id);
}

export function assertStrictlyIncreasing(values, what = 'ids') {
  for (let i = 1; i < values.length; i++) {
    assert.ok(values[i] > values[i - 1], `${what} strictly increasing at ${i}: ${values[i - 1]} then ${values[i]}`);
  }
}

/** Every message of a room via the history event, oldest first (latest page, then before= paging). */
export async function fullHistory(socket, room) {
  let page = (await ok(socket, 'history', { room, limit: 100 })).messages;
  const pages = [page];
  while (page.length === 100) {
    page = (await ok(socket, 'history', { room, before: page[0].id, limit: 100 })).messages;
    pages.unshift(page);
  }
  return pages.flat();
}

/**
 * A multipart/form-data body. parts: [{name, filename?, type?, data}].
 * Built by hand so a test decides every header (a lying Content-Type, a
 * file name with a path).
 */
export function multipart(parts) {
  const boundary = `----banter${Math.random().toString(16).slice(2)}`;
  const chunks = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename}"`;
    head += '\r\n';
    if (part.type) head += `Content-Type: ${part.type}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.from(part.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
