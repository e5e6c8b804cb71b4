// @ts-check
// The "Delete" action on a message: button → inline confirm → busy → gone
// (or an error in place). Its state lives here, by message id, so a redraw
// of the list (a new message, a catch-up) does not lose a half-done confirm.

import { el } from '../dom.js';
import { focusConfirm, inlineConfirm } from './confirm.js';

/**
 * @typedef {import('../state.js').Message} Message
 * Where a deletion stands; none: the plain button.
 * @typedef {{ step: 'confirm' } | { step: 'busy' } | { step: 'error', error: string }} Step
 */

/**
 * @param {object} opts
 * @param {HTMLElement} opts.list            the message list the actions live in
 * @param {(msg: Message) => Promise<void>} opts.onDelete rejects with an Error to show
 */
export function createDeleteAction({ list, onDelete }) {
  /** message id → where its deletion stands. @type {Map<number, Step>} */
  const states = new Map();

/** @param {Message} msg @param {Step | null} state @param {'confirm' | 'button'} [focus] */
  function set(msg, state, focus) {
    if (state) states.set(msg.id, state);
    else states.delete(msg.id);
    const node = render(msg);
    list.querySelector(`li[data-id="${msg.id}"] .msg-actions`)?.replaceWith(node);
    if (focus === 'confirm') focusConfirm(node);
    if (focus === 'button') node.querySelector('button')?.focus();
  }

/** @param {Message} msg */
  async function confirmed(msg) {
    set(msg, { step: 'busy' });
    try {
      await onDelete(msg);
      states.delete(msg.id);
    } catch (error) {
      set(msg, { step: 'error', error: error.message }, 'button');
    }
  }

/** @param {Message} msg @param {Step | undefined} state */
  function body(msg, state) {
    if (!state) {
      return el('button', {
        type: 'button', className: 'mini-btn', 'aria-label': `Delete message from ${msg.author.name}`,
        onclick: () => set(msg, { step: 'confirm' }, 'confirm'),
      }, 'Delete');
    }
    if (state.step === 'confirm') {
      return inlineConfirm({
        question: 'Delete this message?', confirm: 'Delete',
        onConfirm: () => confirmed(msg), onCancel: () => set(msg, null, 'button'),
      });
    }
    if (state.step === 'busy') return el('span', { className: 'confirm-question', role: 'status' }, 'Deleting…');
    return el('span', { className: 'action-error', role: 'alert' }, `Not deleted: ${state.error}`,
      el('button', { type: 'button', className: 'mini-btn', onclick: () => set(msg, null, 'button') }, 'OK'));
  }

/** @param {Message} msg */
  function render(msg) {
    const state = states.get(msg.id);
    return el('div', { className: `msg-actions${state ? ' open' : ''}` }, body(msg, state));
  }

  return {
    render,
    /** The message is gone: nothing to remember about it. @param {number} id */
    forget(id) {
      states.delete(id);
    },
  };
}
