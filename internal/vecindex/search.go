package vecindex

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/viterin/vek/vek32"
)

const (
	minCandidates = 64
	// parallelMin is the number of slots below which a scan stays on the
	// calling goroutine: under it the scan takes well under a millisecond
	// and starting goroutines buys nothing.
	parallelMin = 20_000
	// exactBelow is the index size under which every search is exact: the
	// float32 slab is small enough to stay in cache, where vek's SIMD dot
	// is as fast as the plain-Go pass over codes (measured at 10k×384:
	// 0.5-0.7 ms exact vs 0.7-1.2 ms quantised).
	exactBelow = 20_000
	// A quantised search hands the 7-bit pass the best n/prefilterShare
	// rows of the ternary pass, at least prefilterMin (see ternary.go and
	// DESIGN.md for the recall each count buys).
	prefilterShare = 32
	prefilterMin   = 2000
	// deepShare: when one of the K best re-scored hits sat this far down
	// the ternary pass's list (as a share of the rows the 7-bit pass
	// read), the 7-bit pass goes on down it to deepMult times as many rows
	// (DESIGN.md, "Adaptive depth").
	deepShare = 0.25
	deepMult  = 3
	// gatherRows is how many rows the 7-bit pass copies together.
	gatherRows = 32
)

// Hit is one search result.
type Hit struct {
	ID    string
	Score float32 // exact cosine similarity, in [-1, 1] up to rounding
}

// SearchOptions says how many hits to return and from which groups.
type SearchOptions struct {
	// K is the number of hits wanted; K ≤ 0 returns none.
	K int
	// Groups lists the groups a hit may come from. It fails closed: with
	// AllGroups false, a nil or empty Groups matches nothing.
	Groups []uint32
	// AllGroups searches every group and ignores Groups.
	AllGroups bool
	// ActiveAt, when not 0, finds only vectors whose span holds it
	// (Item.From ≤ ActiveAt < Item.Until). Like Groups, it is applied
	// while scanning, so K hits still come back when many vectors are
	// outside their span.
	ActiveAt int64
	// Exact forces a full float32 scan instead of the quantised pass.
	Exact bool
	// Oversample sets how many candidates the quantised pass hands to exact
	// re-scoring: K*Oversample, at least 64. Zero means 2K+64: what decides
	// a miss is the codes' ranking noise near the K-th score, which does not
	// grow with K (see DESIGN.md).
	Oversample int
}

