package mcpserver_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/trove-memory/trove/internal/mcpserver"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts under testdata")

// The transcripts are what goes over the wire: the client's requests as
// written here, the server's answers normalised (ids, timestamps and the
// version replaced by placeholders, keys sorted). A change to a tool's
// schema, description or answer shows up as a diff in review.
var transcripts = []struct {
	name     string
	agent    string
	requests []string
}{
	{"tools_list", "", []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"golden","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`,
	}},
	{"store_get_update", "bot", []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"golden","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_store","arguments":{"text":"I prefer dark mode in every editor","category":"preference","scope":"agent:bot"}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"memory_get","arguments":{"id":"golden-0001"}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"memory_update","arguments":{"id":"golden-0001","importance":0.9,"expected_revision":1}}}`,
		`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"memory_update","arguments":{"id":"golden-0001","importance":0.1,"expected_revision":1}}}`,
		`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"memory_list","arguments":{"scope":"agent:other","limit":5}}}`,
	}},
	{"errors", "bot", []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"golden","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_get","arguments":{"id":"missing-id-0000"}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"memory_store","arguments":{"text":"x","scope":"agent:other"}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"memory_store","arguments":{"text":"x","colour":"red"}}}`,
		`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"memory_recall","arguments":{"query":"anything"}}}`,
		`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"memory_nope","arguments":{}}}`,
	}},
}

func TestGoldenTranscripts(t *testing.T) {
	for _, tr := range transcripts {
		t.Run(tr.name, func(t *testing.T) {
			e := newEnv(t, false)
			// Seed the row the transcript reads, with a fixed id.
			seed := memory.Memory{ID: "golden-0001", Text: "seeded for the transcript", Scope: "agent:bot", Category: memory.CategoryFact, Importance: 0.5, CreatedAt: 1700000000000}
			if err := e.st.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&seed) }); err != nil {
				t.Fatal(err)
			}
			srv := mcpserver.New(e.svc, mcpserver.Options{Agent: tr.agent})
			ct, st := mcp.NewInMemoryTransports()
			ss, err := srv.MCP().Connect(ctx, st, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ss.Close()
			conn, err := ct.Connect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()

			var out bytes.Buffer
			for _, req := range tr.requests {
				msg, err := jsonrpc.DecodeMessage([]byte(req))
				if err != nil {
					t.Fatalf("request %s: %v", req, err)
				}
				if err := conn.Write(ctx, msg); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&out, "-> %s\n", req)
				r, ok := msg.(*jsonrpc.Request)
				if !ok || !r.ID.IsValid() {
					continue // a notification: no answer
				}
				resp := readResponse(t, conn, r.ID)
				fmt.Fprintf(&out, "<- %s\n", normalise(t, resp))
			}
			path := filepath.Join("testdata", tr.name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/mcpserver -run Golden -update to create it)", err)
			}
			if got := out.String(); got != string(want) {
				t.Fatalf("transcript %s changed (rerun with -update if intended):\n%s", path, diff(string(want), got))
			}
		})
	}
}

// readResponse reads until the response to id (the server may send
// notifications before it).
func readResponse(t *testing.T, conn mcp.Connection, id jsonrpc.ID) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		msg, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if resp, ok := msg.(*jsonrpc.Response); ok && resp.ID == id {
			b, err := jsonrpc.EncodeMessage(resp)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatal("no response")
	return nil
}

var (
	uuidRE  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE  = regexp.MustCompile(`(\\?"(?:created_at|updated_at|oldest_created_at|newest_created_at)\\?":)\d+`)
	verRE   = regexp.MustCompile(`("name":"trove","title":"trove memory","version":)"[^"]*"`)
	scoreRE = regexp.MustCompile(`(\\?"(?:score|vector|bm25)\\?":)-?[0-9.e+-]+`)
)

// normalise sorts keys (by a round trip through maps) and replaces what
// changes from run to run.
func normalise(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(buf.String())
	ids := map[string]string{}
	s = uuidRE.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := ids[id]; !ok {
			ids[id] = fmt.Sprintf("<uuid-%d>", len(ids)+1)
		}
		return ids[id]
	})
	s = timeRE.ReplaceAllString(s, "${1}0")
	s = scoreRE.ReplaceAllString(s, "${1}0")
	return verRE.ReplaceAllString(s, `${1}"<version>"`)
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, a, c)
		}
	}
	return b.String()
}
