// The message box: Enter sends, Shift+Enter makes a new line, the box grows
// with its text, and typing is reported (throttling lives in typing.js).

import { byId } from '../dom.js';

const MAX_HEIGHT_PX = 200;

/**
 * @param {object} opts
 * @param {(text: string) => void} opts.onSend
 * @param {(hasText: boolean) => void} opts.onInput
 */
export function createComposer({ onSend, onInput }) {
  const form = byId('composer');
  const input = byId('composer-input');
  const notice = byId('composer-notice');

  function grow() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, MAX_HEIGHT_PX)}px`;
  }

  function submit() {
    const text = input.value.trim();
    if (!text) return;
    onSend(text);
    input.value = '';
    grow();
    input.focus();
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener('keydown', (event) => {
    // isComposing: Enter that confirms an IME candidate is not a send.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener('input', () => {
    grow();
    onInput(input.value.trim().length > 0);
  });

  return {
    focus() {
      input.focus();
    },
    setRoom(name) {
      input.placeholder = `Message #${name}`;
    },
    /** A standing note about sending here (a mute); '' hides it. */
    setNotice(text) {
      if (notice.textContent !== text) notice.textContent = text;
    },
  };
}
