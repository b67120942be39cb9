package service_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/lifecycle"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

const simDay = 24 * time.Hour

// allowed checks a move against memory-lancedb-pro's thresholds as the
// issue states them, written out here rather than read from
// lifecycle.Transition, so the two are checked against each other.
func allowed(from, to string, in lifecycle.Input, s lifecycle.Scores, now time.Time) bool {
	n, c := in.AccessCount, s.Composite
	age := now.Sub(time.UnixMilli(in.CreatedAt))
	switch from + ">" + to {
	case "peripheral>working":
		return n >= 3 && c >= 0.4
	case "working>core":
		return n >= 10 && c >= 0.7 && in.Importance >= 0.8
	case "working>peripheral":
		return c < 0.15 || age > 60*simDay && n < 3
	case "core>working":
		return c < 0.15 && n < 3
	}
	return false
}

// sim is a store whose clock the test moves.
type sim struct {
	now     time.Time
	st      *sqlite.Store
	svc     *service.Service
	tracker *service.AccessTracker
	cfg     lifecycle.Config
	lastSeq int64
	seen    map[string]int // moves observed, by "from>to"
}

func newSim(t *testing.T, wrap func(*sqlite.Store) store.Store) *sim {
	s := &sim{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), cfg: lifecycle.Defaults(), seen: map[string]int{}}
	clock := func() time.Time { return s.now }
	raw := servicetest.Store(t, clock)
	s.st = raw
	var st store.Store = raw
	if wrap != nil {
		st = wrap(raw)
	}
	s.tracker = service.NewAccessTracker(raw, service.AccessOptions{Every: time.Hour, Clock: clock})
	t.Cleanup(func() { s.tracker.Close(context.Background()) })
	s.svc = service.New(service.Options{Store: st, Embedder: servicetest.Embedder(), Clock: clock, Tracker: s.tracker})
	return s
}

