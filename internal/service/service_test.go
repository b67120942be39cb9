package service_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
	"github.com/trove-memory/trove/internal/store"
)

var ctx = context.Background()

type env struct {
	st   store.Store
	svc  *service.Service
	srch *servicetest.Searcher
}

func newEnv(t *testing.T, mod ...func(*service.Options)) *env {
	t.Helper()
	// The store and the searcher read the service's clock when a test
	// sets one: all three judge "now" alike, as in one process.
	var clock func() time.Time
	now := func() time.Time {
		if clock != nil {
			return clock()
		}
		return time.Now()
	}
	st := servicetest.Store(t, now)
	srch := &servicetest.Searcher{Store: st, Embedder: servicetest.Embedder(), Now: now}
	opts := service.Options{Store: st, Embedder: servicetest.Embedder(), Searcher: srch,
		Access: func(agent string) memory.Access {
			switch agent {
			case "":
				return memory.Owner()
			case "lead":
				return memory.AgentAccess(agent, "project:atlas")
			}
			return memory.AgentAccess(agent)
		}}
	for _, m := range mod {
		m(&opts)
	}
	clock = opts.Clock
	return &env{st: st, svc: service.New(opts), srch: srch}
}

var (
	owner = service.Caller{}
	bot   = service.Caller{Agent: "bot"}
	other = service.Caller{Agent: "other"}
	lead  = service.Caller{Agent: "lead"}
)

func (e *env) store(t *testing.T, c service.Caller, text, scope string) service.Memory {
	t.Helper()
	m, err := e.svc.Store(ctx, c, service.StoreInput{Text: text, Scope: scope})
	if err != nil {
		t.Fatalf("store %q in %s as %q: %v", text, scope, c.Agent, err)
	}
	return m.Memory
}

// wantCode fails unless err is a *service.Error with code.
func wantCode(t *testing.T, err error, code service.Code, msgPart string) {
	t.Helper()
	var se *service.Error
	if !errors.As(err, &se) {
		t.Fatalf("got %T %v, want a *service.Error %s", err, err, code)
	}
	if se.Code != code || !strings.Contains(se.Message, msgPart) {
		t.Fatalf("got %s %q, want %s containing %q", se.Code, se.Message, code, msgPart)
	}
}

func ptr[T any](v T) *T { return &v }

