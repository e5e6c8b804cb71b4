// @ts-check
// The open room's timeline as an <ol>, keyed: every message has one <li>,
// found by its id, that stays the same node for as long as the message is
// on screen. A history page puts new nodes before it, live messages after
// it, a catch-up merges by id; none of them rebuilds the others. A change
// of one message (an edit, a reaction) replaces that one node.
//
// Grouping (a message continues the one before it: same author, within
// five minutes) and day separators depend on neighbours; when an insert or
// a deletion changes them, the node's `cont` class flips in place. Day
// separators are list items too, keyed by the item they head.
//
// Text from users only ever goes in as text nodes (markdown.js builds the
// formatting from parsed tokens, links from parsed URLs); nothing here
// touches innerHTML.

import { el } from '../dom.js';
import { avatar, formatDay, formatFull, formatTime, startOfDay } from '../format.js';
import { formatMessage } from '../markdown.js';
import { attachmentsOf } from './attachments.js';

const GROUP_GAP_MS = 5 * 60_000;

/**
 * @typedef {import('../state.js').Item} Item
 * @typedef {import('../state.js').Message} Message
 * @typedef {import('../state.js').User} User
 * One line the list should show: a message, a notice, or a day separator.
 * @typedef {{ key: string, kind: 'msg', msg: Message, cont: boolean }
 *   | { key: string, kind: 'notice', text: string, ts: number }
 *   | { key: string, kind: 'day', ts: number }
 *   | { key: string, kind: 'divider' }} Line
 * @typedef {{ node: HTMLElement, line: Line }} Drawn
 */

/**
 * @param {HTMLElement} list the <ol> to draw into (it holds nothing else)
 * @param {object} opts
 * @param {User} opts.me
 * @param {(msg: Message) => boolean} opts.canDelete
 * @param {{ render: (msg: Message) => HTMLElement }} opts.actions a message's delete action
 * @param {import('./message-extras.js').MessageExtras} opts.extras its quote, reactions and tools
 * @param {() => number | null} [opts.dividerAfter] the "new messages" divider goes before the first
 *   message of others after this id (null: none)
 */
