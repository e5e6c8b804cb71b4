// @ts-check
// Search (issue #11): the box in the top bar and the results panel. The
// matched words are marked with <mark> around text nodes cut from the
// message at the server's UTF-16 ranges; no HTML is ever parsed. The view
// draws and reports intents; search.js asks the server.

import { byId, el } from '../dom.js';
import { formatTime } from '../format.js';

/**
 * @typedef {import('../api.js').SearchHit} SearchHit
 * @typedef {import('../state.js').Message} Message
 */

/**
 * The text with the ranges marked: strings and <mark> elements, in order.
 * Ranges out of order, overlapping or outside the text are skipped, so a
 * wrong answer can only mark less.
 * @param {string} text
 * @param {[number, number][]} ranges
 * @returns {(string | HTMLElement)[]}
 */
export function highlighted(text, ranges) {
  /** @type {(string | HTMLElement)[]} */
  const parts = [];
  let at = 0;
  for (const [start, end] of ranges) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < at || end <= start || end > text.length) continue;
    if (start > at) parts.push(text.slice(at, start));
    parts.push(el('mark', {}, text.slice(start, end)));
    at = end;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

/**
 * @param {object} intents
 * @param {(query: string) => void} intents.onSearch the user submitted a query
 * @param {() => void} intents.onMore older results
 * @param {(hit: SearchHit) => void} intents.onOpen a result was chosen
 * @param {() => void} intents.onClose
 */
export function createSearchView({ onSearch, onMore, onOpen, onClose }) {
  const form = byId('search-form');
  const input = /** @type {HTMLInputElement} */ (byId('search-input'));
  const panel = byId('search-panel');
  const status = byId('search-status');
  const list = byId('search-results');
  const more = byId('search-more');
  const context = byId('search-context');
  const contextList = byId('search-context-list');
  /** @type {Map<number, SearchHit>} */
  const shown = new Map();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = input.value.trim();
    if (query) onSearch(query);
  });
  more.addEventListener('click', () => onMore());
  byId('search-close').addEventListener('click', () => onClose());
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') onClose();
  });
  // One listener for the whole list (results come and go).
  list.addEventListener('click', (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    const button = target.closest('button[data-id]');
    const hit = button && shown.get(Number(button.getAttribute('data-id')));
    if (hit) onOpen(hit);
  });

  /** @param {SearchHit} hit */
  function row(hit) {
    const { message } = hit;
    const where = message.room.startsWith('dm-') ? 'direct' : `#${message.room}`;
    return el('li', {},
      el('button', { type: 'button', className: 'search-hit', 'data-id': message.id },
        el('span', { className: 'search-hit-meta' }, `${message.author.name} in ${where} · ${formatTime(message.ts)}`),
        el('span', { className: 'search-hit-text' }, highlighted(message.text, hit.highlight))));
  }

  return {
    /** A new search has begun. @param {string} query */
    started(query) {
      panel.hidden = false;
      shown.clear();
      list.replaceChildren();
      context.hidden = true;
      more.hidden = true;
      status.textContent = `Searching for ${query}…`;
    },

    /** A page of results arrived. @param {SearchHit[]} hits @param {boolean} hasMore */
    results(hits, hasMore) {
      for (const hit of hits) shown.set(hit.message.id, hit);
      list.append(...hits.map(row));
      more.hidden = !hasMore;
      status.textContent = shown.size === 0 ? 'No messages found.' : `${shown.size}${hasMore ? '+' : ''} found.`;
    },

    /** @param {string} message */
    failed(message) {
      status.textContent = message;
      more.hidden = true;
    },

    /**
     * A result too far back for the room's timeline: the messages around it, here.
     * @param {Message[]} messages @param {SearchHit} hit
     */
    showContext(messages, hit) {
      contextList.replaceChildren(...messages.map((m) => el('li', { className: m.id === hit.message.id ? 'search-hit target' : 'search-hit' },
        el('span', { className: 'search-hit-meta' }, `${m.author.name} · ${formatTime(m.ts)}`),
        el('span', { className: 'search-hit-text' }, m.id === hit.message.id ? highlighted(m.text, hit.highlight) : m.text))));
      context.hidden = false;
      context.scrollIntoView({ block: 'nearest' });
    },

    close() {
      panel.hidden = true;
      shown.clear();
      list.replaceChildren();
      context.hidden = true;
    },
  };
}
