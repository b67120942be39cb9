package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// putTextRows stores n rows over three scopes, with L0 metadata on some.
func putTextRows(t *testing.T, s *Store, n int) {
	t.Helper()
	ms := make([]memory.Memory, n)
	for i := range ms {
		ms[i] = memory.Memory{ID: fmt.Sprintf("m%05d", i), Text: fmt.Sprintf("the deploy %d runs on host%d after the standup", i, i%7),
			Scope: memory.Scope([]string{"global", "agent:a", "project:p"}[i%3])}
		if i%5 == 0 {
			ms[i].Metadata = map[string]any{"l0_abstract": fmt.Sprintf("abstract of café %d", i), "l1_overview": float64(i)}
		}
	}
	if _, err := store.PutMany(context.Background(), s, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
}

func checkFTS(t *testing.T, s *Store) store.FTSReport {
	t.Helper()
	r, err := s.CheckFTS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The text index check finds rows whose index is not what the tokeniser
// makes of them (changed, emptied, lengths off) and statistics that do
// not add up; the rebuild fixes exactly those, in batches, waiting for a
// row a writer holds instead of skipping it, and changes no row's
// content, revision or seq.
func TestTextIndexCheckAndRebuild(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	const n = 1100 // three batches
	putTextRows(t, s, n)
	if r := checkFTS(t, s); !r.Consistent() || r.Rows != n || r.Indexed != n {
		t.Fatalf("a store written by trove: %+v", r)
	}
	var seqBefore, revBefore int64
	if err := s.pool.QueryRow(ctx, "SELECT sum(seq), sum(revision) FROM memories").Scan(&seqBefore, &revBefore); err != nil {
		t.Fatal(err)
	}

	for _, q := range []string{
		"UPDATE memories SET tokens = 'bogus:1A'::tsvector WHERE id = 'm00010'", // another index
		"UPDATE memories SET doc_len = doc_len + 3 WHERE id = 'm00600'",         // a wrong length
		"UPDATE memories SET tokens = NULL WHERE id = 'm01050'",                 // not indexed
		"UPDATE scope_sizes SET rows = rows + 1 WHERE scope = 'agent:a'",        // statistics off
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	r := checkFTS(t, s)
	if r.Consistent() || r.Stale != 2 || r.Missing != 1 || r.Indexed != n-1 || r.Stats != 2 {
		// m01050 left scope_sizes of its scope counting it: two scopes off.
		t.Fatalf("after damage: %+v, want 2 stale, 1 missing, 2 scopes' statistics off", r)
	}

	// A writer holds one of the damaged rows: the rebuild waits for it.
	held, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback(ctx)
	if _, err := held.Exec(ctx, "SELECT 1 FROM memories WHERE id = 'm00600' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.RebuildFTS(ctx) }()
	waitForLockWait(t, s)
	if err := held.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := checkFTS(t, s); !r.Consistent() || r.Rows != n {
		t.Fatalf("after the rebuild: %+v", r)
	}
	var seqAfter, revAfter int64
	if err := s.pool.QueryRow(ctx, "SELECT sum(seq), sum(revision) FROM memories").Scan(&seqAfter, &revAfter); err != nil {
		t.Fatal(err)
	}
	if seqAfter != seqBefore || revAfter != revBefore {
		t.Fatalf("the rebuild changed rows' seq (%d → %d) or revision (%d → %d)", seqBefore, seqAfter, revBefore, revAfter)
	}
	m, err := s.Get(ctx, memory.Owner(), "m00010")
	if err != nil {
		t.Fatal(err)
	}
	tsv, length := TextColumns(&m)
	var same bool
	if err := s.pool.QueryRow(ctx, "SELECT tokens = $1::tsvector AND doc_len = $2 FROM memories WHERE id = 'm00010'", tsv, length).Scan(&same); err != nil || !same {
		t.Fatalf("m00010's index after the rebuild is not the tokeniser's: %v %v", same, err)
	}
}

// A build of a newer text index resumes where an earlier one stopped
// (rows before its mark are not read again), then records the version.
func TestBuildTextIndexResumes(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	putTextRows(t, s, 700)
	st, err := s.TextIndex(ctx)
	if err != nil || st.Version != textIndexVersion || st.Version != s.TextIndexLatest() || st.Rows != 0 {
		t.Fatalf("a new store's text index: %+v %v", st, err)
	}
	var mark int64
	if err := s.pool.QueryRow(ctx, "SELECT rid FROM memories ORDER BY rid OFFSET 299 LIMIT 1").Scan(&mark); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		fmt.Sprintf("INSERT INTO meta(key, value) VALUES ('text_index_version', '1'), ('text_index_built', '%d')", mark),
		fmt.Sprintf("UPDATE memories SET tokens = 'old:1'::tsvector WHERE rid IN (%d, %d)", mark, mark+100),
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	st, err = s.TextIndex(ctx)
	if err != nil || st.Version != 1 || st.Built != 300 || st.Rows != 700 {
		t.Fatalf("a build 300 rows in: %+v %v", st, err)
	}
	if err := s.BuildTextIndex(ctx); err != nil {
		t.Fatal(err)
	}
	st, err = s.TextIndex(ctx)
	if err != nil || st.Version != textIndexVersion || st.Built != 0 {
		t.Fatalf("after the build: %+v %v", st, err)
	}
	// The row at the mark was done before the build stopped (so it is
	// not read again); the one after it is rebuilt.
	if r := checkFTS(t, s); r.Stale != 1 {
		t.Fatalf("after the resumed build: %+v, want only the row at the mark stale", r)
	}
	var stale int64
	if err := s.pool.QueryRow(ctx, "SELECT rid FROM memories WHERE tokens = 'old:1'::tsvector").Scan(&stale); err != nil || stale != mark {
		t.Fatalf("stale row %d %v, want the one at the mark %d", stale, err, mark)
	}
	if err := s.BuildTextIndex(ctx); err != nil { // at the latest version: nothing to do
		t.Fatal(err)
	}
	if err := s.RebuildFTS(ctx); err != nil {
		t.Fatal(err)
	}
	if r := checkFTS(t, s); !r.Consistent() {
		t.Fatalf("after a rebuild: %+v", r)
	}
}
