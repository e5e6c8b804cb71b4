// The message list is keyed by message id: each message keeps its one
// element while history pages come in above it, live messages below it and
// a catch-up after a reconnect around it, and nothing shows twice; a change
// of one message (the coming edits and reactions) replaces that one
// element. An element's identity is checked with a property the test sets
// on it: a redrawn list would have new elements without it.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { io } from 'socket.io-client';
import {
  expectMessageOnce, guestViaUi, joinRoom, messageTexts, openPage, useServerAndBrowser, waitConnected,
} from './helpers.mjs';

const ROOM = 'keyed';

const env = useServerAndBrowser();
const sockets = [];

after(() => {
  for (const socket of sockets) socket.close();
});

/** A guest on the official Node client, joined to ROOM; returns a send function. */
async function talker(name) {
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
  assert.equal((await socket.timeout(5000).emitWithAck('join', { room: ROOM })).ok, true);
  return async (text) => {
    const ack = await socket.timeout(5000).emitWithAck('send', { room: ROOM, text });
    assert.equal(ack.ok, true, JSON.stringify(ack));
  };
}

/** Marks every message element on screen with its id (a property, not an attribute). */
function tagMessages(page) {
  return page.evaluate(() => {
    const nodes = [...document.querySelectorAll('#message-list li.msg')];
    for (const node of nodes) node.probe = node.dataset.id;
    return nodes.length;
  });
}

/** The tagged elements still in the list, and the ids of every message element, in order. */
function listState(page) {
  return page.evaluate(() => {
    const nodes = [...document.querySelectorAll('#message-list li.msg')];
    return {
      tagged: nodes.filter((node) => node.probe === node.dataset.id).length,
      ids: nodes.map((node) => Number(node.dataset.id)),
    };
  });
}

function assertOrderedOnce(ids) {
  assert.equal(new Set(ids).size, ids.length, `each message once: ${ids}`);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'in id order');
}

test('message elements keep their identity through live messages, older history and a reconnect', async () => {
  const { server, browser } = env;
  const send = await talker('ben');
  for (let i = 1; i <= 60; i++) await send(`line ${i}`);
  const ana = await openPage(browser, server.url);
  const a = ana.page;
  await guestViaUi(a, 'ana');
  await joinRoom(a, ROOM);
  await a.locator('#message-list .msg-text', { hasText: 'line 60' }).waitFor();
  const tagged = await tagMessages(a);
  assert.equal(tagged, 50, 'the join answer: the latest 50');

  // live messages go after the others, which stay the same elements
  await send('live one');
  await send('live two');
  await expectMessageOnce(a, 'live two');
  let state = await listState(a);
  assert.equal(state.tagged, tagged, 'no element replaced by live messages');
  assert.equal(state.ids.length, 52);

  // older history goes before them, and again replaces nothing
  await a.locator('#messages').evaluate((el) => { el.scrollTop = 0; });
  await a.locator('#message-list .msg-text', { hasText: /^line 1$/ }).waitFor();
  state = await listState(a);
  assert.equal(state.tagged, tagged, 'no element replaced by a history page');
  assert.equal(state.ids.length, 62);
  assertOrderedOnce(state.ids);

  // offline while ben goes on; back online, the catch-up merges by id
  await ana.context.setOffline(true);
  ana.outageStarted();
  await a.locator('#conn-status[data-state="offline"]').waitFor();
  for (const text of ['missed one', 'missed two', 'missed three']) await send(text);
  await ana.context.setOffline(false);
  await waitConnected(a);
  ana.outageEnded();
  await expectMessageOnce(a, 'missed three');
  await send('after the reconnect');
  await expectMessageOnce(a, 'after the reconnect');
  state = await listState(a);
  assert.equal(state.tagged, tagged, 'no element replaced by the rejoin and catch-up');
  assertOrderedOnce(state.ids);
  const texts = await messageTexts(a);
  assert.deepEqual(texts, [
    ...Array.from({ length: 60 }, (_, i) => `line ${i + 1}`),
    'live one', 'live two', 'missed one', 'missed two', 'missed three', 'after the reconnect',
  ]);
  ana.assertClean();
  await ana.close();
});

