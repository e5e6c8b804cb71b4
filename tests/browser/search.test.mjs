// Search in the page (issue #11): the box in the top bar finds a message
// far back in a room the reader has not even joined, the matched words are
// marked (<mark> around text, a message's markup shown as text), and a
// click opens the room scrolled to that message, marked, with the messages
// around it loaded; a reply's parent far back opens the same way.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { closeTalkers, guestViaUi, joinRoom, openPage, screenshot, talker as talkerAt, useServerAndBrowser } from './helpers.mjs';

const env = useServerAndBrowser({ args: ['--search-rate', '100000:100000'] });
after(() => closeTalkers());

/** A guest on the Node client, joined to `room`; returns send(text, extra?). */
const talker = (name, room) => talkerAt(env.server.url, name, room);

/** Sends `count` filler messages, in order. */
async function filler(say, prefix, count) {
  for (let i = 0; i < count; i++) await say(`${prefix} ${i}`);
}

const node = (page, id) => page.locator(`#message-list li.msg[data-id="${id}"]`);

test('a search result far back in a room not joined opens there, scrolled to and marked', async () => {
  const { server, browser } = env;
  const room = 'search-far';
  const say = await talker('sam', room);
  await filler(say, 'before', 3);
  const target = await say('the <b>vermilion</b> sunrise over Vermilion bay');
  await filler(say, 'after', 120); // beyond the 50 a join shows
  const ana = await openPage(browser, server.url);
  const a = ana.page;
  await guestViaUi(a, 'ana');

  await a.getByLabel('Search messages').fill('vermilion');
  await a.getByLabel('Search messages').press('Enter');
  const hit = a.locator('#search-results .search-hit').first();
  await hit.waitFor();
  assert.equal(await a.locator('#search-results .search-hit').count(), 1);
  // The words are marked as text; the message's markup is text too.
  assert.deepEqual(await hit.locator('mark').allTextContents(), ['vermilion', 'Vermilion']);
  assert.equal(await hit.locator('.search-hit-text').textContent(), target.text);
  assert.equal(await hit.locator('b').count(), 0);
  await screenshot(a, 'search-results');

  await hit.click();
  await a.locator('#room-title', { hasText: `#${room}` }).waitFor();
  const shown = node(a, target.id);
  await shown.waitFor();
  await a.waitForFunction((id) => {
    const el = document.querySelector(`#message-list li.msg[data-id="${id}"]`);
    const box = document.getElementById('messages')?.getBoundingClientRect();
    const r = el?.getBoundingClientRect();
    return Boolean(r && box && r.top >= box.top && r.bottom <= box.bottom);
  }, target.id);
  assert.ok(await shown.evaluate((el) => el.classList.contains('flash')), 'the message is marked');
  // The messages around it are there, and the timeline is whole up to the newest.
  const texts = await a.locator('#message-list .msg-text').allTextContents();
  for (const text of ['before 2', 'after 0', 'after 119']) assert.ok(texts.includes(text), `${text} in the timeline`);
  const afters = texts.filter((t) => t.startsWith('after '));
  assert.deepEqual(afters, Array.from({ length: 120 }, (_, i) => `after ${i}`));
  await screenshot(a, 'search-jump');
  ana.assertClean();
  await ana.close();
});

test('a bad query shows the server\'s reason; no results says so', async () => {
  const { server, browser } = env;
  const ben = await openPage(browser, server.url);
  const b = ben.page;
  await guestViaUi(b, 'ben');
  ben.expectConsoleError(/\/api\/search/, /400/);
  await b.getByLabel('Search messages').fill('a*');
  await b.getByLabel('Search messages').press('Enter');
  await b.locator('#search-status', { hasText: 'at least 2 letters' }).waitFor();
  await b.getByLabel('Search messages').fill('qqqzzznothing');
  await b.getByLabel('Search messages').press('Enter');
  await b.locator('#search-status', { hasText: 'No messages found.' }).waitFor();
  await b.getByRole('button', { name: 'Close' }).click();
  assert.equal(await b.locator('#search-panel').isHidden(), true);
  ben.assertClean();
  await ben.close();
});

test('a reply\'s parent far back is fetched around it and the timeline stays whole', async () => {
  const { server, browser } = env;
  const room = 'search-reply';
  const say = await talker('rita', room);
  const parent = await say('the original question');
  await filler(say, 'chatter', 150);
  await say('the answer', { reply_to: parent.id });
  const cai = await openPage(browser, server.url);
  const c = cai.page;
  const requests = [];
  c.on('websocket', (ws) => ws.on('framesent', (f) => requests.push(String(f.payload))));
  await guestViaUi(c, 'cai');
  await joinRoom(c, room);
  const answer = c.locator('#message-list li.msg', { has: c.locator('.msg-text', { hasText: 'the answer' }) });
  await answer.locator('.msg-quote').click();
  await node(c, parent.id).waitFor();
  assert.ok(requests.some((r) => r.includes('"around"')), 'asked history around the parent');
  const texts = await c.locator('#message-list .msg-text').allTextContents();
  const chatter = texts.filter((t) => t.startsWith('chatter '));
  assert.deepEqual(chatter, Array.from({ length: 150 }, (_, i) => `chatter ${i}`));
  cai.assertClean();
  await cai.close();
});

test('a result too far back to join to the timeline is shown in context in the panel', async () => {
  const { server, browser } = env;
  const room = 'search-very-far';
  const say = await talker('tom', room);
  await filler(say, 'early', 2);
  const target = await say('the lost turquoise kite');
  await filler(say, 'late', 2);
  // More than the 2,000 messages a jump bridges, sent 100 at a time.
  for (let batch = 0; batch < 22; batch++) {
    await Promise.all(Array.from({ length: 100 }, (_, i) => say(`bulk ${batch * 100 + i}`)));
  }
  const dee = await openPage(browser, server.url);
  const d = dee.page;
  await guestViaUi(d, 'dee');
  await d.getByLabel('Search messages').fill('turquoise');
  await d.getByLabel('Search messages').press('Enter');
  await d.locator('#search-results .search-hit').first().click();
  await d.locator('#room-title', { hasText: `#${room}` }).waitFor();
  const context = d.locator('#search-context');
  await context.waitFor();
  const shown = context.locator('.target');
  assert.equal(await shown.locator('mark').textContent(), 'turquoise');
  assert.equal(await shown.locator('.search-hit-text').textContent(), target.text);
  const around = await context.locator('.search-hit-text').allTextContents();
  for (const text of ['early 1', 'late 0', 'late 1']) assert.ok(around.includes(text), `${text} around it`);
  // The room's timeline was left whole: it does not hold the far message.
  assert.equal(await node(d, target.id).count(), 0);
  dee.assertClean();
  await dee.close();
});
