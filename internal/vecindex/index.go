// Package vecindex is an in-memory index for cosine top-k search over
// embedding vectors, used by retrieval in front of the SQLite store.
//
// The store remains the source of truth: the index is loaded from it and
// kept current by the caller (Upsert and Delete as memories change). Every
// vector is held as float32, as 7-bit codes and as a 2-bit ternary code; a
// search of a large index scans the ternary codes, re-scores the best few
// thousand with the 7-bit codes and the best K*Oversample of those
// exactly, and returns exact cosine scores. Each vector carries a group, a small integer the
// caller maps scopes to, and a search only ever sees the groups it names.
//
//	ix := vecindex.New(384)
//	_ = ix.Upsert("mem-1", 0, vec)
//	hits, err := ix.Search(query, vecindex.SearchOptions{K: 10, Groups: []uint32{0}})
//
// DESIGN.md beside this file explains the layout and the trade-offs.
package vecindex

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"unsafe"
)

var (
	// ErrDims means a vector's length is not the index's dimensions,
	// typically because the embedding model changed.
	ErrDims = errors.New("vecindex: wrong number of dimensions")
	// ErrInvalidVector means a vector has a NaN or infinite component or is
	// all zeros, so it has no direction to compare.
	ErrInvalidVector = errors.New("vecindex: vector is zero or not finite")
)

// Index holds unit vectors for cosine search. It is safe for concurrent
// use: searches share a read lock, Upsert and Delete take the write lock.
//
// Slots are dense: slot i's float32 row is vecs[i*dims:(i+1)*dims] and its
// codes are codes[i*stride:(i+1)*stride]. Delete moves the last slot into
// the hole, so a scan never meets an empty slot.
type Index struct {
	mu     sync.RWMutex
	dims   int
	stride int   // code bytes per slot: dims rounded up to blockBytes
	twords int   // uint64 words per ternary bitplane, see ternary.go
	cuts   []int // checkpoints where a scan may drop a row, see search.go

	vecs   []float32          // unit vectors, row-major
	frest  [][maxCuts]float32 // per slot: |v| from each cut on
	codes  []byte             // biased 7-bit codes, row-major, see quant.go
	cmeta  []codeMeta         // per slot
	tcodes []uint64           // ternary codes, 2·twords words per slot, see ternary.go
	tscale []float32          // per slot: the ternary code's scale, see ternary.go
	groups []uint32           // per slot: dense group number, see groupOf
	spans  []span             // per slot: when the vector may be found, see SearchOptions.ActiveAt
	ids    []string           // per slot

	slot     map[string]int // id → slot; after OpenFile, built when first needed (slots)
	slotOnce sync.Once
	groupOf  map[uint32]uint32 // caller's group → dense group number

	exactBelow   int     // see the constant; tests lower it to reach the quantised pass
	prefilterMin int     // see the constant; tests lower it to reach the ternary pass
	deepShare    float64 // see the constant; tests vary it
}

// New returns an empty index of vectors with dims components. It panics if
// dims is not positive, which is a wiring mistake rather than bad data.
func New(dims int) *Index {
	if dims <= 0 {
		panic(fmt.Sprintf("vecindex: New(%d): dims must be positive", dims))
	}
	return &Index{
		dims:         dims,
		stride:       codeStride(dims),
		twords:       ternaryWords(dims),
		cuts:         cutsFor(dims),
		exactBelow:   exactBelow,
		prefilterMin: prefilterMin,
		deepShare:    deepShare,
		slot:         make(map[string]int),
		groupOf:      make(map[uint32]uint32),
	}
}

// Dims returns the number of components of every vector in the index.
func (ix *Index) Dims() int { return ix.dims }

// Len returns the number of vectors in the index.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.ids)
}

