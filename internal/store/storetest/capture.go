package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The capture buffer and capture jobs (store.Buffer, store.BufferTx) and
// the job lock (store.JobLocker). Every backend must have a buffer: the
// service's capture depends on it.

func buffer(t *testing.T, s store.Store) store.Buffer {
	t.Helper()
	b, ok := s.(store.Buffer)
	if !ok {
		t.Fatalf("%T has no capture buffer (store.Buffer)", s)
	}
	return b
}

// bufTx is the write side of the buffer in a Write function.
func bufTx(tx store.Tx) store.BufferTx {
	return tx.(store.BufferTx)
}

func msg(session string, scope memory.Scope, role, content string) store.BufferedMessage {
	return store.BufferedMessage{Session: session, Scope: scope, Role: role, Content: content}
}

func appendMsgs(t *testing.T, s store.Store, acc memory.Access, msgs ...store.BufferedMessage) []store.BufferedMessage {
	t.Helper()
	var out []store.BufferedMessage
	err := s.Write(ctx, acc, func(tx store.Tx) error {
		var err error
		out, err = bufTx(tx).AppendMessages(msgs)
		return err
	})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return out
}

func pending(t *testing.T, s store.Store, acc memory.Access, session string) []store.BufferedMessage {
	t.Helper()
	ms, err := buffer(t, s).PendingMessages(ctx, acc, session)
	if err != nil {
		t.Fatalf("pending messages of %s: %v", session, err)
	}
	return ms
}

func contents(ms []store.BufferedMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Content)
	}
	return out
}

func testCaptureAppend(t *testing.T, s store.Store) {
	g := memory.GlobalScope
	got := appendMsgs(t, s, memory.Owner(),
		msg("s1", g, "user", "I moved to Lisbon"),
		msg("s1", g, "assistant", "Noted."),
		msg("s2", g, "user", "other session"))
	appendMsgs(t, s, memory.Owner(), msg("s1", "", "user", "and I prefer tea"))
	if len(got) != 3 || got[0].ID == 0 || !(got[0].ID < got[1].ID && got[1].ID < got[2].ID) || got[0].CreatedAt == 0 {
		t.Fatalf("appended %+v", got)
	}
	ms := pending(t, s, memory.Owner(), "s1")
	if want := []string{"I moved to Lisbon", "Noted.", "and I prefer tea"}; !slices.Equal(contents(ms), want) {
		t.Fatalf("pending s1 = %q, want %q", contents(ms), want)
	}
	if ms[0] != got[0] || ms[2].Scope != memory.GlobalScope || ms[2].ID <= got[2].ID {
		t.Fatalf("stored %+v, appended %+v", ms, got)
	}
	if ms := pending(t, s, memory.Owner(), "none"); len(ms) != 0 || ms == nil {
		t.Fatalf("unknown session: %#v", ms)
	}
	for _, bad := range []store.BufferedMessage{msg("", g, "user", "x"), msg("s1", g, "", "x"), msg("s1", "no spaces allowed", "user", "x")} {
		err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			_, err := bufTx(tx).AppendMessages([]store.BufferedMessage{msg("s1", g, "user", "before the bad one"), bad})
			return err
		})
		if !errors.Is(err, memory.ErrInvalid) {
			t.Errorf("append %+v: %v, want ErrInvalid", bad, err)
		}
	}
	if n := len(pending(t, s, memory.Owner(), "s1")); n != 3 {
		t.Fatalf("a failed append left %d messages, want 3", n)
	}
}

