package httpapi_test

import (
	"net/http"
	"testing"
)

// Promote and archive by id in the path (body optional) and by query in
// the body; compact is a dry run unless dry_run is false.
func TestGovernanceRoutes(t *testing.T) {
	s := start(t, config{})
	id := s.ok(s.do("POST", "/v1/memories", `{"text":"The nightly backup runs at 02:00 UTC."}`), http.StatusCreated)["id"].(string)
	s.ok(s.do("POST", "/v1/memories", `{"text":"The nightly backup runs at 02:00 UTC","force":true}`), http.StatusCreated)

	out := s.ok(s.do("POST", "/v1/memories/"+id[:8]+"/archive", ""), 200)
	md := out["memory"].(map[string]any)["metadata"].(map[string]any)
	if out["changed"] != true || md["state"] != "archived" || md["archive_reason"] != "manual_archive" {
		t.Fatalf("archive: %v", out)
	}
	out = s.ok(s.do("POST", "/v1/memories/"+id+"/promote", `{"layer":"working"}`), 200)
	md = out["memory"].(map[string]any)["metadata"].(map[string]any)
	if md["state"] != "confirmed" || md["memory_layer"] != "working" {
		t.Fatalf("promote: %v", out)
	}
	out = s.ok(s.do("POST", "/v1/archive", `{"query":"nightly backup","reason":"moved to weekly"}`), 200)
	if out["memory"].(map[string]any)["metadata"].(map[string]any)["archive_reason"] != "moved to weekly" {
		t.Fatalf("archive by query: %v", out)
	}
	byQuery := out["memory"].(map[string]any)["id"].(string)
	s.want(s.do("POST", "/v1/promote", `{"id":"`+id+`","state":"archived"}`), 400, "invalid_argument", "memory_archive")
	s.want(s.do("POST", "/v1/memories/"+id+"/archive", `{"reason":"x","extra":1}`), 400, "invalid_argument", "extra")

	s.ok(s.do("POST", "/v1/promote", `{"id":"`+byQuery+`"}`), 200)
	dry := s.ok(s.do("POST", "/v1/compact", ""), 200)
	if dry["dry_run"] != true || dry["duplicates"] != 1.0 || dry["archived"] != 0.0 {
		t.Fatalf("compact dry run: %v", dry)
	}
	applied := s.ok(s.do("POST", "/v1/compact", `{"dry_run":false}`), 200)
	if applied["dry_run"] != false || applied["archived"] != 1.0 {
		t.Fatalf("compact: %v", applied)
	}
}

// recall-context takes a session; POST /v1/feedback reports on what its
// last turn injected.
func TestFeedbackRoute(t *testing.T) {
	s := start(t, config{})
	id := s.ok(s.do("POST", "/v1/memories", `{"text":"The deploy pipeline runs on GitHub Actions."}`), http.StatusCreated)["id"].(string)
	const prompt = `{"prompt":"What do you remember about the deploy pipeline?","session":"s1"}`
	first := s.ok(s.do("POST", "/v1/recall-context", prompt), 200)
	if ms := first["memories"].([]any); len(ms) != 1 || ms[0].(map[string]any)["id"] != id {
		t.Fatalf("turn 1: %v", first)
	}
	if again := s.ok(s.do("POST", "/v1/recall-context", prompt), 200); len(again["memories"].([]any)) != 0 {
		t.Fatalf("turn 2 injected again: %v", again)
	}
	out := s.ok(s.do("POST", "/v1/feedback", `{"session":"s1","injected":["`+id+`"],"used":["`+id+`"]}`), 200)
	if used := out["used"].([]any); len(used) != 1 || used[0] != id {
		t.Fatalf("feedback: %v", out)
	}
	s.want(s.do("POST", "/v1/feedback", `{}`), 400, "invalid_argument", "no injection named")
}
