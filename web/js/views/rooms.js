// @ts-check
// The rooms panel: joined rooms (with unread counts), the other rooms on
// the server, the join-or-create form, and who is signed in. The other
// rooms come a page at a time (a server may have thousands): what is typed
// in the form narrows them, and "More rooms" loads the next page.

import { byId, el } from '../dom.js';
import { hueOf } from '../format.js';
import { roomLabel } from '../state.js';

const SEARCH_DELAY_MS = 250;

/**
 * @param {import('../store.js').Store} store
 * @param {object} opts
 * @param {(name: string) => void} opts.onOpen
 * @param {(name: string) => Promise<void>} opts.onJoin rejects with an Error to show
 * @param {(name: string) => void} opts.onLeave
 * @param {(query: string) => void} opts.onSearch the join form's text changed
 * @param {() => void} opts.onMore the next page of other rooms is wanted
 * @param {(name: string) => Promise<void>} [opts.onCreate] a new private room; rejects with an Error to show
 * @param {{ askable: boolean, ask: () => Promise<string> }} [opts.notifier] desktop notifications
 */
export function createRoomsView(store, { onOpen, onJoin, onLeave, onSearch, onMore, onCreate, notifier }) {
  const list = byId('room-list');
  const others = byId('other-room-list');
  const othersTitle = byId('other-rooms-title');
  const form = byId('join-form');
  const input = /** @type {HTMLInputElement} */ (byId('join-name'));
  const error = byId('join-error');
  const more = byId('more-rooms');
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let searchTimer;

  more.addEventListener('click', () => onMore());
  input.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => onSearch(searchText()), SEARCH_DELAY_MS);
  });

  // Room names are lowercase; be forgiving about what people type.
  const searchText = () => input.value.trim().replace(/^#/, '').toLowerCase().replace(/\s+/g, '-');

  /** Joins by the form or by a click on another room; the form starts over once it worked. @param {string} name */
  async function join(name) {
    try {
      await onJoin(name);
      input.value = '';
      error.textContent = '';
      clearTimeout(searchTimer);
    } catch (e) {
      error.textContent = e.message;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = searchText();
    if (name) join(name);
  });

  // ---- a new private room, and desktop notifications (issue #10)
  const createForm = byId('create-form');
  const createInput = /** @type {HTMLInputElement} */ (byId('create-name'));
  const createError = byId('create-error');
  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = createInput.value.trim().replace(/^#/, '').toLowerCase().replace(/\s+/g, '-');
    if (!name || !onCreate) return;
    try {
      await onCreate(name);
      createInput.value = '';
      createError.textContent = '';
    } catch (e) {
      createError.textContent = e.message;
    }
  });
  const enable = byId('enable-notifications');
  enable.hidden = !notifier?.askable;
  // Asked on this click only, never on load.
  enable.addEventListener('click', async () => {
    await notifier?.ask();
    enable.hidden = !notifier?.askable;
  });

  // What marks a room's kind before its name, and what it says to a screen reader.
  const MARKS = { public: ['#', ''], private: ['🔒', ' (private)'], direct: ['@', ' (direct message)'] };

  // The name is the room's and its counts as shown ("general 3 unread"):
  // the visible text, in order, then what each number means.
  /** @param {import('../state.js').Room} room @param {string | null} current */
  function roomButton(room, current) {
    const [mark, kind] = MARKS[room.kind] ?? MARKS.public;
    return el('button', {
      type: 'button',
      className: 'room-btn',
      'aria-current': room.name === current ? 'page' : null,
      'data-room': room.name,
      'data-kind': room.kind,
      onclick: () => onOpen(room.name),
    },
    el('span', { className: 'hash', 'aria-hidden': 'true' }, mark),
    el('span', { className: 'room-name' }, roomLabel(room, store.me.id),
      kind ? el('span', { className: 'visually-hidden' }, kind) : null),
    room.mentions > 0 ? [' ', el('span', { className: 'mention-count' }, `@${room.mentions}`,
      el('span', { className: 'visually-hidden' }, ' mentions'))] : null,
    room.unread > 0 ? [' ', el('span', { className: 'unread' }, String(room.unread),
      el('span', { className: 'visually-hidden' }, ' unread'))] : null);
  }

  function renderJoined() {
    const current = store.current?.name ?? null;
    list.replaceChildren(...store.rooms.map((room) => el('li', {
      className: `room${room.name === current ? ' current' : ''}${room.unread ? ' has-unread' : ''}`,
    },
    roomButton(room, current),
    room.name === 'general' ? null : el('button', {
      type: 'button',
      className: 'leave-btn',
      'aria-label': `${room.kind === 'direct' ? 'Close' : 'Leave'} ${roomLabel(room, store.me.id)}`,
      title: room.kind === 'direct' ? 'Close conversation' : 'Leave room',
      onclick: () => onLeave(room.name),
    }, '×'))));
  }

  // The online count sits beside the button, not in it: it describes the
  // room, while the button's name says what it does ("Join design").
  function renderOthers() {
    const { rooms, hasMore } = store.others;
    othersTitle.hidden = rooms.length === 0 && !hasMore;
    more.hidden = !hasMore;
    others.replaceChildren(...rooms.map((room) => el('li', { className: 'room' },
      el('button', {
        type: 'button',
        className: 'room-btn',
        'aria-label': `Join ${room.name}`,
        onclick: () => join(room.name),
      },
      el('span', { className: 'hash', 'aria-hidden': 'true' }, '#'),
      el('span', { className: 'room-name' }, room.name)),
      room.members > 0 ? el('span', { className: 'online', title: `${room.members} online` }, String(room.members),
        el('span', { className: 'visually-hidden' }, ' online')) : null)));
  }

  function renderMe() {
    const { me } = store;
    byId('me-name').textContent = me.name;
    byId('me-guest').hidden = !me.guest;
    const mark = byId('me-avatar');
    mark.textContent = me.name[0].toUpperCase();
    mark.style.setProperty('--hue', String(hueOf(me.name)));
  }

  store.subscribe((change) => {
    if (change.type === 'rooms') renderJoined();
    if (change.type === 'others') renderOthers();
  });
  renderMe();
}
