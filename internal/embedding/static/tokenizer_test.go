package static

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata: the generated tokenizers, and the golden ids from integrations/tokenizer-check (needs node and npm ci)")

// tokenizerTexts are the tricky inputs tokenisation is checked on.
var tokenizerTexts = []string{
	"",
	"   ",
	"hello world",
	"Hello, World! It's 3:30pm.",
	"café", "Häuser", "naïve", "CAFÉ au lait", "cafe\u0301 (combining accent)",
	"the user prefers dark mode and uses vim",
	"日本語のテキスト", "中文 mixed with English", "字",
	"emoji 🎉 party 👍🏽 ❤️",
	"supercalifragilisticexpialidocious",
	"supercalifragilisticexpialidociouswordthatisfartoolongforthelimit",
	"MiXeD CaSe TeXt",
	"e-mail: user@example.com (don't!)",
	"New York is big", "new  york", "I live in New York.",
	"İstanbul", "straße", "Ωmega σς",
	"tab\tand\nnewline\r\n", "\u0007bell", "a\u200db", "ﬁ ligature", "ＡＰＩ",
	"[CLS] literal special [SEP]", "<s>unigram specials</s>",
	"¿qué…?", "zzzz qqqq", "  leading and trailing  ",
}

const (
	textsFile  = "testdata/tokenizer-texts.json"
	goldenFile = "testdata/tokenizer-golden.json"
	tokDir     = "testdata/tokenizers"
)

