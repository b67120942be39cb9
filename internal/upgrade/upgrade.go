// Package upgrade turns legacy memories (format 0) into smart ones
// (format 1, with L0/L1/L2 and a memory_category) while live writers keep
// writing. See DESIGN.md beside this file.
//
// The shape: a scanner streams legacy rows with the revision it read; a
// bounded pool enriches them (LLM calls, no lock held); a committer writes
// each batch of finished rows in one store.Write, checking every row's
// revision: unchanged → apply; changed with the same text → merge onto the
// fresh row; text changed → enrich again; gone or no longer legacy → skip.
//
//	u := &upgrade.Upgrader{Store: st, LLM: client, Access: memory.Owner()}
//	rep, err := u.Run(ctx)
package upgrade

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trove-memory/trove/internal/llm"
	"github.com/trove-memory/trove/internal/lock"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// Defaults.
const (
	DefaultBatchSize   = 10
	DefaultConcurrency = 4
	// maxBatchBytes keeps one commit short even when rows are large.
	maxBatchBytes = 1 << 20
	// maxRequeues bounds how often a row whose text keeps changing under us
	// is enriched again before we report it and move on.
	maxRequeues = 3
	// maxConsecutiveLLMErrors stops a run against an LLM that is down or
	// rejects us, instead of failing every row one by one.
	maxConsecutiveLLMErrors = 8
)

// ClaimJob is the job name an upgrade claims rows under on a store shared
// by hosts (store.RowClaimer).
const ClaimJob = "upgrade"

// Upgrader runs one upgrade.
type Upgrader struct {
	Store  store.Store
	LLM    llm.Client // nil: plain enrichment (--no-llm)
	Access memory.Access
	Scopes []memory.Scope
	// Limit stops after this many rows (0: all).
	Limit         int
	BatchSize     int
	Concurrency   int
	RedoFallbacks bool // enrich rows that an earlier run upgraded as fallbacks
	// Progress, if set, is called after each commit.
	Progress func(Progress)
	Clock    func() time.Time
}

// Progress is reported after each commit.
type Progress struct {
	Done, Total int
	Elapsed     time.Duration
}

// RowError is a row that could not be upgraded.
type RowError struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// Report is the outcome of a run; its JSON is the CLI's --json contract.
type Report struct {
	LegacyFound     int             `json:"legacy_found"`
	Upgraded        int             `json:"upgraded"`
	Fallbacks       int             `json:"fallbacks"`
	Merged          int             `json:"merged"`
	Requeued        int             `json:"requeued"`
	Skipped         int             `json:"skipped"`
	Errors          []RowError      `json:"errors"`
	Batches         int             `json:"batches"`
	LockAcquisition int             `json:"lock_acquisitions"`
	LockHoldMS      Percentiles     `json:"lock_hold_ms"`
	DurationMS      int64           `json:"duration_ms"`
	Interrupted     bool            `json:"interrupted,omitempty"`
	DryRun          *DryRunCounts   `json:"dry_run,omitempty"`
	holds           []time.Duration // per commit
}

// Percentiles of lock hold times in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// DryRunCounts is what --dry-run prints: rows that would be upgraded by
// the category they would get.
type DryRunCounts struct {
	Total      int            `json:"total"`
	ByCategory map[string]int `json:"by_category"`
}

// item is a row in flight: the snapshot read (with its revision) and,
// once enriched, the enrichment.
type item struct {
	snap     memory.Memory
	enr      Enrichment
	err      error
	requeues int
}

func (u *Upgrader) defaults() {
	if u.BatchSize <= 0 {
		u.BatchSize = DefaultBatchSize
	}
	if u.Concurrency <= 0 {
		u.Concurrency = DefaultConcurrency
	}
	if u.Clock == nil {
		u.Clock = time.Now
	}
}