func TestStoreGetUpdateForget(t *testing.T) {
	e := newEnv(t)
	m := e.store(t, bot, "I prefer dark mode", "")
	// An agent writes to its own agent:<id> by default (memory-lancedb-pro's
	// getDefaultScope); before, trove wrote agents' memories to global.
	if m.Scope != "agent:bot" || m.Category != memory.CategoryOther || m.Importance != service.DefaultImportance || m.Revision != 1 || m.Metadata == nil {
		t.Fatalf("defaults: %+v", m)
	}
	got, err := e.svc.Get(ctx, bot, m.ID[:8])
	if err != nil || got.ID != m.ID {
		t.Fatalf("get by prefix: %+v %v", got, err)
	}
	before, _ := e.st.Get(ctx, memory.Owner(), m.ID)

	up, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: m.ID[:10], UpdateFields: service.UpdateFields{
		Text: ptr("I prefer dark mode everywhere"), Importance: ptr(0.9), Category: ptr("preference"),
		Metadata: map[string]any{"source": "chat", "n": 2.0}, ExpectedRevision: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Revision != 2 || up.Text != "I prefer dark mode everywhere" || up.Importance != 0.9 || up.Category != memory.CategoryPreference || up.Metadata["source"] != "chat" {
		t.Fatalf("update: %+v", up)
	}
	after, _ := e.st.Get(ctx, memory.Owner(), m.ID)
	if capture.Cosine(before.Vector, after.Vector) > 0.999 {
		t.Fatal("the new text was not re-embedded")
	}
	// Metadata merges; null removes; a metadata-only change keeps the vector.
	up, err = e.svc.Update(ctx, bot, service.UpdateInput{ID: m.ID, UpdateFields: service.UpdateFields{Metadata: map[string]any{"source": nil, "k": "v"}}})
	if err != nil || up.Metadata["source"] != nil || up.Metadata["n"] != 2.0 || up.Metadata["k"] != "v" {
		t.Fatalf("merge: %+v %v", up.Metadata, err)
	}
	if again, _ := e.st.Get(ctx, memory.Owner(), m.ID); capture.Cosine(again.Vector, after.Vector) < 0.999 {
		t.Fatal("a metadata change lost the vector")
	}
	// Stale revision: conflict, nothing applied.
	_, err = e.svc.Update(ctx, bot, service.UpdateInput{ID: m.ID, UpdateFields: service.UpdateFields{Importance: ptr(0.1), ExpectedRevision: 1}})
	wantCode(t, err, service.CodeConflict, "read it again")
	_, err = e.svc.Forget(ctx, bot, service.ForgetInput{ID: m.ID, ExpectedRevision: 1})
	wantCode(t, err, service.CodeConflict, "changed since")

	out, err := e.svc.Forget(ctx, bot, service.ForgetInput{ID: m.ID[:8]})
	if err != nil || !out.Deleted || out.ID != m.ID {
		t.Fatalf("forget: %+v %v", out, err)
	}
	_, err = e.svc.Get(ctx, bot, m.ID)
	wantCode(t, err, service.CodeNotFound, "unique prefix of at least 8")
}

func TestErrorCodes(t *testing.T) {
	e := newEnv(t)
	// Two ids sharing a prefix, written directly.
	for _, id := range []string{"abcdefgh-0001", "abcdefgh-0002"} {
		m := memory.Memory{ID: id, Text: "shared prefix " + id}
		if err := e.st.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&m) }); err != nil {
			t.Fatal(err)
		}
	}
	secret := e.store(t, other, "other's private note", "agent:other")
	cases := []struct {
		name string
		err  func() error
		code service.Code
		msg  string
	}{
		{"empty text", func() error { _, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "  "}); return err }, service.CodeInvalid, "text is empty"},
		{"bad category", func() error {
			_, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "x", Category: "secret"})
			return err
		}, service.CodeInvalid, "category \"secret\" is unknown"},
		{"bad scope", func() error {
			_, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "x", Scope: "team x"})
			return err
		}, service.CodeInvalid, "declared scope names may use"},
		{"undeclared scope", func() error {
			_, err := e.svc.Store(ctx, owner, service.StoreInput{Text: "x", Scope: "team:x"})
			return err
		}, service.CodeInvalid, `scope "team:x" is not declared: declare it in the config's scopes.definitions`},
		{"importance", func() error {
			_, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "x", Importance: ptr(2.0)})
			return err
		}, service.CodeInvalid, "out of range"},
		{"write denied", func() error {
			_, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "x", Scope: "agent:other"})
			return err
		}, service.CodeScopeDenied, "scope agent:other is not accessible"},
		{"move denied", func() error {
			m := e.store(t, bot, "mine to keep", "agent:bot")
			_, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: m.ID, UpdateFields: service.UpdateFields{Scope: ptr("agent:other")}})
			return err
		}, service.CodeScopeDenied, "agent:other"},
		{"read other's", func() error { _, err := e.svc.Get(ctx, bot, secret.ID); return err }, service.CodeNotFound, "not found"},
		{"update other's", func() error {
			_, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: secret.ID, UpdateFields: service.UpdateFields{Text: ptr("pwned")}})
			return err
		}, service.CodeNotFound, "not found"},
		{"forget other's", func() error { _, err := e.svc.Forget(ctx, bot, service.ForgetInput{ID: secret.ID}); return err }, service.CodeNotFound, "not found"},
		{"short prefix", func() error { _, err := e.svc.Get(ctx, owner, "abcdefg"); return err }, service.CodeNotFound, "at least 8"},
		{"ambiguous", func() error { _, err := e.svc.Get(ctx, owner, "abcdefgh"); return err }, service.CodeInvalid, "abcdefgh-0001, abcdefgh-0002"},
		{"empty id", func() error { _, err := e.svc.Get(ctx, owner, ""); return err }, service.CodeInvalid, "id is empty"},
		{"nothing to update", func() error { _, err := e.svc.Update(ctx, owner, service.UpdateInput{ID: secret.ID}); return err }, service.CodeInvalid, "nothing to update"},
		{"list limit", func() error { _, err := e.svc.List(ctx, owner, service.ListInput{Limit: 1000}); return err }, service.CodeInvalid, "use 1 to 200"},
		{"bad cursor", func() error { _, err := e.svc.List(ctx, owner, service.ListInput{Cursor: "nope"}); return err }, service.CodeInvalid, "cursor"},
		{"empty query", func() error { _, err := e.svc.Recall(ctx, owner, service.RecallInput{Query: " "}); return err }, service.CodeInvalid, "query is empty"},
		{"bad agent", func() error { _, err := e.svc.List(ctx, service.Caller{Agent: "a b"}, service.ListInput{}); return err }, service.CodeInvalid, "agent id"},
		{"capture denied", func() error {
			_, err := e.svc.Capture(ctx, bot, service.CaptureInput{Scope: "agent:other", Messages: []capture.Message{{Role: "user", Content: "I prefer tea"}}})
			return err
		}, service.CodeScopeDenied, "agent:other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.err(), tc.code, tc.msg) })
	}
}

