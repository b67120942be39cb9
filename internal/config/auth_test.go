package config

import (
	"os"
	"strings"
	"testing"
)

func TestParsePrincipal(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		matches  []string
		not      []string
	}{
		{in: "owner", want: "owner"},
		{in: "agent:alice", want: "agent:alice"},
		{in: "agents:*", want: "agents:*", matches: []string{"alice", "team-a"}, not: []string{""}},
		{in: "agents:team-*", want: "agents:team-*", matches: []string{"team-a", "team-"}, not: []string{"alice", "tea"}},
	} {
		p, err := ParsePrincipal(tc.in)
		if err != nil || p.String() != tc.want {
			t.Fatalf("%q: %v %v", tc.in, p, err)
		}
		for _, a := range tc.matches {
			if !p.Matches(a) {
				t.Errorf("%q should match %q", tc.in, a)
			}
		}
		for _, a := range tc.not {
			if p.Matches(a) {
				t.Errorf("%q should not match %q", tc.in, a)
			}
		}
	}
	for _, bad := range []string{"", "root", "agent:", "agent:a b", "agents:team", "agents:*-x*", "user:alice"} {
		if _, err := ParsePrincipal(bad); err == nil || !strings.Contains(err.Error(), "agents:<pattern>") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestTokensFromEnvAndFile(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HOME": dir, "TROVE_CONFIG": dir + "/c.json"}
	writeAuthFile(t, dir+"/c.json", `{"auth":{"tokens":{"file-token-0123456789":"agent:bob"}}}`)
	cfg, err := Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := cfg.Auth.Principals(); p["file-token-0123456789"].Agent != "bob" {
		t.Fatalf("file tokens: %v", p)
	}
	env["TROVE_TOKENS"] = "tok-one-0123456789ab=agent:alice, tok-two-0123456789ab=owner"
	cfg, err = Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Auth.Principals()
	if err != nil || len(p) != 2 || p["tok-one-0123456789ab"].Agent != "alice" || !p["tok-two-0123456789ab"].Owner {
		t.Fatalf("env replaces the file's tokens: %v %v", p, err)
	}

	// Errors name the entry, never the token.
	env["TROVE_TOKENS"] = "secret-one-0123456789=agent:alice,secret-two-0123456789"
	if _, err := Load(func(k string) string { return env[k] }); err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("malformed TROVE_TOKENS: %v", err)
	}
	for _, toks := range []map[string]string{
		{"secret-short": "owner"},
		{"secret-long-enough-0123": "admin"},
	} {
		c := Defaults(func(k string) string { return env[k] })
		c.Auth.Tokens = toks
		err := c.Validate()
		if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "auth.tokens") {
			t.Fatalf("%v: %v", toks, err)
		}
	}
}

func writeAuthFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
