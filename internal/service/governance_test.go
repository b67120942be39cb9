package service_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
)

// fakeClock is a settable clock for a test's service.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time      { return c.now }
func (c *fakeClock) Add(d time.Duration) { c.now = c.now.Add(d) }
func withClock(c *fakeClock) func(*service.Options) {
	return func(o *service.Options) { o.Clock = c.Now }
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

// recallIDs recalls q as c, with or without history.
func recallIDs(t *testing.T, e *env, c service.Caller, q string, history bool) []string {
	t.Helper()
	out, err := e.svc.Recall(ctx, c, service.RecallInput{Query: q, Limit: 20, Validity: service.Validity{IncludeHistory: history}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range out.Results {
		ids = append(ids, r.Memory.ID)
	}
	return ids
}

func listIDs(t *testing.T, e *env, c service.Caller, history bool) []string {
	t.Helper()
	out, err := e.svc.List(ctx, c, service.ListInput{Limit: 100, Validity: service.Validity{IncludeHistory: history}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range out.Memories {
		ids = append(ids, m.ID)
	}
	return ids
}

// Archive hides a memory from recall, recall-context and list (history
// still shows it, marked archived) as an edit with history; Promote
// brings it back, confirmed, with its suppression cleared.
func TestArchiveAndPromote(t *testing.T) {
	clk := newClock()
	e := newEnv(t, withClock(clk))
	m := e.store(t, bot, "The staging database runs on port 5433.", "")
	keep := e.store(t, bot, "The production database runs on port 5432.", "")

	clk.Add(time.Minute)
	out, err := e.svc.Archive(ctx, bot, service.ArchiveInput{Target: service.Target{ID: m.ID[:8]}, Reason: "staging retired"})
	if err != nil || !out.Changed {
		t.Fatalf("archive: %+v %v", out, err)
	}
	md := out.Memory.Metadata
	if md[memory.KeyState] != memory.StateArchived || md[memory.KeyLayer] != memory.LayerArchive ||
		md[memory.KeyArchiveReason] != "staging retired" || md[memory.KeyArchivedAt] != float64(clk.now.UnixMilli()) {
		t.Fatalf("archived metadata: %v", md)
	}
	if out.Memory.Revision != m.Revision+1 || out.Memory.Inactive != "archived" {
		t.Fatalf("archived: revision %d (was %d), inactive %q", out.Memory.Revision, m.Revision, out.Memory.Inactive)
	}
	if h, err := e.svc.History(ctx, bot, service.HistoryInput{ID: m.ID}); err != nil || len(h.Versions) != 1 {
		t.Fatalf("history after archive: %+v %v", h, err)
	}
	if ids := recallIDs(t, e, bot, "database port", false); slices.Contains(ids, m.ID) || !slices.Contains(ids, keep.ID) {
		t.Fatalf("recall after archive: %v", ids)
	}
	if ids := recallIDs(t, e, bot, "database port", true); !slices.Contains(ids, m.ID) {
		t.Fatalf("recall with history after archive: %v", ids)
	}
	if ids := listIDs(t, e, bot, false); slices.Contains(ids, m.ID) {
		t.Fatalf("list after archive: %v", ids)
	}
	if ids := listIDs(t, e, bot, true); !slices.Contains(ids, m.ID) {
		t.Fatalf("list with history after archive: %v", ids)
	}
	rc, err := e.svc.RecallContext(ctx, bot, service.ContextInput{Prompt: "which port does the staging database run on?", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range rc.Memories {
		if cm.ID == m.ID {
			t.Fatalf("recall-context injected an archived memory: %+v", rc)
		}
	}
	// Archiving again changes nothing.
	again, err := e.svc.Archive(ctx, bot, service.ArchiveInput{Target: service.Target{ID: m.ID}})
	if err != nil || again.Changed || again.Memory.Revision != out.Memory.Revision {
		t.Fatalf("second archive: %+v %v", again, err)
	}
	// The owner's as-of view before the archiving still has it.
	asOf, err := e.svc.List(ctx, owner, service.ListInput{Validity: service.Validity{AsOf: clk.now.Add(-time.Second).Format(time.RFC3339Nano)}})
	if err != nil || !slices.ContainsFunc(asOf.Memories, func(x service.Memory) bool { return x.ID == m.ID }) {
		t.Fatalf("as of before the archiving: %+v %v", asOf, err)
	}

	clk.Add(time.Minute)
	p, err := e.svc.Promote(ctx, bot, service.PromoteInput{Target: service.Target{ID: m.ID}, Layer: memory.LayerWorking})
	if err != nil || !p.Changed {
		t.Fatalf("promote: %+v %v", p, err)
	}
	md = p.Memory.Metadata
	if md[memory.KeyState] != memory.StateConfirmed || md[memory.KeyLayer] != memory.LayerWorking || p.Memory.Inactive != "" ||
		md[memory.KeyLastConfirmedUseAt] != float64(clk.now.UnixMilli()) || md[memory.KeyArchivedAt] != nil || md[memory.KeyArchiveReason] != nil {
		t.Fatalf("promoted: %+v", p.Memory)
	}
	if ids := recallIDs(t, e, bot, "staging database port", false); !slices.Contains(ids, m.ID) {
		t.Fatalf("recall after promote: %v", ids)
	}

	// By query: the best active match.
	q, err := e.svc.Archive(ctx, bot, service.ArchiveInput{Target: service.Target{Query: "production database port 5432"}})
	if err != nil || q.Memory.ID != keep.ID {
		t.Fatalf("archive by query: %+v %v", q, err)
	}
	// Suppression and bad recalls are cleared by a promotion.
	if _, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: m.ID, UpdateFields: service.UpdateFields{Metadata: map[string]any{
		memory.KeySuppressedUntil: float64(clk.now.Add(time.Hour).UnixMilli()), memory.KeyBadRecallCount: 3}}}); err != nil {
		t.Fatal(err)
	}
	p, err = e.svc.Promote(ctx, bot, service.PromoteInput{Target: service.Target{Query: "staging database"}})
	if err != nil || p.Memory.ID != m.ID || p.Memory.Metadata[memory.KeySuppressedUntil] != nil || p.Memory.Metadata[memory.KeyBadRecallCount] != float64(0) {
		t.Fatalf("promote by query: %+v %v", p, err)
	}
}

func TestGovernanceInputs(t *testing.T) {
	e := newEnv(t)
	m := e.store(t, bot, "The build cache lives in /var/cache/build.", "")
	for name, err := range map[string]error{
		"no target":      errOf(e.svc.Archive(ctx, bot, service.ArchiveInput{})),
		"both":           errOf(e.svc.Archive(ctx, bot, service.ArchiveInput{Target: service.Target{ID: m.ID, Query: "cache"}})),
		"state archived": errOf(e.svc.Promote(ctx, bot, service.PromoteInput{Target: service.Target{ID: m.ID}, State: "archived"})),
		"bad state":      errOf(e.svc.Promote(ctx, bot, service.PromoteInput{Target: service.Target{ID: m.ID}, State: "done"})),
		"bad layer":      errOf(e.svc.Promote(ctx, bot, service.PromoteInput{Target: service.Target{ID: m.ID}, Layer: "core"})),
		"bad dry run":    errOf(e.svc.Compact(ctx, bot, service.CompactInput{Scopes: []string{"no such:scope!"}})),
	} {
		if code(err) != service.CodeInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if _, err := e.svc.Archive(ctx, bot, service.ArchiveInput{Target: service.Target{Query: "zebra migration patterns"}}); code(err) != service.CodeNotFound {
		t.Errorf("query without a match: %v", err)
	}
	p, err := e.svc.Promote(ctx, bot, service.PromoteInput{Target: service.Target{ID: m.ID}, State: memory.StatePending})
	if err != nil || p.Memory.Metadata[memory.KeyState] != memory.StatePending {
		t.Fatalf("promote to pending: %+v %v", p, err)
	}
	again, err := e.svc.Promote(ctx, bot, service.PromoteInput{Target: service.Target{ID: m.ID}, State: memory.StatePending})
	if err != nil || again.Changed {
		t.Fatalf("promote to pending again: %+v %v", again, err)
	}
}

func errOf[T any](_ T, err error) error { return err }

// An agent governs only rows in scopes it may write: another agent's row
// is not found, by id or by query, and compaction never touches it.
func TestGovernanceScopes(t *testing.T) {
	e := newEnv(t)
	theirs := e.store(t, other, "The other agent deploys with helm charts.", "")
	global := e.store(t, owner, "Deploys go through the release pipeline.", "global")
	if _, err := e.svc.Archive(ctx, bot, service.ArchiveInput{Target: service.Target{ID: theirs.ID}}); code(err) != service.CodeNotFound {
		t.Fatalf("archive another agent's row: %v", err)
	}
	if _, err := e.svc.Promote(ctx, bot, service.PromoteInput{Target: service.Target{ID: theirs.ID}}); code(err) != service.CodeNotFound {
		t.Fatalf("promote another agent's row: %v", err)
	}
	if out, err := e.svc.Archive(ctx, bot, service.ArchiveInput{Target: service.Target{Query: "helm charts deploys", Scope: "agent:other"}}); code(err) != service.CodeScopeDenied {
		t.Fatalf("archive by query in another agent's scope: %+v %v", out, err)
	}
	if out, err := e.svc.Archive(ctx, bot, service.ArchiveInput{Target: service.Target{Query: "helm charts"}}); err == nil && out.Memory.ID == theirs.ID {
		t.Fatalf("archive by query reached another agent's row")
	}
	// Global is in the bot's access: it may archive it.
	if out, err := e.svc.Archive(ctx, bot, service.ArchiveInput{Target: service.Target{ID: global.ID}}); err != nil || !out.Changed {
		t.Fatalf("archive a global row: %+v %v", out, err)
	}
	for range 2 {
		if _, err := e.svc.Store(ctx, other, service.StoreInput{Text: "The other agent deploys with helm charts.", Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	no := false
	out, err := e.svc.Compact(ctx, bot, service.CompactInput{DryRun: &no})
	if err != nil || out.Duplicates != 0 || out.Archived != 0 {
		t.Fatalf("bot compacts: %+v %v", out, err)
	}
	out, err = e.svc.Compact(ctx, bot, service.CompactInput{Scopes: []string{"agent:other"}, DryRun: &no})
	if err != nil || out.Archived != 0 || len(out.IgnoredScopes) != 1 {
		t.Fatalf("bot compacts another agent's scope: %+v %v", out, err)
	}
	out, err = e.svc.Compact(ctx, other, service.CompactInput{DryRun: &no})
	if err != nil || out.Archived != 2 {
		t.Fatalf("other compacts its own: %+v %v", out, err)
	}
}

// Compact groups active rows by scope, memory category and normalised
// L0: a dry run (the default) reports, an applied one archives all but
// the newest with canonical_id the kept row.
func TestCompact(t *testing.T) {
	clk := newClock()
	e := newEnv(t, withClock(clk))
	var dup []service.Memory
	for _, text := range []string{"The API gateway times out after 30 seconds.", "the API gateway times out after 30 seconds", "The API Gateway times out after 30 seconds!"} {
		out, err := e.svc.Store(ctx, bot, service.StoreInput{Text: text, Category: "fact", Force: true})
		if err != nil {
			t.Fatal(err)
		}
		dup = append(dup, out.Memory)
		clk.Add(time.Second)
	}
	other := e.store(t, bot, "The API gateway retries twice.", "")
	// Same words in another category: another group.
	decision, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "The API gateway times out after 30 seconds.", Category: "decision", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	// The same L0 abstract under different text groups with them.
	smart, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "Gateway timeout: thirty seconds (config gw.yaml).", Category: "fact", Force: true,
		Metadata: map[string]any{memory.KeyL0: "The API gateway times out after 30 seconds"}})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)

	dry, err := e.svc.Compact(ctx, bot, service.CompactInput{})
	if err != nil || !dry.DryRun || dry.Duplicates != 3 || dry.Archived != 0 || len(dry.Groups) != 1 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	g := dry.Groups[0]
	if g.Keep != smart.ID || len(g.Archive) != 3 {
		t.Fatalf("group: %+v (smart %s)", g, smart.ID)
	}
	if ids := listIDs(t, e, bot, false); len(ids) != 6 {
		t.Fatalf("a dry run archived: %v", ids)
	}
	no := false
	applied, err := e.svc.Compact(ctx, bot, service.CompactInput{DryRun: &no})
	if err != nil || applied.DryRun || applied.Archived != 3 || applied.Skipped != 0 {
		t.Fatalf("applied: %+v %v", applied, err)
	}
	ids := listIDs(t, e, bot, false)
	slices.Sort(ids)
	want := []string{other.ID, decision.ID, smart.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("active after compaction: %v, want %v", ids, want)
	}
	for _, d := range dup {
		m, err := e.svc.Get(ctx, bot, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Metadata[memory.KeyCanonicalID] != smart.ID || m.Metadata[memory.KeyArchiveReason] != service.ReasonCompact || m.Inactive != "archived" {
			t.Fatalf("compacted row: %+v", m)
		}
	}
	// Nothing left to compact.
	if again, err := e.svc.Compact(ctx, bot, service.CompactInput{DryRun: &no}); err != nil || again.Duplicates != 0 {
		t.Fatalf("second compaction: %+v %v", again, err)
	}
}

// A limit scans only the newest active rows: duplicates older than them
// are not seen.
func TestCompactLimit(t *testing.T) {
	clk := newClock()
	e := newEnv(t, withClock(clk))
	for _, text := range []string{"The build uses Bazel.", "the build uses bazel", "Deploys go out on Fridays.", "Lunch is at noon.", "The office is in Oslo."} {
		if _, err := e.svc.Store(ctx, bot, service.StoreInput{Text: text, Category: "fact", Force: true}); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
	}
	for _, tc := range []struct{ limit, scanned, dups int }{{0, 5, 1}, {3, 3, 0}, {4, 4, 0}, {5, 5, 1}, {50, 5, 1}} {
		out, err := e.svc.Compact(ctx, bot, service.CompactInput{Limit: tc.limit})
		if err != nil || out.Scanned != tc.scanned || out.Duplicates != tc.dups {
			t.Fatalf("limit %d: scanned %d duplicates %d (%v), want %d and %d", tc.limit, out.Scanned, out.Duplicates, err, tc.scanned, tc.dups)
		}
	}
	for _, bad := range []int{-1, service.MaxCompactLimit + 1} {
		if _, err := e.svc.Compact(ctx, bot, service.CompactInput{Limit: bad}); !errors.Is(err, memory.ErrInvalid) || !strings.Contains(err.Error(), "limit") {
			t.Fatalf("limit %d: %v", bad, err)
		}
	}
}

// A memory past valid_until is not recalled at once; the expiry task
// archives it once the grace period has passed, and leaves others alone.
func TestArchiveExpired(t *testing.T) {
	clk := newClock()
	e := newEnv(t, withClock(clk))
	until := float64(clk.now.Add(time.Hour).UnixMilli())
	exp, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "The office wifi password rotates at the offsite.", Metadata: map[string]any{memory.KeyValidUntil: until}})
	if err != nil {
		t.Fatal(err)
	}
	keep := e.store(t, bot, "The office is on the fourth floor.", "")
	grace := 24 * time.Hour

	clk.Add(2 * time.Hour) // expired, within the grace period
	if ids := recallIDs(t, e, bot, "office wifi offsite", false); slices.Contains(ids, exp.ID) {
		t.Fatalf("an expired memory was recalled: %v", ids)
	}
	if n, err := service.ArchiveExpired(ctx, e.st, grace, clk.Now); err != nil || n != 0 {
		t.Fatalf("within the grace period: %d %v", n, err)
	}
	clk.Add(grace)
	if n, err := service.ArchiveExpired(ctx, e.st, grace, clk.Now); err != nil || n != 1 {
		t.Fatalf("after the grace period: %d %v", n, err)
	}
	m, err := e.svc.Get(ctx, bot, exp.ID)
	if err != nil || m.Metadata[memory.KeyArchiveReason] != service.ReasonExpired || m.Metadata[memory.KeyState] != memory.StateArchived || m.Revision != exp.Revision+1 {
		t.Fatalf("expired memory: %+v %v", m, err)
	}
	if k, _ := e.svc.Get(ctx, bot, keep.ID); k.Metadata[memory.KeyState] != nil {
		t.Fatalf("a memory without expiry was touched: %+v", k)
	}
	if n, err := service.ArchiveExpired(ctx, e.st, grace, clk.Now); err != nil || n != 0 {
		t.Fatalf("second run: %d %v", n, err)
	}
}