func TestUnavailable(t *testing.T) {
	e := newEnv(t, func(o *service.Options) {
		o.Searcher = nil
		o.Embedder = failing{}
	})
	_, err := e.svc.Recall(ctx, bot, service.RecallInput{Query: "anything"})
	wantCode(t, err, service.CodeUnavailable, "recall is unavailable")
	_, err = e.svc.RecallContext(ctx, bot, service.ContextInput{Prompt: "what did we decide about the database last time?"})
	wantCode(t, err, service.CodeUnavailable, "recall is unavailable")
	_, err = e.svc.Store(ctx, bot, service.StoreInput{Text: "the build runs on atlas"})
	wantCode(t, err, service.CodeUnavailable, "embedding provider failed")
	if !errors.Is(err, memory.ErrUnavailable) {
		t.Fatal("cause lost")
	}
}

type failing struct{}

func (failing) Embed(context.Context, []string) ([][]float32, error) {
	return nil, fmt.Errorf("%w: connection refused", memory.ErrUnavailable)
}

func TestReadsIgnoreUnreadableScopes(t *testing.T) {
	e := newEnv(t)
	e.store(t, owner, "global note", "global")
	e.store(t, bot, "bot note", "agent:bot")
	e.store(t, other, "other note", "agent:other")
	e.store(t, owner, "atlas note", "project:atlas")

	// Sorted: rows stored in one millisecond list in id order, and ids are random.
	texts := func(ms []service.Memory) string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Text)
		}
		slices.Sort(s)
		return strings.Join(s, ",")
	}
	// Only unreadable scopes requested: every readable scope instead.
	out, err := e.svc.List(ctx, bot, service.ListInput{Scopes: []string{"agent:other"}})
	if err != nil || texts(out.Memories) != "bot note,global note" || len(out.IgnoredScopes) != 1 || out.IgnoredScopes[0] != "agent:other" ||
		!strings.Contains(out.Warnings[0], "every scope you can read (agent:bot, global, reflection:agent:bot)") {
		t.Fatalf("list: %q %+v %v", texts(out.Memories), out, err)
	}
	// A readable and an unreadable one: the readable one only.
	out, _ = e.svc.List(ctx, bot, service.ListInput{Scopes: []string{"agent:bot", "agent:other"}})
	if texts(out.Memories) != "bot note" || len(out.IgnoredScopes) != 1 {
		t.Fatalf("narrowed list: %q %+v", texts(out.Memories), out)
	}
	// Granted by config.
	out, _ = e.svc.List(ctx, lead, service.ListInput{Scopes: []string{"project:atlas"}})
	if texts(out.Memories) != "atlas note" || out.IgnoredScopes != nil {
		t.Fatalf("granted scope: %q %+v", texts(out.Memories), out)
	}
	st, err := e.svc.Stats(ctx, bot, []string{"agent:other"})
	if err != nil || st.Total != 2 || st.ByScope["agent:other"] != 0 || len(st.IgnoredScopes) != 1 {
		t.Fatalf("stats: %+v %v", st, err)
	}
	rc, err := e.svc.Recall(ctx, bot, service.RecallInput{Query: "other note", Scopes: []string{"agent:other"}})
	if err != nil || len(rc.IgnoredScopes) != 1 || len(rc.Warnings) != 1 {
		t.Fatalf("recall: %+v %v", rc, err)
	}
	// Where a read looked instead of an ignored scope: the caller's scopes,
	// named only when a scope was ignored.
	readable := []memory.Scope{"agent:bot", "global", "reflection:agent:bot"}
	if !slices.Equal(rc.AccessibleScopes, readable) || !slices.Equal(st.AccessibleScopes, readable) {
		t.Fatalf("accessible scopes: recall %v, stats %v", rc.AccessibleScopes, st.AccessibleScopes)
	}
	if out, _ := e.svc.List(ctx, bot, service.ListInput{Scopes: []string{"agent:other"}}); !slices.Equal(out.AccessibleScopes, readable) {
		t.Fatalf("list accessible scopes: %v", out.AccessibleScopes)
	}
	if rc, _ := e.svc.Recall(ctx, bot, service.RecallInput{Query: "bot note", Scopes: []string{"agent:bot"}}); rc.AccessibleScopes != nil {
		t.Fatalf("nothing ignored, accessible scopes named: %v", rc.AccessibleScopes)
	}
	for _, r := range rc.Results {
		if r.Memory.Scope != "global" && r.Memory.Scope != "agent:bot" {
			t.Fatalf("recall leaked %+v", r.Memory)
		}
	}
	own, _ := e.svc.Stats(ctx, owner, nil)
	if own.Total != 4 {
		t.Fatalf("owner stats: %+v", own)
	}
}

