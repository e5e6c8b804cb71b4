// @ts-check
// Tiny DOM helpers. Everything user-supplied goes in as text nodes, never as
// HTML: `el()` has no way to set innerHTML on purpose.

/** document.getElementById that fails loudly when the page and code disagree. */
/** @param {string} id */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from index.html`);
  return node;
}

/**
 * Creates an element. `props` sets properties (className, textContent, …) or,
 * for names containing a dash (aria-*, data-*), attributes. `children` are
 * nodes or strings (strings become text nodes), or arrays of them; null,
 * undefined and false are skipped.
 * @param {string} tag
 * @param {Record<string, any>} [props]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.includes('-')) node.setAttribute(key, value === true ? '' : String(value));
    else /** @type {Record<string, any>} */ (/** @type {unknown} */ (node))[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}
