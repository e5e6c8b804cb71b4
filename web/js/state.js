// @ts-check
// What the client knows about each joined room. Plain data plus the few
// functions that keep its invariants: messages sorted by id, each id once.
// Only the store (store.js) calls the functions that change a room; it
// announces each change to the views.

/**
 * The shapes of docs/protocol.md, as the page uses them.
 * @typedef {{ id: number, name: string, guest?: boolean, bot?: boolean }} User
 * @typedef {{ emoji: string, count: number, user_ids: number[] }} Reaction
 * A file on a message (issue #11): width and height only for an image shown inline.
 * @typedef {{ id: string, name: string, size: number, type: string, width?: number, height?: number }} Attachment
 * @typedef {{ id: number, room: string, author: User, text: string, ts: number, client_id?: string,
 *   edited_at?: number | null, reply_to?: number | null, mentions?: number[], mentions_room?: boolean,
 *   reactions?: Reaction[], attachments?: Attachment[] }} Message
 * @typedef {{ room: string, id: number, text: string, edited_at: number, mentions: number[], mentions_room: boolean }} EditedEvent
 * @typedef {{ room: string, id: number, emoji: string, user: User, on: boolean }} ReactedEvent
 * @typedef {'public' | 'private' | 'direct'} RoomKind
 * @typedef {'all' | 'mentions' | 'none'} NotifyLevel
 * A line of the timeline: a message, or a presence notice ("bob joined"),
 * which has a key of its own since it has no id.
 * @typedef {{ kind: 'msg', msg: Message } | { kind: 'notice', key: number, text: string, ts: number }} Item
 * A message we sent that the server has not confirmed yet.
 * @typedef {{ clientId: string, text: string, state: 'queued'|'sending'|'failed', error: string, muted?: boolean, replyTo?: number | null }} Pending
 * Where merged messages went: all after what was held, all before it, or
 * some in between (a catch-up racing live messages).
 * @typedef {'end'|'start'|'between'} Place
 */

/** A joined room's client-side state. @param {string} name */
export function createRoom(name) {
  return {
    name,
    topic: '',
    /** The timeline: messages in id order, with notice lines in between. @type {Item[]} */
    items: [],
    /** Every message id ever held, deleted ones too. @type {Set<number>} */
    ids: new Set(),
    /** The online members we know of, by user id: in a big room only the pages fetched so far. @type {Map<number, User>} */
    members: new Map(),
    /** How many members are online, exactly (may exceed members.size). */
    memberCount: 0,
    /** The name the next page of members starts after ('' = from the first name). */
    membersAfter: '',
    /** Bumped whenever members is replaced, so a page asked for before is dropped. */
    membersEpoch: 0,
    loadingMembers: false,
    membersError: '',
    /** Who is typing: user id → {user, timer}. @type {Map<number, {user: User, timer: ReturnType<typeof setTimeout>}>} */
    typing: new Map(),
    /** Messages we sent that the server has not confirmed yet. @type {Pending[]} */
    pending: [],
    unread: 0,
    /** No older history exists before the first message we hold. */
    reachedStart: false,
    loadingOlder: false,
    /** Until when we are muted here (ms since the epoch; 0 or past: not muted). */
    mutedUntil: 0,
    // ---- membership and read state (issue #10)
    /** @type {RoomKind} */
    kind: 'public',
    /** A direct room's people (the server's `members`); empty otherwise. @type {User[]} */
    people: /** @type {User[]} */ ([]),
    /** The id of the last message we read (the server's marker). */
    lastRead: 0,
    /** Unread messages that mention us or the room. */
    mentions: 0,
    /** @type {NotifyLevel} */
    notify: 'mentions',
    /** Where the "new messages" divider goes: before the first message of others after this id (null: none). */
    dividerAfter: /** @type {number | null} */ (null),
  };
}

/**
 * Whether a message mentions `me` or the room. The server resolves
 * mentions (`mentions`, `mentions_room`); a server that does not yet (no
 * `mentions` field) is read from the text.
 * @param {Message} msg
 * @param {number | User} me
 */
export function mentionsMe(msg, me) {
  const id = typeof me === 'number' ? me : me.id;
  if (Array.isArray(msg.mentions)) return Boolean(msg.mentions_room) || msg.mentions.includes(id);
  if (typeof me === 'number') return false;
  const words = msg.text.toLowerCase().split(/[^a-z0-9_.@-]+/);
  return words.includes('@room') || words.includes(`@${me.name.toLowerCase()}`);
}

