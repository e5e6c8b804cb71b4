// Files and images in the page (issue #11), two people in two browsers:
// an image pasted into Ana's message box shows in Ben's browser as its
// thumbnail, sized before it loads, and opens full size in a dialog that
// Escape closes; a file attached with the button is a download link in
// Ben's browser that downloads the file under its name. Test files are
// made on the spot (the image by a canvas in the page).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { guestViaUi, joinRoom, launchBrowser, openPage, screenshot, startServer, useServerAndBrowser } from './helpers.mjs';
import { behindNginx, freePort, startNginx } from './nginx.mjs';

const env = useServerAndBrowser();

/** Pastes a `width`×`height` PNG (drawn in the page) into the message box, as a screenshot paste does. */
async function pasteImage(page, width, height) {
  await page.getByLabel('Message', { exact: true }).focus();
  await page.evaluate(async ([w, h]) => {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    ctx.fillStyle = '#3366cc';
    ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = '#ffcc00';
    ctx.fillRect(w / 4, h / 4, w / 2, h / 2);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const data = new DataTransfer();
    data.items.add(new File([/** @type {Blob} */ (blob)], 'screenshot.png', { type: 'image/png' }));
    const input = /** @type {HTMLElement} */ (document.getElementById('composer-input'));
    input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, [width, height]);
}

async function twoInARoom(room) {
  const { server, browser } = env;
  const ana = await openPage(browser, server.url);
  const ben = await openPage(browser, server.url);
  await guestViaUi(ana.page, `ana-${room}`);
  await guestViaUi(ben.page, `ben-${room}`);
  await joinRoom(ana.page, room);
  await joinRoom(ben.page, room);
  return { ana, ben };
}

test('an image pasted into the composer shows as a thumbnail in the other browser and opens full size', async () => {
  const { ana, ben } = await twoInARoom('pics');
  await ana.page.getByLabel('Message', { exact: true }).fill('look at this');
  await pasteImage(ana.page, 800, 600);

  const thumb = ben.page.locator('#message-list li.msg .attachment-image img');
  await thumb.waitFor();
  // Sized before it loads (no jump): the 800×600 image in the 320 px box.
  assert.equal(await thumb.getAttribute('width'), '320');
  assert.equal(await thumb.getAttribute('height'), '240');
  assert.match(await thumb.getAttribute('src') ?? '', /^\/files\/[A-Za-z0-9_-]{22}\/thumb$/);
  await ben.page.waitForFunction(() => {
    const img = /** @type {HTMLImageElement | null} */ (document.querySelector('#message-list .attachment-image img'));
    return img?.complete && img.naturalWidth === 320 && img.naturalHeight === 240;
  });
  assert.equal(await thumb.getAttribute('alt'), 'screenshot.png');
  // The caption went with it, and the box is empty again.
  await ben.page.locator('#message-list li.msg .msg-text', { hasText: 'look at this' }).waitFor();
  assert.equal(await ana.page.getByLabel('Message', { exact: true }).inputValue(), '');
  await ana.page.locator('#message-list li.msg .attachment-image img').waitFor();
  assert.equal(await ana.page.locator('#upload-status').isHidden(), true);

  await ben.page.locator('.attachment-image').click();
  const viewer = ben.page.locator('dialog.image-viewer');
  await viewer.waitFor();
  await ben.page.waitForFunction(() => {
    const img = /** @type {HTMLImageElement | null} */ (document.querySelector('dialog.image-viewer[open] img'));
    return img?.complete && img.naturalWidth === 800 && /^\/files\/[A-Za-z0-9_-]{22}$/.test(new URL(img.src).pathname);
  });
  await screenshot(ben.page, 'uploads-viewer');
  await ben.page.keyboard.press('Escape');
  await viewer.waitFor({ state: 'hidden' });

  ana.assertClean();
  ben.assertClean();
  await ana.close();
  await ben.close();
});

test('a file attached with the button is a download link in the other browser that downloads it', async () => {
  const { ana, ben } = await twoInARoom('docs');
  const content = 'minutes of the meeting\n';
  await ana.page.locator('#attach-input').setInputFiles({ name: 'minutes.txt', mimeType: 'text/plain', buffer: Buffer.from(content) });

  const link = ben.page.locator('#message-list li.msg a.attachment-file');
  await link.waitFor();
  assert.match(await link.textContent() ?? '', /minutes\.txt\s*23 B/);
  const [download] = await Promise.all([ben.page.waitForEvent('download'), link.click()]);
  assert.equal(download.suggestedFilename(), 'minutes.txt');
  const saved = await download.path();
  assert.equal(await readFile(saved, 'utf8'), content);
  await screenshot(ben.page, 'uploads-download');

  ana.assertClean();
  ben.assertClean();
  await ana.close();
  await ben.close();
});

test('files dropped on the conversation are uploaded, with a progress bar while they go', async () => {
  const { ana, ben } = await twoInARoom('drops');
  // Note every value the progress bar takes.
  await ana.page.evaluate(() => {
    const bar = /** @type {HTMLProgressElement} */ (document.getElementById('upload-progress'));
    const seen = [];
    Object.assign(window, { progressSeen: seen });
    new MutationObserver(() => {
      if (!bar.hidden && !bar.closest('[hidden]')) seen.push(bar.value);
    }).observe(document.getElementById('upload-status'), { attributes: true, subtree: true });
    setInterval(() => { if (!bar.closest('[hidden]')) seen.push(bar.value); }, 5);
  });
  await ana.page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(['a'.repeat(2 * 1024 * 1024)], 'big-notes.txt', { type: 'text/plain' }));
    data.items.add(new File(['second'], 'second.txt', { type: 'text/plain' }));
    const target = /** @type {HTMLElement} */ (document.getElementById('messages'));
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  const links = ben.page.locator('#message-list li.msg a.attachment-file');
  await links.nth(1).waitFor();
  assert.deepEqual(await ben.page.locator('#message-list .attachment-name').allTextContents(), ['big-notes.txt', 'second.txt']);
  await ana.page.locator('#upload-status').waitFor({ state: 'hidden' });
  const seen = await ana.page.evaluate(() => /** @type {any} */ (window).progressSeen);
  assert.ok(seen.length > 0, 'the progress bar was shown');
  ana.assertClean();
  ben.assertClean();
  await ana.close();
  await ben.close();
});

