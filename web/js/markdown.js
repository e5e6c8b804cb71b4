// @ts-check
// Formatting (issue #11): the one place where a message's Markdown becomes
// what the page shows. The server stores and sends a message's text as its
// author wrote it; every client renders it as it likes (docs/protocol.md,
// "Formatting"; docs/architecture.md says why here).
//
// markdown-it (pinned in web/package-lock.json, embedded by build.rs) only
// parses: from its "zero" preset, with just the rules of the subset turned
// on, so headings, tables, images, horizontal rules, indented code and raw
// HTML stay the text they were written as. Its tokens are then turned into
// elements here with createElement and text nodes: no HTML string is ever
// made or parsed, so nothing in a message can become markup, and the page
// needs no sanitiser. Links are only http(s) and mailto (checked twice: by
// markdown-it's validateLink, which leaves anything else as text, and again
// as the <a> is made). Text outside code keeps what unformatted messages
// always had: bare http(s) links and highlighted mentions (format.js).
//
// Bounded: markdown-it stops nesting at MAX_NESTING levels; a message that
// reaches that is shown as plain text whole (markdown-it would drop what is
// deeper). Quotes and lists deeper than MAX_DEPTH are flattened: their text
// is shown, without more indentation. The renderer walks the tokens with a
// stack, never recursively, so no input can exhaust the call stack.

import MarkdownIt from '../vendor/markdown-it.esm.min.js';
import { el } from './dom.js';
import { linkText, richText, stripBidi } from './format.js';

/** markdown-it's own bound on nested blocks and inline spans. */
const MAX_NESTING = 20;
/** Quotes and lists nest this deep; deeper ones are flattened. */
export const MAX_DEPTH = 5;

// Exactly the rules of the subset: paragraphs, quotes, fenced code, lists;
// emphasis (bold, italic), strikethrough, inline code, links and autolinks,
// backslash escapes, entities, line breaks.
const RULES = [
  'normalize', 'block', 'inline', 'text_join',
  'paragraph', 'blockquote', 'fence', 'list',
  'text', 'newline', 'escape', 'backticks', 'strikethrough', 'emphasis', 'link', 'autolink', 'entity',
  'balance_pairs', 'fragments_join',
];

const md = new MarkdownIt('zero', { html: false, linkify: false, typographer: false, maxNesting: MAX_NESTING });
md.enable(RULES);
// A link markdown-it will not make stays the text it was written as.
md.validateLink = (/** @type {string} */ url) => linkHref(url) !== null;

const CONTAINERS = new Set(['blockquote_open', 'bullet_list_open', 'ordered_list_open']);
const INLINE_TAGS = /** @type {Record<string, string>} */ ({ strong_open: 'strong', em_open: 'em', s_open: 's' });
// A link's label that could be read as an address (one word with a dot, a
// colon or an @: "bank.example", "https://bank.example", "a@bank.example")
// is replaced by the real address, so a link cannot show one site and go to
// another.
const ADDRESS_LIKE = /^\S*[.:@]\S*$/;

/**
 * @typedef {import('../vendor/markdown-it.esm.min.js').Token} Token
 */

/**
 * The URL if it is a link we make (http, https or mailto), else null
 * (javascript:, data:, vbscript:, relative links, anything unparsable).
 * @param {string} candidate
 */
export function linkHref(candidate) {
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'mailto:' ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * A message's text as the nodes to show, formatted. One paragraph (most
 * messages) is its inline nodes alone, as unformatted text always was;
 * anything more is a list of block elements.
 * @param {string} text
 * @param {string} meName whose mentions are marked as ours
 * @param {(Node | string | null)[]} [after] what follows the text on its last line ("edited")
 * @returns {(Node | string)[]}
 */
export function formatMessage(text, meName, after = []) {
  /** @type {(Node | string)[]} */
  const nodes = formatted(text, meName);
  const trailing = /** @type {(Node | string)[]} */ (after.filter((node) => node !== null));
  const last = nodes[nodes.length - 1];
  if (last instanceof HTMLParagraphElement) last.append(...trailing);
  else nodes.push(...trailing);
  return nodes;
}

/** @param {string} text @param {string} meName @returns {Node[]} */
function formatted(text, meName) {
  /** @type {Token[]} */
  let tokens;
  try {
    tokens = md.parse(text, {});
  } catch {
    return richText(text, meName);
  }
  if (tokens.some((token) => token.level >= MAX_NESTING - 1)) return richText(text, meName);
  const blocks = renderBlocks(tokens, meName);
  if (blocks.length === 0) return richText(text, meName);
  if (blocks.length === 1 && blocks[0] instanceof HTMLParagraphElement) return [...blocks[0].childNodes];
  return blocks;
}

