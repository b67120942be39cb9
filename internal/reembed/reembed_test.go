package reembed

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

var (
	oldSpace = store.Space{Model: "old-model", Dimensions: 2}
	newSpace = store.Space{Model: "fake:new-model", Dimensions: 3}
)

// fakeEmbedder embeds deterministically in 3 dimensions (so a stored
// vector tells which text it embeds) and calls hook before each batch.
type fakeEmbedder struct {
	calls atomic.Int64
	rows  atomic.Int64
	hook  func(call int64, texts []string) error
	dims  int
}

func vectorOf(text string, dims int) []float32 {
	v := make([]float32, dims)
	v[0] = float32(len(text))
	for i, c := range text {
		v[1+i%(dims-1)] += float32(c % 17)
	}
	return v
}

func (f *fakeEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	n := f.calls.Add(1)
	if f.hook != nil {
		if err := f.hook(n, texts); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.rows.Add(int64(len(texts)))
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = vectorOf(t, max(f.dims, 3))
	}
	return out, nil
}

func openStore(t *testing.T, sp store.Space) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), sqlite.Options{Space: sp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func seed(t *testing.T, s *sqlite.Store, n int) []string {
	t.Helper()
	ids := make([]string, n)
	err := s.Write(context.Background(), memory.Owner(), func(tx store.Tx) error {
		for i := range n {
			m := memory.Memory{Text: fmt.Sprintf("memory number %d", i), Vector: []float32{1, float32(i)}, Metadata: map[string]any{"access_count": i}}
			if err := tx.Insert(&m); err != nil {
				return err
			}
			ids[i] = m.ID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// checkMoved wants every row to carry the target vector of its current text.
func checkMoved(t *testing.T, s *sqlite.Store, want int) {
	t.Helper()
	n := 0
	err := s.Scan(context.Background(), memory.Owner(), store.ScanOptions{WithVectors: true}, func(m memory.Memory) error {
		n++
		if got, w := m.Vector, vectorOf(m.Text, 3); fmt.Sprint(got) != fmt.Sprint(w) {
			return fmt.Errorf("row %s %q has vector %v, want %v", m.ID, m.Text, got, w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("%d rows, want %d", n, want)
	}
	id, _ := s.Identity(context.Background())
	if id.Space != newSpace || id.Previous != oldSpace {
		t.Fatalf("identity %+v", id)
	}
}

// Rows inserted and rewritten while the job runs (by a writer of the old
// model, as a live server would) all end with the target model's vector
// of their current text; the others keep their revision and metadata.
func TestRunWhileWritersWrite(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, oldSpace)
	ids := seed(t, s, 300)
	before, _ := s.Get(ctx, memory.Owner(), ids[299])
	var mu sync.Mutex
	added := 0
	emb := &fakeEmbedder{hook: func(call int64, texts []string) error {
		if id, _ := s.Identity(ctx); call%3 != 0 || id.Model != oldSpace.Model {
			return nil // an old-model writer's vectors are refused after the switch
		}
		mu.Lock()
		defer mu.Unlock()
		added++
		return s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			m := memory.Memory{Text: fmt.Sprintf("written during the move %d", call), Vector: []float32{2, 2}}
			if err := tx.Insert(&m); err != nil {
				return err
			}
			old, err := tx.Get(ids[int(call)%100])
			if err != nil {
				return err
			}
			old.Text, old.Vector = old.Text+" (edited)", []float32{3, 3}
			return tx.Update(&old)
		})
	}}
	j := &Job{Store: s, Embedder: emb, Target: newSpace, BatchSize: 16, Concurrency: 3}
	rep, err := j.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v (%+v)", err, rep)
	}
	if !rep.Switched || rep.Rows != 300 {
		t.Fatalf("report %+v", rep)
	}
	checkMoved(t, s, 300+added)
	after, _ := s.Get(ctx, memory.Owner(), ids[299])
	if after.Revision != before.Revision || fmt.Sprint(after.Metadata) != fmt.Sprint(before.Metadata) || after.UpdatedAt != before.UpdatedAt {
		t.Fatalf("an untouched row changed: %+v -> %+v", before, after)
	}
}

// An interrupted run keeps what it committed; the next run to the same
// target continues, embedding only the rest.
func TestRunResumes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, oldSpace)
	seed(t, s, 200)
	cctx, cancel := context.WithCancel(ctx)
	emb := &fakeEmbedder{hook: func(call int64, _ []string) error {
		if call == 6 {
			cancel()
			return context.Canceled
		}
		return nil
	}}
	rep, err := (&Job{Store: s, Embedder: emb, Target: newSpace, BatchSize: 20, Concurrency: 1}).Run(cctx)
	if !errors.Is(err, context.Canceled) || !rep.Interrupted || rep.Switched || rep.Embedded == 0 {
		t.Fatalf("interrupted run: %v %+v", err, rep)
	}
	first := rep.Embedded
	emb2 := &fakeEmbedder{}
	rep, err = (&Job{Store: s, Embedder: emb2, Target: newSpace, BatchSize: 20, Concurrency: 2}).Run(ctx)
	if err != nil || !rep.Resumed || !rep.Switched {
		t.Fatalf("resumed run: %v %+v", err, rep)
	}
	if got := int(emb2.rows.Load()) - 1; got != 200-first { // minus the probe
		t.Fatalf("resumed run embedded %d rows, want the %d left", got, 200-first)
	}
	checkMoved(t, s, 200)
}

func TestRollback(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, oldSpace)
	ids := seed(t, s, 50)
	if _, err := (&Job{Store: s, Embedder: &fakeEmbedder{}, Target: newSpace, KeepOld: true}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := Rollback(ctx, s)
	if err != nil || rep.SwitchRows != 50 || rep.Cleared != 50 {
		t.Fatalf("rollback %+v %v", rep, err)
	}
	m, _ := s.Get(ctx, memory.Owner(), ids[7])
	if fmt.Sprint(m.Vector) != fmt.Sprint([]float32{1, 7}) {
		t.Fatalf("vector after rollback %v", m.Vector)
	}
	if id, _ := s.Identity(ctx); id.Space != oldSpace {
		t.Fatalf("identity after rollback %+v", id)
	}
}

// A run stopped while it clears the old model's vectors (after the
// switch) has moved the store; the next run finds it on the target and
// finishes the clear, embedding nothing again.
func TestRunStoppedDuringClear(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, oldSpace)
	seed(t, s, 700)
	cctx, cancel := context.WithCancel(ctx)
	j := &Job{Store: s, Embedder: &fakeEmbedder{}, Target: newSpace, Progress: func(p Progress) {
		if p.Phase == "clear" {
			cancel()
		}
	}}
	rep, err := j.Run(cctx)
	if !errors.Is(err, context.Canceled) || !rep.Switched || !rep.Interrupted || rep.Cleared == 0 || rep.Cleared >= 700 {
		t.Fatalf("stopped run: %v %+v", err, rep)
	}
	if id, _ := s.Identity(ctx); !id.Clearing {
		t.Fatalf("identity after a stopped clear: %+v", id)
	}
	emb := &fakeEmbedder{}
	rep2, err := (&Job{Store: s, Embedder: emb, Target: newSpace}).Run(ctx)
	if err != nil || !rep2.Already || rep2.Cleared != 700-rep.Cleared || emb.rows.Load() != 1 { // the probe alone
		t.Fatalf("second run: %v %+v, %d rows embedded", err, rep2, emb.rows.Load())
	}
	if c, _ := s.ReembedCounts(ctx); c.Other != 0 {
		t.Fatalf("counts: %+v", c)
	}
	checkMoved(t, s, 700)
}

// The guard embeds nothing until asked; then it refuses a store of
// another model (naming both), degrades for the model the store moved
// from, and tells a same-named model with other vectors by its probe.
func TestGuard(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, oldSpace)
	seed(t, s, 3)
	other := &fakeEmbedder{}
	g := NewGuard(s, store.Space{Model: "other", Dimensions: 3}, other)
	if other.calls.Load() != 0 {
		t.Fatal("the guard called the provider before any embedding")
	}
	_, err := g.Embed(ctx, []string{"x"})
	var mm *MismatchError
	if !errors.As(err, &mm) || !errors.Is(err, memory.ErrDimensions) || !strings.Contains(err.Error(), "old-model") ||
		!strings.Contains(err.Error(), "other") || !strings.Contains(err.Error(), "trove reembed") {
		t.Fatalf("mismatch: %v", err)
	}
	if other.calls.Load() != 0 {
		t.Fatal("a refused embedding reached the provider")
	}

	// Same name, other vectors: the probe tells.
	same := &fakeEmbedder{dims: 3}
	sp := store.Space{Model: "fake:new-model", Dimensions: 3}
	if _, err := (&Job{Store: s, Embedder: &fakeEmbedder{}, Target: sp}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := NewGuard(s, sp, same).Embed(ctx, []string{"x"}); err != nil {
		t.Fatalf("same model refused: %v", err)
	}
	impostor := &fakeEmbedder{hook: nil, dims: 3}
	bad := embedderFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
		vs, _ := impostor.Embed(ctx, texts)
		for _, v := range vs {
			v[0], v[1] = -v[1], v[0]
		}
		return vs, nil
	})
	if _, err := NewGuard(s, sp, bad).Embed(ctx, []string{"x"}); !errors.As(err, &mm) || !strings.Contains(err.Error(), "probe cosine") {
		t.Fatalf("impostor: %v", err)
	}
	// The model the store moved from: degraded, not refused.
	_, err = NewGuard(s, oldSpace, &fakeEmbedder{}).Embed(ctx, []string{"x"})
	var mv *MovedError
	if !errors.As(err, &mv) || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("moved: %v", err)
	}
}

type embedderFunc func(ctx context.Context, texts []string) ([][]float32, error)

func (f embedderFunc) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return f(ctx, texts)
}
