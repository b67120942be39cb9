package reembed

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// ProbeText is embedded once per process and per model to tell models
// apart by their vectors, not only by their names.
const ProbeText = "trove embedding probe: the quick brown fox jumps over the lazy dog"

// MinProbeCosine is how close two probe vectors must be to count as one
// model: API vectors are not bit-stable from call to call.
const MinProbeCosine = 0.99

// IdentityStore is what the guard needs of a store.
type IdentityStore interface {
	Identity(ctx context.Context) (store.Identity, error)
	RecordProbe(ctx context.Context, sp store.Space, probe []float32) error
}

// MismatchError is a process configured with a model the store's vectors
// do not come from. It wraps memory.ErrDimensions.
type MismatchError struct {
	Store, Configured store.Space
	Cosine            float64 // of the probes, when the names agree
}

func (e *MismatchError) Error() string {
	if e.Store.Model == e.Configured.Model {
		return fmt.Sprintf("the store's vectors come from %s, and this trove's embedder by that name gives other vectors (probe cosine %.3f, under %.2f): mixing them would make search wrong. Check TROVE_EMBED_* (dimensions, base URL), or move the store to this embedder with trove reembed --provider P --model M",
			describe(e.Store), e.Cosine, MinProbeCosine)
	}
	return fmt.Sprintf("the store's vectors come from %s, but this trove is configured for %s: set TROVE_EMBED_PROVIDER/TROVE_EMBED_MODEL to the store's model, or move the store to the new one with trove reembed --provider P --model M",
		describe(e.Store), describe(e.Configured))
}

func (e *MismatchError) Unwrap() error { return memory.ErrDimensions }

// MovedError is a process configured with the model a reembed moved the
// store away from. Its writes go in without a vector (pending) and its
// searches are lexical, until it restarts with the store's model.
type MovedError struct {
	From, To store.Space
}

func (e *MovedError) Error() string {
	return fmt.Sprintf("the store moved from %s to %s (trove reembed): this process writes without vectors and searches text only; restart it with the new model's settings (TROVE_EMBED_PROVIDER, TROVE_EMBED_MODEL, TROVE_EMBED_DIMENSIONS for %s)",
		describe(e.From), describe(e.To), describe(e.To))
}

func (e *MovedError) Unwrap() error { return memory.ErrDimensions }

func describe(sp store.Space) string {
	if sp.Dimensions == 0 {
		return sp.Model
	}
	return fmt.Sprintf("%s (%d dimensions)", sp.Model, sp.Dimensions)
}

// Guard is an embedder that checks, before it embeds, that the store's
// vectors come from its model: lazily (a process that embeds nothing
// calls no provider), the probe once per process, the model's name on
// every call (one read of the store's meta), so a long-running process
// notices a switch made by another.
type Guard struct {
	st   IdentityStore
	want store.Space
	emb  embedding.Embedder

	mu      sync.Mutex
	checked bool // the probe was compared (or recorded)
}

// NewGuard guards emb, which embeds in space want.
func NewGuard(st IdentityStore, want store.Space, emb embedding.Embedder) *Guard {
	return &Guard{st: st, want: want, emb: emb}
}

var (
	_ embedding.Embedder  = (*Guard)(nil)
	_ embedding.Describer = (*Guard)(nil)
)

// Info is the guarded embedder's model: callers that judge vectors by
// their model (migrate keeping a source's vectors, import checking
// dimensions, recall's relevance floor) see through the guard.
func (g *Guard) Info() embedding.Info {
	if d, ok := g.emb.(embedding.Describer); ok {
		return d.Info()
	}
	return embedding.Info{Model: g.want.Model, Dimensions: g.want.Dimensions}
}

// Embed checks the store's identity, then embeds.
func (g *Guard) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := g.Check(ctx); err != nil {
		return nil, err
	}
	return g.emb.Embed(ctx, texts)
}

// Wrap returns an embedder that checks as g does and embeds with inner
// (a query cache over the same model), sharing g's probe check.
func (g *Guard) Wrap(inner embedding.Embedder) embedding.Embedder {
	return wrapped{g, inner}
}

type wrapped struct {
	g     *Guard
	inner embedding.Embedder
}

func (w wrapped) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := w.g.Check(ctx); err != nil {
		return nil, err
	}
	return w.inner.Embed(ctx, texts)
}

// EmbedQuery keeps the inner embedder's query form (a task hint, the
// query cache) behind the check.
func (w wrapped) EmbedQuery(ctx context.Context, texts []string) ([][]float32, error) {
	if err := w.g.Check(ctx); err != nil {
		return nil, err
	}
	return embedding.EmbedQuery(ctx, w.inner, texts)
}

// Info says which model the inner embedder is, so recall can judge what
// its cosines are worth (the relevance floor).
func (w wrapped) Info() embedding.Info {
	if d, ok := w.inner.(embedding.Describer); ok {
		return d.Info()
	}
	return embedding.Info{}
}

// Check returns nil when vectors of g's model may be written to the
// store, *MovedError when the store moved away from it, *MismatchError
// when the store's vectors come from another model.
func (g *Guard) Check(ctx context.Context) error {
	id, err := g.st.Identity(ctx)
	if err != nil {
		return err
	}
	switch {
	case id.Model == "":
		return nil // nothing recorded: the first vector records g's model
	case id.Model != g.want.Model || g.want.Dimensions != 0 && id.Dimensions != g.want.Dimensions:
		if id.Previous.Model == g.want.Model {
			return &MovedError{From: id.Previous, To: id.Space}
		}
		return &MismatchError{Store: id.Space, Configured: g.want}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.checked {
		return nil
	}
	vs, err := g.emb.Embed(ctx, []string{ProbeText})
	if err == nil {
		err = embedding.CheckVectors(vs, 1, 0)
	}
	if err != nil {
		return err
	}
	switch {
	case id.Probe == nil:
		// A store from before probes, or whose first vector came without
		// one: record ours (best effort: a read-only store keeps none).
		_ = g.st.RecordProbe(ctx, id.Space, vs[0])
	case len(id.Probe) != len(vs[0]):
		return &MismatchError{Store: id.Space, Configured: store.Space{Model: g.want.Model, Dimensions: len(vs[0])}}
	default:
		if c := Cosine(id.Probe, vs[0]); c < MinProbeCosine {
			return &MismatchError{Store: id.Space, Configured: g.want, Cosine: c}
		}
	}
	g.checked = true
	return nil
}

// Cosine is the cosine of two vectors of one length (0 if either is zero).
func Cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}
