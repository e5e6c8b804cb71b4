// @ts-check
// The message box: Enter sends, Shift+Enter makes a new line, the box grows
// with its text, and typing is reported (throttling lives in typing.js).
// Above it, a standing note while we are muted in the open room; it clears
// itself when the mute runs out.
//
// It also edits and replies (issue #10): a bar above the box says which
// message ("Replying to …", "Editing your message") until the text goes or
// Escape cancels; the up arrow in an empty box edits our last message.
// Typing `@` offers the open room's members (and `@room`) to mention.
// A draft with a code block shows formatted above the box (issue #11,
// composer-preview.js).

import { byId, el } from '../dom.js';
import { shorten } from '../format.js';
import { mutedText } from '../outbox.js';
import { createComposerPreview } from './composer-preview.js';

const MAX_HEIGHT_PX = 200;
const MUTE_END_SLACK_MS = 100;
const MENTION_CHOICES = 8;
const QUOTE_CHARS = 80;
// `@` not after a name character, then what is typed of the name, up to the caret.
const PARTIAL_MENTION = /(^|[^A-Za-z0-9_.-])@([A-Za-z0-9_.-]*)$/;

/**
 * @typedef {import('../state.js').Message} Message
 * What the next submit does besides sending a new message.
 * @typedef {{ kind: 'reply', msg: Message } | { kind: 'edit', msg: Message } | null} Mode
 */

/**
 * @param {import('../store.js').Store} store
 * @param {object} opts
 * @param {(text: string, replyTo: number | null) => void} opts.onSend
 * @param {(msg: Message, text: string) => Promise<void>} [opts.onEdit] rejects with an Error to show
 * @param {() => Message | null} [opts.lastOwn] our newest message in the open room
 * @param {(hasText: boolean) => void} opts.onInput
 */
