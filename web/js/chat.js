// The chat screen's controller: joined rooms, the live connection, sending
// with retries, catching up after reconnects, unread counts. Views only draw;
// all state changes happen here.

import * as api from './api.js';
import { byId, el } from './dom.js';
import { formatTime, hueOf, typingText } from './format.js';
import { createConnection } from './socket/connection.js';
import {
  addMemberPage, addMessages, addNotice, applyPresence, createRoom, newClientId, newestId, oldestId,
  removeMessage, resetMembers, settlePending,
} from './state.js';
import { clearTyping, createTypingNotifier, trackTyping } from './typing.js';
import { createComposer } from './views/composer.js';
import { createLayout } from './views/layout.js';
import { createMembersView } from './views/members.js';
import { createMessagesView } from './views/messages.js';
import { createRoomsView } from './views/rooms.js';
import { createStatusView } from './views/status.js';

const JOIN_PAGE = 50; // a join answers with the latest 50 messages
const OLDER_PAGE = 50;
const CATCH_UP_PAGE = 100; // the largest page the server allows
const ANNOUNCE_KEEP = 5;
const OTHER_ROOMS_PAGE = 50; // other rooms drawn per page: never thousands at once

/**
 * Shows the chat for `me` and keeps it running.
 * @param {object} me the signed-in user
 * @param {(notice: string) => void} onSignedOut
 * @param {object} [opts]
 * @param {boolean} [opts.admin] a server admin: may delete any message, mute and ban
 */
