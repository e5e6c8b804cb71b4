// @ts-check
// Above the message box, the draft as it will look once sent, while it
// holds a fenced code block (a line starting with ``` or ~~~): code is
// where formatting surprises most. Drawn by the same formatMessage as the
// message list, at most once a frame, however fast the typing.

import { byId, el } from '../dom.js';
import { formatMessage } from '../markdown.js';

// A fence opens a line (up to three spaces in, as CommonMark allows).
const FENCE = /^ {0,3}(?:```|~~~)/m;

/**
 * @param {HTMLTextAreaElement} input the message box
 * @param {string} meName whose mentions are ours
 */
export function createComposerPreview(input, meName) {
  const box = byId('composer-preview');
  let queued = false;

  function draw() {
    queued = false;
    const text = input.value.trim();
    const show = FENCE.test(text);
    if (!show) {
      if (!box.hidden) {
        box.hidden = true;
        box.replaceChildren();
      }
      return;
    }
    box.replaceChildren(
      el('p', { className: 'composer-preview-title' }, 'Preview'),
      el('div', { className: 'msg-text' }, formatMessage(text, meName)));
    box.hidden = false;
  }

  return {
    /** Redraws at the next frame (the draft changed). */
    update() {
      if (queued) return;
      queued = true;
      requestAnimationFrame(draw);
    },
    /** Redraws now (the draft was sent or replaced). */
    now: draw,
  };
}
