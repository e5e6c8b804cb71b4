-- Bots and integrations (issue #11): personal access tokens, bot users and
-- incoming webhooks.

-- A bot is the user a webhook posts as. It never signs in: its
-- password_hash is '*', which no argon2 hash can be (they start with '$';
-- '*' says "no password" in /etc/shadow too), and the login, password and
-- admin paths skip bots. Being non-NULL, it holds its name as an account
-- does, for good: the guest sweeps never remove it.
ALTER TABLE users ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0;

-- A personal access token is a session with a name: the same token hash,
-- the same lookup, and the same revocation (deleting the row writes a
-- revocation, which disconnects its sockets on every node). It lasts until
-- revoked (expires_at is 9999-12-31) and remembers when it was last used
-- (to the minute). Sessions signed in with a password have no name.
ALTER TABLE sessions ADD COLUMN token_name TEXT;
ALTER TABLE sessions ADD COLUMN last_used_at INTEGER;

-- An incoming webhook: POST /hooks/{id}/{secret} posts to its room as its
-- bot. Only the secret's SHA-256 is stored. Revoking deletes the row; the
-- bot stays, as the author of what it posted.
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id     INTEGER NOT NULL REFERENCES rooms (id),
    bot_id      INTEGER NOT NULL REFERENCES users (id),
    -- Accounts only (guests cannot make webhooks), so never swept away.
    creator_id  INTEGER NOT NULL REFERENCES users (id),
    secret_hash BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX webhooks_room ON webhooks (room_id);
