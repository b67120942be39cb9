package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/trove-memory/trove/internal/mcpserver"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
	"github.com/trove-memory/trove/internal/store"
)

var ctx = context.Background()

type env struct {
	st   store.Store
	srch *servicetest.Searcher
	svc  *service.Service
	srv  *mcpserver.Server
	obs  *observer
}

type observer struct {
	mu    sync.Mutex
	calls []string // tool/code
}

func (o *observer) ObserveTool(tool, code string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, tool+"/"+code)
}

func (o *observer) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls)
}

func newEnv(t testing.TB, withSearcher bool) *env {
	st := servicetest.Store(t)
	e := &env{st: st, srch: &servicetest.Searcher{Store: st, Embedder: servicetest.Embedder()}, obs: &observer{}}
	opts := service.Options{Store: st, Embedder: servicetest.Embedder()}
	if withSearcher {
		opts.Searcher = e.srch
	}
	e.svc = service.New(opts)
	return e
}

// connect serves a new MCP server for agent over an in-memory transport
// and returns a connected SDK client.
func (e *env) connect(t testing.TB, agent string) *mcp.ClientSession {
	t.Helper()
	e.srv = mcpserver.New(e.svc, mcpserver.Options{Agent: agent, Observer: e.obs})
	ct, st := mcp.NewInMemoryTransports()
	ss, err := e.srv.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-host", Version: "v0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Wait()
	})
	return cs
}

// call calls a tool; on success it decodes the structured result into out.
func call(t testing.TB, cs *mcp.ClientSession, tool string, args map[string]any, out any) *service.BodyError {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error %v", tool, err)
	}
	if res.IsError {
		if res.StructuredContent != nil || len(res.Content) != 1 {
			t.Fatalf("%s: error result shape %+v", tool, res)
		}
		var body service.Body
		text := res.Content[0].(*mcp.TextContent).Text
		if err := json.Unmarshal([]byte(text), &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
			t.Fatalf("%s: error text %q is not {\"error\":{code,message}}: %v", tool, text, err)
		}
		return &body.Error
	}
	b, _ := json.Marshal(res.StructuredContent)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: result %s: %v", tool, b, err)
		}
	}
	// The text content carries the same JSON for clients without structured content.
	if text := res.Content[0].(*mcp.TextContent).Text; !json.Valid([]byte(text)) {
		t.Fatalf("%s: text content %q", tool, text)
	}
	return nil
}

func mustCall(t testing.TB, cs *mcp.ClientSession, tool string, args map[string]any, out any) {
	t.Helper()
	if e := call(t, cs, tool, args, out); e != nil {
		t.Fatalf("%s %v: %s: %s", tool, args, e.Code, e.Message)
	}
}

func wantErr(t testing.TB, cs *mcp.ClientSession, tool string, args map[string]any, code service.Code, msg string) {
	t.Helper()
	e := call(t, cs, tool, args, nil)
	if e == nil {
		t.Fatalf("%s %v succeeded, want %s", tool, args, code)
	}
	if e.Code != code || !strings.Contains(e.Message, msg) {
		t.Fatalf("%s %v: got %s %q, want %s containing %q", tool, args, e.Code, e.Message, code, msg)
	}
}

func TestToolList(t *testing.T) {
	e := newEnv(t, true)
	cs := e.connect(t, "")
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if !mcpserver.IsTool(tool.Name) { // its calls would be counted and logged as "unknown"
			t.Errorf("%s is not in toolNames", tool.Name)
		}
		if tool.Description == "" || tool.InputSchema == nil || tool.OutputSchema == nil || tool.Annotations == nil {
			t.Errorf("%s lacks a description, schema or annotations", tool.Name)
		}
	}
	slices.Sort(names)
	want := []string{"memory_archive", "memory_capture", "memory_capture_status", "memory_compact", "memory_debug", "memory_fact_query", "memory_feedback", "memory_forget", "memory_get", "memory_history", "memory_list", "memory_promote", "memory_recall", "memory_recall_context", "memory_revert", "memory_search", "memory_stats", "memory_store", "memory_update"}
	if !slices.Equal(names, want) {
		t.Fatalf("tools %v, want %v", names, want)
	}
}

