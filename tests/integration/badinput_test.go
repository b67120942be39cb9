package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
)

// Suite 3 of issue 6: bad input. Every case asserts the message a user sees
// (it names what is wrong and what to do) and that nothing else in the
// store changed. The CLI, import, REST and MCP cases share one store and
// one serve process and run one after another; the LLM and embedding cases
// each get a store of their own and run in parallel.

const sqlInjection = "'; DROP TABLE memories; --"

// badCase is one bad input. run performs it and returns the user-facing
// text and whether the operation succeeded; adds lists ids the case is
// allowed (and required) to add.
type badCase struct {
	name string
	ok   bool   // the operation must succeed (FTS syntax, fenced JSON ...)
	want string // substring of the message (on success: of the output)
	adds []string
	skip string // a known product gap, reported; the case states the wanted behaviour
	run  func(t *testing.T) (msg string, ok bool)
}

func TestBadInput(t *testing.T) {
	t.Run("shared", testBadInputShared)
	t.Run("llm", testBadInputLLM)
	t.Run("embed", testBadInputEmbed)
}

// diffStores reports how after differs from before, ignoring the ids in adds
// (which must be present after).
func diffStores(t *testing.T, before, after map[string]memory.Memory, adds []string) {
	t.Helper()
	allowed := map[string]bool{}
	for _, id := range adds {
		allowed[id] = true
		if _, ok := after[id]; !ok {
			t.Errorf("row %q should have been added", id)
		}
	}
	for id, m := range after {
		if allowed[id] {
			continue
		}
		b, ok := before[id]
		if !ok {
			t.Errorf("row %q appeared: %+v", id, m)
		} else if !reflect.DeepEqual(b, m) {
			t.Errorf("row %q changed:\nbefore %+v\nafter  %+v", id, b, m)
		}
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			t.Errorf("row %q disappeared", id)
		}
	}
}

func runBadCases(t *testing.T, e *env, cases []badCase) int {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.skip != "" {
				t.Skip(c.skip)
			}
			e.t = t
			before := e.exportAll()
			msg, ok := c.run(t)
			if ok != c.ok {
				t.Fatalf("succeeded=%v, want %v: %s", ok, c.ok, msg)
			}
			if !strings.Contains(msg, c.want) {
				t.Fatalf("message lacks %q:\n%s", c.want, msg)
			}
			diffStores(t, before, e.exportAll(), c.adds)
			e.checkStore()
		})
	}
	return len(cases)
}

// cli runs trove and gives its combined output.
func cli(e *env, args ...string) func(*testing.T) (string, bool) {
	return func(*testing.T) (string, bool) {
		r := e.run(args...)
		return r.out + r.err, r.code == 0
	}
}

// importFile writes content to a file and imports it.
func importFile(e *env, name, content string) func(*testing.T) (string, bool) {
	return func(t *testing.T) (string, bool) {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.run("import", path)
		return r.out + r.err, r.code == 0
	}
}

func rest(s *served, method, path, body string) func(*testing.T) (string, bool) {
	return func(t *testing.T) (string, bool) {
		r, err := s.do(method, path, "", body)
		if err != nil {
			t.Fatal(err)
		}
		if r.status >= 500 {
			t.Fatalf("server error %d: %s", r.status, r.raw)
		}
		return fmt.Sprintf("%d %s", r.status, r.raw), r.status < 300
	}
}

