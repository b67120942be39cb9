package service_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
	"github.com/trove-memory/trove/internal/store"
)

// gateEmbedder records how many of its calls run at once, and holds each
// call until want calls are in flight together. A caller that serialises
// the calls never gets there: each call then gives up after patience, and
// the test fails on maxInFlight, not on time.
type gateEmbedder struct {
	embedding.Embedder
	want     int
	patience time.Duration

	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	full        chan struct{}
}

func (g *gateEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	g.mu.Lock()
	g.inFlight++
	g.maxInFlight = max(g.maxInFlight, g.inFlight)
	if g.inFlight == g.want {
		close(g.full)
	}
	full := g.full
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	select {
	case <-full:
	case <-time.After(g.patience):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Embedder.Embed(ctx, texts)
}

// Concurrent captures of the same statement call the providers at the
// same time (no lock held around them), and the duplicate check made
// before the lock is re-made at commit: exactly one row is stored, and
// every other capture reports it as the duplicate.
func TestConcurrentCapturesOverlapAndStoreOnce(t *testing.T) {
	const n = 4
	st := servicetest.Store(t)
	gate := &gateEmbedder{Embedder: servicetest.Embedder(), want: n, patience: 3 * time.Second, full: make(chan struct{})}
	// The gate sits in the duplicate search, which the per-scope lock
	// used to hold.
	srch := &servicetest.Searcher{Store: st, Embedder: gate}
	svc := service.New(service.Options{Store: st, Embedder: servicetest.Embedder(), Searcher: srch})

	outs := make([]service.CaptureOutput, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = svc.Capture(ctx, bot, service.CaptureInput{Scope: "agent:bot", Messages: []capture.Message{
				{Role: "user", Content: "Remember that the staging database is on atlas-2."}}})
		}()
	}
	wg.Wait()
	if gate.maxInFlight != n {
		t.Fatalf("at most %d of %d captures were in the duplicate search at once: they ran one after another", gate.maxInFlight, n)
	}
	stored, skipped := "", 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		for _, m := range outs[i].Stored {
			if stored != "" {
				t.Fatalf("stored twice: %s and %s", stored, m.ID)
			}
			stored = m.ID
		}
		skipped += len(outs[i].Skipped)
	}
	if stored == "" || skipped != n-1 {
		t.Fatalf("stored %q, skipped %d; want one row and %d skips: %+v", stored, skipped, n-1, outs)
	}
	for _, o := range outs {
		for _, s := range o.Skipped {
			if s.DuplicateOf != stored {
				t.Fatalf("skip %+v, want a duplicate of %s", s, stored)
			}
		}
	}
	if c, err := st.Count(ctx, memory.Owner(), store.Filter{}); err != nil || c != 1 {
		t.Fatalf("%d rows in the store, want 1 (%v)", c, err)
	}
}