// The page's own modules, imported into the page (same origin, so its
// Content-Security-Policy allows them), drive a store and a messages view
// of their own in elements the test adds: the store announces each change,
// the view redraws what it touched. Nothing on the wire updates a message
// yet, so this is where a single-message update is shown.
test('an updated message replaces its one element; inserts, deletions and repeats leave the rest', async () => {
  const { server, browser } = env;
  const visit = await openPage(browser, server.url);
  const p = visit.page;
  await p.locator('#signin').waitFor();
  const result = await p.evaluate(async () => {
    const prefix = document.querySelector('script[type="module"]').src.replace(/js\/main\.js$/, '');
    const { createStore } = await import(`${prefix}js/store.js`);
    const { createMessagesView } = await import(`${prefix}js/views/messages.js`);
    const make = (tag, id) => Object.assign(document.createElement(tag), id ? { id } : {});
    const elements = {
      scroller: make('div'), list: make('ol'), pending: make('ol'), history: make('div'), newButton: make('button'),
    };
    const box = make('div', 'keyed-probe');
    box.append(elements.scroller, elements.newButton);
    elements.scroller.append(elements.history, elements.list, elements.pending);
    document.body.append(box);

    const me = { id: 1, name: 'me', guest: true };
    const other = { id: 2, name: 'other', guest: true };
    const store = createStore(me);
    createMessagesView(store, {
      onNearTop: () => {}, onJumpedToEnd: () => {}, onRetry: () => {}, onDiscard: () => {},
      canDelete: () => true, onDelete: async () => {},
    }, elements);
    const room = store.addRoom('probe');
    store.open('probe');
    const t0 = Date.now();
    const msg = (id, author, text) => ({ id, room: 'probe', author, text, ts: t0 + id });
    const nodes = () => [...elements.list.querySelectorAll('li.msg')];
    const node = (id) => elements.list.querySelector(`li.msg[data-id="${id}"]`);
    const tag = () => nodes().forEach((n) => { n.probe = n.dataset.id; });
    const kept = () => nodes().filter((n) => n.probe === n.dataset.id).map((n) => Number(n.dataset.id));
    const ids = () => nodes().map((n) => Number(n.dataset.id));
    const out = {};

    store.merge(room, [msg(10, me, 'ten'), msg(20, other, 'twenty'), msg(30, me, 'thirty'), msg(40, other, 'forty')]);
    tag();
    const before = node(30);
    store.updateMessage(room, msg(30, me, 'thirty, edited <b>not bold</b>'));
    out.afterUpdate = { kept: kept(), ids: ids(), replaced: node(30) !== before, detached: !before.isConnected,
      text: node(30).querySelector('.msg-text').textContent, bold: elements.list.querySelectorAll('b').length };

    tag();
    store.merge(room, [msg(5, other, 'five')]); // a history page
    store.merge(room, [msg(25, other, 'twenty-five'), msg(20, other, 'twenty')]); // a catch-up, one repeat
    store.merge(room, [msg(50, me, 'fifty'), msg(40, other, 'forty')]); // live, one repeat
    out.afterMerges = { kept: kept(), ids: ids() };

    // 25 continues 20's group (same author); with 20 deleted it follows
    // one of mine and heads a group, on the same element
    out.groupedBefore = node(25).classList.contains('cont');
    store.removeMessage(room, 20);
    out.afterRemove = { kept: kept(), ids: ids(), heads: !node(25).classList.contains('cont'),
      author: node(25).querySelector('.msg-author').textContent };
    out.days = elements.list.querySelectorAll('li.day').length;
    out.children = [...elements.list.children].every((li) => li.tagName === 'LI' && !li.hasAttribute('role'));
    box.remove();
    return out;
  });

  assert.deepEqual(result.afterUpdate.ids, [10, 20, 30, 40]);
  assert.deepEqual(result.afterUpdate.kept, [10, 20, 40], 'only the updated message has a new element');
  assert.equal(result.afterUpdate.replaced, true);
  assert.equal(result.afterUpdate.detached, true, 'the old element left the list');
  assert.equal(result.afterUpdate.text, 'thirty, edited <b>not bold</b>', 'shown as text');
  assert.equal(result.afterUpdate.bold, 0, 'never parsed as HTML');

  assert.deepEqual(result.afterMerges.ids, [5, 10, 20, 25, 30, 40, 50], 'prepended, merged and appended by id, each once');
  assert.deepEqual(result.afterMerges.kept, [10, 20, 30, 40], 'the elements that were there stay');

  assert.equal(result.groupedBefore, true);
  assert.deepEqual(result.afterRemove.ids, [5, 10, 25, 30, 40, 50]);
  assert.deepEqual(result.afterRemove.kept, [10, 30, 40], 'a deletion removes one element (25 and 50 were new, untagged)');
  assert.equal(result.afterRemove.heads, true, 'the next message heads its group now');
  assert.equal(result.afterRemove.author, 'other');
  assert.equal(result.days, 1, 'one day separator');
  assert.equal(result.children, true, 'every child of the list is a plain list item');
  visit.assertClean();
  await visit.close();
});
