// @ts-check
// The open room's desktop notification level (issue #10): every message,
// mentions only (the default; every message in a direct conversation) or
// never. Stored on the server, so every device of the user has it.

import { byId } from '../dom.js';

/**
 * @param {import('../store.js').Store} store
 * @param {object} opts
 * @param {(room: import('../state.js').Room, level: import('../state.js').NotifyLevel) => Promise<void>} opts.onChange
 */
export function createNotifyLevel(store, { onChange }) {
  const select = /** @type {HTMLSelectElement} */ (byId('notify-level'));

  /** @param {import('../state.js').Room} room */
  function render(room) {
    select.value = room.notify;
  }

  select.addEventListener('change', () => {
    const room = store.current;
    const level = /** @type {import('../state.js').NotifyLevel} */ (select.value);
    if (room) onChange(room, level).catch(() => render(room));
  });
  store.subscribe((change) => {
    if ((change.type === 'open' || change.type === 'notify') && store.isOpen(change.room)) render(change.room);
  });
}
