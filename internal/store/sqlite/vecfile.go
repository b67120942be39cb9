package sqlite

import (
	"context"
	"fmt"
	"hash/crc32"

	"github.com/trove-memory/trove/internal/store"
)

// VectorState returns where this store's vector index file lives and the
// state an index must be of to be used (store.VectorState), with the
// change seq, as of one read: retrieve calls it before each search
// instead of ChangeSeq. The key is the embedding identity: model,
// dimensions, the probe vector's checksum and the previous model, so that
// a reembed switch or its rollback (which replace vectors without moving
// their rows' seq) gives a new key.
func (s *Store) VectorState(ctx context.Context) (store.VectorState, error) {
	st := store.VectorState{File: s.path + ".vecindex"}
	var model, prev, probe string
	var dims int
	err := s.rdb.QueryRowContext(ctx, `SELECT
		(SELECT value FROM meta WHERE key = 'seq'),
		(SELECT value FROM meta WHERE key = 'embed_model'),
		(SELECT value FROM meta WHERE key = 'embed_dims'),
		(SELECT value FROM meta WHERE key = 'embed_probe'),
		(SELECT value FROM meta WHERE key = 'embed_previous_model')`).Scan(&st.Seq, nullString{&model}, nullInt{&dims},
		nullString{&probe}, nullString{&prev})
	if err != nil {
		return st, fmt.Errorf("read vector state: %w", err)
	}
	st.Key = fmt.Sprintf("%q %d %08x %q", model, dims, crc32.ChecksumIEEE([]byte(probe)), prev)
	return st, nil
}

// VectorSamples returns the stored vector and seq of each of ids that has
// a vector (any order), for checking an index file against the store.
func (s *Store) VectorSamples(ctx context.Context, ids []string) ([]store.VectorSample, error) {
	var out []store.VectorSample
	for _, id := range ids {
		var blob []byte
		var seq int64
		err := s.rdb.QueryRowContext(ctx, "SELECT seq, vector FROM memories WHERE id = ? AND vector IS NOT NULL", id).Scan(&seq, &blob)
		if err != nil {
			continue // gone, or without a vector: nothing to compare
		}
		v, err := decodeVector(blob)
		if err != nil {
			return nil, fmt.Errorf("memory %s: %w", id, err)
		}
		out = append(out, store.VectorSample{ID: id, Seq: seq, Vector: v})
	}
	return out, nil
}
