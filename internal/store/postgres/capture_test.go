package postgres

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
)

func putJob(t testing.TB, s *Store, j store.CaptureJob) {
	t.Helper()
	if err := s.Write(context.Background(), memory.Owner(), func(tx store.Tx) error {
		return tx.(store.BufferTx).PutCaptureJob(j)
	}); err != nil {
		t.Fatal(err)
	}
}

// Runners on three stores (three hosts' capture workers, without the job
// lock that would let only one of them work) share the pending jobs: every
// job runs exactly once, and every one is done.
func TestCaptureJobsSharedNeverRunTwice(t *testing.T) {
	url := pgtest.URL(t)
	stores := []*Store{openURL(t, url), openURL(t, url), openURL(t, url)}
	const jobs = 60
	for i := range jobs {
		putJob(t, stores[0], store.CaptureJob{ID: fmt.Sprintf("job-%03d", i), Session: "s", State: store.JobPending, CreatedAt: int64(1000 + i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	runs := map[string][]int{} // job id → the runners that ran it
	var wg sync.WaitGroup
	errs := make(chan error, len(stores))
	for r, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				js, err := s.PendingJobs(ctx, 4)
				if err != nil {
					errs <- err
					return
				}
				if len(js) == 0 {
					var left int
					if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM capture_jobs WHERE state <> 'done'").Scan(&left); err != nil {
						errs <- err
						return
					}
					if left == 0 {
						return
					}
					continue // claimed elsewhere, not finished yet
				}
				for _, j := range js {
					if j.State != store.JobPending || j.Attempts != 0 {
						errs <- fmt.Errorf("runner %d got job %s in state %s after %d attempts", r, j.ID, j.State, j.Attempts)
						return
					}
					j.Attempts++
					j.State = store.JobRunning
					if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.(store.BufferTx).PutCaptureJob(j) }); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					runs[j.ID] = append(runs[j.ID], r)
					mu.Unlock()
					j.State = store.JobDone
					if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.(store.BufferTx).PutCaptureJob(j) }); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- ctx.Err()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(runs) != jobs {
		t.Fatalf("%d jobs ran, want %d", len(runs), jobs)
	}
	per := make([]int, len(stores))
	for id, rs := range runs {
		if len(rs) != 1 {
			t.Errorf("job %s ran %d times (runners %v)", id, len(rs), rs)
		}
		per[rs[0]]++
	}
	t.Logf("jobs per runner: %v", per)
	for _, s := range stores {
		if js, err := s.PendingJobs(ctx, 0); err != nil || len(js) != 0 {
			t.Fatalf("pending after the run: %v %v", js, err)
		}
	}
}

// A job another store claimed is not handed out while its claimant
// lives; once the claimant's session is gone (its process died), the
// job, still "running", is resumed elsewhere.
func TestCaptureJobResumedWhenClaimantDies(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	ctx := context.Background()
	putJob(t, a, store.CaptureJob{ID: "j1", Session: "s", State: store.JobPending})
	js, err := a.PendingJobs(ctx, 0)
	if err != nil || len(js) != 1 {
		t.Fatalf("a's pending jobs: %+v %v", js, err)
	}
	j := js[0]
	j.State, j.Attempts = store.JobRunning, 1
	putJob(t, a, j)
	if js, err := b.PendingJobs(ctx, 0); err != nil || len(js) != 0 {
		t.Fatalf("b got a job a is running: %+v %v", js, err)
	}
	// a's runner is still at it: listed again to a (it resumes its own).
	if js, err := a.PendingJobs(ctx, 0); err != nil || len(js) != 1 || js[0].State != store.JobRunning {
		t.Fatalf("a's own running job: %+v %v", js, err)
	}
	killSession(t, a.jobClaims().conn.PgConn().PID())
	js, err = b.PendingJobs(ctx, 0)
	if err != nil || len(js) != 1 || js[0].ID != "j1" || js[0].State != store.JobRunning || js[0].Attempts != 1 {
		t.Fatalf("b after a died: %+v %v", js, err)
	}
	// b finishes it; a (its claims connection gone) does not get it back.
	j = js[0]
	j.State = store.JobDone
	putJob(t, b, j)
	if js, err := a.PendingJobs(ctx, 0); err != nil || len(js) != 0 {
		t.Fatalf("a after b finished: %+v %v", js, err)
	}
	if js, err := b.PendingJobs(ctx, 0); err != nil || len(js) != 0 {
		t.Fatalf("b after it finished: %+v %v", js, err)
	}
}

// killSession ends the server session pid, as a host dying would, and
// waits until the server has ended it (and so released its locks).
func killSession(t *testing.T, pid uint32) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, os.Getenv(pgtest.Env))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var ok bool
	if err := admin.QueryRow(ctx, "SELECT pg_terminate_backend($1, 10000)", int32(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate session %d: %v %v", pid, ok, err)
	}
}

// jobLockHolder returns the server pid holding the job lock name.
func jobLockHolder(t *testing.T, s *Store, name string) uint32 {
	t.Helper()
	var pid uint32
	err := s.pool.QueryRow(context.Background(), `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2`,
		int64(uint32(lockClassJob)), int64(uint32(lockKey(name)))).Scan(&pid)
	if err != nil {
		t.Fatalf("find the holder of job lock %s: %v", name, err)
	}
	return pid
}

