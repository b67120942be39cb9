package postgres

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

func TestIndexDocColumnsAndPositions(t *testing.T) {
	d := indexDoc(docCols{"Moving pipelines", "", "Café ERR_CONN", "x"})
	// Stems, folded diacritics, positions with a gap between columns and
	// each column's label.
	want := "'cafe':5C 'conn':7C 'err':6C 'move':1A 'pipelin':2A 'x':9D"
	if d.tsv != want || d.length != 6 {
		t.Errorf("indexDoc = %q (%d tokens), want %q (6)", d.tsv, d.length, want)
	}
	if got := indexTokens("Ärger im Büro"); !slices.Equal(got, []string{"arger", "im", "buro"}) {
		t.Errorf("indexTokens folds to %v", got)
	}
	if got := termQuery("err conn reset"); got != "('err' <-> 'conn' <-> 'reset')" {
		t.Errorf("termQuery = %q", got)
	}
	occ := map[string]occurrences{
		"err":  {pos: []int16{1, 10}, weights: []string{"A", "C"}},
		"conn": {pos: []int16{2, 11, 20}, weights: []string{"A", "C", "D"}},
	}
	if f := termFreq([]string{"err", "conn"}, occ); f != 1.5 {
		t.Errorf("phrase frequency %v, want 1.5 (text 1 + l1 0.5)", f)
	}
	if f := termFreq([]string{"conn"}, occ); f != 1.75 {
		t.Errorf("word frequency %v, want 1.75", f)
	}
}

// TestIndexDocLimits: a row beyond what a tsvector holds (more than 16383
// tokens, a word more than 256 times, a token longer than a lexeme may
// be, quotes and backslashes) is stored, found and scored.
func TestIndexDocLimits(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	// The L2 field (18001 tokens, after the text's) runs past position
	// 16383: its last tokens all get position 16383.
	text := "omega " + strings.Repeat("z", 3000) + ` it's a \back\slash 'quoted' "double"`
	l2 := strings.Repeat("alpha beta ", 9000) + "tail"
	rows := []memory.Memory{
		{ID: "long", Text: text, Metadata: map[string]any{"l2_content": l2}},
		{ID: "short", Text: "alpha omega"},
	}
	res, err := store.PutMany(ctx, s, memory.Owner(), rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	for _, q := range []string{"alpha", "omega", "slash", "quoted", "it's", "tail"} {
		hits, err := s.SearchText(ctx, memory.Owner(), store.Filter{}, q, 5)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if len(hits) == 0 {
			t.Errorf("%q found nothing", q)
		}
		for _, h := range hits {
			if math.IsNaN(h.Score) || math.IsInf(h.Score, 0) || h.Score <= 0 {
				t.Errorf("%q: %s scored %v", q, h.ID, h.Score)
			}
		}
	}
	var docLen int
	if err := s.pool.QueryRow(ctx, "SELECT doc_len FROM memories WHERE id = 'long'").Scan(&docLen); err != nil {
		t.Fatal(err)
	}
	if docLen != 1+1+7+18001 {
		t.Errorf("doc_len = %d, want every token counted (18010)", docLen)
	}
}
