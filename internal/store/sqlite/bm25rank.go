package sqlite

import (
	"cmp"
	"slices"
)

// bm25Ranker hands out a scoped text search's candidates in exact BM25
// order (score descending, then rid), reading document lengths only for
// the candidates that can still be handed out.
//
// A candidate's score needs its length in tokens, one docsize lookup per
// row: for a query with a common word that was most of the search's time
// at 100k rows (thousands of rows matched, ten wanted). But each term's
// part of the score only falls as the length grows, and a row is at
// least as long as its count of any one query term, so the score at that
// length bounds the real one from above. The ranker reads the lengths of
// the rows with the best bounds, a batch at a time; a scored row is final
// once its score beats every bound not read yet, and the rows come out
// exactly as a sort of every row's real score would give them.
type bm25Ranker struct {
	freqs   map[int64][]float64
	idf     []float64
	avg     float64
	lengths func(rids []int64) (map[int64]int, error)

	byBound []rankCand // best bound first; byBound[read:] not read yet
	read    int
	pending []rankCand // read, not yet final (scores at or below the next bound), best first
	final   []rankCand // handed out in order from out
	out     int
}

type rankCand struct {
	rid   int64
	score float64 // the bound in byBound (the real score when exact), the real score elsewhere
	exact bool    // in byBound: the length was known, score is real
}

// rankBatch is the fewest lengths read at once.
const rankBatch = 256

// newBM25Ranker ranks the rows of freqs (weighted term counts per rid).
// known holds lengths already at hand (a cache); lengths reads others.
func newBM25Ranker(freqs map[int64][]float64, idf []float64, avg float64, known map[int64]int, lengths func([]int64) (map[int64]int, error)) *bm25Ranker {
	r := &bm25Ranker{freqs: freqs, idf: idf, avg: avg, lengths: lengths}
	r.byBound = make([]rankCand, 0, len(freqs))
	for rid, fr := range freqs {
		if l, ok := known[rid]; ok {
			r.byBound = append(r.byBound, rankCand{rid, r.score(fr, float64(l)), true})
			continue
		}
		atLeast := 0.0
		for _, f := range fr {
			atLeast = max(atLeast, f) // weights are ≤ 1: a count is at least its weighted sum
		}
		r.byBound = append(r.byBound, rankCand{rid, r.score(fr, atLeast), false})
	}
	slices.SortFunc(r.byBound, byScore)
	return r
}

func byScore(a, b rankCand) int {
	return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.rid, b.rid))
}

// score is the BM25 score of a row with weighted term counts fr and
// length tokens.
func (r *bm25Ranker) score(fr []float64, length float64) float64 {
	var score float64
	norm := bm25K1 * (1 - bm25B + bm25B*length/r.avg)
	for i, freq := range fr {
		score += r.idf[i] * freq * (bm25K1 + 1) / (freq + norm)
	}
	return score
}

// next returns up to n more candidates in exact order; none when all
// have been handed out. Rows deleted since their counts were read (no
// length) are left out.
func (r *bm25Ranker) next(n int) ([]rankCand, error) {
	for len(r.final)-r.out < n && (r.read < len(r.byBound) || len(r.pending) > 0) {
		if err := r.readBatch(max(rankBatch, 2*n)); err != nil {
			return nil, err
		}
	}
	end := min(r.out+n, len(r.final))
	part := r.final[r.out:end]
	r.out = end
	return part, nil
}

// readBatch reads on down byBound until it has read the lengths of batch
// rows (rows whose length is known cost nothing), and moves every scored
// row that now beats all unread bounds to final.
func (r *bm25Ranker) readBatch(batch int) error {
	var fresh []rankCand
	var rids []int64
	for ; r.read < len(r.byBound) && len(rids) < batch; r.read++ {
		c := r.byBound[r.read]
		if c.exact {
			fresh = append(fresh, rankCand{rid: c.rid, score: c.score})
		} else {
			rids = append(rids, c.rid)
		}
	}
	if len(rids) > 0 {
		slices.Sort(rids) // in index order
		lengths, err := r.lengths(rids)
		if err != nil {
			return err
		}
		for _, rid := range rids {
			if length, ok := lengths[rid]; ok {
				fresh = append(fresh, rankCand{rid: rid, score: r.score(r.freqs[rid], float64(length))})
			}
		}
	}
	slices.SortFunc(fresh, byScore)
	r.pending = mergeByScore(r.pending, fresh)
	// A row is final when no unread row can come before it: its score is
	// above the best unread bound (an equal score might be a smaller rid).
	cut := len(r.pending)
	if r.read < len(r.byBound) {
		bound := r.byBound[r.read].score
		cut, _ = slices.BinarySearchFunc(r.pending, bound, func(c rankCand, b float64) int { return cmp.Compare(b, c.score) })
	}
	r.final = append(r.final, r.pending[:cut]...)
	r.pending = r.pending[cut:]
	return nil
}

// mergeByScore merges two lists sorted by byScore.
func mergeByScore(a, b []rankCand) []rankCand {
	if len(a) == 0 {
		return b
	}
	out := make([]rankCand, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if byScore(a[0], b[0]) <= 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}
