package lock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
)

// A child process for TestExclusiveFreedWhenHolderDies: re-executing the
// test binary with TROVE_LOCK_TEST_HOLD=<path> and TROVE_LOCK_TEST_NAME=<job>
// takes the lock, says "holding" and waits to be killed.
func TestMain(m *testing.M) {
	if path := os.Getenv("TROVE_LOCK_TEST_HOLD"); path != "" {
		os.Exit(holdUntilKilled(path, os.Getenv("TROVE_LOCK_TEST_NAME")))
	}
	os.Exit(m.Run())
}

func holdUntilKilled(path, name string) int {
	h, err := TryExclusive(path, name)
	if err != nil || h == nil {
		fmt.Fprintln(os.Stderr, "child could not take the lock:", h, err)
		return 1
	}
	fmt.Println("holding")
	time.Sleep(time.Hour) // until SIGKILL
	runtime.KeepAlive(h)  // else the collector may close its file, freeing the lock
	return 2
}

func TestExclusivePerName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db.jobs.lock")
	if exclusiveByte("capture") == exclusiveByte("maintain") {
		t.Fatal("capture and maintain share a byte")
	}
	a, err := TryExclusive(path, "capture")
	if err != nil || a == nil {
		t.Fatalf("first: %v %v", a, err)
	}
	if b, err := TryExclusive(path, "capture"); err != nil || b != nil {
		t.Fatalf("a second holder in this process got capture: %v %v", b, err)
	}
	m, err := TryExclusive(path, "maintain")
	if err != nil || m == nil {
		t.Fatalf("maintain is blocked by capture: %v %v", m, err)
	}
	a.Release()
	a.Release()
	b, err := TryExclusive(path, "capture")
	if err != nil || b == nil {
		t.Fatalf("after release: %v %v", b, err)
	}
	b.Release()
	m.Release()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v %v", fi, err)
	}
}

func TestExclusiveRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "store.db.jobs.lock")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	h, err := TryExclusive(path, "capture")
	if h != nil || !errors.Is(err, memory.ErrInvalid) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("got %v %v", h, err)
	}
}

// The kernel frees the lock the instant its holder dies: no timeout, no age.
func TestExclusiveFreedWhenHolderDies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db.jobs.lock")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "TROVE_LOCK_TEST_HOLD="+path, "TROVE_LOCK_TEST_NAME=capture")
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "holding\n" {
		t.Fatalf("child did not take the lock: %q %v", line, err)
	}
	if h, err := TryExclusive(path, "capture"); err != nil || h != nil {
		t.Fatalf("got the lock the child holds: %v %v", h, err)
	}
	if h, err := TryExclusive(path, "maintain"); err != nil || h == nil {
		t.Fatalf("another name is blocked by the child: %v %v", h, err)
	} else {
		h.Release()
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	h, err := TryExclusive(path, "capture")
	if err != nil || h == nil {
		t.Fatalf("the dead holder's lock is not free at once: %v %v", h, err)
	}
	h.Release()
}
