package service_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
	"github.com/trove-memory/trove/internal/store"
)

// flakyStore fails the next Write calls while failing is set, and a
// Touch of badID always.
type flakyStore struct {
	store.Store
	failing atomic.Bool
	badID   string
}

func (f *flakyStore) Write(ctx context.Context, acc memory.Access, fn func(store.Tx) error) error {
	if f.failing.Load() {
		return errors.New("disk on fire")
	}
	return f.Store.Write(ctx, acc, func(tx store.Tx) error { return fn(badTouch{tx, f.badID}) })
}

type badTouch struct {
	store.Tx
	id string
}

func (b badTouch) Touch(id string, n int, at int64) error {
	if id == b.id {
		return errors.New("metadata is not JSON")
	}
	return b.Tx.Touch(id, n, at)
}

func usage(t *testing.T, st store.Store, id string) (count, at float64, rev int64) {
	t.Helper()
	m, err := st.Get(ctx, memory.Owner(), id)
	if err != nil {
		t.Fatal(err)
	}
	count, _ = m.Metadata[memory.KeyAccessCount].(float64)
	at, _ = m.Metadata[memory.KeyLastAccessedAt].(float64)
	return count, at, m.Revision
}

// Recall and recall-context record what they returned; the tracker writes
// counts and times without changing revisions, skips deleted rows, keeps
// counts across a failed write, and writes the rest on Close.
func TestAccessTracker(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	var st *flakyStore
	var tracker *service.AccessTracker
	e := newEnv(t, func(o *service.Options) {
		st = &flakyStore{Store: o.Store}
		tracker = service.NewAccessTracker(st, service.AccessOptions{Every: time.Hour, Clock: func() time.Time { return now }})
		o.Tracker = tracker
	})
	m := e.store(t, bot, "I prefer dark mode in every editor", "")
	gone := e.store(t, bot, "The dark mode toggle lives under View", "")
	_, _, rev := usage(t, e.st, m.ID)

	sawGone := false
	recall := func() {
		t.Helper()
		out, err := e.svc.Recall(ctx, bot, service.RecallInput{Query: "dark mode editor"})
		if err != nil || len(out.Results) == 0 {
			t.Fatalf("recall: %v %+v", err, out)
		}
		for _, r := range out.Results {
			sawGone = sawGone || r.Memory.ID == gone.ID
		}
	}
	recall()
	recall()
	if !sawGone {
		t.Fatal("recall did not return the row to be deleted; the test cannot check that it is skipped")
	}
	if _, err := e.svc.Forget(ctx, bot, service.ForgetInput{ID: gone.ID}); err != nil {
		t.Fatal(err)
	}
	st.failing.Store(true)
	if err := tracker.Flush(ctx); err == nil {
		t.Fatal("flush succeeded on a failing store")
	}
	st.failing.Store(false)
	now = now.Add(time.Minute)
	recall()
	if err := tracker.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	count, at, rev2 := usage(t, e.st, m.ID)
	if count != 3 || at != float64(now.UnixMilli()) || rev2 != rev {
		t.Fatalf("after 3 recalls: access_count %v, last_accessed_at %v, revision %d; want 3, %d, %d",
			count, at, rev2, now.UnixMilli(), rev)
	}
}

// A new text on an enriched memory drops the summaries of the old one
// (text search indexes them) and sends the row back to upgrade.
func TestUpdateTextOnSmartRow(t *testing.T) {
	e := newEnv(t)
	m := e.store(t, bot, "we deploy from the main branch", "")
	err := e.st.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		cur, err := tx.Get(m.ID)
		if err != nil {
			return err
		}
		cur.Format = memory.FormatSmart
		cur.Metadata = map[string]any{memory.KeyL0: "deploys leave from zanzibar", memory.KeyTier: "core"}
		return tx.Update(&cur)
	})
	if err != nil {
		t.Fatal(err)
	}
	searcher, ok := e.st.(store.Searcher)
	if !ok {
		t.Skip("the test store has no text search")
	}
	if hits, _ := searcher.SearchText(ctx, memory.Owner(), store.Filter{}, "zanzibar", 5); len(hits) != 1 {
		t.Fatalf("the summary is not searchable before the change: %v", hits)
	}
	text := "we deploy from release branches"
	out, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: m.ID, UpdateFields: service.UpdateFields{Text: &text}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Format != memory.FormatLegacy || out.Metadata[memory.KeyL0] != nil || out.Metadata[memory.KeyTier] != "core" {
		t.Fatalf("after the text change: %+v", out)
	}
	if hits, _ := searcher.SearchText(ctx, memory.Owner(), store.Filter{}, "zanzibar", 5); len(hits) != 0 {
		t.Fatalf("the old summary still finds the row: %v", hits)
	}
}

