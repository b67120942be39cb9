package retrieve

import (
	"context"
	"fmt"
	"math"

	"github.com/viterin/vek/vek32"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/vecindex"
)

// MaxLimit bounds Request.Limit.
const MaxLimit = 100

// Retriever answers recall requests. It keeps every vector of the store in
// memory (a float32 slab with an int8 copy for the first pass) and catches
// up with writes from any process before each search, by change sequence.
// Safe for concurrent use.
type Retriever struct {
	st   store.Searcher
	emb  embedding.Embedder
	rr   Reranker // nil: no cross-encoder
	opts Options
	// embName names the embedder in the floor's reasons.
	embName string

	mu     sync.Mutex // guards the catch-up below; searches read ix under its own lock
	ix     *vecindex.Index
	seq    int64
	groups map[groupKey]uint32
	// key is the store.VectorState.Key the index is of (stores with an
	// index file); a new key means a new index (indexfile.go).
	key string
	// fileSeq is the seq of the index file this process last read or
	// wrote (0: none), sinceFile the vectors changed since, saving
	// whether a search is writing it, fileWarn what to tell the next
	// search about a file that could not be used.
	fileSeq   int64
	sinceFile int
	saving    bool
	fileWarn  string
	// saves counts index file writes under way (in the background);
	// closed stops new ones (Close).
	saves  sync.WaitGroup
	closed bool

	// server is set once the store said it searches vectors itself
	// (store.VectorSearcher with ServerVectors true): then no index is
	// loaded here. serverChecked says it answered.
	server        store.VectorSearcher
	serverChecked bool
}

// serverVectors returns the store as a store.VectorSearcher when it
// searches vectors on its server (PostgreSQL with pgvector), nil when the
// retriever keeps its own index. The store is asked once; a failed
// question is asked again by the next search.
func (r *Retriever) serverVectors(ctx context.Context) store.VectorSearcher {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.serverChecked {
		return r.server
	}
	vs, ok := r.st.(store.VectorSearcher)
	if !ok || r.opts.NoServerVectors {
		r.serverChecked = true
		return nil
	}
	on, _, err := vs.ServerVectors(ctx)
	if err != nil {
		return nil
	}
	r.serverChecked = true
	if on {
		r.server = vs
	}
	return r.server
}

// serverCandidateVectors gives candidates their vectors from the store
// when its server searches the vectors (no index here to read them
// from), so that candidates found by text get a cosine too and near
// duplicates are found. On failure they go without, as with no vectors.
func (r *Retriever) serverCandidateVectors(ctx context.Context, eff memory.Access, cands []*candidate) {
	r.mu.Lock()
	sv := r.server
	r.mu.Unlock()
	if sv == nil || len(cands) == 0 {
		return
	}
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = c.mem.ID
	}
	vecs, err := sv.Vectors(ctx, eff, ids)
	if err != nil {
		return
	}
	for _, c := range cands {
		if v, ok := vecs[c.mem.ID]; ok {
			c.vec = unit(v)
		}
	}
}

// unit returns v scaled to unit length (v itself when it is zero).
func unit(v []float32) []float32 {
	n := math.Sqrt(float64(vek32.Dot(v, v)))
	if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return v
	}
	return vek32.MulNumber(v, float32(1/n))
}

// groupKey is what the vector index filters on: a row's scope, storage
// category and memory_category (the six-category one).
type groupKey struct {
	scope    memory.Scope
	category memory.Category
	smart    memory.SmartCategory
}

// Reranker is the cross-encoder retrieval needs: the relevance of each
// document to the query, scores[i] for docs[i], higher is more relevant
// (most models give 0 to 1). The vendors live under internal/provider.
// Implementations must be safe for concurrent use.
type Reranker interface {
	Rerank(ctx context.Context, query string, docs []string) ([]float64, error)
}

// New returns a Retriever. rr may be nil. Unless opts.MinCosine is set,
// the relevance floor's cosine comes from what emb says it is
// (DefaultMinCosine).
func New(st store.Searcher, emb embedding.Embedder, rr Reranker, opts Options) *Retriever {
	var info embedding.Info
	if d, ok := emb.(embedding.Describer); ok {
		info = d.Info()
	}
	opts = opts.withDefaults()
	if opts.MinCosine == 0 {
		opts.MinCosine = DefaultMinCosine(info)
	}
	name := "model " + info.Model
	switch {
	case info.Provider == "hash" || info.Model == embedding.HashModel:
		name = "the hash embedder"
	case info.Model == "":
		name = "an embedder of unknown quality"
	}
	return &Retriever{st: st, emb: emb, rr: rr, opts: opts, embName: name, groups: map[groupKey]uint32{}}
}

