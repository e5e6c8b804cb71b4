// Message features in the page (issue #10), two people in two browsers:
// an edit and a reaction show live in the other browser on that one
// message's element, the list around it untouched; a reply quotes its
// parent and a click on the quote goes there, loading older history when
// the parent is not on screen; mentions are marked and offered.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { io } from 'socket.io-client';
import { expectMessageOnce, guestViaUi, joinRoom, openPage, send, useServerAndBrowser } from './helpers.mjs';

const env = useServerAndBrowser();
const sockets = [];

after(() => {
  for (const socket of sockets) socket.close();
});

/** A guest on the official Node client, joined to `room`. */
async function talker(name, room) {
  const { server } = env;
  const res = await fetch(`${server.url}/api/auth/guest`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
  });
  assert.equal(res.status, 201);
  const { token } = await res.json();
  const socket = io(server.url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.push(socket);
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  assert.equal((await socket.timeout(5000).emitWithAck('join', { room })).ok, true);
  return async (text, extra = {}) => {
    const ack = await socket.timeout(5000).emitWithAck('send', { room, text, ...extra });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    return ack.message;
  };
}

/** Marks every message element with its id (a property: a new element would not have it). */
function tag(page) {
  return page.evaluate(() => {
    for (const node of document.querySelectorAll('#message-list li.msg')) node.probe = node.dataset.id;
  });
}

/** The ids of the message elements that are not the ones tagged. */
function untagged(page) {
  return page.evaluate(() => [...document.querySelectorAll('#message-list li.msg')]
    .filter((node) => node.probe !== node.dataset.id).map((node) => Number(node.dataset.id)));
}

const messageNode = (page, text) => page.locator('#message-list li.msg', { has: page.locator('.msg-text', { hasText: text }) });

test('an edit and a reaction appear live in the other browser on that message alone', async () => {
  const { server, browser } = env;
  const room = 'feat-live';
  const ana = await openPage(browser, server.url);
  const ben = await openPage(browser, server.url);
  const a = ana.page;
  const b = ben.page;
  await guestViaUi(a, 'ana');
  await guestViaUi(b, 'ben');
  await joinRoom(a, room);
  await joinRoom(b, room);
  for (const text of ['first from ana', 'second from ana']) await send(a, text);
  await send(b, 'ben says helo');
  await expectMessageOnce(a, 'ben says helo');
  await expectMessageOnce(b, 'second from ana');
  await tag(a);
  await tag(b);
  const id = Number(await messageNode(a, 'ben says helo').getAttribute('data-id'));

  // Ben edits his last message with the up arrow in the empty box.
  const input = b.getByLabel('Message', { exact: true });
  await input.press('ArrowUp');
  await b.locator('#composer-context', { hasText: 'Editing your message' }).waitFor();
  assert.equal(await input.inputValue(), 'ben says helo');
  await input.fill('ben says hello <b>there</b>');
  await input.press('Enter');
  const edited = a.locator(`#message-list li.msg[data-id="${id}"]`);
  await edited.locator('.msg-text', { hasText: 'ben says hello <b>there</b>' }).waitFor();
  assert.equal(await edited.locator('.msg-edited').textContent(), '(edited)');
  assert.equal(await a.locator('#message-list b').count(), 0, 'user text is text');
  assert.deepEqual(await untagged(a), [id], 'only the edited message got a new element');
  assert.equal(await a.locator('#message-list li.msg').count(), 3, 'nothing added: the message changed in place');

  // Ana reacts with the picker; Ben sees the count and who.
  await tag(a);
  await edited.getByRole('button', { name: 'React to the message from ben' }).click();
  await edited.getByRole('button', { name: 'React with 👍' }).click();
  const onBen = b.locator(`#message-list li.msg[data-id="${id}"] .reaction`);
  await onBen.waitFor();
  assert.equal(await onBen.locator('.reaction-count').textContent(), '1');
  assert.match(await onBen.getAttribute('title'), /ana reacted with 👍/);
  assert.equal(await onBen.getAttribute('aria-pressed'), 'false');
  assert.deepEqual(await untagged(b), [id], 'the reaction redrew that message only');
  // Ben adds his: two, pressed for him; Ana's count follows.
  await onBen.click();
  await b.locator(`#message-list li.msg[data-id="${id}"] .reaction[aria-pressed="true"] .reaction-count`, { hasText: '2' }).waitFor();
  await a.locator(`#message-list li.msg[data-id="${id}"] .reaction .reaction-count`, { hasText: '2' }).waitFor();
  assert.deepEqual(await untagged(a), [id]);
  // Ana takes hers off.
  await a.locator(`#message-list li.msg[data-id="${id}"] .reaction`).click();
  await b.locator(`#message-list li.msg[data-id="${id}"] .reaction .reaction-count`, { hasText: '1' }).waitFor();
  ana.assertClean();
  ben.assertClean();
  await ana.close();
  await ben.close();
});

