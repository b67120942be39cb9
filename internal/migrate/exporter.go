// Package migrate moves a memory-lancedb-pro LanceDB store into trove. LanceDB
// has no Go reader, so the rows are read by a small Node package
// (integrations/lancedb-export) that the trove binary carries: Exporter
// writes it into a cache directory versioned by its content, installs its
// pinned npm dependency there once, and runs it with Node. The JSON Lines it
// writes are memory-lancedb-pro's row shape, imported by trove's importer,
// which does all the mapping; Compare checks the result row by row.
//
//	ex := &migrate.Exporter{Notify: func(s string) { fmt.Fprintln(os.Stderr, s) }}
//	info, err := ex.Count(ctx, "~/.openclaw/memory/lancedb-pro") // rows, dims
//	rc, err := ex.Export(ctx, path, migrate.ExportOptions{Vectors: true})
//	// read JSON Lines from rc, then rc.Close() reports the exporter's failure
package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	lancedbexport "github.com/trove-memory/trove/integrations/lancedb-export"
)

// MinNodeMajor is the oldest Node the exporter's dependency supports.
const MinNodeMajor = 18

// LanceDBPackage is the npm package (pinned in the exporter's lockfile)
// that reads the store.
const LanceDBPackage = "@lancedb/lancedb 0.31.0"

// readyMarker is written into a cache entry once npm has installed it.
const readyMarker = ".trove-ready"

// Exporter runs the embedded LanceDB exporter.
type Exporter struct {
	// CacheDir is where exporters are unpacked (default: the user cache
	// directory's trove folder, $XDG_CACHE_HOME/trove or ~/.cache/trove).
	CacheDir string
	// Node and NPM are the programs (default: node and npm on PATH).
	Node, NPM string
	// Notify hears what the exporter does that the user should know: the
	// first-use install, the exporter's own report (row count, problems).
	Notify func(string)
}

// Info is what the exporter's --count reports about a store.
type Info struct {
	Path    string   `json:"path"`
	Rows    int      `json:"rows"`
	Dims    int      `json:"dims"`
	Columns []string `json:"columns"`
}

// ExportOptions say what to export.
type ExportOptions struct {
	// Vectors includes each row's vector; without it the importer embeds
	// the text.
	Vectors bool
}

// Error is a failure a user can act on: what went wrong and what to do.
type Error struct {
	Kind    ErrorKind
	Message string
	Hint    string
}

// ErrorKind tells the failures apart.
type ErrorKind int

const (
	// NoNode: Node is missing or too old.
	NoNode ErrorKind = iota + 1
	// InstallFailed: npm could not install the exporter's dependency.
	InstallFailed
	// NoStore: nothing at the path, or no memories table in it.
	NoStore
	// ExportFailed: the exporter failed while reading the store.
	ExportFailed
)

func (e *Error) Error() string { return e.Message }

const nodeHint = "install Node.js 18 or newer (https://nodejs.org, or your package manager: apt install nodejs npm, brew install node), then run the command again"

// Version is the exporter's content hash (first 12 hex digits): a new trove
// with a changed exporter unpacks into a new cache entry.
func Version() string {
	h := sha256.New()
	for _, n := range lancedbexport.Names {
		b, err := lancedbexport.Files.ReadFile(n)
		if err != nil {
			panic(err) // the embed list and Names disagree: a build mistake
		}
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Dir is the exporter's cache entry under cacheRoot.
func Dir(cacheRoot string) string {
	return filepath.Join(cacheRoot, "lancedb-export-"+Version())
}

func (e *Exporter) cacheRoot() (string, error) {
	if e.CacheDir != "" {
		return e.CacheDir, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the LanceDB exporter: %w (set XDG_CACHE_HOME)", err)
	}
	return filepath.Join(d, "trove"), nil
}

func (e *Exporter) notify(format string, args ...any) {
	if e.Notify != nil {
		e.Notify(fmt.Sprintf(format, args...))
	}
}

// node finds Node and checks its version.
func (e *Exporter) node(ctx context.Context) (string, error) {
	name := e.Node
	if name == "" {
		name = "node"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", &Error{Kind: NoNode, Message: "Node.js was not found (" + name + " is not on PATH): reading a LanceDB store needs Node 18 or newer", Hint: nodeHint}
	}
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", &Error{Kind: NoNode, Message: fmt.Sprintf("%s --version failed: %v", path, err), Hint: nodeHint}
	}
	v := strings.TrimSpace(string(out))
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "v"), ".", 2)[0])
	if major < MinNodeMajor {
		return "", &Error{Kind: NoNode, Message: fmt.Sprintf("Node %s is too old: reading a LanceDB store needs Node 18 or newer", v), Hint: nodeHint}
	}
	return path, nil
}

