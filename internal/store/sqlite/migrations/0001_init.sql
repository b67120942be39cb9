-- Schema 1: memories with revisions and a change sequence, FTS5 kept in
-- step by triggers (same transaction as the row), tombstones for deletes.
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

CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
	INSERT INTO memories_fts(rowid, text, l0, l1, l2) VALUES (
		new.rid, new.text,
		coalesce(json_extract(new.metadata, '$.l0_abstract'), ''),
		coalesce(json_extract(new.metadata, '$.l1_overview'), ''),
		coalesce(json_extract(new.metadata, '$.l2_content'), ''));
END;

CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
	DELETE FROM memories_fts WHERE rowid = old.rid;
END;

CREATE TRIGGER memories_fts_update AFTER UPDATE OF text, metadata ON memories
WHEN old.text IS NOT new.text OR old.metadata IS NOT new.metadata BEGIN
	DELETE FROM memories_fts WHERE rowid = old.rid;
	INSERT INTO memories_fts(rowid, text, l0, l1, l2) VALUES (
		new.rid, new.text,
		coalesce(json_extract(new.metadata, '$.l0_abstract'), ''),
		coalesce(json_extract(new.metadata, '$.l1_overview'), ''),
		coalesce(json_extract(new.metadata, '$.l2_content'), ''));
END;