// Search runs the whole pipeline for one request.
func (r *Retriever) Search(ctx context.Context, acc memory.Access, req Request) (Response, error) {
	q := strings.TrimSpace(req.Query)
	switch {
	case q == "":
		return Response{}, memory.Invalidf("query is empty: say what to recall")
	case !utf8.ValidString(q) || strings.ContainsRune(q, 0):
		return Response{}, memory.Invalidf("query is not clean UTF-8 text")
	case len(q) > memory.MaxTextBytes:
		return Response{}, memory.Invalidf("query is %d bytes, over the %d-byte limit", len(q), memory.MaxTextBytes)
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 5
	}
	if limit > MaxLimit {
		return Response{}, memory.Invalidf("limit %d is over %d", limit, MaxLimit)
	}
	opts := r.opts
	if req.MinScore != nil {
		if err := CheckMinScore(*req.MinScore); err != nil {
			return Response{}, err
		}
		opts.MinScore, opts.minScoreSet = *req.MinScore, true
	}
	if req.RerankTimeout > 0 && req.RerankTimeout < opts.RerankTimeout {
		opts.RerankTimeout = req.RerankTimeout
	}
	eff, ignored := acc.Narrow(req.Scopes)
	resp := Response{IgnoredScopes: ignored, Results: []Result{}}
	at := activeAt(req, opts.Now)
	if !eff.All() && len(eff.List()) == 0 {
		return resp, nil // nothing the caller may read was asked for
	}

	// Candidates: vector and BM25 at the same time.
	// Each side also loads its own rows (through the caller's access once
	// more: the SQL enforces scopes on this path too), so that reading
	// them overlaps as well.
	debug := req.Debug
	ex := newExplainer(debug, r)
	var vecHits []vecindex.Hit
	var textHits []store.TextHit
	var vecRows, textRows []memory.Memory
	var qvec []float32
	var vecErr, textErr error
	var vecTook, textTook time.Duration
	var exp expansionOut
	vecK, textK := pool(r.opts.VectorK, limit), pool(r.opts.BM25K, limit)
	var wg sync.WaitGroup
	if !r.opts.DisableVector {
		wg.Go(func() {
			start := time.Now()
			if vecHits, qvec, vecErr = r.vectorCandidates(ctx, eff, req.Categories, req.MemoryCategories, at, q, req.Vector, vecK); vecErr == nil {
				vecRows, vecErr = r.st.GetMany(ctx, eff, idsOf(vecHits, func(h vecindex.Hit) string { return h.ID }))
			}
			if vecErr != nil {
				vecHits = nil // the warning says so: no vector scores at all
			}
			vecTook = time.Since(start)
		})
	}
	if !r.opts.DisableBM25 {
		wg.Go(func() {
			start := time.Now()
			f := store.Filter{Categories: req.Categories, MemoryCategories: req.MemoryCategories, ActiveAt: at}
			if textHits, textErr = r.st.SearchText(ctx, eff, f, q, textK); textErr == nil {
				textRows, textErr = r.st.GetMany(ctx, eff, idsOf(textHits, func(h store.TextHit) string { return h.ID }))
			}
			if textErr == nil && r.opts.Expansion.Enabled {
				textHits, textRows, exp = r.expand(ctx, eff, f, q, textHits, textRows, textK)
			}
			if textErr != nil {
				textHits = nil
			}
			textTook = time.Since(start)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return resp, ctx.Err()
	}
	if w := r.takeFileWarning(); w != "" {
		resp.Warnings = append(resp.Warnings, w)
	}
	switch {
	case vecErr != nil && textErr != nil:
		return resp, fmt.Errorf("%w: recall failed: vector search: %v; text search: %v", memory.ErrUnavailable, vecErr, textErr)
	case vecErr != nil:
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("vector search unavailable (%v): results come from BM25 text search only", vecErr))
	case textErr != nil:
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("text search unavailable (%v): results come from vector search only", textErr))
	}
	if exp.err != nil {
		resp.Warnings = append(resp.Warnings, expansionWarning(exp.err))
	}
	if ex != nil {
		ex.list("lexical", textK, bm25s(textHits), textTook, sideNote(r.opts.DisableBM25, textErr, exp))
		ex.list("vector", vecK, cosines(vecHits), vecTook, sideNote(r.opts.DisableVector, vecErr, expansionOut{}))
	}

	cands := r.collect(at, vecHits, textHits, vecRows, textRows)
	if vecErr == nil && qvec != nil {
		r.serverCandidateVectors(ctx, eff, cands)
	}
	for _, c := range cands {
		c.expanded = exp.added[c.mem.ID]
	}
	if vecErr == nil && qvec != nil {
		fillCosines(cands, qvec)
	}
	switch r.opts.Fusion {
	case FusionRRF:
		fuseRRF(cands, r.opts.RRFK, r.weights(), debug)
	default:
		fuseSeed(cands, r.weights(), debug)
	}
	ex.stage("fusion", len(vecHits)+len(textHits), cands, "")
	var floored []*candidate
	if !r.opts.DisableFloor {
		// Before the reranker: its slots go to candidates that can be shown.
		n := len(cands)
		applyFloor(cands, termsOf(q), r.opts.MinCosine, r.embName, debug)
		ex.stage("floor", n, cands, "")
		cands, floored = splitDropped(cands)
	} else {
		ex.stage("floor", len(cands), cands, "disabled")
	}
	sortByScore(cands)
	if r.rr != nil && len(cands) > 0 {
		if w := r.rerank(ctx, q, cands, opts.RerankTimeout, debug); w != "" {
			resp.Warnings = append(resp.Warnings, w)
		}
		sortByScore(cands)
		ex.stage("rerank", len(cands), cands, "the best %d sent", min(len(cands), r.opts.RerankTopN))
	} else {
		ex.stage("rerank", len(cands), cands, "no cross-encoder configured")
	}
	now := opts.Now()
	n := len(cands)
	scoreRelevance(cands, opts, now, debug)
	ex.stage("score", n, cands, "recency, importance, length; minimum %.2f", opts.MinScore)
	n = live(cands)
	applyDecay(cands, opts, now, debug)
	ex.stage("decay", n, cands, "")
	// The noise check works on each text (folding, splitting, patterns), so
	// without --debug it runs only on candidates that can still be shown:
	// in score order, until the head dedup looks at is clean, and again
	// for the final cut. --debug checks all, to say why each was dropped.
	noise := !r.opts.DisableNoise
	if noise && debug {
		n = live(cands)
		filterNoise(cands, debug)
		ex.stage("noise", n, cands, "")
	}
	cands, dropped := splitDropped(cands)
	dropped = append(floored, dropped...)
	sortByScore(cands)
	if noise && !debug {
		cands = dropNoise(cands, 4*limit)
	}
	if !r.opts.DisableDedup {
		// Only the head can reach the results: demotion only lowers scores,
		// so comparing the tail (O(n²) cosines) would change nothing shown.
		demoteDuplicates(cands[:min(len(cands), 4*limit)], r.opts, debug)
		ex.stage("dedup", len(cands), cands, "the best %d compared; a near-duplicate is demoted, not dropped", min(len(cands), 4*limit))
	}
	sortByScore(cands)
	if noise && !debug {
		cands = dropNoise(cands, limit)
	}
	n = len(cands)
	if len(cands) > limit {
		for _, c := range cands[limit:] {
			c.drop = fmt.Sprintf("below the top %d", limit)
		}
		dropped = append(dropped, cands[limit:]...)
		cands = cands[:limit]
	}
	ex.stage("limit", n, cands, "top %d", limit)
	for _, c := range cands {
		resp.Results = append(resp.Results, c.result(debug))
	}
	if debug {
		for _, c := range dropped {
			resp.Dropped = append(resp.Dropped, c.result(true))
		}
	}
	resp.Explain = ex.result(exp.terms)
	return resp, nil
}

