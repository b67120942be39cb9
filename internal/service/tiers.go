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
// pass commits: three statements (sqlite's SetTiers) and one commit. The
// pacer keeps the pass's share of the lock at DefaultLockShare while
// others write, so a live writer meets a held lock about that often and
// then waits at most one batch: the batch is what reaches its p99. On a
// quiet 2-core machine, 100k rows, 80k moves (BenchmarkMaintainLiveWriter):
// batches of 200 (~9 ms each) left the writer's p99 at 8.5 ms against 3.1–
// 3.9 ms idle (lock wait p99 5.1–5.7 ms); batches of 50 at 4.5 ms against
// 4.5 ms idle (lock wait p99 1.3 ms), for a pass of 287 s instead of 187 s
// (an fsync per 50 moves).
const (
	DefaultMaintainBatch = 50
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
	// LockShare is the most of the time the pass holds the write lock
	// while other writers are active, in (0, 1]; 0: DefaultLockShare.
	// 1 never pauses.
	LockShare float64
}

// DefaultLockShare is MaintainInput.LockShare's default: while others
// write, a pass pauses 49 times as long as each of its writes took.
const DefaultLockShare = 0.02

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
	share := in.LockShare
	if share == 0 {
		share = DefaultLockShare
	}
	if !(share > 0 && share <= 1) {
		return MaintainOutput{}, Invalid("lock share %g is out of range: give a fraction of the time above 0 and at most 1 (1: never pause)", in.LockShare)
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
	out, err := s.maintain(ctx, batch, share, in.DryRun)
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
	if rerr := store.WriteAgain(rctx, s.opts.Store, memory.Owner(), func(tx store.Tx) error {
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

// How a pass shares the store (see docs/LIFECYCLE.md, "Maintenance and
// live writers"). While other writers are active — another commit was
// seen within maintainQuietFor — the pass holds the write lock at most
// its lock share (MaintainInput.LockShare) of the time: after each of its
// writes it pauses hold·(1/share − 1), so a live write seldom arrives
// while a batch holds the lock, and the disk is mostly the live writer's.
// With nobody else writing it does not pause.
const maintainQuietFor = 5 * time.Second

// The store capabilities a pass uses when it has them: a batch of moves in
// a few statements (sqlite's tx) and the change sequence (to see other
// writers).
type (
	tierBatcher interface {
		SetTiers([]store.TierMove) ([]bool, error)
	}
	changeSeqer interface {
		ChangeSeq(ctx context.Context) (int64, error)
	}
)

func (s *Service) maintain(ctx context.Context, batch int, share float64, dryRun bool) (MaintainOutput, error) {
	cfg := s.lifecycle()
	start := time.Now()
	now := s.opts.Clock()
	out := MaintainOutput{DryRun: dryRun, Moves: map[string]int{}}
	out.StartedAt = now.UnixMilli()
	var pending []store.TierMove
	p := newPacer(ctx, s.opts.Store, share)
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
		if err := p.wait(ctx); err != nil {
			return err
		}
		var moved []store.TierMove
		t0 := time.Now()
		err := store.WriteAgain(ctx, s.opts.Store, memory.Owner(), func(tx store.Tx) error {
			var err error
			moved, err = applyMoves(tx, pending, moved[:0])
			return err
		})
		held := time.Since(t0)
		p.wrote(held)
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

// applyMoves applies the moves that still hold in tx, appending them to
// moved: in a few statements when the store can (tierBatcher), else one
// SetTier each. A row deleted since the read is skipped.
func applyMoves(tx store.Tx, pending, moved []store.TierMove) ([]store.TierMove, error) {
	if tb, ok := tx.(tierBatcher); ok {
		done, err := tb.SetTiers(pending)
		if err != nil {
			return moved, err
		}
		for i, ok := range done {
			if ok {
				moved = append(moved, pending[i])
			}
		}
		return moved, nil
	}
	tt, ok := tx.(store.TierTx)
	if !ok {
		return moved, fmt.Errorf("this kind of store (%T) has no tiers", tx)
	}
	for _, mv := range pending {
		ok, err := tt.SetTier(mv)
		if errors.Is(err, memory.ErrNotFound) { // deleted since the read
			continue
		}
		if err != nil {
			return moved, err
		}
		if ok {
			moved = append(moved, mv)
		}
	}
	return moved, nil
}

// pacer spaces a pass's writes while other writers are active (share:
// the most of the time the pass holds the lock).
type pacer struct {
	seqs      changeSeqer // nil: other writers are not seen, so never paced
	seq       int64       // the change sequence at the last look
	own       int         // our commits since then
	lastOther time.Time   // when another writer's commit was last seen
	hold      time.Duration
	share     float64
	writes    int
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
}

func newPacer(ctx context.Context, st store.Store, share float64) *pacer {
	p := &pacer{share: share, now: time.Now, sleep: sleepCtx}
	if cs, ok := st.(changeSeqer); ok {
		if seq, err := cs.ChangeSeq(ctx); err == nil {
			p.seqs, p.seq = cs, seq
		}
	}
	return p
}

// wait pauses before a write while other writers are active, long enough
// that the pass's last write held the lock its share of the time
// from its start to the end of the pause.
func (p *pacer) wait(ctx context.Context) error {
	if p.seqs == nil {
		return nil
	}
	if seq, err := p.seqs.ChangeSeq(ctx); err == nil {
		if seq-p.seq > int64(p.own) {
			p.lastOther = p.now()
		}
		p.seq, p.own = seq, 0
	}
	if p.writes == 0 || p.share >= 1 || p.lastOther.IsZero() || p.now().Sub(p.lastOther) > maintainQuietFor {
		return nil
	}
	return p.sleep(ctx, time.Duration(float64(p.hold)*(1/p.share-1)))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wrote records one of the pass's writes, which took hold.
func (p *pacer) wrote(hold time.Duration) {
	p.own++
	p.hold = hold
	p.writes++
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
