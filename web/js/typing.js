// @ts-check
// Typing notices, both ways.
//
// Outgoing: `typing {active:true}` at most every 2 s while the person types,
// `active:false` when they send or stop for 3 s (the server limits how often
// we may say it, and others expire a notice after 6 s without a repeat).
// Incoming: a notice lasts 6 s unless repeated, and ends when the typist
// sends a message, says so, or leaves.

/**
 * @typedef {import('./state.js').Room} Room
 * @typedef {import('./state.js').User} User
 */

const REPEAT_MS = 2_000;
const IDLE_MS = 3_000;
const EXPIRE_MS = 6_000;

/** @param {(event: string, payload: object) => void} notify */
export function createTypingNotifier(notify) {
  /** @type {string | null} */
  let room = null;
  let lastActiveAt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let idleTimer;

  function stop() {
    clearTimeout(idleTimer);
    idleTimer = undefined;
    if (room && lastActiveAt) notify('typing', { room, active: false });
    lastActiveAt = 0;
  }

  return {
    /** The composer changed in `roomName`; `hasText` is false once it is emptied. @param {string | null} roomName @param {boolean} hasText */
    input(roomName, hasText) {
      if (room !== roomName) stop();
      room = roomName;
      if (!hasText) {
        stop();
        return;
      }
      const now = Date.now();
      if (now - lastActiveAt >= REPEAT_MS) {
        notify('typing', { room, active: true });
        lastActiveAt = now;
      }
      clearTimeout(idleTimer);
      idleTimer = setTimeout(stop, IDLE_MS);
    },
    /** Sent, switched rooms, or signed out. */
    stop,
  };
}

/**
 * Records someone's typing notice in a room's `typing` map.
 * `onChange` runs when the set of typists changes (including on expiry).
 * @param {Room} room
 * @param {User} user
 * @param {boolean} active
 * @param {() => void} onChange
 */
export function trackTyping(room, user, active, onChange) {
  if (!active) {
    clearTyping(room, user.id, onChange);
    return;
  }
  const existing = room.typing.get(user.id);
  clearTimeout(existing?.timer);
  const timer = setTimeout(() => clearTyping(room, user.id, onChange), EXPIRE_MS);
  room.typing.set(user.id, { user, timer });
  if (!existing) onChange();
}

/**
 * Ends a typist's notice at once (they sent a message or left).
 * @param {Room} room
 * @param {number} userId
 * @param {() => void} onChange
 */
export function clearTyping(room, userId, onChange) {
  const existing = room.typing.get(userId);
  if (!existing) return;
  clearTimeout(existing.timer);
  room.typing.delete(userId);
  onChange();
}
