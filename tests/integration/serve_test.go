package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// served is a running `trove serve --http` process.
type served struct {
	t      testing.TB
	cmd    *exec.Cmd
	url    string
	token  string
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan error
}

var listenRE = regexp.MustCompile(`rest=http://(127\.0\.0\.1:\d+)/v1`)

// serveHTTP starts trove serve --http 127.0.0.1:0 and waits until it listens.
func (e *env) serveHTTP(t testing.TB, env []string, args ...string) *served {
	t.Helper()
	c := e.cmd(context.Background(), append([]string{"serve", "--http", "127.0.0.1:0"}, args...)...)
	c.Env = append(c.Env, env...)
	pipe, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &served{t: t, cmd: c, exited: make(chan error, 1)}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "TROVE_TOKEN="); ok {
			s.token = v
		}
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			s.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		s.exited <- c.Wait()
	}()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case err := <-s.exited:
		t.Fatalf("trove serve exited before listening: %v\n%s", err, s.log())
	case <-time.After(15 * time.Second):
		_ = c.Process.Kill()
		t.Fatalf("trove serve did not start:\n%s", s.log())
	}
	t.Cleanup(func() {
		if c.ProcessState == nil {
			_ = c.Process.Kill()
		}
	})
	return s
}

func (s *served) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop sends SIGTERM and requires a clean exit.
func (s *served) stop() {
	s.t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			s.t.Fatalf("trove serve after SIGTERM: %v\n%s", err, s.log())
		}
	case <-time.After(30 * time.Second):
		// SIGQUIT: the Go runtime prints every goroutine's stack, so the
		// log says what the server was waiting on.
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
		}
		s.t.Fatalf("trove serve did not stop after SIGTERM:\n%s", s.log())
	}
}

type resp struct {
	status int
	raw    string
	body   map[string]any
}

func (r resp) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

var client = &http.Client{Timeout: 30 * time.Second}

// do sends one REST request as agent ("" for none).
func (s *served) do(method, path, agent, body string) (resp, error) {
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		return resp{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if agent != "" {
		req.Header.Set("X-Trove-Agent", agent)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	hr, err := client.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer hr.Body.Close()
	b, _ := io.ReadAll(hr.Body)
	r := resp{status: hr.StatusCode, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r, nil
}

func (s *served) must(method, path, agent, body string, status int) resp {
	s.t.Helper()
	r, err := s.do(method, path, agent, body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.status != status {
		s.t.Fatalf("%s %s as %q: %d %s, want %d", method, path, agent, r.status, r.raw, status)
	}
	return r
}

// headerTransport adds headers to every request of an MCP client.
type headerTransport struct{ hdr http.Header }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.hdr {
		r.Header[k] = v
	}
	return http.DefaultTransport.RoundTrip(r)
}

// mcpHTTP connects the SDK's streamable HTTP client as agent.
func (s *served) mcpHTTP(agent string) *mcp.ClientSession {
	s.t.Helper()
	hdr := http.Header{}
	if agent != "" {
		hdr.Set("X-Trove-Agent", agent)
	}
	if s.token != "" {
		hdr.Set("Authorization", "Bearer "+s.token)
	}
	tr := &mcp.StreamableClientTransport{Endpoint: s.url + "/mcp", HTTPClient: &http.Client{Transport: headerTransport{hdr}}, MaxRetries: -1}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "integration", Version: "v0"}, nil).Connect(context.Background(), tr, nil)
	if err != nil {
		s.t.Fatalf("connect MCP over HTTP: %v", err)
	}
	s.t.Cleanup(func() { cs.Close() })
	return cs
}

// toolResult is a tool call's outcome: the structured result, or the
// error code.
type toolResult struct {
	out  map[string]any
	code string
	msg  string
}

func callTool(t testing.TB, cs *mcp.ClientSession, name string, args map[string]any) toolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		var body struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &body); err != nil {
			t.Fatalf("%s: error text: %v", name, err)
		}
		return toolResult{code: body.Error.Code, msg: body.Error.Message}
	}
	var out map[string]any
	b, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(b, &out)
	return toolResult{out: out}
}

