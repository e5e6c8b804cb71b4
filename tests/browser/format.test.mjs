// Formatting in the page (issue #11): a Markdown subset written in one
// browser shows formatted in another (bold, italic, strikethrough, inline
// code, code blocks, quotes, lists, links), and hostile input does nothing:
// raw HTML is text, no javascript: or data: link is made, deep nesting is
// flattened, a 4,000-character line wraps, and the page keeps working. The
// composer: Shift+Enter for a new line, and a preview while the draft holds
// a code block.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { guestViaUi, joinRoom, launchBrowser, openPage, screenshot, send, startServer } from './helpers.mjs';

const env = { server: null, browser: null };

/** What a message's formatted text may contain; anything else is a failure. */
const ALLOWED_TAGS = new Set(['A', 'STRONG', 'EM', 'S', 'CODE', 'PRE', 'P', 'UL', 'OL', 'LI', 'BLOCKQUOTE', 'SPAN', 'DIV', 'BR']);
const MAX_DEPTH = 5;

let alice;
let bob;
const room = 'formatting';

before(async () => {
  // Dozens of messages from one person: past the default send burst.
  env.server = await startServer({ args: ['--send-rate', '1000:6000'] });
  env.browser = await launchBrowser();
  alice = await openPage(env.browser, env.server.url);
  bob = await openPage(env.browser, env.server.url);
  await guestViaUi(alice.page, 'alice');
  await guestViaUi(bob.page, 'bob');
  await joinRoom(alice.page, room);
  await joinRoom(bob.page, room);
});

after(async () => {
  await env.browser?.close();
  await env.server?.dispose();
});

/** Alice sends `text`; resolves with its `.msg-text` in Bob's browser once it is there. */
async function post(text) {
  const before = await bob.page.locator('#message-list li.msg').count();
  await send(alice.page, text);
  await bob.page.waitForFunction((n) => document.querySelectorAll('#message-list li.msg').length > n, before);
  return bob.page.locator('#message-list li.msg').last().locator('.msg-text');
}

/** Tags in a message's text that are not allowed, every href, and how deep quotes and lists go. */
function inspect(locator) {
  return locator.evaluate((node, allowed) => {
    const bad = [...node.querySelectorAll('*')].map((e) => e.tagName).filter((tag) => !allowed.includes(tag));
    const hrefs = [...node.querySelectorAll('a')].map((a) => a.getAttribute('href'));
    const depthOf = (e) => {
      let depth = 0;
      for (let at = e; at && at !== node; at = at.parentElement) if (['BLOCKQUOTE', 'UL', 'OL'].includes(at.tagName)) depth += 1;
      return depth;
    };
    const depth = Math.max(0, ...[...node.querySelectorAll('*')].map(depthOf));
    return { bad, hrefs, depth, text: node.textContent };
  }, [...ALLOWED_TAGS]);
}

/** Waits two frames (the composer preview draws at the next one). */
const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

