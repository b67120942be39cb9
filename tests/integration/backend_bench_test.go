package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
	"github.com/trove-memory/trove/internal/store/sqlite"
	"github.com/trove-memory/trove/internal/upgrade"
)

// BenchmarkBackendsUpgradeLiveWriter runs the same upgrade (legacy rows,
// --concurrency 4, --batch-size 10, a trove process; 96 rows with an LLM
// answering in 500 ms, and 400 with one answering in 20 ms, where the
// store's share shows) on each backend while a writer in this process inserts
// and then edits a row every 20 ms, and reports upgrade rows/s and the
// writer's latency idle and during the upgrade. PostgreSQL runs when
// TROVE_PG_URL is set.
//
//	TROVE_PG_URL=postgres://... go test -run '^$' -bench BackendsUpgradeLiveWriter -benchtime 1x ./tests/integration/
func BenchmarkBackendsUpgradeLiveWriter(b *testing.B) {
	const conc = 4
	for _, tc := range []struct {
		rows    int
		latency time.Duration
	}{{96, 500 * time.Millisecond}, {400, 20 * time.Millisecond}} {
		for _, be := range []string{"sqlite", "postgres"} {
			backendUpgrade(b, be, conc, tc.rows, tc.latency)
		}
	}
}

func backendUpgrade(b *testing.B, be string, conc, rows int, latency time.Duration) {
	b.Run(fmt.Sprintf("llm=%s/%s", latency, be), func(b *testing.B) {
		e := newEnv(b)
		if be == "postgres" {
			u, err := url.Parse(pgtest.URL(b))
			if err != nil {
				b.Fatal(err)
			}
			e.db = u.String()
		}
		var sb strings.Builder
		for i := range rows {
			fmt.Fprintf(&sb, `{"id":"r%03d","text":"legacy note %03d about the billing service","category":"fact","scope":"global","importance":0.5,"created_at":%d}`+"\n",
				i, i, 1700000000000+int64(i))
		}
		seed := filepath.Join(b.TempDir(), "seed.jsonl")
		if err := os.WriteFile(seed, []byte(sb.String()), 0o600); err != nil {
			b.Fatal(err)
		}
		e.ok("import", seed)
		llm := newFakeLLM(b, latency)
		ctx := context.Background()
		var st store.Store
		var err error
		if be == "postgres" {
			st, err = postgres.Open(ctx, e.db, postgres.Options{Command: "live writer"})
		} else {
			st, err = sqlite.Open(ctx, e.db, sqlite.Options{Command: "live writer"})
		}
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()

		idle, idleFailed := runWriter(b, st, func() { time.Sleep(2 * time.Second) })
		var rep upgrade.Report
		during, failed := runWriter(b, st, func() {
			up, out, errb := e.upgradeCmd(llm, "--json", "--scope", "global", "--concurrency", fmt.Sprint(conc), "--batch-size", "10")
			if err := up.Run(); err != nil {
				b.Fatalf("upgrade: %v\n%s%s", err, out, errb)
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				b.Fatal(err)
			}
		})
		if rep.Upgraded+rep.Fallbacks != rows {
			b.Fatalf("upgraded %d + %d fallbacks of %d rows", rep.Upgraded, rep.Fallbacks, rows)
		}
		rowsPerSec := float64(rep.Upgraded+rep.Fallbacks) / (float64(rep.DurationMS) / 1000)
		b.ReportMetric(rowsPerSec, "upgrade-rows/s")
		b.ReportMetric(100*rowsPerSec/(float64(conc)/latency.Seconds()), "%-of-ideal")
		b.ReportMetric(pct(idle, 50), "idle-p50-ms")
		b.ReportMetric(pct(idle, 99), "idle-p99-ms")
		b.ReportMetric(pct(during, 50), "during-p50-ms")
		b.ReportMetric(pct(during, 99), "during-p99-ms")
		b.ReportMetric(float64(len(during)), "live-writes")
		b.ReportMetric(float64(failed+idleFailed), "failed-writes")
	})
}

// runWriter inserts a row and then edits it every 20 ms while fn runs,
// and returns each write's latency and how many failed.
func runWriter(b *testing.B, st store.Store, fn func()) ([]time.Duration, int) {
	ctx := context.Background()
	stop := make(chan struct{})
	var lat []time.Duration
	var failed int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			m := memory.Memory{Text: fmt.Sprintf("live note %d", i), Scope: "agent:live", Importance: 0.5}
			t0 := time.Now()
			if err := st.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&m) }); err != nil {
				failed++
				b.Log(err)
				continue
			}
			lat = append(lat, time.Since(t0))
			t0 = time.Now()
			err := st.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				cur, err := tx.Get(m.ID)
				if err != nil {
					return err
				}
				cur.Text += " (edited)"
				return tx.Update(&cur)
			})
			if err != nil {
				failed++
				b.Log(err)
				continue
			}
			lat = append(lat, time.Since(t0))
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	return lat, failed
}
