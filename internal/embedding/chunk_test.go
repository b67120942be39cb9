package embedding

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSplitText(t *testing.T) {
	tests := []struct {
		name string
		text string
		max  int
		want []string
	}{
		{"within the limit is untouched", "  short text \n", 20, []string{"  short text \n"}},
		{"no limit", strings.Repeat("x", 100), 0, []string{strings.Repeat("x", 100)}},
		{"limit counts characters not bytes", "ééééé", 5, []string{"ééééé"}},
		{"paragraph beats sentence", "One. Two three.\n\nFour five six.", 20,
			[]string{"One. Two three.", "Four five six."}},
		{"line beats sentence", "Alpha. Beta gamma\ndelta epsilon", 20,
			[]string{"Alpha. Beta gamma", "delta epsilon"}},
		{"sentence beats space", "aaa bbb. ccc ddd eee fff", 16,
			[]string{"aaa bbb.", "ccc ddd eee fff"}},
		{"clause beats space", "aaa bbb, ccc ddd eee fff", 16,
			[]string{"aaa bbb,", "ccc ddd eee fff"}},
		{"space", "aaaa bbbb cccc dddd", 12, []string{"aaaa bbbb", "cccc dddd"}},
		{"no boundary cuts mid-word", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"boundary too early is ignored", "a bcdefghij", 6, []string{"a bcde", "fghij"}},
		{"CJK sentence end", "我喜欢深色模式。我用vim写代码", 10,
			[]string{"我喜欢深色模式。", "我用vim写代码"}},
		{"CJK without punctuation", "深色模式深色模式深色", 4, []string{"深色模式", "深色模式", "深色"}},
		{"emoji are never split", "😀😀😀😀😀", 2, []string{"😀😀", "😀😀", "😀"}},
		{"blank text gives no pieces", strings.Repeat(" \n", 10), 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitText(tt.text, tt.max, 0)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("SplitText(%q, %d) = %q, want %q", tt.text, tt.max, got, tt.want)
			}
		})
	}
}

func TestSplitTextOverlap(t *testing.T) {
	text := "one two three four five six seven eight nine ten eleven twelve"
	got := SplitText(text, 20, 8)
	// Each piece starts on a word up to 8 characters before the last ended.
	want := []string{"one two three four", "four five six seven", "seven eight nine ten", "ten eleven twelve"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SplitText with overlap = %q, want %q", got, want)
	}
	if plain := SplitText(text, 20, 0); !reflect.DeepEqual(plain, []string{"one two three four", "five six seven eight", "nine ten eleven", "twelve"}) {
		t.Fatalf("SplitText without overlap = %q", plain)
	}
}

func FuzzSplitText(f *testing.F) {
	f.Add("The user prefers dark mode. They use vim.\n\nDeploys on Fridays are banned.", 12, 0)
	f.Add("我喜欢深色模式。我用vim编辑器写代码，每天都用。", 5, 2)
	f.Add("😀 a\xffb 😀😀\n\n\n", 3, 1)
	f.Add(strings.Repeat("word ", 50), 7, 3)
	f.Fuzz(func(t *testing.T, text string, maxChars, overlap int) {
		maxChars = 1 + abs(maxChars)%64
		overlap = abs(overlap) % 64
		pieces := SplitText(text, maxChars, overlap)
		if utf8.RuneCountInString(text) <= maxChars {
			if len(pieces) != 1 || pieces[0] != text {
				t.Fatalf("text within the limit changed: %q", pieces)
			}
			return
		}
		for i, p := range pieces {
			if n := utf8.RuneCountInString(p); n > maxChars || n == 0 {
				t.Fatalf("piece %d %q has %d characters, limit %d", i, p, n, maxChars)
			}
			if utf8.ValidString(text) && !utf8.ValidString(p) {
				t.Fatalf("piece %d %q splits a character", i, p)
			}
			if !strings.Contains(text, p) {
				t.Fatalf("piece %d %q is not a substring of the text", i, p)
			}
		}
		if overlap == 0 {
			// Nothing is lost or repeated: only whitespace at cuts goes.
			var got []rune
			for _, p := range pieces {
				got = append(got, dropSpace(p)...)
			}
			if want := dropSpace(text); string(got) != string(want) {
				t.Fatalf("pieces rejoined = %q, want %q", string(got), string(want))
			}
		}
	})
}

func abs(n int) int {
	if n < 0 {
		if n == math.MinInt {
			return 0
		}
		return -n
	}
	return n
}

// dropSpace returns the characters of s that are not whitespace, piece by
// piece so that bytes of broken UTF-8 on either side of a cut are not
// rejoined into a character.
func dropSpace(s string) []rune {
	var out []rune
	for _, r := range s {
		if !unicode.IsSpace(r) {
			out = append(out, r)
		}
	}
	return out
}

func TestChunkedShortTextsPassThrough(t *testing.T) {
	inner := newQueryFake()
	e := Chunked(inner, 10)
	texts := []string{"short", "also short"}
	got, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{fakeVec("short", false), fakeVec("also short", false)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Embed = %v, want the inner vectors unchanged %v", got, want)
	}
	if calls := inner.Calls(); len(calls) != 1 || !reflect.DeepEqual(calls[0].Texts, texts) {
		t.Fatalf("inner calls = %+v, want one call with the texts as given", calls)
	}
}

