package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// lengthCache keeps the text index's document lengths between searches.
//
// A scoped text search scores each candidate row with its length in
// tokens (bm25Ranker), one docsize lookup per row: at 100k rows a query
// with a common word looked up thousands, most of its time. Lengths only
// change when a row's text does, and every such write gives the row a
// new change sequence number, so the cache is kept exact the way the
// vector index is: before a search reads it, the rows written since the
// sequence it is current to are dropped from it (sync). A length read
// from an older snapshot than the cache's is not stored, so a length
// that was already stale can never be kept. The cache is per text index
// version (a rebuilt index has other lengths) and is emptied when it
// grows past lengthCacheMax rows.
type lengthCache struct {
	mu  sync.Mutex
	ok  bool  // seq and ver are set
	seq int64 // the change sequence the lengths are current to
	ver int   // the text index version they are from
	m   map[int64]int32
}

// lengthCacheMax bounds the cache (~40 bytes a row).
const lengthCacheMax = 1 << 20

// knownLengths brings the cache up to date and returns the lengths it
// holds of the rows of freqs (rids in index version ver).
func (s *Store) knownLengths(ctx context.Context, ver int, freqs map[int64][]float64) (map[int64]int, error) {
	c := &s.lens
	if err := s.syncLengths(ctx, ver); err != nil {
		return nil, err
	}
	out := make(map[int64]int, len(freqs))
	c.mu.Lock()
	defer c.mu.Unlock()
	for rid := range freqs {
		if l, ok := c.m[rid]; ok {
			out[rid] = int(l)
		}
	}
	return out, nil
}

// readLengths is docLengths, keeping what it read in the cache.
func (s *Store) readLengths(ctx context.Context, ver int, rids []int64) (map[int64]int, error) {
	c := &s.lens
	got, seq, err := s.docLengths(ctx, rids)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok && c.ver == ver && seq >= c.seq {
		// Read at or after the cache's sequence: rows written between the
		// two are dropped by the next sync.
		if len(c.m)+len(got) > lengthCacheMax {
			clear(c.m)
		}
		for rid, l := range got {
			c.m[rid] = int32(l)
		}
	}
	return got, nil
}

// syncLengths brings the cache up to the store's change sequence: the
// lengths of rows written since are dropped (a row deleted since leaves
// the index, so it is never asked for; its rid, if reused, is written
// since). The cache's lock is held while it reads, so two syncs do not
// interleave.
func (s *Store) syncLengths(ctx context.Context, ver int) error {
	c := &s.lens
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ok || c.ver != ver {
		seq, err := s.ChangeSeq(ctx)
		if err != nil {
			return err
		}
		c.ok, c.seq, c.ver, c.m = true, seq, ver, map[int64]int32{}
		return nil
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("text search: %w", err)
	}
	defer tx.Rollback()
	var seq int64
	if err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'seq'").Scan(&seq); err != nil {
		return fmt.Errorf("text search: %w", err)
	}
	if seq == c.seq {
		return nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT rid FROM memories WHERE seq > ?", c.seq)
	if err != nil {
		return fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rid int64
		if err := rows.Scan(&rid); err != nil {
			return fmt.Errorf("text search: %w", err)
		}
		delete(c.m, rid)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("text search: %w", err)
	}
	c.seq = seq
	return nil
}
