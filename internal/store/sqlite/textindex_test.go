package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// undoStemming takes a store back from schema 11 to schema 10 (the caller
// sets user_version): the index holds the words as written again.
var undoStemming = []string{
	"DROP TABLE IF EXISTS memories_fts_next",
	"DELETE FROM memories_fts",
	"INSERT INTO memories_fts(rowid, text, l0, l1, l2) SELECT rid, " + ftsPlainCols + " FROM memories",
	"DELETE FROM meta WHERE key IN ('fts_version', 'fts_next_rid')",
}

// asMigrated11 puts a store with rows in the state migration 11 leaves
// one from before it in: the index of the words as written, an empty
// next index and the build mark at 0. The schema version is left alone,
// so later migrations need no undoing.
var asMigrated11 = []string{
	"DROP TABLE IF EXISTS memories_fts_next",
	"DELETE FROM memories_fts",
	"INSERT INTO memories_fts(rowid, text, l0, l1, l2) SELECT rid, " + ftsPlainCols + " FROM memories",
	"DELETE FROM meta WHERE key IN ('fts_version', 'fts_next_rid')",
	loadMigrations()[10],
}

// The stemmed index finds a word by its other forms, for the owner and for
// a caller limited to some scopes; German only where the text is German;
// CJK text as bigrams, as before.
func TestStemmedSearchFindsInflections(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	if v, err := s.TextIndex(ctx); err != nil || v.Version != ftsStemmed {
		t.Fatalf("a new store's text index: %+v, %v; want version %d", v, err, ftsStemmed)
	}
	putTexts(t, s, 0, []string{
		"We moved to Lisbon in May",
		"Hiking in the Alps every August",
		"Die Häuser in der Altstadt sind alt",
		"我喜欢喝咖啡",
		"Moving boxes are in the garage",
	}, memory.GlobalScope)
	putTexts(t, s, 10, []string{"agent a hikes on Sundays"}, "agent:a")
	for _, acc := range []memory.Access{memory.Owner(), memory.AgentAccess("a")} {
		for _, c := range []struct {
			query string
			want  string
		}{
			{"moving", "r0000 r0004"},
			{"moved", "r0000 r0004"},
			{"hikes", "r0001 r0010"},
			{"hiking", "r0001 r0010"},
			{"Haus", "r0002"},
			{"Häuser", "r0002"},
			{"Wo stehen die Häuser?", "r0002"},
			{"咖啡", "r0003"},
			{"喝咖啡", "r0003"},
		} {
			hits, err := s.SearchText(ctx, acc, store.Filter{}, c.query, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, h := range hits {
				ids = append(ids, h.ID)
			}
			slices.Sort(ids)
			if got := strings.Join(ids, " "); got != c.want {
				t.Errorf("%v: %q found %q, want %q", acc, c.query, got, c.want)
			}
		}
	}
	checkStats(t, s)
}

// A row is stemmed in its own language and a query cannot tell which that
// is: a word written in a row is found whatever language the query and
// the row are guessed to be in (German "Kinder" is indexed as "kind", an
// English query stems "kinder" as "kinder"; "Deployment" in a German row
// stays "deployment", in English it is "deploy").
func TestStemmedSearchAcrossLanguages(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	putTexts(t, s, 0, []string{
		"Die Kinder spielen im Garten",
		"Das Deployment der neuen Version ist am Montag geplant",
		"The deploys run on Fridays",
		"Our kids love the garden",
	}, memory.GlobalScope)
	putTexts(t, s, 10, []string{"Wir deployen die Kinder-App im Garten-Center"}, "agent:a")
	putTexts(t, s, 20, []string{"Die Kinder im Garten der Nachbarn, Deployment"}, "agent:b")
	for _, acc := range []memory.Access{memory.Owner(), memory.AgentAccess("a")} {
		for _, c := range []struct {
			query string
			want  string
		}{
			{"kinder", "r0000 r0010 r0020"},
			{"garten", "r0000 r0010 r0020"},
			// German "deployen" stems to "deploy", as English "deployment" does.
			{"deployment", "r0001 r0002 r0010 r0020"},
			{"Kinder", "r0000 r0010 r0020"},
			{"die Kinder", "r0000 r0010 r0020"},
			{"deploying", "r0002 r0010"},
		} {
			want := c.want
			if !acc.All() {
				want = strings.TrimSpace(strings.ReplaceAll(want, "r0020", ""))
			}
			hits, err := s.SearchText(ctx, acc, store.Filter{}, c.query, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, h := range hits {
				ids = append(ids, h.ID)
			}
			slices.Sort(ids)
			if got := strings.Join(ids, " "); got != want {
				t.Errorf("%v: %q found %q, want %q", acc, c.query, got, want)
			}
		}
	}
	checkStats(t, s)
}

// downgradeToPlain puts the store at path as migration 11 leaves a store
// from before it (asMigrated11).
func downgradeToPlain(t testing.TB, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range asMigrated11 {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
}

// indexContents is every occurrence the text index holds, in order.
func indexContents(t *testing.T, s *Store) string {
	t.Helper()
	rows, err := s.rdb.Query("SELECT term, doc, col, offset FROM memories_fts_instance ORDER BY doc, col, offset")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var term, col string
		var doc, off int64
		if err := rows.Scan(&term, &doc, &col, &off); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %s %d\n", term, doc, col, off)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A store from before schema 11 keeps answering from its old index while
// the stemmed one is built in batches, with writes of every kind going on
// (and the build stopped and resumed by a reopen); the switch then leaves
// an index equal to one built from scratch, and exact statistics.
func TestTextIndexBuildsBesideTheOld(t *testing.T) {
	ctx := context.Background()
	backgroundBuilds = false
	defer func() { backgroundBuilds = true }()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for i := range 5*textIndexBatch + 17 {
		texts = append(texts, fmt.Sprintf("note %d: we moved the kiwi crates %d", i, i%7))
	}
	putTexts(t, s, 0, texts, memory.GlobalScope)
	putTexts(t, s, 5000, []string{"Die Häuser am Fluss", "agent a is moving 咖啡"}, "agent:a")
	s.Close()
	downgradeToPlain(t, path)

	s, err = Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.TextIndex(ctx); err != nil || v.Version != ftsPlain || v.Built != 0 || v.Rows != int64(len(texts)+2) {
		t.Fatalf("after the migration: %+v, %v; want version 1, nothing built", v, err)
	}
	found := func(s *Store, q string) int {
		hits, err := s.SearchText(ctx, memory.Owner(), store.Filter{}, q, 10000)
		if err != nil {
			t.Fatal(err)
		}
		return len(hits)
	}
	// Two batches, then the process goes (as if killed between writes).
	for range 2 {
		if err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error { return stx.(*tx).buildTextIndexBatch() }); err != nil {
			t.Fatal(err)
		}
	}
	if n := found(s, "moving"); n != 1 { // the old index: only the word as written
		t.Fatalf("during the build, %q found %d rows, want 1 (the old index)", "moving", n)
	}
	s.Close()

	s, err = Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.TextIndex(ctx); v.Built != 2*textIndexBatch {
		t.Fatalf("after a reopen: %+v, want %d rows built", v, 2*textIndexBatch)
	}
	// Writers of every kind while the build runs: rows below and above
	// the mark updated, deleted, inserted, moved between scopes.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var writeErr error
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("r%04d", (i*37)%len(texts))
			var err error
			switch i % 4 {
			case 0:
				_, err = store.PatchMany(ctx, s, memory.Owner(), []store.Patch{{ID: id, Apply: func(m *memory.Memory) error {
					m.Text = fmt.Sprintf("updated %d: hiking boots and moving vans", i)
					return nil
				}}})
			case 1:
				err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Delete(id, 0) })
				if errors.Is(err, memory.ErrNotFound) {
					err = nil
				}
			case 2:
				m := memory.Memory{ID: fmt.Sprintf("n%05d", i), Text: fmt.Sprintf("new %d: Die Kinder spielen in den Häusern", i), Scope: "agent:a"}
				_, err = store.PutMany(ctx, s, memory.Owner(), []memory.Memory{m})
			case 3:
				_, err = store.PatchMany(ctx, s, memory.Owner(), []store.Patch{{ID: id, Apply: func(m *memory.Memory) error {
					m.Scope = "agent:a"
					return nil
				}}})
			}
			if err != nil && !errors.Is(err, memory.ErrNotFound) {
				writeErr = err
				return
			}
		}
	}()
	if err := s.BuildTextIndex(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	if v, err := s.TextIndex(ctx); err != nil || v.Version != ftsStemmed {
		t.Fatalf("after the build: %+v, %v", v, err)
	}
	if s.oldTextIndexLeft() {
		t.Fatal("the old index is still there")
	}
	if r, err := s.CheckFTS(ctx); err != nil || !r.Consistent() {
		t.Fatalf("index after the build: %+v, %v", r, err)
	}
	if found(s, "moving") < 2 {
		t.Fatalf("%q finds no other forms after the switch", "moving")
	}
	if err := s.BuildTextStats(ctx); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s)
	built := indexContents(t, s)
	if err := s.RebuildFTS(ctx); err != nil {
		t.Fatal(err)
	}
	if rebuilt := indexContents(t, s); rebuilt != built {
		t.Fatalf("the index built beside the old one differs from one built from scratch (%d and %d bytes)", len(built), len(rebuilt))
	}
	checkStats(t, s)
}

