// @ts-check
// The message box: Enter sends, Shift+Enter makes a new line, the box grows
// with its text, and typing is reported (throttling lives in typing.js).
// Above it, a standing note while we are muted in the open room; it clears
// itself when the mute runs out.

import { byId } from '../dom.js';
import { mutedText } from '../outbox.js';

const MAX_HEIGHT_PX = 200;
const MUTE_END_SLACK_MS = 100;

/**
 * @param {import('../store.js').Store} store
 * @param {object} opts
 * @param {(text: string) => void} opts.onSend
 * @param {(hasText: boolean) => void} opts.onInput
 */
export function createComposer(store, { onSend, onInput }) {
  const form = byId('composer');
  const input = /** @type {HTMLTextAreaElement} */ (byId('composer-input'));
  const notice = byId('composer-notice');
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let muteTimer;

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

  function renderMuted() {
    clearTimeout(muteTimer);
    const room = store.current;
    const left = room ? room.mutedUntil - Date.now() : 0;
    const text = room && left > 0 ? mutedText(room) : '';
    if (notice.textContent !== text) notice.textContent = text;
    if (left > 0) muteTimer = setTimeout(renderMuted, left + MUTE_END_SLACK_MS);
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
  store.subscribe((change) => {
    if (!('room' in change) || !store.isOpen(change.room)) return;
    if (change.type === 'open') input.placeholder = `Message #${change.room.name}`;
    if (change.type === 'open' || change.type === 'muted') renderMuted();
  });

  return {
    focus() {
      input.focus();
    },
  };
}
