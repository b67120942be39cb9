package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
)

// Two Lock values on one path behave like two processes: OFD locks belong
// to the open file description, not the process.
func pair(t *testing.T) (*Lock, *Lock) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.lock")
	a, err := Open(path, "holder A")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(path, "waiter B")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestHeldErrorNamesTheHolder(t *testing.T) {
	a, b := pair(t)
	g, err := a.Acquire(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(context.Background(), 30*time.Millisecond)
	var he *HeldError
	if !errors.As(err, &he) || !errors.Is(err, memory.ErrLocked) || he.Holder == nil ||
		he.Holder.PID != os.Getpid() || he.Holder.Command != "holder A" {
		t.Fatalf("got %v", err)
	}
	if h, ok := b.Holder(); !ok || h.Command != "holder A" {
		t.Fatalf("Holder() = %+v %v", h, ok)
	}
	g.Release()
	// B's abandoned wait takes the lock and gives it back at once: B can
	// have it now, and afterwards nobody holds it.
	g2, err := b.Acquire(context.Background(), time.Second)
	if err != nil {
		t.Fatalf("after the holder released: %v", err)
	}
	g2.Release()
	if _, ok := b.Holder(); ok {
		t.Fatal("Holder() reports a holder after release")
	}
}

func TestContextCancelStopsTheWait(t *testing.T) {
	a, b := pair(t)
	g, _ := a.Acquire(context.Background(), time.Second)
	defer g.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// A holder that releases and re-acquires in a tight loop must not starve a
// waiter: the turnstile makes the waiter go next.
func TestNoStarvation(t *testing.T) {
	a, b := pair(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			g, err := a.Acquire(context.Background(), time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(50 * time.Microsecond) // a short commit
			g.Release()
		}
	}()
	for i := range 200 {
		g, err := b.Acquire(context.Background(), 5*time.Second)
		if err != nil {
			t.Fatalf("waiter starved at acquisition %d: %v", i, err)
		}
		g.Release()
	}
	stop.Store(true)
	wg.Wait()
}

func TestMutualExclusion(t *testing.T) {
	a, b := pair(t)
	var inside atomic.Int32
	var wg sync.WaitGroup
	for _, l := range []*Lock{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				g, err := l.Acquire(context.Background(), 10*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) != 1 {
					t.Error("two holders at once")
				}
				inside.Add(-1)
				g.Release()
			}
		}()
	}
	wg.Wait()
	if s := a.Stats(); s.Acquisitions != 400 || len(s.Holds) != 400 {
		t.Fatalf("stats %d acquisitions, %d holds", s.Acquisitions, len(s.Holds))
	}
}

func TestOpenRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, target string }{
		{"to a file", target},
		{"dangling", filepath.Join(dir, "not-yet")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".lock")
			if err := os.Symlink(tc.target, path); err != nil {
				t.Fatal(err)
			}
			l, err := Open(path, "test")
			if err == nil {
				l.Close()
				t.Fatal("Open followed a symlink")
			}
			if !errors.Is(err, memory.ErrInvalid) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "symbolic link") {
				t.Fatalf("error does not name the symlink: %v", err)
			}
		})
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me" {
		t.Fatalf("target changed: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "not-yet")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dangling symlink's target was created: %v", err)
	}
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	l, err := Open(path, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Fatalf("lock file mode %04o, want 0600", m)
	}
}

// An unwritable lock file must say which file and what permission is
// missing, not "bad file descriptor".
func TestUnwritableLockFileIsExplained(t *testing.T) {
	check := func(t *testing.T, path string, l *Lock) {
		t.Helper()
		g, err := l.Acquire(context.Background(), time.Second)
		if err == nil {
			g.Release()
			t.Fatal("acquired a write lock through a read-only handle")
		}
		var ae *AccessError
		if !errors.As(err, &ae) {
			t.Fatalf("want *AccessError, got %T: %v", err, err)
		}
		msg := err.Error()
		for _, want := range []string{path, "not writable", "write permission", "chmod u+w"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q: %s", want, msg)
			}
		}
		if strings.Contains(msg, "bad file descriptor") && !strings.Contains(msg, "not writable") {
			t.Errorf("bare EBADF: %s", msg)
		}
	}
	t.Run("open for writing refused", func(t *testing.T) {
		// Runs as root too: the open error is injected, and the lock call
		// on the real read-only handle fails as it would for another user.
		path := filepath.Join(t.TempDir(), "x.lock")
		if err := os.WriteFile(path, nil, 0o444); err != nil {
			t.Fatal(err)
		}
		real := openFile
		t.Cleanup(func() { openFile = real })
		openFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
			if flag&(os.O_RDWR|os.O_WRONLY) != 0 {
				return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EACCES}
			}
			return real(name, flag, perm)
		}
		l, err := Open(path, "test")
		if err != nil {
			t.Fatalf("a read-only lock file must still open (for reads): %v", err)
		}
		defer l.Close()
		check(t, path, l)
		if !errors.Is(func() error { _, err := l.Acquire(context.Background(), time.Second); return err }(), os.ErrPermission) {
			t.Error("AccessError does not unwrap to os.ErrPermission")
		}
	})
	t.Run("descriptor not open for writing", func(t *testing.T) {
		// The lock call itself fails with EBADF (as root too).
		path := filepath.Join(t.TempDir(), "x.lock")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		l := &Lock{path: path, command: "test", f: f, fd: f.Fd(), sem: make(chan struct{}, 1), stats: newStats()}
		defer l.Close()
		check(t, path, l)
	})
	t.Run("mode 0444", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores permission bits; the injected cases above cover this path")
		}
		path := filepath.Join(t.TempDir(), "x.lock")
		if err := os.WriteFile(path, nil, 0o444); err != nil {
			t.Fatal(err)
		}
		l, err := Open(path, "test")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		check(t, path, l)
	})
}
