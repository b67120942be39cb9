package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/upgrade"
)

// startLiveWriter starts a live-writer helper process.
func startLiveWriter(t testing.TB, e *env, interval time.Duration) (stop func() (lat []time.Duration, failed int)) {
	stopRun := startLiveRun(t, e, interval)
	return func() ([]time.Duration, int) {
		r := stopRun()
		return r.lat, r.failed
	}
}

// liveSample is one write of the live writer: when it ended, and its latency.
type liveSample struct {
	at  time.Time
	lat time.Duration
}

// startLiveWriterAt starts a live-writer helper process; stop returns
// each write's latency with the time it ended.
func startLiveWriterAt(t testing.TB, e *env, interval time.Duration) (stop func() (samples []liveSample, failed int)) {
	stopRun := startLiveRun(t, e, interval)
	return func() ([]liveSample, int) {
		r := stopRun()
		return r.samples, r.failed
	}
}

// liveRun is what a live writer saw: each write's latency (in samples,
// with when it ended), its lock figures (the wait for the write lock, and
// the hold: its transaction and commit), and how many writes failed.
type liveRun struct {
	samples           []liveSample
	lat, waits, holds []time.Duration
	failed            int
}

// startLiveRun starts a live-writer helper process; stop ends it and
// returns what it saw.
func startLiveRun(t testing.TB, e *env, interval time.Duration) (stop func() liveRun) {
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = e.environ("TROVE_TEST_HELPER=live-writer", "TROVE_LIVE_INTERVAL="+interval.String())
	out, _ := c.StdoutPipe()
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	micros := func(fields []string) []time.Duration {
		var ds []time.Duration
		for _, f := range fields {
			if us, err := strconv.ParseInt(f, 10, 64); err == nil {
				ds = append(ds, time.Duration(us)*time.Microsecond)
			}
		}
		return ds
	}
	return func() liveRun {
		_ = c.Process.Signal(syscall.SIGTERM)
		var r liveRun
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch f := strings.Fields(line); {
			case strings.HasPrefix(line, "error"):
				r.failed++
				t.Log(line)
			case len(f) > 0 && f[0] == "waits":
				r.waits = micros(f[1:])
			case len(f) > 0 && f[0] == "holds":
				r.holds = micros(f[1:])
			case len(f) == 2: // "<latency µs> <end, unix µs>"
				us, err1 := strconv.ParseInt(f[0], 10, 64)
				at, err2 := strconv.ParseInt(f[1], 10, 64)
				if err1 == nil && err2 == nil {
					lat := time.Duration(us) * time.Microsecond
					r.samples = append(r.samples, liveSample{time.UnixMicro(at), lat})
					r.lat = append(r.lat, lat)
				}
			}
		}
		_ = c.Wait()
		return r
	}
}

func pct(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	c := slices.Clone(ds)
	slices.Sort(c)
	return float64(c[int(float64(len(c)-1)*p/100)].Microseconds()) / 1000
}

// BenchmarkUpgradeLiveWriter reproduces the seed's scenario: a live writer
// storing and updating while an upgrade runs against an LLM answering in
// 500 ms or 2 s. It prints the live writer's latency idle and during the
// upgrade, failed writes, lock acquisitions per batch, and upgrade rows/s
// against the ideal (concurrency ÷ LLM latency).
//
//	go test -run '^$' -bench UpgradeLiveWriter -benchtime 1x ./tests/integration/
func BenchmarkUpgradeLiveWriter(b *testing.B) {
	const conc = 4
	for _, tc := range []struct {
		latency  time.Duration
		rows     int
		interval time.Duration
		name     string
	}{
		{500 * time.Millisecond, 96, 20 * time.Millisecond, "llm=500ms/writer=every20ms"},
		{500 * time.Millisecond, 96, 0, "llm=500ms/writer=flat-out"},
		{2 * time.Second, 32, 20 * time.Millisecond, "llm=2s/writer=every20ms"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b)
			seedLegacy(b, e, tc.rows)
			llm := newFakeLLM(b, tc.latency)

			stop := startLiveWriter(b, e, tc.interval)
			time.Sleep(3 * time.Second)
			idle, idleFailed := stop()

			stop = startLiveWriter(b, e, tc.interval)
			time.Sleep(200 * time.Millisecond)
			// Only the seeded rows: the live writer's own rows (agent:live) are legacy too.
			up, out, errb := e.upgradeCmd(llm, "--json", "--scope", "global", "--concurrency", strconv.Itoa(conc), "--batch-size", "10")
			start := time.Now()
			if err := up.Run(); err != nil {
				b.Fatalf("upgrade: %v\n%s%s", err, out, errb)
			}
			elapsed := time.Since(start)
			during, failed := stop()
			var rep upgrade.Report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				b.Fatal(err)
			}
			rowsPerSec := float64(rep.Upgraded+rep.Fallbacks) / (float64(rep.DurationMS) / 1000)
			ideal := float64(conc) / tc.latency.Seconds()
			b.ReportMetric(pct(idle, 50), "idle-p50-ms")
			b.ReportMetric(pct(idle, 99), "idle-p99-ms")
			b.ReportMetric(pct(during, 50), "during-p50-ms")
			b.ReportMetric(pct(during, 99), "during-p99-ms")
			b.ReportMetric(pct(during, 100), "during-max-ms")
			b.ReportMetric(float64(failed+idleFailed), "failed-writes")
			b.ReportMetric(float64(len(during)), "live-writes")
			b.ReportMetric(float64(rep.LockAcquisition)/float64(max(rep.Batches, 1)), "locks/batch")
			b.ReportMetric(rowsPerSec, "rows/s")
			b.ReportMetric(100*rowsPerSec/ideal, "%-of-ideal")
			b.ReportMetric(rep.LockHoldMS.P99, "hold-p99-ms")
			fmt.Fprintf(os.Stderr, "%s: upgraded %d in %s (process %s), report %+v\n", tc.name, rep.Upgraded, time.Duration(rep.DurationMS)*time.Millisecond, elapsed.Round(time.Millisecond), rep.LockHoldMS)
		})
	}
}
