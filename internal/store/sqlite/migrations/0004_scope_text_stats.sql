-- Schema 3: text statistics per scope, kept by the writer in the same
-- transaction as the FTS index (see textstats.go), so a caller limited to
-- some scopes plans and scores its text search with the statistics of
-- those scopes without counting them at query time.
--
-- scope_sizes: each scope's indexed rows and their total length in
-- tokens (FTS5's per-row counts). scope_terms: in how many of a scope's
-- rows each indexed term occurs.
CREATE TABLE scope_sizes (
	scope  TEXT    PRIMARY KEY,
	rows   INTEGER NOT NULL,
	tokens INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE scope_terms (
	scope TEXT    NOT NULL,
	term  TEXT    NOT NULL,
	docs  INTEGER NOT NULL,
	PRIMARY KEY (scope, term)
) WITHOUT ROWID;

-- Rows with rid up to text_stats_rid are counted in the tables above. A
-- store that had rows before this schema starts at 0 and is counted in
-- short batches after it opens (BuildTextStats); an empty one is complete
-- at once. Complete is the largest rid there can be.
INSERT INTO meta(key, value) VALUES ('text_stats_rid',
	CASE WHEN EXISTS (SELECT 1 FROM memories) THEN 0 ELSE 9223372036854775807 END);

-- Each occurrence of a term (document, column, offset): text search reads
-- the occurrences of the words it ranks by, rather than each row's text.
CREATE VIRTUAL TABLE memories_fts_instance USING fts5vocab(memories_fts, 'instance');