// The job lock is the server's: when the holder's session dies, it is
// free at once, with no lease to run out; the dead holder's release is
// harmless.
func TestTryJobFreedWhenHolderKilled(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	release, ok, err := a.TryJob("capture")
	if err != nil || !ok {
		t.Fatalf("a: %v %v", ok, err)
	}
	if _, ok, err := b.TryJob("capture"); err != nil || ok {
		t.Fatalf("b took a held lock: %v %v", ok, err)
	}
	killSession(t, jobLockHolder(t, a, "capture"))
	rb, ok, err := b.TryJob("capture")
	if err != nil || !ok {
		t.Fatalf("b after the holder died: %v %v", ok, err)
	}
	release() // the dead holder's
	if _, ok, err := a.TryJob("capture"); err != nil || ok {
		t.Fatalf("a took the lock b holds: %v %v", ok, err)
	}
	rb()
	// The store's pool still works after one of its sessions was killed
	// (the lock's connection had left it).
	if r, ok, err := a.TryJob("capture"); err != nil || !ok {
		t.Fatalf("a after b released: %v %v", ok, err)
	} else {
		r()
	}
}

// TryJob after Close says the store is closed.
func TestTryJobAfterClose(t *testing.T) {
	s, err := Open(context.Background(), pgtest.URL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, _, err := s.TryJob("capture"); err == nil {
		t.Fatal("TryJob on a closed store succeeded")
	}
}

// Appends to one session from many writers at once get ids in commit
// order, so a capture that consumes "through the last id it read" never
// consumes a message it did not read.
func TestAppendIDsFollowCommitOrder(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	const writers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
					_, err := tx.(store.BufferTx).AppendMessages([]store.BufferedMessage{
						{Session: "s", Role: "user", Content: fmt.Sprintf("w%d-%d", w, i)}})
					if err == nil && i%3 == 0 {
						time.Sleep(time.Millisecond) // hold the transaction open a little
					}
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	consumed := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		ms, err := s.PendingMessages(ctx, memory.Owner(), "s")
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			continue
		}
		var n int
		if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			var err error
			n, err = tx.(store.BufferTx).ConsumeMessages("s", ms[len(ms)-1].ID, "cap")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n != len(ms) {
			t.Fatalf("read %d messages, consumed %d through id %d: a message committed after the read had a smaller id", len(ms), n, ms[len(ms)-1].ID)
		}
		consumed += n
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if ms, _ := s.PendingMessages(ctx, memory.Owner(), "s"); consumed+len(ms) != writers*each {
		t.Fatalf("consumed %d, pending %d, appended %d", consumed, len(ms), writers*each)
	}
}

// Pruning the capture buffer removes consumed messages and finished jobs
// older than the cut, never pending ones.
func TestPruneCapture(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	var ms []store.BufferedMessage
	for i := range 7 {
		ms = append(ms, store.BufferedMessage{Session: "s", Role: "user", Content: fmt.Sprint(i), CreatedAt: 100})
	}
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		got, err := tx.(store.BufferTx).AppendMessages(ms)
		if err != nil {
			return err
		}
		_, err = tx.(store.BufferTx).ConsumeMessages("s", got[4].ID, "cap")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	putJob(t, s, store.CaptureJob{ID: "done", Session: "s", State: store.JobDone})
	putJob(t, s, store.CaptureJob{ID: "pending", Session: "s", State: store.JobPending})
	now := time.Now().UnixMilli()
	if n, err := s.PruneCapture(ctx, now-time.Hour.Milliseconds(), 2); err != nil || n != 0 {
		t.Fatalf("prune before the cut: %d %v", n, err)
	}
	if n, err := s.PruneCapture(ctx, now+time.Hour.Milliseconds(), 2); err != nil || n != 6 {
		t.Fatalf("prune: %d %v, want 5 messages and 1 job", n, err)
	}
	if left := pendingCount(t, s); left != 2 {
		t.Fatalf("%d pending messages left, want 2", left)
	}
	if _, err := s.CaptureJob(ctx, memory.Owner(), "pending"); err != nil {
		t.Fatalf("the pending job was pruned: %v", err)
	}
}

func pendingCount(t *testing.T, s *Store) int {
	t.Helper()
	ms, err := s.PendingMessages(context.Background(), memory.Owner(), "s")
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// A store that closes gives up its claims: its running job goes to
// another runner at once.
func TestCaptureClaimsGivenUpAtClose(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	ctx := context.Background()
	putJob(t, a, store.CaptureJob{ID: "j1", Session: "s", State: store.JobRunning, Attempts: 1})
	if js, err := a.PendingJobs(ctx, 0); err != nil || len(js) != 1 {
		t.Fatalf("a: %+v %v", js, err)
	}
	if js, err := b.PendingJobs(ctx, 0); err != nil || len(js) != 0 {
		t.Fatalf("b while a holds the job: %+v %v", js, err)
	}
	a.Close()
	if js, err := b.PendingJobs(ctx, 0); err != nil || len(js) != 1 || js[0].Attempts != 1 {
		t.Fatalf("b after a closed: %+v %v", js, err)
	}
}
