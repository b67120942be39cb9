package integration

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkMaintainLiveWriter runs `trove maintain` (the built binary)
// over a store of aged rows, every one of which moves a tier, while a
// live-writer process stores a memory every 20 ms, and reports the live
// writer's latency idle and during the pass, its failed writes, and the
// pass's time and per-write lock hold. The default is 100,000 rows
// (MAINTAIN_BENCH_ROWS overrides it; MAINTAIN_BENCH_BATCH sets the moves
// per write).
//
//	go test -run '^$' -bench MaintainLiveWriter -benchtime 1x -timeout 30m ./tests/integration/
func BenchmarkMaintainLiveWriter(b *testing.B) {
	rows := 100_000
	if v := os.Getenv("MAINTAIN_BENCH_ROWS"); v != "" {
		fmt.Sscan(v, &rows)
	}
	var args []string
	if v := os.Getenv("MAINTAIN_BENCH_BATCH"); v != "" {
		args = append(args, "--batch", v) // moves per write (default 200)
	}
	for range b.N {
		b.StopTimer()
		e := newEnv(b)
		seedAged(b, e, rows)

		stop := startLiveWriter(b, e, 20*time.Millisecond)
		time.Sleep(3 * time.Second)
		idle, idleFailed := stop()

		stop = startLiveWriter(b, e, 20*time.Millisecond)
		time.Sleep(200 * time.Millisecond)
		b.StartTimer()
		out := maintainJSON(b, e, args...)
		b.StopTimer()
		during, failed := stop()
		if out.Transitions == 0 {
			b.Fatalf("the pass moved nothing: %+v", out)
		}
		b.ReportMetric(pct(idle, 50), "idle-p50-ms")
		b.ReportMetric(pct(idle, 99), "idle-p99-ms")
		b.ReportMetric(pct(during, 50), "during-p50-ms")
		b.ReportMetric(pct(during, 99), "during-p99-ms")
		b.ReportMetric(pct(during, 100), "during-max-ms")
		b.ReportMetric(float64(failed+idleFailed), "failed-writes")
		b.ReportMetric(float64(out.Transitions), "moves")
		b.ReportMetric(float64(out.DurationMS)/1000, "pass-s")
		b.ReportMetric(float64(out.MaxBatchMS), "max-batch-ms")
		fmt.Fprintf(os.Stderr, "maintain over %d rows: %d moves in %d ms, %d writes, lock %.0f ms total, max batch %.1f ms; live writer idle p99 %.1f ms, during p99 %.1f ms, %d failed\n",
			rows, out.Transitions, out.DurationMS, out.Batches, out.LockMS, out.MaxBatchMS, pct(idle, 99), pct(during, 99), failed+idleFailed)
	}
}
