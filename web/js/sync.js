// @ts-check
// Keeps the store in step with the server: the connection, joining every
// room on each (re)connection, catching up on what was missed, and turning
// server events into store changes. The requests the page makes (history,
// members, moderation) go through here too; sending lives in outbox.js.
//
// After a reconnect the server replays nothing: each room is joined again
// and asked `history {after: <newest id held>}` page by page, and message
// ids make whatever arrives twice (live and in a page) count once.

import { formatTime } from './format.js';
import { createOutbox } from './outbox.js';
import { createConnection } from './socket/connection.js';
import { applyEdit, applyReaction, findMessage, newestId, oldestId } from './state.js';
import { createTypingNotifier } from './typing.js';

const JOIN_PAGE = 50; // a join answers with the latest 50 messages
const OLDER_PAGE = 50;
const CATCH_UP_PAGE = 100; // the largest page the server allows
const JUMP_PAGES = 20; // how far back a jump bridges to the timeline: 2,000 messages
const AROUND_PAGE = 50; // a jump's message with the messages around it

/**
 * @typedef {import('./store.js').Store} Store
 * @typedef {import('./state.js').Room} Room
 * @typedef {import('./state.js').User} User
 * @typedef {import('./state.js').Message} Message
 */

/**
 * How far a room's timeline is known to be complete; sync's own
 * bookkeeping, never shown.
 * @typedef {{ loaded: boolean, synced: boolean, syncedId: number }} Progress
 */

/**
 * @param {Store} store
 * @param {object} hooks
 * @param {() => void} hooks.onConnect every (re)connection, after the rooms are asked to rejoin
 * @param {() => void} hooks.onUnauthorized the session is gone
 * @param {(name: string) => void} [hooks.onRemoved] our membership of a room ended on another device
 * @param {(room: Room, by: User) => void} [hooks.onInvited] someone made us a member of a room
 */