// sideNote says, for the explanation, why a candidate list is empty or
// what it added.
func sideNote(disabled bool, err error, exp expansionOut) string {
	switch {
	case disabled:
		return "disabled"
	case err != nil:
		return "failed: " + err.Error()
	case exp.err != nil:
		return "expansion failed: " + exp.err.Error()
	case len(exp.terms) > 0:
		return fmt.Sprintf("with %d expansion terms; %d hits found through them only", len(exp.terms), len(exp.added))
	}
	return ""
}

func (r *Retriever) weights() weights { return weights{r.opts.VectorWeight, r.opts.BM25Weight} }

// activeAt is the time a request recalls rows active at (store.Filter's
// ActiveAt): its AsOf, else now; 0 (no validity filter) with
// IncludeHistory.
func activeAt(req Request, now func() time.Time) int64 {
	switch {
	case req.IncludeHistory:
		return 0
	case req.AsOf != 0:
		return req.AsOf
	}
	return now().UnixMilli()
}

// vectorCandidates embeds the query, within QueryEmbedTimeout, and
// searches the in-memory index, filtered to the caller's scopes and to
// rows active at at (0: all).
func (r *Retriever) vectorCandidates(ctx context.Context, eff memory.Access, cats []memory.Category, smart []memory.SmartCategory, at int64, q string, given []float32, k int) ([]vecindex.Hit, []float32, error) {
	vs := [][]float32{given}
	if len(given) == 0 {
		ectx, cancel := context.WithTimeout(ctx, r.opts.QueryEmbedTimeout)
		var err error
		vs, err = embedding.EmbedQuery(ectx, r.emb, []string{q})
		cancel()
		if err == nil {
			err = embedding.CheckVectors(vs, 1, 0)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("query embedding failed: %w", err)
		}
	}
	if sv := r.serverVectors(ctx); sv != nil {
		found, err := sv.VectorSearch(ctx, eff, store.Filter{Categories: cats, MemoryCategories: smart, ActiveAt: at}, vs[0], k)
		if err != nil {
			return nil, nil, err
		}
		hits := make([]vecindex.Hit, len(found))
		for i, h := range found {
			hits[i] = vecindex.Hit{ID: h.ID, Score: float32(h.Score)}
		}
		return hits, vs[0], nil
	}
	if err := r.sync(ctx); err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	ix := r.ix
	groups := r.groupsFor(eff, cats, smart)
	r.mu.Unlock()
	if ix == nil {
		return nil, nil, nil // no vectors stored yet
	}
	hits, err := ix.Search(vs[0], vecindex.SearchOptions{K: k, Groups: groups, ActiveAt: at})
	return hits, vs[0], err
}

