package retrieve

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
	"github.com/trove-memory/trove/internal/vecindex"
)

// fileStore is a store of n rows with random 16-dimension vectors in a
// few scopes and categories.
func fileStore(t *testing.T, n int, seed uint64) (*sqlite.Store, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{Synchronous: "normal", Space: store.Space{Model: "test-model", Dimensions: 16}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rng := rand.New(rand.NewPCG(seed, 2))
	rows := make([]memory.Memory, n)
	for i := range rows {
		rows[i] = memory.Memory{ID: fmt.Sprintf("r%05d", i), Text: fmt.Sprintf("row %d", i), Vector: randVec(rng),
			Scope: memory.Scope([]string{"global", "agent:a", "agent:b"}[i%3]), Category: []memory.Category{memory.CategoryFact, memory.CategoryDecision}[i%2]}
	}
	if _, err := store.PutMany(ctx, st, memory.Owner(), rows); err != nil {
		t.Fatal(err)
	}
	return st, path
}

// syncSaved is sync, then waits for the index file write it started:
// tests look at the file.
func (r *Retriever) syncSaved(ctx context.Context) error {
	err := r.sync(ctx)
	r.saves.Wait()
	return err
}

// replaceFile puts data at path by rename, as the index file must only
// ever be replaced (a process may have it mapped).
func replaceFile(path string, data []byte) error {
	tmp := path + ".test"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func randVec(rng *rand.Rand) []float32 {
	v := make([]float32, 16)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// sameIndex fails unless got holds exactly the vectors, groups and spans
// a retriever that reads every vector from the store holds: every row's
// vector, and the same hits for queries under each scope.
func sameIndex(t *testing.T, st *sqlite.Store, got *Retriever) {
	t.Helper()
	ctx := context.Background()
	want := New(st, nil, nil, Options{NoIndexFile: true})
	if err := want.syncSaved(ctx); err != nil {
		t.Fatal(err)
	}
	if err := got.syncSaved(ctx); err != nil {
		t.Fatal(err)
	}
	if got.ix.Len() != want.ix.Len() {
		t.Fatalf("index holds %d vectors, the store %d", got.ix.Len(), want.ix.Len())
	}
	ch, err := st.VectorChanges(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range ch.Upserts {
		g, _ := got.ix.Vector(row.ID)
		w, _ := want.ix.Vector(row.ID)
		if !slices.Equal(g, w) {
			t.Fatalf("%s: the index's vector is not the store's", row.ID)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, scope := range []memory.Scope{"global", "agent:a", "agent:b"} {
		acc := memory.Scopes(scope)
		q := randVec(rng)
		gh, err1 := got.ix.Search(q, vecindex.SearchOptions{K: 20, Groups: got.groupsFor(acc, []memory.Category{memory.CategoryFact}, nil)})
		wh, err2 := want.ix.Search(q, vecindex.SearchOptions{K: 20, Groups: want.groupsFor(acc, []memory.Category{memory.CategoryFact}, nil)})
		if err1 != nil || err2 != nil || !slices.Equal(gh, wh) {
			t.Fatalf("scope %s: hits %v, want %v (%v %v)", scope, gh, wh, err1, err2)
		}
	}
}

// The first retriever writes the file; the next starts from it, and from
// a file out of date by updates, deletions and new rows it catches up.
func TestIndexFileStale(t *testing.T) {
	ctx := context.Background()
	st, path := fileStore(t, 600, 1)
	first := New(st, nil, nil, Options{})
	if err := first.syncSaved(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".vecindex"); err != nil {
		t.Fatalf("the first search wrote no index file: %v", err)
	}
	loaded := New(st, nil, nil, Options{})
	sameIndex(t, st, loaded)
	if loaded.fileSeq == 0 {
		t.Fatal("the second retriever did not start from the file")
	}

	rng := rand.New(rand.NewPCG(5, 6))
	var patches []store.Patch
	for i := range 50 {
		patches = append(patches, store.Patch{ID: fmt.Sprintf("r%05d", i*7), Apply: func(m *memory.Memory) error {
			m.Vector = randVec(rng)
			m.Scope = "agent:c" // a group the file does not know
			return nil
		}})
	}
	if _, err := store.PatchMany(ctx, st, memory.Owner(), patches); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		for i := range 30 {
			if err := tx.Delete(fmt.Sprintf("r%05d", 500+i), 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutMany(ctx, st, memory.Owner(), []memory.Memory{{ID: "new", Text: "new row", Vector: randVec(rng)}}); err != nil {
		t.Fatal(err)
	}
	stale := New(st, nil, nil, Options{})
	sameIndex(t, st, stale)
	if stale.fileSeq == 0 {
		t.Fatal("the retriever did not start from the stale file")
	}
}

// A damaged file is reported once, rebuilt from the store, and replaced.
func TestIndexFileCorrupt(t *testing.T) {
	ctx := context.Background()
	st, path := fileStore(t, 300, 1)
	if err := New(st, nil, nil, Options{}).syncSaved(ctx); err != nil {
		t.Fatal(err)
	}
	file := path + ".vecindex"
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"truncated": good[:len(good)/2],
		"flipped":   append(append(slices.Clone(good[:len(good)/3]), good[len(good)/3]^1), good[len(good)/3+1:]...),
		"garbage":   []byte(strings.Repeat("not an index ", 100)),
	} {
		if err := replaceFile(file, bad); err != nil {
			t.Fatal(err)
		}
		r := New(st, nil, nil, Options{})
		sameIndex(t, st, r)
		if w := r.takeFileWarning(); !strings.Contains(w, "unusable") || !strings.Contains(w, "rebuilt") {
			t.Errorf("%s: warning %q", name, w)
		}
		if r.takeFileWarning() != "" {
			t.Errorf("%s: the warning came twice", name)
		}
		if _, _, err := vecindex.OpenFile(file); err != nil {
			t.Errorf("%s: the file was not replaced by a good one: %v", name, err)
		}
	}
}

// Another store's file, and this store's after its model changed, are
// not used (silently: a reembed makes them).
func TestIndexFileOtherStoreOrModel(t *testing.T) {
	ctx := context.Background()
	st, path := fileStore(t, 300, 1)
	other, otherPath := fileStore(t, 200, 9)
	if err := New(other, nil, nil, Options{}).syncSaved(ctx); err != nil {
		t.Fatal(err)
	}
	foreign, err := os.ReadFile(otherPath + ".vecindex")
	if err != nil {
		t.Fatal(err)
	}
	if err := replaceFile(path+".vecindex", foreign); err != nil {
		t.Fatal(err)
	}
	r := New(st, nil, nil, Options{})
	sameIndex(t, st, r)
	if w := r.takeFileWarning(); w != "" {
		t.Fatalf("another store's file was warned about: %s", w)
	}
	if ix, _, err := vecindex.OpenFile(path + ".vecindex"); err != nil || ix.Len() != 300 {
		t.Fatalf("another store's file was not replaced by this store's: %v", err)
	}

	// A new embedding identity: what a reembed switch does, which also
	// replaces vectors without moving their rows' seq. A process that
	// started from the old file, and one that already holds an index,
	// must both see the new vectors.
	held := New(st, nil, nil, Options{})
	if err := held.syncSaved(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blob := make([]byte, 64)
	blob[0], blob[1], blob[2], blob[3] = 0, 0, 0x80, 0x3f // 1.0 little-endian, then zeros
	if _, err := db.Exec(`UPDATE memories SET vector = ? WHERE id = 'r00001'`, blob); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE meta SET value = 'test-model-2' WHERE key = 'embed_model'`); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*Retriever{"new process": New(st, nil, nil, Options{}), "running process": held} {
		if err := r.syncSaved(ctx); err != nil {
			t.Fatal(err)
		}
		v, _ := r.ix.Vector("r00001")
		if len(v) != 16 || v[0] != 1 || v[1] != 0 {
			t.Fatalf("%s: after the switch the index holds %v for a row whose vector is now (1, 0, ...)", name, v)
		}
		sameIndex(t, st, r)
	}
}

// What a reembed runs after its switch: the file is rewritten for the
// store's new model without a search, and the next process starts from it.
func TestWarmIndexFile(t *testing.T) {
	ctx := context.Background()
	st, path := fileStore(t, 300, 1)
	if err := WarmIndexFile(ctx, st); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE meta SET value = 'test-model-2' WHERE key = 'embed_model'`); err != nil {
		t.Fatal(err)
	}
	if err := WarmIndexFile(ctx, st); err != nil {
		t.Fatal(err)
	}
	_, raw, err := vecindex.OpenFile(path + ".vecindex")
	if err != nil || !strings.Contains(string(raw), "test-model-2") {
		t.Fatalf("after the switch the file is not of the new model: %s %v", raw, err)
	}
	r := New(st, nil, nil, Options{})
	sameIndex(t, st, r)
	if r.fileSeq == 0 {
		t.Fatal("the first retriever after the switch did not start from the file")
	}
}

// After a purge no index file holds the erased row: the purge removes the
// file, the running retriever reloads (the purge raised the tombstone
// horizon) and writes one without it, and a write from before the purge
// that renames after it removes its own file.
func TestIndexFilePurge(t *testing.T) {
	ctx := context.Background()
	st, path := fileStore(t, 300, 1)
	file := path + ".vecindex"
	r := New(st, nil, nil, Options{})
	if err := r.syncSaved(ctx); err != nil {
		t.Fatal(err)
	}
	before := r.seq
	if err := st.Write(ctx, memory.Owner(), func(tx store.Tx) error { _, err := tx.Purge("r00007"); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the purge left the index file (%v)", err)
	}
	if err := r.syncSaved(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.ix.Vector("r00007"); ok {
		t.Fatal("the running retriever still holds the purged row")
	}
	ix, _, err := vecindex.OpenFile(file)
	if err != nil {
		t.Fatalf("no index file was written after the purge: %v", err)
	}
	if _, ok := ix.Vector("r00007"); ok || ix.Len() != 299 {
		t.Fatalf("the new file holds the purged row (%d vectors)", ix.Len())
	}
	sameIndex(t, st, New(st, nil, nil, Options{}))

	// A write of the index as it was before the purge, renamed after it.
	r.dropIfPurged(file, before)
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a file older than the purge was kept (%v)", err)
	}
}

// Close waits for the write a search started, and no write starts after
// it: a one-shot process's file is whole when it exits.
func TestIndexFileClose(t *testing.T) {
	ctx := context.Background()
	st, path := fileStore(t, 300, 1)
	r := New(st, nil, nil, Options{})
	if err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := vecindex.OpenFile(path + ".vecindex"); err != nil {
		t.Fatalf("after Close the file is not written: %v", err)
	}
	if err := os.Remove(path + ".vecindex"); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.fileSeq = 0 // due again
	r.mu.Unlock()
	if _, err := store.PutMany(ctx, st, memory.Owner(), []memory.Memory{{ID: "late", Text: "late row", Vector: randVec(rand.New(rand.NewPCG(1, 1)))}}); err != nil {
		t.Fatal(err)
	}
	if err := r.syncSaved(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".vecindex"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a search after Close wrote the file (%v)", err)
	}
}
