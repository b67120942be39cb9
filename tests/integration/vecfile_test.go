package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// importWords imports n rows of random made-up words (ids prefix000000 on)
// with the hash embedder, as `trove import` of a JSON Lines file.
func importWords(t testing.TB, e *env, n int, prefix string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(len(prefix))))
	syl := []string{"ka", "lo", "mi", "ner", "to", "vas", "pel", "qui", "ra", "sun", "dor", "fen", "gal", "hut", "jin", "mor", "pax", "ruv", "tel", "zan"}
	words := make([]string, 20000)
	for i := range words {
		var b strings.Builder
		for range 2 + rng.IntN(3) {
			b.WriteString(syl[rng.IntN(len(syl))])
		}
		words[i] = b.String()
	}
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	for i := range n {
		text := make([]string, 8+rng.IntN(22))
		for j := range text {
			text[j] = words[rng.IntN(len(words))]
		}
		_ = enc.Encode(map[string]any{"id": fmt.Sprintf("%s%06d", prefix, i), "text": strings.Join(text, " "),
			"category": "fact", "scope": "global", "importance": 0.5})
	}
	file := filepath.Join(filepath.Dir(e.db), "rows.jsonl")
	if err := os.WriteFile(file, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok("import", file, "--batch-size", "2000")
}

type searchOut struct {
	Results []struct {
		Memory struct {
			ID string `json:"id"`
		} `json:"memory"`
		Sources struct {
			Vector *float64 `json:"vector"`
		} `json:"sources"`
	} `json:"results"`
}

// Search processes start from the index file that earlier ones wrote while
// a live writer adds and changes rows, and never serve an old vector: a
// row updated by one process is found by its new text's vector by the
// next, whether the file is current, behind, or being replaced. A damaged
// file is reported, rebuilt and replaced.
func TestIndexFileAcrossProcesses(t *testing.T) {
	e := newEnv(t)
	importWords(t, e, 3000, "m")
	file := e.db + ".vecindex"
	e.ok("search", "anything at all")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the first search left no index file: %v", err)
	}
	stop := startLiveWriter(t, e, 2*time.Millisecond)
	for k := range 12 {
		id := fmt.Sprintf("m%06d", k*211)
		text := fmt.Sprintf("zebra%d quokka%d lantern%d harbour%d", k, k, k, k)
		e.ok("update", id, "--text", text)
		var out searchOut
		if err := json.Unmarshal([]byte(e.ok("search", text, "--json", "--limit", "3")), &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Results) == 0 || out.Results[0].Memory.ID != id || out.Results[0].Sources.Vector == nil || *out.Results[0].Sources.Vector < 0.99 {
			t.Fatalf("round %d: searching the new text of %s gave %+v: the index did not hold its new vector", k, id, out.Results)
		}
	}
	if _, failed := stop(); failed > 0 {
		t.Fatalf("%d live writes failed", failed)
	}

	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Replaced by rename, as the file must only ever be (a process may
	// have it mapped): a truncated file in its place.
	if err := os.WriteFile(file+".test", good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".test", file); err != nil {
		t.Fatal(err)
	}
	r := e.run("search", "zebra3 quokka3")
	if r.code != 0 || !strings.Contains(r.err, "vector index file") || !strings.Contains(r.err, "rebuilt") {
		t.Fatalf("search over a truncated index file: exit %d, stderr %q", r.code, r.err)
	}
	if r = e.run("search", "zebra3 quokka3"); r.code != 0 || r.err != "" {
		t.Fatalf("the search after the rebuild: exit %d, stderr %q", r.code, r.err)
	}
}

// delete --purge erases a memory's vector and id from the index file as
// from the store: the purge removes the file (and temporary ones), and
// the next search writes one without the row.
func TestVecFilePurge(t *testing.T) {
	e := newEnv(t)
	importWords(t, e, 500, "m")
	file := e.db + ".vecindex"
	e.ok("search", "anything at all")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the first search left no index file: %v", err)
	}
	if err := os.WriteFile(file+".tmp-1", []byte("a temporary file"), 0o600); err != nil {
		t.Fatal(err)
	}
	const gone = "m000123"
	e.ok("delete", gone, "--purge")
	for _, f := range []string{file, file + ".tmp-1"} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("after the purge %s is still there (%v)", f, err)
		}
	}
	e.ok("search", "anything at all")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the search after the purge wrote no index file: %v", err)
	}
	if strings.Contains(string(raw), gone) || !strings.Contains(string(raw), "m000124") {
		t.Fatal("the index file written after the purge holds the purged id")
	}
}

// BenchmarkOneShotSearch times `trove search` as a new process over a
// store of 10k rows (100k with -long; hash embedder, 384 dimensions):
// without the vector index file (every vector read and encoded, then the
// file written), with it, and with it 1% behind the store. It prints the
// median wall time of each.
//
//	go test -run '^$' -bench OneShotSearch -benchtime 1x ./tests/integration/
func BenchmarkOneShotSearch(b *testing.B) {
	sizes := []int{10_000}
	if *long {
		sizes = append(sizes, 100_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			e := newEnv(b)
			importWords(b, e, n, "m")
			file := e.db + ".vecindex"
			timed := func(prep func()) float64 {
				var ds []time.Duration
				for range 7 {
					prep()
					r := e.run("search", "mitoto sunpaxkara lomifen")
					if r.code != 0 {
						b.Fatalf("search: %s", r.err)
					}
					ds = append(ds, r.dur)
				}
				slices.Sort(ds)
				return float64(ds[len(ds)/2].Microseconds()) / 1000
			}
			for range b.N {
				noFile := timed(func() { os.Remove(file) })
				withFile := timed(func() {})
				batch := 0
				behind := timed(func() {
					// 1% of the rows are new since the file was written,
					// under the count that makes a search rewrite it.
					os.Remove(file)
					e.ok("search", "write the file")
					batch++
					importWords(b, e, n/100, fmt.Sprintf("x%d-", batch))
				})
				b.ReportMetric(noFile, "nofile_ms")
				b.ReportMetric(withFile, "file_ms")
				b.ReportMetric(behind, "behind_ms")
			}
		})
	}
}
