package integration

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// toPlainIndex puts the store in the state migration 11 leaves a store
// from before it in: the index holds the words as written, the stemmed
// one is empty beside it, the build mark is 0. The schema version is left
// alone, so later migrations need no undoing.
func toPlainIndex(t *testing.T, path string) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{}) // registers trove_fts with the driver
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"DROP TABLE IF EXISTS memories_fts_next",
		"DELETE FROM memories_fts",
		`INSERT INTO memories_fts(rowid, text, l0, l1, l2) SELECT rid, trove_fts(text),
			trove_fts(coalesce(json_extract(metadata, '$.l0_abstract'), '')),
			trove_fts(coalesce(json_extract(metadata, '$.l1_overview'), '')),
			trove_fts(coalesce(json_extract(metadata, '$.l2_content'), '')) FROM memories`,
		"DELETE FROM meta WHERE key IN ('fts_version', 'fts_next_rid')",
		`CREATE VIRTUAL TABLE memories_fts_next USING fts5(text, l0, l1, l2,
			content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2')`,
		"INSERT INTO memories_fts_next(memories_fts_next, rank) VALUES ('rank', 'bm25(1.0, 1.0, 0.5, 0.25)')",
		"INSERT INTO meta(key, value) VALUES ('fts_version', 1), ('fts_next_rid', 0)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
}

// textIndexMarks reads meta.fts_version and meta.fts_next_rid (-1 when
// there is none) without opening the store as trove does.
func textIndexMarks(t *testing.T, path string) (version, next int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.QueryRow(`SELECT coalesce((SELECT value FROM meta WHERE key = 'fts_version'), 1),
		coalesce((SELECT value FROM meta WHERE key = 'fts_next_rid'), -1)`).Scan(&version, &next)
	if err != nil {
		t.Fatal(err)
	}
	return version, next
}

// indexDump is every occurrence the text index holds, in order.
func indexDump(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT term, doc, col, offset FROM memories_fts_instance ORDER BY doc, col, offset")
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
	return b.String()
}

// A store from before the stemmed index is upgraded by real trove
// processes: the build is SIGKILLed mid-way, then resumed by doctor
// --repair while other processes keep storing and updating (and each,
// opening the store, builds in the background too). No write fails, and
// the index ends equal to one built from scratch, with exact statistics.
func TestTextIndexBuildSurvivesKill(t *testing.T) {
	rows := 8000
	if *long {
		rows = 60000
	}
	e := newEnv(t)
	seedRows(t, e, rows)
	toPlainIndex(t, e.db)

	c := e.cmd(context.Background(), "doctor", "--repair")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, next := textIndexMarks(t, e.db); next > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = c.Process.Signal(syscall.SIGKILL)
	_ = c.Wait()
	v, next := textIndexMarks(t, e.db)
	t.Logf("killed with the index at version %d, %d of %d rows built", v, next, rows)
	if v != 1 || next <= 0 {
		t.Fatalf("after the kill: version %d, mark %d; want a build stopped part-way", v, next)
	}
	// Search still answers, from the old index.
	if out := e.ok("search", "seed memory 17", "--limit", "3"); !strings.Contains(out, "row-") {
		t.Fatalf("search during the build found nothing:\n%s", out)
	}

	stopLive := liveCLI(e)
	time.Sleep(300 * time.Millisecond) // some writes before the build resumes
	r := e.run("doctor", "--repair", "--json")
	writes, failures := stopLive()
	if len(failures) > 0 {
		t.Fatalf("%d of %d live writes failed, first: %s", len(failures), writes, failures[0])
	}
	var rep struct {
		Checks []struct {
			Name    string
			Status  string
			Figures map[string]any
		}
		Repairs []struct{ Name, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("doctor report %q (exit %d, %s): %v", r.out, r.code, r.err, err)
	}
	for _, c := range rep.Checks {
		if c.Name == "fts" && (c.Status != "ok" || c.Figures["index_version"] != float64(sqlite.TextIndexVersion)) {
			t.Fatalf("doctor after the repair: fts %s %v", c.Status, c.Figures)
		}
	}
	t.Logf("%d live writes during the resumed build; repairs %+v", writes, rep.Repairs)

	s, err := sqlite.Open(context.Background(), e.db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if st, err := s.TextIndex(ctx); err != nil || st.Version != sqlite.TextIndexVersion {
		t.Fatalf("text index %+v, %v", st, err)
	}
	if fr, err := s.CheckFTS(ctx); err != nil || !fr.Consistent() {
		t.Fatalf("index and rows: %+v, %v", fr, err)
	}
	if err := s.BuildTextStats(ctx); err != nil {
		t.Fatal(err)
	}
	if sr, err := s.CheckTextStats(ctx); err != nil || !sr.Complete || sr.Wrong != 0 {
		t.Fatalf("text statistics: %+v, %v", sr, err)
	}
	hits, err := s.SearchText(ctx, memory.Owner(), store.Filter{}, "edits", 5) // "edited" by the live writers
	if err != nil || len(hits) == 0 {
		t.Fatalf("stemmed search for the live edits: %v, %v", hits, err)
	}
	built := indexDump(t, e.db)
	if err := s.RebuildFTS(ctx); err != nil {
		t.Fatal(err)
	}
	if rebuilt := indexDump(t, e.db); rebuilt != built {
		t.Fatalf("the index built beside the old one differs from one built from scratch (%d and %d bytes)", len(built), len(rebuilt))
	}
}