// Search returns the K vectors most similar to q by cosine, best first,
// ties broken by ID. It fails with ErrDims or ErrInvalidVector for a bad
// query. The scores are always exact. On an index of 20,000 vectors or
// more, the set of hits comes from quantised passes by default and can
// miss true top-K vectors whose scores are close to the K-th: measured
// at 100k, recall@10 0.998–1.00 on dense model-like vectors and 0.992 on
// the sparse vectors of the hash embedder (see DESIGN.md). Exact rules
// that out. Smaller indexes are always searched exactly.
func (ix *Index) Search(q []float32, opts SearchOptions) ([]Hit, error) {
	if len(q) != ix.dims {
		return nil, fmt.Errorf("%w: query has %d, want %d", ErrDims, len(q), ix.dims)
	}
	inv, err := invNorm(q)
	if err != nil {
		return nil, err
	}
	if opts.K <= 0 {
		return nil, nil
	}
	qn := make([]float32, ix.dims)
	for i, x := range q {
		qn[i] = float32(float64(x) * inv)
	}

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	allow, ok := ix.allowed(opts)
	f := filter{allow: allow, at: clampAt(opts.ActiveAt)}
	n := len(ix.ids)
	if !ok || n == 0 {
		return nil, nil
	}
	k := min(opts.K, n)
	cands := 2*min(k, n) + minCandidates
	if over := opts.Oversample; over > 0 {
		cands = max(k*min(over, n), minCandidates) // min(over, n) keeps k*over from overflowing
	}
	var found []cand
	if opts.Exact || cands >= n || n < ix.exactBelow {
		// A quantised pass that keeps every vector saves nothing, and a
		// small index is as fast to scan exactly.
		qrest := restNorms(qn, ix.cuts)
		found = ix.scan(k, func(lo, hi int, h *topK) { ix.scanExact(lo, hi, qn, &qrest, f, h) })
	} else {
		qt := make([]uint64, 2*ix.twords)
		encodeTernary(qt, qn)
		var want int
		slots := ix.prefilter(qt, f, func(allowed int) (int, int) {
			want = max(cands, ix.prefilterMin, allowed/prefilterShare)
			return want, deepMult * want
		})
		qc := make([]byte, ix.stride)
		qm := quantize(qc, qn, ix.cuts)
		qw := make([]uint64, ix.stride/4)
		packQuery(qw, qc)
		h := topK{k: cands, ids: ix.ids, items: make([]cand, 0, cands)}
		want = min(want, len(slots)) // fewer: every allowed row, in slot order
		ix.scanCodes(slots[:want], 0, qw, &qm, &h)
		found = ix.rescore(h.items, qn)
		// A thin margin: one of the K best came from deep in the ternary
		// pass's list, so more of them are likely just past its end. Read
		// twice as many rows again (see "Adaptive depth" in DESIGN.md).
		if len(slots) > want && deepest(found[:min(k, len(found))]) >= int32(float64(want)*ix.deepShare) {
			ix.scanCodes(slots[want:], int32(want), qw, &qm, &h)
			found = ix.rescore(h.items, qn)
		}
		hits := make([]Hit, min(k, len(found)))
		for i := range hits {
			hits[i] = Hit{ID: ix.ids[found[i].slot], Score: found[i].score}
		}
		return hits, nil
	}
	found = ix.rescore(found, qn)
	hits := make([]Hit, min(k, len(found)))
	for i := range hits {
		hits[i] = Hit{ID: ix.ids[found[i].slot], Score: found[i].score}
	}
	return hits, nil
}

// rescore gives each candidate its float32 score, one dot over the whole
// row, so a vector's score does not depend on which path found it, and
// sorts them best first (ties by id). It sorts a copy: the 7-bit heap may
// take more rows afterwards.
func (ix *Index) rescore(cs []cand, qn []float32) []cand {
	found := slices.Clone(cs)
	for i := range found {
		s := found[i].slot
		found[i].score = vek32.Dot(ix.vecs[s*ix.dims:(s+1)*ix.dims], qn)
	}
	slices.SortFunc(found, func(a, b cand) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(ix.ids[a.slot], ix.ids[b.slot])
	})
	return found
}

// deepest is the largest place in the ternary pass's list among cs.
func deepest(cs []cand) int32 {
	var d int32
	for _, c := range cs {
		d = max(d, c.pos)
	}
	return d
}

// filter is what a scan lets through: the groups in allow (nil: all) and,
// when at is not 0, the slots whose span holds at.
type filter struct {
	allow []uint64
	at    int64
}

// none reports whether the filter lets every slot through.
func (f filter) none() bool { return f.allow == nil && f.at == 0 }

// keep is 1 if slot s passes the filter and 0 if not. The group test is
// a bit lookup and the time test branch-free (span.active); whether
// either applies is the same for every slot of a search, so those two
// branches predict perfectly.
func (ix *Index) keep(f filter, s int) int32 {
	k := int32(1)
	if f.allow != nil {
		g := ix.groups[s]
		k = int32(f.allow[g/64] >> (g % 64) & 1)
	}
	if f.at != 0 {
		k &= ix.spans[s].active(f.at)
	}
	return k
}

