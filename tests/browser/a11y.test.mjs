// Accessibility audit: axe-core runs inside the page on every screen the
// page has (loading, sign-in, the chat with messages and the members list,
// moderation, inline confirms, reactions and replies, a muted member, offline, the phone layout's
// drawers), in the light and the dark colour scheme, and no serious or
// critical violation may show. axe-core is the pinned npm package
// (package-lock.json), never a downloaded copy.
//
// axe goes in with page.evaluate, which the DevTools protocol runs outside
// the page's Content-Security-Policy: the page is audited under its real,
// strict policy, no `bypassCSP` needed.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import {
  expectMessageOnce, guestViaUi, holdRequests, joinRoom, openPage, openRoom, registerAdminViaUi, send, useServerAndBrowser,
  waitConnected,
} from './helpers.mjs';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SCHEMES = ['light', 'dark'];
const BLOCKING = ['serious', 'critical'];

const env = useServerAndBrowser();

/**
 * Audits what `page` shows now, in each colour scheme; returns the serious
 * and critical violations, each with the screen and scheme it was seen in.
 */
async function audit(page, screen) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  const found = [];
  for (const scheme of SCHEMES) {
    await page.emulateMedia({ colorScheme: scheme });
    await settle(page);
    const violations = await page.evaluate(async () => {
      const results = await window.axe.run(document, { resultTypes: ['violations'] });
      return results.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary ?? '' })),
      }));
    });
    for (const v of violations) if (BLOCKING.includes(v.impact)) found.push({ screen, scheme, ...v });
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return found;
}

// Lets colour transitions and drawer slides end (a scheme switch fades
// button backgrounds for 0.15 s): axe must judge the colours people read,
// not a frame halfway. The endless "connecting" pulse is left running.
async function settle(page) {
  await page.evaluate(() => Promise.all(document.getAnimations()
    .filter((a) => a.effect?.getTiming().iterations !== Infinity)
    .map((a) => a.finished.catch(() => {}))));
}

/** One line per violation, then its elements (selector and what axe says is wrong). */
function report(found) {
  return found.map((v) => [
    `${v.screen} [${v.scheme}] ${v.impact} ${v.id}: ${v.help}`,
    ...v.nodes.map((n) => `    ${n.target}\n      ${n.summary.replace(/\n/g, '\n      ')}`),
  ].join('\n')).join('\n');
}

function assertNone(found) {
  assert.equal(found.length, 0, `serious or critical accessibility violations:\n${report(found)}`);
}

test('the loading and sign-in screens', async () => {
  const { server, browser } = env;
  const visit = await openPage(browser, 'about:blank');
  const p = visit.page;
  // Hold the session question, so the loading screen stays up to be audited.
  const answer = await holdRequests(p, '**/api/session');
  await p.goto(server.url);
  await p.locator('#boot').waitFor();
  const found = await audit(p, 'loading');
  answer();
  await p.locator('#signin').waitFor();
  found.push(...await audit(p, 'sign-in'));

  visit.expectConsoleError(/\/api\/auth\/login$/, /status of 401/);
  await p.getByLabel('Name', { exact: true }).fill('nobody');
  await p.getByLabel('Password').fill('wrong-password');
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.locator('#signin-error', { hasText: 'Wrong name or password.' }).waitFor();
  found.push(...await audit(p, 'sign-in with an error'));
  assertNone(found);
  visit.assertClean();
  await visit.close();
});

