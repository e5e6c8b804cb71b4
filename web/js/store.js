// @ts-check
// The room store: the joined rooms, which one is open, the other rooms on
// the server and the connection's state. It is the only place that
// changes them, and it announces every change to its subscribers (the
// views) saying exactly what changed: a view redraws that and nothing
// else (one message, the member list, the typing line), so an edit or a
// reaction later touches one message's element, never the whole list.
//
// The sync module (sync.js) feeds it from the server; the controller
// (chat.js) from what the user does. Neither draws.

import * as state from './state.js';
import { clearTyping, trackTyping } from './typing.js';

/**
 * @typedef {import('./state.js').Room} Room
 * @typedef {import('./state.js').User} User
 * @typedef {import('./state.js').Message} Message
 * @typedef {import('./state.js').Pending} Pending
 * @typedef {import('./state.js').Place} Place
 * @typedef {import('./api.js').RoomInfo} OtherRoom
 */

/**
 * What changed. `room` is the room object it happened in; views that show
 * only the open room compare it with `store.current`.
 * @typedef {(
 *   | { type: 'rooms' }
 *   | { type: 'open', room: Room }
 *   | { type: 'details', room: Room }
 *   | { type: 'timeline', room: Room, added: Message[], place: Place, live: boolean }
 *   | { type: 'message', room: Room, id: number }
 *   | { type: 'focus', room: Room, id: number }
 *   | { type: 'removed', room: Room, id: number }
 *   | { type: 'notice', room: Room }
 *   | { type: 'history', room: Room }
 *   | { type: 'pending', room: Room }
 *   | { type: 'members', room: Room }
 *   | { type: 'typing', room: Room }
 *   | { type: 'muted', room: Room }
 *   | { type: 'divider', room: Room }
 *   | { type: 'notify', room: Room }
 *   | { type: 'others' }
 *   | { type: 'status', state: string }
 * )} Change
 */

