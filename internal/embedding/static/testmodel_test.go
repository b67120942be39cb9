package static

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// This file generates the tiny models the tests use: a real tokenizer.json
// and a safetensors file, written here, nothing downloaded.

// testWords are whole words every test vocabulary knows.
var testWords = []string{
	"the", "a", "is", "and", "of", "to", "in", "it", "user", "prefers", "dark", "mode",
	"uses", "vim", "hello", "world", "memory", "agent", "cafe", "café", "haus", "hauser", "naive",
	"new", "york", "big", "mail", "example", "com", "party", "don", "t", "straße", "strasse",
	"istanbul", "api", "omega", "lait", "au", "super", "long", "text", "mixed", "with", "english",
	"bell", "tab", "newline", "ligature", "fi", "pm", "literal", "special", "cls", "σς", "ωmega",
}

// testSubwords are continuation pieces, written without the prefix.
var testSubwords = []string{"s", "er", "ing", "ed", "ly", "al", "ist", "ic", "ous", "at", "ion", "cali", "fragil", "expi", "doc"}

// testCJK are ideographs and kana the vocabularies know.
var testCJK = []string{"日", "本", "語", "中", "文", "の", "テ", "キ", "ス", "ト", "字"}

// wordPieceVocab is the ordered vocabulary of the WordPiece test tokenizers:
// specials, ASCII punctuation, letters and digits, their continuations, CJK,
// then words and subwords.
func wordPieceVocab() []string {
	v := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for c := '!'; c <= '~'; c++ {
		v = append(v, string(c))
	}
	for c := 'a'; c <= 'z'; c++ {
		v = append(v, "##"+string(c))
	}
	for c := '0'; c <= '9'; c++ {
		v = append(v, "##"+string(c))
	}
	v = append(v, "é", "##é", "ß", "##ß", "ω", "σ", "ς", "##ς", "¿", "…")
	v = append(v, testCJK...)
	seen := map[string]bool{}
	for _, t := range v {
		seen[t] = true
	}
	for _, w := range testWords {
		if !seen[w] {
			v = append(v, w)
			seen[w] = true
		}
	}
	for _, s := range testSubwords {
		if !seen["##"+s] {
			v = append(v, "##"+s)
			seen["##"+s] = true
		}
	}
	return v
}

// unigramVocab is the Unigram test vocabulary with its scores: whole words
// with the metaspace mark score high, single characters low.
func unigramVocab() [][2]any {
	v := [][2]any{{"<unk>", 0.0}, {"<s>", 0.0}, {"</s>", 0.0}, {"▁", -2.0}}
	seen := map[string]bool{"<unk>": true, "<s>": true, "</s>": true, "▁": true}
	add := func(tok string, score float64) {
		if !seen[tok] {
			seen[tok] = true
			v = append(v, [2]any{tok, score})
		}
	}
	for i, w := range testWords {
		add("▁"+w, -3.0-float64(i%7)*0.25)
	}
	for i, s := range testSubwords {
		add(s, -6.0-float64(i%5)*0.5)
	}
	for c := 'a'; c <= 'z'; c++ {
		add(string(c), -9.0-float64(c-'a')*0.01)
	}
	for c := 'A'; c <= 'Z'; c++ {
		add(string(c), -9.8)
	}
	for c := '0'; c <= '9'; c++ {
		add(string(c), -9.5)
	}
	for _, p := range []string{".", ",", "!", "?", "'", ":", "-", "@", "(", ")", "é", "ß", "ï", "ä", "ω", "σ", "ς", "Ω"} {
		add(p, -8.0)
	}
	for _, c := range testCJK {
		add(c, -7.0)
	}
	add("▁日本", -4.0)
	add("日本語", -5.0)
	add("▁caf", -6.5)
	add("▁na", -6.5)
	add("ive", -6.5)
	return v
}

