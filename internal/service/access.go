package service

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// AccessTracker records which memories recall returned, so that decay can
// be slowed by use (retrieve's scoring reads access_count and
// last_accessed_at). Recall never waits for it: Record only adds to a map,
// and a goroutine writes what has piled up every Every, in one Write of
// store Touch calls, which do not change revisions (see store.Tx). A
// failed write keeps the counts for the next one; Close writes the rest.
type AccessTracker struct {
	st     store.Store
	opts   AccessOptions
	mu     sync.Mutex
	queue  map[string]access
	kick   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
	ctx    context.Context // the loop's writes; cancelled when Close gives up waiting
	cancel context.CancelFunc
}

// AccessOptions configure an AccessTracker.
type AccessOptions struct {
	Every time.Duration    // how often pending recalls are written; default 5 s
	Clock func() time.Time // default time.Now
	// OnError hears about a write that failed (the counts are kept for
	// the next one). Default: ignore.
	OnError func(error)
}

type access struct {
	n  int
	at int64
}

// maxQueued bounds the rows waiting to be written; past it a write is
// started at once rather than on the next tick. maxKept bounds what a
// store that keeps failing can pile up: recalls of other rows past it
// are not counted.
const (
	maxQueued = 512
	maxKept   = 100_000
)

// NewAccessTracker starts a tracker writing to st. Close it to write what
// is pending and stop.
func NewAccessTracker(st store.Store, opts AccessOptions) *AccessTracker {
	if opts.Every <= 0 {
		opts.Every = 5 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.OnError == nil {
		opts.OnError = func(error) {}
	}
	a := &AccessTracker{st: st, opts: opts, queue: map[string]access{},
		kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	go a.loop()
	return a
}

// Record notes one recall of each id, now.
func (a *AccessTracker) Record(ids []string) {
	if len(ids) == 0 {
		return
	}
	at := a.opts.Clock().UnixMilli()
	a.mu.Lock()
	for _, id := range ids {
		e, ok := a.queue[id]
		if !ok && len(a.queue) >= maxKept {
			continue
		}
		a.queue[id] = access{n: e.n + 1, at: max(e.at, at)}
	}
	full := len(a.queue) >= maxQueued
	a.mu.Unlock()
	if full {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

// loop writes on every tick, and sooner when the queue fills, except
// after a failed write: then it waits for the next tick, so a store that
// is failing (busy, full disk) is not hammered by every recall.
func (a *AccessTracker) loop() {
	defer close(a.done)
	t := time.NewTicker(a.opts.Every)
	defer t.Stop()
	failed := false
	for {
		select {
		case <-a.quit:
			return
		case <-t.C:
		case <-a.kick:
			if failed {
				continue
			}
		}
		err := a.Flush(a.ctx)
		if failed = err != nil; failed {
			a.opts.OnError(err)
		}
	}
}

// Flush writes the pending recalls now. Rows deleted meanwhile are
// skipped, and so is a row the store cannot record on (its error is
// reported after the others are written); if the write itself fails, the
// counts go back in the queue.
func (a *AccessTracker) Flush(ctx context.Context) error {
	a.mu.Lock()
	batch := a.queue
	a.queue = map[string]access{}
	a.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	var rowErrs []error
	err := a.st.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		rowErrs = rowErrs[:0]
		for id, e := range batch {
			if err := tx.Touch(id, e.n, e.at); err != nil && !errors.Is(err, memory.ErrNotFound) {
				rowErrs = append(rowErrs, err)
			}
		}
		return nil
	})
	if err == nil {
		return errors.Join(rowErrs...)
	}
	a.mu.Lock()
	for id, e := range batch {
		cur := a.queue[id]
		a.queue[id] = access{n: cur.n + e.n, at: max(cur.at, e.at)}
	}
	a.mu.Unlock()
	return err
}

// Close stops the tracker and writes what is pending, giving up when ctx
// ends (a write in progress is cancelled then).
func (a *AccessTracker) Close(ctx context.Context) error {
	a.once.Do(func() { close(a.quit) })
	select {
	case <-a.done:
	case <-ctx.Done():
		a.cancel()
		<-a.done
	}
	defer a.cancel()
	return a.Flush(ctx)
}
