// Package reembed moves a live store to another embedder (trove reembed)
// and keeps processes from mixing the vectors of two models (Guard).
//
// The job embeds every row with the target model in batches, with bounded
// concurrency and no lock held, and writes the vectors beside the old
// ones (the store's shadow table) with the version of the row they embed;
// search keeps using the old vectors. Passes repeat over the rows changed
// meanwhile, then one short transaction switches the vectors and the
// store's recorded identity. See DESIGN.md.
//
//	j := &reembed.Job{Store: st, Embedder: target, Target: sp}
//	rep, err := j.Run(ctx)
package reembed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/store"
)

// Backend is what the job needs of a store (store/sqlite implements it).
type Backend interface {
	IdentityStore
	BeginReembed(ctx context.Context, target store.Space) (resumed bool, err error)
	ReembedTodo(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error)
	PutShadow(ctx context.Context, target store.Space, rows []store.EmbedRow) (int, error)
	SwitchEmbedding(ctx context.Context, target store.Space, probe []float32, final []store.EmbedRow, keepOld bool) (store.SwitchResult, error)
	PendingRows(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error)
	PutVectors(ctx context.Context, sp store.Space, rows []store.EmbedRow) (int, error)
	RollbackEmbedding(ctx context.Context) (store.SwitchResult, error)
	ClearOtherSlot(ctx context.Context, batch int, progress func(cleared int, holdMS float64)) (int, error)
	ReembedCounts(ctx context.Context) (store.ReembedCounts, error)
}

// Sharer is a Backend several processes (hosts) can run one job on at
// once, sharing its rows instead of each embedding every row (the
// PostgreSQL store). A claimed row is handed to no other process until
// the claim is given up: PutShadow, PutVectors and SwitchEmbedding give
// up the claims of the rows they are given, ReleaseClaims all of this
// process's, and the end of the process (or its connection) all of its.
type Sharer interface {
	// ClaimTodo is ReembedTodo for target, returning only rows it
	// claimed; none when target is not the reembed in progress.
	ClaimTodo(ctx context.Context, target store.Space, afterRID int64, limit int) ([]store.EmbedRow, error)
	// ClaimPending is PendingRows, returning only rows it claimed.
	ClaimPending(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error)
	// ClaimedElsewhere counts the rows other processes hold claims on.
	ClaimedElsewhere(ctx context.Context) (int, error)
	ReleaseClaims()
	// TrySwitch elects the one process that makes the switch, without
	// waiting (a lock freed when its holder's session ends).
	TrySwitch() (release func(), ok bool, err error)
}

// Defaults.
const (
	DefaultBatchSize   = 64
	DefaultConcurrency = 4
	// ClearBatch is the vectors of another model cleared per write.
	ClearBatch = 256
	// maxPasses bounds the catch-up passes: rows a live writer keeps
	// changing are left to the switch (pending) rather than chased forever.
	maxPasses = 4
	// sharedWait bounds how long a process sharing a job (Sharer) waits
	// for the rows others are embedding before it switches, or before it
	// ends the pending pass: a host that is slow only makes the job
	// switch sooner (its batches then land after the switch, as pending
	// rows' vectors); one that died frees its rows at once.
	sharedWait = 30 * time.Second
	// sharedPoll is the pause between looks at the others' progress.
	sharedPoll = 100 * time.Millisecond
)

// Job moves a store to Target, or (Pending) embeds the rows without a
// vector with the store's own model.
type Job struct {
	Store Backend
	// Embedder embeds with Target's model; no lock is held while it runs.
	Embedder    embedding.Embedder
	Target      store.Space
	BatchSize   int
	Concurrency int
	KeepOld     bool
	// Progress hears of each committed batch.
	Progress func(Progress)
	Clock    func() time.Time
}

// Progress is reported after each committed batch.
type Progress struct {
	Phase   string // "clear", "embed" (before the switch) or "pending"
	Done    int
	Total   int
	Elapsed time.Duration
}

