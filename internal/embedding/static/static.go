// Package static is trove's offline semantic embedder: static token
// embeddings in the model2vec format (the MinishLab "potion" models such as
// potion-base-8M), read from a directory, in pure Go.
//
// A model directory holds config.json, tokenizer.json and model.safetensors.
// The safetensors tensor "embeddings" (or "embedding.weight", the
// sentence-transformers name) is the token-embedding matrix, in F32, F16 or
// I8; optional "weights" (per-token scale) and "mapping" (token id to row)
// tensors of vocabulary-quantised models are honoured. The file is
// memory-mapped, so loading an 8M-parameter model parses a header and a
// tokenizer and reads no matrix pages until tokens need them.
//
// A text's vector is what model2vec's StaticModel.encode gives: the text is
// cut to 512 times the median token length (in characters), tokenised
// without special tokens, the unknown token of a WordPiece model is
// dropped, at most 512 tokens are kept, their rows (times their weights)
// are averaged, and the mean is L2-normalised when config.json says
// "normalize": true. I8 rows are used as their integer values, as the
// reference does (no scale is stored). One difference: a text with no
// tokens left (empty, or nothing the vocabulary knows) gets the unit vector
// on dimension 0 instead of the reference's zero vector, because trove
// refuses vectors with no direction.
//
// Tokenisation follows Hugging Face tokenizers for these tokenizer.json parts,
// and any other part is refused by name with an [*UnsupportedError]:
//
//   - normalizers: BertNormalizer (clean text, space around CJK ideographs,
//     strip accents by NFD, lowercase), Lowercase, StripAccents, NFC, NFD,
//     NFKC, NFKD, Strip, Prepend, Replace (string patterns), Sequence;
//   - pre-tokenizers: BertPreTokenizer, Whitespace, WhitespaceSplit,
//     Metaspace (prepend_scheme always/first/never, split), Sequence;
//   - models: WordPiece (continuing_subword_prefix,
//     max_input_chars_per_word) and Unigram (Viterbi over the piece scores,
//     unknown runs fused, byte_fallback);
//   - added tokens (normalized or not, single_word, lstrip, rstrip) are
//     matched in the text as the reference does.
//
// Example:
//
//	e, err := static.Load("/models/potion-base-8M")
//	if err != nil { ... }
//	defer e.Close()
//	vecs, err := e.Embed(ctx, []string{"prefers dark mode"})
//	info := e.Info() // {Provider: "static", Model: "potion-base-8M", Dimensions: 256}
package static

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/trove-memory/trove/internal/embedding"
)

const (
	// MaxTokens is how many tokens of a text are averaged (model2vec's
	// default max_length).
	MaxTokens = 512

	// Files a model directory must hold.
	ConfigFile    = "config.json"
	TokenizerFile = "tokenizer.json"
	WeightsFile   = "model.safetensors"
)

// embeddingTensors are the names the token-embedding matrix goes by: the
// model2vec layout's, then the sentence-transformers layout's.
var embeddingTensors = []string{"embeddings", "embedding.weight"}

// Embedder embeds texts with a static model. It is safe for concurrent
// use; Close unmaps the model file, after which Embed must not be called.
type Embedder struct {
	name      string
	tok       *Tokenizer
	st        *safetensors
	emb       *matrix
	weights   []float32 // per token id, or nil
	mapping   []int32   // token id -> row, or nil
	normalize bool
	maxChars  int // texts are cut to this many characters before tokenising
	pool      sync.Pool
}

var (
	_ embedding.Embedder  = (*Embedder)(nil)
	_ embedding.Describer = (*Embedder)(nil)
)

// modelConfig is the part of config.json the embedder reads.
type modelConfig struct {
	Normalize bool   `json:"normalize"`
	ModelName string `json:"model_name"`
}

// CheckDir reports whether dir holds the three files of a model, naming the
// first one missing.
func CheckDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	for _, f := range []string{ConfigFile, TokenizerFile, WeightsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s has no %s: a model2vec model directory holds %s, %s and %s", dir, f, ConfigFile, TokenizerFile, WeightsFile)
			}
			return err
		}
	}
	return nil
}

// Describe reads a model directory's name and dimensions without loading
// the tokenizer: the config and the safetensors header only.
func Describe(dir string) (embedding.Info, error) {
	if err := CheckDir(dir); err != nil {
		return embedding.Info{}, err
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return embedding.Info{}, err
	}
	st, err := openSafetensors(filepath.Join(dir, WeightsFile))
	if err != nil {
		return embedding.Info{}, err
	}
	defer st.close()
	t, err := st.embeddingTensor()
	if err != nil {
		return embedding.Info{}, err
	}
	m, err := newMatrix(st.path, t)
	if err != nil {
		return embedding.Info{}, err
	}
	return embedding.Info{Provider: "static", Model: modelName(dir, cfg), Dimensions: m.dims}, nil
}

