package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// checkStats fails the test unless the kept per-scope statistics equal a
// recount from the index.
func checkStats(t *testing.T, s *Store) TextStatsReport {
	t.Helper()
	r, err := s.CheckTextStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete || r.Wrong != 0 {
		logStatDiff(t, s)
		t.Fatalf("text statistics: %+v", r)
	}
	return r
}

// After a random mix of inserts, batches, updates (text, metadata, scope),
// deletes, touches and failed writes, in ASCII and other scripts, the kept
// statistics equal a recount.
func TestTextStatsFollowEveryWrite(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	rng := rand.New(rand.NewPCG(7, 7))
	words := []string{"kiwi", "Mango", "deploy", "café", "cafe", "ÉCOLE", "naïve", "我喜欢喝咖啡", "咖啡", "x_y-z", "v1.2", "ERR_CONN_RESET", "Straße", "ｆｕｌｌ", "İstanbul"}
	text := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteString([]string{" ", ", ", "/", "  "}[rng.IntN(4)])
		}
		return b.String()
	}
	meta := func() map[string]any {
		md := map[string]any{}
		if rng.IntN(2) == 0 {
			md["l0_abstract"] = text()
		}
		if rng.IntN(3) == 0 {
			md["l1_overview"] = text()
		}
		if rng.IntN(5) == 0 {
			md["l2_content"] = 12.5 // not a string: indexed as json_extract gives it
		}
		return md
	}
	scopes := []memory.Scope{"global", "agent:a", "agent:b", "user:u"}
	var ids []string
	next := 0
	for step := range 400 {
		err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			for range 1 + rng.IntN(3) {
				switch op := rng.IntN(10); {
				case op < 4 || len(ids) == 0:
					m := memory.Memory{ID: fmt.Sprintf("r%d", next), Text: text(), Scope: scopes[rng.IntN(4)], Metadata: meta()}
					next++
					if err := tx.Insert(&m); err != nil {
						return err
					}
					ids = append(ids, m.ID)
				case op < 7:
					m, err := tx.Get(ids[rng.IntN(len(ids))])
					if err != nil {
						return err
					}
					switch rng.IntN(3) {
					case 0:
						m.Text = text()
					case 1:
						m.Scope = scopes[rng.IntN(4)]
					default:
						m.Metadata = meta()
					}
					if err := tx.Update(&m); err != nil {
						return err
					}
				case op < 9:
					i := rng.IntN(len(ids))
					if err := tx.Delete(ids[i], 0); err != nil {
						return err
					}
					ids = append(ids[:i], ids[i+1:]...)
				default:
					if err := tx.Touch(ids[rng.IntN(len(ids))], 1, 1); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		// A write that fails leaves no trace in the statistics.
		_ = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			m := memory.Memory{ID: fmt.Sprintf("gone%d", step), Text: text(), Scope: scopes[rng.IntN(4)]}
			if err := tx.Insert(&m); err != nil {
				return err
			}
			return fmt.Errorf("changed my mind")
		})
		if step%100 == 99 {
			checkStats(t, s)
		}
	}
	r := checkStats(t, s)
	if r.Scopes != 4 || r.Terms == 0 {
		t.Fatalf("statistics cover %d scopes and %d terms", r.Scopes, r.Terms)
	}
	// A scope whose last row leaves is dropped from the statistics.
	putTexts(t, s, 9000, []string{"lonely row"}, "custom:one")
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Delete("r9000", 0) }); err != nil {
		t.Fatal(err)
	}
	if r2 := checkStats(t, s); r2.Scopes != 4 || r2.Terms != r.Terms {
		t.Fatalf("after the only row of a scope left: %+v, before %+v", r2, r)
	}
	// doctor --repair's rebuild counts them again from the new index.
	if err := s.RebuildFTS(ctx); err != nil {
		t.Fatal(err)
	}
	if r2 := checkStats(t, s); r2 != r {
		t.Fatalf("after RebuildFTS: %+v, before %+v", r2, r)
	}
}

// Grouped writers share a transaction: one that fails undoes its own
// statistics, not the others'.
func TestTextStatsGroupedWrites(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	errs := make(chan error, 40)
	for i := range 40 {
		go func() {
			errs <- s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				m := memory.Memory{ID: fmt.Sprintf("g%d", i), Text: fmt.Sprintf("grouped write %d café", i%3), Scope: memory.GlobalScope}
				if err := tx.Insert(&m); err != nil {
					return err
				}
				if i%4 == 0 {
					return fmt.Errorf("fail %d", i)
				}
				return nil
			})
		}()
	}
	for range 40 {
		<-errs
	}
	checkStats(t, s)
}

// ASCII text is counted in Go; it must split and fold exactly as FTS5's
// unicode61 does, or counts would drift from what FTS5 matches.
func TestASCIITermsMatchFTS5(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	var texts []string
	for range 300 {
		b := make([]byte, rng.IntN(60))
		for i := range b {
			b[i] = byte(rng.IntN(0x80))
		}
		texts = append(texts, string(b))
	}
	texts = append(texts, "", "  ", "ABC_def-GHI.jkl", strings.Repeat("a", maxASCIIToken+1)+" b")
	for i, text := range texts {
		putTexts(t, s, i, []string{text}, memory.Scope(fmt.Sprintf("custom:s%d", i)))
	}
	checkStats(t, s)
}