test('a file over the limit is refused in the page with the reason, and nothing is posted', async () => {
  const { ana, ben } = await twoInARoom('toobig');
  ana.expectConsoleError(/\/uploads$/, /413/);
  const big = Buffer.alloc(10 * 1024 * 1024 + 1, 1);
  await ana.page.locator('#attach-input').setInputFiles({ name: 'huge.bin', mimeType: 'application/octet-stream', buffer: big });
  const status = ana.page.locator('#upload-status.failed');
  await status.waitFor();
  assert.match(await status.textContent() ?? '', /Not uploaded: .*larger than/);
  assert.equal(await ben.page.locator('#message-list li.msg').count(), 0);
  ana.assertClean();
  ben.assertClean();
  await ana.close();
  await ben.close();
});

test('through the sample nginx site, an upload of several MiB goes through (its own body limit, unbuffered)', async (t) => {
  const httpsPort = await freePort();
  const server = await startServer({ args: behindNginx(httpsPort) });
  t.after(() => server.dispose());
  const proxy = await startNginx({ httpsPort, upstreams: [new URL(server.url).host] });
  t.after(() => proxy.dispose());
  const browser = await launchBrowser({ args: proxy.chromiumArgs });
  t.after(() => browser.close());
  const ana = await openPage(browser, proxy.url);
  await guestViaUi(ana.page, 'ana-proxy');
  await joinRoom(ana.page, 'proxied');
  const content = Buffer.alloc(3 * 1024 * 1024, 'x');
  await ana.page.locator('#attach-input').setInputFiles({ name: 'three-mib.txt', mimeType: 'text/plain', buffer: content });
  const link = ana.page.locator('#message-list li.msg a.attachment-file');
  await link.waitFor();
  assert.match(await link.textContent() ?? '', /three-mib\.txt\s*3\.0 MB/);
  ana.assertClean();
  await ana.close();
});
