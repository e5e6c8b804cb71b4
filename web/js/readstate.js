// @ts-check
// Read markers and desktop notifications (issue #10).
//
// The read tracker tells the server what the reader has seen: the newest
// message of the open room, once the tab is on screen, a moment after it
// arrived (so a burst costs one `read`). The server tells the user's other
// tabs and devices (`read`), whose badges follow (sync.js).
//
// The notifier raises a desktop notification for a message in a tab that
// is hidden, as the room's level says: `all`, `mentions` (the default;
// `all` in a direct room) or `none`. Permission is asked only when the user
// clicks the button for it, never on load.

import { mentionsMe, newestId, roomLabel } from './state.js';
import { textOf } from './uploads.js';

const READ_DELAY_MS = 400;
const BODY_CHARS = 200;

/**
 * @typedef {import('./store.js').Store} Store
 * @typedef {import('./sync.js').Sync} Sync
 * @typedef {import('./state.js').Room} Room
 * @typedef {import('./state.js').Message} Message
 */

/** @param {Store} store @param {Sync} sync */
export function createReadTracker(store, sync) {
  /** @type {Map<string, ReturnType<typeof setTimeout>>} */
  const timers = new Map();

  /** @param {Room} room */
  function schedule(room) {
    if (!store.isSeen(room) || timers.has(room.name)) return;
    timers.set(room.name, setTimeout(() => {
      timers.delete(room.name);
      const id = newestId(room);
      if (store.isSeen(room) && id > room.lastRead && sync.connected) sync.markRead(room, id).catch(() => {});
    }, READ_DELAY_MS));
  }

  document.addEventListener('visibilitychange', () => {
    store.setVisible(document.visibilityState === 'visible');
    const room = store.current;
    if (room) schedule(room);
  });
  store.setVisible(document.visibilityState === 'visible');
  store.subscribe((change) => {
    if ((change.type === 'open' || change.type === 'timeline' || change.type === 'rooms') && store.current) {
      schedule(store.current);
    }
  });
}

/**
 * Whether the room's level asks for a notification of `msg`.
 * @param {Room} room @param {Message} msg @param {import('./state.js').User} me
 */
export function wantsNotification(room, msg, me) {
  if (msg.author.id === me.id || room.notify === 'none') return false;
  return room.notify === 'all' || mentionsMe(msg, me);
}

/**
 * @param {Store} store
 * @param {object} opts
 * @param {(name: string) => void} opts.onOpen a notification was clicked: show its room
 */
export function createNotifier(store, { onOpen }) {
  const supported = typeof Notification !== 'undefined';

  store.subscribe((change) => {
    if (change.type !== 'timeline' || !change.live) return;
    if (!supported || Notification.permission !== 'granted' || document.visibilityState === 'visible') return;
    const { room } = change;
    for (const msg of change.added) {
      if (!wantsNotification(room, msg, store.me)) continue;
      const where = room.kind === 'direct' ? '' : ` in ${roomLabel(room, store.me.id)}`;
      const note = new Notification(`${msg.author.name}${where}`, {
        body: textOf(msg).slice(0, BODY_CHARS),
        tag: `banter:${room.name}`,
      });
      note.onclick = () => {
        window.focus();
        onOpen(room.name);
        note.close();
      };
    }
  });

  return {
    /** Whether asking makes sense: supported and not decided yet. */
    get askable() {
      return supported && Notification.permission === 'default';
    },
    /** Asks for permission; call from a click only. */
    async ask() {
      if (!supported) return 'denied';
      return Notification.requestPermission();
    },
  };
}
