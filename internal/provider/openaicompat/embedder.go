package openaicompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/trove-memory/trove/internal/embedding"
)

// Embedder calls POST {BaseURL}/embeddings. It is safe for concurrent use.
type Embedder struct {
	c *client

	mu   sync.Mutex
	dims int // vector length: Config.Dimensions, or learnt from the first reply
}

var (
	_ embedding.Embedder  = (*Embedder)(nil)
	_ embedding.Describer = (*Embedder)(nil)
)

// NewEmbedder validates cfg and returns an Embedder. No request is made
// until the first Embed.
func NewEmbedder(cfg Config) (*Embedder, error) {
	c, err := newClient(cfg, opEmbeddings, "embeddings", maxEmbeddingsReply)
	if err != nil {
		return nil, err
	}
	return &Embedder{c: c, dims: c.cfg.Dimensions}, nil
}

// Info reports the provider, model and dimensions. Dimensions is 0 until
// the first reply when Config.Dimensions was not set.
func (e *Embedder) Info() embedding.Info {
	e.mu.Lock()
	defer e.mu.Unlock()
	return embedding.Info{Provider: e.c.cfg.Provider, Model: e.c.cfg.Model, Dimensions: e.dims}
}

// Embed returns one unit-length vector per text, in order, sending
// BatchSize texts per request. Batches are sent one after another: a
// re-embed of a whole store should not trip the provider's rate limit.
// If a batch fails, Embed returns no vectors and an error naming the
// batch's inputs; earlier batches are not retried.
//
// Vectors are L2-normalised (OpenAI's already are; some local servers'
// are not), so a dot product is a cosine whichever server produced them.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return e.embedWith(ctx, texts, func(batch []string) any {
		return embeddingsRequest{Model: e.c.cfg.Model, Input: batch, Dimensions: e.c.cfg.Dimensions}
	})
}

type embeddingsRequest struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Dimensions int      `json:"dimensions,omitempty"`
}

// checkDims validates vecs and holds every reply to the length of the first
// (or to Config.Dimensions): vectors of two lengths in one store cannot be
// compared, so a model swapped behind the same URL must fail loudly.
func (e *Embedder) checkDims(vecs [][]float32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := embedding.CheckVectors(vecs, len(vecs), e.dims); err != nil {
		var ve *embedding.VectorError
		if errors.As(err, &ve) && ve.Index >= 0 && e.dims > 0 && len(vecs[ve.Index]) != e.dims {
			if e.c.cfg.Dimensions > 0 {
				return fmt.Errorf("bad reply: %w (the server ignored dimensions=%d; check that model %q supports it)", err, e.dims, e.c.cfg.Model)
			}
			return fmt.Errorf("bad reply: %w (earlier replies had %d; did the model behind BaseURL change?)", err, e.dims)
		}
		return fmt.Errorf("bad reply: %w", err)
	}
	if e.dims == 0 && len(vecs) > 0 {
		e.dims = len(vecs[0])
	}
	return nil
}

// parseEmbeddings decodes an embeddings reply for n inputs, placing each
// vector by its "index" (servers may answer out of order).
func parseEmbeddings(raw []byte, n int) ([][]float32, error) {
	var reply struct {
		Data []struct {
			Index     *int      `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
		Error json.RawMessage `json:"error"`
	}
	if err := decodeReply(raw, &reply); err != nil {
		return nil, err
	}
	if reply.Data == nil {
		if len(reply.Error) > 0 && string(reply.Error) != "null" {
			return nil, fmt.Errorf("reply is an error: %s", errorMessage(raw, 200))
		}
		return nil, errors.New(`reply has no "data" list`)
	}
	if len(reply.Data) != n {
		return nil, fmt.Errorf("bad reply: got %d embeddings for %d inputs", len(reply.Data), n)
	}
	vecs := make([][]float32, n)
	seen := make([]bool, n)
	for i, d := range reply.Data {
		idx := i // a server that omits index answers in order
		if d.Index != nil {
			idx = *d.Index
		}
		if idx < 0 || idx >= n {
			return nil, fmt.Errorf("bad reply: item %d has index %d, outside 0-%d", i, idx, n-1)
		}
		if seen[idx] {
			return nil, fmt.Errorf("bad reply: index %d appears twice", idx)
		}
		seen[idx] = true
		vecs[idx] = d.Embedding
	}
	return vecs, nil
}

// decodeReply unmarshals a reply body, telling broken JSON apart from JSON
// of the wrong shape (say, base64 strings where numbers were expected).
func decodeReply(raw []byte, v any) error {
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		// Name the JSON field and type, not Go's struct types: the user
		// needs to see which part of the reply was wrong.
		return &shapeError{field: typeErr.Field, value: typeErr.Value, err: err}
	}
	return fmt.Errorf("reply is not valid JSON: %w", err)
}

// shapeError is a reply whose JSON has a field of the wrong type.
type shapeError struct {
	field, value string
	err          error
}

func (e *shapeError) Error() string {
	return fmt.Sprintf("reply has an unexpected shape (field %q is a JSON %s): check that the base URL points at an OpenAI-compatible endpoint", e.field, e.value)
}

func (e *shapeError) Unwrap() error { return e.err }
