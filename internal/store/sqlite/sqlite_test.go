package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/storetest"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "trove.db"), Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// TestShared races two handles on one store file, as two processes would.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "trove.db")
		var ss [2]store.Store
		for i := range ss {
			s, err := Open(context.Background(), path, Options{Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			ss[i] = s
		}
		return ss[0], ss[1]
	})
}

func TestFTSFollowsEveryWrite(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	owner := memory.Owner()
	ms := []memory.Memory{
		{ID: "a", Text: "the deploy uses kubernetes"},
		{ID: "b", Text: "prefers tea", Metadata: map[string]any{"l0_abstract": "beverage choice", "memory_category": "preferences"}, Format: memory.FormatSmart},
		{ID: "c", Text: "temporary"},
	}
	if _, err := store.PutMany(ctx, s, owner, ms); err != nil {
		t.Fatal(err)
	}
	expect := func(q string, want ...string) {
		t.Helper()
		got, err := s.matchIDs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("match %q = %v, want %v", q, got, want)
		}
	}
	expect("kubernetes", "a")
	expect("beverage", "b") // L0 is indexed
	// Update: old words leave the index, new ones enter.
	if _, err := store.PatchMany(ctx, s, owner, []store.Patch{{ID: "a", Apply: func(m *memory.Memory) error {
		m.Text = "the deploy uses nomad"
		return nil
	}}}); err != nil {
		t.Fatal(err)
	}
	expect("kubernetes")
	expect("nomad", "a")
	// Delete drops the entry; a failed write leaves no trace.
	if _, err := store.DeleteMany(ctx, s, owner, []store.Deletion{{ID: "c"}}); err != nil {
		t.Fatal(err)
	}
	expect("temporary")
	_ = s.Write(ctx, owner, func(tx store.Tx) error {
		m := memory.Memory{ID: "d", Text: "rolled back phrase"}
		if err := tx.Insert(&m); err != nil {
			return err
		}
		return errors.New("abort")
	})
	expect("rolled")
	rep, err := s.CheckFTS(ctx)
	if err != nil || !rep.Consistent() || rep.Rows != 2 {
		t.Fatalf("fts report %+v %v", rep, err)
	}
	if err := s.RebuildFTS(ctx); err != nil {
		t.Fatal(err)
	}
	expect("nomad", "a")
	if bad, err := s.IntegrityCheck(ctx); err != nil || bad != nil {
		t.Fatalf("integrity: %v %v", bad, err)
	}
}
