package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	trovecfg "github.com/trove-memory/trove/internal/config"
	"github.com/trove-memory/trove/internal/httpapi"
	"github.com/trove-memory/trove/internal/mcpserver"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
	"github.com/trove-memory/trove/internal/store"
)

var ctx = context.Background()

type server struct {
	*httptest.Server
	st   store.Store
	srch *servicetest.Searcher
	t    *testing.T
}

type config struct {
	noSearcher bool
	token      string
	tokens     map[string]trovecfg.Principal
	localOnly  bool
	agent      string
}

func start(t *testing.T, cfg config) *server {
	t.Helper()
	st := servicetest.Store(t)
	s := &server{st: st, srch: &servicetest.Searcher{Store: st, Embedder: servicetest.Embedder()}, t: t}
	opts := service.Options{Store: st, Embedder: servicetest.Embedder()}
	if !cfg.noSearcher {
		opts.Searcher = s.srch
	}
	svc := service.New(opts)
	metrics := httpapi.NewMetrics(svc)
	metrics.Start()
	t.Cleanup(metrics.Close)
	mcpSrv := mcpserver.New(svc, mcpserver.Options{Agent: cfg.agent, Observer: metrics})
	s.Server = httptest.NewServer(httpapi.New(httpapi.Options{Service: svc, MCP: mcpSrv.Handler(), Metrics: metrics,
		Token: cfg.token, Tokens: cfg.tokens, Agent: cfg.agent, LocalOnly: cfg.localOnly}))
	t.Cleanup(s.Close)
	return s
}

