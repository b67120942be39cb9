-- History (schema 0005; 0004 is the text statistics'): every edit and
-- delete keeps the row as it was before, in the same transaction as the
-- change (tx.Update, tx.Delete). Bookkeeping (Touch) writes none.
--
-- A version is the row's content at revision `revision`: text, category,
-- scope, importance, format, metadata and its timestamps. replaced_at and
-- replaced_by say when and by whom it was replaced (the agent's id, or
-- "owner"); change is what replaced it: update or delete.
CREATE TABLE history (
	hid         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL,
	revision    INTEGER NOT NULL,
	text        TEXT    NOT NULL,
	category    TEXT    NOT NULL,
	scope       TEXT    NOT NULL,
	importance  REAL    NOT NULL,
	format      INTEGER NOT NULL,
	metadata    TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	replaced_at INTEGER NOT NULL,
	replaced_by TEXT    NOT NULL,
	change      TEXT    NOT NULL
);

CREATE INDEX history_id       ON history(id, hid);
CREATE INDEX history_replaced ON history(replaced_at);

-- Erasures (trove delete --purge): what was erased for good, without its
-- content: the id, when, by whom, and how many versions went with it.
CREATE TABLE erasures (
	id        TEXT    NOT NULL,
	erased_at INTEGER NOT NULL,
	erased_by TEXT    NOT NULL,
	versions  INTEGER NOT NULL,
	had_row   INTEGER NOT NULL
);
