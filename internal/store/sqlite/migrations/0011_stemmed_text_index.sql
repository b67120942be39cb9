-- Schema 11: the text index holds Snowball stems (index version 2, see
-- textindex.go): "moving" finds "moved", German "Haus" finds "Häuser".
--
-- The stemmed index is built beside the old one, as memories_fts_next,
-- in short batches after the store opens (BuildTextIndex); until it holds
-- every row, search answers from memories_fts as before, and every write
-- keeps both in step (the next one for rows up to meta.fts_next_rid).
-- Then one short write renames it into place and sets meta.fts_version
-- to 2. An empty store switches at once (the Go step of this migration).
CREATE VIRTUAL TABLE memories_fts_next USING fts5(
	text, l0, l1, l2,
	content = '',
	contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO memories_fts_next(memories_fts_next, rank) VALUES ('rank', 'bm25(1.0, 1.0, 0.5, 0.25)');

INSERT INTO meta(key, value) VALUES ('fts_version', 1);
INSERT INTO meta(key, value) VALUES ('fts_next_rid', 0);
