// @ts-check
// Who is online in the open room, kept live by joined/left/presence events.
// The count is always exact; the list holds the members we know of (in a big
// room the first page, then more on "Show more"). Admins also get
// moderation actions per member (never on themselves: the server refuses a
// self-ban, and muting yourself helps no one).

import { byId, el } from '../dom.js';
import { avatar } from '../format.js';
import { compareMembers } from '../state.js';
import { focusConfirm, inlineConfirm } from './confirm.js';

const MUTE_MINUTES = 10;

/**
 * @typedef {import('../state.js').User} User
 * Where a moderation action on a member stands; none: the three buttons.
 * @typedef {{ step: 'confirm' } | { step: 'busy' } | { step: 'error', error: string }} Step
 */

/**
 * @param {import('../store.js').Store} store
 * @param {object} opts
 * @param {boolean} opts.admin
 * @param {(room: string, user: User, minutes: number) => Promise<void>} opts.onMute
 * @param {(user: User) => Promise<void>} opts.onBan
 * @param {() => void} opts.onMore asks for the next page of the open room's members
 * @param {(user: User) => Promise<void>} [opts.onMessage] opens a direct conversation with the member
 * @param {(room: string, user: User) => Promise<void>} [opts.onInvite] invites the member to a private room of ours
 */