// allowed returns the bitset of dense group numbers a search may see (nil
// for all groups) and whether it may see anything at all.
func (ix *Index) allowed(opts SearchOptions) (allow []uint64, ok bool) {
	if opts.AllGroups {
		return nil, true
	}
	for _, g := range opts.Groups {
		d, known := ix.groupOf[g]
		if !known {
			continue
		}
		if allow == nil {
			allow = make([]uint64, (len(ix.groupOf)+63)/64)
		}
		allow[d/64] |= 1 << (d % 64)
	}
	return allow, allow != nil
}

// scan runs fn over all slots with a top-k of size k per worker, splitting
// the slots across GOMAXPROCS goroutines for a large index, and returns the
// union of the workers' results (up to workers*k, unordered).
func (ix *Index) scan(k int, fn func(lo, hi int, h *topK)) []cand {
	n := len(ix.ids)
	workers := 1
	if n >= parallelMin {
		workers = min(runtime.GOMAXPROCS(0), n/(parallelMin/2))
	}
	heaps := make([]topK, workers)
	var wg sync.WaitGroup
	for w := range workers {
		heaps[w] = topK{k: k, ids: ix.ids, items: make([]cand, 0, k)}
		lo, hi := n*w/workers, n*(w+1)/workers
		if w == workers-1 {
			fn(lo, hi, &heaps[w]) // the caller's goroutine takes the last share
			break
		}
		wg.Go(func() { fn(lo, hi, &heaps[w]) })
	}
	wg.Wait()
	all := heaps[0].items
	for _, h := range heaps[1:] {
		all = append(all, h.items...)
	}
	return all
}

// Both scans drop a row early when it cannot reach the top-k: at each cut
// they have the dot product of the row's prefix, and by Cauchy–Schwarz the
// rest of the row adds at most |row rest|·|query rest|. If even that falls
// below the worst score kept, the rest of the row is not read. The bound is
// rigorous (with a margin for float rounding), so a scan returns exactly
// what it would without it; on clustered data it skips about half the work.

// maxCuts is the most checkpoints per row. Two (thirds of the row) measured
// best at 100k×384: one prunes later, three pay more in branch misses
// and calls than they save.
const maxCuts = 2

// cutsFor returns the checkpoints for rows of dims components: up to
// maxCuts offsets, whole blocks apart, splitting the row into near-equal
// segments. Rows under 128 components are short enough to scan whole.
func cutsFor(dims int) []int {
	var cuts []int
	if dims < 4*blockBytes {
		return nil
	}
	for j := 1; j <= maxCuts; j++ {
		c := (j*dims/(maxCuts+1) + blockBytes/2) / blockBytes * blockBytes
		if c > 0 && c < dims && (len(cuts) == 0 || c > cuts[len(cuts)-1]) {
			cuts = append(cuts, c)
		}
	}
	return cuts
}

