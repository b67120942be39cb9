package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
)

func TestExportScopesAndAccess(t *testing.T) {
	s := openStore(t)
	rows := seed(t, s, 40)
	inScopes := func(scopes ...memory.Scope) []memory.Memory {
		var out []memory.Memory
		for _, m := range rows {
			if slices.Contains(scopes, m.Scope) {
				m.Vector = nil
				out = append(out, m)
			}
		}
		return out
	}
	tests := []struct {
		name string
		acc  memory.Access
		opts ExportOptions
		want []memory.Memory
	}{
		{"requested scopes", memory.Owner(), ExportOptions{Scopes: []memory.Scope{"user:alice", "project:x"}}, inScopes("user:alice", "project:x")},
		{"limited access", memory.AgentAccess("main"), ExportOptions{}, inScopes("global", "agent:main")},
		{"limited access and scope", memory.AgentAccess("main"), ExportOptions{Scopes: []memory.Scope{"agent:main"}}, inScopes("agent:main")},
		{"no access", memory.Access{}, ExportOptions{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, n := exportString(t, s, tc.acc, tc.opts)
			var got []memory.Memory
			for _, line := range strings.SplitAfter(out, "\n") {
				if line == "" {
					continue
				}
				var m memory.Memory
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				got = append(got, m)
			}
			if n != len(tc.want) || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("exported %d rows %v\nwant %d", n, ids(got), len(tc.want))
			}
		})
	}
}

func ids(ms []memory.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestExportRefusesScopeOutsideAccess(t *testing.T) {
	s := openStore(t)
	seed(t, s, 5)
	var buf bytes.Buffer
	n, err := Export(context.Background(), s, memory.AgentAccess("main"), &buf, ExportOptions{Scopes: []memory.Scope{"global", "user:alice"}})
	var denied *memory.ScopeDeniedError
	if !errors.As(err, &denied) || denied.Scope != "user:alice" || n != 0 || buf.Len() != 0 {
		t.Errorf("err %v, n %d, %d bytes written", err, n, buf.Len())
	}
	_, err = Export(context.Background(), s, memory.Owner(), &buf, ExportOptions{Scopes: []memory.Scope{"no pe"}})
	if !errors.Is(err, memory.ErrInvalid) {
		t.Errorf("malformed scope: %v", err)
	}
}

func TestExportFormat(t *testing.T) {
	s := openStore(t)
	importString(t, newImporter(s), `{"id":"a","text":"a <b> & c","metadata":{"z":1,"a":{"y":[true,null]}}}`)
	out, _ := exportString(t, s, memory.Owner(), ExportOptions{})
	m, err := s.Get(context.Background(), memory.Owner(), "a")
	if err != nil {
		t.Fatal(err)
	}
	m.Vector = nil
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	if out != want.String() {
		t.Errorf("export\n %s\nwant\n %s", out, want.String())
	}
	if !strings.Contains(out, `"text":"a <b> & c"`) || strings.Contains(out, `"vector"`) {
		t.Errorf("export %s", out)
	}
	var asMarshal memory.Memory
	if err := json.Unmarshal([]byte(out), &asMarshal); err != nil || !reflect.DeepEqual(asMarshal, m) {
		t.Errorf("line does not decode to the row: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestExportWriteError(t *testing.T) {
	s := openStore(t)
	seed(t, s, 3)
	if _, err := Export(context.Background(), s, memory.Owner(), failWriter{}, ExportOptions{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err %v", err)
	}
}

func TestExportEmptyStore(t *testing.T) {
	out, n := exportString(t, openStore(t), memory.Owner(), ExportOptions{WithVectors: true})
	if n != 0 || out != "" {
		t.Errorf("%d rows, %q", n, out)
	}
}
