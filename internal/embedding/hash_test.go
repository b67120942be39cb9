package embedding

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

func embedOne(t testing.TB, h *Hash, text string) []float32 {
	t.Helper()
	vecs, err := h.Embed(context.Background(), []string{text})
	if err != nil {
		t.Fatalf("Embed(%q): %v", text, err)
	}
	return vecs[0]
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func TestHashInfo(t *testing.T) {
	if got, want := NewHash(0).Info(), (Info{Provider: "hash", Model: HashModel, Dimensions: 384}); got != want {
		t.Fatalf("NewHash(0).Info() = %+v, want %+v", got, want)
	}
	if got := NewHash(64).Info().Dimensions; got != 64 {
		t.Fatalf("NewHash(64) dimensions = %d", got)
	}
	if got := len(embedOne(t, NewHash(64), "hello")); got != 64 {
		t.Fatalf("vector length = %d, want 64", got)
	}
}

func TestHashDeterministicAndUnit(t *testing.T) {
	texts := []string{
		"", "   \t\n", "!!! ... ---", "hello", "Hello, World!",
		"The user prefers dark mode in every editor.",
		"我喜欢喝咖啡", "コーヒーが好きです", "한국어 텍스트", "naïve café résumé",
		"ERR_CONN_RESET in config.yaml at /var/log/app.log", "\xff\xfe invalid utf8",
	}
	a, b := NewHash(0), NewHash(0)
	for _, text := range texts {
		v1, v2 := embedOne(t, a, text), embedOne(t, b, text)
		for i := range v1 {
			if v1[i] != v2[i] {
				t.Fatalf("%q: embedders disagree at %d: %v vs %v", text, i, v1[i], v2[i])
			}
		}
		// Same embedder again: pooled scratch must not leak state between calls.
		v3 := embedOne(t, a, text)
		for i := range v1 {
			if v1[i] != v3[i] {
				t.Fatalf("%q: second call differs at %d", text, i)
			}
		}
		if n := norm(v1); math.Abs(n-1) > 1e-5 {
			t.Fatalf("%q: norm = %v, want 1", text, n)
		}
		if err := CheckVectors([][]float32{v1}, 1, 384); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
	}
}

func TestHashEmptyTextsAreAFixedVector(t *testing.T) {
	h := NewHash(0)
	empty := embedOne(t, h, "")
	if empty[0] != 1 {
		t.Fatalf("empty text: v[0] = %v, want 1", empty[0])
	}
	if c := cosine(empty, embedOne(t, h, " \n\t ")); c != 1 {
		t.Fatalf("cosine(empty, whitespace) = %v, want 1", c)
	}
}

func TestHashCaseInsensitive(t *testing.T) {
	h := NewHash(0)
	if c := cosine(embedOne(t, h, "Dark Mode"), embedOne(t, h, "dark mode")); c < 0.9999 {
		t.Fatalf("cosine = %v, want 1", c)
	}
	if c := cosine(embedOne(t, h, "ＡＰＩ ｋｅｙ"), embedOne(t, h, "API key")); c < 0.9999 {
		t.Fatalf("full-width vs ASCII cosine = %v, want 1", c)
	}
}

// TestHashSimilarity checks the promise of lexical quality: a text is closer
// to one that shares its words, identifiers or CJK characters than to an
// unrelated one.
func TestHashSimilarity(t *testing.T) {
	tests := []struct {
		name            string
		text, near, far string
	}{
		{"shared words", "the connection was refused by the server", "server refused the connection", "I like eating apples in autumn"},
		{"preference", "user prefers dark mode in the editor", "dark mode preference", "deploy with a kubernetes helm chart"},
		{"word forms", "connect to the database", "connection to databases failed", "the cat sleeps on the sofa"},
		{"typo", "recieve the pacakge", "receive the package", "send a letter"},
		{"chinese", "我喜欢喝咖啡", "我喜欢咖啡", "今天下雨"},
		{"japanese", "コーヒーが好きです", "コーヒーを飲む", "雨が降る"},
		{"korean", "나는 커피를 좋아한다", "커피를 좋아해요", "오늘은 비가 온다"},
		{"mixed script", "用 Redis 做缓存", "Redis 缓存配置", "数据库迁移"},
		{"accents", "café résumé", "un café et un résumé", "bicycle"},
	}
	h := NewHash(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := embedOne(t, h, tt.text)
			near, far := cosine(v, embedOne(t, h, tt.near)), cosine(v, embedOne(t, h, tt.far))
			if near <= far {
				t.Fatalf("cosine to %q = %.3f, not above cosine to %q = %.3f", tt.near, near, tt.far, far)
			}
			if near < 0.1 {
				t.Fatalf("cosine to %q = %.3f, want a clear match", tt.near, near)
			}
		})
	}
}

