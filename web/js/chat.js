// @ts-check
// The chat screen's controller: builds the store, the sync module and the
// views, and turns what the user does (open a room, join, send, delete,
// edit, react, reply, scroll up) into store changes and requests. It draws nothing: the views
// subscribe to the store and redraw what each change touches.
//
//   user ─▶ views ─(intents)─▶ chat.js ─▶ sync.js ─▶ server
//                                  │          │
//                                  ▼          ▼ (events, answers)
//                               store.js ◀────┘
//                                  │ announces changes
//                                  ▼
//                                views

import * as api from './api.js';
import { byId } from './dom.js';
import { lastOwnMessage } from './state.js';
import { createNotifier, createReadTracker } from './readstate.js';
import { createStore } from './store.js';
import { createSync } from './sync.js';
import { createAnnouncer } from './views/announcer.js';
import { createAttach } from './views/attach.js';
import { createComposer } from './views/composer.js';
import { createHeader } from './views/header.js';
import { createLayout } from './views/layout.js';
import { createMembersView } from './views/members.js';
import { createMessagesView } from './views/messages.js';
import { createNotifyLevel } from './views/notify-level.js';
import { createRoomsView } from './views/rooms.js';
import { createSearch } from './search.js';
import { createStatusView } from './views/status.js';
import { createTokensPanel } from './views/tokens.js';
import { createWebhooksView } from './views/webhooks.js';

/**
 * @typedef {import('./state.js').User} User
 * @typedef {import('./state.js').Room} Room
 */

const OTHER_ROOMS_PAGE = 50; // other rooms drawn per page: never thousands at once

/**
 * Shows the chat for `me` and keeps it running.
 * @param {User} me the signed-in user
 * @param {(notice: string) => void} onSignedOut
 * @param {object} [opts]
 * @param {boolean} [opts.admin] a server admin: may delete any message, mute and ban
 */
