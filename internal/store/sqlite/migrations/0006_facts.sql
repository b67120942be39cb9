-- Schema 6: a fact's values over time. The metadata keys fact_key,
-- valid_from, valid_until and invalidated_at (memory/validity.go) stay the
-- source of truth; these columns are an index of them, written by every
-- write from the metadata it writes (tx.go: validityArgs), so reads can
-- apply "active at t" (memory.ActiveAt) in SQL and find a fact's rows by
-- an index.
--
-- Each column is NULL where the metadata does not say: valid_from NULL
-- means "from created_at" (memory.ValidFrom's default), the others
-- "never". So adding them rewrites no row, and the backfill below (and its
-- Go step, migrate.go: backfillFacts) touches only rows whose metadata
-- names one of the keys.
ALTER TABLE memories ADD COLUMN fact_key       TEXT;
ALTER TABLE memories ADD COLUMN valid_from     INTEGER;
ALTER TABLE memories ADD COLUMN valid_until    INTEGER;
ALTER TABLE memories ADD COLUMN invalidated_at INTEGER;

-- The rows of one fact: Facts and Tx.FactRows look them up by key, within
-- the caller's scopes. Only rows that state a fact are in it.
CREATE INDEX memories_fact ON memories(fact_key, scope) WHERE fact_key IS NOT NULL;

-- Counting the rows active at a time (Count, Stats with Filter.ActiveAt)
-- needs created_at and the three times of every row of the scopes. With
-- them in the scope index (it had scope, created_at) the count is read
-- from the index alone, not from rows about 1.7 KB long with their
-- vectors: 10k rows, 11 ms → see DESIGN.md. Writes rewrite this entry
-- already (every update sets scope), and NULLs cost a byte each.
DROP INDEX memories_scope;
CREATE INDEX memories_scope ON memories(scope, created_at, valid_from, valid_until, invalidated_at);
