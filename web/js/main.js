// Entry point: find out who we are (the session cookie survives reloads),
// then show either the sign-in screen or the chat.

import * as api from './api.js';
import { byId } from './dom.js';
import { startChat } from './chat.js';
import { createSigninView } from './views/signin.js';

// A notice to show on the sign-in screen after the page reloads itself.
const NOTICE_KEY = 'banter:notice';

const signin = createSigninView({
  onAccount: async (action, name, password) => enterChat(await api[action](name, password)),
  onGuest: async (name) => enterChat(await api.guest(name)),
});

function enterChat(user) {
  signin.hide();
  byId('chat').hidden = false;
  startChat(user, signedOut);
}

// Signing out reloads the page: every listener and timer of the old session
// goes away with it, and the next person starts from a clean slate.
function signedOut(notice) {
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  location.reload();
}

async function boot() {
  let user = null;
  let problem = '';
  try {
    user = await api.me();
  } catch (error) {
    problem = error.message;
  }
  byId('boot').hidden = true;
  if (user) {
    enterChat(user);
    return;
  }
  const notice = sessionStorage.getItem(NOTICE_KEY) ?? problem;
  sessionStorage.removeItem(NOTICE_KEY);
  signin.show(notice);
}

boot();
