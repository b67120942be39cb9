package service

import (
	"context"
	"testing"
	"time"
)

type fakeSeq struct{ seq int64 }

func (f *fakeSeq) ChangeSeq(context.Context) (int64, error) { return f.seq, nil }

// A pass does not pause while it is the only writer; once another
// process's commit is seen it pauses 49 times its last write (the lock
// held 2% of the time) until maintainQuietFor passes with no other
// commit.
func TestPacer(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	seq := &fakeSeq{seq: 10}
	var slept []time.Duration
	p := &pacer{seqs: seq, seq: 10, share: DefaultLockShare, now: func() time.Time { return now },
		sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	write := func(hold time.Duration, others int) {
		t.Helper()
		if err := p.wait(ctx); err != nil {
			t.Fatal(err)
		}
		seq.seq++ // our commit
		p.wrote(hold)
		seq.seq += int64(others)
		now = now.Add(hold)
	}
	write(4*time.Millisecond, 0)
	write(4*time.Millisecond, 0)
	if len(slept) != 0 {
		t.Fatalf("paused with no other writer: %v", slept)
	}
	write(4*time.Millisecond, 1) // another process commits after this write
	write(6*time.Millisecond, 0)
	write(4*time.Millisecond, 0)
	if len(slept) != 2 || slept[0] != 196*time.Millisecond || slept[1] != 294*time.Millisecond {
		t.Fatalf("paused %v, want [196ms 294ms] (49 × the last write)", slept)
	}
	now = now.Add(maintainQuietFor)
	write(4*time.Millisecond, 0)
	if len(slept) != 2 {
		t.Fatalf("still paused %v after %s with no other commit", slept, maintainQuietFor)
	}
}