// horizoner is a store that prunes the deletions of its change feed:
// TombstoneHorizon is the position below which they may be gone.
type horizoner interface {
	TombstoneHorizon(ctx context.Context) (int64, error)
}

// groupsFor lists the index groups a request may see. Caller holds r.mu.
func (r *Retriever) groupsFor(eff memory.Access, cats []memory.Category, smart []memory.SmartCategory) []uint32 {
	var out []uint32
	for k, g := range r.groups {
		if eff.Allows(k.scope) && (len(cats) == 0 || slices.Contains(cats, k.category)) &&
			(len(smart) == 0 || slices.Contains(smart, k.smart)) {
			out = append(out, g)
		}
	}
	return out
}

// sync brings the vector index up to the store's last commit: a query never
// misses a row whose commit finished before the query started. The check
// is one indexed read; catching up reads only what changed. A store with
// an index file (vectorStater) starts a process's index from it, and gets
// it rewritten when enough has changed (indexfile.go).
func (r *Retriever) sync(ctx context.Context) error {
	st, err := r.state(ctx)
	if err != nil {
		return err
	}
	save, err := r.syncLocked(ctx, st)
	if save != nil {
		// In the background: neither this search nor any other waits for
		// the disk (Close waits for it, for a process about to exit).
		go save()
	}
	return err
}