func mustTool(t testing.TB, cs *mcp.ClientSession, name string, args map[string]any) map[string]any {
	t.Helper()
	r := callTool(t, cs, name, args)
	if r.code != "" {
		t.Fatalf("%s %v: %s %s", name, args, r.code, r.msg)
	}
	return r.out
}

// The real binary over stdio with the SDK's client: every tool, and a
// clean exit when the host closes stdin.
func TestServeStdio(t *testing.T) {
	e := newEnv(t)
	e.ok("store", "other agent's secret plan", "--scope", "agent:other")
	c := e.cmd(context.Background(), "serve", "--agent", "bot")
	var errb bytes.Buffer
	c.Stderr = &errb
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "integration", Version: "v0"}, nil).
		Connect(context.Background(), &mcp.CommandTransport{Command: c}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, errb.String())
	}
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil || len(tools.Tools) != 19 {
		t.Fatalf("tools: %v %v", tools, err)
	}
	m := mustTool(t, cs, "memory_store", map[string]any{"text": "the deploy window is Friday 14:00 UTC", "category": "decision", "scope": "agent:bot"})
	id := m["id"].(string)
	if m["scope"] != "agent:bot" {
		t.Fatalf("store: %v", m)
	}
	if got := mustTool(t, cs, "memory_get", map[string]any{"id": id[:8]}); got["id"] != id {
		t.Fatalf("get: %v", got)
	}
	if up := mustTool(t, cs, "memory_update", map[string]any{"id": id, "importance": 0.95, "expected_revision": 1}); up["revision"] != 2.0 {
		t.Fatalf("update: %v", up)
	}
	if r := callTool(t, cs, "memory_update", map[string]any{"id": id, "importance": 0.1, "expected_revision": 1}); r.code != "conflict" {
		t.Fatalf("stale update: %+v", r)
	}
	for _, tool := range []string{"memory_recall", "memory_search"} {
		r := callTool(t, cs, tool, map[string]any{"query": "when is the deploy window?"})
		switch {
		case r.code == "unavailable":
			t.Logf("%s: %s (this build has no search pipeline)", tool, r.msg)
		case r.code != "":
			t.Fatalf("%s: %+v", tool, r)
		default:
			results := r.out["results"].([]any)
			if len(results) == 0 || results[0].(map[string]any)["memory"].(map[string]any)["id"] != id {
				t.Fatalf("%s: %v", tool, r.out)
			}
			for _, x := range results {
				if strings.Contains(fmt.Sprint(x), "secret plan") {
					t.Fatalf("%s leaked another agent's memory: %v", tool, x)
				}
			}
		}
	}
	l := mustTool(t, cs, "memory_list", map[string]any{"limit": 10})
	if len(l["memories"].([]any)) != 1 {
		t.Fatalf("list as bot: %v", l)
	}
	if st := mustTool(t, cs, "memory_stats", map[string]any{}); st["total"] != 1.0 {
		t.Fatalf("stats as bot: %v", st)
	}
	if r := callTool(t, cs, "memory_store", map[string]any{"text": "x", "scope": "agent:other"}); r.code != "scope_access_denied" {
		t.Fatalf("write to another agent's scope: %+v", r)
	}
	if f := mustTool(t, cs, "memory_forget", map[string]any{"id": id}); f["deleted"] != true {
		t.Fatalf("forget: %v", f)
	}
	if r := callTool(t, cs, "memory_get", map[string]any{"id": id}); r.code != "not_found" {
		t.Fatalf("get after forget: %+v", r)
	}
	// Closing stdin ends the server cleanly.
	if err := cs.Close(); err != nil {
		t.Fatalf("close: %v\n%s", err, errb.String())
	}
	if c.ProcessState == nil || c.ProcessState.ExitCode() != 0 {
		t.Fatalf("serve exit: %v\n%s", c.ProcessState, errb.String())
	}
	if rows := e.exportAll(); len(rows) != 1 {
		t.Fatalf("%d rows after the session, want 1", len(rows))
	}
}

