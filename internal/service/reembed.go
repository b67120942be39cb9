package service

import (
	"context"
	"errors"
	"sync"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/reembed"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/store"
)

// EmbedderSpec names the embedder a reembed moves to; empty fields keep
// this process's configured values (base URL, key, batch size...).
type EmbedderSpec struct {
	Provider   string `json:"provider"`
	Model      string `json:"model"`
	Dimensions int    `json:"dimensions,omitempty"`
	BaseURL    string `json:"base_url,omitempty"`
}

// ReembedInput configures trove reembed.
type ReembedInput struct {
	Target      EmbedderSpec
	DryRun      bool
	Pending     bool // only embed the rows without a vector, with the store's (and this process's) model
	KeepOld     bool // keep the old vectors for Rollback
	Rollback    bool
	BatchSize   int // texts per embedding call and per commit; 0: reembed.DefaultBatchSize
	Concurrency int // embedding calls in flight; 0: reembed.DefaultConcurrency
	Progress    func(ReembedProgress)
}

// ReembedReport is the outcome of a reembed; its JSON is a contract.
type ReembedReport struct {
	reembed.Report
	DryRun *reembed.DryRun `json:"dry_run,omitempty"`
}

// ReembedProgress is reported after each committed batch.
type ReembedProgress = reembed.Progress

// Reembed moves the store to another embedder while other processes keep
// reading and writing it (internal/reembed), embeds the rows left without
// a vector (Pending), or undoes the last move made with KeepOld
// (Rollback). Only the store's owner may run it: it rewrites every row's
// vector.
func (s *Service) Reembed(ctx context.Context, c Caller, in ReembedInput) (ReembedReport, error) {
	if c.Agent != "" {
		return ReembedReport{}, ErrorOf(&memory.ScopeDeniedError{Scope: memory.GlobalScope})
	}
	b, ok := s.opts.Store.(reembed.Backend)
	if !ok {
		return ReembedReport{}, Unavailable("this store cannot be re-embedded")
	}
	batch, err := limit("batch size", in.BatchSize, reembed.DefaultBatchSize, MaxReembedBatch)
	if err != nil {
		return ReembedReport{}, err
	}
	conc, err := limit("concurrency", in.Concurrency, reembed.DefaultConcurrency, MaxReembedConcurrency)
	if err != nil {
		return ReembedReport{}, err
	}
	modes := 0
	for _, on := range []bool{in.Pending, in.Rollback, in.Target.Provider != "" || in.Target.Model != ""} {
		if on {
			modes++
		}
	}
	if modes != 1 {
		return ReembedReport{}, Invalid("say what to do: --provider P --model M to move the store to another embedder, --pending to embed the rows without a vector, or --rollback to undo the last move made with --keep-old")
	}
	if in.Rollback {
		release, err := s.reembedLock(b)
		if err != nil {
			return ReembedReport{}, err
		}
		defer release()
		rep, err := reembed.Rollback(ctx, b)
		if err != nil {
			return ReembedReport{Report: rep}, ErrorOf(err)
		}
		s.warmIndexFile(ctx, rep.Switched)
		return ReembedReport{Report: rep}, nil
	}
	if in.Pending {
		id, err := b.Identity(ctx)
		if err != nil {
			return ReembedReport{}, ErrorOf(err)
		}
		if in.DryRun {
			d, err := reembed.Plan(ctx, b, id.Space, nil, batch, conc)
			return ReembedReport{DryRun: &d}, errOrNil(err)
		}
		if s.opts.Embedder == nil {
			return ReembedReport{}, Unavailable("no embedding provider is configured")
		}
		release, err := s.reembedLock(b)
		if err != nil {
			return ReembedReport{}, err
		}
		defer release()
		// Through the guard: this process must embed with the store's model.
		j := &reembed.Job{Store: b, Embedder: s.opts.Embedder, Target: id.Space, BatchSize: batch, Concurrency: conc, Progress: in.Progress}
		rep, err := j.Pending(ctx)
		return ReembedReport{Report: rep}, errOrNil(err)
	}
	if s.opts.NewEmbedder == nil {
		return ReembedReport{}, Unavailable("this trove cannot build another embedder")
	}
	if in.Target.Provider == "" {
		return ReembedReport{}, Invalid("--provider is missing: name the embedding provider to move to")
	}
	emb, sp, err := s.opts.NewEmbedder(in.Target)
	if err != nil {
		return ReembedReport{}, Invalid("target embedder: %s", err.Error())
	}
	if in.DryRun {
		d, err := reembed.Plan(ctx, b, sp, emb, batch, conc)
		return ReembedReport{DryRun: &d}, errOrNil(err)
	}
	release, err := s.reembedLock(b)
	if err != nil {
		return ReembedReport{}, err
	}
	defer release()
	j := &reembed.Job{Store: b, Embedder: emb, Target: sp, BatchSize: batch, Concurrency: conc, KeepOld: in.KeepOld, Progress: in.Progress}
	rep, err := j.Run(ctx)
	s.warmIndexFile(ctx, rep.Switched)
	return ReembedReport{Report: rep}, errOrNil(err)
}

