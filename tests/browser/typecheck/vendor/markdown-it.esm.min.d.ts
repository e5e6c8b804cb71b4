// The types of web/js/markdown.js's import: the server serves the
// markdown-it browser build pinned in web/package-lock.json, whose types are
// those of the same version here (tests/browser/package-lock.json).
export { default } from 'markdown-it';
export type { Token } from 'markdown-it';
