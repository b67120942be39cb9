package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// A new store is private: its directory 0700 and the database, its -wal
// and -shm files and the lock file 0600, whatever SQLite's own default.
func TestNewStoreIsPrivate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "fresh", "trove")
	path := filepath.Join(dir, "trove.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := store.PutMany(ctx, s, memory.Owner(), []memory.Memory{{ID: "a", Text: "private"}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		dir:               0o700,
		filepath.Dir(dir): 0o700,
		path:              0o600,
		path + "-wal":     0o600,
		path + "-shm":     0o600,
		path + ".lock":    0o600,
	}
	for p, mode := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != mode {
			t.Errorf("%s: mode %04o, want %04o", p, got, mode)
		}
	}
}
