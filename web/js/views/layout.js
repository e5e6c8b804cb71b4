// The panels around the conversation. Wide screens show them as columns;
// narrow ones keep them behind the top-bar buttons as drawers.

import { byId } from '../dom.js';

const WIDE = window.matchMedia('(min-width: 1100px)');
const MEDIUM = window.matchMedia('(min-width: 760px)');

export function createLayout({ onClose }) {
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
  sync();

  return {
    /** After picking a room on a phone, show the conversation. */
    closeDrawers,
    setRoomsBadge(total) {
      const badge = byId('rooms-badge');
      badge.hidden = total === 0;
      badge.textContent = total > 99 ? '99+' : String(total);
    },
  };
}
