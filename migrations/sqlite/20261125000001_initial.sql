-- Banter's initial schema for SQLite.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    -- Lowercased name: names are unique regardless of case.
    name_key      TEXT    NOT NULL,
    -- NULL for guests, who have no password.
    password_hash TEXT,
    created_at    INTEGER NOT NULL
);
-- Accounts own their name for good; guests hold theirs only while a session lives.
CREATE UNIQUE INDEX users_account_name ON users (name_key) WHERE password_hash IS NOT NULL;
CREATE INDEX users_name_key ON users (name_key);

CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    -- SHA-256 of the token: the token itself is never stored.
    token_hash BLOB    NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id, expires_at);

CREATE TABLE rooms (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    topic      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
INSERT INTO rooms (name, topic, created_at) VALUES ('general', 'Say hello to everyone', 0);

CREATE TABLE messages (
    -- AUTOINCREMENT: ids are never reused, even after a delete, so a client's
    -- "last id seen" stays a valid cursor forever.
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    author_id  INTEGER NOT NULL REFERENCES users (id),
    text       TEXT    NOT NULL,
    client_id  TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_room ON messages (room_id, id);
-- A resend with the same client_id by the same author is the same message.
CREATE UNIQUE INDEX messages_client_id ON messages (author_id, client_id) WHERE client_id IS NOT NULL;