func testBadInputShared(t *testing.T) {
	e := newEnv(t)
	e.ok("store", "the billing service retries failed charges nightly", "--id", "seed-billing-1", "--category", "fact")
	e.ok("store", "deploys happen on Friday afternoons", "--id", "seed-deploy-1", "--category", "decision", "--scope", "project:web")
	// Recall bookkeeping off: a search case's access_count write lands
	// seconds later, during another case, and would read as its change.
	s := e.serveHTTP(t, []string{"TROVE_RECALL_ACCESS_FLUSH=0s"})
	cs := s.mcpHTTP("")
	mcpCall := func(tool string, args map[string]any) func(*testing.T) (string, bool) {
		return func(t *testing.T) (string, bool) {
			r := callTool(t, cs, tool, args)
			if r.code != "" {
				return r.code + ": " + r.msg, false
			}
			b, _ := json.Marshal(r.out)
			return string(b), true
		}
	}
	big := strings.Repeat("a", 32*1024+1)
	bigJSON, _ := json.Marshal(map[string]string{"text": big})
	const scopeHelp = `use "global", "agent:<id>", "user:<id>", "project:<id>", "custom:<name>", "reflection:agent:<id>", or a name declared in the config's scopes.definitions`

	cases := []badCase{
		// CLI arguments.
		{name: "cli/importance-NaN", want: `--importance "NaN": not a number: use a number from 0 to 1`, run: cli(e, "store", "x", "--importance", "NaN")},
		{name: "cli/importance-Inf", want: `importance +Inf is out of range: use a number from 0 to 1`, run: cli(e, "store", "x", "--importance", "Inf")},
		{name: "cli/importance-negative", want: `importance -0.5 is out of range: use a number from 0 to 1`, run: cli(e, "store", "x", "--importance", "-0.5")},
		{name: "cli/unknown-category", want: `category "bogus" is unknown: use one of preference, fact, decision, entity, reflection, other`, run: cli(e, "store", "x", "--category", "bogus")},
		{name: "cli/scope-empty-name", want: `scope "agent:" has an empty name: ` + scopeHelp, run: cli(e, "store", "x", "--scope", "agent:")},
		{name: "cli/scope-malformed", want: `scope "non sense" contains ' ': declared scope names may use letters, digits and . _ : - (` + scopeHelp + `)`, run: cli(e, "list", "--scope", "non sense")},
		{name: "cli/scope-sql", want: `declared scope names may use`, run: cli(e, "store", "x", "--scope", sqlInjection)},
		{name: "cli/id-sql", want: `id "` + sqlInjection + `" contains a space or control character`, run: cli(e, "store", "x", "--id", sqlInjection)},
		{name: "cli/get-sql", want: `id "` + sqlInjection + `" contains a space or control character`, run: cli(e, "get", sqlInjection)},
		{name: "cli/invalid-utf8", want: "text is not valid UTF-8: re-encode it as UTF-8", run: cli(e, "store", "bad \xff\xfe text")},
		{name: "cli/text-over-limit", want: "text is 32769 bytes, over the 32768-byte limit: split it into smaller memories", run: cli(e, "store", big)},
		{name: "cli/empty-text", want: "text is empty: give the memory's text", run: cli(e, "store", "")},
		{name: "cli/metadata-truncated-json", want: `--metadata: not valid JSON (unexpected EOF): give an object such as '{"source":"chat"}'`, run: cli(e, "store", "x", "--metadata", `{"a":`)},
		{name: "cli/search-sql", ok: true, want: "the billing service retries", run: cli(e, "search", sqlInjection+" billing")},
		{name: "cli/search-quote", ok: true, want: "the billing service retries", run: cli(e, "search", `"billing`)},
		{name: "cli/search-star", ok: true, want: "the billing service retries", run: cli(e, "search", "bill* billing")},
		{name: "cli/search-NEAR", ok: true, want: "the billing service retries", run: cli(e, "search", "NEAR( billing")},
		{name: "cli/search-AND", ok: true, want: "the billing service retries", run: cli(e, "search", "billing AND")},
		{name: "cli/search-unbalanced-parens", ok: true, want: "the billing service retries", run: cli(e, "search", "((billing OR) charges")},
		{name: "cli/search-scope-sql", want: `declared scope names may use`, run: cli(e, "search", "x", "--scope", sqlInjection)},

		// Import files.
		{name: "import/truncated-jsonl", want: "line 2: truncated or invalid JSON: unexpected end of JSON input: repair or remove the row", adds: []string{"imp-trunc-ok"},
			run: importFile(e, "t.jsonl", `{"id":"imp-trunc-ok","text":"a good row before a cut one"}`+"\n"+`{"id":"imp-trunc-2","text":"cut of`)},
		{name: "import/not-json-first-line", want: `line 1 is not a JSON object (it starts with "not json at all"): give trove JSON Lines (one memory object per line, as trove export writes) or a memory-lancedb-pro export`,
			run: importFile(e, "i.jsonl", "not json at all\n"+`{"id":"x`+"\n")},
		{name: "import/invalid-jsonl-row", want: "line 2: truncated or invalid JSON: invalid character 'o' in literal null (expecting 'u'): repair or remove the row", adds: []string{"imp-inv-ok"},
			run: importFile(e, "i2.jsonl", `{"id":"imp-inv-ok","text":"fine"}`+"\nnot json\n")},
		{name: "import/truncated-lancedb-json", want: "reading stopped at memories[1]: the file ends at line 1 inside the memories array, so it is truncated", adds: []string{"imp-l1"},
			run: importFile(e, "l.json", `{"memories":[{"id":"imp-l1","text":"ok"}`)},
		{name: "import/json-array", want: "line 1 is not a JSON object", run: importFile(e, "a.json", `[{"id":"imp-a1","text":"ok"}]`)},
		{name: "import/duplicate-ids", want: `line 2: duplicate id "imp-dup" (first seen at line 1): ids must be unique in a file`, adds: []string{"imp-dup"},
			run: importFile(e, "d.jsonl", `{"id":"imp-dup","text":"first"}`+"\n"+`{"id":"imp-dup","text":"second"}`+"\n")},
		{name: "import/wrong-vector-dimensions", want: "line 1: vector has 3 dimensions, the store uses 384: remove the vector field to re-embed",
			run: importFile(e, "v.jsonl", `{"id":"imp-v","text":"vec","vector":[0.1,0.2,0.3]}`+"\n")},
		{name: "import/invalid-utf8", want: "line 1: invalid UTF-8 at byte 27 of the row: re-encode the file as UTF-8", run: importFile(e, "u.jsonl", `{"id":"imp-u","text":"bad `+"\xff"+` utf"}`+"\n")},
		{name: "import/nul-escape", want: "line 1: text contains a NUL byte: remove it", run: importFile(e, "z.jsonl", `{"id":"imp-z","text":"nul \u0000 byte"}`+"\n")},
		{name: "import/raw-nul", want: `invalid character '\x00' in string literal): repair line 1 if this is JSON Lines`, run: importFile(e, "rz.jsonl", `{"id":"imp-rz","text":"raw `+"\x00"+` nul"}`+"\n")},
		{name: "import/text-over-limit", want: "line 1: text is 32769 bytes, over the 32768-byte limit: split it into smaller memories", run: importFile(e, "big.jsonl", `{"id":"imp-big","text":"`+big+`"}`+"\n")},
		{name: "import/malformed-scope", want: `line 1: scope "agent:" has an empty name: ` + scopeHelp, run: importFile(e, "s.jsonl", `{"id":"imp-s","text":"scope","scope":"agent:"}`+"\n")},
		{name: "import/sql-id", want: `line 1: id "` + sqlInjection + `" contains a space or control character: ids are printable text without spaces: fix the id, or remove it to give the row a new one`,
			run: importFile(e, "q.jsonl", `{"id":"`+sqlInjection+`","text":"sql"}`+"\n")},
		{name: "import/sql-scope", want: `line 1: scope "` + sqlInjection + `" contains`, run: importFile(e, "qs.jsonl", `{"id":"imp-qs","text":"sql","scope":"`+sqlInjection+`"}`+"\n")},

		// REST bodies.
		{name: "rest/truncated-json", want: `400 {"error":{"code":"invalid_argument","message":"request body is cut short: send a whole JSON object"}}`, run: rest(s, "POST", "/v1/memories", `{"text":"x"`)},
		{name: "rest/invalid-json", want: `request body is not valid JSON (at byte 2)`, run: rest(s, "POST", "/v1/memories", `not json`)},
		{name: "rest/wrong-type", want: `field \"text\": want a string, got number`, run: rest(s, "POST", "/v1/memories", `{"text":123}`)},
		{name: "rest/unknown-field", want: `unknown field \"bogus\": see the API reference for this route's fields`, run: rest(s, "POST", "/v1/memories", `{"text":"x","bogus":1}`)},
		{name: "rest/importance-negative", want: `importance -1 is out of range: use a number from 0 to 1`, run: rest(s, "POST", "/v1/memories", `{"text":"x","importance":-1}`)},
		{name: "rest/importance-NaN-string", want: `field \"importance\": want a number, got string`, run: rest(s, "POST", "/v1/memories", `{"text":"x","importance":"NaN"}`)},
		{name: "rest/patch-importance-over", want: `importance 2 is out of range: use a number from 0 to 1`, run: rest(s, "PATCH", "/v1/memories/seed-billing-1", `{"importance":2}`)},
		{name: "rest/patch-truncated", want: `request body is cut short: send a whole JSON object`, run: rest(s, "PATCH", "/v1/memories/seed-billing-1", `{"importance":`)},
		{name: "rest/unknown-category", want: `category \"bogus\" is unknown: use one of preference, fact, decision, entity, reflection, other`, run: rest(s, "POST", "/v1/memories", `{"text":"x","category":"bogus"}`)},
		{name: "rest/scope-sql", want: `declared scope names may use`, run: rest(s, "POST", "/v1/memories", `{"text":"x","scope":"`+sqlInjection+`"}`)},
		{name: "rest/nul", want: `text contains a NUL byte: remove it`, run: rest(s, "POST", "/v1/memories", `{"text":"nul \u0000 here"}`)},
		{name: "rest/text-over-limit", want: `text is 32769 bytes, over the 32768-byte limit: split it into smaller memories`, run: rest(s, "POST", "/v1/memories", string(bigJSON))},
		{name: "rest/invalid-utf8", want: `not valid UTF-8`,
			run: rest(s, "POST", "/v1/memories", "{\"text\":\"bad \xff text\"}")},
		{name: "rest/get-sql-id", want: `id \"` + sqlInjection + `\" contains a space or control character`, run: rest(s, "GET", "/v1/memories/%27%3B%20DROP%20TABLE%20memories%3B%20--", "")},
		{name: "rest/list-scope-sql", want: `declared scope names may use`, run: rest(s, "GET", "/v1/memories?scope=%27%3B%20DROP%20TABLE%20memories%3B%20--", "")},
		{name: "rest/search-fts-syntax", ok: true, want: `"id":"seed-billing-1"`, run: rest(s, "POST", "/v1/search", `{"query":"\"billing AND (NEAR( * ) OR"}`)},
		{name: "rest/search-sql", ok: true, want: `"results"`, run: rest(s, "POST", "/v1/search", `{"query":"`+sqlInjection+`"}`)},
		{name: "rest/search-limit", want: `limit -3 is out of range: use 1 to 50`, run: rest(s, "POST", "/v1/search", `{"query":"x","limit":-3}`)},

		// MCP tool arguments.
		{name: "mcp/unknown-category", want: `category "bogus" is unknown`, run: mcpCall("memory_store", map[string]any{"text": "x", "category": "bogus"})},
		{name: "mcp/scope-malformed", want: `scope "agent:" has an empty name`, run: mcpCall("memory_store", map[string]any{"text": "x", "scope": "agent:"})},
		{name: "mcp/importance-negative", want: `importance -0.5 is out of range`, run: mcpCall("memory_store", map[string]any{"text": "x", "importance": -0.5})},
		{name: "mcp/nul", want: `text contains a NUL byte: remove it`, run: mcpCall("memory_store", map[string]any{"text": "a\x00b"})},
		{name: "mcp/text-over-limit", want: `over the 32768-byte limit: split it into smaller memories`, run: mcpCall("memory_store", map[string]any{"text": big})},
		{name: "mcp/wrong-type", want: `importance`, run: mcpCall("memory_store", map[string]any{"text": "x", "importance": "high"})},
		{name: "mcp/get-sql-id", want: `contains a space or control character`, run: mcpCall("memory_get", map[string]any{"id": sqlInjection})},
		{name: "mcp/update-sql-scope", want: `declared scope names may use`, run: mcpCall("memory_list", map[string]any{"scope": sqlInjection})},
		{name: "mcp/recall-fts-syntax", ok: true, want: "seed-billing-1", run: mcpCall("memory_recall", map[string]any{"query": `"billing* NEAR( AND (`})},
		{name: "mcp/search-sql", ok: true, want: "results", run: mcpCall("memory_search", map[string]any{"query": sqlInjection})},
	}
	n := runBadCases(t, e, cases)
	t.Logf("%d shared cases", n)
}

