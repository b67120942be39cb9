package integration

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchVocab is 4000 made-up words drawn with a Zipf law, so word
// frequencies look like a real corpus: a few very common words, a long
// tail of rare ones.
var benchVocab = func() []string {
	syl := strings.Fields("ba ke ri to mu sa ne lo pi du ga ve zo fi ha ju")
	var out []string
	for a := range syl {
		for b := range syl {
			for c := range syl {
				out = append(out, syl[a]+syl[b]+syl[c])
			}
		}
	}
	return out[:4000]
}()

func benchText(z *rand.Zipf, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = benchVocab[z.Uint64()]
	}
	return strings.Join(w, " ")
}

// BenchmarkServeREST prints REST store and search throughput and p50/p99
// latency at 1, 8 and 32 concurrent clients against a real `trove serve
// --http` process over a store of 10k memories (hash embedder, 384
// dimensions, synchronous=full). Each case runs for a fixed time, so run
// it once:
//
//	go test -run '^$' -bench ServeREST -benchtime 1x ./tests/integration/
func BenchmarkServeREST(b *testing.B) {
	const seed = 10000
	e := newEnv(b)
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.1, 2, uint64(len(benchVocab)-1))
	var sb strings.Builder
	for i := range seed {
		fmt.Fprintf(&sb, `{"id":"seed-%05d","text":%q,"category":"fact","scope":"global","created_at":%d}`+"\n",
			i, benchText(z, 8+r.IntN(12)), 1700000000000+int64(i))
	}
	file := filepath.Join(b.TempDir(), "seed.jsonl")
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	e.ok("import", file)
	s := e.serveHTTP(b, nil)
	defer s.stop()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

	recallOK := true
	if r, _ := s.do("POST", "/v1/search", "", `{"query":"bakeri"}`); r.status != 200 {
		recallOK = false
		fmt.Fprintf(os.Stderr, "search unavailable in this build (%d): only store is measured\n", r.status)
	}
	dur := 3 * time.Second
	var table strings.Builder
	fmt.Fprintf(&table, "\nREST on %d memories, %s per case:\n%-7s %7s %9s %8s %8s %7s\n", seed, dur, "op", "clients", "req/s", "p50 ms", "p99 ms", "errors")
	// Search first, so it runs on exactly the seeded store.
	for _, op := range []string{"search", "store"} {
		if op == "search" && !recallOK {
			continue
		}
		for _, clients := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("%s/clients=%d", op, clients), func(b *testing.B) {
				var mu sync.Mutex
				var lat []time.Duration
				var errs atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				deadline := start.Add(dur)
				for c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						rr := rand.NewZipf(rand.New(rand.NewPCG(uint64(c), 7)), 1.1, 2, uint64(len(benchVocab)-1))
						var mine []time.Duration
						for time.Now().Before(deadline) {
							var path, body string
							if op == "store" {
								path, body = "/v1/memories", fmt.Sprintf(`{"text":%q}`, benchText(rr, 10))
							} else {
								path, body = "/v1/search", fmt.Sprintf(`{"query":%q,"limit":5}`, benchText(rr, 3))
							}
							t0 := time.Now()
							req, _ := http.NewRequest("POST", s.url+path, bytes.NewReader([]byte(body)))
							req.Header.Set("Content-Type", "application/json")
							resp, err := hc.Do(req)
							if err == nil {
								_, _ = io.Copy(io.Discard, resp.Body)
								resp.Body.Close()
								if resp.StatusCode >= 300 {
									err = fmt.Errorf("status %d", resp.StatusCode)
								}
							}
							if err != nil {
								errs.Add(1)
								continue
							}
							mine = append(mine, time.Since(t0))
						}
						mu.Lock()
						lat = append(lat, mine...)
						mu.Unlock()
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				rps := float64(len(lat)) / elapsed.Seconds()
				b.ReportMetric(rps, "req/s")
				b.ReportMetric(pct(lat, 50), "p50-ms")
				b.ReportMetric(pct(lat, 99), "p99-ms")
				b.ReportMetric(float64(errs.Load()), "errors")
				fmt.Fprintf(&table, "%-7s %7d %9.0f %8.2f %8.2f %7d\n", op, clients, rps, pct(lat, 50), pct(lat, 99), errs.Load())
			})
		}
	}
	fmt.Fprint(os.Stderr, table.String())
}
