package archive

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/trove-memory/trove/internal/lazyre"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/trove-memory/trove/internal/memory"
)

// The Obsidian sync writes one note per memory into a vault, named and
// laid out as memory-lancedb-pro's `memory sync obsidian` does (cli.ts at
// f6e63af):
//
//	<vault>/00-AI-Memory/<category dir>/<YYYY-MM-DD>-<slug of the title>-<id, 12 chars>.md
//
// with YAML front matter (id, category, scope, importance, created,
// source, tags) and the text under a "# title" heading. Unlike the
// plugin, which only ever adds and overwrites, trove keeps the vault in
// step with the store: a note whose memory changed is rewritten (and
// renamed when its title, date or category changed), a note whose memory
// was deleted is removed.
//
// Which notes are trove's: those whose front matter has trove_id. Every
// other file is a person's (or another tool's) and is never written,
// renamed or removed. trove's notes also carry trove_hash, the SHA-256 of
// the note as trove wrote it (without that line): a note whose content no
// longer matches it was edited by a person, and the sync keeps it as it
// is and reports it (ObsidianReport.Edited) instead of overwriting or
// removing it, unless Overwrite is set. A note memory-lancedb-pro wrote
// for the same memory (front matter id equal to the memory's id, source
// "memory-lancedb-pro") at the same path is taken over.

// ObsidianRoot is the folder of the vault the sync owns notes in.
const ObsidianRoot = "00-AI-Memory"

// obsidianDirs are memory-lancedb-pro's folders per storage category.
var obsidianDirs = map[memory.Category]string{
	"preference": "00-Preferences",
	"fact":       "01-Facts",
	"decision":   "02-Decisions",
	"entity":     "03-People",
	"reflection": "04-Reflections",
	"other":      "05-Other",
}

// ObsidianSync writes the memories it is given into a vault.
type ObsidianSync struct {
	Vault string
	// Synced reports whether a scope is being synced: a trove note of such
	// a scope whose memory is not among those given is removed. Notes of
	// other scopes are left alone. nil: every scope.
	Synced func(memory.Scope) bool
	// Overwrite rewrites and removes trove notes a person edited too.
	Overwrite bool
	DryRun    bool
}

// ObsidianReport counts what a sync did (or, with DryRun, would do).
type ObsidianReport struct {
	Vault   string `json:"vault"`
	Created int    `json:"created"`
	Updated int    `json:"updated"` // rewritten, or renamed (title, date or category changed)
	Skipped int    `json:"skipped"` // already as the memory is
	Removed int    `json:"removed"` // its memory was deleted
	// Edited lists trove notes a person changed, kept as they are (paths
	// relative to the vault); Conflicts lists files in the way of a note
	// that are not trove's, also kept.
	Edited    []string `json:"edited"`
	Conflicts []string `json:"conflicts"`
	DryRun    bool     `json:"dry_run"`
}

// note is a trove note found in the vault.
type note struct {
	path   string // relative to the vault
	scope  memory.Scope
	edited bool
}

// Sync writes each memory next yields (until it returns false or an
// error), then removes the notes of synced scopes whose memory it did
// not see. A file that cannot be written stops the sync with an error;
// the report counts what was done before.
func (o *ObsidianSync) Sync(ctx context.Context, each func(fn func(memory.Memory) error) error) (ObsidianReport, error) {
	rep := ObsidianReport{Vault: o.Vault, Edited: []string{}, Conflicts: []string{}, DryRun: o.DryRun}
	if o.Vault == "" {
		return rep, errors.New("no vault directory given")
	}
	if fi, err := os.Stat(o.Vault); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return rep, &os.PathError{Op: "vault", Path: o.Vault, Err: err}
	}
	notes, err := o.scan()
	if err != nil {
		return rep, err
	}
	err = each(func(m memory.Memory) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return o.put(&rep, m, notes)
	})
	if err != nil {
		return rep, err
	}
	ids := make([]string, 0, len(notes))
	for id := range notes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		for _, n := range notes[id] {
			if o.Synced != nil && !o.Synced(n.scope) {
				continue
			}
			if n.edited && !o.Overwrite {
				rep.Edited = append(rep.Edited, n.path)
				continue
			}
			if err := o.remove(n.path); err != nil {
				return rep, err
			}
			rep.Removed++
		}
	}
	return rep, nil
}