func tokenizerNames() []string {
	var names []string
	for n := range testTokenizers() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// goEncodings encodes the texts with every test tokenizer, as the JS
// script's output is shaped.
func goEncodings(t *testing.T) map[string][][]int32 {
	t.Helper()
	out := map[string][][]int32{}
	for _, name := range tokenizerNames() {
		tok, err := ParseTokenizer(tokenizerJSON(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, text := range tokenizerTexts {
			ids := tok.Encode(text)
			if ids == nil {
				ids = []int32{}
			}
			out[name] = append(out[name], ids)
		}
	}
	return out
}

// TestTokenizerTestdata keeps testdata (what the JS script reads) equal to
// what the generator makes; -update rewrites it.
func TestTokenizerTestdata(t *testing.T) {
	texts, err := json.MarshalIndent(tokenizerTexts, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{textsFile: append(texts, '\n')}
	for _, name := range tokenizerNames() {
		want[filepath.Join(tokDir, name)] = tokenizerJSON(t, name)
	}
	for path, b := range want {
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s is stale or missing (%v): run go test ./internal/embedding/static -run 'TestTokenizerTestdata|TestTokenizerGolden' -update", path, err)
		}
	}
}

// jsDivergences are inputs on which @huggingface/tokenizers (JS) and the
// reference Rust tokenizers differ, with the tokens the reference gives.
var jsDivergences = map[[2]string]struct{ tokens, why string }{
	{"wordpiece-seq.json", "straße"}:   {"[straße]", whyWordChars},
	{"wordpiece-seq.json", "Ωmega σς"}: {"[ωmega σς]", whyWordChars},
	{"wordpiece-seq.json", "a\u200db"}: {"[[UNK]]", whyWordChars},
}

// whyWordChars: the Whitespace pre-tokenizer is the regex \w+|[^\w\s]+.
// In Rust's regex crate \w is Unicode (letters such as ß and ω, marks,
// joiners such as U+200D); the JS port uses a JavaScript \w, which is
// ASCII only, and so splits "straße" into "stra", "ß", "e".
const whyWordChars = "Whitespace pre-tokenizer: Rust's \\w is Unicode, JavaScript's is ASCII"

// runJS runs integrations/tokenizer-check over testdata, or skips.
func runJS(t *testing.T) map[string][][]int32 {
	t.Helper()
	node, err := exec.LookPath("node")
	dir := filepath.Join("..", "..", "..", "integrations", "tokenizer-check")
	if err != nil {
		t.Skip("node is not installed: the cross-check against @huggingface/tokenizers needs node 20+ and `npm ci --prefix integrations/tokenizer-check`")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@huggingface", "tokenizers")); err != nil {
		t.Skip("@huggingface/tokenizers is not installed: run `npm ci --prefix integrations/tokenizer-check` for the cross-check")
	}
	args := []string{filepath.Join(dir, "encode.mjs"), textsFile}
	for _, name := range tokenizerNames() {
		args = append(args, filepath.Join(tokDir, name))
	}
	cmd := exec.Command(node, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node encode.mjs: %v\n%s", err, stderr.String())
	}
	var got map[string][][]int32
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node encode.mjs printed %q: %v", out, err)
	}
	return got
}

func compareEncodings(t *testing.T, source string, want, got map[string][][]int32) {
	t.Helper()
	for _, name := range tokenizerNames() {
		if len(want[name]) != len(tokenizerTexts) {
			t.Errorf("%s: %s has %d encodings for %d texts", name, source, len(want[name]), len(tokenizerTexts))
			continue
		}
		tok, _ := ParseTokenizer(tokenizerJSON(t, name))
		for i, text := range tokenizerTexts {
			if d, ok := jsDivergences[[2]string{name, text}]; ok {
				if names := tokenNames(tok, got[name][i]); names != d.tokens {
					t.Errorf("%s %q: go gives %s, the reference %s (%s)", name, text, names, d.tokens, d.why)
				}
				continue
			}
			if !reflect.DeepEqual(want[name][i], got[name][i]) {
				t.Errorf("%s %q:\n %s: %v %s\n go: %v %s", name, text, source, want[name][i], tokenNames(tok, want[name][i]), got[name][i], tokenNames(tok, got[name][i]))
			}
		}
	}
}

// tokenNames spells ids as tokens for failure messages.
func tokenNames(tok *Tokenizer, ids []int32) string {
	inv := map[int32]string{}
	for s, id := range tok.model.vocab() {
		inv[id] = s
	}
	for _, a := range append(append([]addedToken{}, tok.raw...), tok.normalized...) {
		inv[a.ID] = a.Content
	}
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(" " + inv[id])
	}
	return "[" + strings.TrimSpace(b.String()) + "]"
}

// TestTokenizerGolden checks the Go tokenizer against the ids
// @huggingface/tokenizers gave for the test tokenizers, kept in a golden
// file so the check runs without node. -update regenerates the golden by
// running the JS script.
func TestTokenizerGolden(t *testing.T) {
	if *update {
		js := runJS(t)
		b, err := json.MarshalIndent(js, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string][][]int32
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	compareEncodings(t, "golden (JS)", golden, goEncodings(t))
}

// TestTokenizerMatchesJS runs @huggingface/tokenizers now, when node and
// the package are installed (CI installs them).
func TestTokenizerMatchesJS(t *testing.T) {
	compareEncodings(t, "js", runJS(t), goEncodings(t))
}

func TestAccentsAreKnown(t *testing.T) {
	for _, name := range tokenizerNames() {
		tok, err := ParseTokenizer(tokenizerJSON(t, name))
		if err != nil {
			t.Fatal(err)
		}
		unk := tok.model.vocab()["[UNK]"]
		if strings.HasPrefix(name, "unigram") {
			unk = tok.model.vocab()["<unk>"]
		}
		for _, text := range []string{"café", "Häuser", "naïve"} {
			ids := tok.Encode(text)
			if len(ids) == 0 {
				t.Errorf("%s %q: no tokens", name, text)
			}
			for _, id := range ids {
				if id == unk {
					t.Errorf("%s %q: %v holds the unknown token", name, text, tokenNames(tok, ids))
				}
			}
		}
	}
}

func TestUnsupportedTokenizerParts(t *testing.T) {
	base := func() map[string]any {
		var m map[string]any
		if err := json.Unmarshal(tokenizerJSON(t, "wordpiece-bert.json"), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		part, name string
		value      any
	}{
		{"normalizer", "Precompiled", map[string]any{"type": "Precompiled", "precompiled_charsmap": ""}},
		{"normalizer", "Replace with a regex pattern", map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": " +"}, "content": " "}},
		{"pre_tokenizer", "ByteLevel", map[string]any{"type": "ByteLevel"}},
		{"pre_tokenizer", "Split", map[string]any{"type": "Sequence", "pretokenizers": []any{map[string]any{"type": "Split"}}}},
		{"model", "BPE", map[string]any{"type": "BPE", "vocab": map[string]int{}, "merges": []string{}}},
	} {
		m := base()
		m[tc.part] = tc.value
		b, _ := json.Marshal(m)
		dir := t.TempDir()
		path := filepath.Join(dir, "tokenizer.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadTokenizer(path)
		u, ok := err.(*UnsupportedError)
		if !ok || u.Part != tc.part || u.Name != tc.name || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "supported:") {
			t.Errorf("%s %s: got %v", tc.part, tc.name, err)
		}
	}
}