type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (r reply) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r reply) message() string {
	e, _ := r.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// do sends a request; hdr are "Name: value" pairs. A JSON body gets the
// JSON content type unless hdr sets one.
func (s *server) do(method, path, body string, hdr ...string) reply {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		if strings.EqualFold(k, "Host") {
			req.Host = strings.TrimSpace(v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

func (s *server) want(r reply, status int, code string, msg string) {
	s.t.Helper()
	if r.status != status || r.code() != code || !strings.Contains(r.message(), msg) {
		s.t.Fatalf("got %d %s, want %d %s containing %q", r.status, r.raw, status, code, msg)
	}
	if code != "" && !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		s.t.Fatalf("error without a JSON content type: %v", r.header)
	}
}

func (s *server) ok(r reply, status int) map[string]any {
	s.t.Helper()
	if r.status != status {
		s.t.Fatalf("got %d %s, want %d", r.status, r.raw, status)
	}
	return r.body
}

func TestRoutes(t *testing.T) {
	s := start(t, config{})
	// POST /v1/memories
	r := s.do("POST", "/v1/memories", `{"text":"I prefer dark mode in every editor","category":"decision","importance":0.8,"metadata":{"source":"rest"}}`)
	m := s.ok(r, http.StatusCreated)
	id := m["id"].(string)
	if r.header.Get("Location") != "/v1/memories/"+id || m["scope"] != "global" || m["revision"] != 1.0 {
		t.Fatalf("store: %v %v", r.header, m)
	}
	// GET /v1/memories/{id} by prefix
	if got := s.ok(s.do("GET", "/v1/memories/"+id[:8], ""), 200); got["id"] != id || got["metadata"].(map[string]any)["source"] != "rest" {
		t.Fatalf("get: %v", got)
	}
	// PATCH with expected_revision, then a stale one: 409
	up := s.ok(s.do("PATCH", "/v1/memories/"+id, `{"text":"I prefer dark mode","expected_revision":1,"metadata":{"source":null}}`), 200)
	if up["revision"] != 2.0 || up["text"] != "I prefer dark mode" || len(up["metadata"].(map[string]any)) != 0 {
		t.Fatalf("patch: %v", up)
	}
	s.want(s.do("PATCH", "/v1/memories/"+id, `{"importance":0.1,"expected_revision":1}`), 409, "conflict", "revision 1, now 2")
	// POST /v1/search
	res := s.ok(s.do("POST", "/v1/search", `{"query":"dark mode","scopes":["global"],"category":"decision","limit":3}`), 200)
	results := res["results"].([]any)
	first := results[0].(map[string]any)
	if len(results) != 1 || first["memory"].(map[string]any)["id"] != id || first["score"].(float64) <= 0 || first["sources"].(map[string]any)["vector"] == nil {
		t.Fatalf("search: %v", res)
	}
	// GET /v1/stats
	st := s.ok(s.do("GET", "/v1/stats?scope=global", ""), 200)
	if st["total"] != 1.0 || st["by_scope"].(map[string]any)["global"] != 1.0 {
		t.Fatalf("stats: %v", st)
	}
	// POST /v1/recall-context
	rc := s.ok(s.do("POST", "/v1/recall-context", `{"prompt":"do I prefer dark mode? I said so before","agent":"bot"}`), 200)
	if !strings.Contains(rc["context"].(string), "<relevant-memories>") || !strings.Contains(rc["context"].(string), "I prefer dark mode") {
		t.Fatalf("recall-context: %v", rc)
	}
	// min_score reaches the service: checked, and applied.
	s.want(s.do("POST", "/v1/recall-context", `{"prompt":"do I prefer dark mode? I said so before","agent":"bot","min_score":-1}`), 400, "invalid_argument", "min_score -1 is outside [0, 1]")
	rc = s.ok(s.do("POST", "/v1/recall-context", `{"prompt":"do I prefer dark mode? I said so before","agent":"bot","min_score":1}`), 200)
	if rc["context"] != "" {
		t.Fatalf("recall-context with min_score 1: %v", rc)
	}
	rc = s.ok(s.do("POST", "/v1/recall-context", `{"prompt":"ok thanks","agent":"bot"}`), 200)
	if rc["skipped"] != true || rc["context"] != "" {
		t.Fatalf("recall-context skip: %v", rc)
	}
	// POST /v1/capture
	cp := s.ok(s.do("POST", "/v1/capture", `{"agent":"bot","scope":"agent:bot","messages":[{"role":"user","content":"Remember that I deploy on Fridays. How are you?"},{"role":"assistant","content":"Fine!"}]}`), 200)
	if len(cp["stored"].([]any)) != 1 || len(cp["skipped"].([]any)) != 2 {
		t.Fatalf("capture: %v", cp)
	}
	// DELETE with a stale revision, then for real.
	s.want(s.do("DELETE", "/v1/memories/"+id+"?expected_revision=1", ""), 409, "conflict", "changed since")
	if d := s.ok(s.do("DELETE", "/v1/memories/"+id[:8]+"?expected_revision=2", ""), 200); d["deleted"] != true || d["id"] != id {
		t.Fatalf("delete: %v", d)
	}
	s.want(s.do("GET", "/v1/memories/"+id, ""), 404, "not_found", "not found")
	// GET /healthz, /metrics
	if h := s.ok(s.do("GET", "/healthz", ""), 200); h["status"] != "ok" || h["recall"] != true {
		t.Fatalf("healthz: %v", h)
	}
	met := s.do("GET", "/metrics", "")
	for _, want := range []string{
		`trove_http_requests_total{route="POST /v1/memories",status="201"} 1`,
		`trove_http_requests_total{route="PATCH /v1/memories/{id}",status="409"} 1`,
		`trove_http_request_duration_seconds_bucket{route="POST /v1/search",le="+Inf"} 1`,
		`trove_write_lock_wait_seconds_bucket{le="+Inf"}`,
		`trove_write_lock_hold_seconds_count`,
		`trove_write_lock_acquisitions_total`,
		`trove_memories{scope="agent:bot"} 1`,
		`# TYPE trove_mcp_tool_calls_total counter`,
	} {
		if !strings.Contains(met.raw, want) {
			t.Errorf("metrics lack %q:\n%s", want, met.raw)
		}
	}
	if !strings.HasPrefix(met.header.Get("Content-Type"), "text/plain") {
		t.Fatal(met.header)
	}
}

func TestPaging(t *testing.T) {
	s := start(t, config{})
	for i := range 7 {
		s.ok(s.do("POST", "/v1/memories", fmt.Sprintf(`{"text":"note %d","category":"fact"}`, i)), 201)
	}
	s.ok(s.do("POST", "/v1/memories", `{"text":"a decision","category":"decision"}`), 201)
	seen := map[string]bool{}
	path := "/v1/memories?limit=3&category=fact"
	for pages := 0; ; pages++ {
		page := s.ok(s.do("GET", path, ""), 200)
		for _, m := range page["memories"].([]any) {
			id := m.(map[string]any)["id"].(string)
			if seen[id] || m.(map[string]any)["category"] != "fact" {
				t.Fatalf("page %d: %v", pages, page)
			}
			seen[id] = true
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/v1/memories?limit=3&category=fact&cursor=" + next
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 7 {
		t.Fatalf("paged %d of 7", len(seen))
	}
	s.want(s.do("GET", "/v1/memories?cursor=bogus", ""), 400, "invalid_argument", "cursor")
	s.want(s.do("GET", "/v1/memories?limit=abc", ""), 400, "invalid_argument", "not a whole number")
	s.want(s.do("GET", "/v1/memories?limit=0", ""), 400, "invalid_argument", "use 1 to 200")
	s.want(s.do("GET", "/v1/memories?sort=asc", ""), 400, "invalid_argument", `unknown query parameter "sort"`)
}

func TestErrorStatuses(t *testing.T) {
	s := start(t, config{})
	id := s.ok(s.do("POST", "/v1/memories", `{"text":"mine to keep","scope":"agent:bot"}`, "X-Trove-Agent: bot"), 201)["id"].(string)
	for _, tid := range []string{"abcdefgh-1", "abcdefgh-2"} {
		m := memory.Memory{ID: tid, Text: "twin"}
		if err := s.st.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&m) }); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code, msg                string
	}{
		{"malformed JSON", "POST", "/v1/memories", `{"text":`, nil, 400, "invalid_argument", "cut short"},
		{"syntax", "POST", "/v1/memories", `{"text" "x"}`, nil, 400, "invalid_argument", "not valid JSON"},
		{"wrong type", "POST", "/v1/memories", `{"text":42}`, nil, 400, "invalid_argument", `field "text": want a string, got number`},
		{"wrong type nested", "POST", "/v1/memories", `{"text":"x","importance":"high"}`, nil, 400, "invalid_argument", `field "importance": want a number, got string`},
		{"unknown field", "POST", "/v1/memories", `{"text":"x","colour":"red"}`, nil, 400, "invalid_argument", `unknown field "colour"`},
		{"extra data", "POST", "/v1/memories", `{"text":"x"}{"text":"y"}`, nil, 400, "invalid_argument", "extra data"},
		{"not an object", "POST", "/v1/memories", `["x"]`, nil, 400, "invalid_argument", "must be a JSON object"},
		{"empty body", "POST", "/v1/search", ``, []string{"Content-Type: application/json"}, 400, "invalid_argument", "body is empty"},
		{"empty text", "POST", "/v1/memories", `{"text":" "}`, nil, 400, "invalid_argument", "text is empty"},
		{"bad category", "POST", "/v1/memories", `{"text":"x","category":"secret"}`, nil, 400, "invalid_argument", "unknown"},
		{"too large", "POST", "/v1/memories", `{"text":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`, nil, 413, "invalid_argument", "over 1048576 bytes"},
		{"no content type", "POST", "/v1/memories", `{"text":"x"}`, []string{"Content-Type: "}, 415, "invalid_argument", "Content-Type is missing"},
		{"form post", "POST", "/v1/memories", `text=x`, []string{"Content-Type: application/x-www-form-urlencoded"}, 415, "invalid_argument", "not JSON"},
		{"scope denied", "POST", "/v1/memories", `{"text":"x","scope":"agent:other"}`, []string{"X-Trove-Agent: bot"}, 403, "scope_access_denied", "agent:other"},
		{"bad agent header", "GET", "/v1/stats", ``, []string{"X-Trove-Agent: a b"}, 400, "invalid_argument", "agent id"},
		{"not found", "GET", "/v1/memories/00000000-dead", ``, nil, 404, "not_found", "not found"},
		{"other agent's row", "GET", "/v1/memories/" + id, ``, []string{"X-Trove-Agent: other"}, 404, "not_found", "not found"},
		{"ambiguous", "GET", "/v1/memories/abcdefgh", ``, nil, 400, "invalid_argument", "abcdefgh-1, abcdefgh-2"},
		{"nothing to patch", "PATCH", "/v1/memories/" + id, `{}`, nil, 400, "invalid_argument", "nothing to update"},
		{"patch missing", "PATCH", "/v1/memories/00000000-dead", `{"importance":0.5}`, nil, 404, "not_found", "not found"},
		{"bad revision", "DELETE", "/v1/memories/" + id + "?expected_revision=x", ``, nil, 400, "invalid_argument", "whole number"},
		{"empty query", "POST", "/v1/search", `{"query":""}`, nil, 400, "invalid_argument", "query is empty"},
		{"body agent not caller", "POST", "/v1/recall-context", `{"prompt":"what did I say last time?","agent":"other"}`, []string{"X-Trove-Agent: bot"}, 403, "scope_access_denied", "may act only as itself"},
		{"capture denied", "POST", "/v1/capture", `{"agent":"bot","scope":"agent:other","messages":[{"role":"user","content":"I prefer tea"}]}`, nil, 403, "scope_access_denied", "agent:other"},
		{"unknown route", "GET", "/v2/memories", ``, nil, 404, "not_found", "no such route"},
		{"wrong method", "PUT", "/v1/memories/" + id, `{}`, nil, 405, "invalid_argument", "PUT is not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			s.want(s.do(tc.method, tc.path, tc.body, tc.hdr...), tc.status, tc.code, tc.msg)
		})
	}
}

func TestUnavailableAndInternal(t *testing.T) {
	s := start(t, config{noSearcher: true})
	s.want(s.do("POST", "/v1/search", `{"query":"x"}`), 503, "unavailable", "recall is unavailable")
	s.want(s.do("POST", "/v1/recall-context", `{"prompt":"what did we decide last time?"}`), 503, "unavailable", "recall is unavailable")
	if h := s.ok(s.do("GET", "/healthz", ""), 200); h["recall"] != false {
		t.Fatalf("healthz: %v", h)
	}

	s2 := start(t, config{})
	s2.srch.Fn = func(context.Context, memory.Access, retrieve.Request) (retrieve.Response, error) {
		return retrieve.Response{}, errors.New("index corrupted")
	}
	s2.want(s2.do("POST", "/v1/search", `{"query":"x"}`), 500, "internal", "index corrupted")
}

func TestAuth(t *testing.T) {
	const token = "s3cret-token-0123456789"
	s := start(t, config{token: token})
	for _, hdr := range [][]string{nil, {"Authorization: Bearer wrong-token-0123456789"}, {"Authorization: Basic " + token}, {"Authorization: Bearer"}} {
		r := s.do("GET", "/v1/memories", "", hdr...)
		s.want(r, 401, "unauthorized", "missing or invalid bearer token")
		if strings.Contains(r.raw, token) || strings.Contains(r.raw, "wrong-token") || r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("401 leaks or lacks a challenge: %v %s", r.header, r.raw)
		}
	}
	s.want(s.do("GET", "/metrics", ""), 401, "unauthorized", "")
	s.want(s.do("POST", "/mcp", `{}`), 401, "unauthorized", "")
	s.ok(s.do("GET", "/v1/memories", "", "Authorization: Bearer "+token), 200)
	s.ok(s.do("GET", "/v1/memories", "", "authorization: bearer "+token), 200)
	s.ok(s.do("GET", "/healthz", ""), 200) // probes need no token
}

