package service_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
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
