// @ts-check
// Attaching files (issue #11): the paperclip button beside the composer,
// files dropped on the conversation, or pasted into the message box (an
// image copied from another page or a screenshot). The text in the box
// goes with them as their caption. While the upload runs, a progress bar
// says how far it is; a refusal (too large, too many) is shown in its place.

import { byId } from '../dom.js';
import { uploadFiles } from '../uploads.js';

/**
 * @typedef {import('../state.js').Message} Message
 * @typedef {import('../state.js').Room} Room
 */

/**
 * @param {import('../store.js').Store} store
 * @param {object} opts
 * @param {(room: Room, msg: Message) => void} opts.onUploaded
 * @param {() => string} opts.takeText the composer's text, which it then clears
 */
export function createAttach(store, { onUploaded, takeText }) {
  const button = byId('attach');
  const picker = /** @type {HTMLInputElement} */ (byId('attach-input'));
  const status = byId('upload-status');
  const bar = /** @type {HTMLProgressElement} */ (byId('upload-progress'));
  const label = byId('upload-label');
  const conversation = byId('messages');
  const input = byId('composer-input');
  let busy = false;

  /** @param {File[]} files */
  async function send(files) {
    const room = store.current;
    if (!room || files.length === 0 || busy) return;
    busy = true;
    status.hidden = false;
    status.classList.remove('failed');
    bar.hidden = false;
    bar.value = 0;
    label.textContent = files.length === 1 ? `Uploading ${files[0].name || 'image'}…` : `Uploading ${files.length} files…`;
    try {
      const msg = await uploadFiles(room.name, files, {
        text: takeText(),
        onProgress: (fraction) => { bar.value = fraction; },
      });
      onUploaded(room, msg);
      status.hidden = true;
    } catch (error) {
      bar.hidden = true;
      status.classList.add('failed');
      label.textContent = `Not uploaded: ${error.message}`;
    } finally {
      busy = false;
      picker.value = '';
    }
  }

  button.addEventListener('click', () => picker.click());
  picker.addEventListener('change', () => send([...(picker.files ?? [])]));
  input.addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (files.length === 0) return; // text pastes as text
    event.preventDefault();
    send(files);
  });
  conversation.addEventListener('dragover', (event) => {
    if (!event.dataTransfer?.types.includes('Files')) return;
    event.preventDefault();
    conversation.classList.add('drop-target');
  });
  conversation.addEventListener('dragleave', () => conversation.classList.remove('drop-target'));
  conversation.addEventListener('drop', (event) => {
    conversation.classList.remove('drop-target');
    const files = [...(event.dataTransfer?.files ?? [])];
    if (files.length === 0) return;
    event.preventDefault();
    send(files);
  });
  byId('upload-dismiss').addEventListener('click', () => { status.hidden = true; });
}
