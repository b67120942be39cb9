package service

import (
	"context"

	"github.com/trove-memory/trove/internal/lock"
)

// Health reports whether the store answers, for a server's health check.
func (s *Service) Health(ctx context.Context) error {
	if _, err := s.opts.Store.Space(ctx); err != nil {
		return ErrorOf(err)
	}
	return nil
}

// LockFigures are the store's write-lock figures as this process saw them:
// acquisitions, and the latest waits and holds.
type LockFigures = lock.Snapshot

// LockFigures returns the write-lock figures, when the store has a
// cross-process lock.
func (s *Service) LockFigures() (LockFigures, bool) {
	if lh, ok := s.opts.Store.(interface{ Lock() *lock.Lock }); ok && lh.Lock() != nil {
		return lh.Lock().Stats(), true
	}
	return LockFigures{}, false
}