// testTokenizers are the generated tokenizer.json documents, by file name.
func testTokenizers() map[string]any {
	wpVocab := map[string]int{}
	for i, t := range wordPieceVocab() {
		wpVocab[t] = i
	}
	nwp := len(wpVocab)
	specials := []map[string]any{}
	for i, s := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
		specials = append(specials, map[string]any{"id": i, "content": s, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
	}
	// A multi-word token, as model2vec adds them: normalized, not special.
	multi := map[string]any{"id": nwp, "content": "New York", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}
	wordPiece := map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 24, "vocab": wpVocab}

	uni := unigramVocab()
	return map[string]any{
		"wordpiece-bert.json": map[string]any{
			"version": "1.0", "truncation": nil, "padding": nil,
			"added_tokens":   append(append([]map[string]any{}, specials...), multi),
			"normalizer":     map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": nil, "lowercase": true},
			"pre_tokenizer":  map[string]any{"type": "BertPreTokenizer"},
			"post_processor": nil, "decoder": nil,
			"model": wordPiece,
		},
		"wordpiece-seq.json": map[string]any{
			"version": "1.0", "truncation": nil, "padding": nil,
			"added_tokens": specials,
			"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
				map[string]any{"type": "NFD"}, map[string]any{"type": "StripAccents"}, map[string]any{"type": "Lowercase"}}},
			"pre_tokenizer":  map[string]any{"type": "Whitespace"},
			"post_processor": nil, "decoder": nil,
			"model": wordPiece,
		},
		"unigram.json": map[string]any{
			"version": "1.0", "truncation": nil, "padding": nil,
			"added_tokens": []map[string]any{
				{"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
				{"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
				{"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
			},
			"normalizer":     map[string]any{"type": "NFKC"},
			"pre_tokenizer":  map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
			"post_processor": nil, "decoder": nil,
			"model": map[string]any{"type": "Unigram", "unk_id": 0, "vocab": uni, "byte_fallback": false},
		},
	}
}

// tokenizerJSON is the named generated tokenizer as bytes.
func tokenizerJSON(t testing.TB, name string) []byte {
	t.Helper()
	doc, ok := testTokenizers()[name]
	if !ok {
		t.Fatalf("no test tokenizer %q", name)
	}
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// testTensor is one tensor to write.
type testTensor struct {
	name  string
	dtype string
	shape []int
	data  []byte
}

// writeSafetensors writes tensors to path in the safetensors format, the
// header padded with spaces to a multiple of 8 bytes as the reference does.
func writeSafetensors(t testing.TB, path string, tensors []testTensor) {
	t.Helper()
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	sort.Slice(tensors, func(i, j int) bool { return tensors[i].name < tensors[j].name })
	for _, tt := range tensors {
		header[tt.name] = map[string]any{"dtype": tt.dtype, "shape": tt.shape, "data_offsets": []int{len(data), len(data) + len(tt.data)}}
		data = append(data, tt.data...)
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(out, h...)
	out = append(out, data...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cell is the test matrix's value at row r, column c: a multiple of 1/8
// in [-5/8, 5/8], exact in F32 and F16; I8 models store 8 times it.
func cell(r, c int) float32 {
	return float32((r*7+c*3)%11-5) / 8
}

func encodeMatrix(dtype string, rows, dims int, at func(r, c int) float32) []byte {
	var b []byte
	for r := 0; r < rows; r++ {
		for c := 0; c < dims; c++ {
			x := at(r, c)
			switch dtype {
			case "F32":
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
			case "F16":
				b = binary.LittleEndian.AppendUint16(b, f32ToF16(x))
			case "I8":
				b = append(b, byte(int8(x*8)))
			case "F64":
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(x)))
			}
		}
	}
	return b
}

// f32ToF16 converts values the tests use (normal, exactly representable).
func f32ToF16(x float32) uint16 {
	bits := math.Float32bits(x)
	sign := uint16(bits>>16) & 0x8000
	if x == 0 {
		return sign
	}
	exp := int(bits>>23&0xff) - 127 + 15
	frac := uint16(bits>>13) & 0x3ff
	return sign | uint16(exp)<<10 | frac
}

// modelOpts says what writeModel generates.
type modelOpts struct {
	tokenizer string // file name in testTokenizers; default wordpiece-bert.json
	dtype     string // F32 (default), F16, I8
	dims      int    // default 16
	normalize bool
	tensor    string // default "embeddings"
	weights   bool   // add a per-token weights tensor (0.5 + id%4 * 0.25)
	mapping   int    // > 0: add a mapping onto this many rows (id % mapping)
}

func testWeight(id int) float32 { return 0.5 + float32(id%4)*0.25 }

// writeModel writes a model directory and returns its path.
func writeModel(t testing.TB, o modelOpts) string {
	t.Helper()
	if o.tokenizer == "" {
		o.tokenizer = "wordpiece-bert.json"
	}
	if o.dtype == "" {
		o.dtype = "F32"
	}
	if o.dims == 0 {
		o.dims = 16
	}
	if o.tensor == "" {
		o.tensor = "embeddings"
	}
	dir := filepath.Join(t.TempDir(), "tiny-model")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tj := tokenizerJSON(t, o.tokenizer)
	tok, err := ParseTokenizer(tj)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TokenizerFile), tj, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"model_type": "model2vec", "architectures": ["StaticModel"], "hidden_dim": %d, "normalize": %v}`, o.dims, o.normalize)
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	n := tok.VocabSize()
	rows := n
	var tensors []testTensor
	if o.mapping > 0 {
		rows = o.mapping
		var m []byte
		for id := 0; id < n; id++ {
			m = binary.LittleEndian.AppendUint64(m, uint64(id%o.mapping))
		}
		tensors = append(tensors, testTensor{"mapping", "I64", []int{n}, m})
	}
	if o.weights {
		var w []byte
		for id := 0; id < n; id++ {
			w = binary.LittleEndian.AppendUint32(w, math.Float32bits(testWeight(id)))
		}
		tensors = append(tensors, testTensor{"weights", "F32", []int{n}, w})
	}
	tensors = append(tensors, testTensor{o.tensor, o.dtype, []int{rows, o.dims}, encodeMatrix(o.dtype, rows, o.dims, cell)})
	writeSafetensors(t, filepath.Join(dir, WeightsFile), tensors)
	return dir
}