test('formatted messages render in the other browser with the right elements', async () => {
  const inline = await post('**bold** *italic* ~~strike~~ `a < b` and **hi @bob** but not `@bob` in code');
  assert.equal(await inline.locator('strong').first().textContent(), 'bold');
  assert.equal(await inline.locator('em').textContent(), 'italic');
  assert.equal(await inline.locator('s').textContent(), 'strike');
  assert.deepEqual(await inline.locator('code').allTextContents(), ['a < b', '@bob']);
  // a mention inside formatting is still marked, as ours in Bob's browser
  assert.equal(await inline.locator('strong .mention.mention-me').textContent(), '@bob');
  assert.equal(await inline.locator('.mention').count(), 1, 'code is shown as written: no mention in it');
  assert.equal(await inline.textContent(), 'bold italic strike a < b and hi @bob but not @bob in code');

  const code = '```rust\nfn main() {\n    println!("<b>{}</b>", 1 * 2 * 3);\n}\n```';
  const block = await post(code);
  assert.equal(await block.locator('pre > code').textContent(), 'fn main() {\n    println!("<b>{}</b>", 1 * 2 * 3);\n}');
  assert.equal(await block.locator('b, em, strong').count(), 0, 'nothing in a code block is formatted');

  const quote = await post('> quoted *words*\n> see https://example.com/q');
  assert.equal(await quote.locator('blockquote em').textContent(), 'words');
  assert.equal(await quote.locator('blockquote a').getAttribute('href'), 'https://example.com/q');

  const lists = await post('- one\n- two\n  - two and a half\n\n3. third\n4. fourth');
  assert.deepEqual(await lists.locator('ul > li > ul > li').allTextContents(), ['two and a half']);
  assert.equal(await lists.locator(':scope > ul > li').count(), 2);
  assert.deepEqual(await lists.locator('ol > li').allTextContents(), ['third', 'fourth']);
  assert.equal(await lists.locator('ol').getAttribute('start'), '3');

  const links = await post('[the site](https://example.com/a) <https://example.org/b> [write](mailto:someone@example.com) [bank.example](https://evil.example/x) https://bare.example/c');
  const anchors = links.locator('a');
  assert.deepEqual(await anchors.evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.textContent])), [
    ['https://example.com/a', 'the site'],
    ['https://example.org/b', 'https://example.org/b'],
    ['mailto:someone@example.com', 'write'],
    // a label that reads like an address shows the real one
    ['https://evil.example/x', 'https://evil.example/x'],
    ['https://bare.example/c', 'https://bare.example/c'],
  ]);
  for (const a of await anchors.all()) {
    assert.equal(await a.getAttribute('rel'), 'noopener noreferrer');
    assert.equal(await a.getAttribute('target'), '_blank');
  }

  // not in the subset: shown as written
  const plain = await post('# not a heading\n| not | a table |\n![no image](https://example.com/i.png)');
  assert.equal(await plain.locator('h1, table, img').count(), 0);
  assert.match(await plain.textContent(), /^# not a heading\n\| not \| a table \|\n!no image$/);
  await screenshot(bob.page, 'format-rendered');
  alice.assertClean();
  bob.assertClean();
});

// Every payload tries to set window.__pwned (or to open a dialog, which the
// page helpers record as a failure).
const HOSTILE = [
  '<script>window.__pwned = 1</script>',
  '<img src=x onerror="window.__pwned = 1">',
  '<iframe src="javascript:window.__pwned = 1"></iframe><iframe srcdoc="<script>parent.__pwned = 1</script>"></iframe>',
  '<a href="javascript:window.__pwned = 1">raw anchor</a> <svg onload="window.__pwned = 1"></svg>',
  '**<img src=x onerror="window.__pwned = 1">** > <details open ontoggle="window.__pwned = 1">',
  '[click](javascript:window.__pwned=1)',
  '[click](JaVaScRiPt:window.__pwned=1)',
  '[click]( javascript:window.__pwned=1 )',
  '[click](<javascript:window.__pwned=1>)',
  '[click](jav&#x61;script:window.__pwned=1)',
  '[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;window.__pwned=1)',
  '[click](javascript&colon;window.__pwned=1)',
  '[click](java%0ascript:window.__pwned=1)',
  '[click](\tjavascript:window.__pwned=1)',
  '[click](data:text/html,<script>window.__pwned=1</script>)',
  '[click](DATA:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xPC9zY3JpcHQ+)',
  '[click](vbscript:msgbox(1))',
  '[click](file:///etc/passwd) [relative](/api/me) [proto](//evil.example/x)',
  '<javascript:window.__pwned=1> <JAVASCRIPT:window.__pwned=1> <data:text/html,x> <vbscript:x>',
  '[ref][1]\n\n[1]: javascript:window.__pwned=1',
  '![img](javascript:window.__pwned=1) ![img](data:image/png;base64,iVBORw0KGgo=)',
  '[ok](https://example.com/ "title\\" onmouseover=\\"window.__pwned=1")',
  '```\n<script>window.__pwned = 1</script>\n```\n`<img src=x onerror="window.__pwned = 1">`',
];

