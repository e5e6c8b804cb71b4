// The room list: joined rooms (with unread counts) and the other rooms on
// the server, plus the join-or-create form. The other rooms come a page at
// a time (a server may have thousands): what is typed in the form narrows
// them, and "More rooms" loads the next page.

import { byId, el } from '../dom.js';

/**
 * @param {object} opts
 * @param {(name: string) => void} opts.onOpen
 * @param {(name: string) => void} opts.onJoin
 * @param {(name: string) => void} opts.onLeave
 * @param {(query: string) => void} opts.onSearch the join form's text changed
 * @param {() => void} opts.onMore the next page of other rooms is wanted
 */
export function createRoomsView({ onOpen, onJoin, onLeave, onSearch, onMore }) {
  const list = byId('room-list');
  const others = byId('other-room-list');
  const othersTitle = byId('other-rooms-title');
  const form = byId('join-form');
  const input = byId('join-name');
  const error = byId('join-error');
  const more = byId('more-rooms');
  const SEARCH_DELAY_MS = 250;
  let searchTimer = null;

  more.addEventListener('click', () => onMore());
  input.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => onSearch(searchText()), SEARCH_DELAY_MS);
  });

  // Room names are lowercase; be forgiving about what people type.
  const searchText = () => input.value.trim().replace(/^#/, '').toLowerCase().replace(/\s+/g, '-');

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = searchText();
    if (name) onJoin(name);
  });

  function roomButton(room, current) {
    const label = room.unread > 0 ? `${room.name}, ${room.unread} unread` : room.name;
    return el('button', {
      type: 'button',
      className: 'room-btn',
      'aria-current': room.name === current ? 'page' : null,
      'aria-label': label,
      onclick: () => onOpen(room.name),
    },
    el('span', { className: 'hash', 'aria-hidden': 'true' }, '#'),
    el('span', { className: 'room-name' }, room.name),
    room.unread > 0 ? el('span', { className: 'unread', 'aria-hidden': 'true' }, String(room.unread)) : null);
  }

  return {
    /** @param {object[]} rooms joined rooms, @param {string} current */
    render(rooms, current) {
      list.replaceChildren(...rooms.map((room) => el('li', {
        className: `room${room.name === current ? ' current' : ''}${room.unread ? ' has-unread' : ''}`,
      },
      roomButton(room, current),
      room.name === 'general' ? null : el('button', {
        type: 'button',
        className: 'leave-btn',
        'aria-label': `Leave ${room.name}`,
        title: 'Leave room',
        onclick: () => onLeave(room.name),
      }, '×'))));
    },

    /**
     * Rooms on the server we have not joined: [{name, members}], and
     * whether there are more to load.
     */
    renderOthers(rooms, hasMore = false) {
      othersTitle.hidden = rooms.length === 0 && !hasMore;
      more.hidden = !hasMore;
      others.replaceChildren(...rooms.map((room) => el('li', { className: 'room' },
        el('button', {
          type: 'button',
          className: 'room-btn',
          'aria-label': `Join ${room.name}`,
          onclick: () => onJoin(room.name),
        },
        el('span', { className: 'hash', 'aria-hidden': 'true' }, '#'),
        el('span', { className: 'room-name' }, room.name),
        room.members > 0 ? el('span', { className: 'online', title: `${room.members} online` }, String(room.members)) : null))));
    },

    showError(message) {
      error.textContent = message;
    },
    joined() {
      input.value = '';
      error.textContent = '';
      clearTimeout(searchTimer);
    },
  };
}
