-- Schema 3: moving a live store to another embedder (trove reembed).
--
-- reembed_vectors holds the target model's vectors while a reembed runs;
-- search keeps reading memories.vector until the switch. seq is the row's
-- seq when its text was embedded: a row whose seq moved on since must be
-- looked at again (its text may have changed).
CREATE TABLE reembed_vectors (
	rid    INTEGER PRIMARY KEY,
	seq    INTEGER NOT NULL,
	vector BLOB    NOT NULL
);

-- reembed_old keeps the previous model's vectors after a switch made with
-- --keep-old, for trove reembed --rollback. seq is the row's seq at the
-- switch: a row written since has no old vector that matches its text.
CREATE TABLE reembed_old (
	rid    INTEGER PRIMARY KEY,
	seq    INTEGER NOT NULL,
	vector BLOB    NOT NULL
);

-- Rows without a vector: written by a process whose model the store no
-- longer uses, or left by a switch. trove reembed --pending embeds them.
CREATE INDEX memories_novec ON memories(rid) WHERE vector IS NULL;
