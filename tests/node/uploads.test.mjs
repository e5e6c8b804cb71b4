// Files and images (issue #11; docs/protocol.md, "Files and images"):
// POST /api/rooms/{room}/uploads makes a message with attachments, stored
// before it is answered and heard by the room once; GET /files/{id} serves
// it inertly to whoever may read the room, 404 to anyone else; hostile
// uploads (HTML named .png, SVG with script, too large, a decompression
// bomb, too many) get a clear error or are served as inert downloads.
// Test images are made here (PNG written by hand with zlib).

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deflateSync } from 'node:zlib';

import {
  api,
  assertAttachment,
  assertError,
  assertMessage,
  closeAllSockets,
  collect,
  connect,
  guestSocket,
  multipart,
  ok,
  register,
  rname,
  uname,
  sleep,
  until,
} from './helpers.mjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

import { adminOk } from './admin-cli.mjs';
import { startCluster } from './cluster.mjs';
import { startServer } from './server.mjs';

const MAX_FILE_BYTES = 256 * 1024;

let server;
let url;

before(async () => {
  server = await startServer({ args: ['--max-file-bytes', String(MAX_FILE_BYTES), '--files-per-message', '3'] });
  url = server.url;
});

after(async () => {
  closeAllSockets();
  await server?.dispose();
});

