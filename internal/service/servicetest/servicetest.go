// Package servicetest has what the tests of the service and of the
// servers built on it share: a real SQLite store in a temporary directory
// and a fake Searcher with function fields.
//
//	st := servicetest.Store(t)
//	s := &servicetest.Searcher{Store: st, Embedder: servicetest.Embedder()}
//	svc := service.New(service.Options{Store: st, Embedder: servicetest.Embedder(), Searcher: s})
package servicetest

import (
	"context"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// Dims is the embedder's vector length (small: tests are about behaviour).
const Dims = 64

// Embedder is the offline hash embedder the tests use.
func Embedder() *embedding.Hash { return embedding.NewHash(Dims) }

// Store opens a fresh store in t's temporary directory, closed at cleanup.
// A clock, when given, stamps its rows (give the service's, so that both
// judge "now" alike).
func Store(t testing.TB, clock ...func() time.Time) *sqlite.Store {
	t.Helper()
	h := Embedder().Info()
	opts := sqlite.Options{Space: store.Space{Model: h.Model, Dimensions: h.Dimensions}, Command: "test"}
	if len(clock) > 0 {
		opts.Clock = clock[0]
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "trove.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Searcher is a fake recall pipeline: a brute-force cosine search over
// the store's rows, limited by the caller's access exactly as the real
// one is (through the store's scope-checked reads). Fn, when set, replaces
// the search; Delay holds every call (until ctx ends).
type Searcher struct {
	Store    store.Reader
	Embedder embedding.Embedder
	Fn       func(ctx context.Context, acc memory.Access, req retrieve.Request) (retrieve.Response, error)
	Delay    time.Duration
	Calls    atomic.Int64
	Now      func() time.Time // the clock "active now" is judged by (default time.Now)
}

// Search implements service.Searcher.
func (s *Searcher) Search(ctx context.Context, acc memory.Access, req retrieve.Request) (retrieve.Response, error) {
	s.Calls.Add(1)
	if s.Delay > 0 {
		select {
		case <-time.After(s.Delay):
		case <-ctx.Done():
			return retrieve.Response{}, ctx.Err()
		}
	}
	if s.Fn != nil {
		return s.Fn(ctx, acc, req)
	}
	eff, ignored := acc.Narrow(req.Scopes)
	resp := retrieve.Response{Results: []retrieve.Result{}, IgnoredScopes: ignored}
	if !eff.All() && len(eff.List()) == 0 {
		return resp, nil
	}
	qv, err := s.Embedder.Embed(ctx, []string{req.Query})
	if err != nil {
		return resp, err
	}
	f := store.Filter{Categories: req.Categories, MemoryCategories: req.MemoryCategories}
	if !req.IncludeHistory {
		// Only what was true then, as the real pipeline.
		f.ActiveAt = req.AsOf
		if f.ActiveAt == 0 && s.Now != nil {
			f.ActiveAt = s.Now().UnixMilli()
		} else if f.ActiveAt == 0 {
			f.ActiveAt = time.Now().UnixMilli()
		}
	}
	err = s.Store.Scan(ctx, eff, store.ScanOptions{Filter: f, WithVectors: true}, func(m memory.Memory) error {
		cos := capture.Cosine(qv[0], m.Vector)
		if cos <= 0.05 || req.MinScore != nil && cos < *req.MinScore {
			return nil
		}
		m.Vector = nil
		resp.Results = append(resp.Results, retrieve.Result{Memory: m, Score: cos, Sources: retrieve.Sources{Vector: &cos}})
		return nil
	})
	if err != nil {
		return resp, err
	}
	slices.SortStableFunc(resp.Results, func(a, b retrieve.Result) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	limit := req.Limit
	if limit <= 0 {
		limit = 5
	}
	if len(resp.Results) > limit {
		resp.Results = resp.Results[:limit]
	}
	return resp, nil
}
