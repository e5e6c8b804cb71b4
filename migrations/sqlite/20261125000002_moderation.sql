-- Moderation: admins, bans, deleted messages and mutes.

-- Admins may delete any message, mute and ban. The first account is one.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
-- A banned user's sessions are gone and no new one is issued.
ALTER TABLE users ADD COLUMN banned_at INTEGER;

-- A deleted message keeps its row (its id and client_id stay taken) but
-- loses its text, and history no longer shows it.
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;

CREATE TABLE mutes (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    -- Milliseconds since the epoch; the mute ends then.
    until   INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
