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
	"github.com/trove-memory/trove/internal/store/storetest"
)

func reembedStore(t *testing.T, n int) (*Store, []memory.Memory) {
	t.Helper()
	s, err := Open(context.Background(), pgtest.URL(t), Options{Space: store.Space{Model: "old", Dimensions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, storetest.ReembedRows(t, s, n)
}

func TestReembed(t *testing.T) {
	storetest.RunReembed(t,
		func(t *testing.T, n int) (storetest.ReembedStore, []memory.Memory) { return reembedStore(t, n) },
		func(ctx context.Context, rs storetest.ReembedStore, slot, dims int) (int, error) {
			s := rs.(*Store)
			var n int
			err := s.pool.QueryRow(ctx, "SELECT count(*) FROM memories WHERE octet_length("+slotColumn(slot)+") = $1", dims*4).Scan(&n)
			return n, err
		})
}

var embedAll = storetest.EmbedAll

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
