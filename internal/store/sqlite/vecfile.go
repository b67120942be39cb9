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
// dimensions, the probe vector's checksum, the previous model and the
// generation a reembed switch or rollback bumps (they flip the vectors'
// slot without moving their rows' seq), so each of them gives a new key.
func (s *Store) VectorState(ctx context.Context) (store.VectorState, error) {
	st := store.VectorState{File: s.path + ".vecindex"}
	var model, prev, probe string
	var dims, gen int
	err := s.rdb.QueryRowContext(ctx, `SELECT
		(SELECT value FROM meta WHERE key = 'seq'),
		(SELECT value FROM meta WHERE key = 'embed_model'),
		(SELECT value FROM meta WHERE key = 'embed_dims'),
		(SELECT value FROM meta WHERE key = 'embed_probe'),
		(SELECT value FROM meta WHERE key = 'embed_previous_model'),
		(SELECT value FROM meta WHERE key = '`+keyGeneration+`')`).Scan(&st.Seq, nullString{&model}, nullInt{&dims},
		nullString{&probe}, nullString{&prev}, nullInt{&gen})
	if err != nil {
		return st, fmt.Errorf("read vector state: %w", err)
	}
	st.Key = fmt.Sprintf("%q %d %08x %q %d", model, dims, crc32.ChecksumIEEE([]byte(probe)), prev, gen)
	return st, nil
}

// VectorSamples returns the stored vector (of the active slot) and seq of
// each of ids that has one (any order), for checking an index file
// against the store.
func (s *Store) VectorSamples(ctx context.Context, ids []string) ([]store.VectorSample, error) {
	var out []store.VectorSample
	for _, id := range ids {
		var blob []byte
		var seq int64
		err := s.rdb.QueryRowContext(ctx, "SELECT seq, "+vecActive+" FROM memories WHERE id = ? AND "+vecActive+" IS NOT NULL", id).Scan(&seq, &blob)
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