/**
 * The name a room is shown by: a direct room by its other people's names.
 * @param {{ name: string, kind: RoomKind, people: User[] }} room
 * @param {number} meId
 */
export function roomLabel(room, meId) {
  if (room.kind !== 'direct') return room.name;
  const others = room.people.filter((u) => u.id !== meId).map((u) => u.name);
  return others.length ? others.join(', ') : room.name;
}

/**
 * Unread and mention counts from the messages held after `lastRead` (from
 * others); null when the timeline may not hold all of them.
 * @param {Room} room
 * @param {User} me
 */
export function countUnread(room, me) {
  if (room.lastRead < oldestId(room) && !room.reachedStart) return null;
  let unread = 0;
  let mentions = 0;
  for (const item of room.items) {
    if (item.kind !== 'msg' || item.msg.id <= room.lastRead || item.msg.author.id === me.id) continue;
    unread += 1;
    if (mentionsMe(item.msg, me)) mentions += 1;
  }
  return { unread, mentions };
}

/** @typedef {ReturnType<typeof createRoom>} Room */

/** @param {Room} room */
export function newestId(room) {
  for (let i = room.items.length - 1; i >= 0; i--) {
    const item = room.items[i];
    if (item.kind === 'msg') return item.msg.id;
  }
  return 0;
}

/** @param {Room} room */
export function oldestId(room) {
  for (const item of room.items) if (item.kind === 'msg') return item.msg.id;
  return 0;
}

/**
 * Merges messages (any order, possibly already known) into the timeline.
 * Returns the ones that were new (in id order) and where they went.
 * @param {Room} room
 * @param {Message[]} messages
 * @returns {{ added: Message[], place: Place }}
 */
export function addMessages(room, messages) {
  const oldest = oldestId(room);
  const newest = newestId(room);
  const added = [];
  for (const msg of [...messages].sort((a, b) => a.id - b.id)) {
    if (room.ids.has(msg.id)) continue;
    room.ids.add(msg.id);
    added.push(msg);
    if (msg.id > newestId(room)) room.items.push({ kind: 'msg', msg });
    else insertById(room, msg);
  }
  // `added` is in id order: its first and last say where all of it went.
  let place = /** @type {Place} */ ('between');
  if (added.length === 0 || added[0].id > newest) place = 'end';
  else if (added[added.length - 1].id < oldest) place = 'start';
  return { added, place };
}

// Inserts before the first message with a larger id: a message that arrived
// late (catch-up after a reconnect) lands where it belongs.
/** @param {Room} room @param {Message} msg */
function insertById(room, msg) {
  const index = room.items.findIndex((item) => item.kind === 'msg' && item.msg.id > msg.id);
  room.items.splice(index === -1 ? room.items.length : index, 0, { kind: 'msg', msg });
}

/**
 * Puts a newer copy of a held message in its place (later: an edit, a
 * reaction). Returns false when the message is not held.
 * @param {Room} room
 * @param {Message} msg
 */
export function replaceMessage(room, msg) {
  const index = room.items.findIndex((item) => item.kind === 'msg' && item.msg.id === msg.id);
  if (index === -1) return false;
  room.items[index] = { kind: 'msg', msg };
  return true;
}

/** The message with this id, if held. @param {Room} room @param {number} id */
export function findMessage(room, id) {
  const item = room.items.find((i) => i.kind === 'msg' && i.msg.id === id);
  return item?.kind === 'msg' ? item.msg : null;
}

/** The newest message `meId` wrote that is held (what the up arrow edits). @param {Room} room @param {number} meId */
export function lastOwnMessage(room, meId) {
  for (let i = room.items.length - 1; i >= 0; i--) {
    const item = room.items[i];
    if (item.kind === 'msg' && item.msg.author.id === meId) return item.msg;
  }
  return null;
}

/** A message after an `edited` event: a new copy. @param {Message} msg @param {EditedEvent} e @returns {Message} */
export function applyEdit(msg, e) {
  return { ...msg, text: e.text, edited_at: e.edited_at, mentions: e.mentions, mentions_room: e.mentions_room };
}

/**
 * A message after a `reacted` event: a new copy whose reaction for the
 * emoji counts the user in (or out). Emoji keep the order they were first
 * used; one that nobody has any more goes.
 * @param {Message} msg
 * @param {ReactedEvent} e
 * @returns {Message}
 */
