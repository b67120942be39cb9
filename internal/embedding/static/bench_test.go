package static

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchTexts are short memories, the size agents store and recall.
var benchTexts = []string{
	"The user prefers dark mode in every editor.",
	"Deploys go out on Tuesdays after the billing review.",
	"Alice owns the payments service; ask her before schema changes.",
	"We decided to keep SQLite as the default store.",
	"Remember: the staging database is reset every night at 02:00 UTC.",
	"Bob is allergic to peanuts.",
	"Use vim keybindings when suggesting shortcuts.",
	"The quarterly report is due on March 31st.",
	"Customer X asked for invoices in EUR, not USD.",
	"Lesson learned: always run the migration on a copy first.",
	"Le client préfère être contacté par e-mail.",
	"用户喜欢简洁的回答。",
}

// writeBenchModel writes a model at potion-base-8M's scale: a WordPiece
// vocabulary of 30,000 tokens (every one- to three-letter piece and its
// continuation, so English words split into several pieces, slower than a
// real vocabulary that knows common words whole) and a 30,000 x 256 F32
// matrix (7.7M parameters, 31 MB).
func writeBenchModel(b *testing.B, dims int) string {
	b.Helper()
	const size = 30000
	vocab := map[string]int{}
	add := func(s string) {
		if _, ok := vocab[s]; !ok && len(vocab) < size {
			vocab[s] = len(vocab)
		}
	}
	for _, s := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
		add(s)
	}
	for c := '!'; c <= '~'; c++ {
		add(string(c))
	}
	letters := "abcdefghijklmnopqrstuvwxyz"
	for _, prefix := range []string{"", "##"} {
		for _, x := range letters {
			add(prefix + string(x))
		}
		for _, x := range letters {
			for _, y := range letters {
				add(prefix + string(x) + string(y))
			}
		}
	}
	for _, prefix := range []string{"", "##"} {
		for _, x := range letters {
			for _, y := range letters {
				for _, z := range letters {
					add(prefix + string(x) + string(y) + string(z))
				}
			}
		}
	}
	dir := filepath.Join(b.TempDir(), "bench-model")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	tj, err := json.Marshal(map[string]any{
		"version": "1.0", "added_tokens": []any{},
		"normalizer":    map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": nil, "lowercase": true},
		"pre_tokenizer": map[string]any{"type": "BertPreTokenizer"},
		"model":         map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": vocab},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TokenizerFile), tj, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"normalize": true}`), 0o644); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 0, size*dims*4)
	for r := 0; r < size; r++ {
		for c := 0; c < dims; c++ {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(math.Sin(float64(r*dims+c)))))
		}
	}
	writeSafetensors(b, filepath.Join(dir, WeightsFile), []testTensor{{"embeddings", "F32", []int{size, dims}, data}})
	return dir
}

// BenchmarkLoad measures loading an 8M-parameter model (the page cache is
// warm: the file was just written).
func BenchmarkLoad(b *testing.B) {
	dir := writeBenchModel(b, 256)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
}

// BenchmarkEmbedShort measures short texts embedded per second on one
// goroutine, so per core.
func BenchmarkEmbedShort(b *testing.B) {
	e, err := Load(writeBenchModel(b, 256))
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	benchEmbed(b, e)
}

func benchEmbed(b *testing.B, e *Embedder) {
	ctx := context.Background()
	if _, err := e.Embed(ctx, benchTexts); err != nil { // touch the pages once
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Embed(ctx, benchTexts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(benchTexts))/b.Elapsed().Seconds(), "texts/s")
}

// BenchmarkEmbedRealModel runs on a model you downloaded, such as
// potion-base-8M: TROVE_BENCH_STATIC_MODEL=/path/to/model go test -bench
// RealModel ./internal/embedding/static
func BenchmarkEmbedRealModel(b *testing.B) {
	dir := os.Getenv("TROVE_BENCH_STATIC_MODEL")
	if dir == "" {
		b.Skip("set TROVE_BENCH_STATIC_MODEL to a model2vec model directory (e.g. potion-base-8M) to run")
	}
	start := time.Now()
	e, err := Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	b.Logf("%+v loaded in %s", e.Info(), time.Since(start))
	benchEmbed(b, e)
}