// Report is the outcome of a run; its JSON is a contract.
type Report struct {
	From       string `json:"from"`
	To         string `json:"to"`
	Dimensions int    `json:"dimensions"`
	Rows       int    `json:"rows"`
	Resumed    bool   `json:"resumed"`
	Embedded   int    `json:"embedded"`
	Requeued   int    `json:"requeued"` // vectors not kept: the row's text changed while it was embedded
	Passes     int    `json:"passes"`
	Batches    int    `json:"batches"`
	Switched   bool   `json:"switched"`
	// SwitchedElsewhere: another process sharing the job (on a store
	// several hosts share) made the switch; this one embedded its part.
	SwitchedElsewhere bool    `json:"switched_elsewhere,omitempty"`
	SwitchRows        int     `json:"switch_rows"`
	Queued            int     `json:"queued"`  // left without a vector by the switch (then embedded as pending)
	Pending           int     `json:"pending"` // rows without a vector embedded
	KeptOld           int     `json:"kept_old"`
	Cleared           int     `json:"cleared"` // vectors of another model cleared from the other slot, after the switch (or before a new target)
	SwitchMS          float64 `json:"switch_ms"`
	ClearMaxMS        float64 `json:"clear_max_ms"` // the longest lock hold of the clear's writes
	ClearMS           int64   `json:"clear_ms"`     // the clear's time, paced (not in rows_per_second)
	DurationMS        int64   `json:"duration_ms"`
	RowsPerSec        float64 `json:"rows_per_second"`
	Interrupted       bool    `json:"interrupted,omitempty"`
	Already           bool    `json:"already_current,omitempty"`
}

func (j *Job) defaults() {
	if j.BatchSize <= 0 {
		j.BatchSize = DefaultBatchSize
	}
	if j.Concurrency <= 0 {
		j.Concurrency = DefaultConcurrency
	}
	if j.Clock == nil {
		j.Clock = time.Now
	}
	if j.Progress == nil {
		j.Progress = func(Progress) {}
	}
}