export function applyReaction(msg, { emoji, user, on }) {
  const reactions = (msg.reactions ?? []).map((r) => ({ ...r, user_ids: [...r.user_ids] }));
  let reaction = reactions.find((r) => r.emoji === emoji);
  if (on) {
    if (!reaction) {
      reaction = { emoji, count: 0, user_ids: [] };
      reactions.push(reaction);
    }
    if (!reaction.user_ids.includes(user.id)) {
      reaction.user_ids.push(user.id);
      reaction.count += 1;
    }
  } else if (reaction) {
    const at = reaction.user_ids.indexOf(user.id);
    if (at !== -1) reaction.user_ids.splice(at, 1);
    // A user past the first 100 listed is not in user_ids but counted.
    reaction.count = Math.max(reaction.count - 1, reaction.user_ids.length);
  }
  return { ...msg, reactions: reactions.filter((r) => r.count > 0) };
}

/**
 * Takes a deleted message out of the timeline. Its id stays in `ids`, so a
 * history page fetched before the deletion cannot bring it back. Returns
 * the removed message and whether it was unread (null when not held).
 * @param {Room} room
 * @param {number} id
 * @param {number} meId
 */
export function removeMessage(room, id, meId) {
  const index = room.items.findIndex((item) => item.kind === 'msg' && item.msg.id === id);
  if (index === -1) return null;
  const item = room.items[index];
  if (item.kind !== 'msg') return null;
  const { msg } = item;
  // The unread ones are the newest `unread` messages from others.
  const othersAfter = room.items.slice(index + 1).filter((i) => i.kind === 'msg' && i.msg.author.id !== meId).length;
  const unread = msg.author.id !== meId && othersAfter < room.unread;
  room.items.splice(index, 1);
  return { msg, unread };
}

/** The largest page of members the server sends (join ack, `members`). */
export const MEMBERS_PAGE = 100;

/**
 * The server's member order: name with ASCII case ignored (names are
 * ASCII), then user id.
 * @param {User} a
 * @param {User} b
 */
export function compareMembers(a, b) {
  const x = a.name.toLowerCase();
  const y = b.name.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a.id - b.id;
}

/**
 * Starts over from a join ack's first page and exact count.
 * @param {Room} room
 * @param {User[]} members
 * @param {number} count
 */
export function resetMembers(room, members, count) {
  room.members = new Map(members.map((user) => [user.id, user]));
  room.memberCount = count;
  room.membersAfter = pageCursor(members);
  room.membersEpoch += 1;
  room.membersError = '';
}

/**
 * Adds a page from `members {after}`. A short page means the end of the
 * list: the next page starts from the top again, to find whoever we missed
 * (presence lists are capped, so a few arrivals may never have been listed).
 * @param {Room} room
 * @param {User[]} members
 * @param {number} count
 */
export function addMemberPage(room, members, count) {
  for (const user of members) room.members.set(user.id, user);
  room.memberCount = count;
  room.membersAfter = pageCursor(members);
}

// Paging follows the server's pages, not the names we happen to know: one
// who arrived live may sort far past the pages fetched so far.
/** @param {User[]} members */
function pageCursor(members) {
  return members.length < MEMBERS_PAGE ? '' : members[members.length - 1].name;
}

/**
 * Applies a `presence` event; returns whoever it says left and we knew of
 * (their typing must stop).
 * @param {Room} room
 * @param {{ joined?: User[], left?: User[], member_count?: number }} event
 */
export function applyPresence(room, { joined = [], left = [], member_count: count }) {
  const gone = left.filter((user) => room.members.delete(user.id));
  for (const user of joined) room.members.set(user.id, user);
  if (typeof count === 'number' && Number.isInteger(count)) room.memberCount = count;
  return gone;
}

let noticeKey = 0;

/**
 * A presence line ("Alice joined") at the current end of the timeline.
 * @param {Room} room
 * @param {string} text
 */
export function addNotice(room, text) {
  noticeKey += 1;
  room.items.push({ kind: 'notice', key: noticeKey, text, ts: Date.now() });
}

/**
 * Drops a confirmed pending message (matched by its client_id).
 * @param {Room} room
 * @param {string} clientId
 */
export function settlePending(room, clientId) {
  const index = room.pending.findIndex((p) => p.clientId === clientId);
  if (index === -1) return false;
  room.pending.splice(index, 1);
  return true;
}

/**
 * A client_id for `send`: random, and valid under the protocol's rule (ASCII
 * letters, digits, `-`). crypto.randomUUID needs a secure context, which a
 * self-hosted server on plain http (LAN address) is not; getRandomValues works.
 */
export function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
