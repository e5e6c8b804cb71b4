// @ts-check
// The sign-in screen: account (log in / register) or guest.

import { byId } from '../dom.js';

// What people should read instead of a bare code. For input errors the
// server's own message is better (it names the rule), so those pass through.
/** @type {Record<string, string>} */
const FRIENDLY = {
  invalid_credentials: 'Wrong name or password.',
  name_taken: 'That name is taken. Pick another one.',
  guests_disabled: 'Guest access is turned off on this server. Sign in or create an account.',
  rate_limited: 'Too many attempts. Wait a moment and try again.',
};

/**
 * @param {object} opts
 * @param {(action: 'login'|'register', name: string, password: string) => Promise<void>} opts.onAccount
 * @param {(name: string) => Promise<void>} opts.onGuest
 */
export function createSigninView({ onAccount, onGuest }) {
  const screen = byId('signin');
  const accountForm = byId('account-form');
  const guestForm = byId('guest-form');
  const error = byId('signin-error');
  const name = /** @type {HTMLInputElement} */ (byId('account-name'));
  const password = /** @type {HTMLInputElement} */ (byId('account-password'));
  const guestName = /** @type {HTMLInputElement} */ (byId('guest-name'));

/** @param {HTMLElement} form @param {() => Promise<void>} task */
  async function run(form, task) {
    const buttons = form.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    error.textContent = '';
    try {
      await task();
    } catch (e) {
      error.textContent = FRIENDLY[e.code] ?? e.message;
      if (e.code === 'guests_disabled') byId('guest-section').hidden = true;
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  accountForm.addEventListener('submit', (event) => {
    event.preventDefault();
    // Which button submitted decides between log in and register.
    const action = event.submitter?.dataset.action === 'register' ? 'register' : 'login';
    password.autocomplete = action === 'register' ? 'new-password' : 'current-password';
    run(accountForm, () => onAccount(action, name.value.trim(), password.value));
  });
  guestForm.addEventListener('submit', (event) => {
    event.preventDefault();
    run(guestForm, () => onGuest(guestName.value.trim()));
  });

  return {
    show(message = '') {
      screen.hidden = false;
      password.value = '';
      error.textContent = message;
      name.focus();
    },
    hide() {
      screen.hidden = true;
      error.textContent = '';
    },
  };
}
