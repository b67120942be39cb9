package mcpserver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/trove-memory/trove/internal/mcpserver"
)

// syncBuffer is a Writer safe for the SDK's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Close() error { return nil }

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Requests piped in before end of input are all answered before Serve
// returns, as `printf '...' | trove serve` expects.
func TestServeAnswersEverythingReadBeforeEOF(t *testing.T) {
	const in = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"pipe","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/list"}
{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"memory_store","arguments":{"text":"piped in before EOF"}}}
`
	for range 20 {
		e := newEnv(t, true)
		srv := mcpserver.New(e.svc, mcpserver.Options{})
		out := &syncBuffer{}
		if err := srv.Serve(ctx, &mcp.IOTransport{Reader: io.NopCloser(strings.NewReader(in)), Writer: out}); err != nil {
			t.Fatal(err)
		}
		answered := map[float64]bool{}
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var msg struct {
				ID     float64         `json:"id"`
				Result json.RawMessage `json:"result"`
			}
			if json.Unmarshal([]byte(line), &msg) == nil && msg.Result != nil {
				answered[msg.ID] = true
			}
		}
		if !answered[1] || !answered[2] || !answered[3] {
			t.Fatalf("answered %v of ids 1, 2, 3:\n%s", answered, out.String())
		}
		if !strings.Contains(out.String(), "piped in before EOF") {
			t.Fatalf("store reply lacks the text:\n%s", out.String())
		}
	}
}