// syncLocked is sync under r.mu; it returns the write of the index file
// to run once r.mu is released, if one is due.
func (r *Retriever) syncLocked(ctx context.Context, st store.VectorState) (save func(), err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ix != nil && st.Seq == r.seq && st.Key == r.key {
		return nil, nil
	}
	// A switch of model between reading st and reading the changes would
	// mix two models' vectors (it keeps the rows' seq): the key is read
	// again after them, and the load is redone if it moved.
	for range 3 {
		if st.Key != r.key {
			r.ix, r.seq, r.key, r.fileSeq = nil, 0, st.Key, 0
			if vs, ok := r.st.(vectorStater); ok && st.File != "" && !r.opts.NoIndexFile {
				r.fileWarn = r.loadFile(ctx, vs, st)
			}
		}
		if err := r.catchUp(ctx); err != nil {
			return nil, err
		}
		after, err := r.state(ctx)
		if err != nil {
			return nil, err
		}
		if after.Key == r.key {
			return r.saveDue(after), nil
		}
		st = after
	}
	return nil, fmt.Errorf("the store's embedding model changed during the search three times: search again")
}

// state reads the store's change seq and, where it has one, its vector
// state (store.VectorState).
func (r *Retriever) state(ctx context.Context) (store.VectorState, error) {
	if vs, ok := r.st.(vectorStater); ok && !r.opts.NoIndexFile {
		return vs.VectorState(ctx)
	}
	seq, err := r.st.ChangeSeq(ctx)
	return store.VectorState{Seq: seq}, err
}

// catchUp applies the changes after r.seq to the index. Caller holds r.mu.
func (r *Retriever) catchUp(ctx context.Context) error {
	ch, err := r.st.VectorChanges(ctx, r.seq)
	if err != nil {
		return err
	}
	if h, ok := r.st.(horizoner); ok && r.seq > 0 {
		// Read after the changes: the horizon only grows, so one at or
		// below our position now was also when the changes were read.
		horizon, err := h.TombstoneHorizon(ctx)
		if err != nil {
			return err
		}
		if r.seq < horizon {
			// Deletions after our position were pruned and cannot be
			// replayed: load every vector again.
			if ch, err = r.st.VectorChanges(ctx, 0); err != nil {
				return err
			}
			r.ix, r.fileSeq = nil, 0
		}
	}
	for _, id := range ch.Deleted {
		if r.ix != nil {
			r.ix.Delete(id)
		}
	}
	items := make([]vecindex.Item, len(ch.Upserts))
	for i, row := range ch.Upserts {
		k := groupKey{row.Scope, row.Category, row.SmartCategory}
		g, ok := r.groups[k]
		if !ok {
			g = uint32(len(r.groups))
			r.groups[k] = g
		}
		items[i] = vecindex.Item{ID: row.ID, Group: g, Vec: row.Vector, From: row.ValidFrom, Until: validEnd(row)}
	}
	if len(items) > 0 {
		if r.ix == nil {
			r.ix = vecindex.New(len(items[0].Vec))
			r.ix.Grow(len(items))
		}
		if err := r.ix.UpsertMany(items); err != nil {
			return fmt.Errorf("index memory %w", err)
		}
	}
	r.seq = ch.Seq
	r.sinceFile += len(ch.Deleted) + len(items)
	return nil
}

// validEnd is when a row stops being active: the earliest of its
// invalidation, its expiry and its archiving that it has, 0 for none
// (vecindex's Until), as memory.ActiveAt reads them.
func validEnd(row store.VectorRow) int64 {
	var end int64
	for _, t := range []int64{row.InvalidatedAt, row.ValidUntil, row.ArchivedAt} {
		if t != 0 && (end == 0 || t < end) {
			end = t
		}
	}
	return end
}

// fillCosines gives a candidate only BM25 found its cosine to the query,
// from the vector the index holds for it. The seed's fusion takes the
// vector score as the base, and without this a row that BM25 and the
// vector search both found (0.7·v + 0.3·b) could rank below one only BM25
// found (b), however far from the query its meaning; with it, the vector
// side tells BM25's hits apart (BenchmarkRecallQuality and its 10k
// distractor variant measure the effect; DESIGN.md has the figures).
// Sources still name only the signals that found a memory.
func fillCosines(cands []*candidate, q []float32) {
	qq := float64(vek32.Dot(q, q))
	if qq == 0 || math.IsNaN(qq) || math.IsInf(qq, 0) {
		return
	}
	inv := 1 / math.Sqrt(qq)
	for _, c := range cands {
		if c.cos == nil && len(c.vec) == len(q) {
			cos := float64(vek32.Dot(c.vec, q)) * inv // c.vec is unit length
			c.cos, c.cosFilled = &cos, true
		}
	}
}

