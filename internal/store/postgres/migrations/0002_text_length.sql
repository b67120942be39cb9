-- Schema 2: each row's length in tokens (all four indexed columns, as
-- FTS5's docsize counts them), which bm25 needs and a tsvector does not
-- keep (it holds distinct lexemes, at most 256 positions each). Written
-- with memories.tokens by every write (text.go: indexRow).
ALTER TABLE memories ADD COLUMN doc_len integer NOT NULL DEFAULT 0;

-- The text index is updated in place by each write (no pending list): a
-- pending list must be read in full by every search until a vacuum merges
-- it (measured: 4 ms for a two-row match at 10k freshly written rows).
ALTER INDEX memories_tokens SET (fastupdate = off);
