package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/reembed"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
)

// shareStores opens two Stores (two "hosts") on one fresh database holding
// n rows of the model "old".
func shareStores(t *testing.T, n int) (a, b *Store) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.URL(t)
	open := func() *Store {
		s, err := Open(ctx, url, Options{Space: store.Space{Model: "old", Dimensions: 2}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b = open(), open()
	ms := make([]memory.Memory, n)
	for i := range ms {
		ms[i] = memory.Memory{ID: fmt.Sprintf("row-%05d", i), Text: fmt.Sprintf("shared row %d", i), Vector: []float32{1, float32(i)}}
	}
	if _, err := store.PutMany(ctx, a, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func rids(rows []store.EmbedRow) map[int64]bool {
	out := map[int64]bool{}
	for _, r := range rows {
		out[r.RID] = true
	}
	return out
}

// Two hosts claim disjoint rows; a claim is given up when the rows'
// vectors commit, and when the claimant's session ends; the other host
// then gets what is still to do.
func TestClaimTodoShared(t *testing.T) {
	ctx := context.Background()
	a, b := shareStores(t, 40)
	target := store.Space{Model: "new", Dimensions: 3}
	if _, err := a.BeginReembed(ctx, target); err != nil {
		t.Fatal(err)
	}
	if got, err := a.ClaimTodo(ctx, store.Space{Model: "other", Dimensions: 3}, 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("claim for a target not in progress: %d rows, %v", len(got), err)
	}
	ra, err := a.ClaimTodo(ctx, target, 0, 10)
	if err != nil || len(ra) != 10 {
		t.Fatalf("a claims: %d %v", len(ra), err)
	}
	// b scans from the start: a's rows are skipped, not waited for.
	rb, err := b.ClaimTodo(ctx, target, 0, 100)
	if err != nil || len(rb) != 30 {
		t.Fatalf("b claims: %d %v, want the 30 rows a does not hold", len(rb), err)
	}
	for rid := range rids(rb) {
		if rids(ra)[rid] {
			t.Fatalf("row %d handed to both hosts", rid)
		}
	}
	if n, err := b.ClaimedElsewhere(ctx); err != nil || n != 10 {
		t.Fatalf("b sees %d rows claimed elsewhere (%v), want 10", n, err)
	}
	// a writes 5 of its rows: they are done; the other 5 it gives up.
	if n, err := a.PutShadow(ctx, target, embedAll(ra[:5], 3)); err != nil || n != 5 {
		t.Fatalf("put: %d %v", n, err)
	}
	if n, _ := b.ClaimedElsewhere(ctx); n != 5 {
		t.Fatalf("after a's write %d rows claimed by a, want 5", n)
	}
	// a's session dies (its claims connection is cut): its rows are free.
	var pid uint32
	c := a.jobClaims()
	c.mu.Lock()
	pid = c.conn.PgConn().PID()
	c.mu.Unlock()
	// With a timeout it waits for the process to end (and free its locks).
	var ended bool
	if err := b.pool.QueryRow(ctx, "SELECT pg_terminate_backend($1, 10000)", int64(pid)).Scan(&ended); err != nil || !ended {
		t.Fatalf("terminate a's claims session: %v %v", ended, err)
	}
	b.ReleaseClaims()
	got, err := b.ClaimTodo(ctx, target, 0, 100)
	if err != nil || len(got) != 35 {
		t.Fatalf("after a died and b gave up its rows: b claims %d (%v), want the 35 without a vector", len(got), err)
	}
	// a comes back (a new claims connection): b holds everything.
	if again, err := a.ClaimTodo(ctx, target, 0, 100); err != nil || len(again) != 0 {
		t.Fatalf("a claims %d rows b holds (%v)", len(again), err)
	}
}

// The switch is made once: a second SwitchEmbedding to the same target
// flips nothing and writes its rows where the first switch left them
// pending; a batch that commits after the switch does the same.
func TestSwitchOnceShared(t *testing.T) {
	ctx := context.Background()
	a, b := shareStores(t, 6)
	target := store.Space{Model: "new", Dimensions: 3}
	if _, err := a.BeginReembed(ctx, target); err != nil {
		t.Fatal(err)
	}
	todo, _ := a.ReembedTodo(ctx, 0, 100)
	if n, err := a.PutShadow(ctx, target, embedAll(todo[:2], 3)); err != nil || n != 2 {
		t.Fatalf("put: %d %v", n, err)
	}
	res, err := a.SwitchEmbedding(ctx, target, []float32{1, 0, 0}, embedAll(todo[2:3], 3), false)
	if err != nil || res.Already || res.Switched != 3 || res.Queued != 3 {
		t.Fatalf("first switch: %+v %v", res, err)
	}
	id1, _ := a.Identity(ctx)
	// b's batch in flight commits after the switch: into the active slot.
	if n, err := b.PutShadow(ctx, target, embedAll(todo[3:5], 3)); err != nil || n != 2 {
		t.Fatalf("put after the switch: %d %v", n, err)
	}
	res, err = b.SwitchEmbedding(ctx, target, []float32{0, 1, 0}, embedAll(todo[5:], 3), false)
	if err != nil || !res.Already {
		t.Fatalf("second switch: %+v %v, want Already", res, err)
	}
	id2, _ := b.Identity(ctx)
	if id2.Slot != id1.Slot || id2.Generation != id1.Generation || id2.Model != "new" || id2.Previous.Model != "old" {
		t.Fatalf("the second switch changed the identity: %+v -> %+v", id1, id2)
	}
	if c, _ := b.ReembedCounts(ctx); c.Pending != 0 || c.Rows != 6 {
		t.Fatalf("counts: %+v, want every row with a vector", c)
	}
	// Another target is refused, not written.
	if _, err := b.PutShadow(ctx, store.Space{Model: "third", Dimensions: 3}, embedAll(todo[:1], 3)); err == nil {
		t.Fatal("a batch of a third model was written")
	}
}

// countingEmbedder counts the texts it embeds.
type countingEmbedder struct {
	mu    sync.Mutex
	count map[string]int
}

func (e *countingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e.mu.Lock()
	for _, t := range texts {
		e.count[t]++
	}
	e.mu.Unlock()
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t)), 1, 0.5}
	}
	return out, nil
}

