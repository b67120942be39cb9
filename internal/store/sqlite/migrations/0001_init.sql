-- Schema 1: memories with revisions and a change sequence, an FTS5 index
-- over text and the L0/L1/L2 metadata fields (kept in step by the writer in
-- the same transaction as the rows: see tx.syncFTS), tombstones for deletes.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value
) WITHOUT ROWID;

INSERT INTO meta(key, value) VALUES ('seq', 0);

CREATE TABLE memories (
	rid        INTEGER PRIMARY KEY,
	id         TEXT    NOT NULL UNIQUE,
	text       TEXT    NOT NULL,
	category   TEXT    NOT NULL,
	scope      TEXT    NOT NULL,
	importance REAL    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	revision   INTEGER NOT NULL,
	format     INTEGER NOT NULL,
	metadata   TEXT    NOT NULL DEFAULT '{}',
	vector     BLOB,
	seq        INTEGER NOT NULL
);

CREATE INDEX memories_created ON memories(created_at, id);
CREATE INDEX memories_scope   ON memories(scope, created_at);
CREATE INDEX memories_format  ON memories(format, id);
CREATE INDEX memories_seq     ON memories(seq);

CREATE TABLE tombstones (
	id  TEXT PRIMARY KEY,
	seq INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX tombstones_seq ON tombstones(seq);

CREATE VIRTUAL TABLE memories_fts USING fts5(
	text, l0, l1, l2,
	content = '',
	contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);

-- BM25 column weights for ORDER BY rank: text and L0 count fully, L1 and L2
-- (which mostly repeat the text) less. See search.go.
INSERT INTO memories_fts(memories_fts, rank) VALUES ('rank', 'bm25(1.0, 1.0, 0.5, 0.25)');

-- Per-term document counts of the FTS index, used to leave very common
-- words out of queries (they cost the most and rank the least).
CREATE VIRTUAL TABLE memories_fts_vocab USING fts5vocab(memories_fts, 'row');
