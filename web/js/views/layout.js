// @ts-check
// The panels around the conversation. Wide screens show them as columns;
// narrow ones keep them behind the top-bar buttons as drawers. The rooms
// button carries the unread total (as does the tab's title).

import { byId } from '../dom.js';

const WIDE = window.matchMedia('(min-width: 1100px)');
const MEDIUM = window.matchMedia('(min-width: 760px)');

/**
 * @param {import('../store.js').Store} store
 * @param {object} opts
 * @param {() => void} opts.onClose a drawer was closed: focus goes back to the conversation
 */
export function createLayout(store, { onClose }) {
  const chat = byId('chat');
  const roomsButton = byId('toggle-rooms');
  const membersButton = byId('toggle-members');
  const scrim = byId('scrim');

  // On wide screens the members column is open unless closed by the user;
  // as a drawer it is closed unless opened. One flag, read per breakpoint.
  let membersToggled = false;
  let roomsOpen = false;

  function membersVisible() {
    return WIDE.matches ? !membersToggled : membersToggled;
  }

  function sync() {
    const drawerOpen = (!MEDIUM.matches && roomsOpen) || (!WIDE.matches && membersToggled);
    chat.classList.toggle('rooms-open', roomsOpen && !MEDIUM.matches);
    chat.classList.toggle('members-toggled', membersToggled);
    roomsButton.setAttribute('aria-expanded', String(roomsOpen && !MEDIUM.matches));
    membersButton.setAttribute('aria-expanded', String(membersVisible()));
    scrim.hidden = !drawerOpen;
  }

  function closeDrawers() {
    const wasOpen = !scrim.hidden;
    roomsOpen = false;
    if (!WIDE.matches) membersToggled = false;
    sync();
    if (wasOpen) onClose();
  }

  roomsButton.addEventListener('click', () => {
    roomsOpen = !roomsOpen;
    if (roomsOpen && !WIDE.matches) membersToggled = false;
    sync();
    if (roomsOpen) byId('room-list').querySelector('button')?.focus();
  });
  membersButton.addEventListener('click', () => {
    membersToggled = !membersToggled;
    if (membersToggled) roomsOpen = false;
    sync();
  });
  scrim.addEventListener('click', closeDrawers);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !scrim.hidden) closeDrawers();
  });
  WIDE.addEventListener('change', () => { membersToggled = false; sync(); });
  MEDIUM.addEventListener('change', () => { roomsOpen = false; sync(); });

  // The name starts with what the button shows (the badge's number), so
  // speech input can say it too.
  function renderUnread() {
    const total = store.unreadTotal;
    const shown = total > 99 ? '99+' : String(total);
    const badge = byId('rooms-badge');
    badge.hidden = total === 0;
    badge.textContent = shown;
    roomsButton.setAttribute('aria-label', total > 0 ? `${shown} unread, rooms` : 'Rooms');
    document.title = total > 0 ? `(${total}) Banter` : 'Banter';
  }

  store.subscribe((change) => {
    if (change.type === 'rooms') renderUnread();
  });
  sync();

  return {
    /** After picking a room on a phone, show the conversation. */
    closeDrawers,
  };
}
