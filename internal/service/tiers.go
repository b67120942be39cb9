package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trove-memory/trove/internal/lifecycle"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// MaintainJobName is the job lock (store.JobLocker) one maintenance pass
// holds, so that among servers sharing a store one runs it at a time.
const MaintainJobName = "maintain"

// DefaultMaintainBatch is how many tier moves one Write of a maintenance
// pass commits; MaxMaintainBatch bounds what a caller may ask. A move is a
// point read and a conditional update (tens of µs), so 200 hold the lock a
// few milliseconds (BenchmarkMaintain).
const (
	DefaultMaintainBatch = 200
	MaxMaintainBatch     = 5000
)

// maintainPage is how many rows a pass reads per query.
const maintainPage = 500

// MaintainInput configures a maintenance pass.
type MaintainInput struct {
	// DryRun computes the moves and commits none (no lock is taken).
	DryRun bool
	// BatchSize is the tier moves committed per Write; 0: DefaultMaintainBatch.
	BatchSize int
}

// MaintainOutput is the outcome of a pass; its JSON is a contract. A
// pass that found another process running one is Skipped, not an error.
type MaintainOutput struct {
	Skipped string `json:"skipped,omitempty"`
	DryRun  bool   `json:"dry_run,omitempty"`
	store.MaintainRun
	// Moves counts the moves by "from→to" (with DryRun, the moves it
	// would make).
	Moves map[string]int `json:"moves"`
}

// SkippedMaintain is MaintainOutput.Skipped when another process holds
// the maintenance lock.
const SkippedMaintain = "another process is running maintenance"

func (s *Service) lifecycle() lifecycle.Config {
	if s.opts.Lifecycle != nil {
		return *s.opts.Lifecycle
	}
	return lifecycle.Defaults()
}

// Maintain runs one maintenance pass: every row's tier move
// (lifecycle.Transition at the clock's now). It reads page by page with no
// lock held and commits the moves in Writes of BatchSize, each move
// conditional on the row's tier, revision and access count being what was
// read (store.TierMove): a row edited or recalled meanwhile is left for
// the next pass, and no live writer's edit can be undone. The moves are
// bookkeeping (no revision, no history). The pass holds the store's job
// lock "maintain": when another process has it, it is skipped. The pass
// is recorded (store.TierReader.LastMaintain). Only the owner may run it.
// A pass stopped part way (ctx) keeps the batches it committed.
func (s *Service) Maintain(ctx context.Context, c Caller, in MaintainInput) (MaintainOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return MaintainOutput{}, err
	}
	if c.Agent != "" || !acc.All() {
		return MaintainOutput{}, &Error{Code: CodeScopeDenied, Err: memory.ErrScopeDenied,
			Message: "only the store's owner may run maintenance: it moves memories of every scope"}
	}
	batch, err := limit("batch size", in.BatchSize, DefaultMaintainBatch, MaxMaintainBatch)
	if err != nil {
		return MaintainOutput{}, err
	}
	if _, ok := s.opts.Store.(store.TierReader); !ok {
		return MaintainOutput{}, Unavailable("this kind of store (%T) has no tiers", s.opts.Store)
	}
	if !in.DryRun {
		if jl, ok := s.opts.Store.(store.JobLocker); ok {
			release, got, err := jl.TryJob(MaintainJobName)
			if err != nil {
				return MaintainOutput{}, ErrorOf(err)
			}
			if !got {
				return MaintainOutput{Skipped: SkippedMaintain, Moves: map[string]int{}}, nil
			}
			defer release()
		}
	}
	out, err := s.maintain(ctx, batch, in.DryRun)
	if in.DryRun {
		if err != nil {
			return out, ErrorOf(err)
		}
		return out, nil
	}
	if err != nil {
		out.Error = err.Error()
	}
	// Recorded even when the pass stopped early (shutdown): stats shows
	// how far it got. A short bounded write, past a cancelled ctx.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := s.opts.Store.Write(rctx, memory.Owner(), func(tx store.Tx) error {
		tt, ok := tx.(store.TierTx)
		if !ok {
			return fmt.Errorf("this kind of store (%T) has no tiers", tx)
		}
		return tt.PutMaintainRun(out.MaintainRun)
	}); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return out, ErrorOf(err)
	}
	return out, nil
}