// Consuming messages commits with the decisions made from them, or not at all.
func testCaptureConsume(t *testing.T, s store.Store) {
	g := memory.GlobalScope
	ms := appendMsgs(t, s, memory.Owner(),
		msg("s", g, "user", "one"), msg("s", g, "assistant", "two"), msg("s", g, "user", "three"), msg("s", g, "user", "four"))
	boom := errors.New("extraction failed at commit")
	err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m := mem("from-failed", "a decision that is rolled back")
		if err := tx.Insert(&m); err != nil {
			return err
		}
		if n, err := bufTx(tx).ConsumeMessages("s", ms[2].ID, "cap-0"); err != nil || n != 3 {
			return fmt.Errorf("consume: %d %v", n, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if _, err := s.Get(ctx, memory.Owner(), "from-failed"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("decision of a failed write kept: %v", err)
	}
	if n := len(pending(t, s, memory.Owner(), "s")); n != 4 {
		t.Fatalf("a failed write consumed messages: %d pending, want 4", n)
	}

	consume := func(through int64, id string, ins string) (int, error) {
		var n int
		err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			var err error
			if n, err = bufTx(tx).ConsumeMessages("s", through, id); err != nil {
				return err
			}
			if n == 0 {
				return errAlreadyCaptured
			}
			m := mem(ins, "decided from the buffer")
			return tx.Insert(&m)
		})
		return n, err
	}
	if n, err := consume(ms[2].ID, "cap-1", "from-1"); err != nil || n != 3 {
		t.Fatalf("consume: %d %v", n, err)
	}
	if _, err := s.Get(ctx, memory.Owner(), "from-1"); err != nil {
		t.Fatalf("decision committed with the consumption is missing: %v", err)
	}
	if got := contents(pending(t, s, memory.Owner(), "s")); !slices.Equal(got, []string{"four"}) {
		t.Fatalf("pending after consume = %q", got)
	}
	// A second consumer of the same range marks nothing and rolls back.
	if n, err := consume(ms[2].ID, "cap-2", "from-2"); !errors.Is(err, errAlreadyCaptured) || n != 0 {
		t.Fatalf("second consume: %d %v", n, err)
	}
	if _, err := s.Get(ctx, memory.Owner(), "from-2"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("second consumer's decision kept: %v", err)
	}
	// One reaching further counts only the messages not yet consumed.
	if n, err := consume(ms[3].ID, "cap-3", "from-3"); err != nil || n != 1 {
		t.Fatalf("consume the rest: %d %v", n, err)
	}
	if got := pending(t, s, memory.Owner(), "s"); len(got) != 0 {
		t.Fatalf("pending after consuming all: %q", contents(got))
	}
}

var errAlreadyCaptured = errors.New("already captured")

func testCapturePendingSessions(t *testing.T, s store.Store) {
	b := buffer(t, s)
	g := memory.GlobalScope
	at := func(m store.BufferedMessage, ms int64) store.BufferedMessage { m.CreatedAt = ms; return m }
	appendMsgs(t, s, memory.Owner(),
		at(msg("b", g, "user", "b1"), 2000),
		at(msg("a", g, "user", "a1"), 1000),
		at(msg("a", g, "assistant", "a2"), 1100),
		at(msg("a", g, "user", "a3"), 1200),
		at(msg("c", memory.AgentScope("x"), "user", "c1"), 3000))
	appendMsgs(t, s, memory.Owner(), store.BufferedMessage{Session: "c", Scope: memory.AgentScope("x"), Agent: "x", Role: "user", Content: "c2", CreatedAt: 3100})
	list := func(idleBefore int64, limit int) []string {
		t.Helper()
		ps, err := b.PendingSessions(ctx, idleBefore, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%s/%s/%s:%d/%d@%d-%d", p.Session, p.Scope, p.Agent, p.Messages, p.UserMessages, p.FirstAt, p.LastAt))
		}
		return out
	}
	all := []string{"a/global/:3/2@1000-1200", "b/global/:1/1@2000-2000", "c/agent:x/:1/1@3000-3000", "c/agent:x/x:1/1@3100-3100"}
	for _, c := range []struct {
		idleBefore int64
		limit      int
		want       []string
	}{
		{0, 0, all},
		{0, 2, all[:2]},
		{1200, 0, nil}, // a's newest is not older than 1200
		{1201, 0, all[:1]},
		{3100, 0, all[:3]},
	} {
		if got := list(c.idleBefore, c.limit); !slices.Equal(got, c.want) {
			t.Errorf("PendingSessions(%d, %d) = %q, want %q", c.idleBefore, c.limit, got, c.want)
		}
	}
	ms := pending(t, s, memory.Owner(), "a")
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		_, err := bufTx(tx).ConsumeMessages("a", ms[len(ms)-1].ID, "cap")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := list(0, 0); !slices.Equal(got, all[1:]) {
		t.Fatalf("after consuming a: %q", got)
	}
}

