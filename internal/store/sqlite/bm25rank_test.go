package sqlite

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBM25RankerMatchesFullSort checks that the lazy ranker hands out
// exactly what scoring every row and sorting would, in the same order,
// over random counts, lengths (some rows deleted), chunk sizes and ties.
func TestBM25RankerMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	weights := []float64{1, 1, 0.5, 0.25}
	for trial := range 300 {
		terms := 1 + rng.IntN(5)
		idf := make([]float64, terms)
		for i := range idf {
			idf[i] = 0.01 + rng.Float64()*5
		}
		freqs := map[int64][]float64{}
		length := map[int64]int{}
		rows := 1 + rng.IntN(3000)
		for range rows {
			rid := rng.Int64N(10 * int64(rows))
			if _, dup := freqs[rid]; dup {
				continue
			}
			fr := make([]float64, terms)
			tokens := 0
			for i := range fr {
				if rng.IntN(3) == 0 {
					c := 1 + rng.IntN(3)
					fr[i] = float64(c) * weights[rng.IntN(4)]
					tokens += c
				}
			}
			freqs[rid] = fr
			if rng.IntN(20) != 0 { // else deleted: no length
				length[rid] = tokens + rng.IntN(40)
				if trial%7 == 0 {
					length[rid] = tokens // rows as short as their counts
				}
			}
		}
		avg := 5 + rng.Float64()*20
		reads := 0
		known := map[int64]int{}
		if trial%3 == 0 { // some lengths at hand, as from the cache
			for rid, l := range length {
				if rng.IntN(2) == 0 {
					known[rid] = l
				}
			}
		}
		rk := newBM25Ranker(freqs, idf, avg, known, func(rids []int64) (map[int64]int, error) {
			reads += len(rids)
			out := map[int64]int{}
			for _, rid := range rids {
				if l, ok := length[rid]; ok {
					out[rid] = l
				}
			}
			return out, nil
		})
		var want []rankCand
		for rid, fr := range freqs {
			if l, ok := length[rid]; ok {
				want = append(want, rankCand{rid: rid, score: rk.score(fr, float64(l))})
			}
		}
		slices.SortFunc(want, byScore)
		var got []rankCand
		for chunk := 1 + rng.IntN(50); ; chunk *= 2 {
			part, err := rk.next(chunk)
			if err != nil {
				t.Fatal(err)
			}
			if len(part) == 0 {
				break
			}
			got = append(got, part...)
			if trial%2 == 0 && len(got) >= 20 { // a search that stops early
				want = want[:min(len(got), len(want))]
				break
			}
		}
		if !slices.Equal(got, want) {
			for i := range got {
				if got[i] != want[i] {
					t.Logf("first difference at %d: got %+v want %+v; trial%%7=%d", i, got[i-1:min(i+3, len(got))], want[i-1:min(i+3, len(want))], trial%7)
					break
				}
			}
			t.Fatalf("trial %d: ranker order differs from a full sort (%d vs %d rows)", trial, len(got), len(want))
		}
	}
}

// TestBM25RankerReadsFewLengths shows what the ranker is for: a query
// with one common and one rare word reads the lengths of a few hundred
// rows for the rare word's 20, not of every row with the common word.
func TestBM25RankerReadsFewLengths(t *testing.T) {
	freqs := map[int64][]float64{}
	for rid := range int64(20_000) {
		fr := []float64{1, 0}
		if rid%1000 == 0 {
			fr[1] = 1
		}
		freqs[rid] = fr
	}
	reads := 0
	rk := newBM25Ranker(freqs, []float64{0.1, 5}, 12, nil, func(rids []int64) (map[int64]int, error) {
		reads += len(rids)
		out := map[int64]int{}
		for _, rid := range rids {
			out[rid] = 8 + int(rid%13)
		}
		return out, nil
	})
	part, err := rk.next(20)
	if err != nil {
		t.Fatal(err)
	}
	if len(part) != 20 || freqs[part[0].rid][1] == 0 {
		t.Fatalf("first candidates %v: want the rare word's rows first", part[:min(3, len(part))])
	}
	if reads > 1000 {
		t.Fatalf("read %d lengths for 20 candidates of 20,000 rows", reads)
	}
}