func (s *Service) maintain(ctx context.Context, batch int, dryRun bool) (MaintainOutput, error) {
	cfg := s.lifecycle()
	start := time.Now()
	now := s.opts.Clock()
	out := MaintainOutput{DryRun: dryRun, Moves: map[string]int{}}
	out.StartedAt = now.UnixMilli()
	var pending []store.TierMove
	commit := func() error {
		if len(pending) == 0 {
			return nil
		}
		if dryRun {
			for _, mv := range pending {
				out.Moves[mv.From+"→"+mv.To]++
			}
			out.Transitions += len(pending)
			pending = pending[:0]
			return nil
		}
		var moved []store.TierMove
		t0 := time.Now()
		err := s.opts.Store.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			moved = moved[:0]
			tt, ok := tx.(store.TierTx)
			if !ok {
				return fmt.Errorf("this kind of store (%T) has no tiers", tx)
			}
			for _, mv := range pending {
				ok, err := tt.SetTier(mv)
				if errors.Is(err, memory.ErrNotFound) { // deleted since the read
					continue
				}
				if err != nil {
					return err
				}
				if ok {
					moved = append(moved, mv)
				}
			}
			return nil
		})
		held := time.Since(t0)
		out.Batches++
		out.LockMS += ms(held)
		out.MaxBatchMS = max(out.MaxBatchMS, ms(held))
		if err != nil {
			return err
		}
		for _, mv := range moved {
			out.Moves[mv.From+"→"+mv.To]++
		}
		out.Transitions += len(moved)
		out.Stale += len(pending) - len(moved)
		pending = pending[:0]
		return nil
	}
	err := s.opts.Store.Scan(ctx, memory.Owner(), store.ScanOptions{PageSize: maintainPage}, func(m memory.Memory) error {
		out.Scanned++
		if mv, ok := tierMove(cfg, m, now); ok {
			pending = append(pending, mv)
			if len(pending) >= batch {
				return commit()
			}
		}
		return ctx.Err()
	})
	if err == nil {
		err = commit()
	}
	out.DurationMS = time.Since(start).Milliseconds()
	return out, err
}

// tierMove is the move lifecycle.Transition makes of m at now, conditional
// on m as read.
func tierMove(cfg lifecycle.Config, m memory.Memory, now time.Time) (store.TierMove, bool) {
	in := lifecycle.FromMemory(m)
	to, why, ok := cfg.Transition(in, cfg.Score(in, now), now)
	if !ok {
		return store.TierMove{}, false
	}
	return store.TierMove{ID: m.ID, From: string(in.Tier), To: string(to), Revision: m.Revision,
		AccessCount: in.AccessCount, Reason: why, At: now.UnixMilli()}, true
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// LastMaintain returns the last recorded maintenance pass (ok false when
// none, or the store keeps none).
func (s *Service) LastMaintain(ctx context.Context) (store.MaintainRun, bool, error) {
	tr, ok := s.opts.Store.(store.TierReader)
	if !ok {
		return store.MaintainRun{}, false, nil
	}
	return tr.LastMaintain(ctx)
}

// LifecycleTask is the maintenance task that runs svc's pass (a server's
// hourly task "lifecycle"); svc is called when the task runs, so the task
// can be built before the service it belongs to.
func LifecycleTask(svc func() *Service) Task {
	return Task{Name: "lifecycle", Run: func(ctx context.Context) error {
		_, err := svc().Maintain(ctx, Caller{}, MaintainInput{})
		return err
	}}
}