func (s *sim) rows(t *testing.T) map[string]memory.Memory {
	t.Helper()
	out := map[string]memory.Memory{}
	if err := s.st.Scan(ctx, memory.Owner(), store.ScanOptions{}, func(m memory.Memory) error { out[m.ID] = m; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkLog checks every move logged since the last look against the
// thresholds, with the row as it is now (nothing wrote it since) read in
// the tier it left. It returns the moves by id.
func (s *sim) checkLog(t *testing.T, rows map[string]memory.Memory) map[string][]store.TierTransition {
	t.Helper()
	trs, err := s.st.RecentTransitions(ctx, memory.Owner(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]store.TierTransition{}
	for i := len(trs) - 1; i >= 0; i-- { // oldest first
		tr := trs[i]
		if tr.Seq <= s.lastSeq {
			continue
		}
		s.lastSeq = tr.Seq
		if tr.At != s.now.UnixMilli() || tr.Reason == "" {
			t.Fatalf("move %+v: logged at %d, now is %d, or no reason", tr, tr.At, s.now.UnixMilli())
		}
		in := lifecycle.FromMemory(rows[tr.MemoryID])
		in.Tier = lifecycle.Tier(tr.From)
		if sc := s.cfg.Score(in, s.now); !allowed(tr.From, tr.To, in, sc, s.now) {
			t.Fatalf("day %s: move %s %s→%s (%s) breaks the thresholds: n=%d composite=%.3f importance=%.2f",
				s.now.Format(time.DateOnly), tr.MemoryID, tr.From, tr.To, tr.Reason, in.AccessCount, sc.Composite, in.Importance)
		}
		s.seen[tr.From+">"+tr.To]++
		out[tr.MemoryID] = append(out[tr.MemoryID], tr)
	}
	return out
}

// 180 simulated days of a store with scripted recalls (a clock seam: no
// sleeping). Every day recalls are recorded (the flush moves the rows it
// touches) and a maintenance pass runs. Every logged move is checked
// against the thresholds, and after each pass every row is in the tier
// lifecycle.Transition gave for it as read before the pass (one move per
// row per pass); no move bumps a revision or keeps a version.
func TestMaintainSimulation(t *testing.T) {
	s := newSim(t, nil)
	rng := rand.New(rand.NewPCG(7, 11))
	type script struct {
		rate        float64 // recalls per day
		from, until int     // days the recalls happen
	}
	scripts := map[string]script{}
	var ms []memory.Memory
	for i := range 160 {
		m := memory.Memory{ID: fmt.Sprintf("m%03d", i), Text: fmt.Sprintf("memory number %d", i), Category: memory.CategoryFact,
			Scope: memory.GlobalScope, Importance: []float64{0.2, 0.5, 0.85, 0.95}[i%4], Format: memory.FormatSmart,
			Metadata: map[string]any{}, CreatedAt: s.now.Add(-time.Duration(rng.IntN(30)) * simDay).UnixMilli()}
		switch i % 5 {
		case 0: // established and never used again
			m.Metadata[memory.KeyTier] = "core"
		case 1:
			m.Metadata[memory.KeyTier] = "peripheral"
		case 2:
			m.Metadata[memory.KeyTier] = "working"
		} // else no tier: a legacy row, working
		if i%7 == 0 {
			m.Metadata["temporal_type"] = "dynamic"
		}
		ms = append(ms, m)
		switch i % 6 {
		case 0: // never recalled
		case 1: // daily
			scripts[m.ID] = script{rate: 1, from: 0, until: 180}
		case 2: // a burst in the first two weeks
			scripts[m.ID] = script{rate: 0.8, from: 0, until: 14}
		case 3: // found late
			scripts[m.ID] = script{rate: 0.7, from: 90, until: 180}
		case 4: // now and then
			scripts[m.ID] = script{rate: 0.1, from: 0, until: 180}
		case 5: // used, then forgotten
			scripts[m.ID] = script{rate: 0.5, from: 20, until: 60}
		}
	}
	if err := s.st.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		for i := range ms {
			if err := tx.Insert(&ms[i]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	revs := map[string]int64{}
	for id, m := range s.rows(t) {
		revs[id] = m.Revision
	}
	flushMoves := 0 // rows moved by the write that recorded their recalls
	for day := range 180 {
		s.now = s.now.Add(simDay)
		var recalled []string
		for _, m := range ms { // in order: the same run every time
			id := m.ID
			sc, ok := scripts[id]
			if ok && day >= sc.from && day < sc.until && rng.Float64() < sc.rate {
				recalled = append(recalled, id)
			}
		}
		s.tracker.Record(recalled)
		if err := s.tracker.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		flushMoves += len(s.checkLog(t, s.rows(t)))

		before := s.rows(t)
		out, err := s.svc.Maintain(ctx, service.Caller{}, service.MaintainInput{BatchSize: 16})
		if err != nil || out.Skipped != "" || out.Scanned != len(ms) || out.Stale != 0 {
			t.Fatalf("day %d: %+v %v", day, out, err)
		}
		after := s.rows(t)
		moved := s.checkLog(t, after)
		if len(moved) != out.Transitions {
			t.Fatalf("day %d: %d rows moved, the pass says %d", day, len(moved), out.Transitions)
		}
		for id, b := range before {
			in := lifecycle.FromMemory(b)
			want := in.Tier
			if to, _, ok := s.cfg.Transition(in, s.cfg.Score(in, s.now), s.now); ok {
				want = to
			}
			a := after[id]
			if got := lifecycle.FromMemory(a).Tier; got != want {
				t.Fatalf("day %d: %s is %s after the pass, want %s", day, id, got, want)
			}
			if a.Revision != revs[id] || a.UpdatedAt != b.UpdatedAt {
				t.Fatalf("day %d: %s revision %d→%d or updated_at changed: a move is not an edit", day, id, revs[id], a.Revision)
			}
		}
	}
	for _, mv := range []string{"peripheral>working", "working>core", "working>peripheral", "core>working"} {
		if s.seen[mv] == 0 {
			t.Errorf("no %s move in 180 days: the script does not exercise it (seen %v)", mv, s.seen)
		}
	}
	if flushMoves == 0 {
		t.Error("no row moved when its recalls were recorded")
	}
	t.Logf("moves in 180 days: %v (%d rows moved by a recall flush)", s.seen, flushMoves)
	for id := range revs {
		if vs, _ := s.st.History(ctx, memory.Owner(), id, 0); len(vs) != 0 {
			t.Fatalf("%s kept %d versions", id, len(vs))
		}
	}
	st, err := s.svc.Stats(ctx, service.Caller{}, nil)
	if err != nil || st.ByTier["core"]+st.ByTier["working"]+st.ByTier["peripheral"] != len(ms) || st.LastMaintain == nil ||
		st.LastMaintain.Scanned != len(ms) || st.LastMaintain.StartedAt != s.now.UnixMilli() {
		t.Fatalf("stats %+v %v", st, err)
	}
}

// editingStore edits a row through the inner store just before the
// maintenance pass's first write.
type editingStore struct {
	*sqlite.Store
	once sync.Once
	edit func()
}

func (e *editingStore) Write(ctx context.Context, acc memory.Access, fn func(store.Tx) error) error {
	e.once.Do(e.edit)
	return e.Store.Write(ctx, acc, fn)
}

// A row edited between the pass's read and its write is not moved from the
// stale read, and the edit is kept; the next pass computes from the edit.
func TestMaintainStaleReadNotMoved(t *testing.T) {
	var raw *sqlite.Store
	s := newSim(t, func(st *sqlite.Store) store.Store {
		raw = st
		return &editingStore{Store: st, edit: func() {
			if err := raw.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				m, err := tx.Get("old")
				if err != nil {
					return err
				}
				m.Text = "edited while the pass ran"
				return tx.Update(&m)
			}); err != nil {
				t.Error(err)
			}
		}}
	})
	old := memory.Memory{ID: "old", Text: "an old note", Scope: memory.GlobalScope, Importance: 0.3, CreatedAt: s.now.Add(-90 * simDay).UnixMilli()}
	other := memory.Memory{ID: "other", Text: "another old note", Scope: memory.GlobalScope, Importance: 0.3, CreatedAt: s.now.Add(-90 * simDay).UnixMilli()}
	if err := raw.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		if err := tx.Insert(&old); err != nil {
			return err
		}
		return tx.Insert(&other)
	}); err != nil {
		t.Fatal(err)
	}
	out, err := s.svc.Maintain(ctx, service.Caller{}, service.MaintainInput{})
	if err != nil || out.Transitions != 1 || out.Stale != 1 {
		t.Fatalf("first pass: %+v %v", out, err)
	}
	m, _ := raw.Get(ctx, memory.Owner(), "old")
	if m.Text != "edited while the pass ran" || m.Revision != 2 || lifecycle.FromMemory(m).Tier != lifecycle.Working {
		t.Fatalf("after the first pass: %+v", m)
	}
	if o, _ := raw.Get(ctx, memory.Owner(), "other"); lifecycle.FromMemory(o).Tier != lifecycle.Peripheral {
		t.Fatalf("the unedited row was not moved: %+v", o)
	}
	out, err = s.svc.Maintain(ctx, service.Caller{}, service.MaintainInput{})
	if err != nil || out.Transitions != 1 || out.Stale != 0 {
		t.Fatalf("second pass: %+v %v", out, err)
	}
	m, _ = raw.Get(ctx, memory.Owner(), "old")
	if m.Text != "edited while the pass ran" || m.Revision != 2 || lifecycle.FromMemory(m).Tier != lifecycle.Peripheral {
		t.Fatalf("after the second pass: %+v", m)
	}
}

// One runner per store: a pass that finds the lock held is skipped, not
// failed. A dry run moves nothing. Agents may not run a pass.
func TestMaintainLockDryRunAccess(t *testing.T) {
	s := newSim(t, nil)
	old := memory.Memory{ID: "old", Text: "an old note", Scope: memory.GlobalScope, Importance: 0.3, CreatedAt: s.now.Add(-90 * simDay).UnixMilli()}
	if err := s.st.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&old) }); err != nil {
		t.Fatal(err)
	}
	release, ok, err := s.st.TryJob(service.MaintainJobName)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	out, err := s.svc.Maintain(ctx, service.Caller{}, service.MaintainInput{})
	if err != nil || out.Skipped != service.SkippedMaintain || out.Scanned != 0 {
		t.Fatalf("while another holds the lock: %+v %v", out, err)
	}
	out, err = s.svc.Maintain(ctx, service.Caller{}, service.MaintainInput{DryRun: true})
	if err != nil || !out.DryRun || out.Transitions != 1 || out.Moves["working→peripheral"] != 1 {
		t.Fatalf("dry run: %+v %v", out, err)
	}
	release()
	if m, _ := s.st.Get(ctx, memory.Owner(), "old"); lifecycle.FromMemory(m).Tier != lifecycle.Working {
		t.Fatal("a dry run moved a row")
	}
	if _, err := s.svc.Maintain(ctx, service.Caller{Agent: "bot"}, service.MaintainInput{}); !errors.Is(err, memory.ErrScopeDenied) {
		t.Fatalf("an agent ran maintenance: %v", err)
	}
	for _, share := range []float64{-0.1, 1.5} {
		if _, err := s.svc.Maintain(ctx, service.Caller{}, service.MaintainInput{LockShare: share}); !errors.Is(err, memory.ErrInvalid) {
			t.Fatalf("lock share %g: %v", share, err)
		}
	}
	out, err = s.svc.Maintain(ctx, service.Caller{}, service.MaintainInput{})
	if err != nil || out.Transitions != 1 || out.Batches != 1 || out.LockMS <= 0 {
		t.Fatalf("after release: %+v %v", out, err)
	}
}

