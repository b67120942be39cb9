package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	devel := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "(devel)"}}
	for _, tc := range []struct {
		name        string
		ver, commit string
		bi          *debug.BuildInfo
		want        Info
	}{
		{"ldflags win", "v2.0.0", "feedbeef", stamped, Info{"v2.0.0", "feedbeef", "go1.99.1"}},
		{"build info fills in", dev, "", stamped, Info{"v1.4.0", "0123456789abcdef0123-dirty", "go1.99.1"}},
		{"devel build", dev, "", devel, Info{dev, "unknown", "go1.99.1"}},
		{"empty ldflags version", "", "", devel, Info{dev, "unknown", "go1.99.1"}},
		{"no build info", dev, "", nil, Info{dev, "unknown", runtime.Version()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resolve(tc.ver, tc.commit, tc.bi); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	s := Info{Version: "v1.4.0", Commit: "0123456789abcdef0123-dirty", Go: "go1.99.1"}.String()
	if s != "trove v1.4.0 (commit 0123456789ab-dirty, go1.99.1)" {
		t.Fatal(s)
	}
	if g := Get(); g.Version == "" || g.Commit == "" || !strings.HasPrefix(g.Go, "go") {
		t.Fatalf("Get: %+v", g)
	}
}
