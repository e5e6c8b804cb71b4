// @ts-check
// An inline "are you sure?" in place of the button that asked. Dialogs
// (window.confirm) block the page and cannot be styled or tested; this is
// plain buttons in the flow, reachable by keyboard, Escape backs out.

import { el } from '../dom.js';

/**
 * @param {object} opts
 * @param {string} opts.question   e.g. "Delete this message?"
 * @param {string} opts.confirm    the label of the button that goes ahead
 * @param {() => void} opts.onConfirm
 * @param {() => void} opts.onCancel
 */
export function inlineConfirm({ question, confirm, onConfirm, onCancel }) {
  const node = el('span', { className: 'confirm', role: 'group', 'aria-label': question },
    el('span', { className: 'confirm-question' }, question),
    el('button', { type: 'button', className: 'mini-btn danger', onclick: onConfirm }, confirm),
    el('button', { type: 'button', className: 'mini-btn', onclick: onCancel }, 'Cancel'));
  node.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    event.stopPropagation(); // do not also close a drawer around it
    onCancel();
  });
  return node;
}

/** Moves focus to the go-ahead button once the confirm is in the page. @param {HTMLElement} node */
export function focusConfirm(node) {
  /** @type {HTMLElement | null} */ (node.querySelector('.danger'))?.focus();
}
