// @ts-check
// Screen readers hear new messages from others in the open room through a
// live region: the message list itself is not one (a history page or a
// catch-up would read out dozens of old messages).

import { byId, el } from '../dom.js';
import { textOf } from '../uploads.js';

const ANNOUNCE_KEEP = 5;
const ANNOUNCE_CHARS = 300;

/** @param {import('../store.js').Store} store */
export function createAnnouncer(store) {
  const region = byId('announcer');
  store.subscribe((change) => {
    if (change.type !== 'timeline' || !change.live || !store.isOpen(change.room)) return;
    for (const msg of change.added) {
      if (msg.author.id === store.me.id) continue;
      region.append(el('p', {}, `${msg.author.name}: ${textOf(msg).slice(0, ANNOUNCE_CHARS)}`));
    }
    while (region.childElementCount > ANNOUNCE_KEEP) region.firstElementChild?.remove();
  });
}
