package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the driver trove uses, to play a newer trove

	"github.com/trove-memory/trove/internal/store/sqlite"
)

// Disk and file trouble (issue 6, suite 5): a read-only store file or
// directory, a full disk, a file that is not a store, a store from a newer
// trove. Each must give an error that names the problem and what to do,
// and must leave the store as it was: the integrity check passes, every
// row committed before the trouble is there, and writing works again once
// the trouble is gone.
//
// Tests run as root in CI, where permission bits stop nobody, so the
// read-only cases fall back to the immutable attribute or a read-only bind
// mount, and skip (saying why) when neither is possible.

func TestReadOnlyStoreFile(t *testing.T) {
	e := newEnv(t)
	want := diskSeed(e, 5)
	before := diskSum(t, e.db)
	how, undo := makeUnwritable(t, e.db)
	t.Logf("store file made read-only with %s", how)

	for _, args := range [][]string{
		{"store", "written while read-only", "--id", "late0001"},
		{"update", "disk0001", "--text", "changed while read-only"},
		{"delete", "disk0002"},
	} {
		r := e.run(args...)
		diskWantError(t, r, args, "store file "+e.db+" is read-only", "make it writable", "--db", "this write was not saved")
	}
	// Reads need no write access to the store file.
	diskWantRows(t, e, want, true)
	e.ok("list")
	e.ok("get", "disk0003")
	e.ok("stats")
	if after := diskSum(t, e.db); after != before {
		t.Fatalf("the read-only store file changed")
	}

	undo()
	e.checkStore()
	diskWantRows(t, e, want, true)
	e.ok("store", "written once the file is writable", "--id", "after001")
	want["after001"] = "written once the file is writable"
	diskWantRows(t, e, want, true)
}

func TestReadOnlyStoreDirectory(t *testing.T) {
	for _, c := range []struct {
		name     string
		keepLock bool
	}{
		{"store used here before", true},
		{"store copied without its lock file", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			want := diskSeed(e, 5)
			dir := filepath.Dir(e.db)
			// A cleanly closed store leaves no -wal or -shm behind; with them
			// present SQLite writes through them and the directory does not
			// matter, which is not this case.
			for _, side := range []string{e.db + "-wal", e.db + "-shm"} {
				if _, err := os.Stat(side); err == nil {
					t.Fatalf("%s is left after a clean close", side)
				}
			}
			if !c.keepLock {
				if err := os.Remove(e.db + ".lock"); err != nil {
					t.Fatal(err)
				}
			}
			before := diskSum(t, e.db)
			how, undo := makeUnwritable(t, dir)
			t.Logf("store directory made read-only with %s", how)

			// SQLite must create the -shm file to open a WAL store, even to
			// read it, so reads fail too: with the same plain message.
			for _, args := range [][]string{
				{"store", "written while read-only", "--id", "late0001"},
				{"list"},
				{"export"},
			} {
				r := e.run(args...)
				diskWantError(t, r, args, "store directory "+dir+" is read-only", "make the directory writable", "--db")
			}
			if after := diskSum(t, e.db); after != before {
				t.Fatalf("the store file changed in a read-only directory")
			}

			undo()
			e.checkStore()
			diskWantRows(t, e, want, true)
			e.ok("store", "written once the directory is writable", "--id", "after001")
			want["after001"] = "written once the directory is writable"
			diskWantRows(t, e, want, true)
		})
	}
}

