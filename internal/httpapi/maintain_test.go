package httpapi_test

import (
	"strings"
	"testing"
)

// POST /v1/maintain runs a pass for the owner and refuses agents; /metrics
// then shows the tiers and the last pass.
func TestMaintainRoute(t *testing.T) {
	s := start(t, config{})
	s.ok(s.do("POST", "/v1/memories", `{"text":"an old note","metadata":{"tier":"core"}}`), 201)
	s.want(s.do("POST", "/v1/maintain", `{}`, "X-Trove-Agent: bot"), 403, "scope_access_denied", "owner")
	s.want(s.do("POST", "/v1/maintain", `{"dry_run":true,"extra":1}`), 400, "invalid_argument", "")
	dry := s.ok(s.do("POST", "/v1/maintain", `{"dry_run":true}`), 200)
	if dry["dry_run"] != true || dry["scanned"] != 1.0 {
		t.Fatalf("dry run: %v", dry)
	}
	out := s.ok(s.do("POST", "/v1/maintain", ""), 200)
	if out["scanned"] != 1.0 || out["skipped"] != nil {
		t.Fatalf("pass: %v", out)
	}
	m := s.do("GET", "/metrics", "").raw
	for _, series := range []string{`trove_memories_by_tier{tier="core"} 1`, "trove_maintain_last_scanned 1", "trove_maintain_last_duration_seconds "} {
		if !strings.Contains(m, series) {
			t.Fatalf("metrics lack %q:\n%s", series, m)
		}
	}
}
