package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/trove-memory/trove/internal/store"
)

// The read-only queries `trove doctor` needs beyond CheckFTS and
// IntegrityCheck. Each runs on the read pool and never takes the write lock.

// SchemaInfo is the schema version a store is at (PRAGMA user_version),
// the trove that wrote it (meta schema_written_by) and the lowest trove
// version that may write it (meta min_writer_version).
type SchemaInfo = store.SchemaInfo

// SchemaInfo reads the store's schema version and who wrote it. Compare
// Version with SchemaVersion(): a larger one means a newer trove wrote the
// store and this binary opened it read-only.
func (s *Store) SchemaInfo(ctx context.Context) (SchemaInfo, error) {
	var si SchemaInfo
	v, err := s.userVersion(ctx)
	if err != nil {
		return si, err
	}
	si.Version, si.Binary = v, SchemaVersion()
	err = s.rdb.QueryRowContext(ctx, `SELECT
		(SELECT value FROM meta WHERE key = 'schema_written_by'),
		(SELECT value FROM meta WHERE key = 'min_writer_version')`).Scan(nullString{&si.WrittenBy}, nullString{&si.MinWriter})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return si, fmt.Errorf("read schema_written_by: %w", err)
	}
	return si, nil
}

// ConfiguredSpace is the embedding space this process was opened to write
// with (Options.Space): what the next vector written must match.
func (s *Store) ConfiguredSpace() store.Space { return s.opts.Space }

// VectorCensus counts rows by the length of their stored vector.
type VectorCensus = store.VectorCensus

// TextIndexLatest is the text index version this binary builds
// (TextIndexVersion): a store's index below it is being rebuilt.
func (s *Store) TextIndexLatest() int { return TextIndexVersion }

// VectorCensus counts every row by the length of its vector, in one read
// transaction. SQLite reads a BLOB's length from its header, so this does
// not load the vectors.
func (s *Store) VectorCensus(ctx context.Context) (VectorCensus, error) {
	c := VectorCensus{ByDims: map[int]int{}}
	rows, err := s.rdb.QueryContext(ctx, "SELECT length("+vecActive+"), count(*) FROM memories GROUP BY 1")
	if err != nil {
		return c, fmt.Errorf("count vectors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n sql.NullInt64
		var count int
		if err := rows.Scan(&n, &count); err != nil {
			return c, fmt.Errorf("count vectors: %w", err)
		}
		c.Rows += count
		switch {
		case !n.Valid:
			c.Missing += count
		case n.Int64%4 != 0:
			c.Malformed += count
		default:
			c.ByDims[int(n.Int64/4)] += count
		}
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("count vectors: %w", err)
	}
	return c, nil
}

// VectorOutliers returns up to limit ids (in id order) of rows that have a
// vector which is not dims float32s long, malformed ones included.
func (s *Store) VectorOutliers(ctx context.Context, dims, limit int) ([]string, error) {
	return s.ids(ctx, "SELECT id FROM memories WHERE "+vecActive+" IS NOT NULL AND length("+vecActive+") != ? ORDER BY id LIMIT ?", 4*dims, limit)
}

// MissingVectors returns up to limit ids (in id order) of rows without a vector.
func (s *Store) MissingVectors(ctx context.Context, limit int) ([]string, error) {
	return s.ids(ctx, "SELECT id FROM memories WHERE "+vecActive+" IS NULL ORDER BY id LIMIT ?", limit)
}

// BadMetadata counts the rows whose metadata is not a JSON object (reads of
// them fail) and returns up to limit of their ids.
func (s *Store) BadMetadata(ctx context.Context, limit int) (int, []string, error) {
	// json_type raises an error on malformed JSON, so it is only asked
	// after json_valid. A JSON null reads back as an empty object.
	const bad = "CASE WHEN json_valid(metadata) THEN json_type(metadata) NOT IN ('object', 'null') ELSE 1 END"
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM memories WHERE "+bad).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("check metadata: %w", err)
	}
	if n == 0 {
		return 0, nil, nil
	}
	ids, err := s.ids(ctx, "SELECT id FROM memories WHERE "+bad+" ORDER BY id LIMIT ?", limit)
	return n, ids, err
}

func (s *Store) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
