-- Message features (issue #10): edits, replies, mentions and reactions.

-- When the text was last edited (ms); NULL if never.
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
-- The message this one answers, in the same room. No foreign key: retention
-- deletes the oldest messages first, and a reply whose parent is gone keeps
-- the id (clients show "not available") rather than making every delete
-- look up and rewrite the replies to it.
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
-- Whether the text mentions @room: a flag, so that a message's size does
-- not grow with its room.
ALTER TABLE messages ADD COLUMN mentions_room INTEGER NOT NULL DEFAULT 0;

-- The users a message's text names with @name, as resolved when it was
-- written or last edited.
CREATE TABLE message_mentions (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, user_id)
);
-- A user's mentions (unread counts) without a scan of every message.
CREATE INDEX message_mentions_user ON message_mentions (user_id, message_id);

-- One row per user, message and emoji: the key is what makes a second
-- identical reaction a no-op.
CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);
-- Removing a departed guest deletes their reactions: by user, not a scan.
CREATE INDEX reactions_user ON reactions (user_id);
