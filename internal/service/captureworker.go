package service

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// CaptureJobName is the single-runner lock a capture worker holds while it
// works: with several servers on one store, one works and the others skip.
const CaptureJobName = "capture"

// idleSessionsPerPass bounds the idle sessions one worker pass extracts.
const idleSessionsPerPass = 50

// maxJobAttempts bounds how often an async capture is tried before it is
// marked failed (its messages stay buffered for a later capture).
const maxJobAttempts = 5

// captureWorker runs a server's asynchronous captures and extracts idle
// sessions: on every wake (an async request) and every tick.
type captureWorker struct {
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func (s *Service) startCaptureWorker() {
	ctx, cancel := context.WithCancel(context.Background())
	w := &captureWorker{wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	s.worker = w
	go func() {
		defer close(w.done)
		t := time.NewTicker(s.captureOpts().WorkerEvery)
		defer t.Stop()
		for {
			// The first pass runs at once: it resumes what a previous
			// server left pending when it stopped or died.
			if err := s.RunCaptureJobs(ctx); err != nil && ctx.Err() == nil && s.opts.OnMaintainError != nil {
				s.opts.OnMaintainError("capture", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
			case <-t.C:
			}
		}
	}()
}

func (w *captureWorker) stop() {
	w.cancel()
	<-w.done
}

// wakeCapture tells the worker, if this process runs one, that a job is
// waiting.
func (s *Service) wakeCapture() {
	if s.worker == nil {
		return
	}
	select {
	case s.worker.wake <- struct{}{}:
	default:
	}
}

// RunCaptureJobs runs the pending asynchronous captures and extracts the
// sessions idle for capture.idleFlush, if no other process is doing so
// (it then returns nil at once). A job that fails goes back to pending
// until maxJobAttempts; its messages stay buffered either way.
func (s *Service) RunCaptureJobs(ctx context.Context) error {
	jl, ok := s.opts.Store.(store.JobLocker)
	buf, ok2 := s.opts.Store.(store.Buffer)
	if !ok || !ok2 {
		return nil
	}
	release, got, err := jl.TryJob(CaptureJobName)
	if err != nil || !got {
		return err
	}
	defer release()
	// A job that failed goes back to pending: each is tried once a pass.
	tried := map[string]bool{}
	for {
		jobs, err := buf.PendingJobs(ctx, 20)
		if err != nil {
			return err
		}
		ran := 0
		for _, j := range jobs {
			if tried[j.ID] {
				continue
			}
			tried[j.ID] = true
			ran++
			if err := s.runJob(ctx, j); err != nil {
				return err
			}
		}
		if ran == 0 {
			break
		}
	}
	// At most idleSessionsPerPass a pass, oldest first: the rest are
	// extracted on the next tick, so one pass stays short.
	idle, err := buf.PendingSessions(ctx, s.opts.Clock().Add(-s.captureOpts().IdleFlush).UnixMilli(), idleSessionsPerPass)
	if err != nil {
		return err
	}
	var firstErr error
	for _, ps := range idle {
		c := Caller{Agent: ps.Agent}
		acc := s.opts.Access(ps.Agent).By(ps.Agent)
		pending, err := buf.PendingMessages(ctx, acc, ps.Session)
		if err != nil || len(pending) == 0 {
			continue
		}
		if _, err := s.extractSession(ctx, c, acc, pending[len(pending)-1].Scope, ps.Session, pending, uuid.NewString()); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// runJob runs one async capture and records its outcome. Only a store
// failure (recording the outcome) is returned.
func (s *Service) runJob(ctx context.Context, j store.CaptureJob) error {
	owner := memory.Owner()
	acc := s.opts.Access(j.Agent).By(j.Agent)
	j.Attempts++
	j.State = store.JobRunning
	if err := s.putJob(ctx, owner, j); err != nil {
		return err
	}
	buf := s.opts.Store.(store.Buffer)
	pending, err := buf.PendingMessages(ctx, acc, j.Session)
	var out CaptureOutput
	if err == nil {
		if len(pending) == 0 {
			out = CaptureOutput{CaptureID: j.ID, State: CaptureDone, Session: sessionName(j.Session), Stored: []Memory{}, Skipped: []capture.Skip{},
				Warnings: []string{"nothing was buffered for this session any more: another capture took its messages"}}
		} else {
			out, err = s.extractSession(ctx, Caller{Agent: j.Agent}, acc, j.Scope, j.Session, pending, j.ID)
		}
	}
	switch {
	case err == nil:
		out.State = CaptureDone
		j.State, j.Error = store.JobDone, ""
		j.Result, _ = json.Marshal(out)
	case ctx.Err() != nil:
		j.State = store.JobPending // the server is stopping: the next one resumes it
	case j.Attempts >= maxJobAttempts:
		j.State, j.Error = store.JobFailed, ErrorOf(err).Message
	default:
		j.State, j.Error = store.JobPending, ErrorOf(err).Message
	}
	return s.putJob(context.WithoutCancel(ctx), owner, j)
}