export function startChat(me, onSignedOut, { admin = false } = {}) {
  const store = createStore(me);
  const saved = loadSaved(me);
  let signedOut = false;
  // The other rooms, a page at a time: the search they match, the cursor
  // of the next page, and which request is the latest (an answer to an
  // older search must not overwrite a newer one).
  const others = { query: '', next: /** @type {string | null} */ (null), request: 0 };

  const sync = createSync(store, {
    onConnect: () => refreshOtherRooms(),
    onUnauthorized: () => signOut('Your session has ended. Please sign in again.'),
    onRemoved: () => afterRemoval(),
  });
  createReadTracker(store, sync);
  const notifier = createNotifier(store, { onOpen: (name) => openRoom(name) });
  createNotifyLevel(store, { onChange: (room, level) => sync.setNotify(room, level) });
  const composer = createComposer(store, {
    onSend: send,
    onEdit: (msg, text) => sync.editMessage(msg, text),
    lastOwn: () => (store.current ? lastOwnMessage(store.current, me.id) : null),
    onInput: (hasText) => sync.typing.input(store.current?.name ?? null, hasText),
  });
  createAttach(store, {
    onUploaded: (room, msg) => store.merge(room, [msg], { live: true }),
    takeText: () => composer.takeText(),
  });
  const layout = createLayout(store, { onClose: () => composer.focus() });
  createStatusView(store);
  createHeader(store);
  createAnnouncer(store);
  createMessagesView(store, {
    onNearTop: () => withCurrent((room) => sync.loadOlder(room)),
    onJumpedToEnd: () => composer.focus(),
    onRetry: (p) => withCurrent((room) => { sync.outbox.retry(room, p); composer.focus(); }),
    onDiscard: (p) => withCurrent((room) => { sync.outbox.discard(room, p); composer.focus(); }),
    canDelete: (msg) => admin || msg.author.id === me.id,
    onDelete: (msg) => sync.deleteMessage(msg),
    onReply: (msg) => composer.startReply(msg),
    onEdit: (msg) => composer.startEdit(msg),
    onReact: (msg, emoji, on) => { sync.react(msg, emoji, on).catch(() => {}); },
    onJump: (msg) => withCurrent((room) => {
      if (msg.reply_to) sync.jumpTo(room, msg.reply_to).catch(() => {});
    }),
  });
  createMembersView(store, {
    admin,
    onMute: (room, user, minutes) => sync.mute(room, user, minutes),
    onBan: (user) => sync.ban(user),
    onMore: () => withCurrent((room) => sync.loadMoreMembers(room)),
    onMessage: async (user) => openRoom((await sync.direct([user])).name),
    onInvite: (room, user) => sync.invite(room, user),
  });
  createRoomsView(store, {
    onOpen: (name) => openRoom(name),
    onJoin: joinRoom,
    onLeave: leaveRoom,
    onSearch: searchOtherRooms,
    onMore: () => refreshOtherRooms(true),
    onCreate: async (name) => {
      if (!sync.connected) throw new Error('You are offline. Try again once connected.');
      await sync.create(name, 'private');
      openRoom(name);
    },
    notifier,
  });

  // Search (issue #11): a result opens in its room, scrolled to and
  // marked, with the messages around it.
  createSearch({
    onOpen: async (hit, view) => {
      const name = hit.message.room;
      if (store.room(name)) openRoom(name, { quiet: true });
      else await joinRoom(name);
      const room = store.room(name);
      if (room) await sync.jumpTo(room, hit.message.id, { onTooFar: (messages) => view.showContext(messages, hit) });
    },
  });

  store.subscribe((change) => {
    if (change.type === 'rooms' || change.type === 'open') save();
  });
  byId('logout').addEventListener('click', () => signOut(''));
  if (!store.me.guest) {
    createTokensPanel();
    createWebhooksView(store, { admin });
  }
  loadRooms();

  // The rooms are the server's, the same on every device; the list saved
  // on this device only stands in when the server cannot be asked.
  async function loadRooms() {
    const mine = await api.myRooms().catch(() => null);
    if (mine) {
      for (const info of mine) {
        const room = store.addRoom(info.name);
        store.setMembership(room, { kind: info.kind, members: info.members, notify: info.notify, topic: info.topic });
        store.setReadState(room, info);
      }
    } else {
      for (const name of saved.rooms) store.addRoom(name);
    }
    if (store.rooms.length === 0) store.addRoom('general');
    openRoom(store.room(saved.current) ? saved.current : store.rooms[0].name, { quiet: true });
    for (const room of store.rooms) sync.ensureJoined(room);
  }

  // Our membership of the open room ended elsewhere: show another.
  function afterRemoval() {
    if (store.rooms.length === 0) store.addRoom('general');
    if (!store.current) openRoom(store.rooms[0].name);
    const general = store.room('general');
    if (general) sync.ensureJoined(general);
  }

  /** @param {(room: Room) => void} task */
  function withCurrent(task) {
    const room = store.current;
    if (room) task(room);
  }

/** @param {string} text @param {number | null} replyTo */
  function send(text, replyTo) {
    withCurrent((room) => {
      sync.typing.stop();
      sync.outbox.send(room, text, replyTo);
    });
  }

  // ---- rooms -----------------------------------------------------------------

/** @param {string} name */
  function openRoom(name, { quiet = false } = {}) {
    if (!store.room(name)) return;
    if (store.current?.name !== name) sync.typing.stop();
    store.open(name);
    layout.closeDrawers();
    if (!quiet) composer.focus();
  }

  /** Joins (or, when joined already, opens) a room; rejects with what to show. @param {string} name */
  async function joinRoom(name) {
    if (store.room(name)) {
      openRoom(name);
      if (others.query) searchOtherRooms('');
      return;
    }
    if (!sync.connected) throw new Error('You are offline. Try again once connected.');
    await sync.joinNew(name);
    openRoom(name);
    others.query = '';
    refreshOtherRooms();
  }

  // general is never left empty-handed: leaving the last room brings it back.
  /** @param {string} name */
  function leaveRoom(name) {
    if (!store.room(name)) return;
    const wasOpen = store.current?.name === name;
    sync.leave(name);
    if (store.rooms.length === 0) store.addRoom('general');
    if (wasOpen) openRoom(store.rooms[0].name);
    const general = store.room('general');
    if (general) sync.ensureJoined(general);
    refreshOtherRooms();
  }

  async function refreshOtherRooms(more = false) {
    const request = ++others.request;
    try {
      const after = more ? others.next : null;
      const page = await api.rooms({ q: others.query, after, limit: OTHER_ROOMS_PAGE });
      if (request !== others.request) return;
      const fresh = page.rooms.filter((room) => !store.room(room.name));
      others.next = page.next;
      store.setOthers(more ? [...store.others.rooms, ...fresh] : fresh, others.next !== null);
    } catch {
      // only a convenience list; the join form still works
    }
  }

/** @param {string} query */
  function searchOtherRooms(query) {
    others.query = query;
    refreshOtherRooms();
  }

  // ---- session -----------------------------------------------------------------

/** @param {string} noticeText '' when the user chose to; else why they were signed out */
  async function signOut(noticeText) {
    if (signedOut) return;
    signedOut = true;
    sync.close();
    if (!noticeText) await api.logout().catch(() => {});
    onSignedOut(noticeText);
  }

  function save() {
    try {
      const rooms = store.rooms.map((room) => room.name);
      localStorage.setItem(storageKey(me), JSON.stringify({ rooms, current: store.current?.name ?? null }));
    } catch {
      // private mode: the rooms are simply not remembered
    }
  }
}

/** @param {User} me */
function storageKey(me) {
  return `banter:rooms:${me.id}`;
}

/**
 * The rooms this user had open last time on this device (default: general).
 * @param {User} me
 * @returns {{ rooms: string[], current: string }}
 */
function loadSaved(me) {
  try {
    const data = JSON.parse(localStorage.getItem(storageKey(me)) ?? 'null');
    const rooms = Array.isArray(data?.rooms) ? data.rooms.filter((/** @type {unknown} */ r) => typeof r === 'string' && r) : [];
    return rooms.length ? { rooms, current: data.current } : { rooms: ['general'], current: 'general' };
  } catch {
    return { rooms: ['general'], current: 'general' };
  }
}
