package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/version"
)

// `trove version` and `trove --version` answer without a config or store,
// even when the settings are broken.
func TestVersion(t *testing.T) {
	v := version.Get()
	broken := func(k string) string {
		if k == "TROVE_EMBED_PROVIDER" {
			return "nonsense"
		}
		return ""
	}
	want := "trove " + v.Version + "\ncommit: " + v.Commit + "\ngo:     " + v.Go + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errb bytes.Buffer
		if code := Execute(context.Background(), Deps{Getenv: broken}, args, &out, &errb); code != 0 || out.String() != want {
			t.Fatalf("%v: exit %d, out %q (want %q), err %q", args, code, out.String(), want, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := Execute(context.Background(), Deps{Getenv: broken}, []string{"version", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got version.Info
	dec := json.NewDecoder(strings.NewReader(out.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil || got != v {
		t.Fatalf("--json: %q: %v", out.String(), err)
	}
}
