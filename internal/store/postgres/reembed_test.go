package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/reembed"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
)

func reembedStore(t *testing.T, n int) (*Store, []memory.Memory) {
	t.Helper()
	s, err := Open(context.Background(), pgtest.URL(t), Options{Space: store.Space{Model: "old", Dimensions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ms := make([]memory.Memory, n)
	err = s.Write(context.Background(), memory.Owner(), func(tx store.Tx) error {
		for i := range ms {
			ms[i] = memory.Memory{Text: "row " + string(rune('a'+i)), Vector: []float32{1, float32(i)}, Metadata: map[string]any{"k": i}}
			if err := tx.Insert(&ms[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, ms
}

func embedAll(rows []store.EmbedRow, dims int) []store.EmbedRow {
	for i := range rows {
		rows[i].Vector = make([]float32, dims)
		rows[i].Vector[0] = float32(len(rows[i].Text))
	}
	return rows
}

// A reembed writes target vectors beside the old ones; a row whose text
// changes meanwhile is not written and stays to do; the switch moves every
// current target vector in, leaves a row changed at the last moment
// pending, records the identity, and keeps revisions and metadata.
func TestReembedShadowSwitchRollback(t *testing.T) {
	ctx := context.Background()
	s, ms := reembedStore(t, 5)
	target := store.Space{Model: "new", Dimensions: 3}
	if resumed, err := s.BeginReembed(ctx, target); err != nil || resumed {
		t.Fatalf("begin: %v %v", resumed, err)
	}
	todo, err := s.ReembedTodo(ctx, 0, 100)
	if err != nil || len(todo) != 5 {
		t.Fatalf("todo: %d %v", len(todo), err)
	}
	// Row 0's text changes after it was read: its vector must not be kept.
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m, _ := tx.Get(ms[0].ID)
		m.Text, m.Vector = "changed text", []float32{2, 2}
		return tx.Update(&m)
	}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PutShadow(ctx, target, embedAll(todo, 3))
	if err != nil || n != 4 {
		t.Fatalf("put shadow: %d %v, want 4", n, err)
	}
	if resumed, err := s.BeginReembed(ctx, target); err != nil || !resumed {
		t.Fatalf("begin again: %v %v, want resumed", resumed, err)
	}
	todo, _ = s.ReembedTodo(ctx, 0, 100)
	if len(todo) != 1 || todo[0].ID != ms[0].ID {
		t.Fatalf("todo after the change: %+v", todo)
	}
	// Row 1 changes at the last moment, after its target vector was written.
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m, _ := tx.Get(ms[1].ID)
		m.Text, m.Vector = "late change", []float32{3, 3}
		return tx.Update(&m)
	}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Get(ctx, memory.Owner(), ms[2].ID)
	res, err := s.SwitchEmbedding(ctx, target, []float32{1, 0, 0}, embedAll(todo, 3), true)
	if err != nil || res.Switched != 4 || res.Queued != 1 || res.KeptOld != 5 {
		t.Fatalf("switch: %+v %v", res, err)
	}
	id, _ := s.Identity(ctx)
	if id.Space != target || id.Previous.Model != "old" || id.Target.Model != "" || len(id.Probe) != 3 || !id.OldKept {
		t.Fatalf("identity after switch: %+v", id)
	}
	after, _ := s.Get(ctx, memory.Owner(), ms[2].ID)
	if after.Revision != before.Revision || after.UpdatedAt != before.UpdatedAt || after.Metadata["k"] != before.Metadata["k"] || len(after.Vector) != 3 {
		t.Fatalf("row changed beyond its vector: %+v -> %+v", before, after)
	}
	pend, _ := s.PendingRows(ctx, 0, 100)
	if len(pend) != 1 || pend[0].ID != ms[1].ID {
		t.Fatalf("pending: %+v", pend)
	}
	// An old-model write now fails inside the transaction (never mixes).
	err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		return tx.Insert(&memory.Memory{Text: "old model", Vector: []float32{1, 1}})
	})
	if err == nil {
		t.Fatal("a vector of the old model was written after the switch")
	}
	if n, err := s.PutVectors(ctx, target, embedAll(pend, 3)); err != nil || n != 1 {
		t.Fatalf("put pending: %d %v", n, err)
	}
	c, _ := s.ReembedCounts(ctx)
	if c.Rows != 5 || c.Pending != 0 || c.Other != 5 || c.Clear != 0 {
		t.Fatalf("counts: %+v", c)
	}
	// Row 3's text changes after the switch: its kept old vector embeds
	// the old text, so it is dropped in the same write.
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m, _ := tx.Get(ms[3].ID)
		m.Text, m.Vector = "after the switch", []float32{} // written by a process on the old model: no vector
		return tx.Update(&m)
	}); err != nil {
		t.Fatal(err)
	}
	rb, err := s.RollbackEmbedding(ctx)
	// Row 1 keeps the old vector of its last-moment text ({3, 3}); row 3
	// has none of its new text.
	if err != nil || rb.Switched != 4 || rb.Queued != 1 {
		t.Fatalf("rollback: %+v %v", rb, err)
	}
	id, _ = s.Identity(ctx)
	if id.Model != "old" || id.Dimensions != 2 || id.Previous.Model != "new" || id.OldKept || !id.Clearing || id.Slot != 0 || id.Generation != 2 {
		t.Fatalf("identity after rollback: %+v", id)
	}
	if m, _ := s.Get(ctx, memory.Owner(), ms[1].ID); len(m.Vector) != 2 || m.Vector[0] != 3 {
		t.Fatalf("row 1 after rollback: %v", m.Vector)
	}
	if pend, _ := s.PendingRows(ctx, 0, 100); len(pend) != 1 || pend[0].ID != ms[3].ID {
		t.Fatalf("pending after rollback: %+v", pend)
	}
	if _, err := s.RollbackEmbedding(ctx); err == nil {
		t.Fatal("a second rollback did something")
	}
	// The new model's vectors are cleared from the other slot.
	if n, err := s.ClearOtherSlot(ctx, 2, func(int, float64) {}); err != nil || n != 4 {
		t.Fatalf("clear: %d %v, want 4", n, err)
	}
	if c, _ := s.ReembedCounts(ctx); c.Other != 0 || c.Pending != 1 {
		t.Fatalf("counts after the clear: %+v", c)
	}
	if id, _ := s.Identity(ctx); id.Clearing {
		t.Fatalf("still clearing: %+v", id)
	}
}

// A switch without --keep-old leaves the old model's vectors to clear;
// the clear runs in short writes, survives being stopped at any batch,
// and nothing writes the slot meanwhile. A new reembed after a switch
// with --keep-old gives up the kept vectors (rollback is no longer
// possible) and clears them before writing its own.
func TestReembedClearOtherSlot(t *testing.T) {
	ctx := context.Background()
	s, _ := reembedStore(t, 7)
	target := store.Space{Model: "new", Dimensions: 3}
	move := func(target store.Space, keep bool) {
		t.Helper()
		if _, err := s.BeginReembed(ctx, target); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClearOtherSlot(ctx, 0, func(int, float64) {}); err != nil {
			t.Fatal(err)
		}
		todo, _ := s.ReembedTodo(ctx, 0, 100)
		if len(todo) != 7 {
			t.Fatalf("todo: %d rows, want 7", len(todo))
		}
		if _, err := s.SwitchEmbedding(ctx, target, make([]float32, target.Dimensions), embedAll(todo, target.Dimensions), keep); err != nil {
			t.Fatal(err)
		}
	}
	move(target, false)
	id, _ := s.Identity(ctx)
	if !id.Clearing || id.OldKept || id.Slot != 1 || id.Generation != 1 {
		t.Fatalf("identity after the switch: %+v", id)
	}
	if _, err := s.BeginReembed(ctx, store.Space{Model: "third", Dimensions: 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutShadow(ctx, store.Space{Model: "third", Dimensions: 4}, nil); err == nil {
		t.Fatal("a target vector was written over vectors still to clear")
	}
	// Stopped after its first batch.
	stopped, cancel := context.WithCancel(ctx)
	n, err := s.ClearOtherSlot(stopped, 3, func(int, float64) { cancel() })
	if err == nil || n != 3 {
		t.Fatalf("stopped clear: %d %v", n, err)
	}
	if c, _ := s.ReembedCounts(ctx); c.Clear != 4 {
		t.Fatalf("counts after a stopped clear: %+v", c)
	}
	if n, err := s.ClearOtherSlot(ctx, 3, func(int, float64) {}); err != nil || n != 4 {
		t.Fatalf("resumed clear: %d %v", n, err)
	}
	if c, _ := s.ReembedCounts(ctx); c.Clear != 0 || c.Other != 0 || c.Shadowed != 0 {
		t.Fatalf("counts after the clear: %+v", c)
	}

	move(store.Space{Model: "third", Dimensions: 4}, true)
	if id, _ := s.Identity(ctx); !id.OldKept || id.Clearing || id.Slot != 0 {
		t.Fatalf("identity after a switch with keep-old: %+v", id)
	}
	move(store.Space{Model: "fourth", Dimensions: 5}, false)
	id, _ = s.Identity(ctx)
	if id.Model != "fourth" || id.Previous.Model != "third" || id.OldKept || !id.Clearing {
		t.Fatalf("identity after a reembed over kept vectors: %+v", id)
	}
	if _, err := s.RollbackEmbedding(ctx); err == nil {
		t.Fatal("rolled back over vectors given up")
	}
	var got int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM memories WHERE octet_length("+slotColumn(id.Slot)+") = 20").Scan(&got); err != nil || got != 7 {
		t.Fatalf("%d rows with the fourth model's vector in the active slot (%v), want 7", got, err)
	}
}

// The reembed job runs to the end on PostgreSQL while another store (a
// second host) keeps editing rows: every row ends with a vector of the
// target model in the active slot, none pending, and the edits are kept.
func TestReembedJobWithLiveWriter(t *testing.T) {
	ctx := context.Background()
	s, ms := reembedStore(t, 20)
	other, err := Open(ctx, s.connURL(t), Options{Space: store.Space{Model: "old", Dimensions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	target := store.Space{Model: "new-hash", Dimensions: 16}
	stop := make(chan struct{})
	edits := make(chan int, 1)
	go func() {
		n := 0
		defer func() { edits <- n }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			err := other.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				m, err := tx.Get(ms[i%len(ms)].ID)
				if err != nil {
					return err
				}
				m.Text = fmt.Sprintf("edited %d", i)
				m.Vector = nil // a process on the old model after the switch writes no vector
				return tx.Update(&m)
			})
			if err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	j := &reembed.Job{Store: s, Embedder: embedding.NewHash(16), Target: target, BatchSize: 4, Concurrency: 2}
	rep, err := j.Run(ctx)
	close(stop)
	n := <-edits
	if err != nil || !rep.Switched {
		t.Fatalf("reembed: %+v %v", rep, err)
	}
	// Rows edited after the switch's pending pass are embedded now.
	if _, err := (&reembed.Job{Store: s, Embedder: embedding.NewHash(16), Target: target}).Pending(ctx); err != nil {
		t.Fatal(err)
	}
	id, _ := s.Identity(ctx)
	if id.Space != target || id.Generation != 1 {
		t.Fatalf("identity: %+v", id)
	}
	c, err := s.ReembedCounts(ctx)
	if err != nil || c.Rows != 20 || c.Pending != 0 {
		t.Fatalf("counts after %d live edits: %+v %v", n, c, err)
	}
	err = s.Scan(ctx, memory.Owner(), store.ScanOptions{WithVectors: true}, func(m memory.Memory) error {
		if len(m.Vector) != 16 {
			return fmt.Errorf("row %s (%q) has a vector of %d dimensions", m.ID, m.Text, len(m.Vector))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d live edits during the reembed: %+v", n, rep)
}

// A switch waits for a write storing a vector that is in flight (the
// write share-locks the slot); that write's old-model vector lands in the
// slot being retired, so the row comes out of the switch pending, never
// with an old vector in the new slot.
func TestSwitchWaitsForVectorWriter(t *testing.T) {
	ctx := context.Background()
	s, _ := reembedStore(t, 2)
	target := store.Space{Model: "new", Dimensions: 3}
	if _, err := s.BeginReembed(ctx, target); err != nil {
		t.Fatal(err)
	}
	todo, _ := s.ReembedTodo(ctx, 0, 10)
	if n, err := s.PutShadow(ctx, target, embedAll(todo, 3)); err != nil || n != 2 {
		t.Fatalf("shadow: %d %v", n, err)
	}
	inWrite, commit := make(chan struct{}), make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		wrote <- s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			m := memory.Memory{ID: "late", Text: "written during the switch", Vector: []float32{4, 4}}
			if err := tx.Insert(&m); err != nil {
				return err
			}
			close(inWrite)
			<-commit
			return nil
		})
	}()
	<-inWrite
	switched := make(chan error, 1)
	go func() {
		_, err := s.SwitchEmbedding(ctx, target, []float32{1, 0, 0}, nil, false)
		switched <- err
	}()
	waitForLockWait(t, s)
	select {
	case err := <-switched:
		t.Fatalf("the switch ended while a vector write was in flight: %v", err)
	default:
	}
	close(commit)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-switched; err != nil {
		t.Fatal(err)
	}
	m, err := s.Get(ctx, memory.Owner(), "late")
	if err != nil || m.Vector != nil {
		t.Fatalf("the row written during the switch: vector %v %v, want none (pending)", m.Vector, err)
	}
	if pend, _ := s.PendingRows(ctx, 0, 10); len(pend) != 1 || pend[0].ID != "late" {
		t.Fatalf("pending: %+v", pend)
	}
}

// waitForLockWait waits until a session of s's database waits for a lock.
func waitForLockWait(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var n int
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("no session started waiting for a lock")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// connURL is the URL of the test database s is open on.
func (s *Store) connURL(t *testing.T) string {
	t.Helper()
	return s.pool.Config().ConnString()
}

// The guard over a PostgreSQL store: it records its model's probe once
// the store has a model, passes its own model, and stops a second host
// configured with a same-named but different embedder (other vectors).
func TestGuardRecordsAndChecksProbe(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	h := embedding.NewHash(8)
	sp := store.Space{Model: h.Info().Model, Dimensions: 8}
	s, err := Open(ctx, url, Options{Space: sp})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := reembed.NewGuard(s, sp, h)
	vs, err := g.Embed(ctx, []string{"first"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutMany(ctx, s, memory.Owner(), []memory.Memory{{Text: "first", Vector: vs[0]}}); err != nil {
		t.Fatal(err)
	}
	if err := reembed.NewGuard(s, sp, h).Check(ctx); err != nil {
		t.Fatalf("check of the store's own model: %v", err)
	}
	id, err := s.Identity(ctx)
	if err != nil || id.Space != sp || len(id.Probe) != 8 {
		t.Fatalf("identity after the check: %+v %v", id, err)
	}
	// Another host: the same model name, an embedder giving other vectors.
	other := reembed.NewGuard(s, sp, flipped{h})
	var mm *reembed.MismatchError
	if err := other.Check(ctx); !errors.As(err, &mm) {
		t.Fatalf("a different embedder under the store's model name: %v", err)
	}
	// RecordProbe never replaces a recorded probe.
	if err := s.RecordProbe(ctx, sp, make([]float32, 8)); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Identity(ctx); !slices.Equal(again.Probe, id.Probe) {
		t.Fatalf("probe replaced: %v, was %v", again.Probe, id.Probe)
	}
}

// flipped embeds as its inner embedder with every vector negated.
type flipped struct{ inner embedding.Embedder }

func (f flipped) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	vs, err := f.inner.Embed(ctx, texts)
	for _, v := range vs {
		for i := range v {
			v[i] = -v[i]
		}
	}
	return vs, err
}