// Probe embeds ProbeText with the job's embedder and fills in the
// target's dimensions when they were left to the model.
func (j *Job) probe(ctx context.Context) ([]float32, error) {
	vs, err := j.Embedder.Embed(ctx, []string{ProbeText})
	if err == nil {
		err = embedding.CheckVectors(vs, 1, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("the target embedder %s failed: %w", j.Target.Model, err)
	}
	if j.Target.Dimensions == 0 {
		j.Target.Dimensions = len(vs[0])
	} else if len(vs[0]) != j.Target.Dimensions {
		return nil, fmt.Errorf("the target embedder %s gives %d dimensions, configured for %d", j.Target.Model, len(vs[0]), j.Target.Dimensions)
	}
	return vs[0], nil
}

// Run moves the store to the target model: embed every row (resuming an
// interrupted run to the same target), switch in one transaction, then
// embed the rows the switch left pending. On an error or interruption
// the committed target vectors stay, and running again continues.
func (j *Job) Run(ctx context.Context) (rep Report, err error) {
	j.defaults()
	start := j.Clock()
	rep = Report{To: j.Target.Model}
	defer func() {
		rep.DurationMS = j.Clock().Sub(start).Milliseconds()
		// Rows embedded per second of the run, the clear (disk space only,
		// after the store moved) left out.
		if s := j.Clock().Sub(start).Seconds() - float64(rep.ClearMS)/1000; s > 0 {
			rep.RowsPerSec = float64(rep.Embedded+rep.Pending) / s
		}
	}()
	id, err := j.Store.Identity(ctx)
	if err != nil {
		return rep, err
	}
	rep.From = id.Model
	probe, err := j.probe(ctx)
	if err != nil {
		return rep, err
	}
	rep.Dimensions = j.Target.Dimensions
	if id.Model == j.Target.Model && id.Dimensions == j.Target.Dimensions {
		rep.Already = true
		if err := j.pending(ctx, &rep, start); err != nil {
			return rep, err
		}
		err := j.clear(ctx, &rep, start)
		return rep, err
	}
	sh, shared := j.Store.(Sharer)
	todo := j.Store.ReembedTodo
	if shared {
		defer sh.ReleaseClaims()
		todo = func(ctx context.Context, after int64, limit int) ([]store.EmbedRow, error) {
			return sh.ClaimTodo(ctx, j.Target, after, limit)
		}
	}
	if rep.Resumed, err = j.Store.BeginReembed(ctx, j.Target); err != nil {
		return rep, err
	}
	// The other slot takes the target vectors: leftovers of another
	// model go first.
	if err := j.clear(ctx, &rep, start); err != nil {
		return rep, err
	}
	c, err := j.Store.ReembedCounts(ctx)
	if err != nil {
		return rep, err
	}
	rep.Rows = c.Rows
	done := c.Shadowed
	report := func(n int) {
		done += n
		j.Progress(Progress{Phase: "embed", Done: done, Total: max(rep.Rows, done), Elapsed: j.Clock().Sub(start)})
	}
	pass := func() (int, error) {
		rep.Passes++
		seen, err := j.pass(ctx, &rep, todo, func(ctx context.Context, rows []store.EmbedRow) (int, error) {
			n, err := j.Store.PutShadow(ctx, j.Target, rows)
			rep.Embedded += n
			rep.Requeued += len(rows) - n
			return n, err
		}, report)
		if seen == 0 && rep.Passes > 1 {
			rep.Passes-- // a look that found nothing (sharing the job: waiting for others)
		}
		return seen, err
	}
	for rep.Passes < maxPasses {
		seen, err := pass()
		if err != nil {
			return rep, err
		}
		if seen <= j.BatchSize {
			break // what is left (written during the pass) goes into the switch
		}
	}
	switchNow := func() error {
		// The last rows: embedded outside the lock, written by the switch.
		final, err := todo(ctx, 0, 4*j.BatchSize)
		if err != nil {
			return err
		}
		if err := j.embed(ctx, final); err != nil {
			return stop(ctx, &rep, err)
		}
		sw, err := j.Store.SwitchEmbedding(context.WithoutCancel(ctx), j.Target, probe, final, j.KeepOld)
		if err != nil {
			return err
		}
		if len(final) > 0 {
			report(len(final))
		}
		rep.Embedded += len(final)
		if sw.Already {
			rep.SwitchedElsewhere = true
			return nil
		}
		rep.Switched, rep.SwitchRows, rep.Queued, rep.KeptOld, rep.SwitchMS = true, sw.Switched, sw.Queued, sw.KeptOld, sw.HoldMS
		return nil
	}
	if shared {
		err = j.sharedSwitch(ctx, sh, &rep, pass, switchNow)
	} else {
		err = switchNow()
	}
	if err != nil {
		return rep, err
	}
	// Rows without a vector first (search misses them), then the old
	// model's vectors (disk space only).
	if err := j.pending(ctx, &rep, start); err != nil {
		return rep, err
	}
	err = j.clear(ctx, &rep, start)
	return rep, err
}

// clear empties the other vector slot of another model's vectors, if the
// store says it holds any, in short writes. It is paced: after each write
// it pauses twice as long as the write took (scan, lock and commit), so
// the clear, which only frees disk space, takes at most a third of the
// writer's time and disk from live writers (their p99 rose most while it
// ran: BenchmarkReembedLiveWriter).
func (j *Job) clear(ctx context.Context, rep *Report, start time.Time) error {
	id, err := j.Store.Identity(ctx)
	if err != nil || !id.Clearing {
		return err
	}
	c, err := j.Store.ReembedCounts(ctx)
	if err != nil {
		return err
	}
	done := 0
	began := time.Now()
	last := began
	n, err := j.Store.ClearOtherSlot(ctx, ClearBatch, func(n int, hold float64) {
		done += n
		rep.ClearMaxMS = max(rep.ClearMaxMS, hold)
		j.Progress(Progress{Phase: "clear", Done: done, Total: max(c.Clear, done), Elapsed: j.Clock().Sub(start)})
		pause := time.NewTimer(2 * time.Since(last))
		select {
		case <-pause.C:
		case <-ctx.Done():
			pause.Stop()
		}
		last = time.Now()
	})
	rep.Cleared += n
	rep.ClearMS += time.Since(began).Milliseconds()
	if err != nil {
		return stop(ctx, rep, err)
	}
	return nil
}

// Pending embeds the rows without a vector with the store's model, which
// must be the job's (Target).
func (j *Job) Pending(ctx context.Context) (Report, error) {
	j.defaults()
	start := j.Clock()
	rep := Report{To: j.Target.Model, From: j.Target.Model}
	err := j.pending(ctx, &rep, start)
	if err == nil {
		err = j.clear(ctx, &rep, start)
	}
	rep.DurationMS = j.Clock().Sub(start).Milliseconds()
	if s := j.Clock().Sub(start).Seconds() - float64(rep.ClearMS)/1000; s > 0 {
		rep.RowsPerSec = float64(rep.Pending) / s
	}
	return rep, err
}

// sharedSwitch ends the passes of a job other processes share (Sharer):
// one process is elected to switch (TrySwitch); it goes on taking rows
// still to do while others hold rows they are embedding, for at most
// sharedWait, and then switches. The others go on embedding rows still
// to do until the switch is made; one of them takes over if the elected
// one dies first. The switch is made once (SwitchEmbedding is guarded).
func (j *Job) sharedSwitch(ctx context.Context, sh Sharer, rep *Report, pass func() (int, error), switchNow func() error) error {
	for {
		id, err := j.Store.Identity(ctx)
		if err != nil {
			return err
		}
		if id.Target.Model == "" && id.Model == j.Target.Model && id.Dimensions == j.Target.Dimensions {
			rep.SwitchedElsewhere = true
			return nil
		}
		if id.Target != j.Target {
			return fmt.Errorf("another trove reembed moved the store's target to %q meanwhile: run trove reembed again to say which model to move to", id.Target.Model)
		}
		release, ok, err := sh.TrySwitch()
		if err != nil {
			return err
		}
		if ok {
			err := j.electedSwitch(ctx, sh, pass, switchNow)
			release()
			return err
		}
		seen, err := pass()
		if err != nil {
			return err
		}
		if seen == 0 {
			if err := pause(ctx, sharedPoll); err != nil {
				return stop(ctx, rep, err)
			}
		}
	}
}

func (j *Job) electedSwitch(ctx context.Context, sh Sharer, pass func() (int, error), switchNow func() error) error {
	until := j.Clock().Add(sharedWait)
	for {
		// Rows others hold when the pass begins: once none are held, a
		// pass has seen every row still to do free (those of a process
		// that died included).
		busy, err := sh.ClaimedElsewhere(ctx)
		if err != nil {
			return err
		}
		seen, err := pass()
		if err != nil {
			return err
		}
		if (busy == 0 && seen <= j.BatchSize) || j.Clock().After(until) {
			break
		}
		if seen == 0 {
			if err := pause(ctx, sharedPoll); err != nil {
				return err
			}
		}
	}
	return switchNow()
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (j *Job) pending(ctx context.Context, rep *Report, start time.Time) error {
	c, err := j.Store.ReembedCounts(ctx)
	if err != nil {
		return err
	}
	id, err := j.Store.Identity(ctx)
	if err != nil {
		return err
	}
	if c.Pending == 0 {
		return nil
	}
	done := 0
	fetch := j.Store.PendingRows
	sh, shared := j.Store.(Sharer)
	if shared {
		defer sh.ReleaseClaims()
		fetch = sh.ClaimPending
	}
	until := j.Clock().Add(sharedWait)
	for {
		// Rows other processes are embedding when the pass begins: if
		// any, the pass is repeated once they are done (or the process
		// embedding them died, which frees them for this one).
		busy := 0
		if shared {
			if busy, err = sh.ClaimedElsewhere(ctx); err != nil {
				return err
			}
		}
		_, err = j.pass(ctx, rep, fetch, func(ctx context.Context, rows []store.EmbedRow) (int, error) {
			n, err := j.Store.PutVectors(ctx, id.Space, rows)
			rep.Pending += n
			return n, err
		}, func(n int) {
			done += n
			j.Progress(Progress{Phase: "pending", Done: done, Total: max(c.Pending, done), Elapsed: j.Clock().Sub(start)})
		})
		if err != nil || busy == 0 || j.Clock().After(until) {
			return err
		}
		if err := pause(ctx, sharedPoll); err != nil {
			return stop(ctx, rep, err)
		}
	}
}

// embed gives rows their vectors in batches, Concurrency at a time.
func (j *Job) embed(ctx context.Context, rows []store.EmbedRow) error {
	var wg sync.WaitGroup
	errs := make([]error, 0)
	var mu sync.Mutex
	sem := make(chan struct{}, j.Concurrency)
	for b := range slices.Chunk(rows, j.BatchSize) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := j.embedBatch(ctx, b); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (j *Job) embedBatch(ctx context.Context, rows []store.EmbedRow) error {
	texts := make([]string, len(rows))
	for i, r := range rows {
		texts[i] = r.Text
	}
	vs, err := j.Embedder.Embed(ctx, texts)
	if err == nil {
		err = embedding.CheckVectors(vs, len(texts), j.Target.Dimensions)
	}
	if err != nil {
		return fmt.Errorf("embed with %s: %w", j.Target.Model, err)
	}
	for i := range rows {
		rows[i].Vector = vs[i]
	}
	return nil
}

// pass runs one pipelined scan: a feeder reads batches of rows (keyset by
// rid, no lock), Concurrency workers embed them, and this goroutine
// commits each batch in one write while the workers go on. It returns how
// many rows the scan found.
func (j *Job) pass(parent context.Context, rep *Report,
	fetch func(ctx context.Context, after int64, limit int) ([]store.EmbedRow, error),
	commit func(ctx context.Context, rows []store.EmbedRow) (int, error),
	progress func(int)) (int, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	type batch struct {
		rows []store.EmbedRow
		err  error
	}
	todo := make(chan []store.EmbedRow, j.Concurrency)
	done := make(chan batch, j.Concurrency)
	var feedErr error
	seen := 0
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		defer close(todo)
		var after int64
		for {
			rows, err := fetch(ctx, after, j.BatchSize)
			if err != nil || len(rows) == 0 {
				feedErr = err
				return
			}
			seen += len(rows)
			after = rows[len(rows)-1].RID
			select {
			case todo <- rows:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range j.Concurrency {
		wg.Go(func() {
			for rows := range todo {
				err := j.embedBatch(ctx, rows)
				select {
				case done <- batch{rows, err}:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	var firstErr error
	for b := range done {
		if b.err != nil {
			if firstErr == nil {
				firstErr = b.err
				cancel()
			}
			continue
		}
		// A batch embedded is committed even after Ctrl-C: the work is done.
		n, err := commit(context.WithoutCancel(ctx), b.rows)
		if err != nil {
			if firstErr == nil {
				firstErr = err
				cancel()
			}
			continue
		}
		rep.Batches++
		progress(n)
	}
	cancel()
	<-fed
	if firstErr == nil && parent.Err() == nil {
		firstErr = feedErr
	}
	if firstErr == nil {
		firstErr = parent.Err()
	}
	if firstErr != nil {
		return seen, stop(parent, rep, firstErr)
	}
	return seen, nil
}

// stop turns an error into the run's outcome: an interruption is
// reported as such (what was committed stays, a rerun continues).
func stop(ctx context.Context, rep *Report, err error) error {
	if ctx.Err() != nil {
		rep.Interrupted = true
		return ctx.Err()
	}
	return err
}

// Rollback restores the vectors and identity the last switch made with
// KeepOld replaced.
func Rollback(ctx context.Context, st Backend) (Report, error) {
	id, err := st.Identity(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{From: id.Model, To: id.Previous.Model, Dimensions: id.Previous.Dimensions}
	sw, err := st.RollbackEmbedding(ctx)
	if err != nil {
		return rep, err
	}
	rep.Switched, rep.SwitchRows, rep.Queued, rep.SwitchMS = true, sw.Switched, sw.Queued, sw.HoldMS
	// The vectors of the model rolled back from go, in short paced writes.
	j := &Job{Store: st}
	j.defaults()
	err = j.clear(ctx, &rep, j.Clock())
	return rep, err
}

// DryRun counts what Run would do.
type DryRun struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Rows     int    `json:"rows"`
	ToEmbed  int    `json:"to_embed"`
	Pending  int    `json:"pending"`
	Resumes  bool   `json:"resumes"`
	Batches  int    `json:"batches"`
	Estimate string `json:"estimate,omitempty"`
}

// Plan counts the rows Run would embed. With an embedder, it times one
// batch of real rows (writing nothing) to estimate the run's length at
// the given concurrency.
func Plan(ctx context.Context, st Backend, target store.Space, emb embedding.Embedder, batchSize, concurrency int) (DryRun, error) {
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	concurrency = max(concurrency, 1)
	id, err := st.Identity(ctx)
	if err != nil {
		return DryRun{}, err
	}
	c, err := st.ReembedCounts(ctx)
	if err != nil {
		return DryRun{}, err
	}
	d := DryRun{From: id.Model, To: target.Model, Rows: c.Rows, Pending: c.Pending}
	switch {
	case id.Model == target.Model:
		d.ToEmbed = c.Pending
	case id.Target.Model == target.Model:
		d.Resumes, d.ToEmbed = true, c.Rows-c.Shadowed
	default:
		d.ToEmbed = c.Rows
	}
	d.Batches = (d.ToEmbed + batchSize - 1) / batchSize
	if emb == nil || d.Batches == 0 {
		return d, nil
	}
	rows, err := st.ReembedTodo(ctx, 0, batchSize)
	if err != nil || len(rows) == 0 {
		return d, err
	}
	texts := make([]string, len(rows))
	for i, r := range rows {
		texts[i] = r.Text
	}
	start := time.Now()
	if _, err := emb.Embed(ctx, texts); err != nil {
		return d, fmt.Errorf("the target embedder %s failed: %w", target.Model, err)
	}
	per := time.Since(start)
	d.Estimate = (per * time.Duration((d.Batches+concurrency-1)/concurrency)).Round(time.Second).String()
	return d, nil
}
