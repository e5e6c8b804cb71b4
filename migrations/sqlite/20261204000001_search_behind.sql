-- New messages are indexed behind the sends, not in them: the insert
-- trigger cost about 50 µs a message inside the writer's transaction
-- (docs/benchmarks.md). The writer now copies new messages into
-- `messages_fts` in batches after it has replied (`src/store/writer.rs`,
-- `index_behind`), a quarter of a second later at most, and before every
-- search.
--
-- The mark: every message with `id <= upto` is in the index, none above it
-- is. Ids are AUTOINCREMENT (never reused), so a row above the mark is one
-- the indexer has not reached. Everything stored so far was indexed by the
-- insert trigger.
CREATE TABLE search_indexed (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    upto INTEGER NOT NULL
);
INSERT INTO search_indexed (id, upto) SELECT 1, coalesce(max(id), 0) FROM messages;

DROP TRIGGER messages_fts_insert;

-- The index is told of a change only for a row it holds. A row above the
-- mark is read as it is when the indexer reaches it: an edit's new text, a
-- delete's blanked one, or no row at all.
DROP TRIGGER messages_fts_delete;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.id <= (SELECT upto FROM search_indexed) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages
WHEN old.id <= (SELECT upto FROM search_indexed) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