// ---------------------------------------------------------------------------
// Files made here

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k += 1) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(kind, data) {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(kind, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([head, body, crc]);
}

function ihdr(width, height) {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data[8] = 8; // bit depth
  data[9] = 2; // RGB
  return chunk('IHDR', data);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A real RGB PNG of `width`×`height` (a gradient). */
export function png(width, height) {
  const rows = [];
  for (let y = 0; y < height; y += 1) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x += 1) row.set([x % 256, y % 256, 128], 1 + x * 3);
    rows.push(row);
  }
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

/** A PNG of a few dozen bytes that declares `width`×`height` pixels (30 GB once decoded at 100000²). */
function bomb(width, height) {
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

/** POST /api/rooms/{room}/uploads with `parts`, as `token`. */
async function upload(token, room, parts, opts = {}) {
  return uploadTo(opts.url ?? url, token, room, parts);
}

function uploadTo(base, token, room, parts) {
  const { body, contentType } = multipart(parts);
  return api(base, `/api/rooms/${encodeURIComponent(room)}/uploads`, { body, contentType, token, freshConnection: true });
}

const file = (filename, data, type = 'application/octet-stream') => ({ name: 'file', filename, type, data });

/** GET a file (or its thumbnail) as `token`; the body as bytes. */
async function fetchFile(token, pathname) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const res = await fetch(url + pathname, { headers });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** Where the server keeps a file on disk (the local file store, under the data directory). */
function onDisk(id, dataDir = server.dataDir) {
  return path.join(dataDir, 'files', id.slice(0, 2), id);
}

/** Every stored file's name under the files directory (the staging directory apart). */
function storedFiles(dataDir = server.dataDir) {
  const root = path.join(dataDir, 'files');
  return readdirSync(root).filter((d) => d !== 'staging').flatMap((d) => readdirSync(path.join(root, d)));
}

function assertInert(res, { type, inline }) {
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/, csp);
  assert.match(csp, /(^|;)\s*sandbox\s*(;|$)/, csp);
  assert.equal(res.headers.get('content-type'), type);
  const disposition = res.headers.get('content-disposition') ?? '';
  assert.match(disposition, inline ? /^inline;/ : /^attachment;/, disposition);
  assert.match(res.headers.get('cache-control') ?? '', /private/);
}

/** Two members of a fresh public room, each with a socket. */
async function roomOfTwo(t) {
  const room = rname('files');
  const alice = await guestSocket(url, t, 'alice');
  const bob = await guestSocket(url, t, 'bob');
  await ok(alice.socket, 'join', { room });
  await ok(bob.socket, 'join', { room });
  return { room, alice, bob };
}

// ---------------------------------------------------------------------------

describe('an upload by a member', () => {
  test('makes a message with its files, stored, heard by the room once, in history and the join ack', async (t) => {
    const { room, alice, bob } = await roomOfTwo(t);
    const heard = collect(bob.socket, 'message', (m) => m.room === room);
    const image = png(64, 48);
    const res = await upload(alice.token, room, [
      file('../../cat picture.png', image, 'image/png'),
      file('notes.txt', 'just text\n', 'text/plain'),
      { name: 'text', data: 'look at this' },
      { name: 'client_id', data: 'up-1' },
    ]);
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['duplicate', 'message']);
    assert.equal(res.body.duplicate, false);
    const { message } = res.body;
    assertMessage(message, { room, text: 'look at this', client_id: 'up-1', author: alice.user });
    assert.equal(message.attachments.length, 2);
    const [img, txt] = message.attachments;
    assert.deepEqual({ ...img, id: 'x' }, { id: 'x', name: 'cat picture.png', size: image.length, type: 'image/png', width: 64, height: 48 });
    assert.deepEqual({ ...txt, id: 'x' }, { id: 'x', name: 'notes.txt', size: 10, type: 'text/plain' });
    assert.notEqual(img.id, txt.id);

    await heard.waitForCount(1);
    await sleep(200); // a second copy would have come by now
    assert.equal(heard.items.length, 1);
    assert.deepEqual(heard.items[0], message);

    const history = await api(url, `/api/rooms/${room}/messages`, { token: bob.token });
    assert.deepEqual(history.body.messages.at(-1), message);
    const carol = await guestSocket(url, t, 'carol');
    const joined = await ok(carol.socket, 'join', { room });
    assert.deepEqual(joined.messages.at(-1), message);
    // On disk under its id, never under the name it was given.
    assert.deepEqual(readFileSync(onDisk(img.id)), image);
    assert.ok(!storedFiles().some((name) => name.includes('cat')));
  });

  test('a message sent without files has attachments: []', async (t) => {
    const { room, alice } = await roomOfTwo(t);
    const ack = await ok(alice.socket, 'send', { room, text: 'plain' });
    assert.deepEqual(ack.message.attachments, []);
  });

  test('a repeated client_id answers the stored message and stores nothing new', async (t) => {
    const { room, alice, bob } = await roomOfTwo(t);
    const heard = collect(bob.socket, 'message', (m) => m.room === room);
    const parts = [file('a.txt', 'one'), { name: 'client_id', data: 'same-upload' }];
    const first = await upload(alice.token, room, parts);
    assert.equal(first.status, 201, first.text);
    const again = await upload(alice.token, room, parts);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.message.id, first.body.message.id);
    assert.deepEqual(again.body.message.attachments, first.body.message.attachments);
    await heard.waitForCount(1);
    await sleep(200);
    assert.equal(heard.items.length, 1);
  });

  test('is refused for a stranger: room_not_found for a private room, not_in_room for a public one', async (t) => {
    const alice = await guestSocket(url, t, 'alice');
    const stranger = await guestSocket(url, t, 'stranger');
    const secret = rname('secret');
    await ok(alice.socket, 'create', { room: secret, kind: 'private' });
    const before = storedFiles().length;
    assertError(await upload(stranger.token, secret, [file('x.txt', 'hi')]), 404, 'room_not_found');
    assertError(await upload(stranger.token, rname('nowhere'), [file('x.txt', 'hi')]), 404, 'room_not_found');
    const open = rname('open');
    await ok(alice.socket, 'join', { room: open });
    assertError(await upload(stranger.token, open, [file('x.txt', 'hi')]), 403, 'not_in_room');
    assertError(await upload(undefined, open, [file('x.txt', 'hi')]), 401, 'unauthorized');
    assert.equal(storedFiles().length, before);
  });

  test('a body that is not multipart, or holds no file, is refused', async (t) => {
    const { room, alice } = await roomOfTwo(t);
    const json = await api(url, `/api/rooms/${room}/uploads`, { json: { text: 'hi' }, token: alice.token });
    assertError(json, 415, 'unsupported_media_type');
    assertError(await upload(alice.token, room, [{ name: 'text', data: 'no file' }]), 400, 'invalid_payload');
    assertError(await upload(alice.token, room, [file('a', 'x'), { name: 'other', data: 'y' }]), 400, 'invalid_payload');
    const four = [1, 2, 3, 4].map((i) => file(`${i}.txt`, 'x'));
    assertError(await upload(alice.token, room, four), 400, 'too_many_files');
    assertError(await upload(alice.token, room, [file('a', 'x'), { name: 'text', data: 'a\u0000b' }]), 400, 'invalid_text');
  });
});

