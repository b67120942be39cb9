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

-- A memory_category filter: smart_category first, so the owner's reads (no
-- scope condition) use it as well as an agent's (scope IN its scopes);
-- created_at last for the page's order. TestMemoryCategoryPlan checks that
-- the planner takes it.
CREATE INDEX memories_smart ON memories(smart_category, scope, created_at);
