package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trove-memory/trove/internal/lifecycle"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// AccessTracker records which memories recall returned, so that decay can
// be slowed by use (retrieve's scoring reads access_count and
// last_accessed_at). Recall never waits for it: Record only adds to a map
// (one entry per id, merging repeats), and a goroutine writes what has
// piled up every Every, in Writes of at most FlushBatch store Touch calls
// each, which do not change revisions (see store.Tx). Writing in batches
// keeps each hold of the write lock to milliseconds however much piled up
// while the store was failing, and lets live writers in between. A failed
// write keeps the counts not yet written for the next one; past
// MaxPending ids, recalls of further ids are dropped and counted
// (Dropped). Close writes the rest. The Write that records a row's
// recalls also applies the tier move its new counts call for (bookkeeping
// too: store.TierTx.SetTier).
type AccessTracker struct {
	st        store.Store
	opts      AccessOptions
	lifecycle lifecycle.Config
	mu        sync.Mutex
	queue     map[string]access
	kick      chan struct{}
	quit      chan struct{}
	done      chan struct{}
	once      sync.Once
	ctx       context.Context // the loop's writes; cancelled when Close gives up waiting
	cancel    context.CancelFunc

	dropped    atomic.Int64 // recalls not counted: the queue was full
	reportedAt int64        // dropped as of the last report (loop only)
}

// AccessOptions configure an AccessTracker.
type AccessOptions struct {
	Every time.Duration    // how often pending recalls are written; default 5 s
	Clock func() time.Time // default time.Now
	// OnError hears about a write that failed (the counts are kept for
	// the next one), and about recalls dropped because MaxPending ids
	// were waiting. Default: ignore.
	OnError func(error)
	// Lifecycle holds the tier thresholds applied to the rows a write
	// records recalls of (nil: lifecycle.Defaults).
	Lifecycle *lifecycle.Config
	// MaxPending bounds the ids waiting to be written (default 100,000,
	// a few MB); recalls of other ids past it are dropped and counted.
	MaxPending int
}

type access struct {
	n  int
	at int64
}

// maxQueued bounds the rows waiting to be written before a write is
// started at once rather than on the next tick.
const maxQueued = 512

// FlushBatch is the most Touch calls one Write makes. Measured with
// BenchmarkAccessFlushBatch (SQLite, synchronous=full, 10k rows, on a
// loaded 2-core machine): a Write's fixed cost is about 0.4 ms and each
// Touch about 20 µs, so 64 touches held the lock 1.7 ms, 256 held it
// 5.3 ms and 1024 held it 25 ms. 128 holds it about 3.5 ms, and a backlog
// of 100,000 ids still drains in under 800 writes.
// Since each touched row is also read back for its tier move (moveTier),
// a Write of 128 costs about 30% more: 10.4 ms against 7.9 ms measured
// back to back on the same machine (load average 5 to 7, so both far
// above the idle figures).
const FlushBatch = 128

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
	if opts.MaxPending <= 0 {
		opts.MaxPending = 100_000
	}
	lc := lifecycle.Defaults()
	if opts.Lifecycle != nil {
		lc = *opts.Lifecycle
	}
	a := &AccessTracker{st: st, opts: opts, lifecycle: lc, queue: map[string]access{},
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
		if !ok && len(a.queue) >= a.opts.MaxPending {
			a.dropped.Add(1)
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
		if d := a.dropped.Load(); d > a.reportedAt {
			a.opts.OnError(fmt.Errorf("%d recalls were not counted: %d memories were already waiting to be recorded (the store has been failing?)",
				d-a.reportedAt, a.opts.MaxPending))
			a.reportedAt = d
		}
	}
}

// Dropped is how many recalls were not counted because MaxPending ids
// were waiting to be written.
func (a *AccessTracker) Dropped() int64 { return a.dropped.Load() }

// Flush writes the pending recalls now, FlushBatch rows per Write. Rows
// deleted meanwhile are skipped, and so is a row the store cannot record
// on (its error is reported after the others are written); if a write
// fails, the counts it and the later batches carried go back in the queue
// (those already written stay written, and are not counted twice).
func (a *AccessTracker) Flush(ctx context.Context) error {
	a.mu.Lock()
	pending := a.queue
	a.queue = map[string]access{}
	a.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	ids := make([]string, 0, len(pending))
	for id := range pending {
		ids = append(ids, id)
	}
	// In id order: two processes flushing at once lock their rows in the
	// same order (on PostgreSQL, rows are locked as they are touched), so
	// neither waits for a row the other holds while holding one it needs.
	slices.Sort(ids)
	var rowErrs []error
	now := a.opts.Clock()
	for start := 0; start < len(ids); start += FlushBatch {
		batch := ids[start:min(start+FlushBatch, len(ids))]
		var errs []error
		err := store.WriteAgain(ctx, a.st, memory.Owner(), func(tx store.Tx) error {
			errs = errs[:0] // the store may run fn again
			for _, id := range batch {
				e := pending[id]
				if err := tx.Touch(id, e.n, e.at); err != nil {
					if !errors.Is(err, memory.ErrNotFound) {
						errs = append(errs, err)
					}
					continue
				}
				if err := a.moveTier(tx, id, now); err != nil {
					errs = append(errs, err)
				}
			}
			return nil
		})
		if err != nil {
			a.requeue(pending, ids[start:])
			return err
		}
		rowErrs = append(rowErrs, errs...)
	}
	return errors.Join(rowErrs...)
}

// moveTier applies the tier move the row's new counts call for
// (lifecycle.Transition at now), in the Write that recorded them: a
// recalled peripheral memory comes back to working without waiting for
// the next maintenance pass. Only the rows touched are read.
func (a *AccessTracker) moveTier(tx store.Tx, id string, now time.Time) error {
	tt, ok := tx.(store.TierTx)
	if !ok {
		return nil
	}
	m, err := tx.Get(id)
	if err != nil {
		return err
	}
	mv, ok := tierMove(a.lifecycle, m, now)
	if !ok {
		return nil
	}
	_, err = tt.SetTier(mv)
	return err
}

// requeue puts back the counts of ids that were not written, merged with
// what was recorded meanwhile (the queue may overshoot MaxPending by what
// it held before: those recalls were already counted once).
func (a *AccessTracker) requeue(pending map[string]access, ids []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		e, cur := pending[id], a.queue[id]
		a.queue[id] = access{n: cur.n + e.n, at: max(cur.at, e.at)}
	}
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
