// @ts-check
// The conversation of the open room: its keyed message list
// (message-list.js), the messages not sent yet, the history line at the
// top, and the scrolling rules: stay pinned to the bottom only while the
// reader is there, keep the view steady when something changes above or
// around what they read, and load older history at the top.

import { byId, el } from '../dom.js';
import { formatMessage } from '../markdown.js';
import { createDeleteAction } from './delete-action.js';
import { findMessage } from '../state.js';
import { createMessageExtras } from './message-extras.js';
import { createMessageList } from './message-list.js';
import { createImageViewer } from './attachments.js';

const PIN_SLACK_PX = 48;
const LOAD_OLDER_PX = 120;

/**
 * @typedef {import('../state.js').Room} Room
 * @typedef {import('../state.js').Message} Message
 * @typedef {import('../state.js').Pending} Pending
 * @typedef {import('../store.js').Change} Change
 */

/**
 * The elements the view draws in.
 * @typedef {{ scroller: HTMLElement, list: HTMLElement, pending: HTMLElement, history: HTMLElement, newButton: HTMLElement }} Elements
 */

/** The page's own (index.html). @returns {Elements} */
function pageElements() {
  return {
    scroller: byId('messages'),
    list: byId('message-list'),
    pending: byId('pending-list'),
    history: byId('history-status'),
    newButton: byId('new-messages'),
  };
}

/**
 * @param {import('../store.js').Store} store
 * @param {object} opts
 * @param {() => void} opts.onNearTop      the reader reached the top: load older history
 * @param {() => void} opts.onJumpedToEnd  "New messages" took the reader to the end
 * @param {(p: Pending) => void} opts.onRetry
 * @param {(p: Pending) => void} opts.onDiscard
 * @param {(msg: Message) => boolean} opts.canDelete
 * @param {(msg: Message) => Promise<void>} opts.onDelete
 * @param {(msg: Message) => void} [opts.onReply]
 * @param {(msg: Message) => void} [opts.onEdit]
 * @param {(msg: Message, emoji: string, on: boolean) => void} [opts.onReact]
 * @param {(msg: Message) => void} [opts.onJump] go to the message `msg` answers
 * @param {Elements} [elements] where to draw: the page's, unless a test brings its own
 */