func TestLocalOnlyAndCrossOrigin(t *testing.T) {
	s := start(t, config{localOnly: true})
	s.want(s.do("GET", "/v1/memories", "", "Host: attacker.example"), 403, "forbidden", "localhost")
	s.ok(s.do("GET", "/v1/memories", "", "Host: localhost:1234"), 200)
	s.ok(s.do("GET", "/v1/memories", ""), 200)
	s.want(s.do("POST", "/v1/memories", `{"text":"x"}`, "Sec-Fetch-Site: cross-site", "Origin: https://attacker.example"), 403, "forbidden", "cross-origin")
}

// MCP over streamable HTTP on the same listener, with the agent named by
// the X-Trove-Agent header.
func TestMCPOverHTTP(t *testing.T) {
	s := start(t, config{})
	s.ok(s.do("POST", "/v1/memories", `{"text":"other's note","scope":"agent:other"}`), 201)
	cs := connectHTTP(t, s.URL+"/mcp", "bot", "")
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "memory_store", Arguments: map[string]any{"text": "via mcp", "scope": "agent:bot"}})
	if err != nil || res.IsError {
		t.Fatalf("%+v %v", res, err)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "memory_list", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("%+v %v", res, err)
	}
	b, _ := json.Marshal(res.StructuredContent)
	if !strings.Contains(string(b), "via mcp") || strings.Contains(string(b), "other's note") {
		t.Fatalf("list as bot: %s", b)
	}
	met := s.do("GET", "/metrics", "")
	if !strings.Contains(met.raw, `trove_mcp_tool_calls_total{tool="memory_store",code="ok"} 1`) ||
		!strings.Contains(met.raw, `trove_mcp_tool_duration_seconds_count{tool="memory_list"} 1`) {
		t.Fatalf("tool metrics:\n%s", met.raw)
	}
}

