package sqlite

// undoStemming takes a store back from schema 11 to schema 10 (the caller
// sets user_version): the index holds the words as written again.
var undoStemming = []string{
	"DROP TABLE IF EXISTS memories_fts_next",
	"DELETE FROM memories_fts",
	"INSERT INTO memories_fts(rowid, text, l0, l1, l2) SELECT rid, " + ftsPlainCols + " FROM memories",
	"DELETE FROM meta WHERE key IN ('fts_version', 'fts_next_rid')",
}