export function createMembersView(store, { admin, onMute, onBan, onMore, onMessage, onInvite }) {
  const { me } = store;
  const list = byId('member-list');
  const total = byId('members-total');
  const count = byId('members-count');
  const toggle = byId('toggle-members');
  const more = byId('members-more');
  const moreButton = byId('members-more-btn');
  const shown = byId('members-shown');
  const moreError = byId('members-error');
  // user id → its <li>, reused across redraws so a live change never
  // moves (and so unfocuses) the rows that stay.
  /** @type {Map<number, HTMLElement>} */
  const rows = new Map();
  // user id → where an action stands; survives redraws (someone joining
  // while the admin is confirming a ban).
  /** @type {Map<number, Step>} */
  const states = new Map();
  /** @type {import('../state.js').Room | null} */
  let room = null;

/** @param {User} user @param {Step | null} state @param {'confirm' | 'first'} [focus] */
  function set(user, state, focus) {
    if (state) states.set(user.id, state);
    else states.delete(user.id);
    const node = actions(user);
    rows.get(user.id)?.querySelector('.member-actions')?.replaceWith(node);
    if (focus === 'confirm') focusConfirm(node);
    if (focus === 'first') node.querySelector('button')?.focus();
  }

/** @param {User} user @param {() => Promise<void>} action */
  async function run(user, action) {
    set(user, { step: 'busy' });
    try {
      await action();
      set(user, null);
    } catch (error) {
      set(user, { step: 'error', error: error.message }, 'first');
    }
  }

/** @param {string} label @param {() => void} onclick @param {Record<string, string>} [extra] */
  function button(label, onclick, extra = {}) {
    return el('button', { type: 'button', className: 'mini-btn', onclick, ...extra }, label);
  }

/** @param {User} user */
  function idleActions(user) {
    // the room the row was drawn in: a switch of rooms redraws every row
    const roomName = room?.name ?? '';
    /** @param {number} minutes */
    const mute = (minutes) => run(user, () => onMute(roomName, user, minutes));
    return [
      // The names start with the visible text, then say who.
      button(`Mute ${MUTE_MINUTES} min`, () => mute(MUTE_MINUTES), { 'aria-label': `Mute ${MUTE_MINUTES} min, ${user.name}` }),
      button('Unmute', () => mute(0), { 'aria-label': `Unmute ${user.name}` }),
      button('Ban', () => set(user, { step: 'confirm' }, 'confirm'), { className: 'mini-btn danger', 'aria-label': `Ban ${user.name}` }),
    ];
  }

/** @param {User} user @param {Step | undefined} state */
  function actionBody(user, state) {
    if (!state) return idleActions(user);
    if (state.step === 'confirm') {
      return [inlineConfirm({
        question: `Ban ${user.name}?`, confirm: 'Ban',
        onConfirm: () => run(user, () => onBan(user)), onCancel: () => set(user, null, 'first'),
      })];
    }
    if (state.step === 'busy') return [el('span', { className: 'confirm-question', role: 'status' }, 'Working…')];
    return [el('span', { className: 'action-error', role: 'alert' }, state.error,
      button('OK', () => set(user, null, 'first')))];
  }

/** @param {User} user */
  function actions(user) {
    return el('div', { className: 'member-actions', role: 'group', 'aria-label': `Moderate ${user.name}` },
      ...actionBody(user, states.get(user.id)));
  }

  // ---- a member's menu: a direct conversation, an invitation (issue #10)
  /** user id → what the menu says (null: open, no news). @type {Map<number, string | null>} */
  const menus = new Map();

/** @param {User} user @param {string} label @param {() => Promise<void>} action */
  function menuAction(user, label, action) {
    return button(label, async () => {
      try {
        await action();
        menus.set(user.id, label.startsWith('Invite') ? `Invited ${user.name}` : null);
      } catch (error) {
        menus.set(user.id, error.message);
      }
      redrawMenu(user);
    });
  }

/** @param {User} user */
  function menu(user) {
    if (!menus.has(user.id)) return el('div', { className: 'member-menu', hidden: true });
    const invitable = store.rooms.filter((r) => r.kind === 'private' && r !== room).slice(0, 5);
    const note = menus.get(user.id);
    return el('div', { className: 'member-menu', role: 'group', 'aria-label': `Actions for ${user.name}` },
      onMessage ? menuAction(user, `Message ${user.name}`, () => onMessage(user)) : null,
      onInvite ? invitable.map((r) => menuAction(user, `Invite to ${r.name}`, () => onInvite(r.name, user))) : null,
      note ? el('span', { className: 'confirm-question', role: 'status' }, note) : null);
  }

/** @param {User} user */
  function redrawMenu(user) {
    const row = rows.get(user.id);
    row?.querySelector('.member-menu')?.replaceWith(menu(user));
    row?.querySelector('.member-name-btn')?.setAttribute('aria-expanded', String(menus.has(user.id)));
  }

/** @param {User} user */
  function nameOf(user) {
    if (user.id === me.id || (!onMessage && !onInvite)) return el('span', { className: 'member-name' }, user.name);
    return el('button', {
      type: 'button',
      className: 'member-name member-name-btn',
      'aria-expanded': 'false',
      onclick: () => {
        if (menus.has(user.id)) menus.delete(user.id);
        else menus.set(user.id, null);
        redrawMenu(user);
      },
    }, user.name);
  }

/** @param {User} user */
  function item(user) {
    const self = user.id === me.id;
    return el('li', { className: 'member', 'data-name': user.name, 'data-user-id': user.id },
      avatar(user.name, 'avatar-small'),
      nameOf(user),
      self ? el('span', { className: 'tag tag-you' }, 'you') : null,
      user.guest ? el('span', { className: 'tag' }, 'guest') : null,
      admin && !self ? actions(user) : null,
      self ? null : menu(user));
  }

  // Puts the rows in `members` order, adding and removing only what changed.
/** @param {User[]} members */
  function update(members) {
    const keep = new Set(members.map((user) => user.id));
    for (const [id, row] of rows) {
      if (keep.has(id)) continue;
      row.remove();
      rows.delete(id);
    }
    let cursor = list.firstElementChild;
    for (const user of members) {
      let row = rows.get(user.id);
      if (!row) {
        row = item(user);
        rows.set(user.id, row);
      }
      if (row === cursor) cursor = row.nextElementSibling;
      else list.insertBefore(row, cursor);
    }
  }

  /** @param {import('../state.js').Room} next */
  function render(next) {
    if (next !== room) {
      // a confirm belongs to the room it was asked in
      states.clear();
      menus.clear();
      rows.clear();
      list.replaceChildren();
    }
    room = next;
    const members = [...room.members.values()].sort((a, b) =>
      Number(b.id === me.id) - Number(a.id === me.id) || compareMembers(a, b));
    update(members);
    total.textContent = `— ${room.memberCount}`;
    count.textContent = String(room.memberCount);
    // the name starts with the number the button shows, then says which panel it opens
    toggle.setAttribute('aria-label', `${room.memberCount} online, members`);
    more.hidden = room.memberCount <= members.length;
    shown.textContent = `${members.length} of ${room.memberCount} shown`;
    // aria-disabled, not disabled: a disabled button would drop the focus
    moreButton.setAttribute('aria-disabled', String(room.loadingMembers));
    moreButton.textContent = room.loadingMembers ? 'Loading…' : 'Show more';
    moreError.textContent = room.membersError;
  }

  moreButton.addEventListener('click', () => onMore());
  store.subscribe((change) => {
    if ((change.type === 'open' || change.type === 'members') && store.isOpen(change.room)) render(change.room);
  });
}