// filter selects the rows this run upgrades.
func (u *Upgrader) filter() store.Filter {
	f := store.Filter{Scopes: u.Scopes}
	if u.RedoFallbacks {
		smart := memory.FormatSmart
		f.Format = &smart
		f.Metadata = map[string]string{memory.KeyEnrichedBy: ByFallback}
	} else {
		legacy := memory.FormatLegacy
		f.Format = &legacy
	}
	return f
}

// eligible reports whether the row as it is now is still one to upgrade.
func (u *Upgrader) eligible(m memory.Memory) bool {
	if u.RedoFallbacks {
		return m.Format == memory.FormatSmart && memory.MetaString(m.Metadata, memory.KeyEnrichedBy) == ByFallback
	}
	return m.Format == memory.FormatLegacy
}

// DryRun counts what a run would upgrade, by resulting category, honouring
// Limit and Scopes. It calls no LLM and writes nothing.
func (u *Upgrader) DryRun(ctx context.Context) (Report, error) {
	u.defaults()
	start := u.Clock()
	c := &DryRunCounts{ByCategory: map[string]int{}}
	err := u.Store.Scan(ctx, u.Access, store.ScanOptions{Filter: u.filter()}, func(m memory.Memory) error {
		if u.Limit > 0 && c.Total >= u.Limit {
			return errStop
		}
		c.Total++
		c.ByCategory[string(smartCategory(m.Category, m.Text))]++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return Report{}, err
	}
	return Report{LegacyFound: c.Total, DryRun: c, Errors: []RowError{}, DurationMS: u.Clock().Sub(start).Milliseconds()}, nil
}

var errStop = errors.New("stop")

// Run upgrades every eligible row. Cancelling ctx stops taking new work,
// commits what is already enriched and returns the report with
// Interrupted set (and ctx's error).
func (u *Upgrader) Run(ctx context.Context) (Report, error) {
	u.defaults()
	start := u.Clock()
	rep := Report{Errors: []RowError{}}
	total, err := u.Store.Count(ctx, u.Access, u.filter())
	if err != nil {
		return rep, err
	}
	if u.Limit > 0 && total > u.Limit {
		total = u.Limit
	}
	rep.LegacyFound = total

	r := &run{u: u, rep: &rep, total: total, start: start,
		work:    make(chan *item),
		results: make(chan *item, u.Concurrency),
		idle:    make(chan struct{}, 1),
	}
	// On a store shared by hosts, runs on several of them share the rows:
	// each row is claimed before its LLM call (see DESIGN.md).
	if rc, ok := u.Store.(store.RowClaimer); ok {
		if r.claims, err = rc.ClaimRows(ctx, ClaimJob); err != nil {
			return rep, err
		}
		defer r.claims.Close()
	}
	err = r.loop(ctx)
	rep.DurationMS = u.Clock().Sub(start).Milliseconds()
	rep.LockHoldMS = percentiles(rep.holds)
	if ctx.Err() != nil {
		rep.Interrupted = true
		return rep, ctx.Err()
	}
	return rep, err
}

type run struct {
	u       *Upgrader
	rep     *Report
	total   int
	start   time.Time
	work    chan *item // to the enrichment pool
	results chan *item // from the pool

	outstanding int // rows handed to the pool and not yet back (committer only)

	// claims, when the store has them, are the rows this run holds: each
	// is claimed by the feeder before it goes to the pool and released
	// once committed, skipped or failed.
	claims store.Claims
	// idle tells the committer the feeder is waiting for rows other runs
	// hold: what is pending commits now rather than when a batch is full.
	idle chan struct{}

	consecutiveLLMErrors int
	done                 int
}

// loop wires scanner → pool → committer and returns when all is committed.
func (r *run) loop(ctx context.Context) error {
	// Enrichment stops on ctx; commits never do (they are milliseconds and
	// keep what is already paid for).
	commitCtx := context.WithoutCancel(ctx)
	enrichCtx, stopEnrich := context.WithCancel(ctx)
	defer stopEnrich()

	var pool sync.WaitGroup
	for range r.u.Concurrency {
		pool.Add(1)
		go func() {
			defer pool.Done()
			for it := range r.work {
				r.enrich(enrichCtx, it)
				r.results <- it
			}
		}()
	}

	// The feeder sends scanned rows and re-queued rows to the pool, and
	// counts how many are in flight so the committer knows when it is done.
	inflight := make(chan int, 1024) // +1 per row handed to the pool
	scanErr := make(chan error, 1)
	feederDone := make(chan struct{})
	go func() {
		defer close(feederDone)
		scanErr <- r.feed(enrichCtx, inflight)
	}()

	var pending []*item
	pendingBytes := 0
	feeding := true
	var firstErr error
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if err := r.commit(commitCtx, pending); err != nil && firstErr == nil {
			firstErr = err
			stopEnrich()
		}
		pending, pendingBytes = pending[:0], 0
	}
	for feeding || r.outstanding > 0 {
		select {
		case n := <-inflight:
			r.outstanding += n
		case <-feederDone:
			feeding = false
			feederDone = nil
			// Drain counts sent just before the feeder finished.
			for len(inflight) > 0 {
				r.outstanding += <-inflight
			}
		case <-r.idle: // the feeder waits for rows other runs hold
			flush()
		case it := <-r.results:
			r.outstanding--
			if it.err != nil || it.enr.By == "" {
				if err := r.release(commitCtx, it.snap.ID); err != nil && firstErr == nil {
					firstErr = err
					stopEnrich()
				}
			}
			if it.err != nil {
				r.rowError(it.snap.ID, it.err)
				if r.consecutiveLLMErrors >= maxConsecutiveLLMErrors && firstErr == nil {
					firstErr = fmt.Errorf("the LLM failed %d times in a row, stopping (last: %w)", r.consecutiveLLMErrors, it.err)
					stopEnrich()
				}
				continue
			}
			if it.enr.By == "" { // not enriched: cancelled before its call
				continue
			}
			pending = append(pending, it)
			pendingBytes += len(it.snap.Text) + len(it.enr.L0) + len(it.enr.L1) + len(it.enr.L2)
			// Commit a full batch; and at the end, what is left.
			if len(pending) >= r.u.BatchSize || pendingBytes >= maxBatchBytes || !feeding && r.outstanding == 0 {
				flush()
			}
		}
	}
	flush()
	close(r.work)
	pool.Wait()
	if err := <-scanErr; err != nil && firstErr == nil && !errors.Is(err, context.Canceled) {
		firstErr = err
	}
	return firstErr
}

