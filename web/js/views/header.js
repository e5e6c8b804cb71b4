// @ts-check
// The open room's name and topic in the top bar, and the typing line under
// its conversation.

import { byId } from '../dom.js';
import { typingText } from '../format.js';
import { roomLabel } from '../state.js';

/** @typedef {import('../state.js').Room} Room */

/** @param {import('../store.js').Store} store */
export function createHeader(store) {
  const title = byId('room-title');
  const topic = byId('room-topic');
  const typing = byId('typing');

  /** @param {Room} room */
  function renderDetails(room) {
    const label = roomLabel(room, store.me.id);
    title.textContent = room.kind === 'public' ? `#${label}` : label;
    topic.textContent = room.topic;
  }

  /** @param {Room} room */
  function renderTyping(room) {
    const names = [...room.typing.values()].map((t) => t.user.name);
    typing.textContent = typingText(names);
  }

  store.subscribe((change) => {
    if (!('room' in change) || !store.isOpen(change.room)) return;
    if (change.type === 'open') {
      renderDetails(change.room);
      renderTyping(change.room);
    } else if (change.type === 'details') {
      renderDetails(change.room);
    } else if (change.type === 'typing') {
      renderTyping(change.room);
    }
  });
}
