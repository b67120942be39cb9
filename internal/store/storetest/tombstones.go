package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// SeedTombstones inserts n rows with ids prefix000000 on and deletes
// them, in writes of at most 5000 rows, leaving n tombstones stamped with
// the store's clock.
func SeedTombstones(tb testing.TB, s store.Store, prefix string, n int) {
	tb.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += 5000 {
		var ms []memory.Memory
		for j := i; j < min(n, i+5000); j++ {
			ms = append(ms, memory.Memory{ID: fmt.Sprintf("%s%06d", prefix, j), Text: "x"})
		}
		if _, err := store.PutMany(ctx, s, memory.Owner(), ms); err != nil {
			tb.Fatal(err)
		}
		err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			for _, m := range ms {
				if err := tx.Delete(m.ID, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}
