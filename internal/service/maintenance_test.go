package service_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
)

func TestMaintenanceRunsUntilClose(t *testing.T) {
	st := servicetest.Store(t)
	ran := make(chan struct{}, 16)
	var failures atomic.Int64
	svc := service.New(service.Options{Store: st, Embedder: servicetest.Embedder(), MaintainEvery: time.Millisecond,
		Maintenance: []service.Task{
			{Name: "count", Run: func(ctx context.Context) error { ran <- struct{}{}; return nil }},
			{Name: "fail", Run: func(ctx context.Context) error { return errors.New("boom") }},
		},
		OnMaintainError: func(task string, err error) {
			if task == "fail" {
				failures.Add(1)
			}
		}})
	for range 2 {
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Fatal("maintenance did not run")
		}
	}
	if err := svc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if failures.Load() == 0 {
		t.Fatal("a failing task was not reported")
	}
	// After Close no task runs any more.
	for len(ran) > 0 {
		<-ran
	}
	time.Sleep(20 * time.Millisecond)
	if len(ran) != 0 {
		t.Fatal("a task ran after Close")
	}
}
