// Package version says which trove is running: its version, the commit it
// was built from and the Go version, as `trove version`, MCP's serverInfo
// and /healthz report them. A release build sets both with
//
//	go build -ldflags "-X github.com/trove-memory/trove/internal/version.Version=v1.2.3 \
//	  -X github.com/trove-memory/trove/internal/version.Commit=$(git rev-parse HEAD)"
//
// Without them, Get falls back to what the Go toolchain stamped into the
// binary: the module version (go install ...@v1.2.3) and the VCS revision
// (go build inside a git checkout).
package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

// dev is Version when neither -ldflags nor the module version says more.
const dev = "0.1.0-dev"

// Version and Commit are set at build time with -ldflags -X; Get applies
// the fallbacks.
var (
	Version = dev
	Commit  = ""
)

// Info is the running binary's identity.
type Info struct {
	Version string `json:"version"`
	// Commit is the VCS revision, with "-dirty" when built from a tree
	// with uncommitted changes; "unknown" when nothing recorded it.
	Commit string `json:"commit"`
	Go     string `json:"go"`
}

// String is the one-line form: "trove v1.2.3 (commit abc1234, go1.25.1)".
func (i Info) String() string {
	c, dirty := strings.CutSuffix(i.Commit, "-dirty")
	if len(c) > 12 {
		c = c[:12]
	}
	if dirty {
		c += "-dirty"
	}
	return "trove " + i.Version + " (commit " + c + ", " + i.Go + ")"
}

// Get returns the running binary's version, commit and Go version.
func Get() Info { return get() }

var get = sync.OnceValue(func() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return resolve(Version, Commit, bi)
})

// resolve prefers what -ldflags set, then the build info.
func resolve(ver, commit string, bi *debug.BuildInfo) Info {
	info := Info{Version: ver, Commit: commit, Go: runtime.Version()}
	if bi == nil {
		if info.Commit == "" {
			info.Commit = "unknown"
		}
		return info
	}
	if bi.GoVersion != "" {
		info.Go = bi.GoVersion
	}
	if (ver == "" || ver == dev) && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" {
		info.Version = dev
	}
	if info.Commit == "" {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		info.Commit = rev
		if rev != "" && modified == "true" {
			info.Commit += "-dirty"
		}
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}