// TestFullDisk fills the disk under the store by storing through the CLI
// until trove refuses, then frees space: every acknowledged write must be
// there, no refused one, and the next write must succeed. A small tmpfs is
// the real thing (root with mount); a file size limit (RLIMIT_FSIZE on the
// trove process) is the same failure as SQLite sees it, and runs anywhere
// prlimit or sh is.
func TestFullDisk(t *testing.T) {
	t.Run("small tmpfs", func(t *testing.T) {
		dir := mountSmallTmpfs(t, "2m")
		e := newEnv(t)
		e.db = filepath.Join(dir, "trove.db")
		ballast := filepath.Join(dir, "ballast")
		// Room to give back once the disk is full.
		if err := os.WriteFile(ballast, bytes.Repeat([]byte{'b'}, 256<<10), 0o644); err != nil {
			t.Fatal(err)
		}
		fillDisk(t, e, e.run, func() {
			if err := os.Remove(ballast); err != nil {
				t.Fatal(err)
			}
		}, "full")
	})
	t.Run("file size limit", func(t *testing.T) {
		e := newEnv(t)
		limited := fileSizeLimited(t, e, 256<<10)
		fillDisk(t, e, limited, func() {}, "file size limit")
	})
}

// fillDisk seeds rows, then stores ~24 KB rows with run until three in a
// row are refused, checks each refusal names the store and the problem
// (wantMsg) and says what to do, calls free, and checks the store. A
// refusal may come from the commit ("the disk holding ... is full") or,
// once the disk is fuller, from opening the store ("could not open the
// store ...: the disk may be full"): both must say so.
func fillDisk(t *testing.T, e *env, run func(args ...string) result, free func(), wantMsg ...string) {
	t.Helper()
	want := diskSeed(e, 3)
	filler := strings.Repeat("the disk fills up one memory at a time ", 700)[:24<<10]
	var refused []string
	failures := 0
	for i := 0; failures < 3; i++ {
		if i == 500 {
			t.Fatalf("500 writes of 24 KB and the disk is not full")
		}
		id := fmt.Sprintf("fill%04d", i)
		text := fmt.Sprintf("row %d %s", i, filler)
		args := []string{"store", text, "--id", id}
		r := run(args...)
		if r.code == 0 {
			if got := strings.TrimSpace(r.out); got != id {
				t.Fatalf("store printed %q, want %s", got, id)
			}
			want[id] = text
			failures = 0
			continue
		}
		failures++
		refused = append(refused, id)
		diskWantError(t, r, []string{"store", "<24 KB>", "--id", id}, append(wantMsg, e.db, "free", "run the command again")...)
	}
	t.Logf("%d rows in the store (3 seeded), then %d writes refused: %s", len(want), len(refused), refused)
	if len(want) < 5 {
		t.Fatalf("only %d writes before the disk was full: the test's disk is too small to mean anything", len(want))
	}
	free()
	e.checkStore()
	got := diskWantRows(t, e, want, false)
	for _, id := range refused {
		if _, ok := got[id]; ok {
			t.Errorf("%s was refused but is in the store", id)
		}
	}
	e.ok("store", "written after space was freed", "--id", "after001")
	want["after001"] = "written after space was freed"
	diskWantRows(t, e, want, true)
}

func TestNotSQLiteStore(t *testing.T) {
	for _, c := range []struct{ name, content string }{
		{"text", "my shopping list\n- tea\n- milk\n"},
		{"json", `{"memories":[{"id":"a","text":"not a store"}]}`},
		{"short", "SQLite"},
		{"almost sqlite", "SQLite format 2\x00" + strings.Repeat("\x00", 100)},
		{"binary", string([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0x3e, 0})},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			if err := os.WriteFile(e.db, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			dirBefore := diskDir(t, filepath.Dir(e.db))
			exp := filepath.Join(t.TempDir(), "in.jsonl")
			if err := os.WriteFile(exp, []byte(`{"id":"imp00001","text":"imported"}`+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"store", "a memory", "--id", "new00001"},
				{"list"},
				{"export"},
				{"stats"},
				{"get", "new00001"},
				{"delete", "new00001"},
				{"import", exp},
			} {
				r := e.run(args...)
				diskWantError(t, r, args, e.db+" is not a trove store", "not an SQLite database", "--db")
			}
			got, err := os.ReadFile(e.db)
			if err != nil || string(got) != c.content {
				t.Fatalf("the file changed: %q, %v", got, err)
			}
			if after := diskDir(t, filepath.Dir(e.db)); !slices.Equal(after, dirBefore) {
				t.Fatalf("files appeared beside it: before %v, after %v", dirBefore, after)
			}
		})
	}
}

