package sqlite

import (
	"context"
	"path/filepath"
	"testing"

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
