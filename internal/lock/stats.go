package lock

import (
	"slices"
	"sync"
	"time"
)

// ringSize bounds the samples kept for percentiles.
const ringSize = 4096

// Stats keeps recent wait and hold durations.
type Stats struct {
	mu           sync.Mutex
	waits, holds []time.Duration
	wi, hi       int
	acquisitions int64
}

func newStats() *Stats { return &Stats{} }

func push(ring []time.Duration, i *int, d time.Duration) []time.Duration {
	if len(ring) < ringSize {
		return append(ring, d)
	}
	ring[*i%ringSize] = d
	*i++
	return ring
}

func (s *Stats) addWait(d time.Duration) {
	s.mu.Lock()
	s.waits = push(s.waits, &s.wi, d)
	s.acquisitions++
	s.mu.Unlock()
}

func (s *Stats) addHold(d time.Duration) {
	s.mu.Lock()
	s.holds = push(s.holds, &s.hi, d)
	s.mu.Unlock()
}

// Snapshot is a copy of recent figures.
type Snapshot struct {
	Acquisitions int64
	Waits, Holds []time.Duration
}

func (s *Stats) snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Snapshot{Acquisitions: s.acquisitions, Waits: slices.Clone(s.waits), Holds: slices.Clone(s.holds)}
}

// Percentile returns the p-th percentile (0..100) of ds, 0 when empty.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	c := slices.Clone(ds)
	slices.Sort(c)
	i := int(float64(len(c)-1) * p / 100)
	return c[i]
}