// llmReply is what the fake LLM answers to one call: a status, headers and
// a body (or, with hang, nothing until the client gives up).
type llmReply struct {
	status  int
	header  map[string]string
	content string // the assistant message, wrapped in a chat completion
	raw     string // the whole body, instead of content
	hang    bool
}

// scriptedLLM answers call i with replies[min(i, len-1)].
func scriptedLLM(t *testing.T, replies ...llmReply) *fakeLLM {
	f := &fakeLLM{hooks: map[string]func(){}}
	var n atomic.Int64
	stop := make(chan struct{})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		i := int(n.Add(1)) - 1
		rp := replies[min(i, len(replies)-1)]
		if rp.hang {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
			return
		}
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		if rp.status != 0 {
			w.WriteHeader(rp.status)
		}
		if rp.raw != "" {
			fmt.Fprint(w, rp.raw)
			return
		}
		b, _ := json.Marshal(rp.content)
		fmt.Fprintf(w, `{"choices":[{"message":{"role":"assistant","content":%s}}]}`, b)
	}))
	t.Cleanup(f.Close)
	t.Cleanup(func() { close(stop) }) // runs first: release hanging handlers
	return f
}

func testBadInputLLM(t *testing.T) {
	good := `{"l0_abstract":"Billing retries nightly","l1_overview":"- retries","l2_content":"The billing service retries failed charges nightly.","resolved_category":"cases"}`
	type llmCase struct {
		name      string
		replies   []llmReply
		env       []string
		upgraded  int    // rows that end smart with the LLM's enrichment
		fallbacks int    // rows that end smart with plain enrichment
		fails     bool   // upgrade exits non-zero; the row stays legacy
		want      string // in the upgrade's output
		calls     int64  // LLM calls made, if set
		minDur    time.Duration
	}
	cases := []llmCase{
		{name: "prose", replies: []llmReply{{content: "Sure! This memory is about billing retries."}}, fallbacks: 1, want: "upgraded 0, fallbacks 1"},
		{name: "fenced-json", replies: []llmReply{{content: "```json\n" + good + "\n```"}}, upgraded: 1, want: "upgraded 1, fallbacks 0"},
		{name: "truncated-json", replies: []llmReply{{content: good[:40]}}, fallbacks: 1, want: "trove upgrade --redo-fallbacks retries them"},
		{name: "wrong-types", replies: []llmReply{{content: `{"l0_abstract":42,"l1_overview":["a"],"l2_content":null,"resolved_category":7}`}}, fallbacks: 1, want: "upgraded 0, fallbacks 1"},
		{name: "not-a-chat-completion", replies: []llmReply{{raw: `{"choices":"nope"}`}}, fails: true, want: "legacy-1: LLM call failed, row left as it was (a rerun retries it): llm chat: reply has an unexpected shape"},
		{name: "429-retry-after-then-ok", replies: []llmReply{{status: 429, header: map[string]string{"Retry-After": "1"}, raw: `{"error":{"message":"rate limited"}}`}, {content: good}}, upgraded: 1, calls: 2, minDur: time.Second,
			want: "upgraded 1, fallbacks 0, merged 0, requeued 0, skipped 0, errors 0"},
		{name: "500-forever", replies: []llmReply{{status: 500, raw: `{"error":{"message":"internal error"}}`}}, fails: true,
			want: "legacy-1: LLM call failed, row left as it was (a rerun retries it): llm chat: HTTP 500: internal error (gave up after 4 attempts; the provider is failing, try again later)\nerror: 1 memory could not be upgraded (listed above); unchanged\ntry: run trove upgrade again later; use --no-llm if the LLM keeps failing"},
		{name: "hang-past-timeout", replies: []llmReply{{hang: true}}, env: []string{"TROVE_LLM_TIMEOUT=300ms"}, fails: true,
			want: "legacy-1: LLM call failed, row left as it was (a rerun retries it): llm chat: no reply within 300ms (gave up after 4 attempts; the server did not answer in time; check BaseURL or raise the timeout)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.ok("import", writeTemp(t, "seed.jsonl", `{"id":"legacy-1","text":"The billing service retries failed charges nightly.","category":"fact","scope":"global","importance":0.5}`+"\n"))
			e.ok("store", "a legacy neighbour outside the upgraded scope", "--id", "neighbour-1", "--scope", "project:other")
			before := e.exportAll()
			llm := scriptedLLM(t, c.replies...)
			up, out, errb := e.upgradeCmd(llm, "--scope", "global")
			up.Env = append(up.Env, c.env...)
			start := time.Now()
			err := up.Run()
			took := time.Since(start)
			msg := out.String() + errb.String()
			t.Logf("%s in %v: %s", c.name, took.Round(time.Millisecond), msg)
			if c.calls != 0 && llm.calls.Load() != c.calls {
				t.Fatalf("LLM calls: %d, want %d", llm.calls.Load(), c.calls)
			}
			if took < c.minDur {
				t.Fatalf("upgrade took %v: did not wait out Retry-After (%v)", took, c.minDur)
			}
			if c.fails != (err != nil) {
				t.Fatalf("upgrade failed=%v, want %v: %s", err != nil, c.fails, msg)
			}
			if !strings.Contains(msg, c.want) {
				t.Fatalf("upgrade output lacks %q:\n%s", c.want, msg)
			}
			if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine ") {
				t.Fatalf("upgrade crashed:\n%s", msg)
			}
			after := e.exportAll()
			diffStores(t, map[string]memory.Memory{"neighbour-1": before["neighbour-1"]}, map[string]memory.Memory{"neighbour-1": after["neighbour-1"]}, nil)
			if len(after) != 2 {
				t.Fatalf("rows after the upgrade: %d, want 2", len(after))
			}
			row := after["legacy-1"]
			switch {
			case c.fails:
				if !reflect.DeepEqual(row, before["legacy-1"]) {
					t.Fatalf("failed upgrade changed the row:\nbefore %+v\nafter  %+v", before["legacy-1"], row)
				}
			default:
				if row.Format != memory.FormatSmart || row.Text != before["legacy-1"].Text {
					t.Fatalf("row not upgraded: %+v", row)
				}
				by, _ := row.Metadata["enriched_by"].(string)
				if c.upgraded == 1 && row.Metadata["l0_abstract"] != "Billing retries nightly" {
					t.Fatalf("LLM enrichment not applied: %v", row.Metadata)
				}
				if c.fallbacks == 1 && row.Metadata["l0_abstract"] == "Billing retries nightly" {
					t.Fatalf("fallback row has LLM enrichment: %v (%s)", row.Metadata, by)
				}
			}
			checkNoHalfUpgrade(t, after)
			e.checkStore()
		})
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeEmbedder answers POST /embeddings with good 384-dimension vectors
// until broken is set, then with status and reply(n) for n inputs. With a
// nil reply, breaking it shuts the server down (connection refused).
type fakeEmbedder struct {
	*httptest.Server
	broken atomic.Bool
}

