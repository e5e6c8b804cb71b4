// @ts-check
// Uploading files (issue #11): POST /api/rooms/{room}/uploads as
// multipart/form-data, through XMLHttpRequest for its upload progress
// (fetch reports none). The session cookie travels by itself. The server
// answers with the stored message, which also reaches the room (and us) as
// a `message` event; merging both is harmless, they have one id.

import { ApiError } from './api.js';
import { newClientId } from './state.js';

/** @typedef {import('./state.js').Message} Message */

/**
 * Uploads `files` (with an optional caption) to `room`.
 * @param {string} room
 * @param {File[]} files
 * @param {{ text?: string, onProgress?: (fraction: number) => void }} [opts]
 * @returns {Promise<Message>} the stored message
 */
export function uploadFiles(room, files, { text = '', onProgress = () => {} } = {}) {
  const form = new FormData();
  for (const file of files) form.append('file', file, file.name || 'pasted');
  if (text.trim()) form.append('text', text);
  form.append('client_id', newClientId());
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/rooms/${encodeURIComponent(room)}/uploads`);
    xhr.responseType = 'json';
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300 && body?.message) return resolve(body.message);
      const error = body?.error ?? {};
      reject(new ApiError(xhr.status, error.code ?? 'internal', describe(error, xhr.status)));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'The upload did not reach the server.')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.')));
    xhr.send(form);
  });
}

/** A refusal as the page says it. @param {{ code?: string, message?: string, retry_after_ms?: number }} error @param {number} status */
function describe(error, status) {
  if (error.code === 'rate_limited' && error.retry_after_ms) {
    const minutes = Math.ceil(error.retry_after_ms / 60_000);
    return `${error.message ?? 'Too many uploads'} (about ${minutes} min)`;
  }
  return error.message ?? `HTTP ${status}`;
}

/** "12 KB", "3.4 MB": a file's size for people. @param {number} bytes */
export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/**
 * A message's text, or for one that is only files, what they are ("file:
 * minutes.txt"): for quotes, notifications and screen readers.
 * @param {Message} msg
 */
export function textOf(msg) {
  if (msg.text || !msg.attachments?.length) return msg.text;
  const names = msg.attachments.map((a) => a.name).join(', ');
  return `${msg.attachments.length === 1 ? 'file' : 'files'}: ${names}`;
}
