package static

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
)

func load(t *testing.T, o modelOpts) *Embedder {
	t.Helper()
	e, err := Load(writeModel(t, o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func embedOne(t *testing.T, e *Embedder, text string) []float32 {
	t.Helper()
	vs, err := e.Embed(context.Background(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	return vs[0]
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

func scale(v []float32, k float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * k)
	}
	return out
}

// helloWorld is "hello world" worked out by hand: the tokens are hello (id
// 169) and world (id 170), row r column c holds ((7r+3c) mod 11 - 5)/8, so
// the sum of the two rows is this times 1/8 and the mean this times 1/16.
// Its squared length is 189.
var helloWorld = []float32{-2, 4, -1, -6, 0, 6, 1, -4, 2, -3, 3, -2, 4, -1, -6, 0}

func TestEmbedHandComputed(t *testing.T) {
	for _, tc := range []struct {
		dtype     string
		normalize bool
		want      []float32
	}{
		{"F32", false, scale(helloWorld, 1.0/16)},
		{"F16", false, scale(helloWorld, 1.0/16)},
		{"I8", false, scale(helloWorld, 1.0/2)}, // I8 rows hold 8 times the values, used as they are
		{"F32", true, scale(helloWorld, 1/math.Sqrt(189))},
		{"F16", true, scale(helloWorld, 1/math.Sqrt(189))},
		{"I8", true, scale(helloWorld, 1/math.Sqrt(189))},
	} {
		e := load(t, modelOpts{dtype: tc.dtype, normalize: tc.normalize})
		if ids := e.TokenIDs("Hello,   WORLD"); len(ids) != 3 || ids[0] != 169 || ids[2] != 170 {
			t.Fatalf("token ids %v: the test model changed; redo the hand computation", ids)
		}
		if got := embedOne(t, e, "hello world"); !near(got, tc.want) {
			t.Errorf("%s normalize=%v:\n got %v\nwant %v", tc.dtype, tc.normalize, got, tc.want)
		}
	}
}

// meanOf is the reference's pooling, written out plainly: rows (through
// the mapping) times weights, averaged, optionally normalised.
func meanOf(ids []int32, dims int, o modelOpts) []float32 {
	v := make([]float64, dims)
	for _, id := range ids {
		row := int(id)
		if o.mapping > 0 {
			row %= o.mapping
		}
		w := float64(1)
		if o.weights {
			w = float64(testWeight(int(id)))
		}
		for c := range v {
			v[c] += w * float64(cell(row, c))
		}
	}
	out := make([]float32, dims)
	var sum float64
	for c := range v {
		v[c] /= float64(len(ids))
		sum += v[c] * v[c]
	}
	for c := range v {
		if o.normalize {
			v[c] /= math.Sqrt(sum)
		}
		out[c] = float32(v[c])
	}
	return out
}

func TestEmbedWeightsAndMapping(t *testing.T) {
	for _, o := range []modelOpts{
		{weights: true},
		{mapping: 37},
		{weights: true, mapping: 37, normalize: true, dims: 32},
		{tokenizer: "unigram.json", weights: true, normalize: true},
		{tensor: "embedding.weight", dims: 24},
	} {
		e := load(t, o)
		if o.dims == 0 {
			o.dims = 16
		}
		for _, text := range []string{"the user prefers dark mode", "Häuser café naïve", "日本語 中文", "New York"} {
			ids := e.TokenIDs(text)
			if got, want := embedOne(t, e, text), meanOf(ids, o.dims, o); !near(got, want) {
				t.Errorf("%+v %q (ids %v):\n got %v\nwant %v", o, text, ids, got, want)
			}
		}
	}
}

func TestPooling(t *testing.T) {
	e := load(t, modelOpts{normalize: true})
	ctx := context.Background()
	// Each 字 is one token: 600 of them are cut to 512, so hello is never read.
	vs, err := e.Embed(ctx, []string{"hello", "hello 🎉 qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", strings.Repeat("字", 600) + " hello", "", "字"})
	if err != nil {
		t.Fatal(err)
	}
	if !near(vs[0], vs[1]) {
		t.Errorf("WordPiece unknown tokens are not dropped: %v vs %v", vs[0], vs[1])
	}
	if !near(vs[4], vs[2]) {
		t.Errorf("a word past the first 512 tokens changed the vector")
	}
	want := make([]float32, 16)
	want[0] = 1
	if !near(vs[3], want) {
		t.Errorf("empty text: got %v, want the unit vector on dimension 0", vs[3])
	}
	if err := embedding.CheckVectors(vs, 5, 16); err != nil {
		t.Error(err)
	}
	if ids := e.TokenIDs(strings.Repeat("a ", 1000)); len(ids) != MaxTokens {
		t.Errorf("%d tokens kept, want %d", len(ids), MaxTokens)
	}
	// Before tokenising, text is cut to 512 times the median token length
	// in characters (2 here), even mid-word, as model2vec does.
	ids := e.TokenIDs(strings.Repeat("hello ", 600))
	if n := len(ids); n != 174 || ids[n-1] != 110 { // 1024 characters: 170 hellos, then "hell": h ##e ##l ##l
		t.Errorf("cut text gives %d tokens ending %v", n, ids[n-3:])
	}
	// A Unigram model keeps its unknown piece, as model2vec does.
	u := load(t, modelOpts{tokenizer: "unigram.json"})
	if ids := u.TokenIDs("hello 🎉"); len(ids) != 3 || ids[2] != 0 {
		t.Errorf("unigram ids %v: want ▁hello ▁ <unk>", ids)
	}
}

func TestInfoAndDescribe(t *testing.T) {
	dir := writeModel(t, modelOpts{dims: 24})
	e, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	want := embedding.Info{Provider: "static", Model: "tiny-model", Dimensions: 24}
	if got := e.Info(); got != want {
		t.Errorf("Info() = %+v, want %+v", got, want)
	}
	got, err := Describe(dir)
	if err != nil || got != want {
		t.Errorf("Describe = %+v, %v; want %+v", got, err, want)
	}
}

func TestEmbedConcurrent(t *testing.T) {
	e := load(t, modelOpts{dtype: "F16", normalize: true})
	want := embedOne(t, e, "the user prefers dark mode")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				vs, err := e.Embed(context.Background(), []string{"the user prefers dark mode", "café"})
				if err != nil || !near(vs[0], want) {
					t.Errorf("concurrent embed: %v %v", vs, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestEmbedCancelled(t *testing.T) {
	e := load(t, modelOpts{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Embed(ctx, []string{"x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// rewrite replaces a model's safetensors file with tensors.
func rewrite(t *testing.T, dir string, tensors []testTensor) {
	t.Helper()
	writeSafetensors(t, filepath.Join(dir, WeightsFile), tensors)
}

func TestLoadErrors(t *testing.T) {
	n := 0 // vocabulary size of the default test tokenizer
	{
		tok, err := ParseTokenizer(tokenizerJSON(t, "wordpiece-bert.json"))
		if err != nil {
			t.Fatal(err)
		}
		n = tok.VocabSize()
	}
	matrix := func(dtype string, rows, dims int) testTensor {
		return testTensor{"embeddings", dtype, []int{rows, dims}, encodeMatrix(dtype, rows, dims, cell)}
	}
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string // substrings of the error
	}{
		{"truncated length", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, WeightsFile), []byte{1, 2, 3}, 0o644)
		}, []string{WeightsFile, "truncated", "3 bytes"}},
		{"truncated header", func(t *testing.T, dir string) {
			b := binary.LittleEndian.AppendUint64(nil, 4096)
			os.WriteFile(filepath.Join(dir, WeightsFile), append(b, `{"embeddings":`...), 0o644)
		}, []string{WeightsFile, "truncated header", "4096"}},
		{"truncated data", func(t *testing.T, dir string) {
			path := filepath.Join(dir, WeightsFile)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, b[:len(b)-10], 0o644)
		}, []string{WeightsFile, "tensor embeddings", "F32", "outside"}},
		{"unknown dtype", func(t *testing.T, dir string) {
			rewrite(t, dir, []testTensor{{"embeddings", "BF16", []int{n, 16}, make([]byte, 2*n*16)}})
		}, []string{WeightsFile, "tensor embeddings", "BF16", "16]", "unsupported dtype"}},
		{"exotic dtype", func(t *testing.T, dir string) {
			rewrite(t, dir, []testTensor{{"embeddings", "Q4_K", []int{n, 16}, make([]byte, 64)}})
		}, []string{"tensor embeddings", "Q4_K", "unsupported dtype"}},
		{"wrong rows", func(t *testing.T, dir string) {
			rewrite(t, dir, []testTensor{matrix("F32", n-1, 16)})
		}, []string{"tensor embeddings", "F32", "rows", "tokens"}},
		{"one-dimensional", func(t *testing.T, dir string) {
			rewrite(t, dir, []testTensor{{"embeddings", "F32", []int{n * 16}, encodeMatrix("F32", n, 16, cell)}})
		}, []string{"tensor embeddings", "2-D"}},
		{"byte count disagrees with shape", func(t *testing.T, dir string) {
			rewrite(t, dir, []testTensor{{"embeddings", "F32", []int{n, 16}, make([]byte, 4*n*16-4)}})
		}, []string{"tensor embeddings", "needs"}},
		{"missing tensor", func(t *testing.T, dir string) {
			rewrite(t, dir, []testTensor{{"vectors", "F32", []int{n, 16}, encodeMatrix("F32", n, 16, cell)}})
		}, []string{"tensor embeddings", "missing", "vectors", "embedding.weight"}},
		{"bad mapping", func(t *testing.T, dir string) {
			m := make([]byte, 8*n)
			binary.LittleEndian.PutUint64(m[8*5:], 99)
			rewrite(t, dir, []testTensor{matrix("F32", 10, 16), {"mapping", "I64", []int{n}, m}})
		}, []string{"tensor mapping", "row 99", "10 rows"}},
		{"short weights", func(t *testing.T, dir string) {
			rewrite(t, dir, []testTensor{matrix("F32", n, 16), {"weights", "F32", []int{3}, make([]byte, 12)}})
		}, []string{"tensor weights", "3 token ids"}},
		{"unsupported tokenizer", func(t *testing.T, dir string) {
			path := filepath.Join(dir, TokenizerFile)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, []byte(strings.Replace(string(b), `"BertPreTokenizer"`, `"ByteLevel"`, 1)), 0o644)
		}, []string{TokenizerFile, `pre_tokenizer "ByteLevel" is not supported`, "BertPreTokenizer"}},
		{"missing file", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ConfigFile))
		}, []string{"has no config.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeModel(t, modelOpts{})
			tc.break_(t, dir)
			e, err := Load(dir)
			if err == nil {
				e.Close()
				t.Fatal("loaded a broken model")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if err := CheckDir(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CheckDir of a missing directory: %v", err)
	}
}

func FuzzParseSafetensors(f *testing.F) {
	f.Add([]byte{})
	f.Add(binary.LittleEndian.AppendUint64(nil, 2))
	f.Add(append(binary.LittleEndian.AppendUint64(nil, 62), `{"embeddings":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}`+"\x00\x00\x00\x00\x00\x00\x00\x00"...))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseSafetensors("fuzz", b)
		if err != nil {
			return
		}
		for _, tt := range st.tensors {
			if m, err := newMatrix("fuzz", tt); err == nil {
				acc := make([]float32, m.dims)
				m.addRow(acc, m.rows-1, 1)
			}
		}
	})
}

func FuzzEncode(f *testing.F) {
	for _, s := range tokenizerTexts {
		f.Add(s)
	}
	var toks []*Tokenizer
	for _, name := range tokenizerNames() {
		tok, err := ParseTokenizer(tokenizerJSON(f, name))
		if err != nil {
			f.Fatal(err)
		}
		toks = append(toks, tok)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range toks {
			for _, id := range tok.Encode(s) {
				if id < 0 || id > tok.maxID {
					t.Fatalf("%q: id %d", s, id)
				}
			}
		}
	})
}