export function createMessageList(list, { me, canDelete, actions, extras, dividerAfter = () => null }) {
  /** key → what is drawn for it. @type {Map<string, Drawn>} */
  const drawn = new Map();

  /** @param {Line} line */
  function build(line) {
    if (line.kind === 'divider') {
      return el('li', { className: 'unread-divider' }, el('span', {}, 'New messages'));
    }
    if (line.kind === 'day') {
      return el('li', { className: 'day' }, el('span', {}, formatDay(line.ts)));
    }
    if (line.kind === 'notice') {
      return el('li', { className: 'notice' }, line.text, ' ',
        el('time', { dateTime: new Date(line.ts).toISOString(), title: formatFull(line.ts) }, formatTime(line.ts)));
    }
    return buildMessage(line.msg, line.cont);
  }

  // Both shapes are in every message node (author line and side time);
  // the `cont` class shows one, so regrouping never rebuilds the node.
  /** @param {Message} msg @param {boolean} cont */
  function buildMessage(msg, cont) {
    const own = msg.author.id === me.id;
    const iso = new Date(msg.ts).toISOString();
    const forMe = !own && (msg.mentions_room || (msg.mentions ?? []).includes(me.id));
    const li = el('li', {
      className: `msg${own ? ' own' : ''}${cont ? ' cont' : ''}${forMe ? ' mentions-me' : ''}`,
      'data-id': msg.id,
      'data-author': msg.author.name,
    },
    avatar(msg.author.name),
    el('time', { className: 'msg-side-time', dateTime: iso, title: formatFull(msg.ts) }, formatTime(msg.ts)),
    el('div', { className: 'msg-body' },
      el('div', { className: 'msg-meta' },
        el('span', { className: 'msg-author' }, msg.author.name),
        msg.author.guest ? el('span', { className: 'tag' }, 'guest') : null,
        msg.author.bot ? el('span', { className: 'tag tag-bot', title: 'posted by a webhook' }, 'bot') : null,
        el('time', { className: 'msg-time', dateTime: iso, title: formatFull(msg.ts) }, formatTime(msg.ts))),
      extras.quote(msg),
      msg.text || msg.edited_at || !msg.attachments?.length
        ? el('div', { className: 'msg-text' }, formatMessage(msg.text, me.name, msg.edited_at ? [' ', extras.edited(msg)] : []))
        : null,
      attachmentsOf(msg),
      extras.reactions(msg),
      extras.picker(msg)),
    el('div', { className: 'msg-bar' }, extras.tools(msg), canDelete(msg) ? actions.render(msg) : null));
    return li;
  }

  /** The lines for a timeline, in order. @param {Item[]} items @returns {Line[]} */
  function linesOf(items) {
    const lines = [];
    /** @type {Item | null} */
    let prev = null;
    let divider = dividerAfter();
    for (const item of items) {
      const key = item.kind === 'msg' ? `m${item.msg.id}` : `n${item.key}`;
      const ts = tsOf(item);
      if (prev === null || startOfDay(tsOf(prev)) !== startOfDay(ts)) lines.push({ key: `d${key}`, kind: 'day', ts });
      // The divider starts a group: the message after it shows its author.
      let divided = false;
      if (divider !== null && item.kind === 'msg' && item.msg.id > divider && item.msg.author.id !== me.id) {
        lines.push({ key: 'unread', kind: 'divider' });
        divider = null;
        divided = true;
      }
      if (item.kind === 'msg') lines.push({ key, kind: 'msg', msg: item.msg, cont: !divided && continues(prev, item.msg) });
      else lines.push({ key, kind: 'notice', text: item.text, ts });
      prev = item;
    }
    return /** @type {Line[]} */ (lines);
  }

  /**
   * Makes the list show `items`: nodes for new keys, none for gone ones,
   * the rest kept and, where needed, moved into order.
   * @param {Item[]} items
   */
  function render(items) {
    const lines = linesOf(items);
    const keep = new Set(lines.map((line) => line.key));
    let lostFocus = false;
    for (const [key, entry] of drawn) {
      if (keep.has(key)) continue;
      lostFocus ||= entry.node.contains(document.activeElement);
      entry.node.remove();
      drawn.delete(key);
    }
    let cursor = list.firstElementChild;
    for (const line of lines) {
      const entry = place(line);
      if (entry.node === cursor) cursor = entry.node.nextElementSibling;
      else list.insertBefore(entry.node, cursor);
    }
    return { lostFocus };
  }

  /** The node for a line: the one drawn for its key (regrouped if need be), or a new one. @param {Line} line */
  function place(line) {
    const entry = drawn.get(line.key);
    if (!entry) {
      const made = { node: build(line), line };
      drawn.set(line.key, made);
      return made;
    }
    if (line.kind === 'msg' && entry.line.kind === 'msg' && entry.line.cont !== line.cont) {
      entry.node.classList.toggle('cont', line.cont);
    }
    entry.line = line;
    return entry;
  }

  return {
    render,

    /**
     * Redraws one message (a newer copy of it): its node is replaced, every
     * other node stays. Returns the new node (null when not drawn).
     * @param {Message} msg
     */
    update(msg) {
      const entry = drawn.get(`m${msg.id}`);
      if (!entry || entry.line.kind !== 'msg') return null;
      const line = { ...entry.line, msg };
      const node = buildMessage(msg, line.cont);
      const hadFocus = entry.node.contains(document.activeElement);
      entry.node.replaceWith(node);
      drawn.set(line.key, { node, line });
      if (hadFocus) node.querySelector('button')?.focus({ preventScroll: true });
      return node;
    },

    /** The node drawn for a message id (null when not drawn). @param {number} id */
    nodeOf(id) {
      return drawn.get(`m${id}`)?.node ?? null;
    },

    /** Forgets every node (another room is shown). */
    clear() {
      drawn.clear();
      list.replaceChildren();
    },
  };
}

/** @param {Item} item */
function tsOf(item) {
  return item.kind === 'msg' ? item.msg.ts : item.ts;
}

/** Whether `msg` continues the group of the item before it. @param {Item | null} prev @param {Message} msg */
function continues(prev, msg) {
  return prev?.kind === 'msg' && prev.msg.author.id === msg.author.id
    && msg.ts - prev.msg.ts < GROUP_GAP_MS && startOfDay(msg.ts) === startOfDay(prev.msg.ts);
}
