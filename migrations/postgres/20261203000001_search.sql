-- Full-text search (issue #11): the words of each message's text as a
-- generated tsvector with a GIN index. Generated, so every way a text
-- changes (a send, an edit, a delete that blanks the text, `banter
-- migrate-data` copying rows) keeps it true without the code that writes
-- having to know.
--
-- 'simple': lowercased words, no stemming and no stop words, so it is
-- language-neutral. ASCII punctuation is turned into spaces first, so
-- words are cut as SQLite's unicode61 cuts them ("example.com" is the two
-- words "example" "com", not one host name token, and a phrase query finds
-- it on both backends). Unlike SQLite, accents are not folded: that needs
-- the unaccent extension, which not every database lets a user create.
ALTER TABLE messages ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', regexp_replace(text, '[[:punct:]]+', ' ', 'g'))) STORED;
CREATE INDEX messages_search ON messages USING gin (search);
