package sqlite

import (
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

// VectorState returns where this store's vector index file lives and the
// state an index must be of to be used (store.VectorState), with the
// change seq, as of one read: retrieve calls it before each search
// instead of ChangeSeq. The key is the embedding identity: model,
// dimensions, the probe vector's checksum, the previous model and the
// generation a reembed switch or rollback bumps (they flip the vectors'
// slot without moving their rows' seq), so each of them gives a new key.
func (s *Store) VectorState(ctx context.Context) (store.VectorState, error) {
	st := store.VectorState{File: s.indexFile()}
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

// indexFile is where retrieve keeps this store's vector index file.
func (s *Store) indexFile() string { return s.path + ".vecindex" }

// removeIndexFile removes the vector index file and any temporary file a
// writer has under way or left: after a purge they may hold the erased
// row's vector and id, which delete --purge promises are gone. A process
// that mapped the file keeps its pages (the file is never written in
// place) until its retriever reloads, as it does below the tombstone
// horizon the purge raised; a writer whose temporary file goes here fails
// its rename, and one that renames later removes its own file
// (retrieve's dropIfPurged). Errors are ignored: a file that could not be
// removed is one the next search of any process rewrites without the row.
func (s *Store) removeIndexFile() {
	file := s.indexFile()
	_ = os.Remove(file)
	temps, _ := filepath.Glob(file + ".tmp-*")
	for _, t := range temps {
		_ = os.Remove(t)
	}
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
		v, err := rowcodec.DecodeVector(blob)
		if err != nil {
			return nil, fmt.Errorf("memory %s: %w", id, err)
		}
		out = append(out, store.VectorSample{ID: id, Seq: seq, Vector: v})
	}
	return out, nil
}