test('hostile input executes nothing, makes no unsafe element or link, and breaks nothing', async () => {
  for (const payload of HOSTILE) {
    const text = await post(payload);
    const { bad, hrefs } = await inspect(text);
    assert.deepEqual(bad, [], `no element outside the subset for ${JSON.stringify(payload)}`);
    for (const href of hrefs) assert.match(href, /^(https?:\/\/|mailto:)/, `${href} from ${JSON.stringify(payload)}`);
  }
  // raw HTML is shown as the text it is
  const html = bob.page.locator('#message-list .msg-text', { hasText: '<img src=x onerror="window.__pwned = 1">' });
  assert.ok(await html.count() >= 2);
  assert.equal(await bob.page.locator('#message-list .msg-text', { hasText: '<script>window.__pwned = 1</script>' }).first().textContent(),
    '<script>window.__pwned = 1</script>');
  // a link that is not http(s) or mailto stays the text it was written as
  assert.ok(await bob.page.locator('#message-list .msg-text', { hasText: '[click](javascript:window.__pwned=1)' }).count() >= 1);
  const everywhere = (page) => page.evaluate(() => ({
    pwned: window.__pwned,
    elements: document.querySelectorAll('#message-list :is(script, img, iframe, svg, object, embed, style, link, meta, form, input)').length,
    badLinks: [...document.querySelectorAll('#message-list a')].map((a) => a.getAttribute('href')).filter((h) => !/^(https?:\/\/|mailto:)/.test(h ?? '')),
  }));
  for (const { page } of [alice, bob]) {
    assert.deepEqual(await everywhere(page), { pwned: undefined, elements: 0, badLinks: [] });
  }
  const after = await post('messages after all that still render');
  assert.equal(await after.textContent(), 'messages after all that still render');
  for (const { page } of [alice, bob]) assert.equal(await page.evaluate(() => window.__pwned), undefined);
  alice.assertClean();
  bob.assertClean();
});

test('deep nesting is flattened and long lines wrap: nothing is lost, the page does not widen', async () => {
  // [text, what must still be shown of it]
  const deep = [
    // hundreds deep, on one line
    [`${'> '.repeat(500)}end of the deep quote`, 'end of the deep quote'],
    [`${'- '.repeat(500)}end of the deep list`, 'end of the deep list'],
    [`${'1. '.repeat(300)}end of the numbered list`, 'end of the numbered list'],
    [`${'> - '.repeat(300)}end of the mixed nest`, 'end of the mixed nest'],
    // dozens of lines, each indented one more
    [Array.from({ length: 55 }, (_, i) => `${'  '.repeat(i)}- level ${i}`).join('\n'), 'level 54'],
    // a little too deep: formatted, flattened past five
    ['> > > > > > > seven quotes deep', 'seven quotes deep'],
    ['- a\n  - b\n    - c\n      - d\n        - e\n          - f\n            - g, seventh', 'g, seventh'],
  ];
  for (const [text, end] of deep) {
    const node = await post(text);
    const { bad, depth, text: shown } = await inspect(node);
    assert.deepEqual(bad, []);
    assert.ok(depth <= MAX_DEPTH, `at most ${MAX_DEPTH} levels, got ${depth} for ${text.slice(0, 40)}`);
    assert.ok(shown.includes(end), `"${end}" is shown for ${text.slice(0, 40)}…`);
    if (end === 'seven quotes deep') assert.equal(await node.locator('blockquote').count(), MAX_DEPTH, 'formatted to five, flattened past');
    if (end === 'g, seventh') assert.equal(await node.locator('li').count(), MAX_DEPTH, 'five list levels, then lines');
  }

  const wide = [
    'x'.repeat(4000),
    `https://example.com/${'a'.repeat(3980)}`,
    `\`\`\`\n${'y'.repeat(3992)}\n\`\`\``,
    `\`${'z'.repeat(3998)}\``,
    `> - **${'q'.repeat(3990)}**`,
  ];
  for (const text of wide) assert.equal([...text].length <= 4000, true);
  for (const text of wide) await post(text);
  const widths = (page) => page.evaluate(() => {
    const scroller = document.getElementById('messages');
    const texts = [...document.querySelectorAll('#message-list .msg-text')];
    return {
      page: document.documentElement.scrollWidth <= window.innerWidth,
      scroller: scroller.scrollWidth <= scroller.clientWidth,
      texts: texts.every((t) => t.getBoundingClientRect().right <= window.innerWidth && t.scrollWidth <= t.clientWidth + 1),
    };
  });
  const fits = { page: true, scroller: true, texts: true };
  assert.deepEqual(await widths(bob.page), fits, 'at 1280 px');
  await bob.page.setViewportSize({ width: 390, height: 800 });
  assert.deepEqual(await widths(bob.page), fits, 'at 390 px');
  await screenshot(bob.page, 'format-wide-narrow');
  await bob.page.setViewportSize({ width: 1280, height: 800 });
  assert.equal(await (await post('still fine after the long ones')).textContent(), 'still fine after the long ones');
  alice.assertClean();
  bob.assertClean();
});

