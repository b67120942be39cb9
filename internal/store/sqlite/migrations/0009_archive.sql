-- Schema 9: archived rows. The metadata keys state and archived_at
-- (memory/governance.go) stay the source of truth; archived_at is an index
-- of them, written by every write from the metadata it writes (tx.go:
-- validityArgs) exactly as schema 6 keeps invalidated_at, so reads apply
-- "active at t" (memory.ActiveAt: not archived by t) in SQL. NULL means
-- not archived; the Go step (migrate.go: backfillArchive) fills it for rows
-- whose metadata already says archived (rows migrated from
-- memory-lancedb-pro).
ALTER TABLE memories ADD COLUMN archived_at INTEGER;

-- The scope index carries every column of the active predicate, so an
-- active count still reads the index alone (see 0006).
DROP INDEX memories_scope;
CREATE INDEX memories_scope ON memories(scope, created_at, valid_from, valid_until, invalidated_at, archived_at);

-- Which memories auto-recall injected in which session, on which turn, so
-- it does not inject one again within a few turns (service.RecallContext).
-- Pruned by age.
CREATE TABLE recall_injections (
	session   TEXT    NOT NULL,
	agent     TEXT    NOT NULL, -- '' for the owner
	memory_id TEXT    NOT NULL,
	turn      INTEGER NOT NULL,
	at        INTEGER NOT NULL,
	PRIMARY KEY (session, agent, memory_id)
) WITHOUT ROWID;
CREATE INDEX recall_injections_at ON recall_injections(at);
