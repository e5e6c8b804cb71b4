// @ts-check
// The "Tokens" panel (issue #11): a signed-in account's personal access
// tokens. Create one with a name (its secret is shown once, with a copy
// button), see the list (names and dates, never secrets), revoke one.
// Built with DOM calls only: names are the user's text.

import * as api from '../api.js';
import { byId, el } from '../dom.js';

/** @typedef {import('../api.js').TokenInfo} TokenInfo */

/** @param {number | null} ms */
function when(ms) {
  return ms === null ? 'never' : new Date(ms).toLocaleString();
}

/**
 * A secret shown this once: a read-only field and a Copy button.
 * @param {string} label the field's accessible name
 * @param {string} secret
 * @returns {HTMLElement[]}
 */
export function shownOnce(label, secret) {
  const value = /** @type {HTMLInputElement} */ (el('input', {
    className: 'token-value', readOnly: true, value: secret, 'aria-label': label,
  }));
  const copied = el('span', { className: 'small token-copied', role: 'status' });
  const copy = el('button', {
    type: 'button', className: 'btn btn-small',
    onclick: async () => {
      value.select();
      try {
        await navigator.clipboard.writeText(secret);
        copied.textContent = 'Copied';
      } catch {
        copied.textContent = 'Selected: press Ctrl+C to copy';
      }
    },
  }, 'Copy');
  return [
    el('p', { className: 'small' }, 'Copy it now: it is not shown again.'),
    el('div', { className: 'token-secret-row' }, value, copy),
    copied,
  ];
}

/** Wires the panel; call once, for an account (not a guest). */
export function createTokensPanel() {
  const toggle = /** @type {HTMLButtonElement} */ (byId('tokens-toggle'));
  const panel = byId('tokens-panel');
  const form = /** @type {HTMLFormElement} */ (byId('token-form'));
  const input = /** @type {HTMLInputElement} */ (byId('token-name'));
  const error = byId('token-error');
  const secretBox = byId('token-secret');
  const list = byId('token-list');
  toggle.hidden = false;

  toggle.addEventListener('click', () => {
    const open = panel.hidden;
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open) {
      refresh();
      input.focus();
    } else {
      secretBox.replaceChildren();
    }
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    try {
      const made = await api.createToken(input.value);
      input.value = '';
      showSecret(made.name, made.token);
      await refresh();
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
    }
  });

  /** @param {string} name @param {string} token */
  function showSecret(name, token) {
    secretBox.replaceChildren(...shownOnce(`The token ${name}`, token));
  }

  async function refresh() {
    try {
      render(await api.tokens());
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
    }
  }

  /** @param {TokenInfo[]} tokens */
  function render(tokens) {
    list.replaceChildren(...tokens.map((token) => el('li', { className: 'token-item', 'data-token-id': token.id },
      el('span', { className: 'token-name' }, token.name),
      el('span', { className: 'small muted' }, `made ${when(token.created_at)}, last used ${when(token.last_used_at)}`),
      el('button', {
        type: 'button', className: 'mini-btn danger', 'aria-label': `Revoke ${token.name}`,
        onclick: async () => {
          error.textContent = '';
          try {
            await api.revokeToken(token.id);
          } catch (err) {
            error.textContent = err instanceof Error ? err.message : String(err);
          }
          await refresh();
        },
      }, 'Revoke'))));
    if (tokens.length === 0) list.replaceChildren(el('li', { className: 'small muted' }, 'No tokens yet.'));
  }
}
