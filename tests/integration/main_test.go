// Package integration runs the real trove binary as separate OS processes
// against one store: the concurrency, crash and cross-process claims are
// proven here, not with goroutines.
//
// The default run is short; -long runs the larger versions.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

var long = flag.Bool("long", false, "run the long versions of the process suites")

// trove is the binary under test, built once by TestMain.
var trove string

func TestMain(m *testing.M) {
	flag.Parse()
	if helper := os.Getenv("TROVE_TEST_HELPER"); helper != "" {
		os.Exit(runHelper(helper))
	}
	dir, err := os.MkdirTemp("", "trove-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	trove = filepath.Join(dir, "trove")
	build := exec.Command("go", "build", "-o", trove, "../../cmd/trove")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build trove:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a store and the settings every process of a test shares.
type env struct {
	t     testing.TB
	db    string
	extra []string
}

func newEnv(t testing.TB) *env {
	dir := t.TempDir()
	return &env{t: t, db: filepath.Join(dir, "trove.db"), extra: []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir}}
}

func (e *env) environ(more ...string) []string {
	base := []string{"TROVE_DB=" + e.db, "PATH=" + os.Getenv("PATH")}
	return append(append(base, e.extra...), more...)
}

// result of one trove process.
type result struct {
	out, err string
	code     int
	dur      time.Duration
}

func (e *env) cmd(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, trove, args...)
	c.Env = e.environ()
	return c
}

// run runs trove and returns its output and exit code.
func (e *env) run(args ...string) result {
	e.t.Helper()
	c := e.cmd(context.Background(), args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	start := time.Now()
	err := c.Run()
	r := result{out: out.String(), err: errb.String(), dur: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run trove %v: %v", args, err)
	}
	return r
}

// ok runs trove and fails the test unless it exits 0.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("trove %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// exportAll reads every row through `trove export`.
func (e *env) exportAll() map[string]memory.Memory {
	e.t.Helper()
	out := e.ok("export")
	rows := map[string]memory.Memory{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m memory.Memory
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			e.t.Fatalf("export line %q: %v", line, err)
		}
		if _, dup := rows[m.ID]; dup {
			e.t.Fatalf("duplicate id %s in export", m.ID)
		}
		rows[m.ID] = m
	}
	return rows
}

// checkStore opens the store in this process and checks it is sound: the
// integrity check passes and the search index matches the rows.
func (e *env) checkStore() {
	e.t.Helper()
	s, err := sqlite.Open(context.Background(), e.db, sqlite.Options{})
	if err != nil {
		e.t.Fatalf("open store after the run: %v", err)
	}
	defer s.Close()
	if bad, err := s.IntegrityCheck(context.Background()); err != nil || bad != nil {
		e.t.Fatalf("integrity check: %v %v", bad, err)
	}
	if rep, err := s.CheckFTS(context.Background()); err != nil || !rep.Consistent() {
		e.t.Fatalf("search index: %+v %v", rep, err)
	}
}
