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
// never are.
const signin = createSigninView({
  onAccount: async (action, name, password) => {
    await api[action](name, password);
    enterChat(await api.session());
  },
  onGuest: async (name) => enterChat({ user: await api.guest(name), admin: false }),
});

function enterChat({ user, admin }) {
  signin.hide();
  byId('chat').hidden = false;
  startChat(user, signedOut, { admin });
}

// Signing out reloads the page: every listener and timer of the old session
// goes away with it, and the next person starts from a clean slate.
function signedOut(notice) {
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  location.reload();
}

async function boot() {
  let session = { user: null, admin: false };
  let problem = '';
  try {
    session = await api.session();
  } catch (error) {
    problem = error.message;
  }
  byId('boot').hidden = true;
  if (session.user) {
    enterChat(session);
    return;
  }
  const notice = sessionStorage.getItem(NOTICE_KEY) ?? problem;
  sessionStorage.removeItem(NOTICE_KEY);
  signin.show(notice);
}

boot();
