-- Full-text search (issue #11): an FTS5 index of message text, kept in step
-- with the messages table by triggers, so that every way a text changes
-- (a send by the writer, an edit, a delete that blanks the text, retention
-- and guest removal deleting rows, `banter migrate-data` reading it) keeps
-- the index true without the code that writes having to know.
--
-- External content: the index holds no second copy of the text, only its
-- words; `content_rowid` is the message id, so results come newest first
-- straight from the index (ORDER BY rowid DESC). unicode61 with
-- remove_diacritics 2 cuts words at anything that is not a letter or a
-- digit, in every script, and folds case and accents: "Café" is found by
-- "cafe". No stemming: it is language-neutral.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
-- An external-content index forgets a row only when told its old text.
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
-- Edits, and deletes (which set the text to '').
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;

-- The messages already stored.
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