// A process stopped between two writes of the old index's drop leaves an
// FTS5 table without its data table; the store still passes the integrity
// check (the leftover is pending removal), before and after a reopen, and
// the drop completes.
func TestIntegrityBetweenDropSteps(t *testing.T) {
	ctx := context.Background()
	backgroundBuilds = false
	defer func() { backgroundBuilds = true }()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for i := range 50 {
		texts = append(texts, fmt.Sprintf("note %d: we moved the kiwi crates", i))
	}
	putTexts(t, s, 0, texts, memory.GlobalScope)
	s.Close()
	downgradeToPlain(t, path)
	s, err = Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for switched := false; !switched; {
		if err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
			if tt := stx.(*tx); tt.ftsVer < ftsStemmed {
				return tt.buildTextIndexBatch()
			}
			switched = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.dropOldTextIndexStep(ctx); err != nil { // the data table: stopped here
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		if bad, err := s.IntegrityCheck(ctx); err != nil || len(bad) > 0 {
			t.Fatalf("%s: integrity check %v %v", when, bad, err)
		}
	}
	check("between drop steps")
	s.Close()
	if s, err = Open(ctx, path, Options{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check("reopened")
	if err := s.dropOldTextIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if s.oldTextIndexLeft() {
		t.Fatal("the old text index is still there")
	}
	check("after the drop")
}