func TestEveryTool(t *testing.T) {
	e := newEnv(t, true)
	cs := e.connect(t, "bot")

	var m service.Memory
	mustCall(t, cs, "memory_store", map[string]any{"text": "I prefer dark mode in every editor", "category": "decision",
		"importance": 0.8, "metadata": map[string]any{"source": "test"}}, &m)
	if m.Scope != "agent:bot" || m.Category != "decision" || m.Importance != 0.8 || m.Metadata["source"] != "test" || m.Revision != 1 {
		t.Fatalf("store: %+v", m) // an agent's default write scope is its own
	}
	var mine service.Memory
	mustCall(t, cs, "memory_store", map[string]any{"text": "the bot's own note about editors", "scope": "agent:bot"}, &mine)

	for _, tool := range []string{"memory_recall", "memory_search"} {
		var rc service.RecallOutput
		mustCall(t, cs, tool, map[string]any{"query": "which editor theme?", "limit": 1}, &rc)
		if len(rc.Results) != 1 || rc.Results[0].Memory.ID != m.ID || rc.Results[0].Score <= 0 || rc.Results[0].Sources.Vector == nil {
			t.Fatalf("%s: %+v", tool, rc)
		}
	}
	var rc service.RecallOutput
	mustCall(t, cs, "memory_recall", map[string]any{"query": "editors", "scope": "agent:bot", "category": "other"}, &rc)
	if len(rc.Results) != 1 || rc.Results[0].Memory.ID != mine.ID {
		t.Fatalf("recall in scope: %+v", rc)
	}

	var got service.Memory
	mustCall(t, cs, "memory_get", map[string]any{"id": m.ID[:8]}, &got)
	if got.ID != m.ID {
		t.Fatalf("get: %+v", got)
	}
	var up service.Memory
	mustCall(t, cs, "memory_update", map[string]any{"id": m.ID[:9], "text": "I prefer dark mode", "expected_revision": 1,
		"metadata": map[string]any{"source": nil}}, &up)
	if up.Revision != 2 || up.Text != "I prefer dark mode" || len(up.Metadata) != 0 {
		t.Fatalf("update: %+v", up)
	}

	for i := range 3 {
		mustCall(t, cs, "memory_store", map[string]any{"text": fmt.Sprintf("filler %d", i)}, nil)
	}
	ids := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		var l service.ListOutput
		args := map[string]any{"limit": 2}
		if cursor != "" {
			args["cursor"] = cursor
		}
		mustCall(t, cs, "memory_list", args, &l)
		for _, x := range l.Memories {
			ids[x.ID] = true
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(ids) != 5 {
		t.Fatalf("listed %d memories, want 5", len(ids))
	}
	var st service.StatsOutput
	mustCall(t, cs, "memory_stats", map[string]any{}, &st)
	// Stored without a scope, the agent's memories went to its own agent:bot.
	if st.Total != 5 || st.ByScope["agent:bot"] != 5 || st.ByScope["global"] != 0 {
		t.Fatalf("stats: %+v", st)
	}
	mustCall(t, cs, "memory_stats", map[string]any{"scope": "global"}, &st)
	if st.Total != 0 {
		t.Fatalf("stats in scope: %+v", st)
	}
	var gov service.GovernOutput
	mustCall(t, cs, "memory_archive", map[string]any{"memoryId": mine.ID[:8], "reason": "test"}, &gov)
	if !gov.Changed || gov.Memory.Metadata["state"] != "archived" || gov.Memory.Metadata["archive_reason"] != "test" {
		t.Fatalf("archive: %+v", gov)
	}
	mustCall(t, cs, "memory_promote", map[string]any{"memoryId": mine.ID, "layer": "working"}, &gov)
	if !gov.Changed || gov.Memory.Metadata["state"] != "confirmed" || gov.Memory.Metadata["memory_layer"] != "working" {
		t.Fatalf("promote: %+v", gov)
	}
	mustCall(t, cs, "memory_archive", map[string]any{"query": "the bot's own note about editors"}, &gov)
	if gov.Memory.ID != mine.ID {
		t.Fatalf("archive by query: %+v", gov)
	}
	var cp service.CompactOutput
	mustCall(t, cs, "memory_compact", map[string]any{}, &cp)
	if !cp.DryRun || cp.Scanned != 4 {
		t.Fatalf("compact: %+v", cp)
	}
	wantErr(t, cs, "memory_promote", map[string]any{}, service.CodeInvalid, "give its id")
	var fb service.FeedbackOutput
	mustCall(t, cs, "memory_feedback", map[string]any{"injected": []string{mine.ID}, "used": []string{mine.ID}}, &fb)
	if len(fb.Used) != 1 || fb.Used[0] != mine.ID {
		t.Fatalf("feedback: %+v", fb)
	}
	var f service.ForgetOutput
	mustCall(t, cs, "memory_forget", map[string]any{"id": m.ID[:8]}, &f)
	if !f.Deleted || f.ID != m.ID {
		t.Fatalf("forget: %+v", f)
	}
	wantErr(t, cs, "memory_get", map[string]any{"id": m.ID}, service.CodeNotFound, "not found")

	seen := e.obs.seen()
	if !slices.Contains(seen, "memory_store/ok") || !slices.Contains(seen, "memory_get/not_found") {
		t.Fatalf("observer saw %v", seen)
	}
}

func TestErrorCodes(t *testing.T) {
	e := newEnv(t, true)
	cs := e.connect(t, "bot")
	var m service.Memory
	mustCall(t, cs, "memory_store", map[string]any{"text": "a note"}, &m)
	for _, id := range []string{"abcdefgh-1", "abcdefgh-2"} {
		x := memory.Memory{ID: id, Text: "twin " + id}
		if err := e.st.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&x) }); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		tool string
		args map[string]any
		code service.Code
		msg  string
	}{
		{"memory_get", map[string]any{"id": "00000000-0000"}, service.CodeNotFound, "not found"},
		{"memory_get", map[string]any{"id": "abcdefgh"}, service.CodeInvalid, "abcdefgh-1, abcdefgh-2"},
		{"memory_get", map[string]any{}, service.CodeInvalid, "input schema"},
		{"memory_store", map[string]any{"text": ""}, service.CodeInvalid, "text is empty"},
		{"memory_store", map[string]any{"text": "x", "colour": "red"}, service.CodeInvalid, "colour"},
		{"memory_store", map[string]any{"text": 42}, service.CodeInvalid, "input schema"},
		{"memory_store", map[string]any{"text": "x", "importance": "high"}, service.CodeInvalid, "input schema"},
		{"memory_store", map[string]any{"text": "x", "scope": "agent:other"}, service.CodeScopeDenied, "agent:other is not accessible"},
		{"memory_update", map[string]any{"id": m.ID, "importance": 0.1, "expected_revision": 7}, service.CodeConflict, "read it again"},
		{"memory_update", map[string]any{"id": m.ID}, service.CodeInvalid, "nothing to update"},
		{"memory_forget", map[string]any{"id": m.ID, "expected_revision": 9}, service.CodeConflict, "changed since"},
		{"memory_list", map[string]any{"limit": 999}, service.CodeInvalid, "1 to 200"},
		{"memory_recall", map[string]any{"query": ""}, service.CodeInvalid, "query is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.tool+fmt.Sprint(tc.args), func(t *testing.T) { wantErr(t, cs, tc.tool, tc.args, tc.code, tc.msg) })
	}

	// unavailable: a server without a search pipeline.
	e2 := newEnv(t, false)
	cs2 := e2.connect(t, "bot")
	wantErr(t, cs2, "memory_recall", map[string]any{"query": "anything"}, service.CodeUnavailable, "recall is unavailable")
	wantErr(t, cs2, "memory_search", map[string]any{"query": "anything"}, service.CodeUnavailable, "recall is unavailable")
	// A failing pipeline is unavailable too.
	e.srch.Fn = func(context.Context, memory.Access, retrieve.Request) (retrieve.Response, error) {
		return retrieve.Response{}, fmt.Errorf("%w: vector index rebuilding", memory.ErrUnavailable)
	}
	wantErr(t, cs, "memory_recall", map[string]any{"query": "anything"}, service.CodeUnavailable, "retry later")

	// An unknown tool is a protocol error, as MCP specifies.
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "memory_nope"}); err == nil {
		t.Fatal("unknown tool succeeded")
	}
}

