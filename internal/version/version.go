// Package version holds trove's version, set at build time with
// -ldflags "-X github.com/trove-memory/trove/internal/version.Version=v1.2.3".
package version

// Version is the running trove's version.
var Version = "0.1.0-dev"
