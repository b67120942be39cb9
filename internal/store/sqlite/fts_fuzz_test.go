package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// FuzzFTSQuery: search text comes straight from users and agents, and the
// FTS5 query language treats quotes, "*", "^", ":", NEAR, AND/OR/NOT and
// parentheses as syntax. Whatever the text, the query trove builds must run
// (SearchText never returns an error), stay within maxQueryTerms, and
// ftsText (also the indexing function) must be deterministic and only
// split CJK runs. One store serves every input: opening one per input would
// leave the fuzzer measuring SQLite's file creation.
func FuzzFTSQuery(f *testing.F) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(f.TempDir(), "trove.db"), Options{Version: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	if _, err := store.PutMany(ctx, s, memory.Owner(), []memory.Memory{
		{ID: "id1", Text: "The gateway returned ERR_CONN_RESET after the deploy"},
		{ID: "id2", Text: "Edit config/prod.yaml, never config/staging.yaml"},
		{ID: "id3", Text: "我喜欢喝咖啡，不喜欢喝茶"},
		{ID: "id4", Text: `Alice AND Bob NEAR the office: "quoted" text:foo (a OR b) NOT c ^start`},
		{ID: "id5", Text: "Private note", Scope: "agent:x"},
		{ID: "id6", Text: "コーヒーが好きです 커피를 좋아해요 café naïve"},
	}); err != nil {
		f.Fatal(err)
	}
	for _, q := range []string{"ERR_CONN_RESET", "config/prod.yaml", "咖啡", `"unbalanced (alice * AND`, "NEAR(alice bob)", "text:foo"} {
		f.Add(q)
	}
	scoped := memory.Scopes(memory.GlobalScope)
	f.Fuzz(func(t *testing.T, text string) {
		ft := ftsText(text)
		if again := ftsText(text); again != ft {
			t.Fatalf("ftsText(%q) is not deterministic: %q then %q", text, ft, again)
		}
		checkFTSText(t, text, ft)

		phrases, tokens := ftsTerms(text, ftsStemmed)
		if len(phrases) > maxQueryTerms || len(tokens) > maxQueryTerms {
			t.Fatalf("ftsTerms(%q): %d phrases, %d tokens: over the limit %d", text, len(phrases), len(tokens), maxQueryTerms)
		}
		q := ftsQuery(phrases, tokens)
		if (q == "") != (len(phrases)+len(tokens) == 0) {
			t.Fatalf("ftsQuery(%q, %q) = %q", phrases, tokens, q)
		}
		// With six rows pruneCommon drops nothing, so SearchText runs q whole.
		for _, acc := range []memory.Access{memory.Owner(), scoped} {
			hits, err := s.SearchText(ctx, acc, store.Filter{}, text, 5)
			if err != nil {
				t.Fatalf("SearchText(%q): %v", text, err)
			}
			if len(hits) > 5 {
				t.Fatalf("SearchText(%q): %d hits for k=5", text, len(hits))
			}
			for _, h := range hits {
				if h.ID == "id5" && !acc.All() {
					t.Fatalf("SearchText(%q) with global access found the agent:x row", text)
				}
			}
		}
	})
}

// checkFTSText: text without CJK is left alone; otherwise every
// space-separated field holding a CJK character is a unigram or a bigram.
func checkFTSText(t *testing.T, text, ft string) {
	t.Helper()
	hasCJK := strings.IndexFunc(text, isCJK) >= 0
	if !hasCJK {
		if ft != text {
			t.Fatalf("ftsText(%q) = %q: text without CJK must be left alone", text, ft)
		}
		return
	}
	for _, field := range strings.Fields(ft) {
		if strings.IndexFunc(field, isCJK) < 0 {
			continue
		}
		n := 0
		for _, r := range field {
			if !isCJK(r) {
				t.Fatalf("ftsText(%q) = %q: field %q mixes CJK and other characters", text, ft, field)
			}
			n++
		}
		if n > 2 {
			t.Fatalf("ftsText(%q) = %q: field %q is longer than a bigram", text, ft, field)
		}
	}
}
