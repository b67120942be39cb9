-- Schema 2: a tombstone records when its row was deleted, so tombstones
-- can be pruned after a retention (see PruneTombstones). Tombstones from
-- before this schema count from the migration.
ALTER TABLE tombstones ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;

UPDATE tombstones SET deleted_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER);

CREATE INDEX tombstones_deleted ON tombstones(deleted_at);