/** @param {Token[]} tokens @param {string} me @returns {Node[]} */
function renderBlocks(tokens, me) {
  const root = el('div');
  /** Where each open token's children go (the same node again where it made none). */
  const stack = [root];
  let depth = 0;
  for (const token of tokens) {
    const top = stack[stack.length - 1];
    if (token.type === 'inline') {
      top.append(...inlineNodes(token.children ?? [], me));
    } else if (token.type === 'fence') {
      top.append(el('pre', { className: 'md-code' }, el('code', {}, token.content.replace(/\n$/, ''))));
    } else if (token.nesting === 1) {
      if (CONTAINERS.has(token.type)) depth += 1;
      const node = openBlock(token, top, depth);
      if (node !== top) top.append(node);
      stack.push(node);
    } else if (token.nesting === -1) {
      if (CONTAINERS.has(token.type.replace(/_close$/, '_open'))) depth -= 1;
      if (stack.length > 1) stack.pop();
    } else if (token.content) {
      // No other token is made by the rules turned on; text stays text.
      top.append(token.content);
    }
  }
  return [...root.childNodes];
}

/**
 * The element for an opening block token, or `parent` itself where there
 * is none: a tight list's paragraphs, and whatever is nested too deep.
 * @param {Token} token @param {HTMLElement} parent @param {number} depth
 */
function openBlock(token, parent, depth) {
  if (token.hidden) return parent;
  switch (token.type) {
    case 'paragraph_open':
      return el('p');
    case 'blockquote_open':
      return depth > MAX_DEPTH ? parent : el('blockquote');
    case 'bullet_list_open':
      return depth > MAX_DEPTH ? parent : el('ul');
    case 'ordered_list_open': {
      if (depth > MAX_DEPTH) return parent;
      const start = Number(token.attrGet('start') ?? 1);
      return el('ol', { start: Number.isSafeInteger(start) && start !== 1 ? start : null });
    }
    case 'list_item_open':
      // An item of a flattened list is a line of its own, not a list item.
      return parent instanceof HTMLUListElement || parent instanceof HTMLOListElement ? el('li') : el('div');
    default:
      return parent;
  }
}

/** @param {Token[]} children @param {string} me @returns {Node[]} */
function inlineNodes(children, me) {
  const root = el('span');
  const stack = [root];
  /** The link being filled, and how it was written. @type {{ a: HTMLElement, autolink: boolean } | null} */
  let link = null;
  for (const token of children) {
    const top = stack[stack.length - 1];
    switch (token.type) {
      case 'text':
        // Inside a link: no links or mentions of its own, no bidi tricks.
        top.append(...(link ? [stripBidi(token.content)] : richText(token.content, me)));
        break;
      case 'code_inline':
        top.append(el('code', {}, token.content));
        break;
      case 'softbreak':
      case 'hardbreak':
        top.append('\n'); // .msg-text keeps white space (pre-wrap)
        break;
      case 'link_open': {
        // A link inside a link's label (an autolink) is its text only.
        const node = /** @type {HTMLElement} */ (link ? el('span') : openLink(token));
        if (node.tagName === 'A') link = { a: node, autolink: token.markup === 'autolink' };
        top.append(node);
        stack.push(node);
        break;
      }
      case 'link_close':
        if (link && top === link.a) {
          finishLink(link.a, link.autolink);
          link = null;
        }
        if (stack.length > 1) stack.pop();
        break;
      default:
        if (token.nesting === 1) {
          const node = token.type in INLINE_TAGS ? el(INLINE_TAGS[token.type]) : el('span');
          top.append(node);
          stack.push(node);
        } else if (token.nesting === -1) {
          if (stack.length > 1) stack.pop();
        } else if (token.content) {
          top.append(token.content);
        }
    }
  }
  return [...root.childNodes];
}

/** An <a> for a link we make; a plain <span> for any other. @param {Token} token */
function openLink(token) {
  const href = linkHref(String(token.attrGet('href') ?? ''));
  if (!href) return el('span');
  return el('a', { href, target: '_blank', rel: 'noopener noreferrer', title: href });
}

/**
 * Settles what a finished link shows: an autolink, or a label that reads
 * like an address, shows the real address (as bare links do: the host in
 * punycode, no `user@`, no bidi controls), left to right.
 * @param {HTMLElement} a @param {boolean} autolink
 */
function finishLink(a, autolink) {
  const label = (a.textContent ?? '').trim();
  if (!autolink && label !== '' && !ADDRESS_LIKE.test(label)) return;
  const href = /** @type {HTMLAnchorElement} */ (a).href;
  a.dir = 'ltr';
  a.replaceChildren(addressText(autolink ? label : href, href));
}

/** @param {string} written @param {string} href */
function addressText(written, href) {
  if (href.startsWith('mailto:')) {
    let address = href.slice('mailto:'.length);
    try {
      address = decodeURIComponent(address);
    } catch {
      // shown encoded
    }
    return stripBidi(address);
  }
  return linkText(/^https?:\/\//i.test(written) ? written : href, href);
}