// A row the store cannot record on is reported and skipped, not allowed to
// fail the others; Close gives up when its context ends.
func TestAccessTrackerBadRowAndClose(t *testing.T) {
	var st *flakyStore
	var tracker *service.AccessTracker
	e := newEnv(t, func(o *service.Options) {
		st = &flakyStore{Store: o.Store}
		tracker = service.NewAccessTracker(st, service.AccessOptions{Every: time.Hour})
		o.Tracker = tracker
	})
	a := e.store(t, bot, "alpha note about deploys", "")
	b := e.store(t, bot, "beta note about deploys", "")
	st.badID = b.ID
	tracker.Record([]string{a.ID, b.ID})
	if err := tracker.Flush(ctx); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("flush with a bad row: %v, want its error", err)
	}
	if n, _, _ := usage(t, e.st, a.ID); n != 1 {
		t.Fatalf("the good row's access_count is %v, want 1", n)
	}
	st.failing.Store(true)
	tracker.Record([]string{a.ID})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := tracker.Close(cctx); err == nil {
		t.Fatal("close on a failing store with an ended context reported no error")
	}
}

// countingStore records how many Touch calls each Write made, and fails
// the Write with index failAt (0-based; -1 never).
type countingStore struct {
	store.Store
	failAt  int
	writes  int
	touches []int
}

func (c *countingStore) Write(ctx context.Context, acc memory.Access, fn func(store.Tx) error) error {
	i := c.writes
	c.writes++
	if i == c.failAt {
		return errors.New("database is locked")
	}
	n := 0
	err := c.Store.Write(ctx, acc, func(tx store.Tx) error { return fn(countTouch{tx, &n}) })
	c.touches = append(c.touches, n)
	return err
}

type countTouch struct {
	store.Tx
	n *int
}

func (c countTouch) Touch(id string, n int, at int64) error { *c.n++; return c.Tx.Touch(id, n, at) }

// A backlog is written in Writes of at most FlushBatch rows, so no hold of
// the write lock grows with it; a failed Write puts back only what was not
// written, and nothing is counted twice.
func TestAccessTrackerBatches(t *testing.T) {
	e := newEnv(t)
	const rows = 2*service.FlushBatch + 10
	ids := make([]string, rows)
	for i := range ids {
		ids[i] = e.store(t, bot, fmt.Sprintf("note number %d", i), "").ID
	}
	st := &countingStore{Store: e.st, failAt: 1}
	tracker := service.NewAccessTracker(st, service.AccessOptions{Every: time.Hour})
	defer tracker.Close(ctx)
	tracker.Record(ids)
	tracker.Record(ids[:5]) // merged per id: ids[:5] count 2
	if err := tracker.Flush(ctx); err == nil {
		t.Fatal("flush with a failing second write reported no error")
	}
	if len(st.touches) != 1 || st.touches[0] != service.FlushBatch {
		t.Fatalf("writes before the failure touched %v rows, want one write of %d", st.touches, service.FlushBatch)
	}
	if err := tracker.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []int{service.FlushBatch, service.FlushBatch, 10}; fmt.Sprint(st.touches) != fmt.Sprint(want) {
		t.Fatalf("writes touched %v rows, want %v", st.touches, want)
	}
	for i, id := range ids {
		want := 1.0
		if i < 5 {
			want = 2
		}
		if n, _, _ := usage(t, e.st, id); n != want {
			t.Fatalf("row %d: access_count %v, want %v", i, n, want)
		}
	}
}

// Past MaxPending ids, recalls of new ids are dropped and counted (and
// reported), while ids already waiting keep counting.
func TestAccessTrackerBoundsPending(t *testing.T) {
	st := &flakyStore{Store: newEnv(t).st}
	st.failing.Store(true)
	reported := make(chan error, 16)
	tracker := service.NewAccessTracker(st, service.AccessOptions{Every: 10 * time.Millisecond, MaxPending: 3,
		OnError: func(err error) { reported <- err }})
	tracker.Record([]string{"a", "b", "c", "d", "e"})
	tracker.Record([]string{"a", "f"})
	if got := tracker.Dropped(); got != 3 {
		t.Fatalf("dropped %d, want 3 (d, e, f)", got)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case err := <-reported:
			if strings.Contains(err.Error(), "3 recalls were not counted") {
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				_ = tracker.Close(cctx)
				return
			}
		case <-deadline:
			t.Fatal("dropped recalls were never reported")
		}
	}
}

// BenchmarkAccessFlushBatch measures one Write of n Touch calls on the
// SQLite store: the write-lock hold a flush batch of that size costs.
func BenchmarkAccessFlushBatch(b *testing.B) {
	st := servicetest.Store(b)
	const rows = 10_000
	ms := make([]memory.Memory, rows)
	for i := range ms {
		ms[i] = memory.Memory{Text: fmt.Sprintf("row %d", i), Vector: []float32{1, 0, 0}}
	}
	emb := servicetest.Embedder()
	vecs, err := emb.Embed(ctx, []string{"row"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range ms {
		ms[i].Vector = vecs[0]
	}
	res, err := store.PutMany(ctx, st, memory.Owner(), ms)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 0, rows)
	for i, r := range res {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
		ids = append(ids, ms[i].ID)
	}
	for _, n := range []int{1, 64, service.FlushBatch, 256, 1024} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			off := 0
			for b.Loop() {
				err := st.Write(ctx, memory.Owner(), func(tx store.Tx) error {
					for j := range n {
						if err := tx.Touch(ids[(off+j)%rows], 1, 1); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				off += n
			}
		})
	}
}
