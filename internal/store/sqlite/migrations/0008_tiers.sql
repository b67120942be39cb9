-- Tiers (schema 0008): the log of lifecycle tier moves. A move is
-- bookkeeping: it sets memories.metadata tier without bumping the row's
-- revision or keeping a version in history, and records here from what,
-- to what, why and when, with the row's revision at the time (Update
-- reads it to keep a tier moved since the revision its caller read).
-- Ids only grow (AUTOINCREMENT). Purge deletes a memory's moves with it.
CREATE TABLE tier_transitions (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	memory_id TEXT    NOT NULL,
	from_tier TEXT    NOT NULL,
	to_tier   TEXT    NOT NULL,
	reason    TEXT    NOT NULL,
	at        INTEGER NOT NULL,
	revision  INTEGER NOT NULL
);

-- A memory's moves, newest first (Transitions, Update, Purge).
CREATE INDEX tier_transitions_memory ON tier_transitions(memory_id, id);
-- Recent moves (RecentTransitions).
CREATE INDEX tier_transitions_at ON tier_transitions(at);