test('the chat screen: messages, members, moderation, confirms, a muted member, offline', async () => {
  const { server, browser } = env;
  const root = await openPage(browser, server.url);
  const bob = await openPage(browser, server.url);
  const r = root.page;
  const b = bob.page;
  await registerAdminViaUi(r, server, 'root', 'root-password-1');
  await guestViaUi(b, 'bob');
  await joinRoom(b, 'elsewhere'); // a room root has not joined: "Other rooms"
  await joinRoom(r, 'audit');
  await joinRoom(b, 'audit');
  for (const [page, text] of [
    [r, 'Welcome to the audit.'], [b, 'Thanks! See https://example.com/guide'],
    [b, 'A second line from bob.'], [r, 'And one more from root.'],
  ]) {
    await send(page, text);
    await expectMessageOnce(page === r ? b : r, text);
  }
  await r.locator('#member-list .member[data-name="bob"]').waitFor();
  await r.locator('#other-room-list .room', { hasText: 'elsewhere' }).waitFor();
  // an unread badge on a room not on screen
  await openRoom(b, 'general');
  await send(b, 'unread for root');
  await r.locator('#room-list .room', { hasText: 'general' }).locator('.unread').waitFor();
  await openRoom(b, 'audit');
  // formatting (issue #11): a formatted message, and the composer's preview of a code block
  await send(b, '**Bold**, *italic*, ~~struck~~ and `code`\n> a quote with [a link](https://example.com/)\n\n- a list\n\n```\na code block\n```');
  await r.locator('#message-list .msg-text pre').waitFor();
  await r.getByLabel('Message', { exact: true }).fill('```\npreviewed code\n```');
  await r.locator('#composer-preview pre').waitFor();
  const found = await audit(r, 'chat (admin, members open)');
  await r.getByLabel('Message', { exact: true }).fill('');
  await r.locator('#composer-preview').waitFor({ state: 'hidden' });

  // the inline confirms: deleting a message, banning a member
  const message = r.locator('#message-list .msg', { hasText: 'A second line from bob.' });
  await message.hover();
  await message.getByRole('button', { name: 'Delete' }).click();
  await message.getByText('Delete this message?').waitFor();
  await r.locator('#member-list .member[data-name="bob"]').getByRole('button', { name: 'Ban bob' }).click();
  await r.getByText('Ban bob?').waitFor();
  found.push(...await audit(r, 'chat with a delete and a ban confirm open'));
  await r.getByRole('group', { name: 'Ban bob?' }).getByRole('button', { name: 'Cancel' }).click();
  await message.getByRole('button', { name: 'Cancel' }).click();

  // message features: a reaction, a reply with its quote and a mention, the
  // emoji picker open, the edit bar and the list of names to mention
  await message.getByRole('button', { name: 'React to the message from bob' }).click();
  await message.getByRole('button', { name: 'React with 🎉' }).click();
  await message.locator('.reaction').waitFor();
  await message.getByRole('button', { name: 'Reply to bob' }).click();
  await send(r, 'Replying to you, @bob and @room.');
  await r.locator('#message-list .msg-quote').waitFor();
  await message.getByRole('button', { name: 'React to the message from bob' }).click();
  const composer = r.getByLabel('Message', { exact: true });
  await composer.focus();
  await composer.press('ArrowUp');
  await r.locator('#composer-context', { hasText: 'Editing your message' }).waitFor();
  await composer.press('End');
  await composer.pressSequentially(' @b');
  await r.getByRole('option', { name: '@bob' }).waitFor();
  found.push(...await audit(r, 'chat with reactions, a reply, the picker, the edit bar and mentions offered'));
  await composer.press('Escape');
  await composer.press('Escape');

  // a muted member: the notice above the composer and a refused message
  await r.locator('#member-list .member[data-name="bob"]').getByRole('button', { name: 'Mute 10 min, bob' }).click();
  await b.locator('#composer-notice', { hasText: /You are muted/ }).waitFor();
  await send(b, 'can anyone hear me');
  await b.locator('#pending-list .pending.failed').waitFor();
  found.push(...await audit(b, 'chat (muted, a message refused)'));
  await b.locator('#pending-list').getByRole('button', { name: 'Discard' }).click();

  // offline, with a message waiting to go
  await bob.context.setOffline(true);
  bob.outageStarted();
  await b.locator('#conn-status[data-state="offline"]').waitFor();
  await send(b, 'waiting for the network');
  await b.locator('#pending-list .pending.queued').waitFor();
  found.push(...await audit(b, 'chat offline, a message queued'));
  await bob.context.setOffline(false);
  await waitConnected(b);
  bob.outageEnded();

  assertNone(found);
  root.assertClean();
  bob.assertClean();
  await root.close();
  await bob.close();
});

test('the phone layout: conversation, rooms drawer, members drawer', async () => {
  const { server, browser } = env;
  const phone = await openPage(browser, server.url, { viewport: { width: 360, height: 740 } });
  const p = phone.page;
  const other = await openPage(browser, server.url);
  await guestViaUi(p, 'hana');
  await guestViaUi(other.page, 'kai');
  await p.getByRole('button', { name: 'Rooms' }).click();
  await joinRoom(p, 'phones'); // the drawer closes once joined
  await send(p, 'Hello from a small screen.');
  await expectMessageOnce(p, 'Hello from a small screen.');
  // unread in general: a count on the rooms button
  await send(other.page, 'Anyone on a phone?');
  await p.locator('#rooms-badge', { hasText: '1' }).waitFor();
  const found = await audit(p, 'phone: conversation, an unread badge');
  await p.getByRole('button', { name: 'Rooms' }).click();
  await p.locator('#rooms-panel').waitFor({ state: 'visible' });
  found.push(...await audit(p, 'phone: rooms drawer'));
  await p.keyboard.press('Escape');
  await p.getByRole('button', { name: 'Members' }).click();
  await p.locator('#members-panel .member[data-name="hana"]').waitFor({ state: 'visible' });
  found.push(...await audit(p, 'phone: members drawer'));
  assertNone(found);
  phone.assertClean();
  other.assertClean();
  await phone.close();
  await other.close();
});