// feed scans eligible rows page by page (no cap) and sends them to the
// pool until the scan is exhausted or Limit is reached.
//
// With claims (a store shared by hosts), a row goes to the pool only once
// this run holds its claim, re-read after the claim (another run may have
// upgraded it since the page was read); a row another run holds is passed
// over, and the scan starts again after a pause until no eligible row is
// held elsewhere: rows whose runner died (its claims went with its
// session) or gave up are then taken here. Each row goes to the pool at
// most once per run.
func (r *run) feed(ctx context.Context, inflight chan<- int) error {
	sent := 0
	page := max(4*r.u.BatchSize, 64)
	taken := map[string]bool{} // with claims: rows this run has handled
	for pass := 1; ; pass++ {
		held := 0 // eligible rows another run holds
		after := ""
		for ctx.Err() == nil {
			rows, err := store.ScanPage(ctx, r.u.Store, r.u.Access, store.ScanOptions{Filter: r.u.filter(), AfterID: after}, page)
			if err != nil {
				return err
			}
			for _, m := range rows {
				if r.u.Limit > 0 && sent >= r.u.Limit {
					return nil
				}
				after = m.ID
				if r.claims != nil {
					if taken[m.ID] {
						continue
					}
					ok, fresh, err := r.claim(ctx, m.ID)
					if err != nil {
						return err
					}
					if !ok {
						held++
						continue
					}
					taken[m.ID] = true
					if fresh == nil {
						continue // gone or upgraded meanwhile
					}
					m = *fresh
				}
				inflight <- 1 // counted before it is handed over, so the committer never sees 0 early
				select {
				case r.work <- &item{snap: m}:
				case <-ctx.Done():
					inflight <- -1
					if r.claims != nil {
						_ = r.claims.Release(context.WithoutCancel(ctx), m.ID)
					}
					return ctx.Err()
				}
				sent++
			}
			if len(rows) < page {
				break
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if held == 0 {
			return nil
		}
		// Other runs hold rows: look again once they have had time to
		// commit (or to die, freeing them). Meanwhile this run commits
		// what it has enriched, so no two runs wait on each other's
		// uncommitted batch.
		select {
		case r.idle <- struct{}{}:
		default:
		}
		select {
		case <-time.After(time.Duration(min(pass, 10)) * 50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// claim takes the claim on id and reads the row again: ok is false when
// another run holds it; fresh is nil when the row is gone or no longer
// eligible (then the claim is already given back).
func (r *run) claim(ctx context.Context, id string) (ok bool, fresh *memory.Memory, err error) {
	if ok, err = r.claims.Try(ctx, id); err != nil || !ok {
		return false, nil, err
	}
	cur, err := r.u.Store.Get(ctx, r.u.Access, id)
	switch {
	case errors.Is(err, memory.ErrNotFound), err == nil && !r.u.eligible(cur):
		return true, nil, r.claims.Release(ctx, id)
	case err != nil:
		return false, nil, errors.Join(err, r.claims.Release(context.WithoutCancel(ctx), id))
	}
	return true, &cur, nil
}

// release gives back the claims on ids, when the run has claims.
func (r *run) release(ctx context.Context, ids ...string) error {
	if r.claims == nil {
		return nil
	}
	return r.claims.Release(ctx, ids...)
}

func (r *run) enrich(ctx context.Context, it *item) {
	if ctx.Err() != nil {
		return // stopping: leave the row for a rerun
	}
	if r.u.LLM == nil {
		it.enr = plain(it.snap)
		return
	}
	e, err := enrichLLM(ctx, r.u.LLM, it.snap)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		it.err = fmt.Errorf("LLM call failed, row left as it was (a rerun retries it): %w", err)
		return
	}
	it.enr = e
}

func (r *run) rowError(id string, err error) {
	r.consecutiveLLMErrors++
	r.rep.Errors = append(r.rep.Errors, RowError{ID: id, Error: err.Error()})
}

// commit writes one batch with one Write: one lock acquisition, one
// transaction, SQL only.
func (r *run) commit(ctx context.Context, batch []*item) error {
	now := r.u.Clock().UnixMilli()
	type outcome int
	const (
		applied outcome = iota
		merged
		requeued
		skipped
	)
	outcomes := make([]outcome, len(batch))
	fresh := make([]memory.Memory, len(batch))
	var held time.Duration
	// Rows are read and written in id order: a live writer touching
	// several of them (recall counts) locks them in the same order, so on
	// a store with row locks neither waits on the other in a cycle. A
	// write ended by a deadlock anyway runs again (WriteAgain): each run
	// decides every outcome afresh.
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(batch[a].snap.ID, batch[b].snap.ID) })
	err := store.WriteAgain(ctx, r.u.Store, r.u.Access, func(tx store.Tx) error {
		t0 := time.Now()
		defer func() { held = time.Since(t0) }()
		for _, i := range order {
			it := batch[i]
			cur, err := tx.Get(it.snap.ID)
			switch {
			case errors.Is(err, memory.ErrNotFound):
				outcomes[i] = skipped // deleted meanwhile
				continue
			case err != nil:
				return err
			case !r.u.eligible(cur):
				outcomes[i] = skipped // someone else upgraded it
				continue
			case cur.Revision != it.snap.Revision && cur.Text != it.snap.Text:
				outcomes[i], fresh[i] = requeued, cur // enrichment describes an old text
				continue
			case cur.Revision != it.snap.Revision:
				outcomes[i] = merged // same text: keep the concurrent change, add ours
			default:
				outcomes[i] = applied
			}
			apply(&cur, it.enr, now)
			if err := tx.Update(&cur); err != nil {
				return err
			}
		}
		return nil
	})
	// Count the transaction's hold time: from its start to commit's return.
	r.rep.LockAcquisition++
	if err != nil {
		for _, it := range batch {
			r.rep.Errors = append(r.rep.Errors, RowError{ID: it.snap.ID, Error: "commit failed: " + err.Error()})
		}
		return fmt.Errorf("commit batch: %w", err)
	}
	var done []string // rows whose claims go back now (not the re-queued ones)
	for i, it := range batch {
		if outcomes[i] != requeued || it.requeues >= maxRequeues {
			done = append(done, it.snap.ID)
		}
	}
	if err := r.release(ctx, done...); err != nil {
		return err
	}
	r.rep.Batches++
	r.rep.holds = append(r.rep.holds, held)
	r.consecutiveLLMErrors = 0
	for i, it := range batch {
		switch outcomes[i] {
		case applied, merged:
			if outcomes[i] == merged {
				r.rep.Merged++
			}
			if it.enr.By == ByFallback {
				r.rep.Fallbacks++
			} else {
				r.rep.Upgraded++
			}
			r.done++
		case requeued:
			r.rep.Requeued++
			if it.requeues >= maxRequeues {
				r.rep.Errors = append(r.rep.Errors, RowError{ID: it.snap.ID, Error: fmt.Sprintf("its text changed during each of %d enrichments; run upgrade again later", maxRequeues+1)})
				continue
			}
			r.requeueItem(&item{snap: fresh[i], requeues: it.requeues + 1})
		case skipped:
			r.rep.Skipped++
			r.done++
		}
	}
	if r.u.Progress != nil {
		r.u.Progress(Progress{Done: r.done, Total: r.total, Elapsed: r.u.Clock().Sub(r.start)})
	}
	return nil
}

// requeueItem sends a row back to the pool. It runs on the committer, which
// also drains the pool's results, so the hand-over happens on its own
// goroutine; counting it as outstanding first keeps the run alive until it
// comes back.
func (r *run) requeueItem(it *item) {
	r.outstanding++
	go func() { r.work <- it }()
}

// apply writes the enrichment onto the row as it is now: text stays what
// the user stored, existing metadata (tier, access_count, confidence,
// last_accessed_at, unknown keys) is kept, defaults fill only what is
// missing, and provenance is recorded.
func apply(m *memory.Memory, e Enrichment, now int64) {
	md := memory.CloneMetadata(m.Metadata)
	md[memory.KeyL0] = e.L0
	md[memory.KeyL1] = e.L1
	md[memory.KeyL2] = e.L2
	md[memory.KeyMemoryCategory] = string(e.Category)
	setDefault(md, memory.KeyTier, "working")
	setDefault(md, memory.KeyAccessCount, 0)
	setDefault(md, memory.KeyConfidence, 0.7)
	setDefault(md, memory.KeyLastAccessedAt, m.CreatedAt)
	if m.Format == memory.FormatLegacy {
		md[memory.KeyUpgradedFrom] = "legacy"
	}
	md[memory.KeyUpgradedAt] = now
	md[memory.KeyEnrichedBy] = e.By
	if e.Reason != "" {
		md["enrich_error"] = e.Reason
	} else {
		delete(md, "enrich_error")
	}
	m.Metadata = md
	m.Format = memory.FormatSmart
}

func setDefault(md map[string]any, k string, v any) {
	if _, ok := md[k]; !ok {
		md[k] = v
	}
}

func percentiles(ds []time.Duration) Percentiles {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	if len(ds) == 0 {
		return Percentiles{}
	}
	mx := ds[0]
	for _, d := range ds {
		mx = max(mx, d)
	}
	return Percentiles{P50: ms(lock.Percentile(ds, 50)), P99: ms(lock.Percentile(ds, 99)), Max: ms(mx)}
}
