// What the client knows about each joined room. Plain data plus the few
// functions that keep its invariants: messages sorted by id, each id once.

/** A joined room's client-side state. */
export function createRoom(name) {
  return {
    name,
    topic: '',
    /** The timeline: {kind:'msg', msg} in id order, with {kind:'notice'} lines in between. */
    items: [],
    ids: new Set(),
    /** The online members we know of, by user id: in a big room only the pages fetched so far. */
    members: new Map(),
    /** How many members are online, exactly (may exceed members.size). */
    memberCount: 0,
    /** The name the next page of members starts after ('' = from the first name). */
    membersAfter: '',
    /** Bumped whenever members is replaced, so a page asked for before is dropped. */
    membersEpoch: 0,
    loadingMembers: false,
    membersError: '',
    /** Who is typing: user id → {user, timer}. */
    typing: new Map(),
    /** Messages we sent that the server has not confirmed yet. */
    pending: [],
    unread: 0,
    /** Whether the first join answer has been merged (so later joins catch up instead). */
    loaded: false,
    /** No older history exists before the first message we hold. */
    reachedStart: false,
    loadingOlder: false,
    /** Whether every message up to syncedId is held (false while disconnected or catching up). */
    synced: false,
    syncedId: 0,
    /** Until when we are muted here (ms since the epoch; 0 or past: not muted). */
    mutedUntil: 0,
  };
}

export function newestId(room) {
  for (let i = room.items.length - 1; i >= 0; i--) {
    if (room.items[i].kind === 'msg') return room.items[i].msg.id;
  }
  return 0;
}

export function oldestId(room) {
  const first = room.items.find((item) => item.kind === 'msg');
  return first ? first.msg.id : 0;
}

/**
 * Merges messages (any order, possibly already known) into the timeline.
 * Returns the ones that were new, and whether all of them went at the end
 * (so a view can append instead of re-rendering).
 */
export function addMessages(room, messages) {
  const added = [];
  let appendedOnly = true;
  for (const msg of [...messages].sort((a, b) => a.id - b.id)) {
    if (room.ids.has(msg.id)) continue;
    room.ids.add(msg.id);
    added.push(msg);
    if (msg.id > newestId(room)) {
      room.items.push({ kind: 'msg', msg });
    } else {
      appendedOnly = false;
      insertById(room, msg);
    }
  }
  return { added, appendedOnly };
}

// Inserts before the first message with a larger id: a message that arrived
// late (catch-up after a reconnect) lands where it belongs.
function insertById(room, msg) {
  const index = room.items.findIndex((item) => item.kind === 'msg' && item.msg.id > msg.id);
  room.items.splice(index === -1 ? room.items.length : index, 0, { kind: 'msg', msg });
}

/**
 * Takes a deleted message out of the timeline. Its id stays in `ids`, so a
 * history page fetched before the deletion cannot bring it back. Returns
 * the removed message and whether it was unread (null when not held).
 */
export function removeMessage(room, id, meId) {
  const index = room.items.findIndex((item) => item.kind === 'msg' && item.msg.id === id);
  if (index === -1) return null;
  const { msg } = room.items[index];
  // The unread ones are the newest `unread` messages from others.
  const othersAfter = room.items.slice(index + 1).filter((item) => item.kind === 'msg' && item.msg.author.id !== meId).length;
  const unread = msg.author.id !== meId && othersAfter < room.unread;
  room.items.splice(index, 1);
  return { msg, unread };
}

/** The largest page of members the server sends (join ack, `members`). */
export const MEMBERS_PAGE = 100;

/**
 * The server's member order: name with ASCII case ignored (names are
 * ASCII), then user id.
 */
export function compareMembers(a, b) {
  const x = a.name.toLowerCase();
  const y = b.name.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a.id - b.id;
}

/** Starts over from a join ack's first page and exact count. */
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
 */
export function addMemberPage(room, members, count) {
  for (const user of members) room.members.set(user.id, user);
  room.memberCount = count;
  room.membersAfter = pageCursor(members);
}

// Paging follows the server's pages, not the names we happen to know: one
// who arrived live may sort far past the pages fetched so far.
function pageCursor(members) {
  return members.length < MEMBERS_PAGE ? '' : members[members.length - 1].name;
}

/**
 * Applies a `presence` event; returns whoever it says left and we knew of
 * (their typing must stop).
 */
export function applyPresence(room, { joined = [], left = [], member_count: count }) {
  const gone = left.filter((user) => room.members.delete(user.id));
  for (const user of joined) room.members.set(user.id, user);
  if (Number.isInteger(count)) room.memberCount = count;
  return gone;
}

/** A presence line ("Alice joined") at the current end of the timeline. */
export function addNotice(room, text) {
  room.items.push({ kind: 'notice', text, ts: Date.now() });
}

/** Drops a confirmed pending message (matched by its client_id). */
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
