// Package lancedbexport holds the LanceDB exporter's files (a small Node
// package, see export.mjs) for the trove binary to carry: `trove migrate`
// writes them into a cache directory, installs their pinned npm
// dependency there and runs export.mjs with Node. node_modules is not
// embedded.
package lancedbexport

import "embed"

// Files are the exporter's package: package.json, package-lock.json,
// export.mjs and lib.mjs, at the root of the FS.
//
//go:embed package.json package-lock.json export.mjs lib.mjs
var Files embed.FS

// Names lists Files, in a fixed order (the cache directory's version is
// a hash over them).
var Names = []string{"package.json", "package-lock.json", "export.mjs", "lib.mjs"}