var _ embedding.Embedder = (*countingEmbedder)(nil)

// Two jobs on two hosts move one store: each row is embedded once, the
// switch is made by one of them, and every row ends with one vector of
// the target. Then two --pending jobs share the rows left without one.
func TestReembedJobsShared(t *testing.T) {
	ctx := context.Background()
	const rows = 1500
	a, b := shareStores(t, rows)
	emb := &countingEmbedder{count: map[string]int{}}
	target := store.Space{Model: "new", Dimensions: 3}
	var reps [2]reembed.Report
	var errs [2]error
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			j := &reembed.Job{Store: s, Embedder: emb, Target: target, BatchSize: 16, Concurrency: 2}
			reps[i], errs[i] = j.Run(ctx)
		})
	}
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("job %d: %v", i, errs[i])
		}
	}
	if reps[0].Switched == reps[1].Switched || reps[0].SwitchedElsewhere == reps[1].SwitchedElsewhere {
		t.Fatalf("want one switch: %+v / %+v", reps[0], reps[1])
	}
	twice := 0
	for text, n := range emb.count {
		if n > 1 && text != reembed.ProbeText {
			twice++
		}
	}
	if len(emb.count) != rows+1 || twice != 0 {
		t.Fatalf("%d texts embedded (want %d and the probe), %d of them more than once", len(emb.count), rows, twice)
	}
	if reps[0].Embedded+reps[0].Pending == 0 || reps[1].Embedded+reps[1].Pending == 0 {
		t.Fatalf("one job did all the work: %+v / %+v", reps[0], reps[1])
	}
	t.Logf("host a embedded %d (+%d pending), host b %d (+%d pending)", reps[0].Embedded, reps[0].Pending, reps[1].Embedded, reps[1].Pending)
	id, _ := a.Identity(ctx)
	if id.Space != target || id.Generation != 1 {
		t.Fatalf("identity: %+v", id)
	}
	if c, _ := a.ReembedCounts(ctx); c.Pending != 0 || c.Rows != rows {
		t.Fatalf("counts: %+v", c)
	}
	n := 0
	err := a.Scan(ctx, memory.Owner(), store.ScanOptions{WithVectors: true}, func(m memory.Memory) error {
		if len(m.Vector) != 3 || m.Vector[0] != float32(len(m.Text)) {
			return fmt.Errorf("row %s has vector %v", m.ID, m.Vector)
		}
		n++
		return nil
	})
	if err != nil || n != rows {
		t.Fatalf("scan: %d rows, %v", n, err)
	}

	// Rows written without a vector (processes still on the old model)
	// are embedded once by two --pending jobs.
	ms := make([]memory.Memory, 400)
	for i := range ms {
		ms[i] = memory.Memory{ID: fmt.Sprintf("late-%04d", i), Text: fmt.Sprintf("late row %d", i)}
	}
	if _, err := store.PutMany(ctx, a, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	emb.count = map[string]int{}
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			j := &reembed.Job{Store: s, Embedder: emb, Target: target, BatchSize: 16, Concurrency: 2}
			reps[i], errs[i] = j.Pending(ctx)
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("pending: %v / %v", errs[0], errs[1])
	}
	for text, n := range emb.count {
		if n > 1 {
			t.Fatalf("%q embedded %d times", text, n)
		}
	}
	if len(emb.count) != len(ms) || reps[0].Pending+reps[1].Pending != len(ms) {
		t.Fatalf("pending: %d texts embedded, reports %d + %d, want %d", len(emb.count), reps[0].Pending, reps[1].Pending, len(ms))
	}
	if c, _ := a.ReembedCounts(ctx); c.Pending != 0 {
		t.Fatalf("counts after --pending: %+v", c)
	}
}
