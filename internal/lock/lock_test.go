package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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