// Grow makes room for n more vectors, so that loading a known number of
// vectors allocates once instead of doubling its way there.
func (ix *Index) Grow(n int) {
	if n <= 0 {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.vecs = slices.Grow(ix.vecs, n*ix.dims)
	ix.frest = slices.Grow(ix.frest, n)
	ix.codes = slices.Grow(ix.codes, n*ix.stride)
	ix.cmeta = slices.Grow(ix.cmeta, n)
	ix.tcodes = slices.Grow(ix.tcodes, n*2*ix.twords)
	ix.tscale = slices.Grow(ix.tscale, n)
	ix.groups = slices.Grow(ix.groups, n)
	ix.spans = slices.Grow(ix.spans, n)
	ix.ids = slices.Grow(ix.ids, n)
}

// Upsert adds the vector for id, or replaces its vector and group if id is
// already present. The vector is copied and normalised to unit length, so
// scores are cosines even for an embedder that does not normalise. A
// search with ActiveAt finds it at every time from 0 on (see Item).
func (ix *Index) Upsert(id string, group uint32, vec []float32) error {
	return ix.UpsertMany([]Item{{ID: id, Group: group, Vec: vec}})
}

// Item is one vector for UpsertMany.
type Item struct {
	ID    string
	Group uint32
	Vec   []float32
	// From and Until bound the times at which a search with
	// SearchOptions.ActiveAt finds the vector: From ≤ ActiveAt < Until,
	// Until 0 meaning no end (times are the caller's, e.g. unix ms; a
	// memory's validity). The zero Item is found at every time.
	From, Until int64
}

// span is an Item's From and Until, clamped to ±spanMax (Until 0 becomes
// spanMax), so that a scan tests it with two subtractions that cannot
// overflow (see active).
type span struct{ from, until int64 }

// spanMax bounds stored times and ActiveAt: 2^61 ms is 73 million years.
const spanMax = 1 << 61

func clampTime(t int64) int64 { return min(max(t, -spanMax), spanMax) }

// clampAt clamps a search's ActiveAt below spanMax, so an open span
// (Until spanMax) holds at every time.
func clampAt(t int64) int64 { return min(max(t, -spanMax), spanMax-1) }

func spanOf(it Item) span {
	if it.Until == 0 {
		return span{clampTime(it.From), spanMax}
	}
	return span{clampTime(it.From), clampTime(it.Until)}
}

// active is 1 if sp holds at (from ≤ at < until) and 0 if not, without a
// branch: the sign bits of from-at-1 and at-until. at and the span are
// clamped to ±spanMax, so neither difference overflows.
func (sp span) active(at int64) int32 {
	return int32(uint64(sp.from-at-1)>>63) & int32(uint64(at-sp.until)>>63)
}

// parallelEncodeMin is the batch size from which UpsertMany encodes on
// GOMAXPROCS goroutines (normalising, 7-bit and ternary codes: ~10 µs a
// 384-dim vector, most of loading an index).
const parallelEncodeMin = 4096

// UpsertMany is Upsert for many vectors: the same result as one Upsert
// each in order (a later item for an id wins), with the encoding of a
// large batch spread over GOMAXPROCS goroutines. It checks every vector
// first and changes nothing if one is bad, naming it. Searches wait while
// it runs (about a second for 100k vectors of 384 dimensions on 2 cores).
func (ix *Index) UpsertMany(items []Item) error {
	invs := make([]float64, len(items))
	for i, it := range items {
		if len(it.Vec) != ix.dims {
			return fmt.Errorf("%s: %w: got %d, want %d", it.ID, ErrDims, len(it.Vec), ix.dims)
		}
		inv, err := invNorm(it.Vec)
		if err != nil {
			return fmt.Errorf("%s: %w", it.ID, err)
		}
		invs[i] = inv
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	slots := make([]int, len(items))
	last := make(map[string]int, len(items))
	for i, it := range items {
		s, ok := ix.slots()[it.ID]
		if !ok {
			s = len(ix.ids)
			ix.slots()[it.ID] = s
			ix.ids = append(ix.ids, it.ID)
			ix.vecs = append(ix.vecs, make([]float32, ix.dims)...)
			ix.frest = append(ix.frest, [maxCuts]float32{})
			ix.codes = append(ix.codes, make([]byte, ix.stride)...)
			ix.cmeta = append(ix.cmeta, codeMeta{})
			ix.tcodes = append(ix.tcodes, make([]uint64, 2*ix.twords)...)
			ix.tscale = append(ix.tscale, 0)
			ix.groups = append(ix.groups, 0)
			ix.spans = append(ix.spans, span{})
		}
		g, ok := ix.groupOf[it.Group]
		if !ok {
			g = uint32(len(ix.groupOf))
			ix.groupOf[it.Group] = g
		}
		ix.groups[s] = g
		ix.spans[s] = spanOf(it)
		slots[i] = s
		last[it.ID] = i
	}
	encode := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if last[items[i].ID] == i { // an earlier item for the id is overwritten anyway
				ix.encode(slots[i], items[i].Vec, invs[i])
			}
		}
	}
	workers := 1
	if len(items) >= parallelEncodeMin {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for w := range workers - 1 {
		wg.Go(func() { encode(len(items)*w/workers, len(items)*(w+1)/workers) })
	}
	encode(len(items)*(workers-1)/workers, len(items))
	wg.Wait()
	return nil
}

// encode writes slot s's unit vector (vec times inv) and its codes. Slots
// are disjoint memory, so different slots may be encoded at once.
func (ix *Index) encode(s int, vec []float32, inv float64) {
	row := ix.vecs[s*ix.dims : (s+1)*ix.dims]
	for i, x := range vec {
		row[i] = float32(float64(x) * inv)
	}
	ix.frest[s] = restNorms(row, ix.cuts)
	ix.cmeta[s] = quantize(ix.codes[s*ix.stride:(s+1)*ix.stride], row, ix.cuts)
	ix.tscale[s] = encodeTernary(ix.tcodes[s*2*ix.twords:(s+1)*2*ix.twords], row)
}

// Delete removes id and reports whether it was present.
func (ix *Index) Delete(id string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	slot := ix.slots()
	s, ok := slot[id]
	if !ok {
		return false
	}
	delete(slot, id)
	last := len(ix.ids) - 1
	if s != last {
		copy(ix.vecs[s*ix.dims:(s+1)*ix.dims], ix.vecs[last*ix.dims:])
		copy(ix.codes[s*ix.stride:(s+1)*ix.stride], ix.codes[last*ix.stride:])
		ix.frest[s] = ix.frest[last]
		ix.cmeta[s] = ix.cmeta[last]
		copy(ix.tcodes[s*2*ix.twords:(s+1)*2*ix.twords], ix.tcodes[last*2*ix.twords:])
		ix.tscale[s] = ix.tscale[last]
		ix.groups[s] = ix.groups[last]
		ix.spans[s] = ix.spans[last]
		ix.ids[s] = ix.ids[last]
		slot[ix.ids[s]] = s
	}
	ix.ids[last] = "" // let the string be collected
	ix.vecs = ix.vecs[:last*ix.dims]
	ix.frest = ix.frest[:last]
	ix.codes = ix.codes[:last*ix.stride]
	ix.cmeta = ix.cmeta[:last]
	ix.tcodes = ix.tcodes[:last*2*ix.twords]
	ix.tscale = ix.tscale[:last]
	ix.groups = ix.groups[:last]
	ix.spans = ix.spans[:last]
	ix.ids = ix.ids[:last]
	return true
}

// MemoryBytes estimates the heap held by the index: the slabs at their
// capacity, the ids, and the map entries.
func (ix *Index) MemoryBytes() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	const (
		stringHeader = 16
		mapEntry     = 48 // key header, value, hash-table overhead; an estimate
	)
	n := cap(ix.vecs)*4 + cap(ix.frest)*int(unsafe.Sizeof([maxCuts]float32{})) +
		cap(ix.codes) + cap(ix.cmeta)*int(unsafe.Sizeof(codeMeta{})) + cap(ix.tcodes)*8 + cap(ix.tscale)*4 +
		cap(ix.groups)*4 + cap(ix.spans)*int(unsafe.Sizeof(span{})) + cap(ix.ids)*stringHeader
	for _, id := range ix.ids {
		n += len(id)
	}
	return n + len(ix.slot)*mapEntry + len(ix.groupOf)*mapEntry
}

// invNorm returns 1/|v|, or ErrInvalidVector if v has no finite direction.
func invNorm(v []float32) (float64, error) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
		return 0, ErrInvalidVector
	}
	return 1 / math.Sqrt(ss), nil
}

// restNorms returns |v| over v[cut:] for each cut.
func restNorms(v []float32, cuts []int) [maxCuts]float32 {
	var out [maxCuts]float32
	for j, cut := range cuts {
		var ss float64
		for _, x := range v[cut:] {
			ss += float64(x) * float64(x)
		}
		out[j] = float32(math.Sqrt(ss))
	}
	return out
}