// pool is a candidate list's length: the configured one, or by default
// 20 or twice the limit, whichever is more. Candidates far down either
// list are rarely what a query wants and mostly crowd the fused ranking,
// more so among many distractors (DESIGN.md has the measured effect).
func pool(configured, limit int) int {
	if configured > 0 {
		return configured
	}
	return max(20, 2*limit)
}

func idsOf[H any](hits []H, id func(H) string) []string {
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = id(h)
	}
	return ids
}

// collect merges the two candidate lists and their rows. A hit whose row
// is gone (deleted since the index or FTS saw it) is left out, and so is
// one whose row, as read, is not active at at (when at is not 0): both
// searches filter by validity already, and this covers a row that a
// write invalidated between the search and the read of its row.
func (r *Retriever) collect(at int64, vh []vecindex.Hit, th []store.TextHit, rows ...[]memory.Memory) []*candidate {
	by := map[string]*candidate{}
	var order []*candidate
	get := func(id string) *candidate {
		c, ok := by[id]
		if !ok {
			c = &candidate{}
			by[id] = c
			order = append(order, c)
		}
		return c
	}
	for _, h := range vh {
		cos := float64(h.Score)
		get(h.ID).cos = &cos
	}
	for _, h := range th {
		b := bm25Score(h.Score)
		get(h.ID).bm25 = &b
	}
	for _, ms := range rows {
		for _, m := range ms {
			if at != 0 && !memory.ActiveAt(m, at) {
				continue
			}
			if c := by[m.ID]; c != nil && c.mem.ID == "" {
				c.mem = m
			}
		}
	}
	r.mu.Lock()
	ix := r.ix
	r.mu.Unlock()
	out := make([]*candidate, 0, len(order))
	for _, c := range order {
		if c.mem.ID == "" {
			continue
		}
		if ix != nil {
			c.vec, _ = ix.Vector(c.mem.ID)
		}
		out = append(out, c)
	}
	return out
}

// rerank sends the best fused candidates to the cross-encoder and blends;
// on failure (or no answer within timeout) it falls back and returns a
// warning.
func (r *Retriever) rerank(ctx context.Context, q string, cands []*candidate, timeout time.Duration, debug bool) string {
	n := min(len(cands), r.opts.RerankTopN)
	top := cands[:n]
	docs := make([]string, n)
	for i, c := range top {
		docs[i] = c.mem.Text
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := r.rr.Rerank(rctx, q, docs)
	if err == nil {
		err = checkScores(res, n)
	}
	if err != nil {
		blendFallback(top, debug)
		return fmt.Sprintf("rerank failed (%v): used the fallback blend with cosine", err)
	}
	scores := make(map[*candidate]float64, n)
	for i, s := range res {
		scores[top[i]] = s
	}
	blendRerank(top, scores, debug)
	return ""
}

// checkScores holds any Reranker to its contract: one finite score per
// document. The provider packages check their replies already; this keeps
// a reranker that does not from corrupting the order.
func checkScores(scores []float64, n int) error {
	if len(scores) != n {
		return fmt.Errorf("got %d scores for %d documents", len(scores), n)
	}
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return fmt.Errorf("document %d has a non-finite score %v", i, s)
		}
	}
	return nil
}

func sortByScore(cs []*candidate) {
	slices.SortStableFunc(cs, func(a, b *candidate) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return strings.Compare(a.mem.ID, b.mem.ID)
	})
}

func splitDropped(cs []*candidate) (kept, dropped []*candidate) {
	for _, c := range cs {
		if c.drop != "" {
			dropped = append(dropped, c)
		} else {
			kept = append(kept, c)
		}
	}
	return kept, dropped
}

func (c *candidate) result(debug bool) Result {
	res := Result{Memory: c.mem, Score: c.score, Sources: Sources{BM25: c.bm25, Rerank: c.rerank}}
	if !c.cosFilled {
		res.Sources.Vector = c.cos
	}
	res.Memory.Vector = nil
	if debug {
		res.Trace = &Trace{Stages: c.trace, Dropped: c.drop, Components: Components{
			Lexical: c.bm25, Expanded: c.expanded, Vector: c.cos, VectorFromIndex: c.cosFilled,
			Fused: c.fused, Rerank: c.rerank, Lifecycle: c.lifecycle,
		}}
	}
	return res
}