export function createComposer(store, { onSend, onEdit = async () => {}, lastOwn = () => null, onInput }) {
  const form = byId('composer');
  const input = /** @type {HTMLTextAreaElement} */ (byId('composer-input'));
  const notice = byId('composer-notice');
  const context = byId('composer-context');
  const contextText = byId('composer-context-text');
  const mentionList = byId('mention-list');
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let muteTimer;
  /** @type {Mode} */
  let mode = null;
  /** The names offered for the `@` being typed, and the one chosen. */
  let choices = /** @type {string[]} */ ([]);
  let chosen = 0;

  const preview = createComposerPreview(input, store.me.name);

  // Every change of the draft goes through here (typed, sent, replaced):
  // the box's height and the preview follow it.
  function grow() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, MAX_HEIGHT_PX)}px`;
    preview.update();
  }

  /** @param {Mode} next @param {string} [error] */
  function setMode(next, error = '') {
    mode = next;
    context.hidden = mode === null;
    if (!mode) return;
    const what = mode.kind === 'edit' ? 'Editing your message' : `Replying to ${mode.msg.author.name}: ${shorten(mode.msg.text, QUOTE_CHARS)}`;
    contextText.replaceChildren(what, error ? el('span', { className: 'action-error', role: 'alert' }, ` Not saved: ${error}`) : '');
  }

  function cancel() {
    const wasEdit = mode?.kind === 'edit';
    setMode(null);
    if (wasEdit) {
      input.value = '';
      grow();
    }
    input.focus();
  }

  async function submit() {
    const text = input.value.trim();
    if (!text) return;
    const now = mode;
    if (now?.kind === 'edit') {
      if (text !== now.msg.text) {
        try {
          await onEdit(now.msg, text);
        } catch (error) {
          setMode(now, error.message);
          return;
        }
      }
      setMode(null);
    } else {
      onSend(text, now?.kind === 'reply' ? now.msg.id : null);
      setMode(null);
    }
    input.value = '';
    grow();
    closeMentions();
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

  // ---- mentions -------------------------------------------------------------

  /** The `@` being typed before the caret, if any. */
  function partial() {
    const before = input.value.slice(0, input.selectionStart ?? input.value.length);
    const match = PARTIAL_MENTION.exec(before);
    return match ? { start: before.length - match[2].length - 1, typed: match[2] } : null;
  }

  function offerMentions() {
    const room = store.current;
    const at = partial();
    if (!room || !at) return closeMentions();
    const typed = at.typed.toLowerCase();
    const names = [...room.members.values()].map((u) => u.name).sort((a, b) => a.localeCompare(b));
    choices = [...names, 'room'].filter((name) => name.toLowerCase().startsWith(typed)).slice(0, MENTION_CHOICES);
    chosen = 0;
    renderMentions();
  }

  function renderMentions() {
    mentionList.hidden = choices.length === 0;
    mentionList.replaceChildren(...choices.map((name, i) => el('li', {
      id: `mention-choice-${i}`, role: 'option', className: 'mention-choice',
      'aria-selected': i === chosen ? 'true' : 'false',
      onmousedown: (/** @type {MouseEvent} */ event) => {
        event.preventDefault(); // the box keeps the focus
        choose(i);
      },
    }, `@${name}`, name === 'room' ? el('span', { className: 'mention-hint' }, ' everyone here') : null)));
  }

  function closeMentions() {
    choices = [];
    mentionList.hidden = true;
    mentionList.replaceChildren();
  }

  /** Puts the chosen name in place of what was typed of it. @param {number} i */
  function choose(i) {
    const at = partial();
    const name = choices[i];
    if (!at || !name) return closeMentions();
    const caret = at.start + 1 + at.typed.length;
    input.value = `${input.value.slice(0, at.start)}@${name} ${input.value.slice(caret)}`;
    const after = at.start + name.length + 2;
    input.setSelectionRange(after, after);
    closeMentions();
    grow();
  }

  /** Keys for the open list of names; true when one was used. @param {KeyboardEvent} event */
  function mentionKey(event) {
    if (choices.length === 0) return false;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      chosen = (chosen + (event.key === 'ArrowDown' ? 1 : choices.length - 1)) % choices.length;
      renderMentions();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      choose(chosen);
    } else if (event.key === 'Escape') {
      closeMentions();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  // ---- events ---------------------------------------------------------------

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  byId('composer-cancel').addEventListener('click', cancel);
  input.addEventListener('keydown', (event) => {
    if (event.isComposing || mentionKey(event)) return;
    // isComposing: Enter that confirms an IME candidate is not a send.
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      submit();
    } else if (event.key === 'Escape' && mode) {
      event.preventDefault();
      cancel();
    } else if (event.key === 'ArrowUp' && input.value === '' && !mode) {
      const msg = lastOwn();
      if (msg) {
        event.preventDefault();
        startEdit(msg);
      }
    }
  });
  input.addEventListener('input', () => {
    grow();
    offerMentions();
    // Emptied while replying or editing: nothing left to reply or save.
    if (input.value === '' && mode?.kind === 'edit') setMode(null);
    onInput(input.value.trim().length > 0);
  });
  input.addEventListener('blur', closeMentions);
  store.subscribe((change) => {
    if (!('room' in change) || !store.isOpen(change.room)) return;
    if (change.type === 'open') {
      input.placeholder = `Message #${change.room.name}`;
      setMode(null);
      closeMentions();
    }
    if (change.type === 'open' || change.type === 'muted') renderMuted();
    // The message being replied to or edited was deleted.
    if (change.type === 'removed' && mode?.msg.id === change.id) cancel();
  });

  /** @param {Message} msg */
  function startEdit(msg) {
    setMode({ kind: 'edit', msg });
    input.value = msg.text;
    grow();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  return {
    focus() {
      input.focus();
    },
    /** The text typed so far, for the caption of an upload; the box is then empty. */
    takeText() {
      if (mode?.kind === 'edit') return '';
      const text = input.value.trim();
      input.value = '';
      grow();
      setMode(null);
      return text;
    },
    /** @param {Message} msg */
    startReply(msg) {
      if (mode?.kind === 'edit') input.value = '';
      setMode({ kind: 'reply', msg });
      grow();
      input.focus();
    },
    startEdit,
  };
}
