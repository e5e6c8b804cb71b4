// @ts-check
// The HTTP half of the protocol (docs/protocol.md). Same-origin fetches; the
// HttpOnly session cookie travels by itself, so no token is handled here.

/**
 * @typedef {import('./state.js').User} User
 * A room on the server, as `GET /api/rooms` lists it: `members` are those online.
 * @typedef {{ name: string, topic: string, members: number }} RoomInfo
 * One of the caller's rooms, as `GET /api/me/rooms` lists it.
 * @typedef {{ name: string, kind: 'public' | 'private' | 'direct', topic: string, members?: User[],
 *   last_read: number, unread: number, mentions: number, notify: 'all' | 'mentions' | 'none' }} MyRoom
 */

/** An error answer from the server: `code` is the protocol's error code. */
export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @param {string} method @param {string} path @param {unknown} [body] */
async function request(method, path, body) {
  /** @type {RequestInit & { headers: Record<string, string> }} */
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiError(response.status, error.code ?? 'internal', error.message ?? `HTTP ${response.status}`);
  }
  return data;
}

/**
 * The signed-in user and whether they are an admin; `user` is null when
 * there is no (valid) session cookie. /api/session answers 200 either way,
 * so a fresh visit logs no failed request.
 * @returns {Promise<{ user: User | null, admin: boolean }>}
 */
export async function session() {
  return request('GET', '/api/session');
}

/** @param {string} username @param {string} password @returns {Promise<User>} */
export const login = (username, password) =>
  request('POST', '/api/auth/login', { username, password }).then((r) => r.user);
/** @param {string} username @param {string} password @returns {Promise<User>} */
export const register = (username, password) =>
  request('POST', '/api/auth/register', { username, password }).then((r) => r.user);
/** @param {string} name @returns {Promise<User>} */
export const guest = (name) => request('POST', '/api/auth/guest', { name }).then((r) => r.user);
export const logout = () => request('POST', '/api/auth/logout');
/**
 * One page of the rooms on the server, by name: `{rooms: [{name, topic,
 * members}], next}`. `q` keeps names containing it; `after` is the `next`
 * of the page before (null on the last page).
 * @param {{ q?: string, after?: string | null, limit?: number | null }} [opts]
 * @returns {Promise<{ rooms: RoomInfo[], next: string | null }>}
 */
export function rooms({ q = '', after = null, limit = null } = {}) {
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  if (after) params.set('after', after);
  if (limit) params.set('limit', String(limit));
  const query = params.toString();
  return request('GET', query ? `/api/rooms?${query}` : '/api/rooms');
}

/** The caller's rooms, by name, with read state. @returns {Promise<MyRoom[]>} */
export const myRooms = () => request('GET', '/api/me/rooms');

// Personal access tokens (issue #11).
/** @typedef {{ id: number, name: string, created_at: number, last_used_at: number | null }} TokenInfo */
/** @param {string} name @returns {Promise<TokenInfo & { token: string }>} */
export const createToken = (name) => request('POST', '/api/tokens', { name });
/** @returns {Promise<TokenInfo[]>} */
export const tokens = () => request('GET', '/api/tokens').then((r) => r.tokens);
/** @param {number} id */
export const revokeToken = (id) => request('DELETE', `/api/tokens/${id}`);

// Incoming webhooks (issue #11).
/**
 * @typedef {{ id: number, name: string, room: string, bot: User, created_by: User, created_at: number }} WebhookInfo
 */
/** @param {string} room @param {string} name @returns {Promise<WebhookInfo & { url: string }>} */
export const createWebhook = (room, name) =>
  request('POST', `/api/rooms/${encodeURIComponent(room)}/webhooks`, { name });
/** @param {string} room @returns {Promise<WebhookInfo[]>} */
export const webhooks = (room) =>
  request('GET', `/api/rooms/${encodeURIComponent(room)}/webhooks`).then((r) => r.webhooks);
/** @param {number} id */
export const revokeWebhook = (id) => request('DELETE', `/api/webhooks/${id}`);

// ---- search (issue #11)

/**
 * A search result: the message and the matched words in its text, as
 * `[start, end)` ranges in UTF-16 code units (what JavaScript strings index).
 * @typedef {{ message: import('./state.js').Message, highlight: [number, number][] }} SearchHit
 */

/**
 * `GET /api/search`: the messages we may read that match `q`, newest first.
 * @param {{ q: string, before?: number | null, limit?: number }} params
 * @returns {Promise<{ results: SearchHit[] }>}
 */
export function search({ q, before = null, limit = 20 }) {
  const params = new URLSearchParams({ q, limit: String(limit) });
  if (before) params.set('before', String(before));
  return request('GET', `/api/search?${params}`);
}