describe('serving a file', () => {
  test('a reader gets an image inline with inert headers, and its thumbnail', async (t) => {
    const { room, alice, bob } = await roomOfTwo(t);
    const image = png(400, 300);
    const res = await upload(alice.token, room, [file('big.png', image, 'image/png')]);
    assert.equal(res.status, 201, res.text);
    const [att] = res.body.message.attachments;
    assert.deepEqual([att.width, att.height], [400, 300]);
    const got = await fetchFile(bob.token, `/files/${att.id}`);
    assert.equal(got.status, 200);
    assertInert(got, { type: 'image/png', inline: true });
    assert.deepEqual(got.bytes, image);
    const thumb = await fetchFile(bob.token, `/files/${att.id}/thumb`);
    assert.equal(thumb.status, 200);
    assertInert(thumb, { type: 'image/jpeg', inline: true });
    assert.ok(thumb.bytes.length > 100 && thumb.bytes.length < image.length, `thumbnail of ${thumb.bytes.length} bytes`);
    assert.deepEqual([...thumb.bytes.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    // A public room's file is anyone's who may read the room, member or not.
    const reader = await guestSocket(url, t, 'reader');
    assert.equal((await fetchFile(reader.token, `/files/${att.id}`)).status, 200);
    // Revalidation answers 304 (private, no-cache: every view asks again).
    const etag = got.headers.get('etag');
    const again = await fetch(`${url}/files/${att.id}`, { headers: { authorization: `Bearer ${bob.token}`, 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  test('a file name is offered exactly, percent-encoded, for download', async (t) => {
    const { room, alice } = await roomOfTwo(t);
    const res = await upload(alice.token, room, [file('C:\\Users\\me\\résumé final.pdf', '%PDF-1.4 not really', 'application/pdf')]);
    assert.equal(res.status, 201, res.text);
    const [att] = res.body.message.attachments;
    assert.equal(att.name, 'résumé final.pdf');
    const got = await fetchFile(alice.token, `/files/${att.id}`);
    assert.equal(got.status, 200);
    assertInert(got, { type: 'application/pdf', inline: false });
    const disposition = got.headers.get('content-disposition');
    assert.match(disposition, /filename\*=UTF-8''r%C3%A9sum%C3%A9%20final\.pdf/);
  });

  test('a private room\'s file is 404 to a stranger, exactly as a file that does not exist', async (t) => {
    const alice = await guestSocket(url, t, 'alice');
    const stranger = await guestSocket(url, t, 'stranger');
    const secret = rname('secret');
    await ok(alice.socket, 'create', { room: secret, kind: 'private' });
    const res = await upload(alice.token, secret, [file('plan.png', png(8, 8), 'image/png')]);
    assert.equal(res.status, 201, res.text);
    const { id } = res.body.message.attachments[0];
    assert.equal((await fetchFile(alice.token, `/files/${id}`)).status, 200);
    const missing = await fetchFile(stranger.token, '/files/AAAAAAAAAAAAAAAAAAAAAA');
    for (const pathname of [`/files/${id}`, `/files/${id}/thumb`]) {
      const got = await fetchFile(stranger.token, pathname);
      assert.equal(got.status, 404, pathname);
      assert.deepEqual(got.bytes, missing.bytes);
      assert.equal((await fetchFile(undefined, pathname)).status, 404);
    }
    assert.equal((await fetchFile(stranger.token, '/files/..%2F..%2Fbanter.db')).status, 404);
  });
});

describe('hostile uploads', () => {
  test('an HTML page named .png is an HTML download, never an image', async (t) => {
    const { room, alice, bob } = await roomOfTwo(t);
    const page = '<!DOCTYPE html><html><body><script>document.title="pwned"</script></body></html>';
    const res = await upload(alice.token, room, [file('cute-cat.png', page, 'image/png')]);
    assert.equal(res.status, 201, res.text);
    const [att] = res.body.message.attachments;
    assertAttachment(att);
    assert.equal(att.type, 'text/html');
    assert.equal(att.width, undefined);
    const got = await fetchFile(bob.token, `/files/${att.id}`);
    assert.equal(got.status, 200);
    assertInert(got, { type: 'text/html', inline: false });
    assert.equal((await fetchFile(bob.token, `/files/${att.id}/thumb`)).status, 404);
  });

  test('an SVG with a script is a sandboxed download, never shown inline', async (t) => {
    const { room, alice, bob } = await roomOfTwo(t);
    const svg = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script><circle r="4"/></svg>';
    const res = await upload(alice.token, room, [file('logo.svg', svg, 'image/svg+xml')]);
    assert.equal(res.status, 201, res.text);
    const [att] = res.body.message.attachments;
    assert.equal(att.type, 'image/svg+xml');
    assert.equal(att.width, undefined);
    const got = await fetchFile(bob.token, `/files/${att.id}`);
    assertInert(got, { type: 'image/svg+xml', inline: false });
    assert.equal((await fetchFile(bob.token, `/files/${att.id}/thumb`)).status, 404);
  });

  test('a file over the limit is refused with file_too_large, nothing is stored, and the server goes on', async (t) => {
    const { room, alice, bob } = await roomOfTwo(t);
    const heard = collect(bob.socket, 'message', (m) => m.room === room);
    const before = storedFiles().length;
    const big = Buffer.alloc(MAX_FILE_BYTES + 1, 7);
    const res = await upload(alice.token, room, [file('big.bin', big), { name: 'text', data: 'too big' }]);
    assertError(res, 413, 'file_too_large');
    assert.equal(storedFiles().length, before);
    const staging = path.join(server.dataDir, 'files', 'staging');
    await until(() => readdirSync(staging).length === 0, 'the staging file is removed');
    const history = await api(url, `/api/rooms/${room}/messages`, { token: alice.token });
    assert.equal(history.body.messages.length, 0);
    assert.equal(heard.items.length, 0);
    // Exactly at the limit is fine, and the server answers as before.
    const fits = await upload(alice.token, room, [file('fits.bin', Buffer.alloc(MAX_FILE_BYTES, 7))]);
    assert.equal(fits.status, 201, fits.text);
    assert.equal((await api(url, '/healthz')).status, 200);
  });

  test('a decompression bomb (100000×100000 declared) is kept as an inert download, never decoded', async (t) => {
    const { room, alice, bob } = await roomOfTwo(t);
    const res = await upload(alice.token, room, [file('bomb.png', bomb(100_000, 100_000), 'image/png')]);
    assert.equal(res.status, 201, res.text);
    const [att] = res.body.message.attachments;
    assert.equal(att.type, 'image/png');
    assert.equal(att.width, undefined, 'not shown inline: no dimensions');
    const got = await fetchFile(bob.token, `/files/${att.id}`);
    assertInert(got, { type: 'image/png', inline: false });
    assert.equal((await fetchFile(bob.token, `/files/${att.id}/thumb`)).status, 404);
    // Decoding it would have taken 30 GB; the server's peak memory says it did not.
    const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'));
    assert.ok(peak && Number(peak[1]) < 512 * 1024, `peak RSS ${peak?.[1]} kB`);
    assert.equal((await api(url, '/healthz')).status, 200);
  });

  test('a damaged image is a plain file', async (t) => {
    const { room, alice } = await roomOfTwo(t);
    const damaged = png(20, 20).subarray(0, 60);
    const res = await upload(alice.token, room, [file('half.png', damaged, 'image/png')]);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.message.attachments[0].width, undefined);
  });
});

describe('the hourly count', () => {
  test('past the files a user may upload in an hour, rate_limited with the wait, and nothing stored', async (t) => {
    const limited = await startServer({ args: ['--uploads-per-hour', '3'] });
    t.after(() => limited.dispose());
    const alice = await guestSocket(limited.url, t, 'alice');
    const room = rname('count');
    await ok(alice.socket, 'join', { room });
    const two = await upload(alice.token, room, [file('1.txt', 'a'), file('2.txt', 'b')], { url: limited.url });
    assert.equal(two.status, 201, two.text);
    const over = await upload(alice.token, room, [file('3.txt', 'c'), file('4.txt', 'd')], { url: limited.url });
    assert.equal(over.status, 429, over.text);
    assert.equal(over.body.error.code, 'rate_limited');
    const third = await upload(alice.token, room, [file('3.txt', 'c')], { url: limited.url });
    assert.equal(third.status, 201, third.text);
    const refused = await upload(alice.token, room, [file('5.txt', 'e')], { url: limited.url });
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.body.error.code, 'rate_limited');
    const wait = refused.body.error.retry_after_ms;
    assert.ok(wait > 59 * 60_000 && wait <= 3_600_000, `retry_after_ms ${wait}`);
    assert.ok(Number(refused.headers.get('retry-after')) >= 3540);
    assert.equal(storedFiles(limited.dataDir).length, 3);
    // Another user has a count of their own.
    const bob = await guestSocket(limited.url, t, 'bob');
    await ok(bob.socket, 'join', { room });
    assert.equal((await upload(bob.token, room, [file('b.txt', 'x')], { url: limited.url })).status, 201);
  });
});

describe('uploads at once', () => {
  test('past 16 being received at once, the next is told overloaded; once they end, uploads work again', async (t) => {
    const busy = await startServer({ args: ['--uploads-per-hour', '100000'] });
    t.after(() => busy.dispose());
    const url = busy.url;
    const upload = (token, room, parts) => uploadTo(url, token, room, parts);
    const alice = await guestSocket(url, t, 'alice');
    const room = rname('busy');
    await ok(alice.socket, 'join', { room });
    // 16 uploads that send their first part's head and then wait.
    const slow = [];
    for (let i = 0; i < 16; i += 1) {
      const boundary = `slow${i}`;
      const req = http.request(`${url}/api/rooms/${room}/uploads`, {
        method: 'POST',
        agent: false,
        headers: { authorization: `Bearer ${alice.token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
      });
      req.on('error', () => {});
      req.on('response', (res) => res.resume());
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"\r\n\r\nsome`);
      slow.push(req);
    }
    // Each is being received once its file has a staging file.
    const staging = path.join(busy.dataDir, 'files', 'staging');
    await until(() => readdirSync(staging).length === 16, 'the 16 uploads are being received');
    const refused = await upload(alice.token, room, [file('one-more.txt', 'x')]);
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.body.error.code, 'overloaded');
    assert.ok(refused.body.error.retry_after_ms > 0);
    for (const req of slow) req.destroy();
    await until(async () => (await upload(alice.token, room, [file('later.txt', 'x')])).status === 201, 'uploads work again');
  });
});

describe('moderation', () => {
  test('a muted member\'s upload is refused with muted and its wait; an admin\'s delete removes the files', async (t) => {
    const boss = await register(url, uname('boss'));
    await adminOk(server.dataDir, ['grant-admin', boss.name]);
    const bossSocket = await connect(url, boss.token, {}, t);
    const { room, alice } = await roomOfTwo(t);
    await ok(bossSocket, 'join', { room });
    const res = await upload(alice.token, room, [file('rude.png', png(8, 8), 'image/png')]);
    assert.equal(res.status, 201, res.text);
    const { message } = res.body;
    await ok(bossSocket, 'mute', { room, user_id: alice.user.id, minutes: 5 });
    const muted = await upload(alice.token, room, [file('more.txt', 'x')]);
    assert.equal(muted.status, 403, muted.text);
    assert.equal(muted.body.error.code, 'muted');
    assert.ok(muted.body.error.retry_after_ms > 4 * 60_000, muted.text);
    await ok(bossSocket, 'delete', { id: message.id });
    const { id } = message.attachments[0];
    assert.equal((await fetchFile(alice.token, `/files/${id}`)).status, 404);
    await until(() => !existsSync(onDisk(id)) && !existsSync(`${onDisk(id)}.thumb`), 'the files are removed from disk');
  });
});

describe('deleting the message', () => {
  test('deletes its files: 404 at once, gone from disk soon after', async (t) => {
    const { room, alice, bob } = await roomOfTwo(t);
    const res = await upload(alice.token, room, [file('photo.png', png(16, 16), 'image/png'), file('b.txt', 'x')]);
    assert.equal(res.status, 201, res.text);
    const { message } = res.body;
    const ids = message.attachments.map((a) => a.id);
    assert.ok(ids.every((id) => existsSync(onDisk(id))));
    assert.ok(existsSync(`${onDisk(ids[0])}.thumb`));
    await ok(alice.socket, 'delete', { id: message.id });
    for (const id of ids) assert.equal((await fetchFile(bob.token, `/files/${id}`)).status, 404);
    await until(() => ids.every((id) => !existsSync(onDisk(id))) && !existsSync(`${onDisk(ids[0])}.thumb`), 'the files are removed from disk');
  });
});

describe('several nodes', () => {
  test('with one shared files directory, a file uploaded through one node is heard and served on another', async (t) => {
    const shared = mkdtempSync(path.join(tmpdir(), 'banter-shared-files-'));
    t.after(() => rmSync(shared, { recursive: true, force: true }));
    const cluster = await startCluster({ nodes: 2, args: ['--files-dir', shared] });
    t.after(() => cluster.dispose());
    const [a, b] = cluster.nodes;
    const room = rname('spread');
    const alice = await guestSocket(a.url, t, 'alice');
    const bob = await guestSocket(b.url, t, 'bob');
    await ok(alice.socket, 'join', { room });
    await ok(bob.socket, 'join', { room });
    const heard = collect(bob.socket, 'message', (m) => m.room === room);
    const image = png(32, 32);
    const res = await uploadTo(a.url, alice.token, room, [file('both.png', image, 'image/png')]);
    assert.equal(res.status, 201, res.text);
    await heard.waitForCount(1);
    assert.deepEqual(heard.items[0].attachments, res.body.message.attachments);
    const { id } = res.body.message.attachments[0];
    for (const pathname of [`/files/${id}`, `/files/${id}/thumb`]) {
      const got = await fetch(b.url + pathname, { headers: { authorization: `Bearer ${bob.token}` } });
      assert.equal(got.status, 200, pathname);
    }
    const served = Buffer.from(await (await fetch(`${b.url}/files/${id}`, { headers: { authorization: `Bearer ${bob.token}` } })).arrayBuffer());
    assert.deepEqual(served, image);
    // Deleted on the first node: gone on the second too, and from the shared directory.
    await ok(alice.socket, 'delete', { id: res.body.message.id });
    assert.equal((await fetch(`${b.url}/files/${id}`, { headers: { authorization: `Bearer ${bob.token}` } })).status, 404);
    await until(() => !existsSync(path.join(shared, id.slice(0, 2), id)), 'the file leaves the shared directory');
  });
});