func modelName(dir string, cfg modelConfig) string {
	if cfg.ModelName != "" {
		return cfg.ModelName
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return filepath.Base(abs)
}

func readConfig(dir string) (modelConfig, error) {
	var cfg modelConfig
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func (st *safetensors) embeddingTensor() (*tensor, error) {
	for _, n := range embeddingTensors {
		if t, ok := st.tensors[n]; ok {
			return t, nil
		}
	}
	return nil, &TensorError{File: st.path, Tensor: embeddingTensors[0],
		Problem: fmt.Sprintf("missing: the file holds %v, and the embedding matrix is %q (or %q)", st.names(), embeddingTensors[0], embeddingTensors[1])}
}

// Load opens the model in dir. The model file stays mapped until Close.
func Load(dir string) (*Embedder, error) {
	if err := CheckDir(dir); err != nil {
		return nil, err
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	tok, err := LoadTokenizer(filepath.Join(dir, TokenizerFile))
	if err != nil {
		return nil, err
	}
	st, err := openSafetensors(filepath.Join(dir, WeightsFile))
	if err != nil {
		return nil, err
	}
	e, err := newEmbedder(modelName(dir, cfg), cfg, tok, st)
	if err != nil {
		st.close()
		return nil, err
	}
	return e, nil
}

func newEmbedder(name string, cfg modelConfig, tok *Tokenizer, st *safetensors) (*Embedder, error) {
	t, err := st.embeddingTensor()
	if err != nil {
		return nil, err
	}
	m, err := newMatrix(st.path, t)
	if err != nil {
		return nil, err
	}
	e := &Embedder{name: name, tok: tok, st: st, emb: m, normalize: cfg.Normalize, maxChars: MaxTokens * tok.medianLen}
	if e.maxChars <= 0 {
		e.maxChars = MaxTokens
	}
	ids := int(tok.maxID) + 1
	if mt, ok := st.tensors["mapping"]; ok {
		if e.mapping, err = intVector(st.path, mt); err != nil {
			return nil, err
		}
		if len(e.mapping) < ids {
			return nil, &TensorError{File: st.path, Tensor: mt.name, DType: mt.dtype, Shape: mt.shape,
				Problem: fmt.Sprintf("maps %d token ids, the tokenizer has ids up to %d", len(e.mapping), ids-1)}
		}
		for i, r := range e.mapping {
			if int(r) >= m.rows {
				return nil, &TensorError{File: st.path, Tensor: mt.name, DType: mt.dtype, Shape: mt.shape,
					Problem: fmt.Sprintf("maps token %d to row %d, the matrix has %d rows", i, r, m.rows)}
			}
		}
	} else if m.rows != tok.VocabSize() || m.rows < ids {
		return nil, &TensorError{File: st.path, Tensor: t.name, DType: t.dtype, Shape: t.shape,
			Problem: fmt.Sprintf("has %d rows, the tokenizer has %d tokens (ids up to %d)", m.rows, tok.VocabSize(), ids-1)}
	}
	if wt, ok := st.tensors["weights"]; ok {
		if e.weights, err = floatVector(st.path, wt); err != nil {
			return nil, err
		}
		if len(e.weights) < ids {
			return nil, &TensorError{File: st.path, Tensor: wt.name, DType: wt.dtype, Shape: wt.shape,
				Problem: fmt.Sprintf("weighs %d token ids, the tokenizer has ids up to %d", len(e.weights), ids-1)}
		}
	}
	e.pool.New = func() any { return new(scratch) }
	return e, nil
}

// Close unmaps the model file.
func (e *Embedder) Close() error { return e.st.close() }

// Info reports the provider "static", the model's name (config.json's
// model_name, else the directory's name) and its dimensions.
func (e *Embedder) Info() embedding.Info {
	return embedding.Info{Provider: "static", Model: e.name, Dimensions: e.emb.dims}
}

// Tokenizer is the model's tokenizer.
func (e *Embedder) Tokenizer() *Tokenizer { return e.tok }

type scratch struct {
	ids    []int32
	pieces []piece
}

// Embed returns one vector per text. It only fails when ctx is done.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if i%256 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = e.embed(s, t)
	}
	return out, nil
}

// TokenIDs are the ids a text's vector averages: tokenised as Embed does,
// with dropped and surplus tokens removed.
func (e *Embedder) TokenIDs(text string) []int32 {
	return e.tokenIDs(&scratch{}, text)
}

func (e *Embedder) tokenIDs(s *scratch, text string) []int32 {
	text = truncateRunes(text, e.maxChars)
	ids := e.tok.encode(s.ids[:0], &s.pieces, text)
	s.ids = ids
	if drop := e.tok.model.dropID(); drop >= 0 {
		kept := ids[:0]
		for _, id := range ids {
			if id != drop {
				kept = append(kept, id)
			}
		}
		ids = kept
	}
	if len(ids) > MaxTokens {
		ids = ids[:MaxTokens]
	}
	return ids
}

func (e *Embedder) embed(s *scratch, text string) []float32 {
	ids := e.tokenIDs(s, text)
	dims := e.emb.dims
	v := make([]float32, dims)
	if len(ids) == 0 {
		v[0] = 1
		return v
	}
	for _, id := range ids {
		row := int(id)
		if e.mapping != nil {
			row = int(e.mapping[id])
		}
		w := float32(1)
		if e.weights != nil {
			w = e.weights[id]
		}
		e.emb.addRow(v, row, w)
	}
	inv := 1 / float32(len(ids))
	var sum float64
	for i, x := range v {
		x *= inv
		v[i] = x
		sum += float64(x) * float64(x)
	}
	if e.normalize {
		// The reference divides by norm + 1e-32: a zero mean stays zero.
		n := float32(1 / (math.Sqrt(sum) + 1e-32))
		for i := range v {
			v[i] *= n
		}
	}
	if sum == 0 {
		v[0] = 1
	}
	return v
}

// truncateRunes cuts s to at most n characters, as Python's s[:n] does.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
