package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/trove-memory/trove/internal/archive"
	"github.com/trove-memory/trove/internal/memory"
)

// ImportMarkdownInput says which Markdown memory files to import and how.
type ImportMarkdownInput struct {
	// Paths are OpenClaw workspace directories (scanned as
	// archive.FindMarkdownFiles does) or single Markdown files (every
	// bullet goes to Scope, else global). Empty: <OpenClawHome>/workspace.
	Paths []string
	// OpenClawHome is OpenClaw's directory (default ~/.openclaw).
	OpenClawHome string
	// Workspace keeps only the workspaces whose name contains it.
	Workspace string
	// Scope, when set, is the scope of every bullet instead of its workspace's.
	Scope string
	// MinTextLength skips shorter bullets (characters; 0: 5).
	MinTextLength int
	// Importance of every imported memory (nil: 0.7).
	Importance *float64
	DryRun     bool
}

// ImportMarkdownReport is the outcome of a Markdown import.
type ImportMarkdownReport = archive.MarkdownReport

// ImportMarkdown imports the bullets of OpenClaw's Markdown memory files
// (MEMORY.md, memory/YYYY-MM-DD.md) as memories, skipping exact
// duplicates, so a second run adds nothing. Files are embedded before
// each short write batch, as Import does.
func (s *Service) ImportMarkdown(ctx context.Context, c Caller, in ImportMarkdownInput) (ImportMarkdownReport, error) {
	acc, err := s.access(c)
	if err != nil {
		return ImportMarkdownReport{}, err
	}
	mi := &archive.MarkdownImporter{Store: s.opts.Store, Embedder: s.opts.Embedder, Access: acc, DryRun: in.DryRun,
		Declared: s.opts.Declared, Importance: archive.DefaultMarkdownImportance, BatchSize: DefaultImportBatch}
	if in.MinTextLength < 0 || in.MinTextLength > archive.MaxMarkdownMinText {
		return ImportMarkdownReport{}, Invalid("min text length %d is out of range: give 1 to %d", in.MinTextLength, archive.MaxMarkdownMinText)
	}
	mi.MinTextLength = in.MinTextLength
	if in.Importance != nil {
		if v := *in.Importance; !(v >= 0 && v <= 1) {
			return ImportMarkdownReport{}, Invalid("importance %v is out of range: give 0 to 1", v)
		}
		mi.Importance = *in.Importance
	}
	if in.Scope != "" {
		sc, err := memory.ParseScope(in.Scope)
		if err != nil {
			return ImportMarkdownReport{}, Invalid("scope: %s", err.Error())
		}
		if !acc.Allows(sc) {
			return ImportMarkdownReport{}, ErrorOf(&memory.ScopeDeniedError{Scope: sc})
		}
		mi.Scope = sc
	}
	if s.opts.Embedder == nil && !in.DryRun {
		return ImportMarkdownReport{}, Unavailable("no embedding provider is configured: Markdown bullets cannot be imported")
	}
	sp, err := s.opts.Store.Space(ctx)
	if err != nil {
		return ImportMarkdownReport{}, ErrorOf(err)
	}
	mi.Dims = sp.Dimensions

	paths := in.Paths
	if len(paths) == 0 {
		home := in.OpenClawHome
		if home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return ImportMarkdownReport{}, Invalid("no home directory to find ~/.openclaw in: give the workspace directory")
			}
			home = filepath.Join(h, ".openclaw")
		}
		paths = []string{filepath.Join(home, "workspace")}
	}
	var files []archive.MarkdownFile
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return ImportMarkdownReport{}, &Error{Code: CodeNotFound, Err: memory.ErrNotFound, Message: fmt.Sprintf("%v: give an OpenClaw workspace directory or a Markdown file", err)}
		}
		if !fi.IsDir() {
			files = append(files, archive.MarkdownFile{Path: p, Scope: memory.GlobalScope})
			continue
		}
		found, err := archive.FindMarkdownFiles(p, in.Workspace)
		if err != nil {
			return ImportMarkdownReport{}, Invalid("%s: %v", p, err)
		}
		files = append(files, found...)
	}
	rep, err := mi.Import(ctx, files)
	if err != nil {
		return rep, ErrorOf(err)
	}
	return rep, nil
}