// headerTransport adds headers to every request.
type headerTransport struct {
	base http.RoundTripper
	hdr  http.Header
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.hdr {
		r.Header[k] = v
	}
	return h.base.RoundTrip(r)
}

func connectHTTP(t *testing.T, url, agent, token string) *mcp.ClientSession {
	t.Helper()
	hdr := http.Header{}
	if agent != "" {
		hdr.Set(service.AgentHeader, agent)
	}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	tr := &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: headerTransport{http.DefaultTransport, hdr}}, MaxRetries: -1}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v0"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// Metadata nested too deep is the caller's mistake (400 naming the limit),
// whether encoding/json reads it (1,000 levels; SQLite's JSON functions
// refused it, which was a 500) or refuses it itself (20,000 levels).
func TestDeepMetadata(t *testing.T) {
	s := start(t, config{})
	for _, depth := range []int{memory.MaxMetadataDepth + 1, 1000, 2000, 20000} {
		t.Run(strconv.Itoa(depth), func(t *testing.T) {
			s.t = t
			md := strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat(`}`, depth-1)
			s.want(s.do("POST", "/v1/memories", `{"text":"deep","metadata":`+md+`}`), 400, "invalid_argument",
				fmt.Sprintf("%d-level limit", memory.MaxMetadataDepth))
		})
	}
	md := strings.Repeat(`{"a":`, memory.MaxMetadataDepth-1) + `{}` + strings.Repeat(`}`, memory.MaxMetadataDepth-1)
	id := s.ok(s.do("POST", "/v1/memories", `{"text":"deep enough","metadata":`+md+`}`), 201)["id"].(string)
	s.want(s.do("PATCH", "/v1/memories/"+id, `{"metadata":{"more":`+md+`}}`), 400, "invalid_argument",
		fmt.Sprintf("%d-level limit", memory.MaxMetadataDepth))
}
