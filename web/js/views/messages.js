// The message list of the open room: grouping, day separators, pending
// messages, and the scrolling rules (stay pinned to the bottom only while the
// reader is there; load older history at the top).

import { byId, el, clear } from '../dom.js';
import { avatar, formatDay, formatFull, formatTime, linkify, startOfDay } from '../format.js';
import { createDeleteAction } from './delete-action.js';

const GROUP_GAP_MS = 5 * 60_000;
const PIN_SLACK_PX = 48;
const LOAD_OLDER_PX = 120;

/**
 * @param {object} opts
 * @param {object} opts.me                 the signed-in user
 * @param {() => void} opts.onNearTop      the reader reached the top: load older history
 * @param {(p: object) => void} opts.onRetry
 * @param {(p: object) => void} opts.onDiscard
 * @param {(msg: object) => boolean} opts.canDelete
 * @param {(msg: object) => Promise<void>} opts.onDelete
 */
export function createMessagesView({ me, onNearTop, onRetry, onDiscard, canDelete, onDelete }) {
  const scroller = byId('messages');
  const list = byId('message-list');
  const pendingList = byId('pending-list');
  const historyStatus = byId('history-status');
  const newButton = byId('new-messages');
  const deleteAction = createDeleteAction({ list, onDelete });
  let pinned = true;
  let room = null;

  scroller.addEventListener('scroll', () => {
    pinned = distanceFromBottom() <= PIN_SLACK_PX;
    if (pinned) newButton.hidden = true;
    if (scroller.scrollTop < LOAD_OLDER_PX) onNearTop();
  }, { passive: true });
  newButton.addEventListener('click', () => {
    scrollToBottom();
    byId('composer-input').focus();
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

  /** Whether `msg` continues the group of the item before it. */
  function continues(prev, msg) {
    return prev?.kind === 'msg' && prev.msg.author.id === msg.author.id
      && msg.ts - prev.msg.ts < GROUP_GAP_MS && startOfDay(msg.ts) === startOfDay(prev.msg.ts);
  }

  function needsDaySeparator(prev, item) {
    const ts = item.kind === 'msg' ? item.msg.ts : item.ts;
    const prevTs = prev ? (prev.kind === 'msg' ? prev.msg.ts : prev.ts) : null;
    return prevTs === null || startOfDay(ts) !== startOfDay(prevTs);
  }

  function renderItem(prev, item) {
    const nodes = [];
    if (needsDaySeparator(prev, item)) {
      const ts = item.kind === 'msg' ? item.msg.ts : item.ts;
      nodes.push(el('li', { className: 'day', role: 'separator' }, el('span', {}, formatDay(ts))));
    }
    if (item.kind === 'notice') {
      nodes.push(el('li', { className: 'notice' }, item.text, ' ',
        el('time', { dateTime: new Date(item.ts).toISOString(), title: formatFull(item.ts) }, formatTime(item.ts))));
    } else {
      nodes.push(renderMessage(item.msg, continues(prev, item.msg)));
    }
    return nodes;
  }

  function renderMessage(msg, continuation) {
    const own = msg.author.id === me.id;
    const time = el('time', {
      className: continuation ? 'msg-side-time' : 'msg-time',
      dateTime: new Date(msg.ts).toISOString(),
      title: formatFull(msg.ts),
    }, formatTime(msg.ts));
    const text = el('div', { className: 'msg-text' }, linkify(msg.text));
    const li = el('li', {
      className: `msg${own ? ' own' : ''}${continuation ? ' cont' : ''}`,
      'data-id': msg.id,
      'data-author': msg.author.name,
    });
    if (continuation) {
      li.append(time, el('div', { className: 'msg-body' }, text));
    } else {
      const meta = el('div', { className: 'msg-meta' },
        el('span', { className: 'msg-author' }, msg.author.name),
        own ? el('span', { className: 'tag tag-you' }, 'you') : null,
        msg.author.guest ? el('span', { className: 'tag' }, 'guest') : null,
        time);
      li.append(avatar(msg.author.name), el('div', { className: 'msg-body' }, meta, text));
    }
    if (canDelete(msg)) li.append(deleteAction.render(msg));
    return li;
  }

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
        el('div', { className: 'msg-text' }, linkify(p.text)),
        el('div', { className: 'msg-status', role: p.state === 'failed' ? 'alert' : null }, status, ...actions)));
  }

  function renderHistoryStatus() {
    if (!room) return;
    historyStatus.textContent = room.reachedStart
      ? `This is the beginning of #${room.name}.`
      : room.loadingOlder ? 'Loading older messages…' : '';
  }

  function renderAll() {
    const nodes = [];
    let prev = null;
    for (const item of room.items) {
      nodes.push(...renderItem(prev, item));
      prev = item;
    }
    const focusedId = list.contains(document.activeElement) ? document.activeElement.closest('li')?.dataset.id : null;
    list.replaceChildren(...nodes);
    renderHistoryStatus();
    if (focusedId !== null) keepFocus(focusedId);
  }

  // A redraw replaces every node: put keyboard focus back on the same
  // message's action, or on the list when that message is gone.
  function keepFocus(id) {
    const target = list.querySelector(`li[data-id="${id}"] .msg-actions button`) ?? scroller;
    target.focus({ preventScroll: true });
  }

  return {
    /** Shows another room, scrolled to its newest message. */
    show(next) {
      room = next;
      renderAll();
      this.renderPending();
      scrollToBottom();
    },

    /** New items at the end of the open room (live messages, notices). */
    appended(count, { fromMe = false } = {}) {
      const wasPinned = pinned || distanceFromBottom() <= PIN_SLACK_PX;
      const start = room.items.length - count;
      for (let i = start; i < room.items.length; i++) {
        list.append(...renderItem(room.items[i - 1] ?? null, room.items[i]));
      }
      if (wasPinned || fromMe) scrollToBottom();
      else newButton.hidden = false;
    },

    /** Items changed anywhere (catch-up inserted in the middle): redraw, keep the view steady. */
    rerender() {
      const wasPinned = pinned;
      const fromBottom = distanceFromBottom();
      renderAll();
      if (wasPinned) scrollToBottom();
      else scroller.scrollTop = scroller.scrollHeight - scroller.clientHeight - fromBottom;
    },

    /** Older history went in at the top: keep the messages on screen where they were. */
    prepended() {
      const before = scroller.scrollHeight - scroller.scrollTop;
      renderAll();
      scroller.scrollTop = scroller.scrollHeight - before;
    },

    /** A message of the open room was deleted: redraw so grouping and days stay right. */
    removed(id) {
      deleteAction.forget(id);
      this.rerender();
    },

    renderPending() {
      pendingList.replaceChildren(...room.pending.map(renderPendingItem));
      if (pinned) scrollToBottom();
    },

    renderHistoryStatus,
    scrollToBottom,
    get room() {
      return room;
    },
    clear() {
      room = null;
      clear(list);
      clear(pendingList);
    },
  };
}
