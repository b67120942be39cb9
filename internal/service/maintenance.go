package service

import (
	"context"
	"time"

	"github.com/trove-memory/trove/internal/store"
)

// DefaultMaintainEvery is how often a server runs its maintenance tasks.
const DefaultMaintainEvery = time.Hour

// Task is one maintenance job a server runs periodically (pruning old
// tombstones, later decay and tier moves). A task works in short batches
// and may be stopped (ctx) and re-run at any point.
type Task struct {
	Name string
	Run  func(ctx context.Context) error
}

// maintainer runs the tasks every interval until stopped: the first run
// comes one interval after start, so a server's start-up is not slowed.
type maintainer struct {
	tasks   []Task
	every   time.Duration
	onError func(task string, err error)
	cancel  context.CancelFunc
	done    chan struct{}
}

func startMaintainer(tasks []Task, every time.Duration, onError func(string, error)) *maintainer {
	if every <= 0 {
		every = DefaultMaintainEvery
	}
	if onError == nil {
		onError = func(string, error) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &maintainer{tasks: tasks, every: every, onError: onError, cancel: cancel, done: make(chan struct{})}
	go m.loop(ctx)
	return m
}

func (m *maintainer) loop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.runOnce(ctx)
		}
	}
}

func (m *maintainer) runOnce(ctx context.Context) {
	for _, task := range m.tasks {
		if err := task.Run(ctx); err != nil && ctx.Err() == nil {
			m.onError(task.Name, err)
		}
	}
}

// stop cancels a running pass (it keeps the batches it committed) and
// waits for the loop to end.
func (m *maintainer) stop() {
	m.cancel()
	<-m.done
}

// PruneHistoryTask prunes kept versions beyond keep per memory or
// replaced more than keepFor ago (0: no bound of that kind), in bounded
// batches (store.Historian.PruneHistory).
func PruneHistoryTask(st store.Historian, keep int, keepFor time.Duration, now func() time.Time) Task {
	return Task{Name: "prune history", Run: func(ctx context.Context) error {
		var before int64
		if keepFor > 0 {
			before = now().Add(-keepFor).UnixMilli()
		}
		_, err := st.PruneHistory(ctx, keep, before, 0)
		return err
	}}
}