// put writes m's note, renaming or rewriting the note it had.
func (o *ObsidianSync) put(rep *ObsidianReport, m memory.Memory, notes map[string][]note) error {
	rel := NotePath(m)
	body := RenderNote(m)
	old := notes[m.ID]
	delete(notes, m.ID)
	abs := filepath.Join(o.Vault, rel)
	cur, err := os.ReadFile(abs)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Notes this memory had under another name (its title, date or
	// category changed): removed once the new one is written, unless a
	// person edited them.
	var stale []note
	mine := !exists
	for _, n := range old {
		if n.path == rel {
			mine = true
			if n.edited && !o.Overwrite {
				rep.Edited = append(rep.Edited, rel)
				return nil
			}
			continue
		}
		stale = append(stale, n)
	}
	if exists && !mine {
		if !plantedFor(cur, m.ID) {
			rep.Conflicts = append(rep.Conflicts, rel)
			return nil
		}
		mine = true // memory-lancedb-pro's note of this memory
	}
	switch {
	case exists && string(cur) == body:
		rep.Skipped++
	default:
		if err := o.write(abs, body); err != nil {
			return err
		}
		if exists || len(stale) > 0 {
			rep.Updated++
		} else {
			rep.Created++
		}
	}
	for _, n := range stale {
		if n.edited && !o.Overwrite {
			rep.Edited = append(rep.Edited, n.path)
			continue
		}
		if err := o.remove(n.path); err != nil {
			return err
		}
	}
	return nil
}

func (o *ObsidianSync) write(abs, body string) error {
	if o.DryRun {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return err
	}
	tmp := abs + ".trove-tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, abs)
}

func (o *ObsidianSync) remove(rel string) error {
	if o.DryRun {
		return nil
	}
	err := os.Remove(filepath.Join(o.Vault, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// scan finds trove's notes under the vault's ObsidianRoot, by id.
func (o *ObsidianSync) scan() (map[string][]note, error) {
	out := map[string][]note{}
	root := filepath.Join(o.Vault, ObsidianRoot)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".md") || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fm := frontMatter(b)
		id := fm["trove_id"]
		if id == "" {
			return nil // a person's note
		}
		rel, _ := filepath.Rel(o.Vault, p)
		out[id] = append(out[id], note{path: rel, scope: memory.Scope(fm["scope"]), edited: !hashMatches(b, fm["trove_hash"])})
		return nil
	})
	return out, err
}

// frontMatter reads the "key: value" lines of a note's YAML front matter,
// unquoting JSON-quoted values (as trove and memory-lancedb-pro write them).
func frontMatter(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(strings.TrimPrefix(string(b), "\uFEFF")))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	first := true
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if first {
			if line != "---" {
				return out
			}
			first = false
			continue
		}
		if line == "---" || line == "..." {
			return out
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var s string
		if strings.HasPrefix(v, `"`) && json.Unmarshal([]byte(v), &s) == nil {
			v = s
		}
		out[strings.TrimSpace(k)] = v
	}
	return map[string]string{} // front matter never closed: not a note of ours
}

// plantedFor reports whether b is memory-lancedb-pro's note of memory id.
func plantedFor(b []byte, id string) bool {
	fm := frontMatter(b)
	return fm["id"] == id && fm["source"] == "memory-lancedb-pro" && fm["trove_id"] == ""
}

const hashKey = "trove_hash: "

