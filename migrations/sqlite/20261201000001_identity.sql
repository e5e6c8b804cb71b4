-- Identity: who holds a name (decided by a unique index, never by a check
-- followed by a write), bans that cover an address for a time, and the
-- revocations a running server polls to close sockets.

-- The name a user holds, lowercased; NULL once a guest has let it go. An
-- account holds its name for good; a guest while a session of theirs lives,
-- and while they are banned or muted. Claiming a name is one transaction:
-- release the stale holds on it, then insert, and the index refuses a second
-- holder whatever the timing.
ALTER TABLE users ADD COLUMN name_hold TEXT;
UPDATE users SET name_hold = name_key WHERE password_hash IS NOT NULL;
UPDATE users SET name_hold = name_key
 WHERE password_hash IS NULL
   AND NOT EXISTS (SELECT 1 FROM users a WHERE a.name_key = users.name_key AND a.password_hash IS NOT NULL)
   AND id = (SELECT max(g.id) FROM users g JOIN sessions s ON s.user_id = g.id
              WHERE g.name_key = users.name_key AND g.password_hash IS NULL);
CREATE UNIQUE INDEX users_name_hold ON users (name_hold);

-- The address a session was issued to (as src/client_ip.rs sees it), so a
-- ban can cover it.
ALTER TABLE sessions ADD COLUMN address TEXT;

-- Addresses no new account or guest may come from until `until` (ms), one
-- row per banned user and address so that an unban lifts that user's.
CREATE TABLE address_bans (
    address TEXT    NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until   INTEGER NOT NULL,
    PRIMARY KEY (address, user_id)
);

-- What a running server must disconnect: a session that ended, or a user
-- whose rights were taken away. Written by triggers, so that the command
-- line (another process) reaches the server's sockets; the server reads the
-- rows after the last it saw every second and deletes old ones.
CREATE TABLE revocations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER,
    user_id    INTEGER,
    at         INTEGER NOT NULL
);
CREATE TRIGGER sessions_revoked AFTER DELETE ON sessions BEGIN
    INSERT INTO revocations (session_id, at)
    VALUES (old.id, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
END;
CREATE TRIGGER admin_revoked AFTER UPDATE OF is_admin ON users
WHEN old.is_admin AND NOT new.is_admin BEGIN
    INSERT INTO revocations (user_id, at)
    VALUES (new.id, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
END;