func newFakeEmbedder(t *testing.T, status int, reply func(n int) string) *fakeEmbedder {
	f := &fakeEmbedder{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input []string `json:"input"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		if !f.broken.Load() {
			fmt.Fprint(w, embeddings(len(req.Input), 384, ""))
			return
		}
		if status != 0 {
			w.WriteHeader(status)
		}
		fmt.Fprint(w, reply(len(req.Input)))
	}))
	t.Cleanup(f.Close)
	return f
}

func embeddings(n, dims int, value string) string {
	var b strings.Builder
	b.WriteString(`{"object":"list","data":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		vals := make([]string, dims)
		for j := range vals {
			vals[j] = "0.05"
		}
		if dims > 0 && value != "" {
			vals[0] = value
		}
		fmt.Fprintf(&b, `{"object":"embedding","index":%d,"embedding":[%s]}`, i, strings.Join(vals, ","))
	}
	b.WriteString(`],"model":"fake"}`)
	return b.String()
}

func testBadInputEmbed(t *testing.T) {
	type embedCase struct {
		name   string
		status int
		reply  func(n int) string // nil: the embedder is down
		want   string             // in the store's error and in the search's warning
		also   string             // also in the store's error
	}
	cases := []embedCase{
		{name: "down", want: `openai embeddings: request failed: Post "http://127.0.0.1:`, also: "connect: connection refused (gave up after 4 attempts; check BaseURL and that the server is up)"},
		{name: "wrong-dimensions", reply: func(n int) string { return embeddings(n, 3, "") }, want: `openai embeddings: bad reply: embedding 0 has 3 dimensions, expected 384 (the server ignored dimensions=384; check that model "fake" supports it)`},
		{name: "truncated-json", reply: func(n int) string { return embeddings(n, 384, "")[:100] }, want: "openai embeddings: reply is not valid JSON: unexpected end of JSON input"},
		{name: "too-few-vectors", reply: func(n int) string { return embeddings(0, 384, "") }, want: "openai embeddings: bad reply: got 0 embeddings for 1 inputs"},
		{name: "prose", reply: func(int) string { return "the embedder is having a bad day" }, want: "openai embeddings: reply is not valid JSON: invalid character 'h'"},
		{name: "400-bad-request", status: 400, reply: func(int) string { return `{"error":{"message":"input too long"}}` }, want: "openai embeddings: HTTP 400: input too long (check the model name and options such as dimensions)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			f := newFakeEmbedder(t, c.status, c.reply)
			e.extra = append(e.extra, "TROVE_EMBED_PROVIDER=openai", "TROVE_EMBED_BASE_URL="+f.URL, "TROVE_EMBED_MODEL=fake", "TROVE_EMBED_DIMENSIONS=384")
			// Rows written while the embedder works: the store records its
			// model, and search has something to find by BM25.
			e.ok("store", "the billing service retries failed charges nightly", "--id", "bm25-1")
			e.ok("store", "deploys happen on Friday afternoons", "--id", "bm25-2")
			if c.reply == nil {
				f.Close()
			} else {
				f.broken.Store(true)
			}
			before := e.exportAll()
			r := e.run("store", "a new memory that cannot be embedded")
			msg := r.out + r.err
			t.Logf("store: %s", msg)
			const hint = "try: check the embedding provider settings (TROVE_EMBED_*), or use TROVE_EMBED_PROVIDER=hash offline"
			if r.code == 0 || !strings.Contains(msg, c.want) || !strings.Contains(msg, hint) ||
				!strings.Contains(msg, "error: the embedding provider failed: ") || !strings.Contains(msg, c.also) || r.code != 6 {
				t.Fatalf("store with a bad embedder: exit %d, want an error containing %q:\n%s", r.code, c.want, msg)
			}
			diffStores(t, before, e.exportAll(), nil)
			sr := e.run("search", "billing charges")
			t.Logf("search: %s%s", sr.out, sr.err)
			if sr.code != 0 || !strings.Contains(sr.out, "bm25-1") || !strings.Contains(sr.out+sr.err, "warning: vector search unavailable (query embedding failed: "+c.want) ||
				!strings.Contains(sr.out+sr.err, "): results come from BM25 text search only") {
				t.Fatalf("search with a bad embedder: exit %d\n%s%s", sr.code, sr.out, sr.err)
			}
			e.checkStore()
		})
	}
}
