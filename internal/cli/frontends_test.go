package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/trove-memory/trove/internal/config"
	"github.com/trove-memory/trove/internal/httpapi"
	"github.com/trove-memory/trove/internal/mcpserver"
	"github.com/trove-memory/trove/internal/service"
)

// answer is what a front end said to one request: the JSON of a success,
// or the code and message of an error.
type answer struct {
	Result any    `json:"result,omitempty"`
	Code   string `json:"code,omitempty"`
	Msg    string `json:"message,omitempty"`
}

// frontends serves one store through the CLI (in-process, a fresh open per
// command as the binary does), REST and MCP (one long-lived service).
type frontends struct {
	cli  *cliEnv
	rest *httptest.Server
	mcp  map[string]*mcp.ClientSession // by agent ("" is the owner)
}

func newFrontends(t *testing.T) *frontends {
	f := &frontends{cli: newCLIEnv(t), mcp: map[string]*mcp.ClientSession{}}
	f.cli.ok("store", "prefers dark mode in every editor", "--id", "mem-0001", "--category", "preference")
	f.cli.ok("store", "billing deploys on Fridays", "--id", "mem-0002", "--scope", "project:billing", "--category", "decision")
	f.cli.ok("store", "the team lunch is on Thursdays", "--id", "mem-0003")

	cfg := config.Defaults(func(string) string { return "" })
	cfg.DB = f.cli.db
	f.serve(t, cfg, "", "bob")
	return f
}

