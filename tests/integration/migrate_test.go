package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/migrate"
)

// exporterPkg is the LanceDB exporter's npm package in this repository;
// CI runs npm ci there (.ci/run).
const exporterPkg = "../../integrations/lancedb-export"

// lanceEnv is an env whose trove finds the exporter ready in its cache
// (seeded with the repository's node_modules, so no npm install runs),
// or skips the test when Node or those node_modules are missing.
func lanceEnv(t testing.TB) (*env, string) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the LanceDB exporter needs Node 18 or newer (CI installs it)")
	}
	mods := filepath.Join(exporterPkg, "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "@lancedb", "lancedb", "package.json")); err != nil {
		t.Skip("the exporter's node_modules are missing: run npm ci in integrations/lancedb-export (CI does)")
	}
	e := newEnv(t)
	cache := filepath.Join(t.TempDir(), "cache")
	if _, err := migrate.SeedCache(filepath.Join(cache, "trove"), mods); err != nil {
		t.Fatal(err)
	}
	e.extra = append(e.extra, "XDG_CACHE_HOME="+cache)
	return e, t.TempDir()
}

// makeLanceStore builds a LanceDB store in memory-lancedb-pro's schema with
// the exporter's test script.
func makeLanceStore(t testing.TB, dir string, args ...string) map[string]int {
	t.Helper()
	cmd := exec.Command("node", append([]string{filepath.Join(exporterPkg, "test", "make-store.mjs"), dir}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("make-store: %v\n%s", err, stderr)
	}
	var r struct {
		Shapes map[string]int `json:"shapes"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("make-store said %q: %v", out, err)
	}
	return r.Shapes
}

type migrateReport struct {
	SourceRows int    `json:"source_rows"`
	Vectors    string `json:"vectors"`
	Import     struct {
		Imported, Skipped, Failed int
	} `json:"import"`
}

type verifyReport struct {
	SourceRows  int            `json:"source_rows"`
	Same        int            `json:"same"`
	Adjusted    int            `json:"adjusted"`
	Different   int            `json:"different"`
	Missing     int            `json:"missing"`
	Adjustments map[string]int `json:"adjustments"`
	Differences []struct {
		ID, Field, Expected, Trove string
	} `json:"differences"`
}

func decodeJSON[T any](t testing.TB, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

// TestMigrateLanceDB moves a 2,000-row store of rows that need no
// adjustment from LanceDB into trove with the built binary, vectors kept,
// verifies it row by row, migrates it again (nothing added), and sees
// verify find a real difference and exit 1.
func TestMigrateLanceDB(t *testing.T) {
	e, dir := lanceEnv(t)
	src := filepath.Join(dir, "lancedb-pro")
	makeLanceStore(t, src, "--shapes", "clean")

	r := decodeJSON[migrateReport](t, e.ok("migrate", "--from", src, "--source-model", "trove-hash-v1", "--json"))
	if r.SourceRows != 2000 || r.Import.Imported != 2000 || r.Import.Failed != 0 || r.Vectors != "kept" {
		t.Fatalf("migrate: %+v", r)
	}
	v := decodeJSON[verifyReport](t, e.ok("migrate", "verify", "--from", src, "--json"))
	if v.SourceRows != 2000 || v.Same != 2000 || v.Different != 0 {
		t.Fatalf("verify: %+v", v)
	}
	rows := e.exportAll()
	if len(rows) != 2000 {
		t.Fatalf("trove has %d rows, want 2000", len(rows))
	}

	again := decodeJSON[migrateReport](t, e.ok("migrate", "--from", src, "--json"))
	if again.Import.Imported != 0 || again.Import.Skipped != 2000 || again.Vectors != "re-embedded" {
		t.Fatalf("second migrate: %+v", again)
	}

	// A real difference: trove's copy of a row changed since the import.
	e.ok("update", "00000000-0000-4000-8000-000000000007", "--text", "changed in trove")
	res := e.run("migrate", "verify", "--from", src)
	if res.code != 1 || !strings.Contains(res.out, "00000000-0000-4000-8000-000000000007 text") ||
		!strings.Contains(res.out, "1 different") {
		t.Fatalf("verify after a change: exit %d\n%s%s", res.code, res.out, res.err)
	}
	e.checkStore()
}

// TestMigrateLanceDBEveryShape moves a 2,000-row store holding every
// legacy shape memory-lancedb-pro's stores hold and wants verify to find
// zero differences, each shape reported as its adjustment.
func TestMigrateLanceDBEveryShape(t *testing.T) {
	e, dir := lanceEnv(t)
	src := filepath.Join(dir, "lancedb-pro")
	shapes := makeLanceStore(t, src)

	r := decodeJSON[migrateReport](t, e.ok("migrate", "--from", src, "--legacy-importance", "--json"))
	if r.SourceRows != 2000 || r.Import.Imported != 2000 || r.Import.Failed != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	v := decodeJSON[verifyReport](t, e.ok("migrate", "verify", "--from", src, "--json"))
	if v.Different != 0 || v.SourceRows != 2000 {
		t.Fatalf("verify: %+v", v)
	}
	// Each legacy shape of the test store, and the adjustment it must get.
	want := map[string]int{
		migrate.ScopeDefaulted:      shapes["null_scope"] + shapes["blank_scope"],
		migrate.TimestampSeconds:    shapes["seconds_timestamp"],
		migrate.ImportanceLegacy:    shapes["legacy_importance"],
		migrate.ImportanceClamped:   shapes["importance_over_one"],
		migrate.ImportanceInvalid:   shapes["nan_importance"],
		migrate.MetadataNotJSON:     shapes["non_json_metadata"] + shapes["array_metadata"],
		migrate.CategoryUnknown:     shapes["unknown_category"],
		migrate.MetadataFolded:      shapes["camel_metadata"],
		migrate.LastAccessedSeconds: shapes["seconds_last_accessed"],
	}
	for reason, n := range want {
		if n == 0 || v.Adjustments[reason] != n {
			t.Errorf("adjusted (%s): %d rows, want %d", reason, v.Adjustments[reason], n)
		}
	}
	// custom and reflection scopes are kept as written: no adjustment.
	rows := e.exportAll()
	for _, sc := range []string{"shared-team", "project-x", "reflection:agent:main"} {
		found := false
		for _, m := range rows {
			if string(m.Scope) == sc {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no row in scope %s", sc)
		}
	}
}
