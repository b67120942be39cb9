// Package pgtest gives tests a fresh PostgreSQL database on the server
// named by TROVE_PG_URL (an admin URL), dropped when the test ends.
package pgtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the environment variable naming the admin URL.
const Env = "TROVE_PG_URL"

// URL creates a database trove_test_<random> and returns its URL; the
// database is dropped (WITH (FORCE): connections still open are ended) in
// t.Cleanup. Without TROVE_PG_URL the test is skipped.
func URL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(Env)
	if admin == "" {
		t.Skip(Env + " is unset: set it to a PostgreSQL admin URL (postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run the PostgreSQL tests")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", Env, err)
	}
	var b [8]byte
	rand.Read(b[:])
	name := "trove_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to %s (%s): %v", Env, u.Redacted(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	d := *u
	d.Path = "/" + name
	return d.String()
}

// PGlite starts the PGlite server of integrations/pglite (PostgreSQL
// compiled to WebAssembly, with pgvector, served over the wire protocol)
// for the test and returns a URL for it; it stops with the test. It skips
// the test when node or the package's node_modules is missing. PGlite is
// one backend in single-user mode, so the URL asks for one connection.
func PGlite(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the pgvector tests run on PGlite, which needs Node.js (20 or later)")
	}
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "integrations", "pglite")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@electric-sql", "pglite-socket")); err != nil {
		t.Skipf("%s has no node_modules: run `npm ci` there to run the pgvector tests on PGlite", dir)
	}
	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start PGlite: %v", err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() {
		stdin.Close() // the server stops when its input closes
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "PORT "); ok {
				port <- p
			}
		}
		close(port)
		done <- cmd.Wait()
	}()
	select {
	case p, ok := <-port:
		if !ok {
			t.Fatal("PGlite exited before it listened (see its output above)")
		}
		return "postgres://postgres:pglite@127.0.0.1:" + p + "/postgres?sslmode=disable&pool_max_conns=1"
	case <-time.After(60 * time.Second):
		t.Fatal("PGlite did not print its port within a minute")
	}
	return ""
}