// scanCodes ranks the given slots (already filtered by group; the first
// is at place first in the ternary pass's list) by their
// approximate score from the codes: Σ q·q' times the slot's scale. The
// query's own scale is a positive constant, left out because it does not
// change the order.
func (ix *Index) scanCodes(slots []int32, first int32, qw []uint64, qm *codeMeta, h *topK) {
	stride, cuts := ix.stride, ix.cuts
	// The parts of the biased dot that depend only on the query, per cut.
	var qconst [maxCuts + 1]int64
	for j, cut := range cuts {
		qconst[j] = int64(qm.bias[j]) + qBias*qBias*int64(cut)
	}
	qconst[maxCuts] = int64(qm.bias[maxCuts]) + qBias*qBias*int64(stride)
	codes, meta := ix.codes, ix.cmeta
	thr := h.threshold()
	// The rows are copied gatherRows at a time into buf before they are
	// scored: the copies do not depend on each other, so their cache
	// misses overlap, where scoring a row straight from the slab waits
	// for its lines before the next row's are asked for (DESIGN.md,
	// "Gathering the 7-bit rows").
	buf := make([]byte, gatherRows*stride)
	var mbuf [gatherRows]codeMeta
rows:
	for i := range slots {
		b := i % gatherRows
		if b == 0 {
			for j, t := range slots[i:min(i+gatherRows, len(slots))] {
				copy(buf[j*stride:(j+1)*stride], codes[int(t)*stride:(int(t)+1)*stride])
				mbuf[j] = meta[t]
			}
		}
		s := int(slots[i])
		row := buf[b*stride : (b+1)*stride]
		m := &mbuf[b]
		var dot int64
		start := 0
		for j, cut := range cuts {
			dot += int64(dotCodes(row[start:cut], qw[start/4:cut/4]))
			start = cut
			// The prefix sum is an exact integer below 2^24; the +1
			// covers rounding in the float32 norm product.
			prefix := float32(dot - int64(m.bias[j]) - qconst[j])
			if (prefix+m.rest[j]*qm.rest[j]+1)*m.scale < thr {
				continue rows
			}
		}
		dot += int64(dotCodes(row[start:], qw[start/4:]))
		score := float32(dot-int64(m.bias[maxCuts])-qconst[maxCuts]) * m.scale
		if score < thr {
			continue
		}
		h.push(cand{score: score, slot: s, pos: first + int32(i)})
		thr = h.threshold()
	}
}

// exactSlack covers float32 rounding between a row's dot product summed by
// segments and its Cauchy–Schwarz bound: far above the ~1e-6 seen, far
// below any score gap worth ranking by.
const exactSlack = 1e-4

// scanExact ranks slots [lo, hi) by their float32 cosine.
func (ix *Index) scanExact(lo, hi int, qn []float32, qrest *[maxCuts]float32, f filter, h *topK) {
	dims, cuts := ix.dims, ix.cuts
	vecs, frest := ix.vecs, ix.frest[:hi]
	thr := h.threshold()
	all := f.none()
rows:
	for s := lo; s < hi; s++ {
		if !all && ix.keep(f, s) == 0 {
			continue
		}
		row := vecs[s*dims : (s+1)*dims]
		var dot float32
		start := 0
		for j, cut := range cuts {
			dot += vek32.Dot(row[start:cut], qn[start:cut])
			start = cut
			if dot+frest[s][j]*qrest[j]+exactSlack < thr {
				continue rows
			}
		}
		dot += vek32.Dot(row[start:], qn[start:])
		if dot < thr {
			continue
		}
		h.push(cand{score: dot, slot: s})
		thr = h.threshold()
	}
}

type cand struct {
	score float32
	slot  int
	pos   int32 // place in the ternary pass's list (quantised path)
}

// topK keeps the k best candidates seen, as a min-heap whose root is the
// worst kept one. Equal scores are ordered by ID so that which of several
// tied vectors survives does not depend on slot order.
type topK struct {
	k     int
	ids   []string
	items []cand
}

func (h *topK) full() bool { return len(h.items) == h.k }

// threshold is the score a row must reach to be worth pushing: the worst
// kept score once the heap is full, -Inf before.
func (h *topK) threshold() float32 {
	if !h.full() {
		return float32(math.Inf(-1))
	}
	return h.items[0].score
}

// worse reports whether a ranks below b.
func (h *topK) worse(a, b cand) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return h.ids[a.slot] > h.ids[b.slot]
}

func (h *topK) push(c cand) {
	if !h.full() {
		h.items = append(h.items, c)
		for i := len(h.items) - 1; i > 0; {
			p := (i - 1) / 2
			if !h.worse(h.items[i], h.items[p]) {
				break
			}
			h.items[i], h.items[p] = h.items[p], h.items[i]
			i = p
		}
		return
	}
	if !h.worse(h.items[0], c) {
		return
	}
	h.items[0] = c
	n := len(h.items)
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h.worse(h.items[l], h.items[m]) {
			m = l
		}
		if r < n && h.worse(h.items[r], h.items[m]) {
			m = r
		}
		if m == i {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
}
