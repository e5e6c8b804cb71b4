// The types of web/js/socket/connection.js's import: the server serves the
// socket.io-client browser build pinned in web/package-lock.json, whose
// types are those of the same version here (tests/browser/package-lock.json).
export { io } from 'socket.io-client';