test('parsing and drawing a hostile 4,000-character message stays cheap', async () => {
  const worst = await bob.page.evaluate(async () => {
    const main = /** @type {HTMLScriptElement} */ (document.querySelector('script[type="module"]')).src;
    const { formatMessage } = await import(main.replace(/main\.js$/, 'markdown.js'));
    const inputs = [
      '*a '.repeat(1333), '**_'.repeat(1333), '[a]('.repeat(1000), '['.repeat(4000), '- a\n'.repeat(1000),
      '> '.repeat(2000), '`'.repeat(4000), '<a'.repeat(2000), 'https://x.example/ '.repeat(210), '@bob '.repeat(800),
    ];
    let most = 0;
    for (const text of inputs) {
      formatMessage(text, 'bob');
      const start = performance.now();
      for (let i = 0; i < 5; i++) formatMessage(text, 'bob');
      most = Math.max(most, (performance.now() - start) / 5);
    }
    return most;
  });
  // A few milliseconds on a quiet machine; far below this even on a loaded
  // one, and far below what a quadratic parse of 4,000 characters costs.
  assert.ok(worst < 150, `slowest input took ${worst.toFixed(1)} ms`);
});

test('Shift+Enter makes a new line, Enter sends the lines, and a code block is previewed as it will look', async () => {
  const input = alice.page.getByLabel('Message', { exact: true });
  const preview = alice.page.locator('#composer-preview');
  // Bob may see the last message before Alice's page has its ack: wait until nothing of hers is pending.
  await alice.page.waitForFunction(() => document.querySelectorAll('#pending-list li').length === 0);
  const sentBefore = await bob.page.locator('#message-list li.msg').count();
  await input.click();
  await input.pressSequentially('first line');
  const oneLine = await input.evaluate((node) => node.offsetHeight);
  await input.press('Shift+Enter');
  await input.pressSequentially('second *line*');
  await input.press('Shift+Enter');
  await input.pressSequentially('third');
  assert.equal(await input.inputValue(), 'first line\nsecond *line*\nthird');
  assert.ok(await input.evaluate((node) => node.offsetHeight) > oneLine, 'the box grows with its lines');
  await frames(alice.page);
  assert.equal(await preview.isHidden(), true, 'no preview without a code block');
  assert.equal(await alice.page.locator('#pending-list li').count(), 0, 'Shift+Enter sent nothing');
  await input.press('Enter');
  await bob.page.waitForFunction((n) => document.querySelectorAll('#message-list li.msg').length > n, sentBefore);
  const lines = bob.page.locator('#message-list li.msg').last().locator('.msg-text');
  assert.equal(await lines.textContent(), 'first line\nsecond line\nthird');
  assert.equal(await lines.locator('em').textContent(), 'line');
  // shown on three lines: the text keeps its line breaks
  assert.ok(await lines.evaluate((node) => node.getBoundingClientRect().height > 2.5 * parseFloat(getComputedStyle(node).lineHeight)));
  assert.equal(await input.inputValue(), '');

  await input.pressSequentially('Look:');
  for (const line of ['```js', 'const tag = "<b>" + 1;', '```']) {
    await input.press('Shift+Enter');
    await input.pressSequentially(line);
  }
  await preview.waitFor({ state: 'visible' });
  // drawn at the next frame after the last key
  await alice.page.waitForFunction(() => document.querySelector('#composer-preview pre > code')?.textContent === 'const tag = "<b>" + 1;');
  assert.equal(await preview.locator('p:not(.composer-preview-title)').textContent(), 'Look:');
  assert.equal(await preview.locator('b').count(), 0);
  await screenshot(alice.page, 'format-code-preview');
  const count = await bob.page.locator('#message-list li.msg').count();
  await input.press('Enter');
  await preview.waitFor({ state: 'hidden' });
  await bob.page.waitForFunction((n) => document.querySelectorAll('#message-list li.msg').length > n, count);
  const sent = bob.page.locator('#message-list li.msg').last().locator('.msg-text');
  assert.equal(await sent.locator('pre > code').textContent(), 'const tag = "<b>" + 1;');
  assert.equal(await sent.locator('p').first().textContent(), 'Look:');
  alice.assertClean();
  bob.assertClean();
});