// Property: over random memories and instants, lifecycle.Transition moves
// a row exactly when a threshold of its tier holds, and only as the
// thresholds allow (working → core first when both hold).
func TestTransitionMatchesThresholds(t *testing.T) {
	cfg := lifecycle.Defaults()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	tiers := []lifecycle.Tier{lifecycle.Core, lifecycle.Working, lifecycle.Peripheral}
	for i := range 20000 {
		created := now.Add(-time.Duration(rng.Float64() * float64(200*simDay)))
		in := lifecycle.Input{Importance: rng.Float64(), Confidence: rng.Float64(), Tier: tiers[rng.IntN(3)],
			AccessCount: rng.IntN(20), CreatedAt: created.UnixMilli(), Dynamic: rng.IntN(4) == 0}
		if in.AccessCount > 0 {
			in.LastAccessedAt = created.Add(time.Duration(rng.Float64() * float64(now.Sub(created)))).UnixMilli()
		}
		s := cfg.Score(in, now)
		to, _, ok := cfg.Transition(in, s, now)
		var could []string
		for _, cand := range tiers {
			if cand != in.Tier && allowed(string(in.Tier), string(cand), in, s, now) {
				could = append(could, string(cand))
			}
		}
		switch {
		case ok && !allowed(string(in.Tier), string(to), in, s, now):
			t.Fatalf("case %d: %+v moved %s→%s against the thresholds (composite %.3f)", i, in, in.Tier, to, s.Composite)
		case !ok && len(could) > 0:
			t.Fatalf("case %d: %+v stayed %s though the thresholds allow %v (composite %.3f)", i, in, in.Tier, could, s.Composite)
		case ok && len(could) > 1 && to != lifecycle.Core:
			t.Fatalf("case %d: %+v could go to %v and went to %s", i, in, could, to)
		}
	}
}
