// @ts-check
// What a message shows besides its text (issue #10): the quote of the
// message it answers (a click goes there), "edited", its reactions (a
// click puts ours on or takes it off; the title says who), and its tools:
// Reply, React (a picker of common emoji) and, on our own, Edit.
//
// Every button carries `data-action`; one listener on the list handles
// them all (event delegation), finding the message by the id on its <li>,
// so a message node that is replaced (an edit, a reaction) needs no
// handlers of its own. Which picker is open is kept here by message id, so
// it survives its message being redrawn.

import { el } from '../dom.js';
import { formatFull, shorten, whoText } from '../format.js';
import { textOf } from '../uploads.js';

/** The emoji the picker offers. */
export const COMMON_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '👀', '🙏'];
const QUOTE_CHARS = 120;

/**
 * @typedef {import('../state.js').Message} Message
 * @typedef {import('../state.js').User} User
 */

/**
 * @param {object} opts
 * @param {HTMLElement} opts.list the message list
 * @param {User} opts.me
 * @param {(id: number) => Message | null} opts.lookup a held message of the open room
 * @param {(id: number) => string | null} opts.nameOf a user's name, when known
 * @param {(msg: Message) => void} opts.onReply
 * @param {(msg: Message) => void} opts.onEdit
 * @param {(msg: Message, emoji: string, on: boolean) => void} opts.onReact
 * @param {(msg: Message) => void} opts.onJump go to the message `msg` answers
 */
export function createMessageExtras({ list, me, lookup, nameOf, onReply, onEdit, onReact, onJump }) {
  /** The message whose picker is open. @type {number | null} */
  let pickerFor = null;

  /** @param {Message} msg @param {string} emoji */
  const mine = (msg, emoji) => (msg.reactions ?? []).some((r) => r.emoji === emoji && r.user_ids.includes(me.id));

  list.addEventListener('click', (event) => {
    const target = /** @type {Element} */ (event.target);
    const button = target.closest?.('[data-action]');
    const li = button?.closest('li[data-id]');
    const msg = li ? lookup(Number(/** @type {HTMLElement} */ (li).dataset.id)) : null;
    if (!button || !li || !msg || !list.contains(li)) return;
    const action = /** @type {HTMLElement} */ (button).dataset.action;
    const emoji = /** @type {HTMLElement} */ (button).dataset.emoji ?? '';
    if (action === 'reply') onReply(msg);
    else if (action === 'edit') onEdit(msg);
    else if (action === 'jump') onJump(msg);
    else if (action === 'react') togglePicker(msg, /** @type {HTMLElement} */ (li));
    else if (action === 'pick' || action === 'toggle') {
      if (action === 'pick') closePicker();
      onReact(msg, emoji, !mine(msg, emoji));
    }
  });
  list.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && pickerFor !== null) {
      const li = list.querySelector(`li[data-id="${pickerFor}"]`);
      closePicker();
      /** @type {HTMLElement | null} */ (li?.querySelector('[data-action="react"]') ?? null)?.focus();
    }
  });

  /** @param {Message} msg @param {HTMLElement} li */
  function togglePicker(msg, li) {
    const open = pickerFor === msg.id;
    closePicker();
    if (open) return;
    pickerFor = msg.id;
    const node = picker(msg);
    li.querySelector('.msg-body')?.append(node);
    /** @type {HTMLElement | null} */ (node.querySelector('button'))?.focus();
  }

  function closePicker() {
    pickerFor = null;
    for (const node of list.querySelectorAll('.picker')) node.remove();
  }

  /** @param {Message} msg */
  function picker(msg) {
    return el('div', { className: 'picker', role: 'group', 'aria-label': 'Pick a reaction' },
      COMMON_EMOJI.map((emoji) => el('button', {
        type: 'button', className: `picker-emoji${mine(msg, emoji) ? ' mine' : ''}`,
        'data-action': 'pick', 'data-emoji': emoji,
        'aria-label': `React with ${emoji}`, 'aria-pressed': mine(msg, emoji) ? 'true' : 'false',
      }, emoji)));
  }

  /** The quote of the message `msg` answers (null for none). @param {Message} msg */
  function quote(msg) {
    if (!msg.reply_to) return null;
    const parent = lookup(msg.reply_to);
    const text = parent ? shorten(textOf(parent), QUOTE_CHARS) : 'an earlier message';
    // The name is the visible text behind "Replying to " (axe: the name
    // must contain what is shown).
    return el('button', {
      type: 'button', className: 'msg-quote', 'data-action': 'jump', title: 'Go to the message this answers',
    },
    el('span', { className: 'visually-hidden' }, 'Replying to '),
    parent ? [el('span', { className: 'msg-quote-author' }, parent.author.name), ': '] : null,
    el('span', { className: 'msg-quote-text' }, text));
  }

  /** "(edited)", with the time it was. @param {Message} msg */
  function edited(msg) {
    if (!msg.edited_at) return null;
    return el('span', { className: 'msg-edited', title: `Edited ${formatFull(msg.edited_at)}` }, '(edited)');
  }

  /** @param {Message} msg */
  function reactions(msg) {
    const list = msg.reactions ?? [];
    if (list.length === 0) return null;
    return el('div', { className: 'reactions', role: 'group', 'aria-label': 'Reactions' },
      list.map((r) => {
        const names = r.user_ids.map((id) => (id === me.id ? 'you' : nameOf(id))).filter((n) => n !== null);
        const who = whoText(/** @type {string[]} */ (names), r.count);
        const ours = r.user_ids.includes(me.id);
        return el('button', {
          type: 'button', className: `reaction${ours ? ' mine' : ''}`,
          'data-action': 'toggle', 'data-emoji': r.emoji, title: `${who} reacted with ${r.emoji}`,
          'aria-pressed': ours ? 'true' : 'false', 'aria-label': `${r.emoji} ${r.count}: ${who}`,
        }, el('span', { className: 'reaction-emoji' }, r.emoji), el('span', { className: 'reaction-count' }, String(r.count)));
      }));
  }

  /** Reply, React and (ours) Edit. @param {Message} msg */
  function tools(msg) {
    const who = msg.author.name;
    return el('span', { className: 'msg-tools' },
      el('button', { type: 'button', className: 'mini-btn', 'data-action': 'reply', 'aria-label': `Reply to ${who}` }, 'Reply'),
      el('button', { type: 'button', className: 'mini-btn', 'data-action': 'react', 'aria-label': `React to the message from ${who}` }, 'React'),
      msg.author.id === me.id
        ? el('button', { type: 'button', className: 'mini-btn', 'data-action': 'edit', 'aria-label': 'Edit your message' }, 'Edit')
        : null);
  }

  return {
    quote,
    edited,
    reactions,
    tools,
    /** The picker, when it is open for this message (its node was redrawn). @param {Message} msg */
    picker: (msg) => (pickerFor === msg.id ? picker(msg) : null),
    /** The message is gone. @param {number} id */
    forget(id) {
      if (pickerFor === id) pickerFor = null;
    },
  };
}

/** @typedef {ReturnType<typeof createMessageExtras>} MessageExtras */
