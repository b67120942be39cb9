package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	trovecfg "github.com/trove-memory/trove/internal/config"
	"github.com/trove-memory/trove/internal/service"
)

const (
	ownerTok = "owner-token-0123456789"
	aliceTok = "alice-token-0123456789"
	teamTok  = "team-token-01234567890"
	allTok   = "all-agents-token-012345"
)

func principals(t *testing.T) map[string]trovecfg.Principal {
	t.Helper()
	toks, err := trovecfg.Auth{Tokens: map[string]string{
		ownerTok: "owner", aliceTok: "agent:alice", teamTok: "agents:team-*", allTok: "agents:*",
	}}.Principals()
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

// listed returns the texts a GET /v1/memories shows.
func (s *server) listed(hdr ...string) []string {
	s.t.Helper()
	body := s.ok(s.do("GET", "/v1/memories", "", hdr...), 200)
	var out []string
	for _, m := range body["memories"].([]any) {
		out = append(out, m.(map[string]any)["text"].(string))
	}
	return out
}

func bearer(tok string) string { return "Authorization: Bearer " + tok }

func agentHdr(a string) string { return service.AgentHeader + ": " + a }

// A token bound to a principal reaches only what the principal may: the
// agent header narrows an owner token, cannot widen or change an agent
// token, and is required by a token for a set of agents.
func TestTokenPrincipals(t *testing.T) {
	s := start(t, config{tokens: principals(t)})
	for _, sc := range []string{"agent:alice", "agent:bob", "agent:team-a"} {
		s.ok(s.do("POST", "/v1/memories", `{"text":"note of `+sc+`","scope":"`+sc+`"}`, bearer(ownerTok)), 201)
	}
	same := func(got []string, want ...string) {
		t.Helper()
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("listed %q, want %q", got, want)
		}
	}
	all := []string{"note of agent:team-a", "note of agent:bob", "note of agent:alice"}

	// The owner's token reaches every scope; its header narrows it.
	same(s.listed(bearer(ownerTok)), all...)
	same(s.listed(bearer(ownerTok), agentHdr("bob")), "note of agent:bob")

	// An agent's token acts as that agent with or without the header,
	// and refuses a header naming another agent.
	same(s.listed(bearer(aliceTok)), "note of agent:alice")
	same(s.listed(bearer(aliceTok), agentHdr("alice")), "note of agent:alice")
	s.want(s.do("GET", "/v1/memories", "", bearer(aliceTok), agentHdr("bob")), 403, "forbidden", `this token acts as agent "alice"`)
	s.want(s.do("POST", "/v1/memories", `{"text":"sneaky","scope":"agent:bob"}`, bearer(aliceTok)), 403, "scope_access_denied", "agent:bob")
	s.want(s.do("POST", "/v1/recall-context", `{"prompt":"what did bob say before?","agent":"bob"}`, bearer(aliceTok)), 403, "scope_access_denied", "an agent may act only as itself")

	// A token for a set of agents has no owner rights: it must name a
	// matching agent.
	for _, tok := range []string{teamTok, allTok} {
		s.want(s.do("GET", "/v1/memories", "", bearer(tok)), 403, "forbidden", "name the agent of each request with the "+service.AgentHeader)
	}
	s.want(s.do("GET", "/v1/memories", "", bearer(teamTok), agentHdr("bob")), 403, "forbidden", `not one of this token's agents ("team-*")`)
	same(s.listed(bearer(teamTok), agentHdr("team-a")), "note of agent:team-a")
	same(s.listed(bearer(allTok), agentHdr("bob")), "note of agent:bob")
	s.want(s.do("POST", "/v1/capture", `{"agent":"bob","messages":[{"role":"user","content":"Remember that I like tea."}]}`, bearer(teamTok), agentHdr("team-a")),
		403, "scope_access_denied", "an agent may act only as itself")

	// Wrong tokens are still 401 and never echoed.
	r := s.do("GET", "/v1/memories", "", bearer("alice-token-0123456780"))
	s.want(r, 401, "unauthorized", "missing or invalid bearer token")
}

// MCP over HTTP resolves the caller the same way: the agent's token lists
// only the agent's rows whatever header the client sends, and a header
// naming another agent is refused before the session starts.
func TestTokenPrincipalsMCP(t *testing.T) {
	s := start(t, config{tokens: principals(t)})
	s.ok(s.do("POST", "/v1/memories", `{"text":"bob's secret","scope":"agent:bob"}`, bearer(ownerTok)), 201)
	s.ok(s.do("POST", "/v1/memories", `{"text":"alice's note","scope":"agent:alice"}`, bearer(ownerTok)), 201)

	cs := connectHTTP(t, s.URL+"/mcp", "", aliceTok)
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "memory_list", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("%+v %v", res, err)
	}
	b, _ := json.Marshal(res.StructuredContent)
	if !strings.Contains(string(b), "alice's note") || strings.Contains(string(b), "bob's secret") {
		t.Fatalf("list with alice's token: %s", b)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "memory_store", Arguments: map[string]any{"text": "x", "scope": "agent:bob"}})
	if err != nil || !res.IsError {
		t.Fatalf("store into bob's scope with alice's token: %+v %v", res, err)
	}

	r := s.do("POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, bearer(aliceTok), agentHdr("bob"), "Accept: application/json, text/event-stream")
	s.want(r, 403, "forbidden", `this token acts as agent "alice"`)
	r = s.do("POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, bearer(allTok), "Accept: application/json, text/event-stream")
	s.want(r, 403, "forbidden", service.AgentHeader)
}

// Only the owner sees the per-scope row counts: scope names are data.
func TestMetricsScopesOwnerOnly(t *testing.T) {
	s := start(t, config{tokens: principals(t)})
	s.ok(s.do("POST", "/v1/memories", `{"text":"bob's first memory","scope":"agent:bob"}`, bearer(ownerTok)), 201)
	const series = `trove_memories{scope="agent:bob"} 1`
	if r := s.do("GET", "/metrics", "", bearer(ownerTok)); !strings.Contains(r.raw, series) {
		t.Fatalf("owner's metrics lack %s:\n%s", series, r.raw)
	}
	for _, hdr := range [][]string{
		{bearer(aliceTok)},
		{bearer(allTok)},
		{bearer(teamTok), agentHdr("team-a")},
		{bearer(ownerTok), agentHdr("bob")},
	} {
		r := s.do("GET", "/metrics", "", hdr...)
		if r.status != 200 || strings.Contains(r.raw, "trove_memories") || strings.Contains(r.raw, "agent:bob") || !strings.Contains(r.raw, "trove_store_up 1") {
			t.Fatalf("metrics for %v: %d\n%s", hdr[1:], r.status, r.raw)
		}
	}
	// Without tokens (loopback) the header still narrows.
	l := start(t, config{})
	l.ok(l.do("POST", "/v1/memories", `{"text":"bob's first memory","scope":"agent:bob"}`), 201)
	if r := l.do("GET", "/metrics", "", agentHdr("alice")); strings.Contains(r.raw, "agent:bob") {
		t.Fatalf("an agent's metrics show scope names:\n%s", r.raw)
	}
	if r := l.do("GET", "/metrics", ""); !strings.Contains(r.raw, series) {
		t.Fatalf("loopback owner's metrics lack %s", series)
	}
}
