// @ts-check
// The connection badge in the top bar.

import { byId } from '../dom.js';

/** @type {Record<string, string>} */
const LABELS = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

/** @param {import('../store.js').Store} store */
export function createStatusView(store) {
  const badge = byId('conn-status');
  /** @param {string} state */
  function show(state) {
    badge.dataset.state = state;
    badge.textContent = LABELS[state] ?? state;
  }
  store.subscribe((change) => {
    if (change.type === 'status') show(change.state);
  });
  show(store.status);
}
