package httpapi_test

import (
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/version"
)

// /healthz, /metrics and MCP's serverInfo report the same version as
// `trove version`.
func TestVersionReported(t *testing.T) {
	v := version.Get()
	s := start(t, config{})
	h := s.ok(s.do("GET", "/healthz", ""), 200)
	if h["version"] != v.Version || h["commit"] != v.Commit || h["go"] != v.Go {
		t.Fatalf("healthz %v, want %+v", h, v)
	}
	if m := s.do("GET", "/metrics", ""); !strings.Contains(m.raw, `trove_build_info{version="`+v.Version+`",commit="`+v.Commit+`",goversion="`+v.Go+`"} 1`) {
		t.Fatalf("metrics lack build info:\n%s", m.raw)
	}
	cs := connectHTTP(t, s.URL+"/mcp", "", "")
	if info := cs.InitializeResult().ServerInfo; info.Name != "trove" || info.Version != v.Version {
		t.Fatalf("serverInfo %+v, want version %s", info, v.Version)
	}
}
