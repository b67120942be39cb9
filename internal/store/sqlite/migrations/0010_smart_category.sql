-- Schema 10: a row's six-category memory_category (profile, preferences,
-- entities, events, cases, patterns), as memory.SmartCategoryOf derives it:
-- a smart row's metadata memory_category, else memory-lancedb-pro's
-- reverse mapping of the storage category (fact -> profile or cases by
-- the text, decision -> events, ...). The mapping is Go code, so the column
-- is an index of it that every write fills (tx.go: sqlInsert, sqlUpdate)
-- and the Go step of this migration (migrate.go: backfillSmartCategory)
-- fills for the rows already stored. Filter.MemoryCategories reads it.
--
-- '' only until the backfill below runs: every row then has one of the six.
ALTER TABLE memories ADD COLUMN smart_category TEXT NOT NULL DEFAULT '';

-- A memory_category listing, newest first: with one memory_category (read
-- as "smart_category = ?", see filterClauseOf) the rows come in the page's
-- order (created_at, id), so a page reads as many rows as it needs and sorts
-- none, for the owner and, filtering scopes row by row, for an agent.
-- (scope, smart_category, created_at) would serve one scope only: an agent
-- reads its own and global, and sorting every row of a common category per
-- page cost 30 ms at 100k rows. TestMemoryCategoryPlan checks the plan.
CREATE INDEX memories_smart ON memories(smart_category, created_at, id);
