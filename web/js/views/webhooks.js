// @ts-check
// The open room's incoming webhooks (issue #11), at the foot of the members
// panel, for accounts, asked for when opened: make one with a name (its secret URL is shown once,
// with a copy button), see the room's list, revoke your own (an admin:
// anyone's). Not in direct conversations, which take none.

import * as api from '../api.js';
import { byId, el } from '../dom.js';
import { shownOnce } from './tokens.js';

/** @typedef {import('../api.js').WebhookInfo} WebhookInfo */

/**
 * @param {import('../store.js').Store} store
 * @param {{ admin: boolean }} opts
 */
export function createWebhooksView(store, { admin }) {
  const section = byId('webhooks');
  const toggle = byId('webhooks-toggle');
  const body = byId('webhooks-body');
  const form = /** @type {HTMLFormElement} */ (byId('webhook-form'));
  const input = /** @type {HTMLInputElement} */ (byId('webhook-name'));
  const error = byId('webhook-error');
  const secretBox = byId('webhook-secret');
  const list = byId('webhook-list');
  /** @type {string | null} */
  let shown = null; // the room the section shows

  /** @param {unknown} err */
  const fail = (err) => {
    error.textContent = err instanceof Error ? err.message : String(err);
  };

  /** Opens or closes the section's body. @param {boolean} open */
  function expand(open) {
    body.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (!open) secretBox.replaceChildren();
    if (open && shown) refresh(shown);
  }
  toggle.addEventListener('click', () => expand(body.hidden));

  /** @param {import('../state.js').Room} room */
  function show(room) {
    section.hidden = room.kind === 'direct';
    if (shown !== room.name) {
      shown = room.name;
      error.textContent = '';
      list.replaceChildren();
      expand(false);
    }
  }

  /** @param {string} room */
  async function refresh(room) {
    try {
      const hooks = await api.webhooks(room);
      if (room === shown) render(hooks);
    } catch (err) {
      if (room === shown) fail(err);
    }
  }

  /** @param {WebhookInfo[]} hooks */
  function render(hooks) {
    list.replaceChildren(...hooks.map((hook) => el('li', { className: 'token-item', 'data-webhook-id': hook.id },
      el('span', { className: 'token-name' }, hook.name),
      el('span', { className: 'small muted' }, `by ${hook.created_by.name}`),
      hook.created_by.id === store.me.id || admin
        ? el('button', {
          type: 'button', className: 'mini-btn danger', 'aria-label': `Revoke the webhook ${hook.name}`,
          onclick: async () => {
            error.textContent = '';
            await api.revokeWebhook(hook.id).catch(fail);
            if (shown) await refresh(shown);
          },
        }, 'Revoke')
        : null)));
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const room = shown;
    if (!room) return;
    error.textContent = '';
    try {
      const made = await api.createWebhook(room, input.value);
      input.value = '';
      secretBox.replaceChildren(...shownOnce(`The URL of the webhook ${made.name}`, location.origin + made.url));
      await refresh(room);
    } catch (err) {
      fail(err);
    }
  });

  store.subscribe((change) => {
    if (!('room' in change) || !store.isOpen(change.room)) return;
    if (change.type === 'open' || change.type === 'details') show(change.room);
  });
}
