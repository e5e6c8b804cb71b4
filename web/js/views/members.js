// Who is online in the open room, kept live by joined/left events.

import { byId, el } from '../dom.js';
import { avatar } from '../format.js';

export function createMembersView({ me }) {
  const list = byId('member-list');
  const total = byId('members-total');
  const count = byId('members-count');

  return {
    render(room) {
      const members = [...room.members.values()].sort((a, b) =>
        (b.id === me.id) - (a.id === me.id) || a.name.localeCompare(b.name));
      list.replaceChildren(...members.map((user) => el('li', { className: 'member', 'data-name': user.name },
        avatar(user.name, 'avatar-small'),
        el('span', { className: 'member-name' }, user.name),
        user.id === me.id ? el('span', { className: 'tag tag-you' }, 'you') : null,
        user.guest ? el('span', { className: 'tag' }, 'guest') : null)));
      total.textContent = `— ${members.length}`;
      count.textContent = String(members.length);
    },
  };
}
