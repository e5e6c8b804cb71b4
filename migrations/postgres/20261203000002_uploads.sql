-- Files and images (issue #11): the files attached to messages. The same
-- table as SQLite's (migrations/sqlite/20261203000002_uploads.sql, where
-- each column is explained). Every integer is a BIGINT, as SQLite's are
-- (`banter migrate-data` moves the rows as they are).
CREATE TABLE attachments (
    id           TEXT    PRIMARY KEY,
    message_id   BIGINT,
    position     BIGINT  NOT NULL DEFAULT 0,
    uploader_id  BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    size         BIGINT  NOT NULL,
    mime         TEXT    NOT NULL,
    width        BIGINT,
    height       BIGINT,
    thumb        TEXT,
    created_at   BIGINT  NOT NULL,
    remove_after BIGINT,
    removed      BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX attachments_message ON attachments (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX attachments_uploader ON attachments (uploader_id, created_at);
CREATE INDEX attachments_due ON attachments (remove_after) WHERE remove_after IS NOT NULL;

-- A deleted message (delete event, moderation) hands its files to the sweep.
CREATE FUNCTION attachments_message_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE attachments SET remove_after = NEW.deleted_at
     WHERE message_id = NEW.id AND NOT removed;
    RETURN NULL;
END $$;
CREATE TRIGGER attachments_message_deleted AFTER UPDATE OF deleted_at ON messages
FOR EACH ROW WHEN (NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL)
EXECUTE FUNCTION attachments_message_deleted();

-- So does a message removed outright (retention).
CREATE FUNCTION attachments_message_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE attachments SET message_id = NULL,
           remove_after = (extract(epoch FROM clock_timestamp()) * 1000)::bigint
     WHERE message_id = OLD.id AND NOT removed;
    RETURN NULL;
END $$;
CREATE TRIGGER attachments_message_gone AFTER DELETE ON messages
FOR EACH ROW EXECUTE FUNCTION attachments_message_gone();
