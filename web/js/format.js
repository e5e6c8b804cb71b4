// @ts-check
// Pure formatting helpers: links, times, names. No DOM state lives here.

import { el } from './dom.js';

// A URL starts at http(s):// and runs to the next white space or angle
// bracket; trailing punctuation is usually the sentence's, not the URL's.
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?'"\])}]+$/;

/** The URL if it is a safe http(s) link, else null (rejects javascript: etc.). @param {string} candidate */
export function safeHref(candidate) {
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

// Bidi controls (embeddings, overrides, isolates, marks) can make a link's
// text read in another order than it is written: gone from link text.
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;
const AUTHORITY = /^https?:\/\/[^/?#]*/i;

/** Text without bidi controls (for what a link shows). @param {string} text */
export function stripBidi(text) {
  return text.replace(BIDI_CONTROLS, '');
}

/**
 * The text a link is shown with: its real host as the browser will go to
 * it (an IDN in punycode, so look-alike letters cannot pass for another
 * site; any `user@` part dropped, so `https://bank.example@evil.example`
 * shows as `evil.example`), then the rest as written, bidi controls removed.
 * @param {string} written the URL as the message has it
 * @param {string} href the same URL, parsed (safeHref)
 */
export function linkText(written, href) {
  const url = new URL(href);
  const rest = written.replace(AUTHORITY, '').replace(BIDI_CONTROLS, '');
  return `${url.protocol}//${url.host}${rest}`;
}

/** Keeps a closing bracket when the URL itself opened one (wiki links). @param {string} raw */
function trimUrl(raw) {
  let url = raw;
  let trailing = '';
  const match = TRAILING_PUNCTUATION.exec(url);
  if (match) {
    trailing = match[0];
    url = url.slice(0, -trailing.length);
    // give back ")" when the URL has an unbalanced "(" (https://x/Foo_(bar))
    while (trailing.startsWith(')') && count(url, '(') > count(url, ')')) {
      url += ')';
      trailing = trailing.slice(1);
    }
  }
  return { url, trailing };
}

/** @param {string} text @param {string} ch */
function count(text, ch) {
  return text.split(ch).length - 1;
}

/**
 * Splits text into text nodes and <a> links. Safe for any input: text is
 * only ever put in text nodes, and links are built from a parsed http(s) URL.
 * @param {string} text
 * @returns {Node[]}
 */
export function linkify(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const { url, trailing } = trimUrl(match[0]);
    const href = safeHref(url);
    if (!href) continue;
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    nodes.push(el('a', {
      href,
      target: '_blank',
      rel: 'noopener noreferrer',
      title: href,
      // Isolated left-to-right: bidi controls in the text around the link
      // cannot reorder it either.
      dir: 'ltr',
      textContent: linkText(url, href),
    }));
    last = match.index + match[0].length - trailing.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

// The server's mention rules (src/mentions.rs): `@` not after a name
// character, then name characters; dots at the end are punctuation.
const MENTION_PATTERN = /(^|[^A-Za-z0-9_.-])@([A-Za-z0-9_.-]+)/g;

/**
 * Text with links (linkify) and its `@name`s and `@room` marked as
 * mentions; one naming `me` (or `@room`) is marked as ours. Text only
 * ever goes in text nodes.
 * @param {string} text
 * @param {string} meName
 * @returns {Node[]}
 */
export function richText(text, meName) {
  const me = meName.toLowerCase();
  return linkify(text).flatMap((node) => (node.nodeType === Node.TEXT_NODE ? mentionNodes(node.textContent ?? '', me) : [node]));
}

/** @param {string} text @param {string} me lowercased */
function mentionNodes(text, me) {
  /** @type {Node[]} */
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(MENTION_PATTERN)) {
    const name = match[2].replace(/\.+$/, '');
    if (!name) continue;
    const start = (match.index ?? 0) + match[1].length;
    const end = start + 1 + name.length;
    if (start > last) nodes.push(document.createTextNode(text.slice(last, start)));
    const key = name.toLowerCase();
    const ours = key === me || key === 'room';
    nodes.push(el('span', { className: `mention${ours ? ' mention-me' : ''}` }, text.slice(start, end)));
    last = end;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

/** One line of a text, cut after `max` characters (for quotes). @param {string} text @param {number} max */
export function shorten(text, max) {
  const chars = [...text.replace(/\s+/g, ' ')];
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : chars.join('');
}

/**
 * "alice, bob and 3 others": who reacted, for a reaction's title.
 * @param {string[]} names the names known, in order
 * @param {number} count how many reacted in all
 */
export function whoText(names, count) {
  const shown = names.slice(0, 5);
  const rest = count - shown.length;
  if (shown.length === 0) return `${count} ${count === 1 ? 'person' : 'people'}`;
  if (rest <= 0) return shown.length === 1 ? shown[0] : `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
  return `${shown.join(', ')} and ${rest} ${rest === 1 ? 'other' : 'others'}`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });

/** @param {number} ts ms since the epoch */
export const formatTime = (ts) => timeFormat.format(ts);
/** @param {number} ts */
export const formatFull = (ts) => fullFormat.format(ts);

/** "Today", "Yesterday" or a date, for the separators between days. @param {number} ts */
export function formatDay(ts, now = Date.now()) {
  const day = startOfDay(ts);
  const today = startOfDay(now);
  if (day === today) return 'Today';
  if (today - day === 86_400_000) return 'Yesterday';
  return dayFormat.format(ts);
}

/** Midnight (local time) of the day `ts` falls in. @param {number} ts */
export function startOfDay(ts) {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** The typing line, from the names of the people typing (not us). @param {string[]} names */
export function typingText(names) {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return 'Several people are typing…';
}

/** A stable hue per name, so a person keeps their avatar colour everywhere. @param {string} name */
export function hueOf(name) {
  let hash = 0;
  for (const ch of name.toLowerCase()) hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return hash % 360;
}

/** The avatar: the first letter on a colour derived from the name. @param {string} name */
export function avatar(name, extraClass = '') {
  const node = el('span', {
    className: `avatar ${extraClass}`.trim(),
    'aria-hidden': 'true',
    textContent: (name[0] || '?').toUpperCase(),
  });
  node.style.setProperty('--hue', String(hueOf(name)));
  return node;
}
