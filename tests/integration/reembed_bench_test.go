package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkReembedLiveWriter moves 20k rows from the hash embedder to a
// fake OpenAI-compatible model (50 ms per batch of 64, 4 in flight) with
// `trove reembed` (the built binary) while a live-writer process stores
// and updates every 20 ms, as BenchmarkMaintainLiveWriter does. It prints
// the live writer's latency idle and during the reembed, its failed
// writes, the reembed's rows/s against the embedder-bound ideal
// (4 × 64 / 50 ms = 5,120; the job's rows/s leaves out the paced clear
// of the old vectors, whose time is printed apart), the switch's lock
// hold and the clear's longest write; then it checks that every row, the live writer's
// included, ends with the new model's vector of its text.
// REEMBED_BENCH_ROWS overrides the row count.
//
//	go test -run '^$' -bench ReembedLiveWriter -benchtime 1x -timeout 30m ./tests/integration/
func BenchmarkReembedLiveWriter(b *testing.B) {
	rows := 20_000
	if v := os.Getenv("REEMBED_BENCH_ROWS"); v != "" {
		fmt.Sscan(v, &rows)
	}
	const batch, conc, delay = 64, 4, 50 * time.Millisecond
	for range b.N {
		b.StopTimer()
		api := newFakeAPI(b, delay)
		e := newEnv(b)
		seedRows(b, e, rows)

		stop := startLiveWriter(b, e, 20*time.Millisecond)
		time.Sleep(3 * time.Second)
		idle, idleFailed := stop()

		stopAt := startLiveWriterAt(b, e, 20*time.Millisecond)
		time.Sleep(200 * time.Millisecond)
		b.StartTimer()
		r := e.with(api.env("fake-embed")...).run("reembed", "--provider", "openai", "--model", "fake-embed",
			"--batch-size", fmt.Sprint(batch), "--concurrency", fmt.Sprint(conc), "--json")
		b.StopTimer()
		end := time.Now()
		samples, failed := stopAt()
		if r.code != 0 {
			b.Fatalf("reembed: %s%s", r.out, r.err)
		}
		var rep struct {
			Embedded   int     `json:"embedded"`
			Pending    int     `json:"pending"`
			Queued     int     `json:"queued"`
			Cleared    int     `json:"cleared"`
			RowsPerSec float64 `json:"rows_per_second"`
			SwitchMS   float64 `json:"switch_ms"`
			ClearMaxMS float64 `json:"clear_max_ms"`
			ClearMS    int64   `json:"clear_ms"`
			DurationMS int64   `json:"duration_ms"`
		}
		if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
			b.Fatalf("report %q: %v", r.out, err)
		}
		// The writes during the run, and apart those during the embedding
		// (up to the switch and the pending rows) and during the clear
		// (its last clear_ms, give or take the process's exit).
		clearFrom := end.Add(-time.Duration(rep.ClearMS) * time.Millisecond)
		var during, embedding, clearing []time.Duration
		for _, s := range samples {
			if s.at.After(end) {
				continue
			}
			during = append(during, s.lat)
			if s.at.Before(clearFrom) {
				embedding = append(embedding, s.lat)
			} else {
				clearing = append(clearing, s.lat)
			}
		}
		// What the live writer stored after the job's last pending pass
		// has no vector yet: the new model's trove embeds it.
		if p := e.with(api.env("fake-embed")...).run("reembed", "--pending"); p.code != 0 {
			b.Fatalf("reembed --pending: %s%s", p.out, p.err)
		}
		// The writer alternates store and update, starting with a store.
		checkAllAPI(b, e, rows+(len(idle)+1)/2+(len(samples)+1)/2)

		ideal := float64(conc*batch) / delay.Seconds()
		b.ReportMetric(pct(idle, 50), "idle-p50-ms")
		b.ReportMetric(pct(idle, 99), "idle-p99-ms")
		b.ReportMetric(pct(during, 50), "during-p50-ms")
		b.ReportMetric(pct(during, 99), "during-p99-ms")
		b.ReportMetric(pct(during, 100), "during-max-ms")
		b.ReportMetric(pct(embedding, 99), "embed-p99-ms")
		b.ReportMetric(pct(clearing, 99), "clear-p99-ms")
		b.ReportMetric(float64(failed+idleFailed), "failed-writes")
		b.ReportMetric(rep.RowsPerSec, "rows/s")
		b.ReportMetric(rep.RowsPerSec/ideal*100, "%ideal")
		b.ReportMetric(rep.SwitchMS, "switch-ms")
		b.ReportMetric(rep.ClearMaxMS, "clear-max-ms")
		fmt.Fprintf(os.Stderr, "reembed of %d rows with a live writer: %.0f rows/s, ideal %.0f (%.1f%%), %d ms in all; switch held the lock %.2f ms, clear of %d old vectors at most %.1f ms a write, %d ms paced; "+
			"live writer (%d writes during) p50/p99 idle %.1f/%.1f ms, during %.1f/%.1f ms (max %.1f; p99 while embedding %.1f, while clearing %.1f), %d failed; %d embedded, %d queued by the switch, %d pending embedded\n",
			rows, rep.RowsPerSec, ideal, rep.RowsPerSec/ideal*100, rep.DurationMS, rep.SwitchMS, rep.Cleared, rep.ClearMaxMS, rep.ClearMS,
			len(during), pct(idle, 50), pct(idle, 99), pct(during, 50), pct(during, 99), pct(during, 100), pct(embedding, 99), pct(clearing, 99), failed+idleFailed, rep.Embedded, rep.Queued, rep.Pending)
	}
}
