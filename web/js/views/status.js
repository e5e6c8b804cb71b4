// The connection badge in the top bar.

import { byId } from '../dom.js';

const LABELS = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

export function createStatusView() {
  const badge = byId('conn-status');
  return {
    show(state) {
      badge.dataset.state = state;
      badge.textContent = LABELS[state] ?? state;
    },
  };
}
