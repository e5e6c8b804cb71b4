-- Ids that are never handed out twice, and what removing departed guests
-- needs.
--
-- `users` and `sessions` become AUTOINCREMENT. Without it SQLite gives a new
-- row the highest id plus one, so deleting the newest session (a logout) or
-- user (a removed guest) lets the next one take its id, and whatever still
-- names the old id (a revocation the server has not read yet, a member list
-- in a client, the author of a message) would point at someone else.
-- SQLite cannot change a primary key in place, so both tables are rebuilt
-- by its documented procedure: copy, drop, rename, and the indexes and
-- triggers again. That needs foreign keys off (or dropping `users` would
-- cascade to every session), and they cannot be switched inside the
-- migration's transaction: migrations run on a connection of their own that
-- has them off, and `foreign_key_check` runs after (src/store/sqlite.rs).

CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    -- Lowercased name: names are unique regardless of case.
    name_key      TEXT    NOT NULL,
    -- NULL for guests, who have no password.
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    banned_at     INTEGER,
    -- The name the user holds, lowercased; see 20261201000001_identity.sql.
    name_hold     TEXT,
    -- When the user's last session ended (ms): a guest is removed a grace
    -- period after it (see src/store/guests.rs).
    left_at       INTEGER,
    -- When a departed guest who had written messages was removed (ms). The
    -- row stays only as the name on those messages: no session, no hold on
    -- the name, never listed or found by name. It goes once no message
    -- names it any more (retention).
    removed_at    INTEGER
);
INSERT INTO users_new (id, name, name_key, password_hash, created_at, is_admin, banned_at, name_hold)
SELECT id, name, name_key, password_hash, created_at, is_admin, banned_at, name_hold FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE UNIQUE INDEX users_account_name ON users (name_key) WHERE password_hash IS NOT NULL;
CREATE INDEX users_name_key ON users (name_key);
CREATE UNIQUE INDEX users_name_hold ON users (name_hold);
CREATE TRIGGER admin_revoked AFTER UPDATE OF is_admin ON users
WHEN old.is_admin AND NOT new.is_admin BEGIN
    INSERT INTO revocations (user_id, at)
    VALUES (new.id, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
END;

CREATE TABLE sessions_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- SHA-256 of the token: the token itself is never stored.
    token_hash BLOB    NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- The address the session was issued to, so a ban can cover it.
    address    TEXT
);
INSERT INTO sessions_new (id, token_hash, user_id, created_at, expires_at, address)
SELECT id, token_hash, user_id, created_at, expires_at, address FROM sessions;
-- Sessions that ended before this migration may have had ids above the
-- highest left: the sequence starts past every id a revocation names.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'sessions_new', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'sessions_new');
UPDATE sqlite_sequence
   SET seq = max(seq, (SELECT coalesce(max(session_id), 0) FROM revocations))
 WHERE name = 'sessions_new';
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id, expires_at);
CREATE TRIGGER sessions_revoked AFTER DELETE ON sessions BEGIN
    INSERT INTO revocations (session_id, at)
    VALUES (old.id, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
END;
-- The moment a user's last session ends starts the guest grace period.
CREATE TRIGGER sessions_left AFTER DELETE ON sessions
WHEN NOT EXISTS (SELECT 1 FROM sessions WHERE user_id = old.user_id) BEGIN
    UPDATE users SET left_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000
     WHERE id = old.user_id;
END;

-- Users with no session now left before this migration, as far as anyone
-- can tell: their grace period starts now.
UPDATE users SET left_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000
 WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = users.id);

-- Whether a departed guest wrote anything decides between removing the row
-- and keeping it as a name; without this index that is a scan of history.
CREATE INDEX messages_author ON messages (author_id);