export function createSync(store, { onConnect, onUnauthorized, onRemoved = () => {}, onInvited = () => {} }) {
  const { me } = store;
  /** @type {WeakMap<Room, Progress>} */
  const progress = new WeakMap();
  const conn = createConnection({
    onStatus,
    onConnect: connected,
    onUnauthorized,
    events: {
      message: onMessage, joined: onJoined, left: onLeft, presence: onPresence,
      typing: onTyping, deleted: onDeleted, muted: onMuted,
      edited: onEdited, reacted: onReacted,
      invited: onInvitedEvent, read: onRead, room_left: onRoomLeft,
    },
  });
  const outbox = createOutbox(store, conn);
  const typingNotifier = createTypingNotifier((event, payload) => conn.notify(event, payload));

  /** @param {Room} room */
  function progressOf(room) {
    let p = progress.get(room);
    if (!p) {
      p = { loaded: false, synced: false, syncedId: 0 };
      progress.set(room, p);
    }
    return p;
  }

  /** @param {string} state */
  function onStatus(state) {
    store.setStatus(state);
    // Nothing arrives while disconnected: a later join must catch up.
    if (state !== 'connected') for (const room of store.rooms) progressOf(room).synced = false;
  }

  // Every (re)connection: rejoin every room first, then send what waited.
  // Events on one connection are handled in order, so the sends come after
  // the joins without waiting for their answers.
  function connected() {
    for (const room of store.rooms) join(room).catch(() => {});
    outbox.flush();
    onConnect();
  }

  /**
   * Joins `room` on this connection and brings its timeline up to date.
   * @param {Room} room
   */
  async function join(room) {
    const p = progressOf(room);
    // Where to catch up from is fixed before anything new can arrive.
    const cursor = p.loaded ? p.syncedId : 0;
    const ack = await conn.request('join', { room: room.name });
    store.setDetails(room, { topic: ack.room.topic });
    store.setMembership(room, { kind: ack.room.kind, members: ack.room.members });
    store.resetMembers(room, ack.members, ack.member_count);
    if (cursor === 0) {
      store.merge(room, ack.messages, { counted: p.loaded });
      store.setHistory(room, { reachedStart: ack.messages.length < JOIN_PAGE });
      p.loaded = true;
    } else {
      await catchUp(room, cursor);
    }
    // The server's counts include whatever the catch-up just merged.
    store.setReadState(room, ack);
    p.syncedId = newestId(room);
    p.synced = true;
  }

  // Asks for everything after `cursor`, page by page, until a short page
  // says there is no more. Ids de-duplicate against live messages.
  /** @param {Room} room @param {number} cursor */
  async function catchUp(room, cursor) {
    for (;;) {
      const { messages } = await conn.request('history', { room: room.name, after: cursor, limit: CATCH_UP_PAGE });
      store.merge(room, messages, { counted: true });
      if (messages.length < CATCH_UP_PAGE) return;
      cursor = messages[messages.length - 1].id;
    }
  }

  // ---- server events ---------------------------------------------------------

  /** @param {Message} msg */
  function onMessage(msg) {
    const room = store.room(msg.room);
    if (!room) return;
    if (msg.author.id === me.id && msg.client_id) store.settlePending(room, msg.client_id);
    store.typing(room, msg.author, false);
    const added = store.merge(room, [msg], { counted: true, live: true });
    const p = progressOf(room);
    if (p.synced && added) p.syncedId = Math.max(p.syncedId, msg.id);
  }

  /** @param {{ room: string, user: User }} event */
  function onJoined({ room: name, user }) {
    const room = store.room(name);
    if (room && store.memberJoined(room, user)) store.notice(room, `${user.name} joined`);
  }

  /** @param {{ room: string, user: User }} event */
  function onLeft({ room: name, user }) {
    const room = store.room(name);
    if (room && store.memberLeft(room, user)) store.notice(room, `${user.name} left`);
  }

  // A room of more than 20: the changes of the last second, at most a
  // page of each, and the exact count. No "joined" lines here: in a room
  // that big they would drown the conversation.
  /** @param {{ room: string, joined?: User[], left?: User[], member_count?: number }} event */
  function onPresence(event) {
    const room = store.room(event.room);
    if (room) store.presence(room, event);
  }

  /** @param {{ room: string, user: User, active: boolean }} event */
  function onTyping({ room: name, user, active }) {
    const room = store.room(name);
    if (room && user.id !== me.id) store.typing(room, user, active);
  }

  /** @param {{ room: string, id: number }} event */
  function onDeleted({ room: name, id }) {
    const room = store.room(name);
    if (room) store.removeMessage(room, id);
  }

  // An edit or a reaction changes one message we hold: the store swaps
  // in the new copy and the list redraws that one node. One we do not
  // hold (older than what is loaded) shows right when its page comes.
  /** @param {import('./state.js').EditedEvent} event */
  function onEdited(event) {
    const room = store.room(event.room);
    const msg = room && findMessage(room, event.id);
    if (room && msg) store.updateMessage(room, applyEdit(msg, event));
  }

  /** @param {import('./state.js').ReactedEvent} event */
  function onReacted(event) {
    const room = store.room(event.room);
    const msg = room && findMessage(room, event.id);
    if (room && msg) store.updateMessage(room, applyReaction(msg, event));
  }

  /** @param {{ room: string, user: User, until: number }} event */
  function onMuted({ room: name, user, until }) {
    const room = store.room(name);
    if (!room) return;
    const active = until > Date.now();
    const who = user.id === me.id ? 'You were' : `${user.name} was`;
    store.notice(room, active ? `${who} muted until ${formatTime(until)}` : `${who} unmuted`);
    if (user.id === me.id) store.setMuted(room, active ? until : 0);
  }

  // ---- membership and read state (issue #10) ------------------------------------

  /** @param {{ room: { name: string, kind: import('./state.js').RoomKind, topic: string, members?: User[] }, by: User }} event */
  function onInvitedEvent({ room: info, by }) {
    let room = store.room(info.name);
    if (room) return;
    room = store.addRoom(info.name);
    store.setMembership(room, { kind: info.kind, members: info.members, topic: info.topic,
      notify: info.kind === 'direct' ? 'all' : 'mentions' });
    if (conn.connected) join(room).catch(() => {});
    onInvited(room, by);
  }

  /** @param {{ room: string, id: number }} event */
  function onRead({ room: name, id }) {
    const room = store.room(name);
    if (room) store.markedRead(room, id);
  }

  /** @param {{ room: string }} event */
  function onRoomLeft({ room: name }) {
    if (!store.room(name)) return;
    store.removeRoom(name);
    onRemoved(name);
  }

  // ---- requests ----------------------------------------------------------------

  /**
   * Joins a room not joined yet. It is in the store before the join is
   * asked, so its first live messages are kept; a refused join takes it
   * out again and rejects with the server's error.
   * @param {string} name
   */
  async function joinNew(name) {
    const room = store.addRoom(name);
    try {
      await join(room);
    } catch (error) {
      store.removeRoom(name);
      throw error;
    }
    return room;
  }

  /** Leaves a room; the server is told when we are connected (else the next connection simply does not rejoin it). @param {string} name */
  function leave(name) {
    store.removeRoom(name);
    if (conn.connected) conn.request('leave', { room: name }).catch(() => {});
  }

  /** Rejoins a room that is in the store but not synced (general, brought back). @param {Room} room */
  function ensureJoined(room) {
    if (conn.connected && !progressOf(room).synced) join(room).catch(() => {});
  }

  /**
   * One page of older history for the open room; newer comes live or
   * through catchUp.
   * @param {Room} room
   */
  async function loadOlder(room) {
    if (!progressOf(room).loaded || room.reachedStart || room.loadingOlder || !conn.connected) return;
    const before = oldestId(room);
    if (before === 0) return;
    store.setHistory(room, { loadingOlder: true });
    let reachedStart = false;
    try {
      const { messages } = await conn.request('history', { room: room.name, before, limit: OLDER_PAGE });
      store.merge(room, messages);
      reachedStart = messages.length < OLDER_PAGE;
    } catch {
      // the next scroll to the top tries again
    }
    store.setHistory(room, { loadingOlder: false, reachedStart });
  }

  /**
   * "Show more" in the members panel: the next page, in the server's order.
   * @param {Room} room
   */
  async function loadMoreMembers(room) {
    if (room.loadingMembers) return;
    const epoch = room.membersEpoch;
    store.setMembersLoading(room, { loading: true, error: '' });
    let error = '';
    try {
      const payload = room.membersAfter ? { room: room.name, after: room.membersAfter } : { room: room.name };
      const ack = await conn.request('members', payload);
      // a rejoin meanwhile started the list over
      if (room.membersEpoch === epoch) store.addMemberPage(room, ack.members, ack.member_count);
    } catch (e) {
      if (room.membersEpoch === epoch) {
        error = e.code === 'disconnected' ? 'You are offline. Try again once connected.' : e.message;
      }
    }
    store.setMembersLoading(room, { loading: false, error });
  }

  /**
   * Brings a message on screen (a reply's parent, a search result), with
   * the messages around it (issue #11): when it is older than what is
   * held, `history {around}` fetches it in context, and pages after that
   * window (`after`) bridge it to what is held, at most JUMP_PAGES of
   * them, so the timeline stays whole. Resolves whether it is shown; when
   * it is too far back to bridge, `onTooFar` gets the window instead.
   * @param {Room} room
   * @param {number} id
   * @param {{ onTooFar?: (messages: Message[]) => void }} [opts]
   */
  async function jumpTo(room, id, { onTooFar } = {}) {
    const oldest = oldestId(room);
    if (findMessage(room, id) || !conn.connected || room.reachedStart || oldest === 0 || id > oldest) {
      return store.focusMessage(room, id);
    }
    const { messages } = await conn.request('history', { room: room.name, around: id, limit: AROUND_PAGE });
    const bridge = [...messages];
    let cursor = newestOf(messages);
    let reached = cursor >= oldest;
    for (let pages = 0; !reached && pages < JUMP_PAGES; pages++) {
      const page = await conn.request('history', { room: room.name, after: cursor, limit: CATCH_UP_PAGE });
      bridge.push(...page.messages);
      cursor = newestOf(page.messages) || cursor;
      reached = cursor >= oldest || page.messages.length < CATCH_UP_PAGE;
    }
    if (!reached) {
      onTooFar?.(messages);
      return false;
    }
    store.merge(room, bridge.filter((m) => m.id < oldest));
    return store.focusMessage(room, id);
  }

  return {
    get connected() {
      return conn.connected;
    },
    jumpTo,

    /** Replaces one of our messages' text; the `edited` event tells everyone else. @param {Message} msg @param {string} text */
    async editMessage(msg, text) {
      const ack = await conn.request('edit', { id: msg.id, text });
      const room = store.room(msg.room);
      if (room) store.updateMessage(room, ack.message);
    },

    /**
     * Puts our reaction on or takes it off. The `reacted` event (ours too)
     * changes the count, so it is counted once.
     * @param {Message} msg @param {string} emoji @param {boolean} on
     */
    async react(msg, emoji, on) {
      await conn.request('react', { id: msg.id, emoji, on });
    },
    joinNew,
    leave,
    ensureJoined,
    loadOlder,
    loadMoreMembers,
    outbox,
    typing: typingNotifier,

    /**
     * Deletes a message (ours, or any as an admin). The `deleted` event
     * removes it too; whichever comes first wins, the other finds nothing.
     * @param {Message} msg
     */
    async deleteMessage(msg) {
      await conn.request('delete', { id: msg.id });
      const room = store.room(msg.room);
      if (room) store.removeMessage(room, msg.id);
    },

    /** The `muted` event that follows puts the notice in the room. @param {string} room @param {User} user @param {number} minutes */
    async mute(room, user, minutes) {
      await conn.request('mute', { room, user_id: user.id, minutes });
    },

    /** @param {User} user */
    async ban(user) {
      await conn.request('ban', { user_id: user.id });
    },

    close() {
      typingNotifier.stop();
      conn.close();
    },

    // ---- membership and read state (issue #10)

    /** Creates a room (we are its first member) and joins it. @param {string} name @param {'private' | 'public'} kind */
    async create(name, kind) {
      await conn.request('create', { room: name, kind });
      return joinNew(name);
    },

    /** @param {string} room @param {User} user */
    async invite(room, user) {
      await conn.request('invite', { room, user_id: user.id });
    },

    /** The direct room with these people, joined. @param {User[]} people */
    async direct(people) {
      const ack = await conn.request('direct', { user_ids: people.map((u) => u.id) });
      const held = store.room(ack.room.name);
      if (held) return held;
      const room = await joinNew(ack.room.name);
      store.setMembership(room, { kind: 'direct', members: ack.room.members, notify: 'all' });
      return room;
    },

    /** Moves our read marker to `id`; the store follows once the server has it. @param {Room} room @param {number} id */
    async markRead(room, id) {
      await conn.request('read', { room: room.name, id });
      store.markedRead(room, id);
    },

    /** @param {Room} room @param {import('./state.js').NotifyLevel} level */
    async setNotify(room, level) {
      await conn.request('notify', { room: room.name, level });
      store.setNotify(room, level);
    },
  };
}

/** The newest id of a page, oldest first (0 if empty). @param {Message[]} messages */
function newestOf(messages) {
  return messages.length ? messages[messages.length - 1].id : 0;
}

/** @typedef {ReturnType<typeof createSync>} Sync */