// Shutdown: running calls finish; calls arriving meanwhile are refused
// with unavailable; Drain returns when the running ones are done.
func TestDrain(t *testing.T) {
	e := newEnv(t, true)
	cs := e.connect(t, "")
	mustCall(t, cs, "memory_store", map[string]any{"text": "something to recall"}, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	e.srch.Fn = func(ctx context.Context, acc memory.Access, req retrieve.Request) (retrieve.Response, error) {
		close(entered)
		<-release
		return retrieve.Response{}, nil
	}
	slow := make(chan *service.BodyError, 1)
	go func() { slow <- call(t, cs, "memory_recall", map[string]any{"query": "something"}, nil) }()
	<-entered
	drained := make(chan error, 1)
	go func() { drained <- e.srv.Drain(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		be := call(t, cs, "memory_list", map[string]any{}, nil)
		if be != nil && be.Code == service.CodeUnavailable && strings.Contains(be.Message, "shutting down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("calls are still taken after Drain began")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-drained:
		t.Fatal("Drain returned while a call was running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if be := <-slow; be != nil {
		t.Fatalf("the running call failed: %+v", be)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
}

// Concurrent calls are served concurrently and all succeed.
func TestConcurrentCalls(t *testing.T) {
	e := newEnv(t, true)
	cs := e.connect(t, "")
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if be := call(t, cs, "memory_store", map[string]any{"text": fmt.Sprintf("concurrent note %d", i)}, nil); be != nil {
				errs <- be.Message
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	var st service.StatsOutput
	mustCall(t, cs, "memory_stats", map[string]any{}, &st)
	if st.Total != 32 {
		t.Fatalf("stored %d of 32", st.Total)
	}
}

// memory_recall and memory_search take min_score, described with the
// service's own words, and out of [0, 1] it is the service's error.
func TestMinScoreSchema(t *testing.T) {
	e := newEnv(t, true)
	cs := e.connect(t, "")
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range res.Tools {
		if tool.Name != mcpserver.ToolRecall && tool.Name != mcpserver.ToolSearch {
			continue
		}
		b, _ := json.Marshal(tool.InputSchema)
		var schema struct {
			Properties map[string]struct {
				Type        any    `json:"type"`
				Description string `json:"description"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(b, &schema); err != nil {
			t.Fatal(err)
		}
		if p, ok := schema.Properties["min_score"]; !ok || p.Description != service.MinScoreHelp {
			t.Errorf("%s: min_score %+v, want the description service.MinScoreHelp", tool.Name, p)
		}
	}
	wantErr(t, cs, mcpserver.ToolRecall, map[string]any{"query": "anything", "min_score": 1.5}, service.CodeInvalid, "min_score 1.5 is outside [0, 1]")
}
