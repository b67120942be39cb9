package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// `printf '<requests>' | trove serve`: every request read before end of
// input is answered, then the process exits 0.
func TestServeStdioPipedRequests(t *testing.T) {
	e := newEnv(t)
	const in = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"pipe","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/list"}
`
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 5 {
		c := e.cmd(ctx, "serve")
		var out, errb bytes.Buffer
		c.Stdin, c.Stdout, c.Stderr = strings.NewReader(in), &out, &errb
		if err := c.Run(); err != nil {
			t.Fatalf("serve: %v\n%s", err, errb.String())
		}
		type reply struct {
			ID     int `json:"id"`
			Result struct {
				ServerInfo struct{ Name string }   `json:"serverInfo"`
				Tools      []struct{ Name string } `json:"tools"`
			} `json:"result"`
		}
		var replies []reply
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var r reply
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("reply %q: %v", line, err)
			}
			replies = append(replies, r)
		}
		if len(replies) != 2 || replies[0].ID != 1 || replies[0].Result.ServerInfo.Name != "trove" ||
			replies[1].ID != 2 || len(replies[1].Result.Tools) != 19 {
			t.Fatalf("replies to initialize + tools/list:\n%s\nstderr:\n%s", out.String(), errb.String())
		}
	}
}
