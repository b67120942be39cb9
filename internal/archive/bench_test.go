package archive

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
)

// benchFile is a generated JSON Lines file of n rows without vectors, the
// shape of a trove export taken without --with-vectors.
func benchFile(n int) []byte {
	var buf bytes.Buffer
	scopes := []string{"global", "agent:main", "user:alice", "project:x"}
	words := []string{"prefers", "dark", "mode", "deploys", "on", "thursday", "evening", "after", "review", "postgres", "cluster", "owner", "alice", "team", "lead"}
	for i := range n {
		text := ""
		for j := range 12 {
			text += words[(i*7+j*3)%len(words)] + " "
		}
		fmt.Fprintf(&buf, `{"id":"bench-%07d","text":"%s#%d","category":"fact","scope":"%s","importance":0.6,"created_at":%d,"updated_at":%d,"revision":1,"format":%d,"metadata":{"source":"bench","memory_category":"%s","l0_abstract":"row %d"}}`+"\n",
			i, text, i, scopes[i%len(scopes)], 1700000000000+int64(i), 1700000000000+int64(i), i%2, []string{"", "cases"}[i%2], i)
	}
	return buf.Bytes()
}

// BenchmarkImport imports 10,000 rows into a fresh SQLite store (its
// default synchronous=full: every batch commit is durable), embedding each
// with the hash embedder (384 dimensions). It reports rows/s.
func BenchmarkImport(b *testing.B) {
	const rows = 10000
	data := benchFile(rows)
	emb := embedding.NewHash(embedding.DefaultHashDimensions)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s := openStoreSync(b, "full")
		im := &Importer{Store: s, Embedder: emb, Access: memory.Owner()}
		b.StartTimer()
		rep, err := im.Import(context.Background(), bytes.NewReader(data))
		if err != nil || rep.Imported != rows {
			b.Fatalf("import: %v %+v", err, rep)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkDecode measures parsing and validation alone.
func BenchmarkDecode(b *testing.B) {
	const rows = 10000
	data := benchFile(rows)
	b.SetBytes(int64(len(data)))
	for range b.N {
		if err := Decode(bytes.NewReader(data), func(Item) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