export function startChat(me, onSignedOut, { admin = false } = {}) {
  const rooms = new Map(); // joined rooms, in the order they were joined
  const saved = loadSaved(me);
  let current = null;
  let signedOut = false;
  let muteTimer = null;

  const layout = createLayout({ onClose: () => composer.focus() });
  const status = createStatusView();
  const messagesView = createMessagesView({
    me, onNearTop: loadOlder, onRetry: retry, onDiscard: discard,
    canDelete: (msg) => admin || msg.author.id === me.id,
    onDelete: deleteMessage,
  });
  const membersView = createMembersView({ me, admin, onMute: mute, onBan: ban, onMore: loadMoreMembers });
  const roomsView = createRoomsView({
    onOpen: openRoom,
    onJoin: joinRoom,
    onLeave: leaveRoom,
    onSearch: searchOtherRooms,
    onMore: () => refreshOtherRooms(true),
  });

  // The other rooms, a page at a time: those shown, the search they
  // match, the cursor of the next page, and which request is the latest
  // (an answer to an older search must not overwrite a newer one).
  const others = { shown: [], query: '', next: null, request: 0 };
  const typingNotifier = createTypingNotifier((event, payload) => conn.notify(event, payload));
  const composer = createComposer({
    onSend: send,
    onInput: (hasText) => typingNotifier.input(current, hasText),
  });

  const conn = createConnection({
    onStatus: (state) => {
      status.show(state);
      // Nothing arrives while disconnected: a later join must catch up.
      if (state !== 'connected') for (const room of rooms.values()) room.synced = false;
    },
    onConnect,
    onUnauthorized: () => signOut('Your session has ended. Please sign in again.'),
    events: {
      message: onMessage, joined: onJoined, left: onLeft, presence: onPresence,
      typing: onTyping, deleted: onDeleted, muted: onMuted,
    },
  });

  showMe();
  byId('logout').addEventListener('click', () => signOut(''));
  for (const name of saved.rooms) rooms.set(name, createRoom(name));
  openRoom(rooms.has(saved.current) ? saved.current : saved.rooms[0], { quiet: true });

  // ---- connection ----------------------------------------------------------

  // Every (re)connection: rejoin every room first, then send what waited.
  // Events on one connection are handled in order, so the sends come after
  // the joins without waiting for their answers.
  function onConnect() {
    for (const room of rooms.values()) sync(room).catch(() => {});
    for (const room of rooms.values()) {
      for (const p of room.pending) if (p.state === 'queued') dispatch(room, p);
    }
    refreshOtherRooms();
  }

  /** Joins `room` on this connection and brings its timeline up to date. */
  async function sync(room) {
    // Where to catch up from is fixed before anything new can arrive.
    const cursor = room.loaded ? room.syncedId : 0;
    const ack = await conn.request('join', { room: room.name });
    room.topic = ack.room.topic;
    resetMembers(room, ack.members, ack.member_count);
    // The first page of a big room may end before our own name: we are here all the same.
    if (!room.members.has(me.id)) room.members.set(me.id, me);
    for (const id of [...room.typing.keys()]) clearTyping(room, id, () => {});
    if (cursor === 0) {
      merge(room, ack.messages, { counted: room.loaded });
      room.reachedStart = ack.messages.length < JOIN_PAGE;
      room.loaded = true;
    } else {
      await catchUp(room, cursor);
    }
    room.syncedId = newestId(room);
    room.synced = true;
    if (room.name === current) showRoomDetails(room);
  }

  // Asks for everything after `cursor`, page by page, until a short page
  // says there is no more. Ids de-duplicate against live messages.
  async function catchUp(room, cursor) {
    for (;;) {
      const { messages } = await conn.request('history', { room: room.name, after: cursor, limit: CATCH_UP_PAGE });
      merge(room, messages, { counted: true });
      if (messages.length < CATCH_UP_PAGE) return;
      cursor = messages[messages.length - 1].id;
    }
  }

  // ---- server events -------------------------------------------------------

  function onMessage(msg) {
    const room = rooms.get(msg.room);
    if (!room) return;
    if (msg.author.id === me.id && msg.client_id && settlePending(room, msg.client_id) && room.name === current) {
      messagesView.renderPending();
    }
    clearTyping(room, msg.author.id, () => renderTyping(room));
    const added = merge(room, [msg], { counted: true, live: true });
    if (room.synced && added) room.syncedId = Math.max(room.syncedId, msg.id);
  }

  function onJoined({ room: name, user }) {
    const room = rooms.get(name);
    if (!room || room.members.has(user.id)) return;
    room.members.set(user.id, user);
    room.memberCount += 1;
    notice(room, `${user.name} joined`);
  }

  function onLeft({ room: name, user }) {
    const room = rooms.get(name);
    if (!room || !room.members.delete(user.id)) return;
    room.memberCount = Math.max(room.memberCount - 1, 0);
    clearTyping(room, user.id, () => renderTyping(room));
    notice(room, `${user.name} left`);
  }

  // A room of more than 20: the changes of the last second, at most a
  // page of each, and the exact count. No "joined" lines here: in a room
  // that big they would drown the conversation.
  function onPresence(event) {
    const room = rooms.get(event.room);
    if (!room) return;
    for (const user of applyPresence(room, event)) clearTyping(room, user.id, () => renderTyping(room));
    if (room.name === current) membersView.render(room);
  }

  // "Show more" in the members panel: the next page, in the server's order.
  async function loadMoreMembers() {
    const room = rooms.get(current);
    if (!room || room.loadingMembers) return;
    const epoch = room.membersEpoch;
    room.loadingMembers = true;
    room.membersError = '';
    membersView.render(room);
    try {
      const payload = room.membersAfter ? { room: room.name, after: room.membersAfter } : { room: room.name };
      const ack = await conn.request('members', payload);
      // a rejoin meanwhile started the list over
      if (room.membersEpoch === epoch) addMemberPage(room, ack.members, ack.member_count);
    } catch (error) {
      if (room.membersEpoch === epoch) {
        room.membersError = error.code === 'disconnected' ? 'You are offline. Try again once connected.' : error.message;
      }
    } finally {
      room.loadingMembers = false;
    }
    if (room.name === current && rooms.get(room.name) === room) membersView.render(room);
  }

  function onTyping({ room: name, user, active }) {
    const room = rooms.get(name);
    if (room && user.id !== me.id) trackTyping(room, user, active, () => renderTyping(room));
  }

  function onDeleted({ room: name, id }) {
    const room = rooms.get(name);
    if (room) forget(room, id);
  }

  function onMuted({ room: name, user, until }) {
    const room = rooms.get(name);
    if (!room) return;
    const active = until > Date.now();
    const who = user.id === me.id ? 'You were' : `${user.name} was`;
    notice(room, active ? `${who} muted until ${formatTime(until)}` : `${who} unmuted`);
    if (user.id === me.id) setMuted(room, active ? until : 0);
  }

  // ---- timeline ------------------------------------------------------------

  /**
   * Adds messages to a room and updates whatever shows it. `counted`: new
   * messages from others raise the unread count of a room not on screen.
   * Returns how many were new.
   */
  function merge(room, messages, { counted = false, live = false } = {}) {
    const { added, appendedOnly } = addMessages(room, messages);
    if (added.length === 0) return 0;
    const fromOthers = added.filter((m) => m.author.id !== me.id);
    if (room.name === current) {
      if (appendedOnly) messagesView.appended(added.length, { fromMe: fromOthers.length === 0 && live });
      else messagesView.rerender();
      if (live) fromOthers.forEach(announce);
    } else if (counted && fromOthers.length > 0) {
      room.unread += fromOthers.length;
      renderRooms();
    }
    return added.length;
  }

  function notice(room, text) {
    addNotice(room, text);
    if (room.name !== current) return;
    messagesView.appended(1);
    membersView.render(room);
  }

  /** Takes a deleted message out of a room, wherever that room is shown (or not). */
  function forget(room, id) {
    const removed = removeMessage(room, id, me.id);
    if (!removed) return;
    if (room.name === current) {
      messagesView.removed(id);
    } else if (removed.unread) {
      room.unread -= 1;
      renderRooms();
    }
  }

  // Only older history loads here; newer comes live or through catchUp.
  async function loadOlder() {
    const room = rooms.get(current);
    if (!room || !room.loaded || room.reachedStart || room.loadingOlder || !conn.connected) return;
    const before = oldestId(room);
    if (before === 0) return;
    room.loadingOlder = true;
    messagesView.renderHistoryStatus();
    try {
      const { messages } = await conn.request('history', { room: room.name, before, limit: OLDER_PAGE });
      addMessages(room, messages);
      room.reachedStart = messages.length < OLDER_PAGE;
    } catch {
      // the next scroll to the top tries again
    } finally {
      room.loadingOlder = false;
    }
    if (room.name === current) messagesView.prepended();
  }

  // ---- sending -------------------------------------------------------------

  function send(text) {
    const room = rooms.get(current);
    if (!room) return;
    typingNotifier.stop();
    const p = { clientId: newClientId(), text, state: 'queued', error: '' };
    room.pending.push(p);
    if (conn.connected) dispatch(room, p);
    else messagesView.renderPending();
  }

  /** Sends a pending message; its client_id makes a repeat harmless. */
  async function dispatch(room, p) {
    p.state = 'sending';
    p.error = '';
    if (room.name === current) messagesView.renderPending();
    try {
      const ack = await conn.request('send', { room: room.name, text: p.text, client_id: p.clientId });
      settlePending(room, p.clientId);
      merge(room, [ack.message], { live: true });
    } catch (error) {
      // Lost with the connection: it goes again (same client_id) on reconnect.
      if (error.code === 'disconnected') p.state = 'queued';
      else if (error.code === 'muted') mutedSend(room, p, error);
      else Object.assign(p, { state: 'failed', error: describeSendError(error) });
    }
    if (room.name === current) messagesView.renderPending();
  }

  // A join does not say whether we are muted; a refused send does, and
  // says for how long.
  function mutedSend(room, p, error) {
    setMuted(room, Date.now() + (error.retryAfterMs ?? 0));
    Object.assign(p, { state: 'failed', muted: true, error: `${mutedText(room)}.` });
  }

  function retry(p) {
    const room = rooms.get(current);
    p.state = 'queued';
    if (conn.connected) dispatch(room, p);
    else messagesView.renderPending();
    composer.focus();
  }

  function discard(p) {
    const room = rooms.get(current);
    settlePending(room, p.clientId);
    messagesView.renderPending();
    composer.focus();
  }

  // ---- moderation ------------------------------------------------------------

  // The `deleted` event removes it too; whichever comes first wins, the
  // other finds nothing left to remove.
  async function deleteMessage(msg) {
    await conn.request('delete', { id: msg.id });
    const room = rooms.get(msg.room);
    if (room) forget(room, msg.id);
  }

  // The `muted` event that follows puts the notice in the room.
  async function mute(roomName, user, minutes) {
    await conn.request('mute', { room: roomName, user_id: user.id, minutes });
  }

  async function ban(user) {
    await conn.request('ban', { user_id: user.id });
  }

  function setMuted(room, until) {
    room.mutedUntil = until;
    if (room.name === current) renderMuted();
  }

  function mutedText(room) {
    return `You are muted in #${room.name} until ${formatTime(room.mutedUntil)}`;
  }

  // The line above the composer; it clears itself when the mute runs out.
  function renderMuted() {
    clearTimeout(muteTimer);
    const room = rooms.get(current);
    const left = room ? room.mutedUntil - Date.now() : 0;
    composer.setNotice(left > 0 ? mutedText(room) : '');
    if (left > 0) muteTimer = setTimeout(renderMuted, left + 100);
  }

  // ---- rooms ---------------------------------------------------------------

  function openRoom(name, { quiet = false } = {}) {
    const room = rooms.get(name);
    if (!room) return;
    if (current !== name) typingNotifier.stop();
    current = name;
    room.unread = 0;
    messagesView.show(room);
    showRoomDetails(room);
    composer.setRoom(name);
    save();
    layout.closeDrawers();
    if (!quiet) composer.focus();
  }

  async function joinRoom(name) {
    if (rooms.has(name)) {
      roomsView.joined();
      openRoom(name);
      if (others.query) searchOtherRooms('');
      return;
    }
    if (!conn.connected) {
      roomsView.showError('You are offline. Try again once connected.');
      return;
    }
    const room = createRoom(name);
    rooms.set(name, room); // before the join, so its first live messages are kept
    try {
      await sync(room);
    } catch (error) {
      rooms.delete(name);
      roomsView.showError(error.message);
      return;
    }
    roomsView.joined();
    openRoom(name);
    others.query = '';
    refreshOtherRooms();
  }

  async function leaveRoom(name) {
    const room = rooms.get(name);
    if (!room) return;
    rooms.delete(name);
    for (const id of [...room.typing.keys()]) clearTyping(room, id, () => {});
    if (conn.connected) conn.request('leave', { room: name }).catch(() => {});
    if (rooms.size === 0) rooms.set('general', createRoom('general'));
    if (current === name) openRoom(rooms.keys().next().value);
    else renderRooms();
    if (conn.connected) {
      const general = rooms.get('general');
      if (general && !general.synced) sync(general).catch(() => {});
    }
    save();
    refreshOtherRooms();
  }

  async function refreshOtherRooms(more = false) {
    const request = ++others.request;
    try {
      const after = more ? others.next : null;
      const page = await api.rooms({ q: others.query, after, limit: OTHER_ROOMS_PAGE });
      if (request !== others.request) return;
      const fresh = page.rooms.filter((room) => !rooms.has(room.name));
      others.shown = more ? [...others.shown, ...fresh] : fresh;
      others.next = page.next;
      roomsView.renderOthers(others.shown, others.next !== null);
    } catch {
      // only a convenience list; the join form still works
    }
  }

  function searchOtherRooms(query) {
    others.query = query;
    refreshOtherRooms();
  }

  // ---- drawing -------------------------------------------------------------

  function showRoomDetails(room) {
    byId('room-title').textContent = `#${room.name}`;
    byId('room-topic').textContent = room.topic;
    membersView.render(room);
    renderTyping(room);
    renderRooms();
    renderMuted();
    messagesView.renderHistoryStatus();
  }

  function renderRooms() {
    roomsView.render([...rooms.values()], current);
    const total = [...rooms.values()].reduce((sum, room) => sum + room.unread, 0);
    document.title = total > 0 ? `(${total}) Banter` : 'Banter';
    layout.setRoomsBadge(total);
  }

  function renderTyping(room) {
    if (room.name !== current) return;
    const names = [...room.typing.values()].map((t) => t.user.name);
    byId('typing').textContent = typingText(names);
  }

  function announce(msg) {
    const region = byId('announcer');
    region.append(el('p', {}, `${msg.author.name}: ${msg.text.slice(0, 300)}`));
    while (region.childElementCount > ANNOUNCE_KEEP) region.firstElementChild.remove();
  }

  function showMe() {
    byId('me-name').textContent = me.name;
    byId('me-guest').hidden = !me.guest;
    const mark = byId('me-avatar');
    mark.textContent = me.name[0].toUpperCase();
    mark.style.setProperty('--hue', String(hueOf(me.name)));
  }

  // ---- session -------------------------------------------------------------

  async function signOut(noticeText) {
    if (signedOut) return;
    signedOut = true;
    typingNotifier.stop();
    clearTimeout(muteTimer);
    conn.close();
    if (!noticeText) await api.logout().catch(() => {});
    onSignedOut(noticeText);
  }

  function save() {
    try {
      localStorage.setItem(storageKey(me), JSON.stringify({ rooms: [...rooms.keys()], current }));
    } catch {
      // private mode: the rooms are simply not remembered
    }
  }
}

function describeSendError(error) {
  if (error.code === 'rate_limited' && error.retryAfterMs) {
    return `too many messages, try again in ${Math.ceil(error.retryAfterMs / 1000)} s`;
  }
  if (error.code === 'timeout') return 'the server did not answer';
  return error.message;
}

function storageKey(me) {
  return `banter:rooms:${me.id}`;
}

/** The rooms this user had open last time on this device (default: general). */
function loadSaved(me) {
  try {
    const data = JSON.parse(localStorage.getItem(storageKey(me)) ?? 'null');
    const rooms = Array.isArray(data?.rooms) ? data.rooms.filter((r) => typeof r === 'string' && r) : [];
    return rooms.length ? { rooms, current: data.current } : { rooms: ['general'], current: 'general' };
  } catch {
    return { rooms: ['general'], current: 'general' };
  }
}