// hashMatches reports whether a note is as trove wrote it: the SHA-256 of
// its text without the trove_hash line equals that line's value.
func hashMatches(b []byte, want string) bool {
	s := string(b)
	i := strings.Index(s, "\n"+hashKey)
	if i < 0 {
		return false
	}
	j := strings.IndexByte(s[i+1:], '\n')
	if j < 0 {
		return false
	}
	return noteHash(s[:i+1]+s[i+1+j+1:]) == want
}

func noteHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

// NotePath is where m's note goes, relative to the vault:
// 00-AI-Memory/<category dir>/<created date>-<title slug>-<id12>.md.
func NotePath(m memory.Memory) string {
	dir, ok := obsidianDirs[m.Category]
	if !ok {
		dir = obsidianDirs["other"]
	}
	id12 := obsidianSlug(m.ID, "memory")
	if r := []rune(id12); len(r) > 12 {
		id12 = string(r[:12])
	}
	return filepath.Join(ObsidianRoot, dir, noteDate(m)+"-"+obsidianSlug(noteTitle(m), "memory")+"-"+id12+".md")
}

// RenderNote is m's note: front matter, then "# title" and the text. The
// last front matter line is trove_hash, the SHA-256 of the rest.
func RenderNote(m memory.Memory) string {
	scope := string(m.Scope)
	if scope == "" {
		scope = string(memory.GlobalScope)
	}
	tags := []string{}
	if ts, ok := m.Metadata["tags"].([]any); ok {
		for _, t := range ts {
			if s, ok := t.(string); ok {
				tags = append(tags, yamlString(s))
			}
		}
	}
	var b strings.Builder
	b.WriteString("---\n")
	b.WriteString("trove_id: " + yamlString(m.ID) + "\n")
	b.WriteString("id: " + yamlString(m.ID) + "\n")
	b.WriteString("category: " + yamlString(string(m.Category)) + "\n")
	b.WriteString("scope: " + yamlString(scope) + "\n")
	b.WriteString("importance: " + strconv.FormatFloat(m.Importance, 'f', -1, 64) + "\n")
	b.WriteString("created: " + yamlString(noteDate(m)) + "\n")
	b.WriteString("source: " + yamlString("trove") + "\n")
	b.WriteString("tags: [" + strings.Join(tags, ", ") + "]\n")
	rest := "---\n\n# " + noteTitle(m) + "\n\n" + strings.TrimSpace(m.Text) + "\n"
	h := noteHash(b.String() + rest)
	return b.String() + hashKey + yamlString(h) + "\n" + rest
}

// yamlString quotes s as a JSON string, which YAML reads as the same string.
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func noteDate(m memory.Memory) string {
	t := time.Now()
	if m.CreatedAt > 0 {
		t = time.UnixMilli(m.CreatedAt)
	}
	return t.UTC().Format("2006-01-02")
}

// noteTitle is the first non-blank line of the text, at most 80 characters.
func noteTitle(m memory.Memory) string {
	for line := range strings.SplitSeq(m.Text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			if utf8.RuneCountInString(line) > 80 {
				line = string([]rune(line)[:80])
			}
			return line
		}
	}
	return "Memory " + m.ID
}

var (
	slugUnsafe = lazyre.New(`[\\/:*?"<>|#^\[\]]+`)
	slugSpace  = lazyre.New(`\s+`)
)

// obsidianSlug is memory-lancedb-pro's safeObsidianSlug: NFKD, characters
// that are unsafe in file names or Obsidian links become spaces, runs of
// space one "-", at most 80 characters, lower case.
func obsidianSlug(s, fallback string) string {
	s = norm.NFKD.String(s)
	s = slugUnsafe.ReplaceAllString(s, " ")
	s = slugSpace.ReplaceAllString(s, "-")
	s = strings.Trim(s, "-")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80])
	}
	s = strings.ToLower(s)
	if s == "" {
		return fallback
	}
	return s
}
