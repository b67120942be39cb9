package integration

import (
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkMigrateLanceDB moves a memory-lancedb-pro LanceDB store of
// 5,000 rows (384-dimension vectors) into an empty trove with the built
// binary, once keeping the source's vectors (the source model is trove's)
// and once re-embedding every row (the source model is another), and
// reports rows/s for each, export and import together, and for the
// export alone (trove migrate verify reads the whole store through it).
//
//	go test -run '^$' -bench MigrateLanceDB -benchtime 1x -count 3 ./tests/integration/
func BenchmarkMigrateLanceDB(b *testing.B) {
	const rows = 5000
	for _, c := range []struct{ name, model, vectors string }{
		{"kept vectors", "trove-hash-v1", "kept"},
		{"re-embedded", "another-model", "re-embedded"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				e, dir := lanceEnv(b)
				src := filepath.Join(dir, "lancedb-pro")
				makeLanceStore(b, src, "--rows", "5000", "--shapes", "clean")
				b.StartTimer()
				start := time.Now()
				r := decodeJSON[migrateReport](b, e.ok("migrate", "--from", src, "--source-model", c.model, "--json"))
				took := time.Since(start)
				b.StopTimer()
				if r.Import.Imported != rows || r.Vectors != c.vectors {
					b.Fatalf("migrate: %+v", r)
				}
				start = time.Now()
				v := decodeJSON[verifyReport](b, e.ok("migrate", "verify", "--from", src, "--json"))
				verify := time.Since(start)
				if v.Same != rows {
					b.Fatalf("verify: %+v", v)
				}
				b.ReportMetric(rows/took.Seconds(), "migrate_rows/s")
				b.ReportMetric(rows/verify.Seconds(), "verify_rows/s")
				b.StartTimer()
			}
		})
	}
}
