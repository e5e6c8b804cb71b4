// @ts-check
// Entry point: find out who we are (the session cookie survives reloads),
// then show either the sign-in screen or the chat.

import * as api from './api.js';
import { byId } from './dom.js';
import { startChat } from './chat.js';
import { createSigninView } from './views/signin.js';

// A notice to show on the sign-in screen after the page reloads itself.
const NOTICE_KEY = 'banter:notice';

// After signing in, ask the session again: only it says whether this
// account is an admin (the first account on a new server is one). Guests
// never are. No user in it means the browser dropped the session cookie.
const signin = createSigninView({
  onAccount: async (action, name, password) => {
    await api[action](name, password);
    const { user, admin } = await api.session();
    if (!user) throw new Error('Signed in, but this browser did not keep the session cookie. Allow cookies for this site and try again.');
    enterChat({ user, admin });
  },
  onGuest: async (name) => enterChat({ user: await api.guest(name), admin: false }),
});

/** @param {{ user: import('./state.js').User, admin: boolean }} session */
function enterChat({ user, admin }) {
  signin.hide();
  byId('chat').hidden = false;
  startChat(user, signedOut, { admin });
}

// Signing out reloads the page: every listener and timer of the old session
// goes away with it, and the next person starts from a clean slate.
/** @param {string} notice */
function signedOut(notice) {
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  location.reload();
}

async function boot() {
  /** @type {{ user: import('./state.js').User | null, admin: boolean }} */
  let session = { user: null, admin: false };
  let problem = '';
  try {
    session = await api.session();
  } catch (error) {
    problem = error.message;
  }
  byId('boot').hidden = true;
  const { user, admin } = session;
  if (user) {
    enterChat({ user, admin });
    return;
  }
  const notice = sessionStorage.getItem(NOTICE_KEY) ?? problem;
  sessionStorage.removeItem(NOTICE_KEY);
  signin.show(notice);
}

boot();
