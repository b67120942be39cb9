package cli

import (
	"strings"
	"testing"
)

// trove recall-context prints the block alone on stdout, for a hook to
// paste; what went in and why nothing did go to stderr.
func TestRecallContextCommand(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("store", "prefers dark mode in every editor", "--id", "mem-0001", "--category", "preference")
	const prompt = "which editor theme do I prefer, dark mode?"

	r := e.run("recall-context", prompt)
	if r.code != 0 || !strings.HasPrefix(r.out, "<relevant-memories>\n[UNTRUSTED DATA — ") ||
		!strings.Contains(r.out, "\n- [preference:global] ") || !strings.HasSuffix(r.out, "\n[END UNTRUSTED DATA]\n</relevant-memories>\n") ||
		!strings.HasPrefix(r.err, "injected mem-0001 (score ") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", r.code, r.out, r.err)
	}
	e.stdin = prompt
	if in := e.run("recall-context", "-"); in.out != r.out {
		t.Fatalf("prompt on stdin: %q, want %q", in.out, r.out)
	}

	r = e.run("recall-context", "ok thanks")
	if r.code != 0 || r.out != "" || r.err != "nothing to inject: short confirmation\n" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", r.code, r.out, r.err)
	}

	// A session's second turn does not inject the same memory again: the
	// turn was recorded in the store.
	if r = e.run("recall-context", prompt, "--session", "s1"); r.out == "" {
		t.Fatalf("first turn: %q %q", r.out, r.err)
	}
	if r = e.run("recall-context", prompt, "--session", "s1"); r.code != 0 || r.out != "" || r.err != "nothing to inject: no relevant memories\n" {
		t.Fatalf("second turn: exit %d\nstdout %q\nstderr %q", r.code, r.out, r.err)
	}

	r = e.run("recall-context", prompt, "--mode", "brief")
	if r.code != ExitUsage || !strings.Contains(r.err, `mode "brief" is unknown: use summary or full`) {
		t.Fatalf("exit %d %q", r.code, r.err)
	}
}
