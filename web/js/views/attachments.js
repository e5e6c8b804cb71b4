// @ts-check
// A message's files (issue #11): an image the server could show (it has
// width and height) as its thumbnail, its size set before it loads so
// nothing jumps, a click opening it full size in a dialog (Escape or the
// button closes it); any other file as a download link with its name and
// size. Built with DOM calls; names go in as text.

import { el } from '../dom.js';
import { formatSize } from '../uploads.js';

/** The box a thumbnail is shown in (the server makes them this big). */
const THUMB_BOX = 320;

/**
 * @typedef {import('../state.js').Attachment} Attachment
 * @typedef {import('../state.js').Message} Message
 */

/** The thumbnail's size on screen for an image of width×height. @param {number} width @param {number} height */
export function thumbSize(width, height) {
  const scale = Math.min(1, THUMB_BOX / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** @param {Attachment} a */
function image(a) {
  const size = thumbSize(/** @type {number} */ (a.width), /** @type {number} */ (a.height));
  return el('button', {
    type: 'button', className: 'attachment-image', 'data-action': 'view-image', 'data-file': a.id,
    title: `${a.name}: open full size`,
  }, el('img', {
    src: `/files/${encodeURIComponent(a.id)}/thumb`, alt: a.name, width: size.width, height: size.height,
    loading: 'lazy', decoding: 'async',
  }));
}

/** @param {Attachment} a */
function download(a) {
  return el('a', {
    className: 'attachment-file', href: `/files/${encodeURIComponent(a.id)}`, download: a.name,
  }, el('span', { className: 'attachment-name' }, a.name), el('span', { className: 'attachment-size' }, formatSize(a.size)));
}

/** A message's files, or null when it has none. @param {Message} msg */
export function attachmentsOf(msg) {
  const files = msg.attachments ?? [];
  if (files.length === 0) return null;
  return el('div', { className: 'attachments' }, files.map((a) => (a.width && a.height ? image(a) : download(a))));
}

/**
 * The full-size view: one dialog for the page, opened by a click on a
 * thumbnail in `list` (event delegation, as the other message tools).
 * @param {HTMLElement} list
 * @param {(id: number) => Message | null} lookup
 */
export function createImageViewer(list, lookup) {
  /** @type {HTMLDialogElement | null} */
  let dialog = null;

  function ensure() {
    if (dialog) return dialog;
    const close = el('button', { type: 'button', className: 'mini-btn image-viewer-close' }, 'Close');
    dialog = /** @type {HTMLDialogElement} */ (el('dialog', { className: 'image-viewer', 'aria-label': 'Image' },
      el('img', { className: 'image-viewer-img', alt: '' }),
      el('p', { className: 'image-viewer-caption' }),
      close));
    close.addEventListener('click', () => dialog?.close());
    // A click on the backdrop (the dialog itself, outside its content) closes it.
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) dialog?.close();
    });
    document.body.append(dialog);
    return dialog;
  }

  list.addEventListener('click', (event) => {
    const button = /** @type {Element} */ (event.target).closest?.('[data-action="view-image"]');
    const li = button?.closest('li[data-id]');
    if (!button || !li) return;
    const msg = lookup(Number(/** @type {HTMLElement} */ (li).dataset.id));
    const file = msg?.attachments?.find((a) => a.id === /** @type {HTMLElement} */ (button).dataset.file);
    if (!file) return;
    const view = ensure();
    const img = /** @type {HTMLImageElement} */ (view.querySelector('img'));
    img.src = `/files/${encodeURIComponent(file.id)}`;
    img.alt = file.name;
    if (file.width && file.height) {
      img.width = file.width;
      img.height = file.height;
    }
    /** @type {HTMLElement} */ (view.querySelector('.image-viewer-caption')).textContent = `${file.name} · ${formatSize(file.size)}`;
    view.showModal();
  });
}
