-- Schema 12: two vector slots, so that trove reembed switches models by
-- flipping a pointer instead of rewriting every row under the lock.
--
-- A row's vector of the store's model is in the active slot: vector
-- (slot 0) or vector_b (slot 1), as meta embed_slot says (absent: 0).
-- Every read of a vector goes through the active slot (vecActive in
-- store/sqlite/reembed.go), in the same statement, so a read sees one
-- model's vectors whatever switch commits meanwhile. The other slot holds
-- the target model's vectors while a reembed runs (they replace
-- reembed_vectors), the previous model's after a switch made with
-- --keep-old (they replace reembed_old), or leftovers that a cleanup
-- clears in small batches (meta embed_slot_clear). A write that changes a
-- row's text empties its other slot in the same statement: that vector
-- embedded the old text.
ALTER TABLE memories ADD COLUMN vector_b BLOB;

-- A reembed in progress keeps its current target vectors (those of the
-- row version they embedded); else vectors kept for --rollback stay kept.
UPDATE memories SET vector_b = r.vector FROM reembed_vectors r
	WHERE r.rid = memories.rid AND r.seq = memories.seq
	AND EXISTS (SELECT 1 FROM meta WHERE key = 'reembed_target_model');
UPDATE memories SET vector_b = o.vector FROM reembed_old o
	WHERE o.rid = memories.rid AND o.seq = memories.seq
	AND NOT EXISTS (SELECT 1 FROM meta WHERE key = 'reembed_target_model')
	AND EXISTS (SELECT 1 FROM meta WHERE key = 'reembed_old_kept' AND value = 1);
-- A reembed in progress gives up the kept vectors: its target's take the slot.
DELETE FROM meta WHERE key = 'reembed_old_kept'
	AND EXISTS (SELECT 1 FROM meta WHERE key = 'reembed_target_model');

DROP TABLE reembed_vectors;
DROP TABLE reembed_old;