// TestStoreFromNewerTrove plays a newer trove: it bumps the schema version
// and records who wrote it, as a newer binary's migration would.
func TestStoreFromNewerTrove(t *testing.T) {
	e := newEnv(t)
	want := diskSeed(e, 5)
	newer := sqlite.SchemaVersion() + 1
	db, err := sql.Open("sqlite", e.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		fmt.Sprintf("PRAGMA user_version = %d", newer),
		`INSERT INTO meta(key, value) VALUES ('schema_written_by', '99.1.0')
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := diskSum(t, e.db)

	exp := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(exp, []byte(`{"id":"imp00001","text":"imported"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"store", "a memory", "--id", "new00001"},
		{"update", "disk0001", "--text", "changed"},
		{"delete", "disk0002"},
		{"import", exp},
	} {
		r := e.run(args...)
		diskWantError(t, r, args, "schema version "+strconv.Itoa(newer), "written by trove 99.1.0", "install trove 99.1.0 or newer")
	}
	diskWantRows(t, e, want, true)
	e.ok("list")
	e.ok("get", "disk0001")
	e.ok("stats")
	e.ok("search", "memory")
	if after := diskSum(t, e.db); after != before {
		t.Fatalf("the newer store's file changed")
	}
	e.checkStore()
}

// diskSeed stores n rows through the CLI and returns id -> text.
func diskSeed(e *env, n int) map[string]string {
	e.t.Helper()
	want := map[string]string{}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("disk%04d", i)
		text := fmt.Sprintf("memory %d, committed before the trouble", i)
		e.ok("store", text, "--id", id, "--category", "fact")
		want[id] = text
	}
	return want
}

// diskWantRows checks every row of want is in the store with its text (and
// nothing else when exact), and returns what the store holds.
func diskWantRows(t *testing.T, e *env, want map[string]string, exact bool) map[string]string {
	t.Helper()
	got := map[string]string{}
	for id, m := range e.exportAll() {
		got[id] = m.Text
	}
	for id, text := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s is missing", id)
		case g != text:
			t.Errorf("%s: text %.40q, want %.40q", id, g, text)
		}
	}
	if exact && len(got) != len(want) {
		t.Errorf("store has %d rows, want %d", len(got), len(want))
	}
	if t.Failed() {
		t.FailNow()
	}
	return got
}

