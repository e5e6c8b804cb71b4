-- Rooms people belong to (issue #10): a room's kind, and lasting
-- memberships with each member's read marker and notification level.

-- 'public' (anyone may join; today's rooms), 'private' (members invite) or
-- 'direct' (a fixed set of people, named dm-<sorted ids>).
ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'public';

CREATE TABLE memberships (
    room_id   INTEGER NOT NULL REFERENCES rooms (id),
    -- A removed guest's memberships go with the row.
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at INTEGER NOT NULL,
    -- The id of the last message the user has read (0: none); only moves
    -- forward, and never past the room's latest message.
    last_read BIGINT  NOT NULL DEFAULT 0,
    -- 'all', 'mentions' or 'none'; NULL means the kind's default
    -- ('all' for direct rooms, 'mentions' otherwise).
    notify    TEXT    NULL,
    PRIMARY KEY (room_id, user_id)
);
-- A user's rooms (GET /api/me/rooms) without a scan.
CREATE INDEX memberships_user ON memberships (user_id);
