// @ts-check
// Search (issue #11): asks `GET /api/search` for what the search view
// wants, a page at a time, and opens a chosen result (chat.js decides how).
// Only the answer to the latest request is shown: a slow answer to an
// older query never replaces a newer one.

import * as api from './api.js';
import { createSearchView } from './views/search.js';

const PAGE = 20;

/**
 * @typedef {import('./api.js').SearchHit} SearchHit
 * @typedef {ReturnType<typeof createSearchView>} SearchView
 */

/**
 * @param {object} opts
 * @param {(hit: SearchHit, view: SearchView) => Promise<void>} opts.onOpen open a result in its room
 */
export function createSearch({ onOpen }) {
  let query = '';
  let request = 0;
  /** The id older results start before, or null before the first page. @type {number | null} */
  let oldest = null;
  const view = createSearchView({
    onSearch: (q) => {
      query = q;
      oldest = null;
      view.started(q);
      page(null);
    },
    onMore: () => {
      if (oldest) page(oldest);
    },
    onOpen: (hit) => {
      onOpen(hit, view).catch((/** @type {Error} */ e) => view.failed(e.message));
    },
    onClose: () => {
      request += 1;
      view.close();
    },
  });

  /** @param {number | null} before */
  async function page(before) {
    const mine = ++request;
    try {
      const { results } = await api.search({ q: query, before, limit: PAGE });
      if (mine !== request) return;
      if (results.length) oldest = results[results.length - 1].message.id;
      view.results(results, results.length === PAGE);
    } catch (e) {
      if (mine === request) view.failed(/** @type {Error} */ (e).message);
    }
  }
}
