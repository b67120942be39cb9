package service_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

var copySpace = store.Space{Model: "copy-test", Dimensions: 4}

func openSQLiteCopy(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{Space: copySpace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openPostgresCopy(t *testing.T) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{Space: copySpace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fillEveryKind writes a store with every kind of row a copy carries:
// plain rows with vectors, a fact with a superseded value, an archived
// row, edits and deletes (history, tombstones), a purge (erasure),
// capture messages and jobs, tier moves, injections, a maintenance pass,
// and a reembed in progress (target vectors in the other slot).
func fillEveryKind(t *testing.T, st *sqlite.Store, n int) {
	t.Helper()
	ctx := context.Background()
	vec := func(i int) []float32 { return []float32{float32(i) + 0.1, -float32(i) / 3, 1e-7 * float32(i), 0.5} }
	err := st.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		for i := range n {
			m := memory.Memory{ID: fmt.Sprintf("m%05d", i), Text: fmt.Sprintf("memory number %d about topic %d", i, i%7),
				Category: memory.CategoryFact, Scope: memory.GlobalScope, Importance: 0.1 + float64(i%9)/10,
				CreatedAt: 1700000000000 + int64(i), Vector: vec(i),
				Metadata: map[string]any{"n": float64(i), "nested": map[string]any{"k": []any{"a", 1.5}}}}
			if i%5 == 0 {
				m.Scope = "project:copy"
				m.Format = memory.FormatSmart
				m.Metadata[memory.KeyMemoryCategory] = "events"
				m.Metadata[memory.KeyTier] = "core"
			}
			if err := tx.Insert(&m); err != nil {
				return err
			}
		}
		// A fact: the old value superseded by the new one.
		old := memory.Memory{ID: "fact-old", Text: "the build uses make", Category: memory.CategoryFact, Scope: memory.GlobalScope, Importance: 0.6,
			Metadata: map[string]any{memory.KeyFactKey: "build.tool", memory.KeyValidFrom: float64(1700000000000),
				memory.KeyInvalidatedAt: float64(1700000500000), memory.KeySupersededBy: "fact-new"}}
		cur := memory.Memory{ID: "fact-new", Text: "the build uses bazel", Category: memory.CategoryFact, Scope: memory.GlobalScope, Importance: 0.7,
			Metadata: map[string]any{memory.KeyFactKey: "build.tool", memory.KeyValidFrom: float64(1700000500000),
				memory.KeySupersedes: []any{"fact-old"}, memory.KeyValidUntil: float64(1900000000000)}}
		arch := memory.Memory{ID: "archived", Text: "an archived memory", Category: memory.CategoryOther, Scope: memory.GlobalScope, Importance: 0.2,
			Metadata: map[string]any{memory.KeyArchivedAt: float64(1700000600000), memory.KeyState: "archived"}}
		for _, m := range []*memory.Memory{&old, &cur, &arch} {
			if err := tx.Insert(m); err != nil {
				return err
			}
		}
		// Ids whose order differs between bytewise and a language's collation.
		for _, id := range []string{"Zeta", "zeta-2", "émile", "_under", "edit-1", "edit-2", "gone", "purged"} {
			m := memory.Memory{ID: id, Text: "text of " + id, Scope: memory.GlobalScope, Importance: 0.5}
			if err := tx.Insert(&m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		for _, id := range []string{"edit-1", "edit-2", "edit-1"} {
			m, err := tx.Get(id)
			if err != nil {
				return err
			}
			m.Text += " (edited)"
			if err := tx.Update(&m); err != nil {
				return err
			}
		}
		if err := tx.Delete("gone", 0); err != nil {
			return err
		}
		if _, err := tx.Purge("purged"); err != nil {
			return err
		}
		bt := tx.(store.BufferTx)
		msgs, err := bt.AppendMessages([]store.BufferedMessage{
			{Session: "s1", Scope: memory.GlobalScope, Role: "user", Content: "hello", CreatedAt: 1700000000001},
			{Session: "s1", Scope: memory.GlobalScope, Role: "assistant", Content: "hi", CreatedAt: 1700000000002},
			{Session: "s2", Scope: "project:copy", Agent: "bot", Role: "user", Content: "later", CreatedAt: 1700000000003},
		})
		if err != nil {
			return err
		}
		if _, err := bt.ConsumeMessages("s1", msgs[1].ID, "job-1"); err != nil {
			return err
		}
		for _, j := range []store.CaptureJob{
			{ID: "job-1", Session: "s1", Scope: memory.GlobalScope, State: store.JobDone, Result: []byte(`{"stored":1}`), Attempts: 1, CreatedAt: 1700000000010, UpdatedAt: 1700000000020},
			{ID: "job-2", Session: "s2", Scope: "project:copy", Agent: "bot", State: store.JobFailed, Flush: true, Error: "no llm", Attempts: 3, CreatedAt: 1700000000030, UpdatedAt: 1700000000040},
		} {
			if err := bt.PutCaptureJob(j); err != nil {
				return err
			}
		}
		tt := tx.(store.TierTx)
		if _, err := tt.SetTier(store.TierMove{ID: "m00001", From: "working", To: "peripheral", AccessCount: -1, Reason: "stale", At: 1700000000050}); err != nil {
			return err
		}
		if err := tt.PutMaintainRun(store.MaintainRun{StartedAt: 1700000000060, DurationMS: 12, Scanned: n, Transitions: 1}); err != nil {
			return err
		}
		it := tx.(store.InjectionTx)
		return it.RecordInjections("s1", "", []string{"m00002", "m00003"}, 1, 1700000000070)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A reembed under way: the target model's vectors in the other slot.
	target := store.Space{Model: "copy-test-2", Dimensions: 3}
	if _, err := st.BeginReembed(ctx, target); err != nil {
		t.Fatal(err)
	}
	todo, err := st.ReembedTodo(ctx, 0, n/2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range todo {
		todo[i].Vector = []float32{float32(i), 1, -2}
	}
	if _, err := st.PutShadow(ctx, target, todo); err != nil {
		t.Fatal(err)
	}
}

// dump is every row of every copied table and the store-wide values.
type dump struct {
	Meta   map[string]string
	Tables map[string][][]any
}

func dumpStore(t *testing.T, c store.Copier) dump {
	t.Helper()
	ctx := context.Background()
	d := dump{Tables: map[string][][]any{}}
	var err error
	if d.Meta, err = c.CopyMeta(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tb := range store.CopyTables {
		rows, err := c.CopyRows(ctx, tb.Name, nil, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		d.Tables[tb.Name] = rows
	}
	return d
}

func TestMigrateStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	first := openSQLiteCopy(t, filepath.Join(t.TempDir(), "first.db"))
	fillEveryKind(t, first, 200)
	pg := openPostgresCopy(t)
	// One and two rows a batch: every table is read after a key on both backends.
	res, err := service.MigrateStore(ctx, first, pg, service.MigrateStoreOptions{From: "first", To: "pg", Batch: 1})
	if err != nil {
		t.Fatalf("sqlite -> postgres: %v", err)
	}
	want := map[string]int64{"memories": 200 + 9, "history": 4, "tombstones": 1, "erasures": 1,
		"capture_buffer": 3, "capture_jobs": 2, "tier_transitions": 1, "recall_injections": 2}
	for _, tr := range res.Tables {
		if tr.Source != want[tr.Table] || tr.Copied != want[tr.Table] || tr.Verified != want[tr.Table] || tr.Target != want[tr.Table] {
			t.Errorf("sqlite -> postgres: %+v, want %d rows", tr, want[tr.Table])
		}
	}
	if !res.Verified {
		t.Fatal("not verified")
	}
	back := openSQLiteCopy(t, filepath.Join(t.TempDir(), "back.db"))
	if _, err := service.MigrateStore(ctx, pg, back, service.MigrateStoreOptions{From: "pg", To: "back", Batch: 2}); err != nil {
		t.Fatalf("postgres -> sqlite: %v", err)
	}
	// Within one backend too.
	if _, err := service.MigrateStore(ctx, pg, openPostgresCopy(t), service.MigrateStoreOptions{From: "pg", To: "pg2"}); err != nil {
		t.Fatalf("postgres -> postgres: %v", err)
	}
	if _, err := service.MigrateStore(ctx, first, openSQLiteCopy(t, filepath.Join(t.TempDir(), "second.db")), service.MigrateStoreOptions{From: "first", To: "second"}); err != nil {
		t.Fatalf("sqlite -> sqlite: %v", err)
	}
	a, b := dumpStore(t, first), dumpStore(t, back)
	if !reflect.DeepEqual(a.Meta, b.Meta) {
		t.Errorf("meta: first %v, back %v", a.Meta, b.Meta)
	}
	for _, tb := range store.CopyTables {
		x, y := a.Tables[tb.Name], b.Tables[tb.Name]
		if len(x) != len(y) {
			t.Errorf("%s: %d rows first, %d back", tb.Name, len(x), len(y))
			continue
		}
		for i := range x {
			if !reflect.DeepEqual(x[i], y[i]) {
				t.Errorf("%s row %d:\nfirst %v\nback  %v", tb.Name, i, x[i], y[i])
			}
		}
	}
	// The copy is a working store: the same reads give the same answers.
	for _, id := range []string{"m00005", "fact-old", "archived", "edit-1"} {
		m1, err1 := first.Get(ctx, memory.Owner(), id)
		m2, err2 := pg.Get(ctx, memory.Owner(), id)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(m1, m2) {
			t.Errorf("Get %s: sqlite %+v (%v), postgres %+v (%v)", id, m1, err1, m2, err2)
		}
	}
	h1, _ := first.History(ctx, memory.Owner(), "gone", 0)
	h2, err := pg.History(ctx, memory.Owner(), "gone", 0)
	if err != nil || !reflect.DeepEqual(h1, h2) {
		t.Errorf("History gone: sqlite %+v, postgres %+v (%v)", h1, h2, err)
	}
	id1, _ := first.Identity(ctx)
	id2, err := pg.Identity(ctx)
	if err != nil || !reflect.DeepEqual(id1, id2) {
		t.Errorf("Identity: sqlite %+v, postgres %+v (%v)", id1, id2, err)
	}
	f1, _ := first.Facts(ctx, memory.Owner(), store.FactQuery{FactKey: "build.tool"})
	f2, err := pg.Facts(ctx, memory.Owner(), store.FactQuery{FactKey: "build.tool"})
	if err != nil || len(f1) != 2 || !reflect.DeepEqual(f1, f2) {
		t.Errorf("Facts: sqlite %v, postgres %v (%v)", f1, f2, err)
	}
	// The copies' text indexes hold the copied rows.
	type texter interface {
		SearchText(ctx context.Context, acc memory.Access, f store.Filter, query string, k int) ([]store.TextHit, error)
	}
	for name, st := range map[string]store.Store{"first": first, "postgres": pg, "back": back} {
		ts, ok := st.(texter)
		if !ok {
			continue // no text search in this build
		}
		hits, err := ts.SearchText(ctx, memory.Owner(), store.Filter{}, "bazel", 5)
		if err != nil || len(hits) != 1 || hits[0].ID != "fact-new" {
			t.Errorf("%s: text search for bazel: %v, %v", name, hits, err)
		}
		hits, err = ts.SearchText(ctx, memory.Owner(), store.Filter{}, "edited", 5)
		if err != nil || len(hits) != 2 {
			t.Errorf("%s: text search for edited: %v, %v", name, hits, err)
		}
	}
	// A write after the copy takes ids past the copied ones.
	err = pg.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m, err := tx.Get("edit-2")
		if err != nil {
			return err
		}
		m.Text = "edited on postgres"
		return tx.Update(&m)
	})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := pg.History(ctx, memory.Owner(), "edit-2", 0); err != nil || len(h) != 2 {
		t.Errorf("history after a new edit on the copy: %v, %v", h, err)
	}
}

func TestMigrateStoreRefusesNonEmptyTarget(t *testing.T) {
	ctx := context.Background()
	src := openSQLiteCopy(t, filepath.Join(t.TempDir(), "src.db"))
	fillEveryKind(t, src, 10)
	dst := openPostgresCopy(t)
	err := dst.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		return tx.Insert(&memory.Memory{Text: "already here", Scope: memory.GlobalScope, Importance: 0.5})
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = service.MigrateStore(ctx, src, dst, service.MigrateStoreOptions{From: "src", To: "dst"})
	var ne *service.TargetNotEmptyError
	if !errors.As(err, &ne) || ne.Table != "memories" || ne.Rows != 1 || !errors.Is(err, memory.ErrExists) {
		t.Fatalf("copy into a non-empty target: %v", err)
	}
	if n, _ := dst.CopyCount(ctx, "history"); n != 0 {
		t.Fatalf("the refused copy wrote %d history rows", n)
	}
	// Resuming into a store that is no copy of the source fails its verification.
	_, err = service.MigrateStore(ctx, src, dst, service.MigrateStoreOptions{From: "src", To: "dst", Resume: true})
	var ve *service.VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("resume into an unrelated store: %v", err)
	}
}

// stopAfter is a target that fails its nth batch write, as a copy killed
// midway stops.
type stopAfter struct {
	store.Store
	store.Copier
	n int
}

func (s *stopAfter) PutCopyRows(ctx context.Context, table string, rows [][]any) error {
	if s.n--; s.n < 0 {
		return errors.New("stopped")
	}
	return s.Copier.PutCopyRows(ctx, table, rows)
}

func TestMigrateStoreResume(t *testing.T) {
	ctx := context.Background()
	src := openSQLiteCopy(t, filepath.Join(t.TempDir(), "src.db"))
	fillEveryKind(t, src, 100)
	for _, stop := range []int{0, 3, 6} { // before any row; in memories; in history, memories done
		t.Run(fmt.Sprint(stop), func(t *testing.T) {
			dst := openPostgresCopy(t)
			stopped, err := service.MigrateStore(ctx, src, &stopAfter{Store: dst, Copier: dst, n: stop}, service.MigrateStoreOptions{From: "src", To: "dst", Batch: 20})
			if err == nil {
				t.Fatal("the stopped copy succeeded")
			}
			if stopped.Rows != int64(min(stop*20, 109)) {
				t.Fatalf("the stopped copy wrote %d rows", stopped.Rows)
			}
			if stop > 0 {
				_, err = service.MigrateStore(ctx, src, dst, service.MigrateStoreOptions{From: "src", To: "dst", Batch: 20})
				if !errors.As(err, new(*service.TargetNotEmptyError)) {
					t.Fatalf("a second copy without --resume: %v", err)
				}
			}
			res, err := service.MigrateStore(ctx, src, dst, service.MigrateStoreOptions{From: "src", To: "dst", Batch: 20, Resume: true})
			if err != nil {
				t.Fatalf("resume: %v", err)
			}
			var skipped int64
			for _, tr := range res.Tables {
				skipped += tr.Skipped
				if tr.Skipped+tr.Copied != tr.Source || tr.Verified != tr.Source {
					t.Errorf("resume: %+v", tr)
				}
			}
			if skipped != stopped.Rows {
				t.Errorf("resume skipped %d rows, the stopped copy wrote %d", skipped, stopped.Rows)
			}
		})
	}
}

// The verification compares every column: one flipped bit of a vector,
// an edited metadata value and a missing history row are each found (a
// missing first row: --resume copies again what is missing after the
// target's last row, not before it).
func TestMigrateStoreVerifyFindsDifferences(t *testing.T) {
	ctx := context.Background()
	src := openSQLiteCopy(t, filepath.Join(t.TempDir(), "src.db"))
	fillEveryKind(t, src, 20)
	url := pgtest.URL(t)
	dst, err := postgres.Open(ctx, url, postgres.Options{Space: copySpace})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := service.MigrateStore(ctx, src, dst, service.MigrateStoreOptions{From: "src", To: "dst"}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, c := range []struct{ sql, want string }{
		{"UPDATE memories SET vector_b = set_byte(vector_b, 0, get_byte(vector_b, 0) # 1) WHERE id = 'm00003'", "memories m00003: vector_b differs"},
		{`UPDATE memories SET metadata = jsonb_set(metadata, '{n}', '4') WHERE id = 'm00003'`, "memories m00003: metadata differs"},
		{"DELETE FROM history WHERE hid = (SELECT min(hid) FROM history)", "history: 4 rows in the source, 3 in the target"},
	} {
		if _, err := conn.Exec(ctx, c.sql); err != nil {
			t.Fatal(err)
		}
		_, err := service.MigrateStore(ctx, src, dst, service.MigrateStoreOptions{From: "src", To: "dst", Resume: true})
		var ve *service.VerifyError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("after %s: %v, want a difference %q", c.sql, err, c.want)
		}
	}
}
