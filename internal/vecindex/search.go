package vecindex

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/viterin/vek/vek32"
)

const (
	defaultOversample = 8
	minCandidates     = 64
	// parallelMin is the number of slots below which a scan stays on the
	// calling goroutine: under it the scan takes well under a millisecond
	// and starting goroutines buys nothing.
	parallelMin = 20_000
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
	// Exact forces a full float32 scan instead of the quantised pass.
	Exact bool
	// Oversample sets how many candidates the quantised pass hands to exact
	// re-scoring: K*Oversample, at least 64. Zero means 8.
	Oversample int
}

// Search returns the K vectors most similar to q by cosine, best first,
// ties broken by ID. It fails with ErrDims or ErrInvalidVector for a bad
// query. The scores are always exact; by default the set of hits comes
// from a quantised pass and can, rarely, miss a true top-K vector whose
// score is very close to the K-th (see DESIGN.md). Exact guarantees it.
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
	n := len(ix.ids)
	if !ok || n == 0 {
		return nil, nil
	}
	k := min(opts.K, n)
	over := opts.Oversample
	if over <= 0 {
		over = defaultOversample
	}
	cands := max(k*min(over, n), minCandidates) // min(over, n) keeps k*over from overflowing
	var found []cand
	if opts.Exact || cands >= n {
		// A quantised pass that keeps every vector saves nothing.
		found = ix.scan(k, allow, func(lo, hi int, h *topK) { ix.scanExact(lo, hi, qn, allow, h) })
	} else {
		qc := make([]byte, ix.stride)
		_, qbias := quantize(qc, qn)
		qw := make([]uint64, ix.stride/4)
		packQuery(qw, qc)
		// Everything in the biased dot that does not depend on the slot.
		qconst := int64(qbias) + qBias*qBias*int64(ix.stride)
		found = ix.scan(cands, allow, func(lo, hi int, h *topK) { ix.scanCodes(lo, hi, qw, qconst, allow, h) })
		for i := range found {
			found[i].score = vek32.Dot(ix.vecs[found[i].slot*ix.dims:(found[i].slot+1)*ix.dims], qn)
		}
	}
	slices.SortFunc(found, func(a, b cand) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(ix.ids[a.slot], ix.ids[b.slot])
	})
	hits := make([]Hit, min(k, len(found)))
	for i := range hits {
		hits[i] = Hit{ID: ix.ids[found[i].slot], Score: found[i].score}
	}
	return hits, nil
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
func (ix *Index) scan(k int, allow []uint64, fn func(lo, hi int, h *topK)) []cand {
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

// scanCodes ranks slots [lo, hi) by their approximate score from the codes.
// The approximate score is Σ q·q' × slot scale; the query's own scale is a
// positive constant and is left out because it does not change the order.
func (ix *Index) scanCodes(lo, hi int, qw []uint64, qconst int64, allow []uint64, h *topK) {
	stride := ix.stride
	codes, scales, biases, groups := ix.codes, ix.scales[:hi], ix.biases[:hi], ix.groups[:hi]
	for s := lo; s < hi; s++ {
		if allow != nil {
			g := groups[s]
			if allow[g/64]&(1<<(g%64)) == 0 {
				continue
			}
		}
		d := int64(dotCodes(codes[s*stride:(s+1)*stride], qw)) - int64(biases[s]) - qconst
		score := float32(d) * scales[s]
		if h.full() && score < h.items[0].score {
			continue
		}
		h.push(cand{score: score, slot: s})
	}
}

// scanExact ranks slots [lo, hi) by their exact float32 cosine.
func (ix *Index) scanExact(lo, hi int, qn []float32, allow []uint64, h *topK) {
	dims := ix.dims
	vecs, groups := ix.vecs, ix.groups[:hi]
	for s := lo; s < hi; s++ {
		if allow != nil {
			g := groups[s]
			if allow[g/64]&(1<<(g%64)) == 0 {
				continue
			}
		}
		score := vek32.Dot(vecs[s*dims:(s+1)*dims], qn)
		if h.full() && score < h.items[0].score {
			continue
		}
		h.push(cand{score: score, slot: s})
	}
}

type cand struct {
	score float32
	slot  int
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