// diskWantError checks a command failed with exit 1 and an "error:" line
// holding every part.
func diskWantError(t *testing.T, r result, args []string, parts ...string) {
	t.Helper()
	cmd := "trove " + strings.Join(args, " ")
	if r.code != 1 {
		t.Fatalf("%s: exit %d, want 1\nstdout: %s\nstderr: %s", cmd, r.code, r.out, r.err)
	}
	if !strings.HasPrefix(r.err, "error: ") {
		t.Fatalf("%s: stderr does not start with \"error: \": %s", cmd, r.err)
	}
	for _, p := range parts {
		if !strings.Contains(r.err, p) {
			t.Errorf("%s: error does not say %q:\n%s", cmd, p, r.err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%s: %s", cmd, strings.TrimSpace(r.err))
}

func diskSum(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func diskDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// makeUnwritable makes a file or directory unwritable for trove and
// returns how, and the undo (also run at cleanup). Permission bits stop
// everyone but root; as root it tries the immutable attribute, then a
// read-only bind mount, and skips the test when neither works. Each
// method is checked by trying to write.
func makeUnwritable(t *testing.T, path string) (string, func()) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	isDir := fi.IsDir()
	var tried []string
	try := func(how string, do, undo func() error) (string, func(), bool) {
		if err := do(); err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", how, err))
			return "", nil, false
		}
		done := false
		restore := func() {
			if !done {
				done = true
				if err := undo(); err != nil {
					t.Errorf("undo %s on %s: %v", how, path, err)
				}
			}
		}
		if writable(path, isDir) {
			restore()
			tried = append(tried, how+": writes still succeed")
			return "", nil, false
		}
		t.Cleanup(restore)
		return how, restore, true
	}
	if os.Geteuid() != 0 {
		mode := fi.Mode().Perm()
		ro := mode &^ 0o222
		if how, undo, ok := try(fmt.Sprintf("chmod %o", ro), func() error { return os.Chmod(path, ro) }, func() error { return os.Chmod(path, mode) }); ok {
			return how, undo
		}
	}
	if chattr, err := exec.LookPath("chattr"); err == nil {
		if how, undo, ok := try("chattr +i", func() error { return command(chattr, "+i", path) }, func() error { return command(chattr, "-i", path) }); ok {
			return how, undo
		}
	} else {
		tried = append(tried, "chattr: not installed")
	}
	if mount, err := exec.LookPath("mount"); err == nil {
		do := func() error {
			if err := command(mount, "--bind", path, path); err != nil {
				return err
			}
			if err := command(mount, "-o", "remount,ro,bind", path); err != nil {
				_ = command("umount", path)
				return err
			}
			return nil
		}
		if how, undo, ok := try("read-only bind mount", do, func() error { return command("umount", path) }); ok {
			return how, undo
		}
	} else {
		tried = append(tried, "mount: not installed")
	}
	t.Skipf("cannot make %s read-only for this user (uid %d): %s", path, os.Geteuid(), strings.Join(tried, "; "))
	return "", nil
}

// writable reports whether this process can still write path (for a
// directory: create a file in it).
func writable(path string, isDir bool) bool {
	if isDir {
		f, err := os.CreateTemp(path, "probe-")
		if err != nil {
			return false
		}
		f.Close()
		os.Remove(f.Name())
		return true
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// mountSmallTmpfs mounts a tmpfs of size at a new directory, or skips.
func mountSmallTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a small tmpfs needs root to mount; the file size limit case covers the same failure")
	}
	if _, err := exec.LookPath("mount"); err != nil {
		t.Skip("mount is not installed; the file size limit case covers the same failure")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); the file size limit case covers the same failure", err)
	}
	t.Cleanup(func() {
		if err := command("umount", dir); err != nil {
			t.Errorf("umount %s: %v", dir, err)
		}
	})
	return dir
}

// fileSizeLimited returns a runner like e.run whose trove process may not
// grow any file beyond limit bytes (RLIMIT_FSIZE, set with prlimit or the
// shell's ulimit), or skips. Go ignores SIGXFSZ, so a write past the limit
// fails with EFBIG instead of killing trove.
func fileSizeLimited(t *testing.T, e *env, limit int) func(args ...string) result {
	t.Helper()
	var wrap func(args []string) []string
	if p, err := exec.LookPath("prlimit"); err == nil {
		wrap = func(args []string) []string {
			return append([]string{p, "--fsize=" + strconv.Itoa(limit), "--", trove}, args...)
		}
	} else if sh, err := exec.LookPath("sh"); err == nil {
		// ulimit -f counts 512-byte blocks in POSIX shells (1024 in bash
		// outside POSIX mode); either way the limit is reached.
		wrap = func(args []string) []string {
			return append([]string{sh, "-c", `ulimit -f "$0" && exec "$@"`, strconv.Itoa(limit / 512), trove}, args...)
		}
	} else {
		t.Skip("neither prlimit nor sh is installed to limit trove's file size")
	}
	probe := wrap([]string{"--help"})
	if err := command(probe[0], probe[1:]...); err != nil {
		t.Skipf("cannot run trove under a file size limit: %v", err)
	}
	return func(args ...string) result {
		t.Helper()
		argv := wrap(args)
		c := exec.CommandContext(context.Background(), argv[0], argv[1:]...)
		c.Env = e.environ()
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		start := time.Now()
		err := c.Run()
		r := result{out: out.String(), err: errb.String(), dur: time.Since(start)}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run %v: %v", argv[:3], err)
		}
		return r
	}
}

// command runs a helper program and returns its failure with its output.
func command(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