/** @param {User} me the signed-in user */
export function createStore(me) {
  /** Joined rooms, in the order they were joined. @type {Map<string, Room>} */
  const rooms = new Map();
  /** @type {Set<(change: Change) => void>} */
  const listeners = new Set();
  /** @type {string | null} */
  let current = null;
  /** The other rooms on the server shown so far, and whether more exist. */
  let others = { rooms: /** @type {OtherRoom[]} */ ([]), hasMore: false };
  let status = 'connecting';
  /** Whether the page is on screen: messages in the open room of a hidden tab count as unread. */
  let visible = true;

  /** @param {Change} change */
  function emit(change) {
    for (const listener of listeners) listener(change);
  }

  /** Whether `room` is the open room (and still joined). @param {Room} room */
  const isOpen = (room) => room.name === current && rooms.get(room.name) === room;
  /** Whether the reader sees `room` now. @param {Room} room */
  const isSeen = (room) => visible && isOpen(room);
  /** @param {Message[]} messages */
  const fromOthers = (messages) => messages.filter((m) => m.author.id !== me.id);

  return {
    me,

    /**
     * Calls `listener` with every change from now on.
     * @param {(change: Change) => void} listener
     * @returns {() => void} unsubscribes
     */
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    /** @returns {Room[]} the joined rooms, in joining order */
    get rooms() {
      return [...rooms.values()];
    },
    /** @param {string} name */
    room(name) {
      return rooms.get(name);
    },
    /** The open room (null before the first is opened). */
    get current() {
      return current === null ? null : rooms.get(current) ?? null;
    },
    isOpen,
    get others() {
      return others;
    },
    get status() {
      return status;
    },
    /** Unread messages over every joined room. */
    get unreadTotal() {
      let total = 0;
      for (const room of rooms.values()) total += room.unread;
      return total;
    },
    /** Whether the reader sees `room` now (open, in a tab on screen). */
    isSeen,

    // ---- rooms --------------------------------------------------------------

    /** @param {string} name */
    addRoom(name) {
      const room = state.createRoom(name);
      rooms.set(name, room);
      emit({ type: 'rooms' });
      // A room joined is none of the others any more (their list may have
      // come before the rooms this user is in).
      if (others.rooms.some((other) => other.name === name)) {
        others = { rooms: others.rooms.filter((other) => other.name !== name), hasMore: others.hasMore };
        emit({ type: 'others' });
      }
      return room;
    },

    /** @param {string} name */
    removeRoom(name) {
      const room = rooms.get(name);
      if (!room) return;
      rooms.delete(name);
      for (const id of [...room.typing.keys()]) clearTyping(room, id, () => {});
      emit({ type: 'rooms' });
    },

    /** Puts a joined room on screen; its unread count is read. The divider marks where the unread began. @param {string} name */
    open(name) {
      const room = rooms.get(name);
      if (!room) return;
      current = name;
      room.dividerAfter = room.unread > 0 ? room.lastRead : null;
      if (visible) {
        room.unread = 0;
        room.mentions = 0;
      }
      emit({ type: 'open', room });
      emit({ type: 'rooms' });
    },

    /** @param {Room} room @param {{ topic: string }} details */
    setDetails(room, { topic }) {
      room.topic = topic;
      emit({ type: 'details', room });
    },

    /** @param {OtherRoom[]} list @param {boolean} hasMore */
    setOthers(list, hasMore) {
      others = { rooms: list, hasMore };
      emit({ type: 'others' });
    },

    /** @param {string} next connecting / connected / reconnecting / offline */
    setStatus(next) {
      status = next;
      emit({ type: 'status', state: next });
    },

    // ---- the timeline ---------------------------------------------------------

    /**
     * Adds messages to a room. `counted`: new messages from others raise the
     * unread count of a room not on screen. `live`: they just happened (a
     * `message` event or our own send), as opposed to history. Returns how
     * many were new.
     * @param {Room} room
     * @param {Message[]} messages
     * @param {{ counted?: boolean, live?: boolean }} [opts]
     */
    merge(room, messages, { counted = false, live = false } = {}) {
      const { added, place } = state.addMessages(room, messages);
      if (added.length === 0) return 0;
      const unread = fromOthers(added).filter((m) => m.id > room.lastRead);
      if (!isSeen(room) && counted && unread.length > 0) {
        room.unread += unread.length;
        room.mentions += unread.filter((m) => state.mentionsMe(m, me)).length;
        emit({ type: 'rooms' });
      }
      emit({ type: 'timeline', room, added, place, live });
      return added.length;
    },

    /**
     * A newer copy of a message held already (later: an edit or a
     * reaction): announced as a change of that one message.
     * @param {Room} room
     * @param {Message} msg
     */
    updateMessage(room, msg) {
      if (!state.replaceMessage(room, msg)) return false;
      emit({ type: 'message', room, id: msg.id });
      return true;
    },

    /** Asks the views to bring a held message into sight (a reply's parent). @param {Room} room @param {number} id */
    focusMessage(room, id) {
      if (!state.findMessage(room, id)) return false;
      emit({ type: 'focus', room, id });
      return true;
    },

    /** A deleted message leaves the room, and the unread count if it was in it. @param {Room} room @param {number} id */
    removeMessage(room, id) {
      const removed = state.removeMessage(room, id, me.id);
      if (!removed) return false;
      if (removed.unread && !isOpen(room)) {
        room.unread -= 1;
        emit({ type: 'rooms' });
      }
      emit({ type: 'removed', room, id });
      return true;
    },

    /** @param {Room} room @param {string} text */
    notice(room, text) {
      state.addNotice(room, text);
      emit({ type: 'notice', room });
    },

    /** @param {Room} room @param {{ loadingOlder?: boolean, reachedStart?: boolean }} patch */
    setHistory(room, patch) {
      Object.assign(room, patch);
      emit({ type: 'history', room });
    },

    // ---- sending ---------------------------------------------------------------

    /** @param {Room} room @param {Pending} p */
    addPending(room, p) {
      room.pending.push(p);
      emit({ type: 'pending', room });
    },

    /** @param {Room} room @param {Pending} p @param {Partial<Pending>} patch */
    updatePending(room, p, patch) {
      Object.assign(p, patch);
      emit({ type: 'pending', room });
    },

    /** The server has it (or it was discarded). @param {Room} room @param {string} clientId */
    settlePending(room, clientId) {
      if (!state.settlePending(room, clientId)) return false;
      emit({ type: 'pending', room });
      return true;
    },

    /** @param {Room} room @param {number} until ms since the epoch; 0 lifts it */
    setMuted(room, until) {
      room.mutedUntil = until;
      emit({ type: 'muted', room });
    },

    // ---- membership and read state (issue #10) -----------------------------------

    /**
     * What the server says of the room (`GET /api/me/rooms`, `invited`, a
     * join's room).
     * @param {Room} room
     * @param {{ kind?: state.RoomKind, members?: User[], notify?: state.NotifyLevel, topic?: string }} info
     */
    setMembership(room, { kind, members, notify, topic }) {
      if (kind) room.kind = kind;
      if (members) room.people = members;
      if (notify) room.notify = notify;
      if (typeof topic === 'string') room.topic = topic;
      emit({ type: 'rooms' });
      emit({ type: 'details', room });
      emit({ type: 'notify', room });
    },

    /**
     * The server's read state (a join, `GET /api/me/rooms`). The open room
     * gets its divider where the unread begins; seen, it counts as read.
     * @param {Room} room
     * @param {{ last_read: number, unread: number, mentions: number }} read
     */
    setReadState(room, { last_read: lastRead, unread, mentions }) {
      room.lastRead = Math.max(room.lastRead, lastRead);
      if (isOpen(room) && unread > 0 && room.dividerAfter === null) {
        room.dividerAfter = lastRead;
        emit({ type: 'divider', room });
      }
      room.unread = isSeen(room) ? 0 : unread;
      room.mentions = isSeen(room) ? 0 : mentions;
      emit({ type: 'rooms' });
    },

    /** Our read marker moved (here or on another device). @param {Room} room @param {number} id */
    markedRead(room, id) {
      if (id <= room.lastRead) return;
      room.lastRead = id;
      const counts = state.countUnread(room, me);
      if (counts) {
        room.unread = counts.unread;
        room.mentions = counts.mentions;
      }
      emit({ type: 'rooms' });
    },

    /** @param {Room} room @param {state.NotifyLevel} level */
    setNotify(room, level) {
      room.notify = level;
      emit({ type: 'notify', room });
    },

    /** The tab was shown or hidden. @param {boolean} onScreen */
    setVisible(onScreen) {
      visible = onScreen;
      const room = this.current;
      if (onScreen && room && room.unread > 0) {
        room.dividerAfter = room.lastRead;
        room.unread = 0;
        room.mentions = 0;
        emit({ type: 'divider', room });
        emit({ type: 'rooms' });
      }
    },

    // ---- members and typing ---------------------------------------------------

    /** A join answer: the first page of members and the exact count. @param {Room} room @param {User[]} members @param {number} count */
    resetMembers(room, members, count) {
      state.resetMembers(room, members, count);
      // The first page of a big room may end before our own name: we are here all the same.
      if (!room.members.has(me.id)) room.members.set(me.id, me);
      for (const id of [...room.typing.keys()]) clearTyping(room, id, () => {});
      emit({ type: 'members', room });
      emit({ type: 'typing', room });
    },

    /** @param {Room} room @param {User[]} members @param {number} count */
    addMemberPage(room, members, count) {
      state.addMemberPage(room, members, count);
      emit({ type: 'members', room });
    },

    /** @param {Room} room @param {{ loading: boolean, error?: string }} patch */
    setMembersLoading(room, { loading, error = room.membersError }) {
      room.loadingMembers = loading;
      room.membersError = error;
      emit({ type: 'members', room });
    },

    /** Returns false when the user was known already. @param {Room} room @param {User} user */
    memberJoined(room, user) {
      if (room.members.has(user.id)) return false;
      room.members.set(user.id, user);
      room.memberCount += 1;
      emit({ type: 'members', room });
      return true;
    },

    /** Returns false when the user was not known. @param {Room} room @param {User} user */
    memberLeft(room, user) {
      if (!room.members.delete(user.id)) return false;
      room.memberCount = Math.max(room.memberCount - 1, 0);
      this.typing(room, user, false);
      emit({ type: 'members', room });
      return true;
    },

    /** @param {Room} room @param {Parameters<typeof state.applyPresence>[1]} event */
    presence(room, event) {
      for (const user of state.applyPresence(room, event)) this.typing(room, user, false);
      emit({ type: 'members', room });
    },

    /** Someone's typing notice (expires by itself). @param {Room} room @param {User} user @param {boolean} active */
    typing(room, user, active) {
      trackTyping(room, user, active, () => emit({ type: 'typing', room }));
    },
  };
}

/** @typedef {ReturnType<typeof createStore>} Store */
