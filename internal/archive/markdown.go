package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trove-memory/trove/internal/lazyre"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/migrate"
	"github.com/trove-memory/trove/internal/store"
)

// Markdown import reads the memories OpenClaw keeps in Markdown: the
// bullets of each workspace's MEMORY.md and memory/YYYY-MM-DD.md, laid out
// as memory-lancedb-pro's import-markdown finds them (cli.ts
// runImportMarkdown at f6e63af):
//
//	<home>/workspace/<name>/MEMORY.md            scope agent:<name>
//	<home>/workspace/<name>/memory/DATE*.md      scope agent:<name>
//	<home>/workspace/agents/<id>/MEMORY.md       scope agent:<id>
//	<home>/workspace/agents/<id>/memory/DATE*.md scope agent:<id>
//	<home>/workspace/memory/DATE*.md             the root scope (below)
//	<home>/workspace/MEMORY.md                   the root scope (trove only)
//
// The root scope is agent:<id> when exactly one agent of openclaw.json
// (agents.list[].workspace) lives under the workspace directory, else
// global, as memory-lancedb-pro decides it. memory-lancedb-pro writes the
// bare workspace name as the scope ("main"), which no agent reaches by
// default; trove writes agent:<name>, which that agent reads and writes.

// Defaults of a Markdown import, memory-lancedb-pro's.
const (
	DefaultMarkdownMinText    = 5
	DefaultMarkdownImportance = 0.7
	MaxMarkdownMinText        = 10000
)

// MarkdownFile is one Markdown file to import and the scope its bullets go to.
type MarkdownFile struct {
	Path      string       `json:"path"`
	Scope     memory.Scope `json:"scope"`
	Workspace string       `json:"workspace,omitempty"` // the workspace it belongs to ("" for the root)
}

var datedFile = lazyre.New(`^\d{4}-\d{2}-\d{2}`)

// FindMarkdownFiles lists the memory files of the OpenClaw workspace
// directory root (usually ~/.openclaw/workspace), in the order above and
// by name within each place. only, when set, keeps the workspaces whose
// name contains it (agents/<id>: whose id equals it) and drops the root's
// own files, as memory-lancedb-pro's workspace filter does. A missing root
// is an error; missing files are not.
func FindMarkdownFiles(root, only string) ([]MarkdownFile, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read the workspace directory: %w", err)
	}
	var out []MarkdownFile
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "agents" || e.Name() == "memory" {
			continue
		}
		if only != "" && !strings.Contains(e.Name(), only) {
			continue
		}
		out = appendWorkspace(out, filepath.Join(root, e.Name()), e.Name())
	}
	agents, _ := os.ReadDir(filepath.Join(root, "agents"))
	for _, e := range agents {
		if !e.IsDir() || only != "" && e.Name() != only {
			continue
		}
		out = appendWorkspace(out, filepath.Join(root, "agents", e.Name()), e.Name())
	}
	if only == "" {
		sc := rootScope(root)
		out = appendFiles(out, root, sc, "")
	}
	return out, nil
}

// appendWorkspace adds the files of the workspace dir named name.
func appendWorkspace(out []MarkdownFile, dir, name string) []MarkdownFile {
	sc := memory.Scope("agent:" + name)
	if _, err := memory.ParseScope(string(sc)); err != nil {
		sc = memory.GlobalScope // a name no scope can hold; --scope decides
	}
	return appendFiles(out, dir, sc, name)
}

func appendFiles(out []MarkdownFile, dir string, sc memory.Scope, name string) []MarkdownFile {
	if fi, err := os.Stat(filepath.Join(dir, "MEMORY.md")); err == nil && fi.Mode().IsRegular() {
		out = append(out, MarkdownFile{Path: filepath.Join(dir, "MEMORY.md"), Scope: sc, Workspace: name})
	}
	files, _ := os.ReadDir(filepath.Join(dir, "memory"))
	for _, f := range files {
		if f.Type().IsRegular() && strings.HasSuffix(f.Name(), ".md") && datedFile.MatchString(f.Name()) {
			out = append(out, MarkdownFile{Path: filepath.Join(dir, "memory", f.Name()), Scope: sc, Workspace: name})
		}
	}
	return out
}

// rootScope is the scope of the workspace directory's own files: the one
// agent of openclaw.json (beside the workspace directory) whose workspace
// is under root, else global.
func rootScope(root string) memory.Scope {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(root), "openclaw.json"))
	if err != nil {
		return memory.GlobalScope
	}
	var doc struct {
		Agents struct {
			List []struct {
				ID        string `json:"id"`
				Workspace string `json:"workspace"`
			} `json:"list"`
		} `json:"agents"`
	}
	if json.Unmarshal(migrate.RelaxJSON(b), &doc) != nil {
		return memory.GlobalScope
	}
	var ids []string
	prefix := filepath.Clean(root) + string(filepath.Separator)
	for _, a := range doc.Agents.List {
		if a.Workspace != "" && strings.HasPrefix(filepath.Clean(a.Workspace), prefix) {
			ids = append(ids, a.ID)
		}
	}
	if len(ids) == 1 && ids[0] != "" {
		if sc, err := memory.ParseScope("agent:" + ids[0]); err == nil {
			return sc
		}
	}
	return memory.GlobalScope
}

