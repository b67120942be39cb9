package migrate

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// script writes an executable shell script (a fake node or npm).
func script(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeNode answers --version with v20.0.0 and runs the exporter as body.
func fakeNode(t *testing.T, body string) string {
	return script(t, "node", `if [ "$1" = "--version" ]; then echo v20.0.0; exit 0; fi
`+body)
}

func TestPrepareInstallsOnce(t *testing.T) {
	calls := filepath.Join(t.TempDir(), "calls")
	npm := script(t, "npm", `echo "$@" >> `+calls+`
test -f package-lock.json || exit 9
mkdir -p node_modules/@lancedb/lancedb
`)
	var notes []string
	ex := &Exporter{CacheDir: t.TempDir(), NPM: npm, Notify: func(s string) { notes = append(notes, s) }}
	dir, err := ex.Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if dir != Dir(ex.CacheDir) || !strings.HasSuffix(dir, "lancedb-export-"+Version()) {
		t.Fatalf("dir %s", dir)
	}
	for _, n := range []string{"export.mjs", "lib.mjs", "package.json", "package-lock.json", "node_modules/@lancedb/lancedb"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if len(notes) == 0 || !strings.Contains(notes[0], "first use: installing") || !strings.Contains(notes[0], LanceDBPackage) {
		t.Errorf("notes %q", notes)
	}
	if _, err := ex.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(calls)
	if got := strings.TrimSpace(string(b)); got != "ci --omit=dev --no-audit --no-fund --loglevel=error" {
		t.Fatalf("npm ran %q, want one npm ci", got)
	}
	// Nothing but the entry is left in the cache.
	ents, _ := os.ReadDir(ex.CacheDir)
	if len(ents) != 1 {
		t.Fatalf("cache holds %v", ents)
	}
}

func TestPrepareOffline(t *testing.T) {
	npm := script(t, "npm", "echo 'npm error code ENOTFOUND' >&2; exit 1\n")
	ex := &Exporter{CacheDir: t.TempDir(), NPM: npm}
	_, err := ex.Prepare(context.Background())
	var me *Error
	if !errors.As(err, &me) || me.Kind != InstallFailed {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(me.Message, "npm registry reachable") || !strings.Contains(me.Message, "ENOTFOUND") || me.Hint == "" {
		t.Fatalf("message %q hint %q", me.Message, me.Hint)
	}
	ents, _ := os.ReadDir(ex.CacheDir)
	if len(ents) != 0 {
		t.Fatalf("a failed install left %v", ents)
	}
}

func TestNoNode(t *testing.T) {
	for name, node := range map[string]string{
		"missing":   filepath.Join(t.TempDir(), "no-node"),
		"too old":   script(t, "node", "echo v16.20.0\n"),
		"no answer": script(t, "node", "exit 1\n"),
	} {
		t.Run(name, func(t *testing.T) {
			ex := &Exporter{CacheDir: t.TempDir(), Node: node}
			_, err := ex.Count(context.Background(), t.TempDir())
			var me *Error
			if !errors.As(err, &me) || me.Kind != NoNode || !strings.Contains(me.Hint, "Node.js 18 or newer") {
				t.Fatalf("err %v", err)
			}
		})
	}
}

// seeded is an Exporter whose cache entry is ready (no npm) and whose node
// is a fake running body.
func seeded(t *testing.T, body string) *Exporter {
	t.Helper()
	root := t.TempDir()
	if _, err := SeedCache(root, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return &Exporter{CacheDir: root, Node: fakeNode(t, body), NPM: "/nonexistent"}
}

func TestCountAndExport(t *testing.T) {
	ex := seeded(t, `case "$*" in
*--count*) echo '{"rows":3,"dims":4,"columns":["id"]}' ;;
*--no-vectors*) echo '{"id":"a"}'; echo 'exported 1 rows' >&2 ;;
*) echo '{"id":"a","vector":[1]}' ;;
esac
`)
	info, err := ex.Count(context.Background(), "/x")
	if err != nil || info.Rows != 3 || info.Dims != 4 || info.Path != "/x" {
		t.Fatalf("%+v %v", info, err)
	}
	var notes []string
	ex.Notify = func(s string) { notes = append(notes, s) }
	rc, err := ex.Export(context.Background(), "/x", ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	if err := rc.Close(); err != nil || string(b) != "{\"id\":\"a\"}\n" {
		t.Fatalf("%q %v", b, err)
	}
	if len(notes) != 1 || notes[0] != "exporter: exported 1 rows" {
		t.Fatalf("notes %q", notes)
	}
}

func TestExportFailures(t *testing.T) {
	ex := seeded(t, "echo 'error: /x has no table memories (tables: none)' >&2; exit 3\n")
	_, err := ex.Count(context.Background(), "/x")
	var me *Error
	if !errors.As(err, &me) || me.Kind != NoStore || me.Message != "/x has no table memories (tables: none)" {
		t.Fatalf("err %#v", err)
	}
	ex = seeded(t, "echo '{\"id\":\"a\"}'; echo 'error: lance file corrupt' >&2; exit 1\n")
	rc, err := ex.Export(context.Background(), "/x", ExportOptions{Vectors: true})
	if err != nil {
		t.Fatal(err)
	}
	err = rc.Close() // without reading: Close drains and waits
	if !errors.As(err, &me) || me.Kind != ExportFailed || !strings.Contains(me.Message, "lance file corrupt") {
		t.Fatalf("err %v", err)
	}
}

func TestReadOpenClawConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "openclaw.json")
	doc := `{
  // OpenClaw's config is JSON5
  "plugins": {
    "slots": { "memory": "memory-lancedb-pro" },
    "entries": {
      "memory-lancedb-pro": {
        "enabled": true,
        "config": {
          "embedding": { "provider": "openai-compatible", "apiKey": "${OPENAI_API_KEY}", "model": "text-embedding-3-small", "dimensions": 1536, },
          /* where the store is */
          "dbPath": "~/mem/lancedb-pro",
          "note": "a // not a comment",
        },
      },
    },
  },
}`
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := ReadOpenClawConfig(p, "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	if sc != (SourceConfig{Model: "text-embedding-3-small", Dimensions: 1536, DBPath: "/home/u/mem/lancedb-pro"}) {
		t.Fatalf("%+v", sc)
	}
	if err := os.WriteFile(p, []byte(`{"plugins":{"entries":{}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadOpenClawConfig(p, "/home/u"); err == nil || !strings.Contains(err.Error(), "--source-model") {
		t.Fatalf("err %v", err)
	}
}

func TestDefaultLocations(t *testing.T) {
	got := DefaultLocations("/h")
	want := []string{"/h/.openclaw/memory/lancedb-pro", "/h/.openclaw/memory/lancedb", "/h/.claude/memory/lancedb"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("%v", got)
	}
}