// Agent A can neither read, consume nor overwrite what agent B buffered,
// even under the same session id.
func testCaptureScopes(t *testing.T, s store.Store) {
	b := buffer(t, s)
	a, bb := memory.AgentAccess("a").By("a"), memory.AgentAccess("b").By("b")
	sa, sb := memory.AgentScope("a"), memory.AgentScope("b")
	appendMsgs(t, s, a, store.BufferedMessage{Session: "shared", Scope: sa, Agent: "a", Role: "user", Content: "a's secret"})
	appendMsgs(t, s, bb, store.BufferedMessage{Session: "shared", Scope: sb, Agent: "b", Role: "user", Content: "b's secret"})
	if got := contents(pending(t, s, a, "shared")); !slices.Equal(got, []string{"a's secret"}) {
		t.Fatalf("a reads %q", got)
	}
	if got := contents(pending(t, s, bb, "shared")); !slices.Equal(got, []string{"b's secret"}) {
		t.Fatalf("b reads %q", got)
	}
	if got := contents(pending(t, s, memory.Owner(), "shared")); len(got) != 2 {
		t.Fatalf("owner reads %q", got)
	}
	err := s.Write(ctx, a, func(tx store.Tx) error {
		_, err := bufTx(tx).AppendMessages([]store.BufferedMessage{msg("shared", sb, "user", "planted")})
		return err
	})
	var sd *memory.ScopeDeniedError
	if !errors.As(err, &sd) || sd.Scope != sb {
		t.Fatalf("append to another agent's scope: %v", err)
	}
	err = s.Write(ctx, a, func(tx store.Tx) error {
		n, err := bufTx(tx).ConsumeMessages("shared", 1<<62, "cap-a")
		if err == nil && n != 1 {
			err = fmt.Errorf("a consumed %d messages, want only its own 1", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := contents(pending(t, s, bb, "shared")); !slices.Equal(got, []string{"b's secret"}) {
		t.Fatalf("after a consumed, b has %q", got)
	}

	job := store.CaptureJob{ID: "job-b", Session: "shared", Scope: sb, Agent: "b", State: store.JobPending}
	if err := s.Write(ctx, bb, func(tx store.Tx) error { return bufTx(tx).PutCaptureJob(job) }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CaptureJob(ctx, a, "job-b"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("a reads b's job: %v", err)
	}
	if j, err := b.CaptureJob(ctx, bb, "job-b"); err != nil || j.Scope != sb {
		t.Fatalf("b reads its job: %+v %v", j, err)
	}
	err = s.Write(ctx, a, func(tx store.Tx) error {
		return bufTx(tx).PutCaptureJob(store.CaptureJob{ID: "job-b", Session: "x", Scope: sa, State: store.JobDone})
	})
	if !errors.Is(err, memory.ErrExists) {
		t.Fatalf("a overwrites b's job: %v", err)
	}
	err = s.Write(ctx, a, func(tx store.Tx) error {
		return bufTx(tx).PutCaptureJob(store.CaptureJob{ID: "job-a", Session: "x", Scope: sb, State: store.JobPending})
	})
	if !errors.As(err, &sd) {
		t.Fatalf("a puts a job in b's scope: %v", err)
	}
	if j, _ := b.CaptureJob(ctx, memory.Owner(), "job-b"); j.State != store.JobPending || j.Scope != sb {
		t.Fatalf("b's job changed: %+v", j)
	}
}

func testCaptureJobs(t *testing.T, s store.Store) {
	b := buffer(t, s)
	put := func(j store.CaptureJob) error {
		return s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return bufTx(tx).PutCaptureJob(j) })
	}
	ids := func() []string {
		t.Helper()
		js, err := b.PendingJobs(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, j := range js {
			out = append(out, j.ID+":"+j.State)
		}
		return out
	}
	j1 := store.CaptureJob{ID: "j1", Session: "s", Scope: memory.GlobalScope, State: store.JobPending, Flush: true, CreatedAt: 200}
	j2 := store.CaptureJob{ID: "j2", Session: "s", State: store.JobPending, CreatedAt: 100}
	for _, j := range []store.CaptureJob{j1, j2} {
		if err := put(j); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.CaptureJob(ctx, memory.Owner(), "j1")
	if err != nil || got.Session != "s" || !got.Flush || got.State != store.JobPending || got.Result != nil || got.Error != "" ||
		got.CreatedAt != 200 || got.UpdatedAt == 0 {
		t.Fatalf("get j1: %+v %v", got, err)
	}
	if got, _ := b.CaptureJob(ctx, memory.Owner(), "j2"); got.Scope != memory.GlobalScope || got.Flush {
		t.Fatalf("defaults of j2: %+v", got)
	}
	if got := ids(); !slices.Equal(got, []string{"j2:pending", "j1:pending"}) {
		t.Fatalf("pending jobs %q", got)
	}
	// Running (its runner may have died: PendingJobs is read under the job lock).
	j2.State, j2.Attempts, j2.CreatedAt = store.JobRunning, 1, 0
	if err := put(j2); err != nil {
		t.Fatal(err)
	}
	if got := ids(); !slices.Equal(got, []string{"j2:running", "j1:pending"}) {
		t.Fatalf("pending jobs %q", got)
	}
	j2.State, j2.Result = store.JobDone, json.RawMessage(`{"created":2,"skipped":["dup"]}`)
	if err := put(j2); err != nil {
		t.Fatal(err)
	}
	got, err = b.CaptureJob(ctx, memory.Owner(), "j2")
	if err != nil || got.State != store.JobDone || string(got.Result) != `{"created":2,"skipped":["dup"]}` || got.Attempts != 1 || got.CreatedAt != 100 {
		t.Fatalf("done j2: %+v %v", got, err)
	}
	j1.State, j1.Error = store.JobFailed, "llm unavailable"
	if err := put(j1); err != nil {
		t.Fatal(err)
	}
	if got := ids(); len(got) != 0 {
		t.Fatalf("pending jobs %q", got)
	}
	if got, _ := b.CaptureJob(ctx, memory.Owner(), "j1"); got.Error != "llm unavailable" {
		t.Fatalf("failed j1: %+v", got)
	}
	if _, err := b.CaptureJob(ctx, memory.Owner(), "nope"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("missing job: %v", err)
	}
	for _, bad := range []store.CaptureJob{
		{Session: "s", State: store.JobPending},
		{ID: "j3", State: store.JobPending},
		{ID: "j3", Session: "s", State: "paused"},
		{ID: "j3", Session: "s", State: store.JobDone, Result: json.RawMessage(`{"broken"`)},
	} {
		if err := put(bad); !errors.Is(err, memory.ErrInvalid) {
			t.Errorf("put %+v: %v, want ErrInvalid", bad, err)
		}
	}
}

// One holder per job name, in this process as across processes; names do
// not contend.
func testJobLock(t *testing.T, s store.Store) {
	jl, ok := s.(store.JobLocker)
	if !ok {
		t.Fatalf("%T has no job lock (store.JobLocker)", s)
	}
	r1, ok, err := jl.TryJob("capture")
	if err != nil || !ok {
		t.Fatalf("first TryJob: %v %v", ok, err)
	}
	if _, ok, err := jl.TryJob("capture"); err != nil || ok {
		t.Fatalf("second holder of capture: %v %v", ok, err)
	}
	r2, ok, err := jl.TryJob("maintain")
	if err != nil || !ok {
		t.Fatalf("another job name is blocked: %v %v", ok, err)
	}
	r1()
	r1() // twice is harmless
	r3, ok, err := jl.TryJob("capture")
	if err != nil || !ok {
		t.Fatalf("after release: %v %v", ok, err)
	}
	r3()
	r2()
}
