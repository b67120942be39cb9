package doctor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trove-memory/trove/internal/lock"
)

// slowWait is the wait for the write lock worth a warning: a writer that
// waits this long is held up by another process's long transaction.
const slowWait = time.Second

func checkHolder(l *lock.Lock, opts Options) Check {
	c := Check{Name: CheckLockHolder}
	h, ok := l.Holder()
	if !ok {
		c.Status, c.Detail = OK, "free: no process holds the write lock"
		return c
	}
	age := max(opts.Now().Sub(h.Since), 0)
	c.Figures = map[string]any{"pid": h.PID, "command": h.Command, "since": h.Since, "held_ms": ms(age)}
	c.Status = OK
	c.Detail = fmt.Sprintf("held by pid %d (%s) since %s, %s ago", h.PID, h.Command, h.Since.Format(time.RFC3339), roundAge(age))
	if age > opts.LockTimeout {
		c.Status = Warn
		c.Detail += fmt.Sprintf(": longer than writers wait (%s), so they are failing", opts.LockTimeout)
		c.Fix = fmt.Sprintf("if pid %d is stuck, stop it (kill %d): the kernel frees the lock the moment it exits and its unfinished transaction is rolled back", h.PID, h.PID)
	}
	return c
}

// probeLock measures the lock as a writer meets it now: it takes and
// releases the lock opts.Probes times. Each process keeps its own figures
// (lock.Stats), so this is the one measure that covers every process:
// a wait here is time another process held the lock.
func probeLock(ctx context.Context, l *lock.Lock, opts Options) Check {
	c := Check{Name: CheckLockWait}
	var waits, holds []time.Duration
	var perr error
	for range opts.Probes {
		start := time.Now()
		g, err := l.Acquire(ctx, opts.ProbeTimeout)
		if err != nil {
			perr = err
			break
		}
		got := g.Acquired()
		g.Release()
		waits = append(waits, got.Sub(start))
		holds = append(holds, time.Since(got))
	}
	c.Figures = map[string]any{"acquisitions": len(waits), "wait_ms": percentiles(waits), "hold_ms": percentiles(holds)}
	figures := ""
	if len(waits) > 0 {
		figures = fmt.Sprintf("took the write lock %d times just now: wait p50 %s, p99 %s, max %s; held p50 %s (the lock's own cost)",
			len(waits), us(lock.Percentile(waits, 50)), us(lock.Percentile(waits, 99)), us(lock.Percentile(waits, 100)), us(lock.Percentile(holds, 50)))
	}
	const elsewhere = "; a running trove serve reports its own waits and holds at /metrics (trove_write_lock_wait_seconds, trove_write_lock_hold_seconds)"
	var held *lock.HeldError
	switch {
	case errors.As(perr, &held):
		c.Status = Warn
		c.Detail = fmt.Sprintf("the write lock was not free for %s", opts.ProbeTimeout)
		if held.Holder != nil {
			c.Detail += fmt.Sprintf(": held by pid %d (%s) since %s", held.Holder.PID, held.Holder.Command, held.Holder.Since.Format(time.RFC3339))
			c.Fix = fmt.Sprintf("writers wait for pid %d; if it is stuck, stop it (kill %d): the kernel frees the lock the moment it exits", held.Holder.PID, held.Holder.PID)
		} else {
			c.Fix = "writers are waiting for another process; see lock_holder"
		}
		if figures != "" {
			c.Detail += "; before that, it " + figures
		}
	case perr != nil && ctx.Err() != nil:
		c.Status, c.Detail = Warn, fmt.Sprintf("not measured: %v", perr)
	case perr != nil:
		c.Status = Warn
		c.Detail = fmt.Sprintf("could not take the write lock: %v", perr)
		c.Fix = "writers need to open the lock file (the store's path plus .lock) for writing: check its owner and permissions"
	case lock.Percentile(waits, 100) >= slowWait:
		c.Status = Warn
		c.Detail = "writers wait long for the lock: doctor " + figures + elsewhere
		c.Fix = "another process holds the lock for long stretches: see lock_holder; batch jobs (import, upgrade, delete-bulk) release it between batches"
	default:
		c.Status = OK
		c.Detail = "doctor " + figures + elsewhere
	}
	return c
}

// Percentiles of durations in milliseconds, as upgrade --json reports them.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func percentiles(ds []time.Duration) Percentiles {
	return Percentiles{P50: ms(lock.Percentile(ds, 50)), P99: ms(lock.Percentile(ds, 99)), Max: ms(lock.Percentile(ds, 100))}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// us prints a duration to the microsecond ("12µs", "1.204ms").
func us(d time.Duration) string { return d.Round(time.Microsecond).String() }

func roundAge(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