func TestListPaging(t *testing.T) {
	e := newEnv(t)
	for i := range 7 {
		e.store(t, owner, fmt.Sprintf("note %d", i), "")
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		out, err := e.svc.List(ctx, owner, service.ListInput{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, m := range out.Memories {
			if seen[m.ID] {
				t.Fatalf("%s twice", m.ID)
			}
			seen[m.ID] = true
		}
		if out.NextCursor == "" {
			break
		}
		cursor = out.NextCursor
	}
	if len(seen) != 7 || pages != 3 {
		t.Fatalf("paged %d rows in %d pages", len(seen), pages)
	}
}

// An offset skips that many rows of the listing (after the cursor's
// position when one is given), as the same listing read page by page.
func TestListOffset(t *testing.T) {
	e := newEnv(t)
	for i := range 7 {
		e.store(t, owner, fmt.Sprintf("note %d", i), "")
	}
	all, err := e.svc.List(ctx, owner, service.ListInput{Limit: 7})
	if err != nil || len(all.Memories) != 7 {
		t.Fatalf("all: %d %v", len(all.Memories), err)
	}
	ids := func(ms []service.Memory) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	want := ids(all.Memories)
	for _, tc := range []struct {
		offset, limit int
		cursor        bool
		want          []string
		more          bool
	}{
		{offset: 2, limit: 3, want: want[2:5], more: true},
		{offset: 4, limit: 3, want: want[4:7]},
		{offset: 7, limit: 3, want: nil},
		{offset: 250, limit: 3, want: nil},
		{offset: 1, limit: 2, cursor: true, want: want[3:5], more: true}, // cursor after want[1]
	} {
		in := service.ListInput{Offset: tc.offset, Limit: tc.limit}
		if tc.cursor {
			first, _ := e.svc.List(ctx, owner, service.ListInput{Limit: 2})
			in.Cursor = first.NextCursor
		}
		out, err := e.svc.List(ctx, owner, in)
		if err != nil || !slices.Equal(ids(out.Memories), tc.want) || (out.NextCursor != "") != tc.more {
			t.Fatalf("offset %d limit %d cursor %v: %v (next %q) %v, want %v", tc.offset, tc.limit, tc.cursor, ids(out.Memories), out.NextCursor, err, tc.want)
		}
		if tc.more {
			next, _ := e.svc.List(ctx, owner, service.ListInput{Cursor: out.NextCursor, Limit: 1})
			if len(next.Memories) != 1 || next.Memories[0].ID != want[slices.Index(want, tc.want[len(tc.want)-1])+1] {
				t.Fatalf("the next page after offset %d does not continue it: %v", tc.offset, ids(next.Memories))
			}
		}
	}
	for _, bad := range []int{-1, service.MaxListOffset + 1} {
		if _, err := e.svc.List(ctx, owner, service.ListInput{Offset: bad}); !errors.Is(err, memory.ErrInvalid) || !strings.Contains(err.Error(), "offset") {
			t.Fatalf("offset %d: %v", bad, err)
		}
	}
}

// Stats says how the server recalls: hybrid over the store's BM25 index,
// in the store's embedding space.
func TestStatsRetrieval(t *testing.T) {
	e := newEnv(t)
	e.store(t, owner, "a note", "")
	st, err := e.svc.Stats(ctx, bot, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Retrieval.Mode != "hybrid" || !st.Retrieval.FTS || st.Retrieval.Embedding == "" || st.Retrieval.Dimensions <= 0 {
		t.Fatalf("retrieval: %+v", st.Retrieval)
	}
	none := newEnv(t, func(o *service.Options) { o.Searcher = nil })
	if st, err := none.svc.Stats(ctx, owner, nil); err != nil || st.Retrieval.Mode != "unavailable" {
		t.Fatalf("no searcher: %+v %v", st.Retrieval, err)
	}
}

// blockingEmbedder holds Embed until released, to show no write lock is
// held while a provider is called.
type blockingEmbedder struct {
	embedding.Embedder
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
	return b.Embedder.Embed(ctx, texts)
}

func TestEmbedsBeforeTheWriteLock(t *testing.T) {
	emb := &blockingEmbedder{Embedder: servicetest.Embedder(), entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, func(o *service.Options) { o.Embedder = emb })
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "slow to embed"})
		done <- err
	}()
	<-emb.entered
	// While the provider is busy, another writer gets the lock at once.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	other := memory.Memory{Text: "written meanwhile"}
	if err := e.st.Write(wctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&other) }); err != nil {
		t.Fatalf("a write waited on an embedding call: %v", err)
	}
	close(emb.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