// ReembedJobName is the job lock (store.JobLocker) a reembed holds on a
// store whose processes cannot share one (the SQLite store): one runs at
// a time there. A store that shares it (reembed.Sharer: PostgreSQL) takes
// no such lock: processes on several hosts split the rows.
const ReembedJobName = "reembed"

// reembedLock takes the reembed's job lock where the store needs one.
func (s *Service) reembedLock(b reembed.Backend) (release func(), err error) {
	jl, ok := b.(store.JobLocker)
	if _, shares := b.(reembed.Sharer); shares || !ok {
		return func() {}, nil
	}
	release, got, err := jl.TryJob(ReembedJobName)
	if err != nil {
		return nil, ErrorOf(err)
	}
	if !got {
		return nil, Unavailable("another trove reembed is running on this store: wait for it to finish and run this again if need be (a reembed stopped part way continues where it stopped)")
	}
	return release, nil
}

// warmIndexFile writes the vector index file of the model the store now
// uses after a switch, so that the first search after it maps the file
// instead of reading every vector (retrieve.WarmIndexFile). No lock is
// held; a failure costs that search the read, and is not the job's.
func (s *Service) warmIndexFile(ctx context.Context, switched bool) {
	if ss, ok := s.opts.Store.(store.Searcher); ok && switched {
		_ = retrieve.WarmIndexFile(ctx, ss)
	}
}

func errOrNil(err error) error {
	if err == nil {
		return nil
	}
	return ErrorOf(err)
}

// movedNotice says once per process that the store moved to another
// model: its writes go in without a vector (pending) until it restarts.
type movedNotice struct {
	once sync.Once
}

// degraded reports whether err says the store moved away from this
// process's model; it warns once.
func (s *Service) degraded(err error) bool {
	var moved *reembed.MovedError
	if !errors.As(err, &moved) {
		return false
	}
	s.moved.once.Do(func() {
		if s.opts.Warn != nil {
			s.opts.Warn(moved.Error() + "; new memories are stored without a vector and found by text until then (trove reembed --pending embeds them)")
		}
	})
	return true
}

// writeEmbedded runs write, a write of a row with a vector made before the
// lock. If the store moved to another embedding model after that vector
// was made, drop clears it and write runs again: the row is stored
// without a vector, found lexically, and waits for trove reembed --pending.
func (s *Service) writeEmbedded(ctx context.Context, acc memory.Access, hasVector bool, drop func(), write func(store.Tx) error) error {
	err := store.WriteAgain(ctx, s.opts.Store, acc, write)
	if err != nil && hasVector && s.movedMeanwhile(ctx, err) {
		drop()
		err = store.WriteAgain(ctx, s.opts.Store, acc, write)
	}
	return err
}

// movedMeanwhile reports whether a write refused for its vector was
// refused because the store moved to another model after the embedding.
func (s *Service) movedMeanwhile(ctx context.Context, err error) bool {
	if !errors.Is(err, memory.ErrDimensions) {
		return false
	}
	g, ok := s.opts.Embedder.(interface{ Check(context.Context) error })
	return ok && s.degraded(g.Check(ctx))
}

// noVectors stands for the vectors of texts written without one: empty,
// so an update clears the old text's vector rather than keeping it.
func noVectors(n int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = []float32{}
	}
	return out
}