// SIGTERM while the host keeps stdin open: exit 0 at once.
func TestServeStdioSIGTERM(t *testing.T) {
	e := newEnv(t)
	c := e.cmd(context.Background(), "serve")
	stdin, _ := c.StdinPipe()
	stdout, _ := c.StdoutPipe()
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, `"serverInfo"`) {
		t.Fatalf("initialize: %q %v\n%s", line, err, errb.String())
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, errb.String())
		}
	case <-time.After(15 * time.Second):
		_ = c.Process.Kill()
		t.Fatalf("serve did not stop after SIGTERM:\n%s", errb.String())
	}
	stdin.Close()
}

// The real binary over streamable HTTP: MCP at /mcp with the agent from
// X-Trove-Agent, REST on the same listener seeing the same rows.
func TestServeStreamableHTTP(t *testing.T) {
	e := newEnv(t)
	s := e.serveHTTP(t, nil)
	cs := s.mcpHTTP("bot")
	m := mustTool(t, cs, "memory_store", map[string]any{"text": "bot prefers short answers", "category": "preference", "scope": "agent:bot"})
	id := m["id"].(string)
	if r := callTool(t, cs, "memory_store", map[string]any{"text": "x", "scope": "agent:other"}); r.code != "scope_access_denied" {
		t.Fatalf("%+v", r)
	}
	got := s.must("GET", "/v1/memories/"+id, "bot", "", 200)
	if got.body["text"] != "bot prefers short answers" {
		t.Fatalf("REST sees %v", got.body)
	}
	s.must("GET", "/v1/memories/"+id, "other", "", 404)
	other := s.mcpHTTP("other")
	if r := callTool(t, other, "memory_get", map[string]any{"id": id}); r.code != "not_found" {
		t.Fatalf("another agent read it over MCP: %+v", r)
	}
	met := s.must("GET", "/metrics", "", "", 200)
	if !strings.Contains(met.raw, `trove_mcp_tool_calls_total{tool="memory_store",code="ok"} 1`) ||
		!strings.Contains(met.raw, `trove_mcp_tool_calls_total{tool="memory_store",code="scope_access_denied"} 1`) {
		t.Fatalf("metrics:\n%s", met.raw)
	}
	s.stop()
}

