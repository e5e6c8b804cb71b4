// @ts-check
// The Socket.IO connection: one per page, same origin, authenticated by the
// session cookie the browser sends with the handshake (we cannot read it).
//
// It reports a simple status (connecting / connected / reconnecting /
// offline) and keeps trying to come back, including after the server itself
// closed the socket (a restart sends a disconnect packet, after which
// socket.io-client would otherwise give up).

import { io } from '../../vendor/socket.io.esm.min.js';

const ACK_TIMEOUT_MS = 10_000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

/** A failed request: `code` is the protocol's error code, or 'timeout' / 'disconnected'. */
export class SocketError extends Error {
  /** @param {string} code @param {string} message @param {number} [retryAfterMs] */
  constructor(code, message, retryAfterMs) {
    super(message);
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * @param {object} handlers
 * @param {(status: string) => void} handlers.onStatus
 * @param {() => void} handlers.onConnect     every (re)connection, the first included
 * @param {() => void} handlers.onUnauthorized the session is gone
 * @param {Record<string, (payload: any) => void>} handlers.events server → client events
 */
export function createConnection({ onStatus, onConnect, onUnauthorized, events }) {
  // WebSocket first; where a proxy or network blocks it, long-polling
  // (socket.io-client tries the next transport only when told to).
  const socket = io({ transports: ['websocket', 'polling'], tryAllTransports: true, reconnectionDelayMax: RETRY_MAX_MS });
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let retryTimer;
  let retryDelay = RETRY_MIN_MS;
  let closed = false;

  /** @param {string} state */
  const status = (state) => onStatus(navigator.onLine === false && state !== 'connected' ? 'offline' : state);

  // Used where socket.io-client does not retry by itself: the server
  // closed the socket, or refused the handshake for a passing reason.
  function retryLater() {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (!closed && !socket.connected) socket.connect();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
  }

  socket.on('connect', () => {
    retryDelay = RETRY_MIN_MS;
    status('connected');
    onConnect();
  });
  socket.on('disconnect', (reason) => {
    if (closed) return;
    status('reconnecting');
    if (reason === 'io server disconnect') retryLater();
  });
  socket.on('connect_error', (error) => {
    if (closed) return;
    if (error.message === 'unauthorized') {
      onUnauthorized();
      return;
    }
    status(socket.active ? 'reconnecting' : 'offline');
    // socket.active is false when the server refused us (rate limited,
    // overloaded); transport errors are retried by the manager itself.
    if (!socket.active) retryLater();
  });
  socket.io.on('reconnect_attempt', () => status('reconnecting'));
  for (const [name, handler] of Object.entries(events)) socket.on(name, handler);

  const onNetworkChange = () => status(socket.connected ? 'connected' : 'reconnecting');
  window.addEventListener('online', onNetworkChange);
  window.addEventListener('offline', onNetworkChange);
  status('connecting');

  return {
    get connected() {
      return socket.connected;
    },

    /**
     * Emits `event` and resolves with the ack's payload when it is ok;
     * rejects with a SocketError otherwise (error code, timeout, or the
     * connection dropped before the answer came).
     * @param {string} event
     * @param {object} payload
     * @returns {Promise<any>} the ack (its shape is the event's, docs/protocol.md)
     */
    async request(event, payload, timeoutMs = ACK_TIMEOUT_MS) {
      if (!socket.connected) throw new SocketError('disconnected', 'Not connected');
      let answer;
      try {
        answer = await socket.timeout(timeoutMs).emitWithAck(event, payload);
      } catch (error) {
        const code = /disconnected/.test(error.message) ? 'disconnected' : 'timeout';
        throw new SocketError(code, code === 'timeout' ? 'The server did not answer in time' : 'Connection lost');
      }
      if (answer?.ok) return answer;
      const e = answer?.error ?? {};
      throw new SocketError(e.code ?? 'internal', e.message ?? 'Request failed', e.retry_after_ms);
    },

    /** Fire and forget (typing notices): dropped when offline, never buffered. @param {string} event @param {object} payload */
    notify(event, payload) {
      if (socket.connected) socket.emit(event, payload);
    },

    close() {
      closed = true;
      clearTimeout(retryTimer);
      window.removeEventListener('online', onNetworkChange);
      window.removeEventListener('offline', onNetworkChange);
      socket.disconnect();
    },
  };
}