// serve opens one long-lived service over the CLI's store, as trove serve
// does, and connects REST and an MCP client per agent ("" is the owner).
func (f *frontends) serve(t *testing.T, cfg config.Config, agents ...string) {
	svc, err := openTestService(context.Background(), cfg, OpenOptions{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	srv := mcpserver.New(svc, mcpserver.Options{})
	f.rest = httptest.NewServer(httpapi.New(httpapi.Options{Service: svc, MCP: srv.Handler()}))
	t.Cleanup(f.rest.Close)
	for _, agent := range agents {
		ct, st := mcp.NewInMemoryTransports()
		ss, err := mcpserver.New(svc, mcpserver.Options{Agent: agent}).MCP().Connect(context.Background(), st, nil)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v0"}, nil).Connect(context.Background(), ct, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close(); ss.Wait() })
		f.mcp[agent] = cs
	}
}

// viaCLI runs a command with --json; an error becomes its code (by the
// exit code table) and the message after "error: ".
func (f *frontends) viaCLI(t *testing.T, args ...string) answer {
	t.Helper()
	r := f.cli.run(append(args, "--json")...)
	if r.code != 0 {
		// The first line that is not a warning (config warnings come first).
		lines := strings.Split(r.err, "\n")
		for len(lines) > 1 && strings.HasPrefix(lines[0], "warning: ") {
			lines = lines[1:]
		}
		return answer{Code: codeOfExit[r.code], Msg: strings.TrimPrefix(lines[0], "error: ")}
	}
	return answer{Result: decodeAny(t, r.out)}
}

var codeOfExit = map[int]string{ExitUsage: "invalid_argument", ExitNotFound: "not_found", ExitConflict: "conflict",
	ExitDenied: "scope_access_denied", ExitUnavailable: "unavailable", ExitFailure: "internal"}

func (f *frontends) viaREST(t *testing.T, agent, method, path, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, f.rest.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if agent != "" {
		req.Header.Set(service.AgentHeader, agent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		var e service.Body
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("REST %s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return answer{Code: string(e.Error.Code), Msg: e.Error.Message}
	}
	return answer{Result: decodeAny(t, string(b))}
}

func (f *frontends) viaMCP(t *testing.T, agent, tool string, args map[string]any) answer {
	t.Helper()
	res, err := f.mcp[agent].CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("MCP %s: %v", tool, err)
	}
	text := res.Content[0].(*mcp.TextContent).Text
	if res.IsError {
		var e service.Body
		if err := json.Unmarshal([]byte(text), &e); err != nil {
			t.Fatalf("MCP %s error %q", tool, text)
		}
		return answer{Code: string(e.Error.Code), Msg: e.Error.Message}
	}
	return answer{Result: decodeAny(t, text)}
}

func decodeAny(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

// checkExplain wants a debug answer's explanation, with every stage
// (lexical to limit) and a trace per result, and sets each stage's time
// to 0: the front ends must agree on everything else.
func checkExplain(t *testing.T, a answer) {
	t.Helper()
	res, _ := a.Result.(map[string]any)
	ex, _ := res["explain"].(map[string]any)
	stages, _ := ex["stages"].([]any)
	var names []string
	for _, s := range stages {
		st := s.(map[string]any)
		names = append(names, st["name"].(string))
		if _, ok := st["ms"].(json.Number); !ok {
			t.Fatalf("stage %v has no time", st)
		}
		st["ms"] = json.Number("0")
	}
	if want := "lexical vector fusion floor rerank score decay noise dedup limit"; strings.Join(names, " ") != want {
		t.Fatalf("explained stages %q, want %q in %+v", names, want, a)
	}
	results, _ := res["results"].([]any)
	for _, r := range results {
		if tr, _ := r.(map[string]any)["trace"].(map[string]any); tr["components"] == nil {
			t.Fatalf("result without its components: %v", r)
		}
	}
}

// TestFrontendsAgree sends the same requests through the CLI, REST and
// MCP, and wants the same answer, or the same error code and message.
func TestFrontendsAgree(t *testing.T) {
	f := newFrontends(t)
	noMessages := filepath.Join(t.TempDir(), "none.json")
	if err := os.WriteFile(noMessages, []byte("[]"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []frontendCase{
		{name: "get", cli: []string{"get", "mem-0001"},
			rest: [4]string{"", "GET", "/v1/memories/mem-0001", ""},
			mcp:  func() (string, string, map[string]any) { return "", "memory_get", map[string]any{"id": "mem-0001"} }},
		{name: "get missing", cli: []string{"get", "mem-9999"}, code: "not_found",
			rest: [4]string{"", "GET", "/v1/memories/mem-9999", ""},
			mcp:  func() (string, string, map[string]any) { return "", "memory_get", map[string]any{"id": "mem-9999"} }},
		{name: "get bad id", cli: []string{"get", "no spaces allowed"}, code: "invalid_argument",
			rest: [4]string{"", "GET", "/v1/memories/no%20spaces%20allowed", ""},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_get", map[string]any{"id": "no spaces allowed"}
			}},
		{name: "list", cli: []string{"list", "--scope", "project:billing"},
			rest: [4]string{"", "GET", "/v1/memories?scope=project:billing", ""},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_list", map[string]any{"scope": "project:billing"}
			}},
		{name: "list memory_category", cli: []string{"list", "--memory-category", "preference"},
			rest: [4]string{"", "GET", "/v1/memories?memory_category=preference", ""},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_list", map[string]any{"memory_category": "preference"}
			}},
		{name: "list unknown memory_category", cli: []string{"list", "--memory-category", "fact"}, code: "invalid_argument",
			rest: [4]string{"", "GET", "/v1/memories?memory_category=fact", ""},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_list", map[string]any{"memory_category": "fact"}
			}},
		{name: "recall memory_category", cli: []string{"search", "dark mode editor", "--memory-category", "preferences"},
			rest: [4]string{"", "POST", "/v1/search", `{"query":"dark mode editor","memory_category":"preferences"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall", map[string]any{"query": "dark mode editor", "memory_category": "preferences"}
			}},
		{name: "list limit over the table", cli: []string{"list", "--limit", "201"}, code: "invalid_argument",
			rest: [4]string{"", "GET", "/v1/memories?limit=201", ""},
			mcp:  func() (string, string, map[string]any) { return "", "memory_list", map[string]any{"limit": 201} }},
		{name: "recall", cli: []string{"search", "dark mode editor", "--limit", "2"},
			rest: [4]string{"", "POST", "/v1/search", `{"query":"dark mode editor","limit":2}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall", map[string]any{"query": "dark mode editor", "limit": 2}
			}},
		{name: "recall limit over the table", cli: []string{"search", "dark mode", "--limit", "51"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/search", `{"query":"dark mode","limit":51}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall", map[string]any{"query": "dark mode", "limit": 51}
			}},
		{name: "recall min_score", cli: []string{"search", "dark mode editor", "--min-score", "0.5"},
			rest: [4]string{"", "POST", "/v1/search", `{"query":"dark mode editor","min_score":0.5}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall", map[string]any{"query": "dark mode editor", "min_score": 0.5}
			}},
		{name: "recall min_score out of range", cli: []string{"search", "dark mode", "--min-score", "1.5"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/search", `{"query":"dark mode","min_score":1.5}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall", map[string]any{"query": "dark mode", "min_score": 1.5}
			}},
		{name: "recall nothing relevant", cli: []string{"search", "orchid repotting"},
			rest: [4]string{"", "POST", "/v1/search", `{"query":"orchid repotting"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall", map[string]any{"query": "orchid repotting"}
			}},
		{name: "recall query too long", cli: []string{"search", strings.Repeat("word ", 1000)}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/search", `{"query":"` + strings.Repeat("word ", 1000) + `"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall", map[string]any{"query": strings.Repeat("word ", 1000)}
			}},
		{name: "recall-context", cli: []string{"recall-context", "which editor theme do I prefer, dark mode?"},
			rest: [4]string{"", "POST", "/v1/recall-context", `{"prompt":"which editor theme do I prefer, dark mode?"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall_context", map[string]any{"prompt": "which editor theme do I prefer, dark mode?"}
			}},
		{name: "recall-context full mode, bounds", cli: []string{"recall-context", "what do we know about billing deploys?", "--mode", "full", "--limit", "2", "--max-item-chars", "12", "--min-score", "0.1"},
			rest: [4]string{"", "POST", "/v1/recall-context", `{"prompt":"what do we know about billing deploys?","mode":"full","limit":2,"max_item_chars":12,"min_score":0.1}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall_context", map[string]any{"prompt": "what do we know about billing deploys?", "mode": "full", "limit": 2, "max_item_chars": 12, "min_score": 0.1}
			}},
		{name: "recall-context as an agent", cli: []string{"--agent", "bob", "recall-context", "what do we know about billing deploys?"},
			rest: [4]string{"bob", "POST", "/v1/recall-context", `{"prompt":"what do we know about billing deploys?"}`},
			mcp: func() (string, string, map[string]any) {
				return "bob", "memory_recall_context", map[string]any{"prompt": "what do we know about billing deploys?"}
			}},
		{name: "recall-context skips small talk", cli: []string{"recall-context", "ok thanks"},
			rest: [4]string{"", "POST", "/v1/recall-context", `{"prompt":"ok thanks"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall_context", map[string]any{"prompt": "ok thanks"}
			}},
		{name: "recall-context bad mode", cli: []string{"recall-context", "what editor?", "--mode", "l2"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/recall-context", `{"prompt":"what editor?","mode":"l2"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall_context", map[string]any{"prompt": "what editor?", "mode": "l2"}
			}},
		{name: "recall-context item budget over the table", cli: []string{"recall-context", "what editor?", "--max-item-chars", "5001"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/recall-context", `{"prompt":"what editor?","max_item_chars":5001}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall_context", map[string]any{"prompt": "what editor?", "max_item_chars": 5001}
			}},
		{name: "facts by key", cli: []string{"facts", "--key", "preferences:prefers dark mode in every editor", "--history", "--at", "2100-01-01"},
			rest: [4]string{"", "POST", "/v1/facts", `{"fact_key":"preferences:prefers dark mode in every editor","include_history":true,"at":"2100-01-01"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_fact_query", map[string]any{"factKey": "preferences:prefers dark mode in every editor", "includeHistory": true, "at": "2100-01-01"}
			}},
		{name: "facts without a selector", cli: []string{"facts"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/facts", `{}`},
			mcp:  func() (string, string, map[string]any) { return "", "memory_fact_query", map[string]any{} }},
		{name: "recall with debug", cli: []string{"search", "dark mode editor", "--debug", "--limit", "2"},
			rest: [4]string{"", "POST", "/v1/search", `{"query":"dark mode editor","debug":true,"limit":2}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall", map[string]any{"query": "dark mode editor", "debug": true, "limit": 2}
			}},
		{name: "recall with a bad as_of", cli: []string{"search", "dark mode", "--as-of", "yesterday"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/search", `{"query":"dark mode","as_of":"yesterday"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall", map[string]any{"query": "dark mode", "as_of": "yesterday"}
			}},
		{name: "store a secret", cli: []string{"store", "the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/memories", `{"text":"the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_store", map[string]any{"text": "the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"}
			}},
		{name: "store a duplicate", cli: []string{"store", "prefers dark mode in every editor", "--json"},
			rest: [4]string{"", "POST", "/v1/memories", `{"text":"prefers dark mode in every editor"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_store", map[string]any{"text": "prefers dark mode in every editor"}
			}},
		{name: "capture without messages", cli: []string{"capture", "--session", "s1", "--file", noMessages}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/capture", `{"session":"s1","messages":[]}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_capture", map[string]any{"session": "s1", "messages": []any{}}
			}},
		{name: "stats", cli: []string{"stats"},
			rest: [4]string{"", "GET", "/v1/stats", ""},
			mcp:  func() (string, string, map[string]any) { return "", "memory_stats", map[string]any{} }},
		{name: "list offset", cli: []string{"list", "--offset", "1", "--limit", "2"},
			rest: [4]string{"", "GET", "/v1/memories?offset=1&limit=2", ""},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_list", map[string]any{"offset": 1, "limit": 2}
			}},
		{name: "list offset over the table", cli: []string{"list", "--offset", "10001"}, code: "invalid_argument",
			rest: [4]string{"", "GET", "/v1/memories?offset=10001", ""},
			mcp:  func() (string, string, map[string]any) { return "", "memory_list", map[string]any{"offset": 10001} }},
		{name: "compact limit", cli: []string{"compact", "--limit", "2"},
			rest: [4]string{"", "POST", "/v1/compact", `{"limit":2}`},
			mcp:  func() (string, string, map[string]any) { return "", "memory_compact", map[string]any{"limit": 2} }},
		{name: "compact limit out of range", cli: []string{"compact", "--limit", "-1"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/compact", `{"limit":-1}`},
			mcp:  func() (string, string, map[string]any) { return "", "memory_compact", map[string]any{"limit": -1} }},
		{name: "recall names the readable scopes when one is ignored", cli: []string{"--agent", "bob", "search", "billing deploys", "--scope", "project:billing"},
			rest: [4]string{"bob", "POST", "/v1/search", `{"query":"billing deploys","scopes":["project:billing"]}`},
			mcp: func() (string, string, map[string]any) {
				return "bob", "memory_recall", map[string]any{"query": "billing deploys", "scope": "project:billing"}
			}},
		{name: "stats as an agent", cli: []string{"--agent", "bob", "stats"},
			rest: [4]string{"bob", "GET", "/v1/stats", ""},
			mcp:  func() (string, string, map[string]any) { return "bob", "memory_stats", map[string]any{} }},
		{name: "stale update", cli: []string{"update", "mem-0001", "--importance", "0.2", "--expected-revision", "7"}, code: "conflict",
			rest: [4]string{"", "PATCH", "/v1/memories/mem-0001", `{"importance":0.2,"expected_revision":7}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_update", map[string]any{"id": "mem-0001", "importance": 0.2, "expected_revision": 7}
			}},
		{name: "negative revision", cli: []string{"delete", "mem-0001", "--expected-revision", "-1"}, code: "invalid_argument",
			rest: [4]string{"", "DELETE", "/v1/memories/mem-0001?expected_revision=-1", ""},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_forget", map[string]any{"id": "mem-0001", "expected_revision": -1}
			}},
		{name: "write to a scope not yours", cli: []string{"--agent", "bob", "store", "x", "--scope", "agent:alice"}, code: "scope_access_denied",
			rest: [4]string{"bob", "POST", "/v1/memories", `{"text":"x","scope":"agent:alice"}`},
			mcp: func() (string, string, map[string]any) {
				return "bob", "memory_store", map[string]any{"text": "x", "scope": "agent:alice"}
			}},
		{name: "update another agent's row", cli: []string{"--agent", "bob", "update", "mem-0002", "--text", "changed"}, code: "not_found",
			rest: [4]string{"bob", "PATCH", "/v1/memories/mem-0002", `{"text":"changed"}`},
			mcp: func() (string, string, map[string]any) {
				return "bob", "memory_update", map[string]any{"id": "mem-0002", "text": "changed"}
			}},
		{name: "history", cli: []string{"history", "mem-0001"},
			rest: [4]string{"", "GET", "/v1/memories/mem-0001/history", ""},
			mcp:  func() (string, string, map[string]any) { return "", "memory_history", map[string]any{"id": "mem-0001"} }},
		{name: "history missing", cli: []string{"history", "mem-9999"}, code: "not_found",
			rest: [4]string{"", "GET", "/v1/memories/mem-9999/history", ""},
			mcp:  func() (string, string, map[string]any) { return "", "memory_history", map[string]any{"id": "mem-9999"} }},
		{name: "history of another agent's row", cli: []string{"--agent", "bob", "history", "mem-0002"}, code: "not_found",
			rest: [4]string{"bob", "GET", "/v1/memories/mem-0002/history", ""},
			mcp: func() (string, string, map[string]any) {
				return "bob", "memory_history", map[string]any{"id": "mem-0002"}
			}},
		{name: "history limit over the table", cli: []string{"history", "mem-0001", "--limit", "201"}, code: "invalid_argument",
			rest: [4]string{"", "GET", "/v1/memories/mem-0001/history?limit=201", ""},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_history", map[string]any{"id": "mem-0001", "limit": 201}
			}},
		{name: "revert to no revision", cli: []string{"revert", "mem-0001", "--to", "0"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/memories/mem-0001/revert", `{"to":0}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_revert", map[string]any{"id": "mem-0001", "to": 0}
			}},
		{name: "stale revert", cli: []string{"revert", "mem-0001", "--to", "1", "--expected-revision", "7"}, code: "conflict",
			rest: [4]string{"", "POST", "/v1/memories/mem-0001/revert", `{"to":1,"expected_revision":7}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_revert", map[string]any{"id": "mem-0001", "to": 1, "expected_revision": 7}
			}},
		{name: "revert to a revision not kept", cli: []string{"revert", "mem-0003", "--to", "5"}, code: "not_found",
			rest: [4]string{"", "POST", "/v1/memories/mem-0003/revert", `{"to":5}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_revert", map[string]any{"id": "mem-0003", "to": 5}
			}},
		{name: "revert another agent's row", cli: []string{"--agent", "bob", "revert", "mem-0002", "--to", "1"}, code: "not_found",
			rest: [4]string{"bob", "POST", "/v1/memories/mem-0002/revert", `{"to":1}`},
			mcp: func() (string, string, map[string]any) {
				return "bob", "memory_revert", map[string]any{"id": "mem-0002", "to": 1}
			}},
		{name: "compact dry run", cli: []string{"compact"},
			rest: [4]string{"", "POST", "/v1/compact", ""},
			mcp:  func() (string, string, map[string]any) { return "", "memory_compact", map[string]any{} }},
		{name: "compact another agent's scope", cli: []string{"--agent", "bob", "compact", "--scope", "project:billing"},
			rest: [4]string{"bob", "POST", "/v1/compact", `{"scopes":["project:billing"]}`},
			mcp: func() (string, string, map[string]any) {
				return "bob", "memory_compact", map[string]any{"scope": "project:billing"}
			}},
		{name: "promote another agent's row", cli: []string{"--agent", "bob", "promote", "mem-0002"}, code: "not_found",
			rest: [4]string{"bob", "POST", "/v1/memories/mem-0002/promote", ""},
			mcp: func() (string, string, map[string]any) {
				return "bob", "memory_promote", map[string]any{"memoryId": "mem-0002"}
			}},
		{name: "promote to a bad layer", cli: []string{"promote", "mem-0001", "--layer", "core"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/promote", `{"id":"mem-0001","layer":"core"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_promote", map[string]any{"memoryId": "mem-0001", "layer": "core"}
			}},
		{name: "archive another agent's row", cli: []string{"--agent", "bob", "archive", "mem-0002", "--reason", "x"}, code: "not_found",
			rest: [4]string{"bob", "POST", "/v1/memories/mem-0002/archive", `{"reason":"x"}`},
			mcp: func() (string, string, map[string]any) {
				return "bob", "memory_archive", map[string]any{"memoryId": "mem-0002", "reason": "x"}
			}},
		{name: "archive without a target", cli: []string{"archive"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/archive", `{}`},
			mcp:  func() (string, string, map[string]any) { return "", "memory_archive", map[string]any{} }},
		{name: "bad category", cli: []string{"store", "x", "--category", "stress"}, code: "invalid_argument",
			rest: [4]string{"", "POST", "/v1/memories", `{"text":"x","category":"stress"}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_store", map[string]any{"text": "x", "category": "stress"}
			}},
	} {
		t.Run(c.name, func(t *testing.T) { f.agree(t, c, nil) })
	}
}

// frontendCase is one request to every front end.
type frontendCase struct {
	name string
	cli  []string
	rest [4]string // agent, method, path, body
	mcp  func() (string, string, map[string]any)
	code string // "" for success
}

// agree sends c through the CLI, REST and MCP and wants the same answer,
// after norm (when not nil) has checked and normalised each.
func (f *frontends) agree(t *testing.T, c frontendCase, norm func(*testing.T, answer)) {
	t.Helper()
	cli := f.viaCLI(t, c.cli...)
	rest := f.viaREST(t, c.rest[0], c.rest[1], c.rest[2], c.rest[3])
	agent, tool, args := c.mcp()
	mc := f.viaMCP(t, agent, tool, args)
	if cli.Code != c.code {
		t.Fatalf("CLI answered %+v, want code %q", cli, c.code)
	}
	if norm != nil {
		for _, a := range []answer{cli, rest, mc} {
			norm(t, a)
		}
	}
	if !reflect.DeepEqual(cli, rest) || !reflect.DeepEqual(cli, mc) {
		b := func(a answer) string { j, _ := json.Marshal(a); return string(j) }
		t.Fatalf("front ends disagree:\nCLI  %s\nREST %s\nMCP  %s", b(cli), b(rest), b(mc))
	}
}

// TestFrontendsAgreeOnDebug runs the real recall pipeline behind every
// front end and wants the same explanation from trove search --debug,
// POST /v1/search with debug and MCP memory_debug (and memory_recall
// with debug): the same stages, counts, score ranges, components and
// dropped candidates; only the stages' times differ.
func TestFrontendsAgreeOnDebug(t *testing.T) {
	now := time.Now().Add(time.Hour) // one clock: recency and decay give every front end the same scores
	realRecall = func() time.Time { return now }
	t.Cleanup(func() { realRecall = nil })
	f := newFrontends(t)
	for _, c := range []frontendCase{
		{name: "memory_debug", cli: []string{"search", "dark mode editor", "--debug", "--limit", "1"},
			rest: [4]string{"", "POST", "/v1/search", `{"query":"dark mode editor","debug":true,"limit":1}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_debug", map[string]any{"query": "dark mode editor", "limit": 1}
			}},
		{name: "memory_debug of another agent", cli: []string{"--agent", "bob", "search", "billing deploys", "--debug"},
			rest: [4]string{"bob", "POST", "/v1/search", `{"query":"billing deploys","debug":true}`},
			mcp: func() (string, string, map[string]any) {
				return "bob", "memory_debug", map[string]any{"query": "billing deploys"}
			}},
		{name: "memory_recall with debug", cli: []string{"search", "billing deploys on Fridays", "--debug"},
			rest: [4]string{"", "POST", "/v1/search", `{"query":"billing deploys on Fridays","debug":true}`},
			mcp: func() (string, string, map[string]any) {
				return "", "memory_recall", map[string]any{"query": "billing deploys on Fridays", "debug": true}
			}},
	} {
		t.Run(c.name, func(t *testing.T) { f.agree(t, c, checkExplain) })
	}
	// The text form shows the same: components per memory, a row per stage.
	out := f.cli.ok("search", "dark mode editor", "--debug")
	for _, want := range []string{"components: fused ", "lexical ", "lifecycle ×", "dropped mem-", "fusion: seed: 0.70·vector + 0.30·bm25",
		"stage       in   out       ms  scores", "\nfloor        3     1 ", "\nrerank       1     1 ", "0.746–0.746  (no cross-encoder configured)", "\nlimit        1     1 "} {
		if !strings.Contains(out, want) {
			t.Errorf("trove search --debug lacks %q:\n%s", want, out)
		}
	}
}