test('a reply quotes its parent, and the quote goes to it, loading older history', async () => {
  const { server, browser } = env;
  const room = 'feat-reply';
  const say = await talker('cat', room);
  const parent = await say('the very first question');
  for (let i = 1; i <= 70; i++) await say(`filler ${i}`);
  await say('an answer, much later', { reply_to: parent.id });
  const dan = await openPage(browser, server.url);
  const d = dan.page;
  await guestViaUi(d, 'dan');
  await joinRoom(d, room);
  const reply = messageNode(d, 'an answer, much later');
  await reply.waitFor();
  assert.equal(await d.locator(`#message-list li.msg[data-id="${parent.id}"]`).count(), 0, 'the parent is not loaded yet');
  const quote = reply.getByRole('button', { name: /^Replying to an earlier message/ });
  await quote.click();
  const parentNode = d.locator(`#message-list li.msg[data-id="${parent.id}"]`);
  await parentNode.waitFor();
  await d.waitForFunction((pid) => document.activeElement?.getAttribute('data-id') === String(pid), parent.id);
  const box = await parentNode.boundingBox();
  const view = await d.locator('#messages').boundingBox();
  assert.ok(box && view && box.y >= view.y && box.y + box.height <= view.y + view.height, 'the parent is in sight');
  const ids = await d.evaluate(() => [...document.querySelectorAll('#message-list li.msg')].map((n) => Number(n.dataset.id)));
  assert.equal(ids.length, 72, 'the history in between is loaded too, each message once');
  assert.equal(new Set(ids).size, ids.length);

  // Dan replies from the page: the new message quotes its parent.
  await messageNode(d, 'filler 70').getByRole('button', { name: 'Reply to cat' }).click();
  await d.locator('#composer-context', { hasText: 'Replying to cat: filler 70' }).waitFor();
  await send(d, 'dan answers');
  const mine = messageNode(d, 'dan answers');
  await mine.locator('.msg-quote', { hasText: 'filler 70' }).waitFor();
  assert.equal(await d.locator('#composer-context').isHidden(), true);
  dan.assertClean();
  await dan.close();
});

test('mentions are marked, ours stands out, and @ offers the room members', async () => {
  const { server, browser } = env;
  const room = 'feat-mention';
  const eve = await openPage(browser, server.url);
  const fay = await openPage(browser, server.url);
  const e = eve.page;
  const f = fay.page;
  await guestViaUi(e, 'eve');
  await guestViaUi(f, 'fay');
  await joinRoom(e, room);
  await joinRoom(f, room);
  const input = e.getByLabel('Message', { exact: true });
  await input.pressSequentially('hi @fa');
  const option = e.getByRole('option', { name: '@fay' });
  await option.waitFor();
  await input.press('Enter');
  assert.equal(await input.inputValue(), 'hi @fay ');
  await input.pressSequentially('and @room, mail me@fay.example');
  await input.press('Enter');
  const onFay = messageNode(f, 'hi @fay and @room');
  await onFay.waitFor();
  assert.equal(await onFay.evaluate((n) => n.classList.contains('mentions-me')), true);
  assert.deepEqual(await onFay.locator('.mention').allTextContents(), ['@fay', '@room']);
  assert.equal(await onFay.locator('.mention-me').count(), 2);
  eve.assertClean();
  fay.assertClean();
  await eve.close();
  await fay.close();
});
