-- Files and images (issue #11): the files attached to messages.
--
-- A row is made when an upload has arrived (before its file is stored, so
-- that a crash in between leaves a row the sweep finds, never a file
-- nobody knows of) and attached to its message in the transaction that
-- stores the message. The file itself lives in the file store
-- (src/uploads/storage.rs) under the row's id, never under its name.
CREATE TABLE attachments (
    -- Random (128 bits, base64url): the file's name in the file store and
    -- in its URL, so ids cannot be guessed or counted.
    id          TEXT    PRIMARY KEY,
    -- NULL until its message is stored, and again once the message is gone
    -- (retention). No foreign key: a deleted message's rows are released
    -- by the triggers below instead.
    message_id  INTEGER,
    -- Its place among the message's files.
    position    INTEGER NOT NULL DEFAULT 0,
    -- Who uploaded it: the hourly count per user is read from here. No
    -- foreign key: removing a departed guest does not wait for this.
    uploader_id INTEGER NOT NULL,
    -- The name the uploader gave, cleaned (src/uploads/mod.rs); shown and
    -- offered as the download's name only.
    name        TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    -- The type read from the content (src/uploads/sniff.rs).
    mime        TEXT    NOT NULL,
    -- Only for an image shown inline, which then has a thumbnail.
    width       INTEGER,
    height      INTEGER,
    -- The thumbnail's type (image/png or image/jpeg), NULL if none.
    thumb       TEXT,
    created_at  INTEGER NOT NULL,
    -- When the sweep may remove the file (ms): set while the row waits for
    -- its message, and when its message is deleted; NULL while attached.
    -- Once the file is gone, when the row itself may go (an hour after it
    -- was made, so the hourly count still sees it).
    remove_after INTEGER,
    -- Whether the file has been removed from the file store.
    removed     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attachments_message ON attachments (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX attachments_uploader ON attachments (uploader_id, created_at);
CREATE INDEX attachments_due ON attachments (remove_after) WHERE remove_after IS NOT NULL;

-- A deleted message (delete event, moderation) hands its files to the sweep.
CREATE TRIGGER attachments_message_deleted AFTER UPDATE OF deleted_at ON messages
WHEN new.deleted_at IS NOT NULL AND old.deleted_at IS NULL BEGIN
    UPDATE attachments SET remove_after = new.deleted_at
     WHERE message_id = new.id AND NOT removed;
END;
-- So does a message removed outright (retention).
CREATE TRIGGER attachments_message_gone AFTER DELETE ON messages BEGIN
    UPDATE attachments SET message_id = NULL,
           remove_after = CAST(strftime('%s', 'now') AS INTEGER) * 1000
     WHERE message_id = old.id AND NOT removed;
END;
