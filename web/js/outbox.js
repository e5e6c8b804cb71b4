// @ts-check
// Sending: a message waits in its room's pending list until the server has
// it. Typed while offline, it goes once connected; lost with the
// connection, it goes again. Its client_id makes a repeat harmless: the
// server answers a repeat with the message it stored the first time.

import { formatTime } from './format.js';
import { newClientId } from './state.js';

/**
 * @typedef {import('./store.js').Store} Store
 * @typedef {import('./state.js').Room} Room
 * @typedef {import('./state.js').Pending} Pending
 * @typedef {ReturnType<typeof import('./socket/connection.js').createConnection>} Connection
 * @typedef {import('./socket/connection.js').SocketError} SocketError
 */

/**
 * @param {Store} store
 * @param {Connection} conn
 */
export function createOutbox(store, conn) {
  /** @param {Room} room @param {Pending} p */
  async function dispatch(room, p) {
    store.updatePending(room, p, { state: 'sending', error: '' });
    try {
      const payload = { room: room.name, text: p.text, client_id: p.clientId, reply_to: p.replyTo ?? null };
      const ack = await conn.request('send', payload);
      store.settlePending(room, p.clientId);
      store.merge(room, [ack.message], { live: true });
    } catch (error) {
      // Lost with the connection: it goes again (same client_id) on reconnect.
      if (error.code === 'disconnected') store.updatePending(room, p, { state: 'queued' });
      else if (error.code === 'muted') mutedSend(room, p, error);
      else store.updatePending(room, p, { state: 'failed', error: describeSendError(error) });
    }
  }

  // A join does not say whether we are muted; a refused send does, and
  // says for how long.
  /** @param {Room} room @param {Pending} p @param {SocketError} error */
  function mutedSend(room, p, error) {
    store.setMuted(room, Date.now() + (error.retryAfterMs ?? 0));
    store.updatePending(room, p, { state: 'failed', muted: true, error: `${mutedText(room)}.` });
  }

  return {
    /** @param {Room} room @param {string} text @param {number | null} [replyTo] the message it answers */
    send(room, text, replyTo = null) {
      const p = /** @type {Pending} */ ({ clientId: newClientId(), text, state: 'queued', error: '', replyTo });
      store.addPending(room, p);
      if (conn.connected) dispatch(room, p);
    },

    /** @param {Room} room @param {Pending} p */
    retry(room, p) {
      store.updatePending(room, p, { state: 'queued' });
      if (conn.connected) dispatch(room, p);
    },

    /** @param {Room} room @param {Pending} p */
    discard(room, p) {
      store.settlePending(room, p.clientId);
    },

    /** Sends everything that waited for a connection (called on each connect). */
    flush() {
      for (const room of store.rooms) {
        for (const p of room.pending) if (p.state === 'queued') dispatch(room, p);
      }
    },
  };
}

/** The line above the composer while muted, and a refused send's reason. @param {Room} room */
export function mutedText(room) {
  return `You are muted in #${room.name} until ${formatTime(room.mutedUntil)}`;
}

/** @param {SocketError} error */
function describeSendError(error) {
  if (error.code === 'rate_limited' && error.retryAfterMs) {
    return `too many messages, try again in ${Math.ceil(error.retryAfterMs / 1000)} s`;
  }
  if (error.code === 'timeout') return 'the server did not answer';
  return error.message;
}