func TestChunkedAveragesPieces(t *testing.T) {
	inner := newQueryFake()
	// Each piece's vector points along an axis chosen by its first letter.
	inner.fn = func(texts []string, query bool) ([][]float32, error) {
		out := make([][]float32, len(texts))
		for i, t := range texts {
			v := make([]float32, 3)
			v[int(t[0]-'a')%3] = 1
			out[i] = v
		}
		return out, nil
	}
	e := Chunked(inner, 9)
	long := "aaaa aaaa bbbb" // -> "aaaa aaaa" (9 characters) + "bbbb" (4)
	got, err := e.Embed(context.Background(), []string{"c", long, "bb"})
	if err != nil {
		t.Fatal(err)
	}

	calls := inner.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d inner calls, want all pieces in one", len(calls))
	}
	if want := []string{"c", "aaaa aaaa", "bbbb", "bb"}; !reflect.DeepEqual(calls[0].Texts, want) {
		t.Fatalf("inner got %q, want %q", calls[0].Texts, want)
	}
	// Weighted by length: 9 parts a, 4 parts b, normalised.
	n := math.Sqrt(9*9 + 4*4)
	want := []float32{float32(9 / n), float32(4 / n), 0}
	for k := range want {
		if math.Abs(float64(got[1][k]-want[k])) > 1e-6 {
			t.Fatalf("long text vector = %v, want %v", got[1], want)
		}
	}
	if !reflect.DeepEqual(got[0], []float32{0, 0, 1}) || !reflect.DeepEqual(got[2], []float32{0, 1, 0}) {
		t.Fatalf("short texts' vectors changed: %v %v", got[0], got[2])
	}
}

func TestChunkedKeepsCapabilities(t *testing.T) {
	plain := newPlainFake()
	if _, ok := Chunked(plain, 5).(Describer); ok {
		t.Error("Chunked(plain) claims to be a Describer")
	}
	if _, ok := Chunked(plain, 5).(QueryEmbedder); ok {
		t.Error("Chunked(plain) claims to be a QueryEmbedder")
	}

	full := newQueryFake()
	e := Chunked(full, 5)
	d, ok := e.(Describer)
	if !ok || d.Info() != full.Info() {
		t.Fatalf("Chunked(full) lost Info: %v", ok)
	}
	q, ok := e.(QueryEmbedder)
	if !ok {
		t.Fatal("Chunked(full) lost EmbedQuery")
	}
	if _, err := q.EmbedQuery(context.Background(), []string{"abc def ghi"}); err != nil {
		t.Fatal(err)
	}
	calls := full.Calls()
	if len(calls) != 1 || !calls[0].Query || !reflect.DeepEqual(calls[0].Texts, []string{"abc", "def", "ghi"}) {
		t.Fatalf("calls = %+v, want one split EmbedQuery", calls)
	}

	hash := NewHash(64)
	if _, ok := Chunked(hash, 5).(Describer); !ok {
		t.Error("Chunked(Hash) lost Info")
	}
	if Chunked(hash, 0) != Embedder(hash) {
		t.Error("Chunked(e, 0) should be e itself")
	}
}

func TestChunkedBadInnerReply(t *testing.T) {
	inner := newPlainFake()
	inner.fn = func(texts []string, _ bool) ([][]float32, error) {
		return [][]float32{{1, 0}}, nil // one vector, whatever was asked
	}
	_, err := Chunked(inner, 3).Embed(context.Background(), []string{"abc def"})
	var ve *VectorError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a *VectorError for the missing chunk vector", err)
	}

	boom := errors.New("provider down")
	inner.fn = func([]string, bool) ([][]float32, error) { return nil, boom }
	if _, err := Chunked(inner, 3).Embed(context.Background(), []string{"abc def"}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the inner error", err)
	}
}

func TestChunkedWithHash(t *testing.T) {
	h := NewHash(256)
	e := Chunked(h, 40)
	long := "The user prefers dark mode in every editor. They deploy only on Tuesdays. Their cat is called Miso."
	vecs, err := e.Embed(context.Background(), []string{long, "deploy only on Tuesdays"})
	if err != nil {
		t.Fatal(err)
	}
	if n := norm(vecs[0]); math.Abs(n-1) > 1e-5 {
		t.Fatalf("chunked vector has length %v, want 1", n)
	}
	// The averaged vector still points towards each of its parts.
	part := embedOne(t, h, "They deploy only on Tuesdays.")
	other := embedOne(t, h, "quantum chromodynamics lecture notes")
	if cosine(vecs[0], part) <= cosine(vecs[0], other) {
		t.Fatalf("chunked vector is no closer to its part (%v) than to unrelated text (%v)",
			cosine(vecs[0], part), cosine(vecs[0], other))
	}
}

func ExampleSplitText() {
	text := "The user prefers dark mode. They use vim for everything, even email."
	for _, p := range SplitText(text, 40, 0) {
		fmt.Printf("%q\n", p)
	}
	// Output:
	// "The user prefers dark mode."
	// "They use vim for everything, even email."
}