export function createMessagesView(store, opts, elements = pageElements()) {
  const { onNearTop, onJumpedToEnd, onRetry, onDiscard, canDelete, onDelete } = opts;
  const { onReply = () => {}, onEdit = () => {}, onReact = () => {}, onJump = () => {} } = opts;
  const { scroller, list: listNode, pending: pendingList, history: historyStatus, newButton } = elements;
  const deleteAction = createDeleteAction({ list: listNode, onDelete });
  const extras = createMessageExtras({
    list: listNode,
    me: store.me,
    lookup: (id) => (store.current ? findMessage(store.current, id) : null),
    nameOf: (id) => store.current?.members.get(id)?.name ?? null,
    onReply, onEdit, onReact, onJump,
  });
  const list = createMessageList(listNode, {
    me: store.me, canDelete, actions: deleteAction, extras,
    dividerAfter: () => store.current?.dividerAfter ?? null,
  });
  createImageViewer(listNode, (id) => (store.current ? findMessage(store.current, id) : null));
  let pinned = true;

  scroller.addEventListener('scroll', () => {
    pinned = distanceFromBottom() <= PIN_SLACK_PX;
    if (pinned) newButton.hidden = true;
    if (scroller.scrollTop < LOAD_OLDER_PX) onNearTop();
  }, { passive: true });
  newButton.addEventListener('click', () => {
    scrollToBottom();
    onJumpedToEnd();
  });
  // The composer growing or the window resizing must not unpin the reader.
  new ResizeObserver(() => {
    if (pinned) scrollToBottom();
  }).observe(scroller);

  function distanceFromBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
  }

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
    pinned = true;
    newButton.hidden = true;
  }

  /** Draws the room's timeline; a node that had the focus and is gone gives it to the list. @param {Room} room */
  function draw(room) {
    const { lostFocus } = list.render(room.items);
    if (lostFocus) scroller.focus({ preventScroll: true });
  }

  /**
   * Runs a change that may alter heights above the reader (older history,
   * a message inserted or removed, an edit): pinned readers stay at the
   * bottom, others keep what they read where it was.
   * @param {() => void} change
   */
  function steady(change) {
    const wasPinned = pinned;
    const fromBottom = distanceFromBottom();
    change();
    if (wasPinned) scrollToBottom();
    else scroller.scrollTop = scroller.scrollHeight - scroller.clientHeight - fromBottom;
  }

  /** New lines at the end: follow them if the reader was at the bottom (or sent them), else offer a button. */
  /** @param {Room} room @param {boolean} followAnyway */
  function appended(room, followAnyway) {
    const wasPinned = pinned || distanceFromBottom() <= PIN_SLACK_PX;
    draw(room);
    if (wasPinned || followAnyway) scrollToBottom();
    else newButton.hidden = false;
  }

  /** @param {Pending} p */
  function renderPendingItem(p) {
    const status = {
      queued: 'Waiting for connection…',
      sending: 'Sending…',
      // A mute says itself when it ends; retrying before then is pointless.
      failed: p.muted ? `Not sent. ${p.error}` : `Not sent: ${p.error}`,
    }[p.state];
    const actions = p.state === 'failed' ? [
      p.muted ? null : el('button', { type: 'button', className: 'link-btn', onclick: () => onRetry(p) }, 'Retry'),
      el('button', { type: 'button', className: 'link-btn', onclick: () => onDiscard(p) }, 'Discard'),
    ] : [];
    return el('li', { className: `msg own cont pending ${p.state}`, 'data-client-id': p.clientId },
      el('span', { className: 'msg-side-time' }),
      el('div', { className: 'msg-body' },
        el('div', { className: 'msg-text' }, formatMessage(p.text, store.me.name)),
        el('div', { className: 'msg-status', role: p.state === 'failed' ? 'alert' : null }, status, ...actions)));
  }

  /** @param {Room} room */
  function renderPending(room) {
    pendingList.replaceChildren(...room.pending.map(renderPendingItem));
    if (pinned) scrollToBottom();
  }

  /** @param {Room} room */
  function renderHistoryStatus(room) {
    historyStatus.textContent = room.reachedStart
      ? `This is the beginning of ${room.kind === 'direct' ? 'your conversation' : `#${room.name}`}.`
      : room.loadingOlder ? 'Loading older messages…' : '';
  }

  /** Shows another room, scrolled to its newest message. @param {Room} room */
  function show(room) {
    list.clear();
    draw(room);
    renderPending(room);
    renderHistoryStatus(room);
    scrollToBottom();
  }

  /** Brings a message into sight and marks it for a moment (a reply's parent). @param {number} id */
  function focus(id) {
    const node = list.nodeOf(id);
    if (!node) return;
    node.scrollIntoView({ block: 'center' });
    pinned = distanceFromBottom() <= PIN_SLACK_PX;
    node.classList.remove('flash');
    void node.offsetWidth; // restart the animation
    node.classList.add('flash');
    node.tabIndex = -1;
    node.focus({ preventScroll: true });
  }

  /** @param {Change} change */
  function apply(change) {
    if (!('room' in change) || !store.isOpen(change.room)) return;
    const { room } = change;
    switch (change.type) {
      case 'open': return show(room);
      case 'timeline':
        if (change.place === 'end') return appended(room, change.live && change.added.every((m) => m.author.id === store.me.id));
        return steady(() => draw(room));
      case 'notice': return appended(room, false);
      case 'message': return steady(() => {
        const item = room.items.find((i) => i.kind === 'msg' && i.msg.id === change.id);
        if (item?.kind === 'msg') list.update(item.msg);
      });
      case 'focus': return focus(change.id);
      case 'removed':
        deleteAction.forget(change.id);
        extras.forget(change.id);
        return steady(() => draw(room));
      case 'history': return steady(() => renderHistoryStatus(room));
      case 'divider': return steady(() => draw(room));
      case 'pending': return renderPending(room);
      default:
    }
  }

  store.subscribe(apply);
}