// A store from before schema 3 gets its statistics counted in batches
// once opened by this binary; until then scoped search counts at query
// time and gives the same answers.
func TestTextStatsBuiltForOlderStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for i := range 2*textStatsBatch + 7 {
		texts = append(texts, fmt.Sprintf("kiwi note %d mango %d", i, i%7))
	}
	putTexts(t, s, 0, texts, memory.GlobalScope)
	putTexts(t, s, 5000, []string{"kiwi hidden", "咖啡 kiwi"}, "agent:b")
	s.Close()
	// Back to schema 3 (before the text statistics, the history, the fact columns, the capture buffer and the tier log), as an older trove left it.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(append(append(append(append(undoVectorSlots, undoStemming...), undoSmartCategory...), undoArchive...), undoFacts...), "DROP TABLE tier_transitions", "DROP TABLE capture_buffer", "DROP TABLE capture_jobs", "DROP TABLE history", "DROP TABLE erasures", "DROP TABLE scope_terms", "DROP TABLE scope_sizes", "DROP TABLE memories_fts_instance",
		"DELETE FROM meta WHERE key = 'text_stats_rid'", "PRAGMA user_version = 3") {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()

	s, err = Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Migration 11 found rows: the stemmed index is built beside the old
	// one and switched to (Open started that in the background; this
	// joins it), which starts the statistics afresh.
	if err := s.BuildTextIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := s.TextIndex(ctx); err != nil || v.Version != TextIndexVersion {
		t.Fatalf("text index after the migration and build: %+v, %v", v, err)
	}
	if err := s.BuildTextStats(ctx); err != nil { // joins the one Open started
		t.Fatal(err)
	}
	checkStats(t, s)
	acc := memory.AgentAccess("a")
	built, err := s.SearchText(ctx, acc, store.Filter{}, "kiwi mango 3", 10)
	if err != nil {
		t.Fatal(err)
	}
	// Counted at query time (statistics marked incomplete), the answer
	// is the same, bit for bit.
	if err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
		_, err := stx.(*tx).tx.ExecContext(ctx, "UPDATE meta SET value = 0 WHERE key = 'text_stats_rid'")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	counted, err := s.SearchText(ctx, acc, store.Filter{}, "kiwi mango 3", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(built) == 0 || hitBits(built) != hitBits(counted) {
		t.Fatalf("kept statistics %s\ncounted %s", hitBits(built), hitBits(counted))
	}
}

// logStatDiff logs where kept statistics and a recount differ.
func logStatDiff(t *testing.T, s *Store) {
	ctx := context.Background()
	for _, q := range []string{
		`SELECT 'kept', scope, term, docs FROM scope_terms EXCEPT SELECT 'kept', m.scope, i.term, count(DISTINCT i.doc) FROM memories_fts_instance i JOIN memories m ON m.rid = i.doc GROUP BY m.scope, i.term`,
		`SELECT 'real', m.scope, i.term, count(DISTINCT i.doc) FROM memories_fts_instance i JOIN memories m ON m.rid = i.doc GROUP BY m.scope, i.term EXCEPT SELECT 'real', scope, term, docs FROM scope_terms`,
		`SELECT 'size', scope, rows, tokens FROM scope_sizes`,
		`SELECT 'rsize', m.scope, count(*), sum(trove_doclen(d.sz)) FROM memories m JOIN memories_fts_docsize d ON d.id = m.rid GROUP BY m.scope`,
	} {
		rows, err := s.rdb.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() && n < 12 {
			var a, b, c string
			var d any
			rows.Scan(&a, &b, &c, &d)
			t.Log(a, b, c, d)
			n++
		}
		rows.Close()
	}
}

// A purged row leaves the scope's statistics as a delete does, and a
// restored one counts again.
func TestTextStatsFollowPurgeAndRestore(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	acc := memory.Owner()
	for i, text := range []string{"billing deploys on Fridays", "the café serves naïve coffee", "deploys again"} {
		m := memory.Memory{ID: fmt.Sprintf("row-%d", i), Text: text, Category: memory.CategoryFact, Scope: "project:x", Importance: 0.5}
		if err := s.Write(ctx, acc, func(tx store.Tx) error { return tx.Insert(&m) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write(ctx, acc, func(tx store.Tx) error { _, err := tx.Purge("row-0"); return err }); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s)
	if err := s.Write(ctx, acc, func(tx store.Tx) error { return tx.Delete("row-1", 0) }); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s)
	if err := s.Write(ctx, acc, func(tx store.Tx) error {
		m := memory.Memory{ID: "row-1", Text: "the café serves naïve coffee", Category: memory.CategoryFact, Scope: "project:x", Importance: 0.5, Revision: 2}
		return tx.Restore(&m)
	}); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s)
}
