// The "Delete" action on a message: button → inline confirm → busy → gone
// (or an error in place). Its state lives here, by message id, so a redraw
// of the list (a new message, a catch-up) does not lose a half-done confirm.

import { el } from '../dom.js';
import { focusConfirm, inlineConfirm } from './confirm.js';

/**
 * @param {object} opts
 * @param {HTMLElement} opts.list            the message list the actions live in
 * @param {(msg: object) => Promise<void>} opts.onDelete rejects with an Error to show
 */
export function createDeleteAction({ list, onDelete }) {
  const states = new Map(); // message id → {step: 'confirm'|'busy'|'error', error}

  function set(msg, state, focus) {
    if (state) states.set(msg.id, state);
    else states.delete(msg.id);
    const node = render(msg);
    list.querySelector(`li[data-id="${msg.id}"] .msg-actions`)?.replaceWith(node);
    if (focus === 'confirm') focusConfirm(node);
    if (focus === 'button') node.querySelector('button')?.focus();
  }

  async function confirmed(msg) {
    set(msg, { step: 'busy' });
    try {
      await onDelete(msg);
      states.delete(msg.id);
    } catch (error) {
      set(msg, { step: 'error', error: error.message }, 'button');
    }
  }

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

  function render(msg) {
    const state = states.get(msg.id);
    return el('div', { className: `msg-actions${state ? ' open' : ''}` }, body(msg, state));
  }

  return {
    render,
    /** The message is gone: nothing to remember about it. */
    forget(id) {
      states.delete(id);
    },
  };
}