// Bullet is one list item of a Markdown file.
type Bullet struct {
	Line int    // 1-based
	Text string // after the marker, trimmed
}

// MarkdownBullets returns the list items ("- ", "* ", "+ ") of a Markdown
// text, nested ones included (each is its own item, without its parent's
// text). Fenced code blocks (``` and ~~~), a YAML front matter block and
// thematic breaks ("* * *") are not items. A byte order mark and CRLF line
// ends are accepted.
func MarkdownBullets(content string) []Bullet {
	content = strings.TrimPrefix(content, "\uFEFF")
	lines := strings.Split(content, "\n")
	var out []Bullet
	fence := ""
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\r")
		if i == 0 && strings.TrimSpace(line) == "---" {
			for i++; i < len(lines); i++ {
				if s := strings.TrimSpace(lines[i]); s == "---" || s == "..." {
					break
				}
			}
			continue
		}
		trimmed := strings.TrimLeft(line, " \t")
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]+" \t") == "" {
				fence = ""
			}
			continue
		}
		if f := fenceOpen(trimmed); f != "" {
			fence = f
			continue
		}
		if len(trimmed) < 2 || !strings.ContainsRune("-*+", rune(trimmed[0])) || trimmed[1] != ' ' && trimmed[1] != '\t' {
			continue
		}
		if thematicBreak(trimmed) {
			continue
		}
		out = append(out, Bullet{Line: i + 1, Text: strings.TrimSpace(trimmed[2:])})
	}
	return out
}

// fenceOpen returns the fence a line opens (``` or ~~~, as long as it is
// written) or "".
func fenceOpen(s string) string {
	for _, c := range []string{"`", "~"} {
		n := len(s) - len(strings.TrimLeft(s, c))
		if n >= 3 {
			return strings.Repeat(c, n)
		}
	}
	return ""
}

func thematicBreak(s string) bool {
	c := s[0]
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case c:
			n++
		case ' ', '\t':
		default:
			return false
		}
	}
	return n >= 3
}

// MarkdownImporter imports the bullets of Markdown files as memories
// (category other, legacy format: run trove upgrade to enrich them).
//
// Exact duplicates are skipped: a bullet whose text is already a memory
// in its scope, or came earlier in the same run. Each memory's id is
// NaturalID(scope, text, 0), so two imports racing each other still add
// a text once per scope, and a second run adds nothing. Each file goes
// through an Importer: embedded before the write lock, written in short
// batches.
type MarkdownImporter struct {
	Store    store.Store
	Embedder embedding.Embedder // required unless DryRun
	Access   memory.Access
	// Scope, when set, is the scope of every bullet instead of its file's.
	Scope         memory.Scope
	MinTextLength int     // shorter bullets (in characters) are skipped; 0: DefaultMarkdownMinText
	Importance    float64 // of every memory
	DryRun        bool
	BatchSize     int
	Dims          int
	Declared      func(memory.Scope) bool
	// Now is the created time of bullets from MEMORY.md (default time.Now);
	// those of memory/YYYY-MM-DD.md get their file's date (00:00 UTC).
	Now func() time.Time
}

// MarkdownReport is the outcome of a Markdown import.
type MarkdownReport struct {
	Files      []MarkdownFileReport `json:"files"`
	Bullets    int                  `json:"bullets"`
	Imported   int                  `json:"imported"`
	Duplicates int                  `json:"duplicates"` // already a memory in the scope, or earlier in this run
	TooShort   int                  `json:"too_short"`
	Failed     int                  `json:"failed"`
	Errors     []RowError           `json:"errors"` // Pos is "path:line N"
	DryRun     bool                 `json:"dry_run"`
	// UndeclaredScopes are scopes written that are neither built in nor
	// declared in the config.
	UndeclaredScopes []string `json:"undeclared_scopes"`
}

// MarkdownFileReport counts one file's bullets.
type MarkdownFileReport struct {
	MarkdownFile
	Bullets    int    `json:"bullets"`
	Imported   int    `json:"imported"`
	Duplicates int    `json:"duplicates"`
	TooShort   int    `json:"too_short"`
	Failed     int    `json:"failed"`
	Error      string `json:"error,omitempty"` // the file could not be read
}