// Every REST route of the real binary, and its error statuses.
func TestServeREST(t *testing.T) {
	e := newEnv(t)
	s := e.serveHTTP(t, nil)
	r := s.must("POST", "/v1/memories", "", `{"text":"billing runs on Postgres 16","category":"fact","metadata":{"team":"payments"}}`, 201)
	id := r.body["id"].(string)
	s.must("GET", "/v1/memories/"+id[:8], "", "", 200)
	s.must("PATCH", "/v1/memories/"+id, "", `{"importance":0.9,"expected_revision":1}`, 200)
	if r := s.must("PATCH", "/v1/memories/"+id, "", `{"importance":0.2,"expected_revision":1}`, 409); r.code() != "conflict" {
		t.Fatal(r.raw)
	}
	for i := range 5 {
		s.must("POST", "/v1/memories", "", fmt.Sprintf(`{"text":"billing note %d"}`, i), 201)
	}
	seen := 0
	path := "/v1/memories?limit=2"
	for {
		page := s.must("GET", path, "", "", 200)
		seen += len(page.body["memories"].([]any))
		next, _ := page.body["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/v1/memories?limit=2&cursor=" + next
	}
	if seen != 6 {
		t.Fatalf("paged %d of 6", seen)
	}
	if sr, _ := s.do("POST", "/v1/search", "", `{"query":"which database does billing use?","limit":3}`); sr.status == 503 {
		t.Logf("search: %s (this build has no search pipeline)", sr.raw)
	} else if sr.status != 200 || len(sr.body["results"].([]any)) == 0 {
		t.Fatalf("search: %d %s", sr.status, sr.raw)
	}
	if st := s.must("GET", "/v1/stats", "", "", 200); st.body["total"] != 6.0 {
		t.Fatal(st.raw)
	}
	if rc, _ := s.do("POST", "/v1/recall-context", "", `{"prompt":"what did we say about the billing database before?","agent":"bot"}`); rc.status != 200 && rc.status != 503 {
		t.Fatalf("recall-context: %d %s", rc.status, rc.raw)
	} else if rc.status == 200 && !strings.Contains(rc.body["context"].(string), "Postgres 16") {
		t.Fatalf("recall-context: %s", rc.raw)
	}
	cp := s.must("POST", "/v1/capture", "", `{"agent":"bot","scope":"agent:bot","messages":[{"role":"user","content":"Remember that the on-call rotation changes on Mondays."}]}`, 200)
	if len(cp.body["stored"].([]any)) != 1 {
		t.Fatal(cp.raw)
	}
	s.must("DELETE", "/v1/memories/"+id, "", "", 200)
	s.must("GET", "/v1/memories/"+id, "", "", 404)
	if h := s.must("GET", "/healthz", "", "", 200); h.body["status"] != "ok" {
		t.Fatal(h.raw)
	}
	for _, tc := range []struct {
		method, path, agent, body string
		status                    int
	}{
		{"POST", "/v1/memories", "", `{"text":`, 400},
		{"POST", "/v1/memories", "", `{"text":"x","nope":1}`, 400},
		{"POST", "/v1/memories", "bot", `{"text":"x","scope":"agent:other"}`, 403},
		{"GET", "/v1/memories/does-not-exist", "", "", 404},
		{"PUT", "/v1/memories", "", `{}`, 405},
		{"POST", "/v1/memories", "", `{"text":"` + strings.Repeat("y", 1<<20) + `"}`, 413},
		{"GET", "/nowhere", "", "", 404},
	} {
		r, err := s.do(tc.method, tc.path, tc.agent, tc.body)
		if err != nil || r.status != tc.status || r.code() == "" {
			t.Errorf("%s %s: %d %.200s %v, want %d with an error code", tc.method, tc.path, r.status, r.raw, err, tc.status)
		}
	}
	s.stop()
	e.checkStore()
}

// canReach is the access rule the matrix checks against.
func canReach(agent, scope string) bool {
	return agent == "" || scope == "global" || scope == "agent:"+agent || agent == "lead" && scope == "project:atlas"
}

// Agents × scopes × every tool and route: no cross-scope read or write.
func TestServeScopeMatrix(t *testing.T) {
	e := newEnv(t)
	cfgDir := filepath.Join(filepath.Dir(e.db), "trove")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"agentAccess":{"lead":["global","agent:lead","project:atlas"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := e.serveHTTP(t, nil)
	agents := []string{"", "bot", "other", "lead"}
	scopes := []string{"global", "agent:bot", "agent:other", "project:atlas"}
	// One seeded row per scope, written by the owner; its text names its scope.
	seeded := map[string]string{}
	for _, sc := range scopes {
		r := s.must("POST", "/v1/memories", "", fmt.Sprintf(`{"text":"matrix seed zebra row of %s","scope":%q}`, sc, sc), 201)
		seeded[sc] = r.body["id"].(string)
	}
	// leaked reports a seeded row of a scope agent may not read in v.
	leaked := func(agent string, v any) string {
		b, _ := json.Marshal(v)
		for _, sc := range scopes {
			if !canReach(agent, sc) && (strings.Contains(string(b), seeded[sc]) || strings.Contains(string(b), "row of "+sc) || strings.Contains(string(b), `"`+sc+`"`) && !strings.Contains(string(b), "ignored_scopes")) {
				return sc
			}
		}
		return ""
	}
	check := func(agent, scope, op string, ok bool, got string) {
		t.Helper()
		want := "denied"
		if canReach(agent, scope) {
			want = "allowed"
		}
		if (want == "allowed") != ok {
			t.Errorf("agent %q scope %s %s: %s, want %s", agent, scope, op, got, want)
		}
	}
	for _, a := range agents {
		cs := s.mcpHTTP(a)
		// Scoped reads first, while every seeded row exists.
		for _, sc := range scopes {
			for _, probe := range []struct {
				name string
				get  func() (any, string)
			}{
				{"REST list", func() (any, string) { r, _ := s.do("GET", "/v1/memories?scope="+sc, a, ""); return r.body, r.raw }},
				{"REST stats", func() (any, string) {
					r, _ := s.do("GET", "/v1/stats?scope="+sc, a, "")
					return r.body["by_scope"], r.raw
				}},
				{"REST search", func() (any, string) {
					r, _ := s.do("POST", "/v1/search", a, fmt.Sprintf(`{"query":"matrix seed zebra row","scopes":[%q]}`, sc))
					return r.body["results"], r.raw
				}},
				{"recall-context", func() (any, string) {
					r, _ := s.do("POST", "/v1/recall-context", a, `{"prompt":"what do you remember about the matrix seed zebra rows?"}`)
					return r.body["context"], r.raw
				}},
				{"memory_list", func() (any, string) {
					r := callTool(t, cs, "memory_list", map[string]any{"scope": sc})
					return r.out["memories"], r.code
				}},
				{"memory_stats", func() (any, string) {
					r := callTool(t, cs, "memory_stats", map[string]any{"scope": sc})
					return r.out["by_scope"], r.code
				}},
				{"memory_recall", func() (any, string) {
					r := callTool(t, cs, "memory_recall", map[string]any{"query": "matrix seed zebra row", "scope": sc})
					return r.out["results"], r.code
				}},
				{"memory_search", func() (any, string) {
					r := callTool(t, cs, "memory_search", map[string]any{"query": "matrix seed zebra row", "scope": sc})
					return r.out["results"], r.code
				}},
			} {
				v, raw := probe.get()
				if l := leaked(a, v); l != "" {
					t.Errorf("agent %q %s on %s shows %s: %.300s", a, probe.name, sc, l, raw)
				}
				// And a read of a readable scope does show its row.
				if b, _ := json.Marshal(v); canReach(a, sc) && slices.Contains([]string{"REST list", "REST search", "memory_list", "memory_recall"}, probe.name) &&
					!strings.Contains(string(b), seeded[sc]) {
					t.Errorf("agent %q %s on %s misses the readable row %s: %.300s", a, probe.name, sc, seeded[sc], raw)
				}
			}
		}
		for _, sc := range scopes {
			can := canReach(a, sc)
			// Writes.
			r, _ := s.do("POST", "/v1/memories", a, fmt.Sprintf(`{"text":"written by %s into %s","scope":%q}`, a, sc, sc))
			check(a, sc, "REST store", r.status == 201, r.raw)
			if !can && r.code() != "scope_access_denied" {
				t.Errorf("REST store %q %s: %s", a, sc, r.raw)
			}
			if r.status == 201 {
				s.must("DELETE", "/v1/memories/"+r.body["id"].(string), a, "", 200)
			}
			tr := callTool(t, cs, "memory_store", map[string]any{"text": "tool write by " + a, "scope": sc})
			check(a, sc, "memory_store", tr.code == "", tr.code)
			if !can && tr.code != "scope_access_denied" {
				t.Errorf("memory_store %q %s: %+v", a, sc, tr)
			}
			if tr.code == "" {
				mustTool(t, cs, "memory_forget", map[string]any{"id": tr.out["id"]})
			}
			r, _ = s.do("POST", "/v1/capture", a, fmt.Sprintf(`{"scope":%q,"messages":[{"role":"user","content":"I prefer matrix tests written by %s"}]}`, sc, a))
			check(a, sc, "capture", r.status == 200, r.raw)
			if r.status == 200 {
				for _, m := range r.body["stored"].([]any) {
					s.must("DELETE", "/v1/memories/"+m.(map[string]any)["id"].(string), a, "", 200)
				}
			}
			// Moving one's own global row into the scope.
			own := s.must("POST", "/v1/memories", a, `{"text":"movable row"}`, 201).body["id"].(string)
			r, _ = s.do("PATCH", "/v1/memories/"+own, a, fmt.Sprintf(`{"scope":%q}`, sc))
			check(a, sc, "REST move", r.status == 200, r.raw)
			s.must("DELETE", "/v1/memories/"+own, "", "", 200)

			// Reads, updates and deletes of the seeded row.
			id := seeded[sc]
			r, _ = s.do("GET", "/v1/memories/"+id, a, "")
			check(a, sc, "REST get", r.status == 200, r.raw)
			r, _ = s.do("GET", "/v1/memories/"+id[:8], a, "")
			check(a, sc, "REST get by prefix", r.status == 200, r.raw)
			tr = callTool(t, cs, "memory_get", map[string]any{"id": id})
			check(a, sc, "memory_get", tr.code == "", tr.code)
			r, _ = s.do("PATCH", "/v1/memories/"+id, a, `{"importance":0.42}`)
			check(a, sc, "REST patch", r.status == 200, r.raw)
			tr = callTool(t, cs, "memory_update", map[string]any{"id": id, "importance": 0.43})
			check(a, sc, "memory_update", tr.code == "", tr.code)
			if !can {
				r, _ = s.do("DELETE", "/v1/memories/"+id, a, "")
				check(a, sc, "REST delete", r.status == 200, r.raw)
				tr = callTool(t, cs, "memory_forget", map[string]any{"id": id})
				check(a, sc, "memory_forget", tr.code == "", tr.code)
			}

		}
	}
	// Every seeded row is still there, untouched by those who may not write it.
	rows := e.exportAll()
	for sc, id := range seeded {
		m, ok := rows[id]
		if !ok {
			t.Errorf("seeded row of %s was deleted", sc)
			continue
		}
		if m.Importance != 0.43 {
			t.Errorf("seeded row of %s: importance %v, want the last allowed update (0.43)", sc, m.Importance)
		}
	}
	if len(rows) != len(scopes) {
		t.Errorf("%d rows left, want %d", len(rows), len(scopes))
	}
	s.stop()
}

// A non-loopback bind without a token refuses to start; with one, a
// missing or wrong token gets 401 without detail, and no token or API key
// ever reaches the log.
func TestServeAuth(t *testing.T) {
	e := newEnv(t)
	r := e.run("serve", "--http", "0.0.0.0:0")
	if r.code == 0 || !strings.Contains(r.err, "refusing to serve on 0.0.0.0:0 without a token") || !strings.Contains(r.err, "TROVE_TOKEN") {
		t.Fatalf("non-loopback without a token: exit %d\n%s", r.code, r.err)
	}
	short := e.cmd(context.Background(), "serve", "--http", "127.0.0.1:0")
	short.Env = append(short.Env, "TROVE_TOKEN=tiny-secret")
	out, err := short.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "at least 16") || strings.Contains(string(out), "tiny-secret") {
		t.Fatalf("short token: %v\n%s", err, out)
	}

	const token = "integration-token-7f3a9c1e5b"
	const apiKey = "sk-integration-api-key-should-never-appear"
	s := e.serveHTTP(t, []string{"TROVE_TOKEN=" + token, "TROVE_EMBED_API_KEY=" + apiKey, "TROVE_LLM_API_KEY=" + apiKey})
	for _, auth := range []string{"", "Bearer wrong-token-but-long-enough", "Basic " + token, token} {
		req, _ := http.NewRequest("GET", s.url+"/v1/memories", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		hr, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(hr.Body)
		hr.Body.Close()
		if hr.StatusCode != 401 || !strings.Contains(string(b), `"code":"unauthorized"`) || strings.Contains(string(b), token) || strings.Contains(string(b), "wrong-token") {
			t.Fatalf("auth %q: %d %s", auth, hr.StatusCode, b)
		}
	}
	s.must("GET", "/v1/memories", "", "", 200) // s.do sends the token
	cs := s.mcpHTTP("bot")
	mustTool(t, cs, "memory_stats", map[string]any{})
	s.stop()
	for _, secret := range []string{token, apiKey} {
		if strings.Contains(s.log(), secret) {
			t.Fatalf("a secret reached the log:\n%s", s.log())
		}
	}

	// --token-file works the same.
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = e.serveHTTP(t, nil, "--token-file", file)
	if r, _ := s.do("GET", "/v1/stats", "", ""); r.status != 401 {
		t.Fatalf("no token: %d", r.status)
	}
	s.token = token
	s.must("GET", "/v1/stats", "", "", 200)
	s.stop()
}

// The server and CLI processes (import, upgrade --no-llm) write the same
// store at the same time; every request and every command succeeds.
func TestServeWithCLIWriters(t *testing.T) {
	e := newEnv(t)
	seedLegacy(t, e, 300)
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, `{"id":"imp-%04d","text":"imported note %d about the search service","category":"fact","scope":"global"}`+"\n", i, i)
	}
	file := filepath.Join(t.TempDir(), "import.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s := e.serveHTTP(t, nil)
	var stop atomic.Bool
	var stored sync.Map
	var failures atomic.Int64
	var requests atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agent := []string{"", "bot"}[w%2]
			for i := 0; !stop.Load(); i++ {
				var r resp
				var err error
				switch i % 3 {
				case 0:
					r, err = s.do("POST", "/v1/memories", agent, fmt.Sprintf(`{"text":"server write %d-%d"}`, w, i))
					if err == nil && r.status == 201 {
						stored.Store(r.body["id"], true)
					}
				case 1:
					r, err = s.do("PATCH", "/v1/memories/r"+fmt.Sprintf("%03d", (w*37+i)%300), agent, `{"metadata":{"touched_by_server":true}}`)
				default:
					r, err = s.do("GET", "/v1/memories?limit=5", agent, "")
				}
				requests.Add(1)
				if err != nil || r.status >= 300 {
					failures.Add(1)
					t.Errorf("server request failed during CLI writes: %v %d %s", err, r.status, r.raw)
				}
			}
		}()
	}
	imp := e.run("import", file)
	up := e.run("upgrade", "--no-llm", "--batch-size", "20")
	stop.Store(true)
	wg.Wait()
	if imp.code != 0 || up.code != 0 {
		t.Fatalf("import exit %d: %s\nupgrade exit %d: %s", imp.code, imp.err, up.code, up.err)
	}
	s.stop()
	if failures.Load() > 0 || requests.Load() < 10 {
		t.Fatalf("%d of %d server requests failed", failures.Load(), requests.Load())
	}
	rows := e.exportAll()
	n := 0
	stored.Range(func(k, _ any) bool {
		n++
		if _, ok := rows[k.(string)]; !ok {
			t.Errorf("acknowledged server write %v is missing", k)
		}
		return true
	})
	if len(rows) != 300+400+n {
		t.Fatalf("%d rows, want 300 legacy + 400 imported + %d served", len(rows), n)
	}
	checkNoHalfUpgrade(t, rows)
	for i := range 300 {
		if m := rows[fmt.Sprintf("r%03d", i)]; m.Format != 1 {
			t.Fatalf("r%03d not upgraded: %+v", i, m)
		}
	}
	e.checkStore()
	t.Logf("%d server requests during import and upgrade, %d stores", requests.Load(), n)
}

