package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// TestLengthCacheFollowsWrites: a scoped search's scores use cached
// document lengths; after a row's text grows (written by this handle or
// by another one on the same file, as another process would), the next
// search scores it as a store with no cache does.
func TestLengthCacheFollowsWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trove.db")
	a, err := Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var ms []memory.Memory
	for i := range 40 {
		ms = append(ms, memory.Memory{ID: fmt.Sprintf("m%02d", i), Scope: "global",
			Text: fmt.Sprintf("kettle note %d about the garden shed", i)})
	}
	if _, err := store.PutMany(ctx, a, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	acc := memory.AgentAccess("x") // scoped: the path with the cache
	search := func(s *Store) []store.TextHit {
		t.Helper()
		hits, err := s.SearchText(ctx, acc, store.Filter{}, "kettle shed", 40)
		if err != nil {
			t.Fatal(err)
		}
		return hits
	}
	fresh := func() []store.TextHit {
		t.Helper()
		c, err := Open(ctx, path, Options{Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return search(c)
	}
	search(a) // fills a's cache
	grow := func(w *Store, id string) {
		t.Helper()
		if _, err := store.PatchMany(ctx, w, memory.Owner(), []store.Patch{{ID: id, Apply: func(m *memory.Memory) error {
			m.Text += strings.Repeat(" padding words", 30)
			return nil
		}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []*Store{a, b} { // written here, then by another handle
		id := map[*Store]string{a: "m03", b: "m07"}[w]
		grow(w, id)
		got, want := search(a), fresh()
		if !slices.Equal(got, want) {
			t.Fatalf("after %s grew: cached search %v, uncached %v", id, got[:3], want[:3])
		}
		if got[len(got)-1].ID != id {
			t.Fatalf("the longer row %s should rank last, got %v", id, got[len(got)-1])
		}
	}
}
