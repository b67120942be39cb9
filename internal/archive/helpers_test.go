package archive

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

const testDims = 384

func openStore(t testing.TB) store.Store {
	t.Helper()
	return openStoreSync(t, "normal") // tests need no durability; benchmarks choose
}

func openStoreSync(t testing.TB, synchronous string) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "trove.db"), sqlite.Options{
		Version:     "test",
		Synchronous: synchronous,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newImporter(s store.Store) *Importer {
	return &Importer{Store: s, Embedder: embedding.NewHash(testDims), Access: memory.Owner()}
}

func importString(t *testing.T, im *Importer, data string) Report {
	t.Helper()
	rep, err := im.Import(context.Background(), strings.NewReader(data))
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return rep
}

// all returns every row of s, with vectors, in id order.
func all(t testing.TB, s store.Reader) []memory.Memory {
	t.Helper()
	var out []memory.Memory
	err := s.Scan(context.Background(), memory.Owner(), store.ScanOptions{WithVectors: true}, func(m memory.Memory) error {
		out = append(out, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t testing.TB, s store.Reader) int {
	t.Helper()
	n, err := s.Count(context.Background(), memory.Owner(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fakeEmbedder is an Embedder whose behaviour a test sets per call.
type fakeEmbedder struct {
	calls atomic.Int32
	fn    func(call int, texts []string) ([][]float32, error)
}

var _ embedding.Embedder = (*fakeEmbedder)(nil)

func (f *fakeEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	call := int(f.calls.Add(1))
	return f.fn(call, texts)
}

// failOn returns an embedder that fails its n-th call and otherwise
// embeds with the hash embedder.
func failOn(n int) *fakeEmbedder {
	h := embedding.NewHash(testDims)
	return &fakeEmbedder{fn: func(call int, texts []string) ([][]float32, error) {
		if call == n {
			return nil, errors.New("provider returned 503")
		}
		return h.Embed(context.Background(), texts)
	}}
}
