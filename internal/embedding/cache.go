package embedding

import (
	"container/list"
	"context"
	"crypto/sha256"
	"sync"
)

// DefaultQueryCacheSize is the number of query vectors NewQueryCache keeps
// when given a size <= 0.
const DefaultQueryCacheSize = 256

// QueryCache remembers the vectors of recent search queries, so an agent
// asking the same thing on every turn costs one model call, not one per
// turn. It is an LRU keyed by the query text and the model (the Provider
// and Model of e's Info, when e is a Describer), holding at most size
// vectors. It is safe for concurrent use.
//
// QueryCache is itself an Embedder: EmbedQuery is cached, Embed (text to
// store, embedded once per memory) goes straight to e, and Info is e's.
// Wire it where retrieval expects its Embedder:
//
//	e := embedding.NewQueryCache(jinaEmbedder, 512)
//	vecs, err := embedding.EmbedQuery(ctx, e, []string{"what editor does the user like?"})
//
// There is no expiry: a model gives the same vector for the same text, so
// an old entry is as good as a new one. Failed calls are not cached.
type QueryCache struct {
	e    Embedder
	size int

	mu      sync.Mutex
	order   *list.List                 // of *cacheEntry, most recently used first
	entries map[cacheKey]*list.Element // into order
	hits    uint64
	misses  uint64
}

// cacheKey is a SHA-256 of model and text: entries stay small whatever the
// query length, and a key cannot be confused across models.
type cacheKey [sha256.Size]byte

type cacheEntry struct {
	key cacheKey
	vec []float32
}

var (
	_ Embedder      = (*QueryCache)(nil)
	_ QueryEmbedder = (*QueryCache)(nil)
	_ Describer     = (*QueryCache)(nil)
)

// NewQueryCache wraps e with an LRU of size query vectors; size <= 0
// selects DefaultQueryCacheSize.
func NewQueryCache(e Embedder, size int) *QueryCache {
	if size <= 0 {
		size = DefaultQueryCacheSize
	}
	return &QueryCache{e: e, size: size, order: list.New(), entries: make(map[cacheKey]*list.Element)}
}

// CacheStats counts a QueryCache's lookups since it was made.
type CacheStats struct {
	Hits   uint64 // query texts served from the cache
	Misses uint64 // query texts that needed the model
	Len    int    // vectors held now
	Size   int    // most vectors it will hold
}

// Stats reports hits, misses and occupancy.
func (c *QueryCache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Len: c.order.Len(), Size: c.size}
}

// Info is the wrapped Embedder's Info, or the zero Info when it is not a
// Describer.
func (c *QueryCache) Info() Info {
	if d, ok := c.e.(Describer); ok {
		return d.Info()
	}
	return Info{}
}

// Embed embeds text to store. It is not cached: each memory is embedded
// once, and caching documents would only push queries out.
func (c *QueryCache) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return c.e.Embed(ctx, texts)
}

// EmbedQuery returns one vector per query text, from the cache where it
// can and otherwise from one call to the wrapped Embedder's EmbedQuery (or
// Embed; see [EmbedQuery]) for all the texts it lacks, each once. Every
// text counts as one hit or one miss. The vectors returned are the
// caller's to keep or modify.
func (c *QueryCache) EmbedQuery(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	model := c.modelKey()
	keys := make([]cacheKey, len(texts))
	for i, t := range texts {
		keys[i] = keyFor(model, t)
	}
	out := make([][]float32, len(texts))
	var missing []string        // distinct texts to embed
	var missingAt map[int][]int // index in missing -> indexes in texts
	firstMiss := map[cacheKey]int{}

	c.mu.Lock()
	for i, t := range texts {
		if el, ok := c.entries[keys[i]]; ok {
			c.order.MoveToFront(el)
			out[i] = clone(el.Value.(*cacheEntry).vec)
			c.hits++
			continue
		}
		c.misses++
		if missingAt == nil {
			missingAt = map[int][]int{}
		}
		j, seen := firstMiss[keys[i]]
		if !seen {
			j = len(missing)
			firstMiss[keys[i]] = j
			missing = append(missing, t)
		}
		missingAt[j] = append(missingAt[j], i)
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}

	// The model call runs unlocked: a slow provider must not hold up hits.
	// Two callers missing the same text at once both ask the model; the
	// second store just refreshes the entry.
	vecs, err := EmbedQuery(ctx, c.e, missing)
	if err != nil {
		return nil, err
	}
	if err := CheckVectors(vecs, len(missing), 0); err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for j, v := range vecs {
		idx := missingAt[j]
		c.store(keys[idx[0]], clone(v))
		for _, i := range idx {
			out[i] = clone(v)
		}
	}
	return out, nil
}

// store adds or refreshes an entry and evicts the least recently used
// beyond size. c.mu must be held.
func (c *QueryCache) store(key cacheKey, vec []float32) {
	if el, ok := c.entries[key]; ok {
		el.Value.(*cacheEntry).vec = vec
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, vec: vec})
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

// modelKey names the model whose vectors the cache holds now. Dimensions
// are left out: a remote model's are 0 until its first reply, and a change
// of model shows in Provider or Model.
func (c *QueryCache) modelKey() string {
	info := c.Info()
	return info.Provider + "\x00" + info.Model
}

func keyFor(model, text string) cacheKey {
	h := sha256.New()
	h.Write([]byte(model))
	h.Write([]byte{0})
	h.Write([]byte(text))
	var k cacheKey
	h.Sum(k[:0])
	return k
}

func clone(v []float32) []float32 { return append([]float32(nil), v...) }