// TestHashIdentifiers checks that identifiers are matched whole and by
// their parts: an exact identifier beats its parts, which beat nothing.
func TestHashIdentifiers(t *testing.T) {
	tests := []struct {
		query, exact, parts, unrelated string
	}{
		{"ERR_CONN_RESET", "got ERR_CONN_RESET from the proxy", "the conn got a reset err", "the proxy is fine"},
		{"config.yaml", "edit config.yaml to change the port", "the yaml config changes the port", "restart the service"},
		{"src/store/sqlite.go", "bug in src/store/sqlite.go line 40", "the sqlite store source", "frontend styling"},
		{"E1234", "compiler error E1234 again", "compiler error E1235 again", "all good"},
	}
	h := NewHash(0)
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q := embedOne(t, h, tt.query)
			exact := cosine(q, embedOne(t, h, tt.exact))
			parts := cosine(q, embedOne(t, h, tt.parts))
			unrelated := cosine(q, embedOne(t, h, tt.unrelated))
			if !(exact > parts && exact > unrelated) {
				t.Fatalf("exact %.3f, parts %.3f, unrelated %.3f: want exact highest", exact, parts, unrelated)
			}
			if exact < 0.3 {
				t.Fatalf("exact match cosine %.3f, want >= 0.3", exact)
			}
		})
	}
}

func TestHashRepetitionIsDamped(t *testing.T) {
	h := NewHash(0)
	base := embedOne(t, h, "coffee tea")
	once := cosine(base, embedOne(t, h, "coffee"))
	many := cosine(embedOne(t, h, "coffee coffee coffee coffee coffee coffee coffee coffee tea"), embedOne(t, h, "coffee"))
	// Linear tf would give ~0.99 here; damped tf keeps tea relevant.
	if many > 0.95 || many <= once {
		t.Fatalf("repeated word: cosine %.3f (single mention %.3f); want more but well below 1", many, once)
	}
}

func TestHashConcurrent(t *testing.T) {
	h := NewHash(0)
	texts := []string{"alpha beta", "我喜欢咖啡", "ERR_CONN_RESET", "", "config.yaml changes"}
	want, err := h.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for range 200 {
				got, err := h.Embed(context.Background(), texts)
				if err != nil {
					errs <- err
					return
				}
				for i := range got {
					for j := range got[i] {
						if got[i][j] != want[i][j] {
							errs <- fmt.Errorf("text %d differs at %d", i, j)
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestHashCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewHash(0).Embed(ctx, []string{"x"}); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestHashLongAndOddInput(t *testing.T) {
	h := NewHash(0)
	long := make([]byte, 0, 1<<20)
	for len(long) < 1<<20 {
		long = append(long, "lorem ipsum dolor sit amet 数据库 "...)
	}
	odd := []string{
		string(long),
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"._-/", "a.", ".a", "-x-", "a__b", "İstanbul ǅemal", "\u0301\u0301", "\x00\x01\x02",
	}
	for _, text := range odd {
		if n := norm(embedOne(t, h, text)); math.Abs(n-1) > 1e-5 {
			t.Fatalf("%.20q: norm %v", text, n)
		}
	}
}

func TestHashAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	h := NewHash(0)
	texts := []string{"The user prefers dark mode and uses ERR_CONN_RESET in config.yaml; 我喜欢咖啡."}
	h.Embed(context.Background(), texts) // warm the pool
	// One slice of vectors plus one vector: nothing per token.
	if n := testing.AllocsPerRun(100, func() { h.Embed(context.Background(), texts) }); n > 2 {
		t.Fatalf("Embed allocates %v times per call, want <= 2", n)
	}
}

func BenchmarkHashEmbed(b *testing.B) {
	// ~100-character texts, a batch at a time as a re-embed would send.
	base := []string{
		"The user prefers dark mode in the editor and wants compact line spacing in every terminal too.",
		"Deploys go through the staging cluster first; never push straight to production on a Friday!",
		"Got ERR_CONN_RESET from the proxy when config.yaml had the wrong upstream port for the API.",
		"我喜欢喝咖啡，不加糖。每天早上一杯，下午不喝，因为会睡不着觉。周末偶尔喝茶，有时候喝果汁或者牛奶。",
		"Decision: use SQLite with WAL for the store, one writer connection and a pool of read connections.",
		"Lesson: always check the vector dimensions before comparing embeddings from two different models.",
	}
	texts := make([]string, 64)
	chars := 0
	for i := range texts {
		texts[i] = fmt.Sprintf("%s #%d", base[i%len(base)], i)
		chars += len([]rune(texts[i]))
	}
	h := NewHash(0)
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, err := h.Embed(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(texts))/time.Since(start).Seconds(), "texts/s")
	b.ReportMetric(float64(chars)/float64(len(texts)), "chars/text")
}
