package service_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
)

const deployPrompt = "What do you remember about the deploy pipeline?"

func injectedIDs(t *testing.T, e *env, c service.Caller, session string) []string {
	t.Helper()
	out, err := e.svc.RecallContext(ctx, c, service.ContextInput{Prompt: deployPrompt, Limit: 5, MaxChars: 2000, Session: session})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Warnings) > 0 {
		t.Fatalf("warnings: %v", out.Warnings)
	}
	var ids []string
	for _, m := range out.Memories {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string { slices.Sort(ids); return ids }

// A memory injected in a session is not injected again in it within
// SuppressTurns turns; other sessions are not affected; injection is
// counted as bookkeeping (no revision, no history).
func TestRecallContextSession(t *testing.T) {
	clk := newClock()
	e := newEnv(t, withClock(clk), func(o *service.Options) { o.SuppressTurns = 2 })
	a := e.store(t, bot, "The deploy pipeline runs on GitHub Actions.", "")
	b := e.store(t, bot, "The deploy pipeline needs a green staging build.", "")
	both := sorted(a.ID, b.ID)

	if got := injectedIDs(t, e, bot, "s1"); !slices.Equal(got, both) {
		t.Fatalf("turn 1: %v, want %v", got, both)
	}
	for turn := 2; turn <= 3; turn++ {
		if got := injectedIDs(t, e, bot, "s1"); len(got) != 0 {
			t.Fatalf("turn %d injected again: %v", turn, got)
		}
	}
	if got := injectedIDs(t, e, bot, "s1"); !slices.Equal(got, both) {
		t.Fatalf("turn 4 (past 2 turns): %v", got)
	}
	if got := injectedIDs(t, e, bot, "s2"); !slices.Equal(got, both) {
		t.Fatalf("another session: %v", got)
	}
	if got := injectedIDs(t, e, other, "s1"); len(got) != 0 {
		t.Fatalf("another agent's session s1 sees the bot's memories: %v", got)
	}
	if got := injectedIDs(t, e, bot, ""); !slices.Equal(got, both) {
		t.Fatalf("without a session: %v", got)
	}
	m, err := e.svc.Get(ctx, bot, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := memory.MetaNumber(m.Metadata, memory.KeyInjectedCount); n != 3 || m.Metadata[memory.KeyLastInjectedAt] != float64(clk.now.UnixMilli()) {
		t.Fatalf("injection counters: %v", m.Metadata)
	}
	if m.Revision != a.Revision || m.UpdatedAt != a.UpdatedAt {
		t.Fatalf("injection bumped the revision: %+v, stored %+v", m, a)
	}
	if h, err := e.svc.History(ctx, bot, service.HistoryInput{ID: a.ID}); err != nil || len(h.Versions) != 0 {
		t.Fatalf("injection kept a version: %+v %v", h, err)
	}
}

// Feedback: used memories gain importance and a confirmation time;
// injected but unused three times, a memory is suppressed from
// auto-recall for 30 minutes and loses importance; none of it is an
// edit. Pending memories are never auto-recalled.
func TestFeedback(t *testing.T) {
	clk := newClock()
	e := newEnv(t, withClock(clk))
	imp := 0.98
	a, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "The deploy pipeline runs on GitHub Actions.", Importance: &imp})
	if err != nil {
		t.Fatal(err)
	}
	b := e.store(t, bot, "The deploy pipeline needs a green staging build.", "")
	both := sorted(a.ID, b.ID)
	if got := injectedIDs(t, e, bot, "s1"); !slices.Equal(got, both) {
		t.Fatalf("injected: %v", got)
	}
	// Without injected ids: the session's last turn.
	out, err := e.svc.Feedback(ctx, bot, service.FeedbackInput{Session: "s1", Used: []string{a.ID}})
	if err != nil || !slices.Equal(out.Used, []string{a.ID}) || !slices.Equal(out.Unused, []string{b.ID}) || len(out.Suppressed) != 0 {
		t.Fatalf("feedback 1: %+v %v", out, err)
	}
	got, _ := e.svc.Get(ctx, bot, a.ID)
	if got.Importance != 1 || got.Metadata[memory.KeyLastConfirmedUseAt] != float64(clk.now.UnixMilli()) || got.Revision != a.Revision {
		t.Fatalf("used: %+v", got)
	}
	for i := 2; i <= 3; i++ {
		clk.Add(time.Minute)
		out, err = e.svc.Feedback(ctx, bot, service.FeedbackInput{Injected: []string{a.ID, b.ID}, Used: []string{a.ID}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(out.Suppressed, []string{b.ID}) {
		t.Fatalf("feedback 3: %+v", out)
	}
	got, _ = e.svc.Get(ctx, bot, b.ID)
	until := float64(clk.now.Add(service.SuppressFor).UnixMilli())
	if math.Abs(got.Importance-(service.DefaultImportance-service.BadRecallPenalty)) > 1e-9 || got.Metadata[memory.KeySuppressedUntil] != until ||
		got.Metadata[memory.KeyBadRecallCount] != float64(0) || got.Revision != b.Revision {
		t.Fatalf("suppressed: %+v", got)
	}
	if h, err := e.svc.History(ctx, bot, service.HistoryInput{ID: b.ID}); err != nil || len(h.Versions) != 0 {
		t.Fatalf("feedback kept a version: %+v %v", h, err)
	}
	if got := injectedIDs(t, e, bot, "s2"); !slices.Equal(got, []string{a.ID}) {
		t.Fatalf("while suppressed: %v", got)
	}
	// Recall (not auto-recall) still finds it.
	if ids := recallIDs(t, e, bot, "deploy pipeline staging", false); !slices.Contains(ids, b.ID) {
		t.Fatalf("recall of a suppressed memory: %v", ids)
	}
	clk.Add(service.SuppressFor + time.Second)
	if got := injectedIDs(t, e, bot, "s3"); !slices.Equal(got, both) {
		t.Fatalf("after the suppression: %v", got)
	}

	// Pending: not auto-recalled until promoted.
	if _, err := e.svc.Promote(ctx, bot, service.PromoteInput{Target: service.Target{ID: a.ID}, State: memory.StatePending}); err != nil {
		t.Fatal(err)
	}
	if got := injectedIDs(t, e, bot, "s4"); !slices.Equal(got, []string{b.ID}) {
		t.Fatalf("with a pending memory: %v", got)
	}

	// Scopes: another agent's memory is ignored, not bumped.
	out, err = e.svc.Feedback(ctx, other, service.FeedbackInput{Injected: []string{b.ID}, Used: []string{a.ID}})
	if err != nil || len(out.Used) != 0 || len(out.Unused) != 0 || !slices.Equal(sorted(out.Ignored...), both) {
		t.Fatalf("another agent's feedback: %+v %v", out, err)
	}
	if _, err := e.svc.Feedback(ctx, bot, service.FeedbackInput{}); code(err) != service.CodeInvalid {
		t.Fatalf("empty feedback: %v", err)
	}
}

// The floor: an unused memory's importance does not fall below 0.1, and
// one already below it is not raised.
func TestFeedbackFloor(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ from, want float64 }{{0.11, 0.1}, {0.05, 0.05}} {
		imp := c.from
		m, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "Floor check for importance " + time.Duration(c.from*1000).String(), Importance: &imp, Force: true})
		if err != nil {
			t.Fatal(err)
		}
		for range service.BadRecallLimit {
			if _, err := e.svc.Feedback(ctx, bot, service.FeedbackInput{Injected: []string{m.ID}}); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := e.svc.Get(ctx, bot, m.ID)
		if math.Abs(got.Importance-c.want) > 1e-9 {
			t.Errorf("from %v: importance %v, want %v", c.from, got.Importance, c.want)
		}
	}
}