// Prepare unpacks the exporter into its cache entry and installs its npm
// dependency there, once: a later call finds it ready. Two processes doing
// it at once each install into a temporary directory; the first rename wins.
func (e *Exporter) Prepare(ctx context.Context) (string, error) {
	root, err := e.cacheRoot()
	if err != nil {
		return "", err
	}
	dir := Dir(root)
	if _, err := os.Stat(filepath.Join(dir, readyMarker)); err == nil {
		return dir, nil
	}
	npm := e.NPM
	if npm == "" {
		npm = "npm"
	}
	npmPath, err := exec.LookPath(npm)
	if err != nil {
		return "", &Error{Kind: NoNode, Message: "npm was not found (" + npm + " is not on PATH): it installs the exporter's dependency " + LanceDBPackage + " on first use", Hint: nodeHint}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(root, ".lancedb-export-tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // gone after the rename; cleans up a failure
	if err := unpack(tmp); err != nil {
		return "", err
	}
	e.notify("first use: installing the LanceDB exporter's dependency (%s) with npm into %s; this takes a minute, once", LanceDBPackage, dir)
	cmd := exec.CommandContext(ctx, npmPath, "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", &Error{Kind: InstallFailed,
			Message: fmt.Sprintf("installing %s with npm failed (%v); is the npm registry reachable? npm said: %s", LanceDBPackage, err, tail(out.String(), 600)),
			Hint:    "run the command again when online (nothing was imported); or copy the exporter's node_modules from a machine that has it: " + dir}
	}
	if err := os.WriteFile(filepath.Join(tmp, readyMarker), []byte(Version()+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, readyMarker)); serr == nil {
			return dir, nil // another process finished first
		}
		// A half-made entry from an old crash: replace it.
		if rerr := os.RemoveAll(dir); rerr != nil {
			return "", err
		}
		if err := os.Rename(tmp, dir); err != nil {
			return "", err
		}
	}
	e.notify("installed the LanceDB exporter in %s", dir)
	return dir, nil
}

// SeedCache makes a ready cache entry under cacheRoot that uses an existing
// node_modules directory (one where `npm ci` ran on the exporter's
// lockfile), so no install is needed: for tests, and for machines that are
// offline. It returns the entry.
func SeedCache(cacheRoot, nodeModules string) (string, error) {
	dir := Dir(cacheRoot)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := unpack(dir); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(nodeModules)
	if err != nil {
		return "", err
	}
	link := filepath.Join(dir, "node_modules")
	_ = os.Remove(link)
	if err := os.Symlink(abs, link); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, readyMarker), []byte(Version()+"\n"), 0o644)
}

func unpack(dir string) error {
	for _, n := range lancedbexport.Names {
		b, err := lancedbexport.Files.ReadFile(n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// start runs the exporter with args; stdout is the caller's.
func (e *Exporter) start(ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, io.ReadCloser, error) {
	node, err := e.node(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	dir, err := e.Prepare(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, "export.mjs")}, args...)...)
	cmd.Dir = dir
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return cmd, stderr, out, nil
}

// exitError turns the exporter's failure into an *Error.
func exitError(path string, err error, stderr string) error {
	msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr), "error: "))
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		return &Error{Kind: NoStore, Message: msg, Hint: "give the directory of a memory-lancedb-pro store (it holds memories.lance), e.g. ~/.openclaw/memory/lancedb-pro; trove migrate check lists the default ones"}
	}
	if msg == "" {
		msg = err.Error()
	}
	return &Error{Kind: ExportFailed, Message: fmt.Sprintf("reading the LanceDB store at %s failed: %s", path, tail(msg, 2000))}
}

// Count reports a store's row count and vector dimensions.
func (e *Exporter) Count(ctx context.Context, path string) (Info, error) {
	cmd, stderr, out, err := e.start(ctx, "--db", path, "--count")
	if err != nil {
		return Info{}, err
	}
	b, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		return Info{}, exitError(path, err, stderr.String())
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return Info{}, &Error{Kind: ExportFailed, Message: fmt.Sprintf("the exporter's count for %s is not JSON: %v", path, err)}
	}
	info.Path = path
	return info, nil
}

// Export starts the exporter on the store at path and returns its JSON
// Lines. Close waits for the exporter and returns its failure, if any; the
// exporter's own report (row count, problems) goes to Notify.
func (e *Exporter) Export(ctx context.Context, path string, o ExportOptions) (io.ReadCloser, error) {
	args := []string{"--db", path}
	if !o.Vectors {
		args = append(args, "--no-vectors")
	}
	cmd, stderr, out, err := e.start(ctx, args...)
	if err != nil {
		return nil, err
	}
	return &exportStream{r: out, cmd: cmd, stderr: stderr, path: path, e: e}, nil
}

type exportStream struct {
	r      io.ReadCloser
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	path   string
	e      *Exporter
	once   sync.Once
	err    error
}

func (s *exportStream) Read(p []byte) (int, error) { return s.r.Read(p) }

// Close drains what is left (so the exporter is not blocked writing),
// waits for it and reports how it ended.
func (s *exportStream) Close() error {
	s.once.Do(func() {
		_, _ = io.Copy(io.Discard, s.r)
		err := s.cmd.Wait()
		if err != nil {
			s.err = exitError(s.path, err, s.stderr.String())
			return
		}
		for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
			if line != "" {
				s.e.notify("exporter: %s", line)
			}
		}
	})
	return s.err
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