// SIGTERM under load: acknowledged writes are all in the store, no request
// gets a server error, the process exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	e := newEnv(t)
	s := e.serveHTTP(t, nil)
	var acked sync.Map
	var wg sync.WaitGroup
	var bad atomic.Int64
	var stop atomic.Bool
	started := make(chan struct{}, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			signalled := false
			defer func() {
				if !signalled { // stopped early: say so, and do not hold up the others
					started <- struct{}{}
				}
			}()
			for i := 0; !stop.Load(); i++ {
				r, err := s.do("POST", "/v1/memories", "", fmt.Sprintf(`{"text":"shutdown test %d-%d"}`, w, i))
				if err != nil {
					if !stop.Load() && !signalled {
						bad.Add(1)
						t.Errorf("writer %d, write %d, before shutdown: %v", w, i, err)
					}
					return // the listener is closed: expected once shutdown starts
				}
				if r.status != 201 {
					bad.Add(1)
					t.Errorf("during shutdown: %d %s", r.status, r.raw)
					return
				}
				acked.Store(r.body["id"], true)
				if i == 2 {
					signalled = true
					started <- struct{}{}
				}
			}
		}()
	}
	for range 16 {
		<-started
	}
	s.stop()
	stop.Store(true)
	wg.Wait()
	rows := e.exportAll()
	n := 0
	acked.Range(func(k, _ any) bool {
		n++
		if _, ok := rows[k.(string)]; !ok {
			t.Errorf("acknowledged write %v lost at shutdown", k)
		}
		return true
	})
	if bad.Load() > 0 || n < 48 {
		t.Fatalf("%d bad answers, %d acknowledged", bad.Load(), n)
	}
	if !strings.Contains(s.log(), "stopping") || !strings.Contains(s.log(), "stopped") {
		t.Fatalf("log:\n%s", s.log())
	}
	e.checkStore()
}