// Import imports files in order. A file that cannot be read is reported
// and the others go on; the error is non-nil only when the import could
// not go on (the store failed, ctx ended).
func (mi *MarkdownImporter) Import(ctx context.Context, files []MarkdownFile) (MarkdownReport, error) {
	rep := MarkdownReport{Files: []MarkdownFileReport{}, Errors: []RowError{}, UndeclaredScopes: []string{}, DryRun: mi.DryRun}
	minLen := mi.MinTextLength
	if minLen <= 0 {
		minLen = DefaultMarkdownMinText
	}
	now := mi.Now
	if now == nil {
		now = time.Now
	}
	existing := map[memory.Scope]map[[32]byte]bool{}
	undeclared := map[string]bool{}
	for _, f := range files {
		if mi.Scope != "" {
			f.Scope = mi.Scope
		}
		fr := MarkdownFileReport{MarkdownFile: f}
		b, err := os.ReadFile(f.Path)
		if err != nil {
			fr.Error = err.Error()
			rep.Files = append(rep.Files, fr)
			continue
		}
		seen, ok := existing[f.Scope]
		if !ok {
			if seen, err = mi.texts(ctx, f.Scope); err != nil {
				return rep, err
			}
			existing[f.Scope] = seen
		}
		created := now().UnixMilli()
		if d, err := time.Parse("2006-01-02", datedFile.FindString(filepath.Base(f.Path))); err == nil && filepath.Base(f.Path) != "MEMORY.md" {
			created = d.UnixMilli()
		}
		var buf bytes.Buffer
		var lines []int
		for _, bl := range MarkdownBullets(string(b)) {
			fr.Bullets++
			if utf8.RuneCountInString(bl.Text) < minLen {
				fr.TooShort++
				continue
			}
			key := sha256.Sum256([]byte(bl.Text))
			if seen[key] {
				fr.Duplicates++
				continue
			}
			seen[key] = true
			row := map[string]any{
				"id": NaturalID(f.Scope, bl.Text, 0), "text": bl.Text, "category": string(memory.CategoryOther),
				"scope": string(f.Scope), "importance": mi.Importance, "created_at": created,
				"metadata": map[string]any{"source": "import-markdown", "imported_from": f.Path, "imported_line": bl.Line, "source_workspace": f.Workspace},
			}
			line, err := json.Marshal(row)
			if err != nil {
				return rep, err
			}
			buf.Write(line)
			buf.WriteByte('\n')
			lines = append(lines, bl.Line)
		}
		if len(lines) > 0 {
			im := &Importer{Store: mi.Store, Embedder: mi.Embedder, Access: mi.Access, BatchSize: mi.BatchSize,
				DryRun: mi.DryRun, Dims: mi.Dims, Declared: mi.Declared}
			r, err := im.Import(ctx, &buf)
			fr.Imported += r.Imported
			fr.Duplicates += r.Skipped
			fr.Failed += r.Failed
			for _, e := range r.Errors {
				e.Pos = f.Path + ":" + sourceLine(e.Pos, lines)
				rep.Errors = append(rep.Errors, e)
			}
			for _, sc := range r.UndeclaredScopes {
				undeclared[sc] = true
			}
			if err != nil {
				rep.add(fr)
				return rep, err
			}
		}
		rep.add(fr)
	}
	for sc := range undeclared {
		rep.UndeclaredScopes = append(rep.UndeclaredScopes, sc)
	}
	slices.Sort(rep.UndeclaredScopes)
	return rep, nil
}

func (rep *MarkdownReport) add(fr MarkdownFileReport) {
	rep.Files = append(rep.Files, fr)
	rep.Bullets += fr.Bullets
	rep.Imported += fr.Imported
	rep.Duplicates += fr.Duplicates
	rep.TooShort += fr.TooShort
	rep.Failed += fr.Failed
}

// sourceLine turns the Importer's "line K" of the generated rows into the
// Markdown file's "line N".
func sourceLine(pos string, lines []int) string {
	if k, err := strconv.Atoi(strings.TrimPrefix(pos, "line ")); err == nil && k >= 1 && k <= len(lines) {
		return "line " + strconv.Itoa(lines[k-1])
	}
	return pos
}

// texts returns the hashes of the texts of the memories in scope sc that
// the caller can read.
func (mi *MarkdownImporter) texts(ctx context.Context, sc memory.Scope) (map[[32]byte]bool, error) {
	out := map[[32]byte]bool{}
	err := mi.Store.Scan(ctx, mi.Access, store.ScanOptions{Filter: store.Filter{Scopes: []memory.Scope{sc}}}, func(m memory.Memory) error {
		out[sha256.Sum256([]byte(m.Text))] = true
		return nil
	})
	if err != nil && !errors.Is(err, memory.ErrScopeDenied) {
		return nil, fmt.Errorf("read the memories of %s: %w", sc, err)
	}
	return out, nil
}
